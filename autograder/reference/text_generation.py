"""Lesson 07 references: character-level text generation on Alice with an LSTM.

- ``remove_punctuation(text)``: every ASCII punctuation character (``string.punctuation``)
  removed; letters, digits and whitespace (spaces, newlines) kept, in order.
- ``prefix_sequences(lines, seq_len, pad)``: one training row per line of at least two
  characters; a line ``l`` (its first ``seq_len + 1`` characters when longer) gives the input
  ``l[:-1]`` and the target ``l[1:]``, both left-padded with ``pad`` to ``seq_len``.
- ``CharLSTM(vocab_size, embed_size, hidden_size, dropout=0.1)``: Embedding (vocab_size + 1
  rows, the last one the padding index) -> Dropout(0.1) -> two stacked LSTM layers with
  Dropout(0.1) between them (LSTM(num_layers=2, dropout=0.1, batch_first)) -> Linear, nothing
  dropping out before the Linear: the Keras post's final model with the assignment's changes.
- ``masked_cross_entropy(logits, targets, pad)``: mean cross-entropy (nats) over the
  positions whose target is not ``pad``.
- ``generate(model, vocab, seed_text, num_chars=500, temperature=1.0, seed=0)``: exactly
  ``num_chars`` sampled characters, deterministic for a given seed.

Each is in the learner's form (a str function, a torch.nn.Module class, a generator of text): the
checks' harnesses (``course.checks.text_generation``) turn it into NumPy functions, as they do the
learner's. What known mistakes return lives in ``autograder.mistakes.text_generation``.
"""

from __future__ import annotations

import functools
import string

import numpy as np

PUNCTUATION = frozenset(string.punctuation)


def remove_punctuation(text):
    """text (str) -> the same text without its ASCII punctuation characters."""
    return "".join(c for c in text if c not in PUNCTUATION)


def prefix_sequences(lines, seq_len, pad):
    """lines: list of 1-D int arrays -> inputs (N, seq_len), targets (N, seq_len), int64."""
    rows = [np.asarray(line)[: seq_len + 1] for line in lines if len(line) >= 2]
    inputs = np.full((len(rows), seq_len), pad, dtype=np.int64)
    targets = np.full((len(rows), seq_len), pad, dtype=np.int64)
    for i, row in enumerate(rows):
        n = len(row) - 1
        inputs[i, seq_len - n :] = row[:-1]
        targets[i, seq_len - n :] = row[1:]
    return inputs, targets


def masked_cross_entropy(logits, targets, pad):
    """logits (N, T, V) tensor, targets (N, T) int64 tensor -> scalar tensor (nats per real target)."""
    import torch

    mask = targets != pad
    return torch.nn.functional.cross_entropy(logits[mask], targets[mask])


def generate(model, vocab, seed_text, num_chars=500, temperature=1.0, seed=0):
    """num_chars characters sampled after seed_text, at the given temperature; the same seed gives the same text."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    model.eval()
    chosen = []
    with torch.no_grad():
        logits, state = model(torch.as_tensor(vocab.encode(seed_text), device=device)[None])
        for _ in range(num_chars):
            probs = torch.softmax(logits[0, -1].double().cpu() / temperature, dim=-1)
            index = int(torch.multinomial(probs, 1, generator=generator))
            chosen.append(index)
            logits, state = model(torch.tensor([[index]], device=device), state)
    return vocab.decode(chosen)


@functools.cache
def _module_class():
    """CharLSTM, made on first use: torch is imported only when a check needs the model."""
    import torch

    class CharLSTM(torch.nn.Module):
        def __init__(self, vocab_size, embed_size, hidden_size, dropout=0.1):
            super().__init__()
            self.embedding = torch.nn.Embedding(vocab_size + 1, embed_size, padding_idx=vocab_size)
            self.dropout = torch.nn.Dropout(dropout)
            self.lstm = torch.nn.LSTM(embed_size, hidden_size, num_layers=2, dropout=dropout, batch_first=True)
            self.head = torch.nn.Linear(hidden_size, vocab_size)

        def forward(self, x, state=None):
            out, state = self.lstm(self.dropout(self.embedding(x)), state)
            return self.head(out), state

    return CharLSTM


def __getattr__(name):
    if name == "CharLSTM":
        return _module_class()
    raise AttributeError(name)
