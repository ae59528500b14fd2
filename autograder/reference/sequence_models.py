"""Lesson 06 references: padding and masks, forecasting windows and the persistence baseline,
the evaluation metrics, the two torch models and the training step.

Padding is on the right with ``pad_value``; token index 0 is the padding token of the
intent classifier's embedding. The intent classifier is an embedding, a one-layer
bidirectional LSTM (batch_first) over the packed batch, and a linear head on
``cat(h_n[0], h_n[1])`` (the forward direction's state after the last real token, then
the backward direction's state after the first). The forecaster is a stacked GRU
(batch_first) and a linear head on the top layer's last output, squeezed to (N,).

Each exercise is here in the learner's form: the classes ``IntentClassifier`` and
``Forecaster`` (built on first use, so that importing this module needs no torch) and
``train_step``; the checks' harnesses (``course.checks.sequence_models``) run them as they
run the learner's.
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = [
    "accuracy",
    "confusion_matrix",
    "length_mask",
    "make_windows",
    "mean_absolute_error",
    "pad_sequences",
    "persistence_forecast",
    "train_step",
]


def pad_sequences(seqs, pad_value=0):
    """seqs: list of N 1-D int arrays -> padded (N, T_max) int64 (right-padded), lengths (N,) int64."""
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    padded = np.full((len(seqs), int(lengths.max())), pad_value, dtype=np.int64)
    for row, s in enumerate(seqs):
        padded[row, : len(s)] = s
    return padded, lengths


def length_mask(lengths, T):
    """lengths (N,) -> bool (N, T), True where t < lengths[n]."""
    return np.arange(T)[None, :] < np.asarray(lengths)[:, None]


def make_windows(series, target, window):
    """series (T, F), target (T,) -> X (T - window, window, F), y (T - window,):
    X[i] = series[i:i + window], y[i] = target[i + window] (the day after the window)."""
    T = len(target)
    X = np.stack([series[i : i + window] for i in range(T - window)])
    return X, np.asarray(target)[window:].copy()


def persistence_forecast(target, window):
    """target (T,) -> (T - window,): for the day t = window + i, the forecast is target[t - 1]."""
    target = np.asarray(target)
    return target[window - 1 : -1].copy()


def accuracy(logits, labels):
    """logits (N, C), labels (N,) int -> the fraction of rows whose argmax is the label (a float)."""
    return float(np.mean(np.argmax(logits, axis=1) == labels))


def confusion_matrix(labels, predictions, num_classes):
    """labels, predictions (N,) int -> (C, C) int64; entry [i, j] counts true class i predicted as j."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def mean_absolute_error(y_true, y_pred):
    """(N,) and (N,) -> mean |y_true - y_pred| (a float)."""
    return float(np.mean(np.abs(np.asarray(y_true) - np.asarray(y_pred))))


def train_step(model, optimizer, inputs, targets, loss_fn):
    """One update: loss = loss_fn(model(*inputs), targets); zero the gradients, backward, step.
    Returns the loss before the update as a Python float."""
    model.train()
    optimizer.zero_grad()
    loss = loss_fn(model(*inputs), targets)
    loss.backward()
    optimizer.step()
    return loss.item()


# ------------------------------------------------------------------ the torch models


@functools.cache
def _intent_class():
    import torch

    class IntentClassifier(torch.nn.Module):
        def __init__(self, vocab_size, embed_dim, hidden_size, num_classes):
            super().__init__()
            self.embedding = torch.nn.Embedding(vocab_size, embed_dim, padding_idx=0)
            self.rnn = torch.nn.LSTM(embed_dim, hidden_size, batch_first=True, bidirectional=True)
            self.head = torch.nn.Linear(2 * hidden_size, num_classes)

        def forward(self, tokens, lengths):
            packed = torch.nn.utils.rnn.pack_padded_sequence(
                self.embedding(tokens), lengths.cpu(), batch_first=True, enforce_sorted=False
            )
            _, (h_n, _) = self.rnn(packed)
            return self.head(torch.cat([h_n[0], h_n[1]], dim=1))

    return IntentClassifier


@functools.cache
def _forecaster_class():
    import torch

    class Forecaster(torch.nn.Module):
        def __init__(self, num_features, hidden_size, num_layers=2):
            super().__init__()
            self.rnn = torch.nn.GRU(num_features, hidden_size, num_layers=num_layers, batch_first=True)
            self.head = torch.nn.Linear(hidden_size, 1)

        def forward(self, x):
            out, _ = self.rnn(x)
            return self.head(out[:, -1]).squeeze(-1)

    return Forecaster


def __getattr__(name):
    """The two classes, made once, on first use."""
    if name == "IntentClassifier":
        return _intent_class()
    if name == "Forecaster":
        return _forecaster_class()
    raise AttributeError(name)
