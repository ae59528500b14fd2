"""Lesson 07's capstone experiments: the Keras post's sequences, dropout placed where each row of
the assignment's table puts it, padded rows read the way Keras's ``Masking`` reads them, and the
clock of a run.

Measured in the notebook, graded nowhere. Nothing here builds the model, pads passages, computes
the loss or generates text: the notebook passes the learner's own ``CharLSTM`` (already built) and
rows made by the learner's ``prefix_sequences``.
"""

from __future__ import annotations

import time

import torch


def split_book(text: str, heldout_fraction: float = 0.1) -> tuple[str, str]:
    """The text cut at a line end into (training part, held-out part): the held-out part is about
    the last ``heldout_fraction`` of the characters, and starts with a whole line."""
    cut = text.rfind("\n", 0, int(len(text) * (1 - heldout_fraction))) + 1
    return text[:cut], text[cut:]


def random_windows(
    encoded: torch.Tensor, length: int, count: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """The post's sequences: ``count`` windows of ``length + 1`` characters cut anywhere in the
    1-D index tensor ``encoded`` (often mid-word), as (inputs, targets), each (count, length):
    the window without its last character, and without its first."""
    starts = torch.randint(0, len(encoded) - length, (count,), generator=generator)
    windows = encoded[starts[:, None] + torch.arange(length + 1)]
    return windows[:, :-1], windows[:, 1:]


def skip_leading_pads(inputs: torch.Tensor, targets: torch.Tensor, pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded rows (N, T) with each row's padding moved from its start to its end.

    A row's padding is counted on its targets (a padded position has no target), never found by
    value in its inputs. For a model that reads the steps in order, this is what Keras's
    ``Masking`` does to left padding: the real characters are read from the zero state, as a
    generator reads its seed, and the pads after them only meet targets the loss ignores."""
    T = targets.shape[1]
    pads = (targets == pad).sum(dim=1, keepdim=True)
    where = (torch.arange(T, device=targets.device)[None, :] + pads) % T
    return inputs.gather(1, where), targets.gather(1, where)


def set_dropout(model: torch.nn.Module, *, on_input: float, between_lstms: float, before_dense: float) -> None:
    """Place dropout in a built CharLSTM, in place: ``on_input`` is the rate of its (only)
    ``torch.nn.Dropout``, ``between_lstms`` its ``torch.nn.LSTM``'s own ``dropout``, and
    ``before_dense`` a dropout applied, in training mode only, to what its ``torch.nn.Linear``
    reads (the post puts 0.2 there; the assignment removes it)."""
    (dropout,) = [m for m in model.modules() if isinstance(m, torch.nn.Dropout)]
    (lstm,) = [m for m in model.modules() if isinstance(m, torch.nn.LSTM)]
    (linear,) = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    dropout.p = on_input
    lstm.dropout = between_lstms
    if before_dense:
        linear.register_forward_pre_hook(
            lambda module, args: (torch.nn.functional.dropout(args[0], before_dense, module.training),)
        )


class RowSampler:
    """Minibatches of row indices: shuffled sweeps over ``n`` rows, one after another, so that an
    epoch can be any number of batches (a sweep may end inside an epoch and the next one begin)."""

    def __init__(self, n: int, batch: int, generator: torch.Generator):
        self.n, self.batch, self.generator = n, batch, generator
        self.queue = torch.empty(0, dtype=torch.int64)

    def __call__(self) -> torch.Tensor:
        while len(self.queue) < self.batch:
            self.queue = torch.cat([self.queue, torch.randperm(self.n, generator=self.generator)])
        chosen, self.queue = self.queue[: self.batch], self.queue[self.batch :]
        return chosen


class Clock:
    """Wall-clock and CPU seconds since it was made. The CPU seconds are this process's, all its
    threads together: with one thread they are about the wall time the run takes on a quiet core,
    however busy the machine is now."""

    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def seconds(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu
