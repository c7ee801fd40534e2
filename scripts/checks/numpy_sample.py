"""Independent reference for `orwdist sample`: loads an orwdist model file with Python's
safetensors, runs the MLP velocity field in numpy (float64) and integrates it with Euler from
the same noise.

    python scripts/checks/numpy_sample.py MODEL.safetensors NOISE.npy STEPS OUT.npy

The network, as DESIGN.md and the core-math issue define it:
    v(t, x) = net(concat(x, e(t))),  e(t) = [sin(1000 t f_k)]_k ++ [cos(1000 t f_k)]_k,
    f_k = exp(-ln(10000) k / h), h = E / 2,
    net = Linear, SiLU, ..., Linear  (nn.Sequential names net.0, net.2, ...).
"""
import json
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file


def velocity(weights, spec, t, x):
    half = spec["time_embedding"] // 2
    frequencies = 1000.0 * np.exp(-np.log(10000.0) * np.arange(half) / half)
    angles = t[:, None] * frequencies[None, :]
    h = np.concatenate([x, np.sin(angles), np.cos(angles)], axis=1)
    for layer in range(spec["depth"] + 1):
        w = weights[f"net.{2 * layer}.weight"].astype(np.float64)
        b = weights[f"net.{2 * layer}.bias"].astype(np.float64)
        h = h @ w.T + b
        if layer < spec["depth"]:
            h = h / (1.0 + np.exp(-h))  # SiLU
    return h


def main():
    model, noise, steps, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    with safe_open(model, framework="numpy") as handle:
        spec = json.loads(handle.metadata()["orwdist.architecture"])
    assert spec["type"] == "mlp", spec
    weights = load_file(model)
    x = np.load(noise).astype(np.float64)
    for k in range(steps):
        t = np.full(x.shape[0], k / steps)
        x = x + velocity(weights, spec, t, x) / steps
    np.save(out, x.astype(np.float32))


if __name__ == "__main__":
    main()
