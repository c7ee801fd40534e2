#!/usr/bin/env python3
"""The table of scripts/bench: ratios of orwdist to PyTorch and to the machine's limits.

    python3 bench/report.py bench/results/<timestamp>

Every figure is the median over rounds; a ratio is the median of the per-round ratios (each
round ran both sides back to back, so a noisy machine hits both alike), followed by
[lowest–highest] per-round ratio where there are several rounds. Standard library only.
"""
import glob
import json
import os
import statistics
import sys


def load(directory, pattern):
    found = {}
    for path in sorted(glob.glob(os.path.join(directory, pattern))):
        round_ = path.rsplit("-r", 1)[1].split(".")[0]
        with open(path) as f:
            text = f.read().strip()
        found[round_] = json.loads(text.splitlines()[-1] if text.startswith("{\"ranks\"") else text)
    return found


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def ratios(numerators, denominators, key_n, key_d=None):
    """The per-round ratios, in round order."""
    key_d = key_d or key_n
    rounds = sorted(set(numerators) & set(denominators))
    return [key_n(numerators[r]) / key_d(denominators[r]) for r in rounds]


def ratio(numerators, denominators, key_n, key_d=None):
    return median(ratios(numerators, denominators, key_n, key_d))


def span(numerators, denominators, key_n, key_d=None, spec=".2f"):
    """' [lowest–highest per-round ratio]': how much the rounds disagreed."""
    values = ratios(numerators, denominators, key_n, key_d)
    return f" [{min(values):{spec}}–{max(values):{spec}}]" if len(values) > 1 else ""


def fmt(value, spec=".2f"):
    return "n/a" if value is None else format(value, spec)


def main():
    directory = sys.argv[1]
    rows = []
    notes = []
    sps_orw = lambda r: r["stepsPerSecond"]
    sps_pt = lambda r: r["steps_per_second"]
    cpu_orw = lambda r: r["cpuStepsPerSecond"]
    cpu_pt = lambda r: r["cpu_steps_per_second"]

    def verdict(wall, cpu, target, at_least=True):
        ok = (lambda v: v is not None and (v >= target if at_least else v <= target))
        if ok(wall) and ok(cpu):
            return "yes"
        if ok(cpu):
            return "on CPU time only"
        return "no"
    targets = {"small": (1.25, 1.4), "image": (1.0, 1.6)}
    for workload in ("small", "image"):
        blas = load(directory, f"orwdist-{workload}-fp32-openblas-1-r*.json")
        dnnl = load(directory, f"orwdist-{workload}-fp32-onednn-1-r*.json")
        bf16 = load(directory, f"orwdist-{workload}-bf16-onednn-1-r*.json")
        bf16_all = load(directory, f"orwdist-{workload}-bf16all-onednn-1-r*.json")
        torch1 = load(directory, f"pytorch-{workload}-1-r*.json")
        two = load(directory, f"orwdist-{workload}-fp32-2-r*.json")
        torch2 = load(directory, f"pytorch-{workload}-2-r*.json")
        mpi = load(directory, f"mpi-allreduce-{workload}-r*.json")
        if not torch1:
            continue
        fp32_target, bf16_target = targets[workload]
        pt = median([sps_pt(r) for r in torch1.values()])
        pt_cpu = median([cpu_pt(r) for r in torch1.values()])
        for name, runs in (("fp32 OpenBLAS", blas), ("fp32 oneDNN", dnnl)):
            if runs:
                value = ratio(runs, torch1, sps_orw, sps_pt)
                cpu = ratio(runs, torch1, cpu_orw, cpu_pt)
                rows.append((workload, f"steps/s, 1 rank, {name} (wall; CPU-time in parentheses)",
                             f"{fmt(median([sps_orw(r) for r in runs.values()]))} ({fmt(median([cpu_orw(r) for r in runs.values()]))})",
                             f"{fmt(pt)} ({fmt(pt_cpu)})", f"{fmt(value)} ({fmt(cpu)}){span(runs, torch1, sps_orw, sps_pt)}", f"≥ {fp32_target}",
                             verdict(value, cpu, fp32_target)))
        best = max((r for r in (blas, dnnl) if r), key=lambda runs: median([sps_orw(r) for r in runs.values()]))
        limit = median([r["fractionOfLimit"] for r in best.values()])
        limit_cpu = median([r["fractionOfLimitCPU"] for r in best.values()])
        peak = median([r["fractionOfPeak"] for r in best.values()])
        rows.append((workload, f"fraction of GEMM limit, best fp32 = {best[sorted(best)[0]]['gemm'][0]} (Σ products at their own measured rates / step; wall (CPU))",
                     f"{fmt(limit, '.0%')} ({fmt(limit_cpu, '.0%')})", "", "", "≥ 85%" if workload == "image" else "",
                     verdict(limit, limit_cpu, 0.85) if workload == "image" else ""))
        rows.append((workload, "achieved / GEMM peak, best fp32", fmt(peak, ".0%"),
                     "", "", "", ""))
        if bf16:
            value = ratio(bf16, torch1, sps_orw, sps_pt)
            cpu = ratio(bf16, torch1, cpu_orw, cpu_pt)
            rows.append((workload, "steps/s, 1 rank, bf16 rollout, oneDNN (vs PyTorch fp32; CPU-time in parentheses)",
                         f"{fmt(median([sps_orw(r) for r in bf16.values()]))} ({fmt(median([cpu_orw(r) for r in bf16.values()]))})",
                         f"{fmt(pt)} ({fmt(pt_cpu)})", f"{fmt(value)} ({fmt(cpu)}){span(bf16, torch1, sps_orw, sps_pt)}", f"≥ {bf16_target}",
                         verdict(value, cpu, bf16_target)))
            if bf16_all:
                rows.append((workload, "steps/s, 1 rank, bf16 rollout and training passes, oneDNN (vs PyTorch fp32; vs bf16 rollout alone in the note)",
                             f"{fmt(median([sps_orw(r) for r in bf16_all.values()]))} ({fmt(median([cpu_orw(r) for r in bf16_all.values()]))})",
                             f"{fmt(pt)} ({fmt(pt_cpu)})",
                             f"{fmt(ratio(bf16_all, torch1, sps_orw, sps_pt))} ({fmt(ratio(bf16_all, torch1, cpu_orw, cpu_pt))})"
                             f"{span(bf16_all, torch1, sps_orw, sps_pt)}", "", ""))
                notes.append(f"{workload}: bf16 training passes on top of bf16 rollouts: {fmt(ratio(bf16_all, bf16, sps_orw))}× the steps/s of "
                             f"bf16 rollouts alone (median of per-round ratios{span(bf16_all, bf16, sps_orw)})")
            dev = [r.get("sampleDeviation") for r in bf16.values() if r.get("sampleDeviation")]
            if dev:
                notes.append(f"{workload}: bf16 vs fp32 rollout from the same noise: mean |Δx| {median([d['meanAbsolute'] for d in dev]):.3g}, "
                             f"max |Δx| {median([d['maxAbsolute'] for d in dev]):.3g} (sample std {median([d['sampleStd'] for d in dev]):.3g}, "
                             f"mean |x1 − x0| {median([d.get('meanDisplacement') for d in dev]) or float('nan'):.3g}); "
                             f"mean reward {median([d['rewardMeanBF16'] for d in dev]):.5g} (bf16) vs {median([d['rewardMeanFP32'] for d in dev]):.5g} (fp32)")
            if dnnl:
                curves = []
                for r in sorted(set(bf16) & set(dnnl)):
                    a, b = bf16[r]["rewardCurve"], dnnl[r]["rewardCurve"]
                    curves.append(max(abs(x - y) / max(abs(y), 1e-12) for x, y in zip(a, b)))
                first = dnnl[sorted(dnnl)[0]]["rewardCurve"]
                notes.append(f"{workload}: reward curve over {len(first)} steps (same seed): fp32 {first[0]:.5g} → {first[-1]:.5g}, "
                             f"bf16 rollout {bf16[sorted(bf16)[0]]['rewardCurve'][-1]:.5g} at the end; largest relative gap between the curves {median(curves):.2%}")
        if two and dnnl:
            eff = ratio(two, dnnl, sps_orw)
            eff_cpu = ratio(two, dnnl, cpu_orw)
            eff_pt = ratio(torch2, torch1, sps_pt) if torch2 else None
            eff_pt_cpu = ratio(torch2, torch1, cpu_pt) if torch2 else None
            rows.append((workload, "weak-scaling efficiency, 2 ranks, oneDNN fp32 (steps/s at 2 / at 1, same per-rank batch; CPU-time in parentheses)",
                         f"{fmt(eff, '.1%')} ({fmt(eff_cpu, '.1%')}){span(two, dnnl, sps_orw, spec='.0%')}",
                         f"{fmt(eff_pt, '.1%')} ({fmt(eff_pt_cpu, '.1%')})", "", "≥ 97%",
                         verdict(eff, eff_cpu, 0.97)))
        if two:
            rounds = sorted(two)
            own = median([two[r]["allreduce"]["communicatorSeconds"] for r in rounds])
            shim = median([two[r]["allreduce"]["shimSeconds"] for r in rounds])
            value = median([two[r]["allreduce"]["ratio"] for r in rounds])
            rows.append((workload, f"allreduce of {two[rounds[0]]['gradientFloats']} floats, ms (orwdist's communicator / the C shim's MPI_Allreduce, "
                         "interleaved in one process)", fmt(own * 1e3, ".3f"), fmt(shim * 1e3, ".3f") + " (C shim)", fmt(value), "≤ 1.10",
                         "yes" if value and value <= 1.10 else "no"))
            if mpi:
                raw = median([mpi[r]["median_seconds"] for r in sorted(mpi)])
                notes.append(f"{workload}: bench/allreduce.c (MPI_Allreduce from C, a process of its own) took {raw * 1e3:.3f} ms")
            in_step = median([two[r]["allreduceMedianSeconds"] for r in rounds])
            notes.append(f"{workload}: the allreduce phase inside the 2-rank step takes {in_step * 1e3:.2f} ms (it includes waiting for the slower rank)")
            # Robust to the cores' speed swings: per step, the slowest rank's own work against the step.
            shares = [two[r]["slowestRankWorkSeconds"] / (two[r]["slowestRankWorkSeconds"] + two[r]["synchronisationSeconds"])
                      for r in rounds]
            rows.append((workload, "2 ranks: the slowest rank's own work / the step (1 − what synchronisation adds; "
                         "medians over steps, then rounds)", f"{median(shares):.1%}" + (f" [{min(shares):.1%}–{max(shares):.1%}]" if len(shares) > 1 else ""),
                         "", "", "≥ 97%", "yes" if median(shares) >= 0.97 else "no"))
            sync = median([two[r]["synchronisationSeconds"] for r in rounds])
            work = median([two[r]["slowestRankWorkSeconds"] for r in rounds])
            notes.append(f"{workload}: 2 ranks, per step: the slowest rank's own work {work * 1e3:.2f} ms, the step beyond it "
                         f"(collectives, waits between them) {sync * 1e3:.3f} ms")
        runs = dnnl or blas
        if runs:
            peak = median([r["peakRSSBytes"] for r in runs.values()])
            base = median([r["baselineRSSBytes"] for r in runs.values()])
            theory = median([r["theoreticalBytes"] for r in runs.values()])
            torch_peak = [r["peak_rss_bytes"] for r in torch1.values() if "peak_rss_bytes" in r]
            rows.append((workload, "peak RSS / theoretical bytes (peak RSS MB, theoretical MB; PyTorch: its peak RSS MB)",
                         f"{peak / theory:.2f} ({peak / 1e6:.0f} / {theory / 1e6:.0f})",
                         f"{median(torch_peak) / 1e6:.0f}" if torch_peak else "", "", "≤ 1.3", "yes" if peak / theory <= 1.3 else "no"))
            rows.append((workload, "(peak RSS − RSS before the model) / theoretical (baseline MB)",
                         f"{(peak - base) / theory:.2f} ({base / 1e6:.0f})", "", "", "", ""))
            private = [r["privateRSSBytes"] for r in runs.values() if "privateRSSBytes" in r]
            files = [r["fileRSSBytes"] for r in runs.values() if "fileRSSBytes" in r]
            if private and files:
                rows.append((workload, "private memory (RssAnon) after the steps / theoretical (MB; mapped library code, RssFile, MB)",
                             f"{median(private) / theory:.2f} ({median(private) / 1e6:.0f}; {median(files) / 1e6:.0f})", "", "", "", ""))
        phases = runs[sorted(runs)[0]]["phases"]
        notes.append(f"{workload}: orwdist phases (oneDNN fp32, round 1): " + ", ".join(
            f"{p['name']} {p['medianSeconds'] * 1e3:.2f} ms" for p in phases if p['medianSeconds'] > 5e-5))
        tp = torch1[sorted(torch1)[0]]["phases"]
        notes.append(f"{workload}: PyTorch phases (round 1): " + ", ".join(f"{k} {v * 1e3:.2f} ms" for k, v in tp.items()))

    print("| workload | figure | orwdist | PyTorch | ratio | target | met |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()
    for note in notes:
        print(f"- {note}")


if __name__ == "__main__":
    main()
