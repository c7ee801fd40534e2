#!/usr/bin/env bash
# The paper's τ claim (Fig. 2): at α = 0, a higher τ converges faster and greedier, and the
# samples lose diversity. Fine-tunes the Fashion-MNIST base toward footwear (reward: the
# classifier's probability of sandal, sneaker or ankle boot) with τ ∈ {1, 3, 10, 30}.
#
#   bash scripts/experiments/fmnist-target-tau.sh     # → experiments/fmnist-target-tau/
#
# Reduced to fit 2 cores (EXPERIMENTS.md says so): see finetune_fmnist in common.sh. ≈ 2 min a run.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
out=experiments/fmnist-target-tau
ensure_fmnist_base
ensure_fmnist_classifier
runs=()
for tau in 1 3 10 30; do
    finetune_fmnist "$out/tau-$tau" --alpha 0 --tau "$tau" "${footwear_reward[@]}"
    runs+=("$out/tau-$tau")
done
"$ORWDIST" report "${runs[@]}" --out "$out/report.html"
summarize "${runs[@]}"
finish
