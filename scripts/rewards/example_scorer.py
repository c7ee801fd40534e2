#!/usr/bin/env python3
"""An example external reward for orwdist: protocol v1 (DESIGN.md), numpy only.

orwdist starts one copy per rank, with ORW_RANK and ORW_WORLD_SIZE in the environment, and
talks to it over stdin/stdout; all integers u32 little-endian, floats f32 little-endian:

    request:  "ORWQ" version=1 n k d_1 ... d_k   then n*d_1*...*d_k floats (row-major)
    response: "ORWA" n                            then n floats, one reward per sample

Anything written to stderr goes to orwdist's log. orwdist closes stdin to ask for a clean exit.

Rewards (--reward):
    distance    -||x - target||^2 over all of a sample's floats (--target 5,0; default 0)
    brightness  mean of a sample's floats (for images in [-1, 1]: brighter is better)

Config:
    [reward]
    kind = "external"
    command = ["python3", "scripts/rewards/example_scorer.py", "--reward", "distance", "--target", "5,0"]
"""
import argparse
import os
import struct
import sys

import numpy as np


def read_exactly(stream, size):
    """size bytes, or None at a clean end of input (before the first byte)."""
    data = bytearray()
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            if data:
                raise EOFError(f"input ended after {len(data)} of {size} bytes")
            return None
        data += chunk
    return bytes(data)


def score(x, reward, target):
    """One reward per sample of x [n, d_1, ..., d_k]."""
    flat = x.reshape(len(x), -1).astype(np.float64)
    if reward == "brightness":
        return flat.mean(axis=1)
    if target is None:
        target = np.zeros(flat.shape[1])
    if len(target) != flat.shape[1]:
        raise ValueError(f"--target has {len(target)} entries but samples have {flat.shape[1]} floats")
    return -((flat - target) ** 2).sum(axis=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reward", choices=["distance", "brightness"], default="distance")
    parser.add_argument("--target", type=lambda text: np.array([float(v) for v in text.split(",")]), default=None)
    arguments = parser.parse_args()

    rank, world = os.environ.get("ORW_RANK", "?"), os.environ.get("ORW_WORLD_SIZE", "?")
    print(f"example_scorer: rank {rank} of {world}, reward {arguments.reward}", file=sys.stderr, flush=True)
    requests, responses = sys.stdin.buffer, sys.stdout.buffer
    while True:
        header = read_exactly(requests, 16)
        if header is None:
            return 0
        magic, version, n, k = struct.unpack("<4sIII", header)
        if magic != b"ORWQ" or version != 1:
            sys.exit(f"example_scorer: expected ORWQ version 1, got {magic!r} version {version}")
        shape = struct.unpack(f"<{k}I", read_exactly(requests, 4 * k))
        count = n * int(np.prod(shape))
        x = np.frombuffer(read_exactly(requests, 4 * count) if count else b"", dtype="<f4").reshape((n, *shape))
        rewards = score(x, arguments.reward, arguments.target).astype("<f4")
        responses.write(b"ORWA" + struct.pack("<I", n) + rewards.tobytes())
        responses.flush()


if __name__ == "__main__":
    sys.exit(main())
