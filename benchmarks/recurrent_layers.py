"""Benchmark: the NumPy reference LSTM and GRU (forward + backward) against torch.nn.LSTM
and torch.nn.GRU on the CPU, at N=32, T=50, D=64, H=128, and print a table (`make bench`).

Every number comes from one run of this script: read the ratios, which share the same
machine conditions, rather than the milliseconds, which vary between runs.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autograder.reference import gru, lstm  # noqa: E402

N, T, D, H = 32, 50, 64, 128
REPEATS = 7


def median_ms(run) -> float:
    run()  # warm-up: allocations, lazy imports, thread pools
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def numpy_runner(kind: str, dtype):
    rng = np.random.default_rng(0)
    gates = 4 if kind == "LSTM" else 3
    x = rng.normal(size=(N, T, D)).astype(dtype)
    h0 = np.zeros((N, H), dtype)
    Wx = (rng.normal(size=(D, gates * H)) / np.sqrt(D)).astype(dtype)
    Wh = (rng.normal(size=(H, gates * H)) / np.sqrt(H)).astype(dtype)
    dh = rng.normal(size=(N, T, H)).astype(dtype)
    if kind == "LSTM":
        b = np.zeros(gates * H, dtype)
        return lambda: lstm.lstm_backward(dh, lstm.lstm_forward(x, h0, Wx, Wh, b)[1])
    bx, bh = np.zeros(gates * H, dtype), np.zeros(gates * H, dtype)
    return lambda: gru.gru_backward(dh, gru.gru_forward(x, h0, Wx, Wh, bx, bh)[1])


def torch_runner(kind: str, dtype):
    layer = (torch.nn.LSTM if kind == "LSTM" else torch.nn.GRU)(D, H, batch_first=True, dtype=dtype)
    x = torch.randn(N, T, D, dtype=dtype, requires_grad=True)
    dh = torch.randn(N, T, H, dtype=dtype)

    def run():
        layer.zero_grad()
        x.grad = None
        out, _ = layer(x)
        out.backward(dh)

    return run


def main() -> None:
    print(f"forward + backward, N={N} T={T} D={D} H={H}, CPU, {torch.get_num_threads()} torch threads, "
          f"median of {REPEATS} (one run; read the ratios)\n")
    print(f"{'layer':<6} {'dtype':<8} {'NumPy ms':>9} {'torch ms':>9} {'NumPy / torch':>14}")
    for kind in ("LSTM", "GRU"):
        for np_dtype, torch_dtype, name in ((np.float32, torch.float32, "float32"), (np.float64, torch.float64, "float64")):
            ours = median_ms(numpy_runner(kind, np_dtype))
            theirs = median_ms(torch_runner(kind, torch_dtype))
            print(f"{kind:<6} {name:<8} {ours:9.1f} {theirs:9.1f} {ours / theirs:13.2f}x")


if __name__ == "__main__":
    main()
