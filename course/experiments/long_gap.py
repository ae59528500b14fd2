"""The long-gap memory task of lessons 04 and 05, in one place.

Each sequence starts with a **signal** token, ``A`` or ``B``, followed by ``gap``
**distractor** tokens (``x`` or ``y`` at random); the label is the signal. A model reads
the whole sequence and answers from its last hidden state, so it must carry one bit across
``gap`` steps while ignoring the noise. A coin toss scores 50%.
"""

from __future__ import annotations

import torch

TOKENS = ("A", "B", "x", "y")
#: held-out sequences per accuracy, drawn from a generator of their own
TEST_SEQUENCES = 1000


def long_gap_batch(n: int, gap: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """One-hot sequences (n, gap + 1, 4), a signal then ``gap`` distractors, and labels (n,)."""
    signal = torch.randint(0, 2, (n,), generator=generator)
    tokens = torch.cat([signal[:, None], torch.randint(2, 4, (n, gap), generator=generator)], dim=1)
    return torch.nn.functional.one_hot(tokens, len(TOKENS)).float(), signal


class Classifier(torch.nn.Module):
    """A recurrent layer (``torch.nn.RNN``, ``LSTM`` or ``GRU``) and a linear read-out of its
    last state. ``memory_bias`` sets the summed bias (``bias_ih + bias_hh``) of the gate that
    keeps the state: the LSTM's forget gate (block f of i, f, g, o) or the GRU's update gate
    (block z of r, z, n); a positive value makes the layer remember by default. ``None``
    keeps PyTorch's initialisation (both biases drawn uniformly in +-1/sqrt(hidden)). A plain
    RNN has no such gate."""

    def __init__(self, kind: str, hidden: int = 32, memory_bias: float | None = 0.0):
        super().__init__()
        self.rnn = getattr(torch.nn, kind)(len(TOKENS), hidden, batch_first=True)
        self.out = torch.nn.Linear(hidden, 2)
        if kind in ("LSTM", "GRU") and memory_bias is not None:
            keep_gate = slice(hidden, 2 * hidden)  # f in (i, f, g, o); z in (r, z, n)
            with torch.no_grad():
                self.rnn.bias_ih_l0[keep_gate] = 0.0
                self.rnn.bias_hh_l0[keep_gate] = memory_bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.rnn(x)[0][:, -1])


def train_long_gap(
    kind: str,
    gap: int,
    steps: int,
    seed: int = 0,
    *,
    memory_bias: float | None = 0.0,
    hidden: int = 32,
    lr: float = 0.003,
    batch: int = 64,
) -> tuple[Classifier, float]:
    """Train a Classifier with Adam for ``steps`` batches; return it and its held-out accuracy."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = Classifier(kind, hidden, memory_bias)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        x, y = long_gap_batch(batch, gap, generator)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    x, y = long_gap_batch(TEST_SEQUENCES, gap, torch.Generator().manual_seed(10**6))
    with torch.no_grad():
        accuracy = (model(x).argmax(dim=1) == y).float().mean().item()
    return model, accuracy
