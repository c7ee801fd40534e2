#!/usr/bin/env python3
"""Weak scaling of `orwdist bench step` (256 samples per rank, oneDNN, one thread per rank):
steps/s of one rank alone (`taskset -c 0`), of two independent single-rank copies at once (one
per core: what the machine itself gives two such workloads side by side), and of
`mpirun -n 2 --bind-to core`, for one or more orwdist binaries, interleaved run by run within
each round so that every binary and configuration meets the same machine.

    python3 bench/weak_scaling.py .build/release/orwdist
    python3 bench/weak_scaling.py --rounds 5 --wait-quiet /path/to/old/orwdist .build/release/orwdist

The machine is shared, and the load average trails by a minute, so every run also records how
much CPU *other* processes used while it ran: the machine's busy time (/proc/stat) minus the
run's own (its processes' rusage), as a share of one core. `--wait-quiet` holds each run until
the others have used < 5% of a core for 3 s. The table gives medians over rounds and the largest
share the others took during any run it summarises.

Each core's speed also drifts by tens of percent from minute to minute on a shared VM host, so
efficiency against one rank alone compares moments as much as builds. The 2-rank runs therefore
also report what synchronisation itself costs: per step, how much longer the step took than the
slowest rank's own work (its time outside the collectives), whatever the cores' speed.
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time


def busy_seconds():
    """CPU seconds the whole machine has spent busy (all CPUs), from /proc/stat."""
    fields = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    idle = fields[3] + fields[4]   # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def children_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def others_share(seconds):
    """Cores' worth of CPU that processes other than our (finished) children used over `seconds`."""
    busy, own, start = busy_seconds(), children_seconds(), time.monotonic()
    time.sleep(seconds)
    return (busy_seconds() - busy - (children_seconds() - own)) / (time.monotonic() - start)


def run(commands, json_paths):
    """Runs benchmarks at once; returns (their reports, others' CPU share meanwhile, 1-min load before)."""
    load = os.getloadavg()[0]
    busy, own, start = busy_seconds(), children_seconds(), time.monotonic()
    for process in [subprocess.Popen(c, stdout=subprocess.DEVNULL) for c in commands]:
        if process.wait() != 0:
            raise SystemExit(f"failed: {process.args}")
    wall = time.monotonic() - start
    share = (busy_seconds() - busy - (children_seconds() - own)) / wall
    return [json.load(open(p)) for p in json_paths], max(share, 0.0), load


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binaries", nargs="+")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workloads", nargs="+", default=["small", "image"])
    parser.add_argument("--steps-small", type=int, default=200)
    parser.add_argument("--steps-image", type=int, default=20)
    parser.add_argument("--wait-quiet", action="store_true")
    args = parser.parse_args()

    os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
                      OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    directory = tempfile.mkdtemp(prefix="weak-scaling-")
    print(f"weak-scaling: reports in {directory}", flush=True)

    results = {}   # (binary index, workload, "alone" | "pair" | "mpirun") -> [(reports, share, load)]
    for round_ in range(1, args.rounds + 1):
        for workload in args.workloads:
            steps = args.steps_small if workload == "small" else args.steps_image
            # Binaries in turn, in reverse order every other round (A B, B A, …): neither always runs first.
            order = list(enumerate(args.binaries))
            for b, binary in order if round_ % 2 else order[::-1]:
                def step(path):
                    return [binary, "bench", "step", "--workload", workload, "--gemm", "onednn",
                            "--steps", str(steps), "--warmup", "5", "--json", path]
                for case in ("alone", "pair", "mpirun"):
                    paths = [f"{directory}/b{b}-{workload}-{case}-r{round_}-{k}.json" for k in range(2 if case == "pair" else 1)]
                    commands = {"alone": [["taskset", "-c", "0"] + step(paths[0])],
                                "pair": [["taskset", "-c", str(k)] + step(p) for k, p in enumerate(paths)],
                                "mpirun": [["mpirun", "-n", "2", "--bind-to", "core"] + step(paths[0])]}[case]
                    while args.wait_quiet and others_share(3) > 0.05:
                        pass
                    reports, share, load = run(commands, paths)
                    results.setdefault((b, workload, case), []).append((reports, share, load))
                    rates = ", ".join(f"{r['stepsPerSecond']:.2f}" for r in reports)
                    print(f"round {round_} {workload} binary {b} {case}: {rates} steps/s, "
                          f"others used {share:.0%} of a core, load before {load:.2f}", flush=True)

    print("\n| binary | workload | 1 rank alone, steps/s | two copies at once, slower, steps/s | mpirun -n 2, steps/s per rank "
          "| efficiency: vs alone (vs two at once) | mpirun -n 2: step beyond the slowest rank's own work, ms (share) "
          "| allreduce, communicator / C shim, ms (ratio) | others' CPU during runs, max | load before runs |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for b, binary in enumerate(args.binaries):
        for workload in args.workloads:
            alone, pair, mpirun = (results.get((b, workload, case)) for case in ("alone", "pair", "mpirun"))
            if not alone or not pair or not mpirun:
                continue
            one = [reports[0]["stepsPerSecond"] for reports, _, _ in alone]
            both = [min(r["stepsPerSecond"] for r in reports) for reports, _, _ in pair]
            two = [reports[0]["stepsPerSecond"] for reports, _, _ in mpirun]
            # Per round, then the median: each ratio compares runs minutes apart at most.
            efficiency = statistics.median(y / x for x, y in zip(one, two))
            ceiling = statistics.median(y / x for x, y in zip(both, two))
            # Binaries from before the in-process comparison and the synchronisation figure lack their fields.
            synchronised = [reports[0] for reports, _, _ in mpirun if "synchronisationSeconds" in reports[0]]
            synchronisation = (f"{statistics.median(r['synchronisationSeconds'] for r in synchronised) * 1e3:.3f} "
                               f"({statistics.median(r['synchronisationSeconds'] / r['medianStepSeconds'] for r in synchronised):.1%})"
                               if synchronised else "—")
            comparisons = [reports[0]["allreduce"] for reports, _, _ in mpirun if "allreduce" in reports[0]]
            allreduce = (f"{statistics.median(c['communicatorSeconds'] for c in comparisons) * 1e3:.3f} / "
                         f"{statistics.median(c['shimSeconds'] for c in comparisons) * 1e3:.3f} "
                         f"({statistics.median(c['ratio'] for c in comparisons):.3f})") if comparisons else "—"
            runs = alone + pair + mpirun
            loads = sorted(l for _, _, l in runs)
            print(f"| {binary} | {workload} | {statistics.median(one):.2f} | {statistics.median(both):.2f} | {statistics.median(two):.2f} "
                  f"| {efficiency:.1%} ({ceiling:.1%}) | {synchronisation} | {allreduce} | {max(s for _, s, _ in runs):.0%} of a core "
                  f"| {loads[0]:.2f}–{loads[-1]:.2f} |")


if __name__ == "__main__":
    sys.exit(main())
