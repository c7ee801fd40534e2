# Sourced by every scripts/experiments/*.sh: the binary, the launcher, the cache, and the two
# cached artefacts the Fashion-MNIST experiments share (base model, classifier).
#
# Environment: RANKS (default 2), ORWDIST (the binary; default: build it), ORWDIST_CACHE.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
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
started=$SECONDS

# The Fashion-MNIST flow model the image experiments fine-tune: MLP(784, 1024, 3) trained by
# scripts/experiments/fmnist-base.sh, which installs it here; pretrained on first use otherwise.
fmnist_base="$cache/fmnist-base-v1/model.safetensors"
pretrain_fmnist_base() {    # RUN_DIR
    "${launch[@]}" "$ORWDIST" pretrain --data fashion-mnist --run-dir "$1" \
        --steps 6000 --batch 128 --microbatch 64 --lr 1e-3 \
        --set model.hidden=1024 --set model.depth=3 --set optimizer.schedule=cosine \
        --set optimizer.minimum_learning_rate=5e-5 --set optimizer.warmup_steps=200 \
        --set ema.decay=0.999 --set run.log_every=500
}
ensure_fmnist_base() {
    if [[ ! -f "$fmnist_base" ]]; then
        echo "pretraining the Fashion-MNIST base into $cache/fmnist-base-v1 (≈ 5 min)" >&2
        pretrain_fmnist_base "$cache/fmnist-base-v1"
    fi
}

# The Fashion-MNIST classifier (reward and evaluation features), trained once and cached.
# footwear_reward: the flags of the target-generation reward, the classifier's probability of
# sandal, sneaker or ankle boot.
ensure_fmnist_classifier() {
    fmnist_classifier=$(ORW_RANKS=$ranks bash scripts/rewards/train-classifier)
    footwear_reward=(--set reward.kind=classifier --set "reward.classifier=\"$fmnist_classifier\""
                     --set 'reward.classes=["sandal", "sneaker", "ankle boot"]')
}

# Fine-tunes the Fashion-MNIST base into RUN with the settings every image experiment shares,
# plus the experiment's own flags (method, reward); classifier-feature metrics at every epoch.
# Reduced to fit 2 cores: 4 epochs × 40 steps of 128 samples, 20 Euler steps per rollout.
#   finetune_fmnist RUN --alpha 0 --tau 10 --set reward.kind=jpeg …
finetune_fmnist() {
    local run=$1; shift
    rm -rf "$run"
    "${launch[@]}" "$ORWDIST" train --base "$fmnist_base" --run-dir "$run" --quiet \
        --weighting softmax --batch 128 --microbatch 64 --steps-per-epoch 40 --epochs 4 \
        --lr 2e-4 --solver euler --solver-steps 20 \
        --set "run.eval_classifier=\"$fmnist_classifier\"" --set run.eval_samples=256 \
        --set run.log_every=10 --set checkpoint.every=0 "$@"
}

# Prints the per-run table of a finished experiment (EXPERIMENTS.md quotes it).
summarize() { python3 scripts/experiments/summarize.py "$@"; }

finish() { echo "done in $((SECONDS - started)) s" >&2; }
