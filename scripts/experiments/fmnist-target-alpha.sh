#!/usr/bin/env bash
# The paper's α claim (Fig. 3): α = 0 collapses onto a few near-identical samples of one class;
# α > 0 keeps the samples spread over the target classes at a cost in reward. Fine-tunes the
# Fashion-MNIST base toward footwear (reward: the classifier's probability of sandal, sneaker or
# ankle boot) at τ = 10 with α ∈ {0, 0.5, 2}.
#
#   bash scripts/experiments/fmnist-target-alpha.sh     # → experiments/fmnist-target-alpha/
#
# Reduced to fit 2 cores (EXPERIMENTS.md says so): see finetune_fmnist in common.sh. ≈ 2 min a run.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
out=experiments/fmnist-target-alpha
ensure_fmnist_base
ensure_fmnist_classifier
runs=()
for alpha in 0 0.5 2; do
    finetune_fmnist "$out/alpha-$alpha" --alpha "$alpha" --tau 10 "${footwear_reward[@]}"
    runs+=("$out/alpha-$alpha")
done
"$ORWDIST" report "${runs[@]}" --out "$out/report.html"
summarize "${runs[@]}"
finish
