#!/usr/bin/env python3
"""The ORW-CFM-W2 step of `orwdist bench step`, in PyTorch: what a user would run instead.

Same architecture (concat(x, e(t)) → [Linear + SiLU] × depth → Linear, the sinusoidal time
embedding of ORWCore's TimeEmbedding), same step (DESIGN.md): Euler rollout of the sampler
under no_grad, reward r = −‖x‖², w = B·softmax(τ r), fresh x0 and t ~ U(0, 1), x_t and u_t on
the straight path, loss (1/B) Σ w‖v_θ − u_t‖²/D + α‖v_θ − v_ref‖²/D, backward, global-norm
clipping to 1, Adam (lr 1e-3). One thread per process (torch.set_num_threads(1)).

    python bench/pytorch_reference.py --workload small --steps 40 --warmup 5 --json out.json
    python bench/pytorch_reference.py --workload image --ranks 2     # DDP over gloo, weak scaling

With --ranks R, R processes (each pinned to one core) run DistributedDataParallel over gloo on
127.0.0.1, each with --batch samples: the global batch grows with R, as orwdist's bench does.
"""
import argparse
import json
import math
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn

WORKLOADS = {"small": (2, 256, 3), "image": (784, 1024, 3)}


class TimeEmbedding(nn.Module):
    def __init__(self, width):
        super().__init__()
        half = width // 2
        freq = 1000.0 * torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float64) / half)
        self.register_buffer("frequencies", freq.float())

    def forward(self, t):                      # t [B] → [B, E]
        angle = t[:, None] * self.frequencies[None, :]
        return torch.cat([torch.sin(angle), torch.cos(angle)], dim=1)


class VelocityMLP(nn.Module):
    def __init__(self, dimension, hidden, depth, embedding=64):
        super().__init__()
        self.embedding = TimeEmbedding(embedding)
        layers, width = [], dimension + embedding
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.SiLU()]
            width = hidden
        layers.append(nn.Linear(width, dimension))
        self.net = nn.Sequential(*layers)

    def forward(self, t, x):
        return self.net(torch.cat([x, self.embedding(t)], dim=1))


def now():
    return time.perf_counter()


def run(args, rank=0, world=1):
    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.manual_seed(args.seed + rank)
    dimension, hidden, depth = WORKLOADS[args.workload]
    policy = VelocityMLP(dimension, hidden, depth)
    sampler = VelocityMLP(dimension, hidden, depth)
    reference = VelocityMLP(dimension, hidden, depth)
    sampler.load_state_dict(policy.state_dict())
    reference.load_state_dict(policy.state_dict())
    for p in list(sampler.parameters()) + list(reference.parameters()):
        p.requires_grad_(False)
    model = policy
    if world > 1:
        model = torch.nn.parallel.DistributedDataParallel(policy)
    optimizer = torch.optim.Adam(policy.parameters(), lr=1e-3)
    B, alpha, tau = args.batch, args.alpha, 1.0
    steps = args.solver_steps

    phases = {"rollout": [], "reward+weights": [], "loss+backward": [], "optimizer": [], "step": []}
    cpu = []
    for index in range(args.warmup + args.steps):
        cpu_start = time.process_time()
        start = now()
        # 1. rollout of the sampler from fresh noise (Euler), no graph
        with torch.no_grad():
            x = torch.randn(B, dimension)
            for k in range(steps):
                t = torch.full((B,), k / steps)
                x = x + (1.0 / steps) * sampler(t, x)
        x1 = x
        t1 = now()
        # 2–3. reward and weights over the global batch
        r = -(x1 * x1).sum(dim=1)
        if world > 1:
            gathered = [torch.empty_like(r) for _ in range(world)]
            torch.distributed.all_gather(gathered, r)
            everything = torch.cat(gathered)
            w_all = everything.numel() * torch.softmax(tau * everything, dim=0)
            w = w_all[rank * B:(rank + 1) * B]
        else:
            w = B * torch.softmax(tau * r, dim=0)
        t2 = now()
        # 4–5. fresh noise, path, loss, backward
        x0 = torch.randn(B, dimension)
        t = torch.rand(B)
        xt = t[:, None] * x1 + (1 - t[:, None]) * x0
        ut = x1 - x0
        v = model(t, xt)
        with torch.no_grad():
            vref = reference(t, xt)
        fit = ((v - ut) ** 2).mean(dim=1)
        drift = ((v - vref) ** 2).mean(dim=1)
        loss = (w * fit + alpha * drift).mean()
        optimizer.zero_grad(set_to_none=False)
        loss.backward()                       # DDP allreduces the gradients here
        t3 = now()
        # 6. clip, Adam
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
        optimizer.step()
        end = now()
        if index >= args.warmup:
            phases["rollout"].append(t1 - start)
            phases["reward+weights"].append(t2 - t1)
            phases["loss+backward"].append(t3 - t2)
            phases["optimizer"].append(end - t3)
            phases["step"].append(end - start)
            cpu.append(time.process_time() - cpu_start)
    median = statistics.median(phases["step"])
    qs = sorted(phases["step"])
    return {
        "framework": f"pytorch {torch.__version__}",
        "workload": args.workload,
        "ranks": world,
        "batch_per_rank": B,
        "threads": torch.get_num_threads(),
        "median_step_seconds": median,
        "p10_step_seconds": qs[int(0.1 * (len(qs) - 1))],
        "p90_step_seconds": qs[int(0.9 * (len(qs) - 1))],
        "steps_per_second": 1.0 / median,
        "median_step_cpu_seconds": statistics.median(cpu),
        "cpu_steps_per_second": 1.0 / statistics.median(cpu),
        "phases": {name: statistics.median(values) for name, values in phases.items() if name != "step"},
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,   # Linux: kB
    }


def worker(rank, world, args, port, queue):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    try:
        os.sched_setaffinity(0, {rank % os.cpu_count()})
    except (AttributeError, OSError):
        pass
    torch.distributed.init_process_group("gloo", rank=rank, world_size=world)
    result = run(args, rank, world)
    torch.distributed.destroy_process_group()
    if rank == 0:
        queue.put(result)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="small")
    parser.add_argument("--batch", type=int, default=256, help="samples per rank")
    parser.add_argument("--solver-steps", type=int, default=20)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ranks", type=int, default=1, help="DDP (gloo) processes, one core each")
    parser.add_argument("--json", help="write the result as JSON here")
    args = parser.parse_args()

    if args.ranks == 1:
        result = run(args)
    else:
        import torch.multiprocessing as mp
        context = mp.get_context("spawn")
        queue = context.Queue()
        port = 29500 + os.getpid() % 1000
        processes = [context.Process(target=worker, args=(rank, args.ranks, args, port, queue)) for rank in range(args.ranks)]
        for p in processes:
            p.start()
        result = queue.get()
        for p in processes:
            p.join()
            if p.exitcode != 0:
                sys.exit(f"DDP rank exited with {p.exitcode}")
    phases = ", ".join(f"{k} {1e3 * v:.2f} ms" for k, v in result["phases"].items())
    print(f"pytorch {args.workload} ranks {result['ranks']}: median {1e3 * result['median_step_seconds']:.2f} ms "
          f"(p10 {1e3 * result['p10_step_seconds']:.2f}, p90 {1e3 * result['p90_step_seconds']:.2f}) "
          f"→ {result['steps_per_second']:.3f} steps/s (CPU time {1e3 * result['median_step_cpu_seconds']:.2f} ms → "
          f"{result['cpu_steps_per_second']:.3f}); {phases}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
