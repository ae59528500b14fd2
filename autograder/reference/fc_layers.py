"""Lesson 01 references: the fully connected layer, activations, loss, gradient check."""

from __future__ import annotations

import numpy as np


def affine_forward(x, W, b):
    """x (N, D) @ W (D, M) + b (M,) -> out (N, M)."""
    out = x @ W + b
    return out, (x, W)


def affine_backward(dout, cache):
    x, W = cache
    return dout @ W.T, x.T @ dout, dout.sum(axis=0)


def tanh_forward(x):
    out = np.tanh(x)
    return out, out


def tanh_backward(dout, cache):
    out = cache
    return dout * (1.0 - out**2)


def sigmoid_forward(x):
    # Stable for large |x|: exp is only ever taken of a non-positive number.
    z = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))
    return out, out


def sigmoid_backward(dout, cache):
    out = cache
    return dout * out * (1.0 - out)


def softmax_cross_entropy(scores, y):
    """Mean cross-entropy over N of softmax(scores) against integer labels y."""
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = scores.shape[0]
    loss = -log_probs[np.arange(n), y].mean()
    dscores = np.exp(log_probs)
    dscores[np.arange(n), y] -= 1.0
    return loss, dscores / n


def numerical_gradient(f, x, dout, h=1e-5):
    """Centred-difference gradient of sum(f(x) * dout) with respect to x; x is restored."""
    grad = np.zeros_like(x, dtype=np.float64)
    for index in np.ndindex(*x.shape):
        original = x[index]
        x[index] = original + h
        plus = np.sum(f(x) * dout)
        x[index] = original - h
        minus = np.sum(f(x) * dout)
        x[index] = original
        grad[index] = (plus - minus) / (2 * h)
    return grad


def fc_feedback_step(x, prev_h, W, b):
    """One FC layer fed its own previous output: tanh([x, prev_h] @ W + b).

    x (N, D), prev_h (N, H), W (D + H, H), b (H,) -> next_h (N, H). Splitting W into its
    first D rows (Wx) and last H rows (Wh) gives x @ Wx + prev_h @ Wh + b: the RNN step.
    """
    return np.tanh(np.concatenate([x, prev_h], axis=1) @ W + b)


def affine_gradients_autograd(x, W, b, dout):
    """dx, dW, db of the affine layer from torch autograd, as float64 NumPy arrays."""
    import torch

    x_t, W_t, b_t = (torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in (x, W, b))
    out = x_t @ W_t + b_t
    out.backward(torch.tensor(dout, dtype=torch.float64))
    return x_t.grad.numpy(), W_t.grad.numpy(), b_t.grad.numpy()
