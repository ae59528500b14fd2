"""Lesson 02 references: the vanilla RNN step, the unrolled forward pass, one-hot
encoding, the temporal affine layer, and the RNN cell as a torch module."""

from __future__ import annotations

import functools

import numpy as np


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """x (N, D), prev_h (N, H), Wx (D, H), Wh (H, H), b (H,) -> next_h (N, H), cache."""
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_forward(x, h0, Wx, Wh, b):
    """x (N, T, D), h0 (N, H) -> h (N, T, H), cache (one step cache per time step)."""
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]))
    prev_h, caches = h0, []
    for t in range(T):
        prev_h, cache = rnn_step_forward(x[:, t], prev_h, Wx, Wh, b)
        h[:, t] = prev_h
        caches.append(cache)
    return h, caches


def one_hot(idx, V):
    """idx int (N, T) with values in [0, V) -> (N, T, V) float64, 1.0 at each index."""
    return np.eye(V, dtype=np.float64)[idx]


def temporal_affine_forward(x, W, b):
    """x (N, T, H) @ W (H, M) + b (M,) at every step -> out (N, T, M), cache."""
    N, T, H = x.shape
    out = (x.reshape(N * T, H) @ W + b).reshape(N, T, W.shape[1])
    return out, (x, W, b)


@functools.cache
def _module_class():
    import torch

    class RNNCellModule(torch.nn.Module):
        """A vanilla RNN cell in the course's layout: next_h = tanh(x Wx + h Wh + b)."""

        def __init__(self, input_size, hidden_size):
            super().__init__()
            scale = 1.0 / np.sqrt(hidden_size)
            self.Wx = torch.nn.Parameter(torch.empty(input_size, hidden_size).uniform_(-scale, scale))
            self.Wh = torch.nn.Parameter(torch.empty(hidden_size, hidden_size).uniform_(-scale, scale))
            self.b = torch.nn.Parameter(torch.zeros(hidden_size))

        def forward(self, x, h):
            return torch.tanh(x @ self.Wx + h @ self.Wh + self.b)

    return RNNCellModule


def __getattr__(name):
    # torch is imported only when the module is asked for (the NumPy references need none).
    if name == "RNNCellModule":
        return _module_class()
    raise AttributeError(name)
