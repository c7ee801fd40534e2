#!/usr/bin/env bash
# The paper's toy claims on 8 Gaussians, pulled toward the mode at (5, 0) (reward −‖x − (5, 0)‖²):
# α = 0 collapses onto that mode; α > 0 keeps the other modes, and the final reward and final
# W2-bound estimate fall together as α grows (the trade-off curve). Pretrains the base here
# (the `builtin:8gaussians` preset, so its command and time are on record), then α ∈ {0, 0.1,
# 0.5, 1, 2} at τ = 0.5.
#
#   bash scripts/experiments/eight-gaussians-alpha.sh     # → experiments/eight-gaussians-alpha/
#
# Same scale as the paper's toy (MLP(2, 128, 3)); about 1 min per run on 2 cores.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
out=experiments/eight-gaussians-alpha
rm -rf "$out/base"
"${launch[@]}" "$ORWDIST" pretrain --data 8gaussians --run-dir "$out/base" --quiet --steps 2000 --lr 2e-3 \
    --set model.hidden=128 --set model.depth=3 --set model.time_embedding=32 \
    --set optimizer.schedule=cosine --set optimizer.minimum_learning_rate=1e-4
echo "base pretrained in $((SECONDS - started)) s" >&2
"$ORWDIST" sample --model "$out/base/model.safetensors" --n 2000 --grid "$out/base/samples.png"
runs=()
for alpha in 0 0.1 0.5 1 2; do
    run="$out/alpha-$alpha"
    rm -rf "$run"
    "${launch[@]}" "$ORWDIST" train --base "$out/base/model.safetensors" --run-dir "$run" --quiet \
        --alpha "$alpha" --tau 0.5 --batch 256 --microbatch 64 --steps-per-epoch 100 --epochs 5 \
        --lr 2e-3 --set run.eval_samples=1000 --set checkpoint.every=0
    runs+=("$run")
done
"$ORWDIST" report "${runs[@]}" --out "$out/report.html"
summarize "${runs[@]}"
finish
