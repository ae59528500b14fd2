"""Benchmark: one training epoch of lesson 07's model (CharLSTM: E=32, two LSTM layers of H=256 with dropout
0.1 on the input and between them, as the assignment asks; batch 32, the
punctuation-free text of Alice packed into passages of whole lines, left-padded to T=200, as in
the notebook) on every available device, and print a table of epoch times with the projected
time of the lesson's 100-epoch run (training steps only: no held-out evaluation, no samples).

    .venv/bin/python benchmarks/text_generation_training.py [epochs]

Every number comes from this run; on a shared machine they vary from run to run.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autograder.reference import text_generation as ref  # noqa: E402
from course.checks.torch_oracle import devices as every_device  # noqa: E402
from course.datasets import CharVocab, load_alice, pack_lines  # noqa: E402
from course.device import describe  # noqa: E402

EMBED, HIDDEN, BATCH, SEQ_LEN, FULL_RUN_EPOCHS = 32, 256, 32, 200, 100


def training_rows():
    clean = ref.remove_punctuation(load_alice())
    vocab = CharVocab(clean)
    passages = [vocab.encode(p) for p in pack_lines(clean, SEQ_LEN + 1)]
    inputs, targets = ref.prefix_sequences(passages[: int(0.9 * len(passages))], SEQ_LEN, len(vocab))
    return torch.as_tensor(inputs), torch.as_tensor(targets), len(vocab)


def epoch_seconds(device: torch.device, epochs: int) -> list[float]:
    inputs, targets, V = training_rows()
    inputs, targets = inputs.to(device), targets.to(device)
    torch.manual_seed(0)
    model = ref.CharLSTM(V, EMBED, HIDDEN).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=0.002)
    times = []
    for _ in range(epochs + 1):  # the first epoch warms up (allocations, kernels) and is not counted
        started = time.perf_counter()
        for batch in torch.randperm(len(inputs)).split(BATCH):
            batch = batch.to(device)
            loss = ref.masked_cross_entropy(model(inputs[batch])[0], targets[batch], V)
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    return times[1:]


def main() -> None:
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    devices = [torch.device(name) for name in every_device()]
    print(f"{'device':<32} {'s / epoch (median)':>18} {f'{FULL_RUN_EPOCHS} epochs (min)':>16}")
    for device in devices:
        seconds = statistics.median(epoch_seconds(device, epochs))
        print(f"{describe(device):<32} {seconds:>18.2f} {seconds * FULL_RUN_EPOCHS / 60:>16.1f}")
    if len(devices) == 1:
        print("no CUDA GPU here: the GPU row is missing, not estimated")


if __name__ == "__main__":
    main()
