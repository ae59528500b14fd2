"""Benchmark: the NumPy reference LSTM and GRU (forward + backward) against torch.nn.LSTM
and torch.nn.GRU on the CPU, at N=32, T=50, D=64, H=128, and print a table (`make bench`).
A second table times a float32 training step (forward, backward, Adam) of torch.nn.GRU
against torch.nn.LSTM on one thread, with PyTorch's oneDNN backend on (the default: the LSTM
runs oneDNN's fused RNN kernel, the GRU has none) and off (both take the generic path), beside
the ratio of their matmul FLOPs (lesson 05 measures the same in a cell).

Every number comes from one run of this script: read the ratios, measured on alternating
pairs of runs that share the same machine conditions, rather than the milliseconds, which
vary between runs.
"""

from __future__ import annotations

import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autograder.reference import gru, lstm  # noqa: E402

N, T, D, H = 32, 50, 64, 128
ROUNDS, RUNS_PER_ROUND = 7, 5


#: untimed runs of each block last at least this long: after its last call, the other
#: library's idle worker threads keep spinning on the cores for a while (OpenBLAS's for
#: about 0.1 s), which would otherwise be charged to this one
SETTLE_SECONDS = 0.3


def _block_seconds(run, clock=time.perf_counter) -> float:
    """The median of RUNS_PER_ROUND back-to-back runs, after SETTLE_SECONDS of untimed ones:
    each library measured at its steady state, its own thread pool awake. ``clock`` is the
    wall clock, or ``time.process_time`` (this process's CPU time, which other programs on a
    shared machine do not inflate; it adds up the threads, so use it on one thread)."""
    settle_until = time.perf_counter() + SETTLE_SECONDS
    while time.perf_counter() < settle_until:
        run()
    times = []
    for _ in range(RUNS_PER_ROUND):
        started = clock()
        run()
        times.append(clock() - started)
    return statistics.median(times)


def paired_ms(ours, theirs, clock=time.perf_counter) -> tuple[float, float, float]:
    """Median milliseconds of each, and the median over rounds of the ratio ours / theirs.

    The two alternate in rounds, so that a slow spell on a shared machine hits both sides
    of a round alike; the median of per-round ratios is steadier than a ratio of medians."""
    rounds = [(_block_seconds(ours, clock), _block_seconds(theirs, clock)) for _ in range(ROUNDS)]
    return (
        1000 * statistics.median(a for a, _ in rounds),
        1000 * statistics.median(b for _, b in rounds),
        statistics.median(a / b for a, b in rounds),
    )


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


def torch_training_runner(kind: str, onednn: bool):
    """One float32 training step (forward, backward, Adam) of torch.nn.LSTM or GRU, with the
    oneDNN backend on or off for the whole step."""
    layer = (torch.nn.LSTM if kind == "LSTM" else torch.nn.GRU)(D, H, batch_first=True)
    optimizer = torch.optim.Adam(layer.parameters(), lr=1e-3)
    x = torch.randn(N, T, D)

    def run():
        with torch.backends.mkldnn.flags(enabled=onednn):
            out, _ = layer(x)
            optimizer.zero_grad()
            out.pow(2).mean().backward()
            optimizer.step()

    return run


def onednn_table() -> None:
    """GRU against LSTM training steps, oneDNN on and off, one thread, CPU time."""
    # switching oneDNN off or on warns, on every CPU-only build, that its TF32 mode needs an Intel GPU
    warnings.filterwarnings("ignore", message="TF32 acceleration on top of oneDNN", category=UserWarning)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    flop_ratio = (3 * (D + H) * H) / (4 * (D + H) * H)  # matmul multiply-adds per step, GRU / LSTM
    print(
        f"\ntorch training step (forward + backward + Adam), float32, N={N} T={T} D={D} H={H}, 1 thread, "
        f"CPU time (time.process_time); GRU / LSTM matmul FLOPs = {flop_ratio:.2f}\n"
    )
    print(f"{'oneDNN':<7} {'GRU ms':>8} {'LSTM ms':>8} {'GRU / LSTM':>11}")
    try:
        for onednn in (True, False):
            gru_ms, lstm_ms, ratio = paired_ms(
                torch_training_runner("GRU", onednn), torch_training_runner("LSTM", onednn), clock=time.process_time
            )
            print(f"{'on' if onednn else 'off':<7} {gru_ms:8.2f} {lstm_ms:8.2f} {ratio:10.2f}x")
    finally:
        torch.set_num_threads(threads)


def main() -> None:
    print(
        f"forward + backward, N={N} T={T} D={D} H={H}, CPU, {torch.get_num_threads()} torch threads, "
        f"{ROUNDS} alternating rounds of {RUNS_PER_ROUND} runs each (one run; read the ratios)\n"
    )
    print(f"{'layer':<6} {'dtype':<8} {'NumPy ms':>9} {'torch ms':>9} {'NumPy / torch':>14}")
    for kind in ("LSTM", "GRU"):
        for np_dtype, torch_dtype, name in (
            (np.float32, torch.float32, "float32"),
            (np.float64, torch.float64, "float64"),
        ):
            ours, theirs, ratio = paired_ms(numpy_runner(kind, np_dtype), torch_runner(kind, torch_dtype))
            print(f"{kind:<6} {name:<8} {ours:9.1f} {theirs:9.1f} {ratio:13.2f}x")
    onednn_table()


if __name__ == "__main__":
    main()
