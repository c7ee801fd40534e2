#!/usr/bin/env bash
# The paper's compression claim (Fig. 4): with reward = JPEG compressibility (−kB at quality 95),
# the W2 term gives a smooth, monotone reward–distance trade-off: as α goes from 0 to 1 the final
# reward falls and the final W2-bound estimate falls with it. The report's "final reward vs
# final W2 bound" chart is the trade-off curve.
#
#   bash scripts/experiments/fmnist-jpeg-alpha.sh     # → experiments/fmnist-jpeg-alpha/
#
# τ = 50: the base's rewards spread by only ≈ 0.03 kB, so τ = 10 would weight the batch almost
# uniformly. Reduced to fit 2 cores (EXPERIMENTS.md says so): see finetune_fmnist in common.sh. ≈ 2 min a run.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
out=experiments/fmnist-jpeg-alpha
ensure_fmnist_base
ensure_fmnist_classifier
runs=()
for alpha in 0 0.1 0.25 0.5 1; do
    finetune_fmnist "$out/alpha-$alpha" --alpha "$alpha" --tau 50 \
        --set reward.kind=jpeg --set reward.quality=95 --set 'reward.sample_shape=[1, 28, 28]'
    runs+=("$out/alpha-$alpha")
done
"$ORWDIST" report "${runs[@]}" --out "$out/report.html"
summarize "${runs[@]}"
echo
python3 scripts/experiments/jpeg_reference.py 256 95
finish
