#!/usr/bin/env bash
# The Fashion-MNIST base of the image experiments: conditional flow matching of an
# MLP(784, 1024, 3) on the 60,000 training images, 6000 steps of 128, EMA 0.999. Records the
# time and a sample grid, and installs the model as the cached base ($cache/fmnist-base-v1)
# that the other fmnist-*.sh scripts fine-tune; they pretrain it with the same command on first
# use when this script has not run.
#
#   bash scripts/experiments/fmnist-base.sh     # → experiments/fmnist-base/
#
# An MLP, not the paper's U-Net (EXPERIMENTS.md says so): samples are recognisable garments
# with visible noise. About 5 min on 2 cores.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
out=experiments/fmnist-base
rm -rf "$out"
pretrain_fmnist_base "$out"
echo "pretrained in $((SECONDS - started)) s" >&2
"$ORWDIST" sample --model "$out/model.safetensors" --n 64 --grid "$out/samples.png"
if cmp -s "$out/model.safetensors" "$fmnist_base"; then
    echo "identical to the cached base $fmnist_base" >&2
else
    mkdir -p "$cache/fmnist-base-v1"
    cp "$out/model.safetensors" "$fmnist_base.partial" && mv "$fmnist_base.partial" "$fmnist_base"
    echo "installed as $fmnist_base" >&2
fi
finish
