#!/usr/bin/env bash
# The paper's target image generation (Fig. 2–3), reduced to fit 2 cores: fine-tune a
# Fashion-MNIST flow model toward footwear (reward: the classifier's probability of sandal,
# sneaker or ankle boot) with α ∈ {0, 0.5, 2} at τ = 10, and render the report.
#
#   bash scripts/experiments/fmnist-target-alpha.sh     # → experiments/fmnist-target-alpha/
#
# Smaller than the paper on purpose (said in EXPERIMENTS.md): an MLP(784, 1024, 3) flow model
# instead of a U-Net, 160 fine-tuning steps of 128 samples per run, 20 Euler steps per rollout.
# The base model and the classifier are trained once and cached ($ORWDIST_CACHE, else
# ~/.cache/orwdist). Environment: RANKS (default 2), ORWDIST (the binary; default: build it).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
out=experiments/fmnist-target-alpha
ranks=${RANKS:-2}
if [[ -z "${ORWDIST:-}" ]]; then
    swift build -c release --product orwdist >&2
    ORWDIST="$(swift build -c release --show-bin-path)/orwdist"
fi
export ORWDIST OPENBLAS_NUM_THREADS=1
launch=(mpirun -n "$ranks")
[[ $(id -u) -eq 0 ]] && launch+=(--allow-run-as-root)
((ranks > $(nproc))) && launch+=(--oversubscribe)
cache=${ORWDIST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/orwdist}

base="$cache/fmnist-base-v1/model.safetensors"
if [[ ! -f "$base" ]]; then
    echo "pretraining the Fashion-MNIST base into $cache/fmnist-base-v1" >&2
    "${launch[@]}" "$ORWDIST" pretrain --data fashion-mnist --run-dir "$cache/fmnist-base-v1" \
        --steps 6000 --batch 128 --microbatch 64 --lr 1e-3 \
        --set model.hidden=1024 --set model.depth=3 --set optimizer.schedule=cosine \
        --set optimizer.minimum_learning_rate=5e-5 --set optimizer.warmup_steps=200 \
        --set ema.decay=0.999 --set run.log_every=500
fi
classifier=$(ORW_RANKS=$ranks bash scripts/rewards/train-classifier)

mkdir -p "$out"
for alpha in 0 0.5 2; do
    "${launch[@]}" "$ORWDIST" train --base "$base" --run-dir "$out/alpha-$alpha" \
        --alpha "$alpha" --tau 10 --weighting softmax --batch 128 --microbatch 64 \
        --steps-per-epoch 40 --epochs 4 --lr 2e-4 --solver euler --solver-steps 20 \
        --set reward.kind=classifier --set "reward.classifier=\"$classifier\"" \
        --set 'reward.classes=["sandal", "sneaker", "ankle boot"]' \
        --set run.eval_samples=128 --set run.log_every=10 --set checkpoint.every=0
done
"$ORWDIST" report "$out"/alpha-0 "$out"/alpha-0.5 "$out"/alpha-2 --out "$out/report.html"
echo "wrote $out/report.html" >&2
