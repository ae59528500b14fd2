"""Lesson 04 references: the LSTM step and sequence, forward and backward, and the cell as a
torch module (``LSTMCellModule``, the class the graded cell passes).

Layout (CONVENTIONS.md): a = x @ Wx + h @ Wh + b of shape (N, 4H), split in the order
i, f, g, o; c' = f * c + i * g, h' = o * tanh(c'). Step cache, the layout the lesson's
docstrings state: ``(x, prev_h, prev_c, Wx, Wh, i, f, g, o, next_c)``, the gates after their
sigmoid or tanh (here four views of one (N, 4H) array); sequence cache the list of step caches.

These are also the NumPy side of ``make bench``, so the per-step loop works on whole
(N, 4H) blocks: each NumPy call on a small array costs microseconds of overhead, and the
loop makes a few dozen of them per step.
"""

from __future__ import annotations

import functools

import numpy as np


def sigmoid(a):
    """A numerically stable logistic function."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


@functools.lru_cache(maxsize=16)
def _gate_constants(H: int, dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scale, offset, scale**2) over the four blocks: 1/2, 1/2, 1/4 for i, f, o and 1, 0, 1 for g.

    sigmoid(a) = tanh(a / 2) / 2 + 1/2, so one tanh gives all four gates:
    gates = tanh(a * scale) * scale + offset, and d gates / d a = (1 - t**2) * scale**2."""
    scale = np.full(4 * H, 0.5, dtype=dtype)
    scale[2 * H : 3 * H] = 1.0
    constants = (scale, np.where(scale == 1.0, 0.0, 0.5).astype(dtype), scale * scale)
    for array in constants:
        array.flags.writeable = False  # shared by every call through the cache
    return constants


def _step(a, x, prev_h, prev_c, Wx, Wh):
    """The cell from its pre-activation a (N, 4H) -> next_h, next_c, step cache."""
    H = prev_c.shape[1]
    scale, offset, _ = _gate_constants(H, a.dtype)
    gates = np.tanh(a * scale) * scale + offset
    i, f, g, o = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H : 3 * H], gates[:, 3 * H :]
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, g, o, next_c)


def _gate_gradient(dnext_h, dnext_c, cache):
    """-> da (N, 4H), the gradient of the pre-activation, and dprev_c (N, H).

    With gates = tanh(a * scale) * scale + offset, d gates / d a = scale**2 - (gates - offset)**2:
    s (1 - s) for a sigmoid gate s and 1 - g**2 for the candidate g."""
    _, _, prev_c, _, _, i, f, g, o, next_c = cache
    H = prev_c.shape[1]
    _, offset, scale2 = _gate_constants(H, next_c.dtype)
    tanh_c = np.tanh(next_c)
    dc = dnext_c + dnext_h * o * (1.0 - tanh_c * tanh_c)
    gates = np.concatenate([i, f, g, o], axis=1)
    shifted = gates - offset
    da = np.concatenate([dc * g, dc * prev_c, dc * i, dnext_h * tanh_c], axis=1) * (scale2 - shifted * shifted)
    return da, dc * f


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """x (N, D), prev_h, prev_c (N, H), Wx (D, 4H), Wh (H, 4H), b (4H,) -> next_h, next_c, cache."""
    return _step(x @ Wx + prev_h @ Wh + b, x, prev_h, prev_c, Wx, Wh)  # one fused matmul per input


def lstm_step_backward(dnext_h, dnext_c, cache):
    """-> dx (N, D), dprev_h (N, H), dprev_c (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,)."""
    x, prev_h, _, Wx, Wh = cache[:5]
    da, dprev_c = _gate_gradient(dnext_h, dnext_c, cache)
    return da @ Wx.T, da @ Wh.T, dprev_c, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def lstm_forward(x, h0, Wx, Wh, b):
    """x (N, T, D), h0 (N, H); the initial cell state is zero -> h (N, T, H), cache (list of step caches)."""
    N, T, D = x.shape
    H = h0.shape[1]
    projected = (x.reshape(N * T, D) @ Wx + b).reshape(N, T, 4 * H)  # every step's input projection at once
    h = np.zeros((N, T, H), dtype=x.dtype)  # x's dtype: float32 stays float32
    prev_h, prev_c, cache = h0, np.zeros((N, H), dtype=x.dtype), []
    for t in range(T):
        prev_h, prev_c, step_cache = _step(projected[:, t] + prev_h @ Wh, x[:, t], prev_h, prev_c, Wx, Wh)
        cache.append(step_cache)
        h[:, t] = prev_h
    return h, cache


def lstm_backward(dh, cache):
    """dh (N, T, H), the upstream gradient of every hidden state -> dx (N, T, D), dh0, dWx, dWh, db.

    Only the recurrence is walked step by step (dprev_h needs the next step's da); the
    gradients of the shared weights and of x are one matmul each over all steps at once,
    as lstm_forward computes every step's input projection at once.
    """
    N, T, H = dh.shape
    da = np.empty((N, T, 4 * H), dtype=dh.dtype)
    dprev_h, dprev_c = np.zeros((N, H), dtype=dh.dtype), np.zeros((N, H), dtype=dh.dtype)
    Wh = cache[0][4]
    for t in reversed(range(T)):
        da[:, t], dprev_c = _gate_gradient(dh[:, t] + dprev_h, dprev_c, cache[t])
        dprev_h = da[:, t] @ Wh.T
    x = np.stack([step[0] for step in cache], axis=1)  # (N, T, D)
    prev_h = np.stack([step[1] for step in cache], axis=1)  # (N, T, H)
    D = x.shape[2]
    da_rows = da.reshape(N * T, 4 * H)
    dx = (da_rows @ cache[0][3].T).reshape(N, T, D)
    dWx = x.reshape(N * T, D).T @ da_rows
    dWh = prev_h.reshape(N * T, H).T @ da_rows
    return dx, dprev_h, dWx, dWh, da_rows.sum(axis=0)


@functools.cache
def _module_class():
    """The lesson's LSTMCellModule, in the learner's form (a class), built on first use: torch is
    imported only by those who ask for it (``make bench`` runs the NumPy functions alone)."""
    import torch

    class LSTMCellModule(torch.nn.Module):
        def __init__(self, input_size, hidden_size):
            super().__init__()
            k = 1.0 / np.sqrt(hidden_size)
            self.Wx = torch.nn.Parameter(torch.empty(input_size, 4 * hidden_size).uniform_(-k, k))
            self.Wh = torch.nn.Parameter(torch.empty(hidden_size, 4 * hidden_size).uniform_(-k, k))
            self.b = torch.nn.Parameter(torch.zeros(4 * hidden_size))

        def forward(self, x, h, c):
            i, f, g, o = (x @ self.Wx + h @ self.Wh + self.b).chunk(4, dim=1)
            next_c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            return torch.sigmoid(o) * torch.tanh(next_c), next_c

    return LSTMCellModule


def __getattr__(name):
    if name == "LSTMCellModule":
        return _module_class()
    raise AttributeError(name)
