"""Lesson 03 references: backpropagation through time, the temporal softmax loss,
gradient clipping, the character model's loss, a truncated-BPTT step and sampling.

Each graded function in the learner's form (functions of dicts where the notebook's are):
the checks' harnesses (``course.checks.bptt``) call these as they call the learner's.
The forward passes (and their cache formats) are lesson 02's:
step cache ``(x, prev_h, Wx, Wh, next_h)``, sequence cache the list of step caches,
temporal affine cache ``(x, W, b)``.
"""

from __future__ import annotations

import numpy as np

from .rnn_cell import one_hot, rnn_forward, rnn_step_forward, temporal_affine_forward

__all__ = [
    "rnn_step_forward",
    "rnn_forward",
    "temporal_affine_forward",
    "one_hot",
    "rnn_step_backward",
    "rnn_backward",
    "temporal_affine_backward",
    "temporal_softmax_loss",
    "clip_gradients",
    "char_rnn_loss",
    "tbptt_step",
    "sample",
]


def rnn_step_backward(dnext_h, cache):
    """dnext_h (N, H) -> dx (N, D), dprev_h (N, H), dWx (D, H), dWh (H, H), db (H,)."""
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1.0 - next_h**2)
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def rnn_backward(dh, cache):
    """dh (N, T, H), the upstream gradient of every state -> dx (N, T, D), dh0, dWx, dWh, db."""
    N, T, H = dh.shape
    D = cache[0][0].shape[1]
    dx = np.zeros((N, T, D))
    dWx, dWh, db = np.zeros((D, H)), np.zeros((H, H)), np.zeros(H)
    dprev_h = np.zeros((N, H))
    for t in reversed(range(T)):
        dx_t, dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t] + dprev_h, cache[t])
        dx[:, t] = dx_t
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db


def temporal_affine_backward(dout, cache):
    """dout (N, T, M) -> dx (N, T, H), dW (H, M), db (M,)."""
    x, W, b = cache
    N, T, H = x.shape
    M = W.shape[1]
    dout2 = dout.reshape(N * T, M)
    return (dout2 @ W.T).reshape(N, T, H), x.reshape(N * T, H).T @ dout2, dout2.sum(axis=0)


def temporal_softmax_loss(scores, y, mask):
    """Scores (N, T, V), targets y (N, T), mask bool (N, T) -> loss (sum over masked steps,
    mean over N), dscores (N, T, V)."""
    N, T, V = scores.shape
    shifted = scores - scores.max(axis=2, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=2, keepdims=True))
    picked = np.take_along_axis(log_probs, y[..., None], axis=2)[..., 0]
    loss = -np.sum(picked * mask) / N
    dscores = np.exp(log_probs)
    np.put_along_axis(dscores, y[..., None], np.take_along_axis(dscores, y[..., None], axis=2) - 1.0, axis=2)
    dscores *= mask[..., None] / N
    return loss, dscores


def clip_gradients(grads, max_norm):
    """Global-norm clipping: every gradient scaled by max_norm / norm when the norm of all of
    them together exceeds max_norm. Returns (a new dict, the norm before clipping)."""
    norm = float(np.sqrt(sum(np.sum(g**2) for g in grads.values())))
    scale = max_norm / norm if norm > max_norm else 1.0
    return {name: g * scale for name, g in grads.items()}, norm


def char_rnn_loss(params, x_idx, y_idx, h_prev):
    """The character model: one-hot inputs, the RNN from h_prev, scores h Wy + by, the
    temporal softmax loss over every step. Returns loss, grads (same keys as params), h_last."""
    V = params["Wy"].shape[1]
    x = one_hot(x_idx, V)
    h, rnn_cache = rnn_forward(x, h_prev, params["Wx"], params["Wh"], params["b"])
    scores, affine_cache = temporal_affine_forward(h, params["Wy"], params["by"])
    loss, dscores = temporal_softmax_loss(scores, y_idx, np.ones(y_idx.shape, dtype=bool))
    dh, dWy, dby = temporal_affine_backward(dscores, affine_cache)
    _, _, dWx, dWh, db = rnn_backward(dh, rnn_cache)
    return loss, {"Wx": dWx, "Wh": dWh, "b": db, "Wy": dWy, "by": dby}, h[:, -1]


def tbptt_step(params, x_chunk_idx, y_chunk_idx, h_prev, learning_rate, max_norm):
    """One truncated-BPTT step on a chunk: loss and gradients from h_prev, global-norm
    clipping, an SGD update of params in place. Returns (loss before the update, the last state)."""
    loss, grads, h_last = char_rnn_loss(params, x_chunk_idx, y_chunk_idx, h_prev)
    grads, _ = clip_gradients(grads, max_norm)
    for name in params:
        params[name] -= learning_rate * grads[name]
    return loss, h_last


def _softmax(scores):
    shifted = scores - scores.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def sample(params, seed_idx, h0, length, temperature, rng):
    """length characters drawn one at a time, each fed back as the next input.

    seed_idx: int, the first input character.  h0: (1, H).  temperature > 0.
    Each step: h = step(one_hot(previous), h); p = softmax((h Wy + by) / temperature);
    next = rng.choice(V, p=p[0]). Returns an int64 array of shape (length,)."""
    V = params["Wy"].shape[1]
    h, current, out = h0, int(seed_idx), []
    for _ in range(length):
        x = np.eye(V)[[current]]
        h, _ = rnn_step_forward(x, h, params["Wx"], params["Wh"], params["b"])
        p = _softmax((h @ params["Wy"] + params["by"]) / temperature)
        current = int(rng.choice(V, p=p[0]))
        out.append(current)
    return np.array(out, dtype=np.int64)
