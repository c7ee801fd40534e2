#!/usr/bin/env python3
"""Prints Markdown tables of finished orwdist runs: the method settings, each metric at the base
(epoch 0) and at the end, and the reward after every epoch. EXPERIMENTS.md quotes these tables.

    python3 scripts/experiments/summarize.py RUN_DIR [RUN_DIR ...]

Reads RUN_DIR/config.toml and RUN_DIR/metrics.jsonl only (standard library, Python ≥ 3.11).
"""
import json
import sys
import tomllib
from pathlib import Path

# (metrics.jsonl field, column title, digits); a column appears when any run has the field.
METRICS = [
    ("reward_mean", "reward", 3),
    ("w2_bound", "W2 bound", 4),
    ("diversity", "pixel diversity", 2),
    ("sample_std", "sample std", 3),
    ("feature_diversity", "feature diversity", 2),
    ("class_entropy", "class entropy (bits)", 2),
    ("fid", "FID (features)", 2),
]


def load(run: Path):
    config = tomllib.loads((run / "config.toml").read_text())
    epochs = [r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if r.get("kind") == "epoch"]
    if not epochs:
        sys.exit(f"summarize: {run}/metrics.jsonl has no epoch records (did the run finish?)")
    return config, epochs


def number(value, digits):
    return "–" if value is None else f"{value:.{digits}f}"


def main(paths):
    if not paths:
        sys.exit(__doc__)
    runs = [(Path(p).name, *load(Path(p))) for p in paths]
    columns = [m for m in METRICS if any(m[0] in epochs[-1] for _, _, epochs in runs)]
    header = ["run", "α", "τ"] + [f"{title} (base → final)" for _, title, _ in columns]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name, config, epochs in runs:
        method = config["method"]
        cells = [name, f"{method['alpha']:g}", f"{method['tau']:g}"]
        for field, _, digits in columns:
            cells.append(f"{number(epochs[0].get(field), digits)} → {number(epochs[-1].get(field), digits)}")
        print("| " + " | ".join(cells) + " |")
    floors = {e[-1]["fid_floor"] for _, _, e in runs if "fid_floor" in e[-1]}
    if floors:
        print(f"\nFID floor (as many Fashion-MNIST training images vs the test set): {', '.join(f'{f:.2f}' for f in sorted(floors))}")
    histograms = [(name, e[-1]["class_histogram"]) for name, _, e in runs if "class_histogram" in e[-1]]
    if histograms:
        print("\nPredicted classes of the final samples (counts per class 0–9):\n")
        for name, histogram in histograms:
            print(f"- {name}: {histogram}")
    most = max(len(epochs) for _, _, epochs in runs)
    print("\nReward mean after each epoch (epoch 0 = base):\n")
    print("| run | " + " | ".join(str(i) for i in range(most)) + " |")
    print("|---|" + "---|" * most)
    for name, _, epochs in runs:
        print(f"| {name} | " + " | ".join(f"{e['reward_mean']:.3f}" for e in epochs) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
