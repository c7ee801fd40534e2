#!/usr/bin/env python3
"""Where a step's time goes beyond its GEMM limit: runs `orwdist bench step` with oneDNN's
verbose log, times every matrix product *inside* the timed steps (oneDNN's own exec times),
and splits the gap between the step and the limit (the same products at the rates each reaches
alone) into "the products run slower inside the step" and "work that is not a product".

    python3 bench/gemm_gap.py .build/release/orwdist --workload image --steps 8

Needs every Linear on oneDNN (`--gemm onednn`, the default here), whose verbose log is the
only way to time a product inside the step without changing it. Standard library only.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binary")
    parser.add_argument("--workload", default="image", choices=["small", "image"])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()

    report_path = tempfile.mktemp(suffix=".json")
    environment = dict(os.environ, DNNL_VERBOSE="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    command = [args.binary, "bench", "step", "--workload", args.workload, "--gemm", "onednn",
               "--steps", str(args.steps), "--warmup", str(args.warmup), "--json", report_path]
    log = subprocess.run(command, env=environment, capture_output=True, text=True, check=True).stdout
    report = json.load(open(report_path))
    os.unlink(report_path)

    # oneDNN runs every product of the step (the 1-row time-embedding product is OpenBLAS's,
    # and tiny); the step's products come first in the log, then the measurements alone.
    per_step = sum(p["callsPerStep"] for p in report["products"] if p["backend"] == "onednn")
    executions = [line.split(",") for line in log.splitlines() if line.startswith("onednn_verbose,exec,cpu,")]
    # (problem, packed weights?, seconds) of every matmul execution, in order.
    def packed(descriptors):   # the weights' layout is oneDNN's blocked one, not plain ab / ba
        weights = next(d for d in descriptors.split() if d.startswith("wei_"))
        return weights.split(":")[3] not in ("ab", "ba")   # wei_f32::blocked:FORMAT:f0
    products = [(fields[-2], packed(fields[6]), float(fields[-1]) * 1e-3)
                for fields in executions if fields[3] == "matmul"]
    in_steps = products[:per_step * (args.warmup + args.steps)][per_step * args.warmup:]
    alone = products[per_step * (args.warmup + args.steps):]
    if len(in_steps) != per_step * args.steps:
        sys.exit(f"expected {per_step * args.steps} products in the timed steps, found {len(in_steps)}")

    step = report["medianStepSeconds"]
    limit = report["limitSeconds"]
    inside = sum(seconds for _, _, seconds in in_steps) / args.steps
    openblas = sum(2 * p["m"] * p["n"] * p["k"] * p["callsPerStep"] / (p["gflops"] * 1e9)
                   for p in report["products"] if p["backend"] != "onednn")
    print(f"{report['workload']}: step {step * 1e3:.1f} ms (median of {args.steps}); GEMM limit {limit * 1e3:.1f} ms "
          f"= {limit / step:.0%} of the step")
    print(f"  the step's oneDNN products, timed inside the timed steps: {inside * 1e3:.1f} ms a step "
          f"(+ {openblas * 1e3:.2f} ms of OpenBLAS products at their rate alone)")
    print(f"  products slower inside the step than alone: {(inside + openblas - limit) * 1e3:+.1f} ms "
          f"({(inside + openblas) / limit - 1:+.0%} on the limit)")
    print(f"  not products (normals, element-wise passes, Euler updates, loss, Adam, packing): "
          f"{(step - inside - openblas) * 1e3:.1f} ms ({(step - inside - openblas) / step:.0%} of the step)")
    print(f"  GEMM limit / (step without the non-product work): {limit / (inside + openblas):.0%}")
    # Like for like: the median execution of each problem inside the steps and alone (the
    # limit takes the best of its timed groups; a noisy machine makes best and median differ).
    print("  per problem, median execution inside the steps vs alone (packed: the rollout's reordered weights):")
    for problem, packed in sorted({(p, k) for p, k, _ in in_steps}):
        inner = [t for p, k, t in in_steps if (p, k) == (problem, packed)]
        outer = [t for p, k, t in alone if (p, k) == (problem, packed)]
        if outer:
            print(f"    {problem:28s} {'packed' if packed else 'plain '} ×{len(inner) // args.steps:<3d} "
                  f"{statistics.median(inner) * 1e3:7.3f} ms vs {statistics.median(outer) * 1e3:7.3f} ms alone "
                  f"(best {min(outer) * 1e3:.3f}): {statistics.median(inner) / statistics.median(outer) - 1:+.0%}")


if __name__ == "__main__":
    sys.exit(main())
