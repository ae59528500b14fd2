"""Benchmark: lesson 07's training runs, projected from a few timed minibatches on every device.

The model is the notebook's (CharLSTM: E=32, two LSTM layers of H=256, dropout 0.1 on the input and
between them), trained as the notebook trains it: minibatches of 32 passages of whole lines of the
punctuation-free book, left-padded to T=200 and read with the pads skipped, Adam, clipping; one
held-out evaluation after every epoch. An epoch in the notebook is 8 minibatches. The projections:

- a sweep: one pass over every training passage (the post's epoch);
- the learner's run (the notebook as shipped): 12 epochs, and 6 runs of 2 epochs for the table;
- the full run (FULL_RUN = True): 100 epochs, and 6 runs of 10 epochs for the table.

On the CPU the run uses one thread, as the notebook does, and its figures are CPU seconds: with one
thread they are about the wall-clock time on a quiet core, however busy the machine is (the wall
time is printed beside them). The table's first two rows train on windows of 64 x 100 characters,
counted here as passage minibatches of the same number of steps; the rest of the notebook (the
data, the checks, generation, the figures) is not counted.

    .venv/bin/python benchmarks/text_generation_training.py [minibatches]

Every number comes from this run; on a shared machine the wall times vary from run to run.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autograder.reference import text_generation as ref  # noqa: E402
from course.checks.torch_oracle import devices as every_device  # noqa: E402
from course.datasets import CharVocab, load_alice, pack_lines  # noqa: E402
from course.device import describe  # noqa: E402
from course.experiments.capstone import RowSampler, skip_leading_pads, split_book  # noqa: E402

EMBED, HIDDEN, BATCH, SEQ_LEN, BATCHES_PER_EPOCH = 32, 256, 32, 200, 8
#: (epochs of the main run, runs for the table, epochs per table run) of each run of the notebook
RUNS = {"learner's run": (12, 6, 2), "full run": (100, 6, 10)}


def rows():
    train_text, heldout_text = split_book(load_alice())
    clean_train, clean_held = ref.remove_punctuation(train_text), ref.remove_punctuation(heldout_text)
    vocab = CharVocab(clean_train + clean_held)
    pad = len(vocab)

    def read(part):
        passages = [vocab.encode(p) for p in pack_lines(part, SEQ_LEN + 1)]
        inputs, targets = ref.prefix_sequences(passages, SEQ_LEN, pad)
        return skip_leading_pads(torch.as_tensor(inputs), torch.as_tensor(targets), pad)

    return read(clean_train), read(clean_held), pad


def seconds_per_minibatch_and_evaluation(device: torch.device, minibatches: int) -> tuple[float, float, int]:
    """(seconds per training minibatch, seconds per held-out evaluation, training passages): CPU
    seconds on the CPU, wall seconds on a GPU."""
    (x_train, y_train), (x_held, y_held), pad = rows()
    x_train, y_train, x_held, y_held = (t.to(device) for t in (x_train, y_train, x_held, y_held))
    torch.manual_seed(0)
    model = ref.CharLSTM(pad, EMBED, HIDDEN).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=0.002)
    sampler = RowSampler(len(x_train), BATCH, torch.Generator().manual_seed(0))

    def step():
        chosen = sampler().to(device)
        loss = ref.masked_cross_entropy(model(x_train[chosen])[0], y_train[chosen], pad)
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()

    def evaluate():
        model.eval()
        with torch.no_grad():
            float(ref.masked_cross_entropy(model(x_held)[0], y_held, pad))
        model.train()

    def timed(work, repeats):
        work()  # warm-up (allocations, kernels): not counted
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.process_time() if device.type == "cpu" else time.perf_counter()
        for _ in range(repeats):
            work()
        if device.type == "cuda":
            torch.cuda.synchronize()
        end = time.process_time() if device.type == "cpu" else time.perf_counter()
        return (end - start) / repeats

    return timed(step, minibatches), timed(evaluate, 2), len(x_train)


def main() -> None:
    minibatches = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    torch.set_num_threads(1)  # as the notebook: one thread on the CPU
    devices = [torch.device(name) for name in every_device()]
    learner, full = RUNS["learner's run"], RUNS["full run"]
    # The last two columns stay (seconds per epoch, minutes of the full run): make gpu-check reads them.
    print(
        f"{'device':<24} {'s/minibatch':>11} {'s/eval':>7} {'s/sweep':>8} {'learner run (min)':>18} "
        f"{'s/epoch':>8} {'full run (min)':>15}"
    )
    for device in devices:
        batch, evaluation, passages = seconds_per_minibatch_and_evaluation(device, minibatches)
        epoch = BATCHES_PER_EPOCH * batch + evaluation

        def minutes(run, epoch=epoch):
            epochs, table_runs, table_epochs = run
            return (epochs + table_runs * table_epochs) * epoch / 60

        print(
            f"{describe(device):<24} {batch:>11.2f} {evaluation:>7.2f} {batch * passages / BATCH:>8.0f} "
            f"{minutes(learner):>18.1f} {epoch:>8.2f} {minutes(full):>15.1f}"
        )
    print("CPU rows: CPU seconds of one thread (about a quiet core's wall time); GPU rows: wall seconds")
    if not any(device.type == "cuda" for device in devices):
        print("no CUDA GPU here: the GPU row is missing, not estimated")


if __name__ == "__main__":
    main()
