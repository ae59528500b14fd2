"""Lesson 05 references: the gated recurrent unit (GRU) in PyTorch's form.

Gates stacked in the order r, z, n (reset, update, new), two biases:

    r = sigmoid(x Wx_r + bx_r + h Wh_r + bh_r)
    z = sigmoid(x Wx_z + bx_z + h Wh_z + bh_z)
    n = tanh(x Wx_n + bx_n + r * (h Wh_n + bh_n))
    h' = (1 - z) * n + z * h

Step cache ``(x, prev_h, Wx, Wh, r, z, n, hn)`` with ``hn = prev_h Wh_n + bh_n``;
sequence cache: the list of step caches.
"""

from __future__ import annotations

import numpy as np


def sigmoid(a):
    """A numerically stable logistic sigmoid."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _step(x, xp, prev_h, Wx, Wh, bh):
    """One step given the input projection xp = x Wx + bx (N, 3H)."""
    H = prev_h.shape[1]
    hp = prev_h @ Wh + bh  # one fused matmul for the three blocks
    r = sigmoid(xp[:, :H] + hp[:, :H])
    z = sigmoid(xp[:, H : 2 * H] + hp[:, H : 2 * H])
    hn = hp[:, 2 * H :]
    n = np.tanh(xp[:, 2 * H :] + r * hn)
    next_h = (1.0 - z) * n + z * prev_h
    return next_h, (x, prev_h, Wx, Wh, r, z, n, hn)


def gru_step_forward(x, prev_h, Wx, Wh, bx, bh):
    """x (N, D), prev_h (N, H), Wx (D, 3H), Wh (H, 3H), bx, bh (3H,) -> next_h (N, H), cache."""
    return _step(x, x @ Wx + bx, prev_h, Wx, Wh, bh)


def gru_step_backward(dnext_h, cache):
    """dnext_h (N, H) -> dx (N, D), dprev_h (N, H), dWx (D, 3H), dWh (H, 3H), dbx, dbh (3H,)."""
    x, prev_h, Wx, Wh, r, z, n, hn = cache
    dn = dnext_h * (1.0 - z)
    dz = dnext_h * (prev_h - n)
    dan = dn * (1.0 - n**2)
    dar = dan * hn * r * (1.0 - r)
    daz = dz * z * (1.0 - z)
    dgx = np.concatenate([dar, daz, dan], axis=1)  # gradient of x Wx + bx
    dgh = np.concatenate([dar, daz, dan * r], axis=1)  # gradient of prev_h Wh + bh
    dx = dgx @ Wx.T
    dprev_h = dnext_h * z + dgh @ Wh.T
    return dx, dprev_h, x.T @ dgx, prev_h.T @ dgh, dgx.sum(axis=0), dgh.sum(axis=0)


def gru_forward(x, h0, Wx, Wh, bx, bh):
    """x (N, T, D), h0 (N, H) -> h (N, T, H), cache (the list of step caches).

    The input projection of every step is one matmul, (N*T, D) @ (D, 3H)."""
    N, T, D = x.shape
    H = h0.shape[1]
    xp = (x.reshape(N * T, D) @ Wx + bx).reshape(N, T, 3 * H)
    h = np.zeros((N, T, H), dtype=x.dtype)  # x's dtype: float32 stays float32
    prev_h, cache = h0, []
    for t in range(T):
        prev_h, step_cache = _step(x[:, t], xp[:, t], prev_h, Wx, Wh, bh)
        h[:, t] = prev_h
        cache.append(step_cache)
    return h, cache


def gru_backward(dh, cache):
    """dh (N, T, H), the upstream gradient of every state -> dx (N, T, D), dh0, dWx, dWh, dbx, dbh.

    Only the recurrence is walked step by step; the gradients of the shared weights and of
    x are one matmul each over all steps at once (as gru_forward projects every input at once).
    """
    N, T, H = dh.shape
    dgx = np.empty((N, T, 3 * H), dtype=dh.dtype)  # gradient of x Wx + bx, every step
    dgh = np.empty((N, T, 3 * H), dtype=dh.dtype)  # gradient of prev_h Wh + bh, every step
    dprev_h = np.zeros((N, H), dtype=dh.dtype)
    Wh = cache[0][3]
    for t in reversed(range(T)):
        _, prev_h, _, _, r, z, n, hn = cache[t]
        dnext_h = dh[:, t] + dprev_h
        dan = dnext_h * (1.0 - z) * (1.0 - n**2)
        dgx[:, t, :H] = dgh[:, t, :H] = dan * hn * r * (1.0 - r)
        dgx[:, t, H : 2 * H] = dgh[:, t, H : 2 * H] = dnext_h * (prev_h - n) * z * (1.0 - z)
        dgx[:, t, 2 * H :] = dan
        dgh[:, t, 2 * H :] = dan * r
        dprev_h = dnext_h * z + dgh[:, t] @ Wh.T
    x = np.stack([step[0] for step in cache], axis=1)  # (N, T, D)
    prev_h = np.stack([step[1] for step in cache], axis=1)  # (N, T, H)
    D = x.shape[2]
    dgx_rows, dgh_rows = dgx.reshape(N * T, 3 * H), dgh.reshape(N * T, 3 * H)
    dx = (dgx_rows @ cache[0][2].T).reshape(N, T, D)
    return (
        dx,
        dprev_h,
        x.reshape(N * T, D).T @ dgx_rows,
        prev_h.reshape(N * T, H).T @ dgh_rows,
        dgx_rows.sum(axis=0),
        dgh_rows.sum(axis=0),
    )
