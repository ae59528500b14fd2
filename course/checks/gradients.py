"""Centred-difference gradients: the oracle that needs no framework at all.

For a function ``f`` and an upstream gradient ``dout`` shaped like ``f(x)``, the
gradient of ``sum(f(x) * dout)`` with respect to ``x`` at entry ``i`` is approximately

    (sum(f(x + h e_i) * dout) - sum(f(x - h e_i) * dout)) / (2 h)

with an error of order h**2 (a one-sided difference is only of order h).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def centred_difference(
    f: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    dout,
    *,
    h: float = 1e-5,
    batch_axes: int = 0,
) -> np.ndarray:
    """Numerical gradient of ``sum(f(x) * dout)`` with respect to ``x``.

    ``h`` and ``batch_axes`` are keyword-only: this is the oracle behind later lessons'
    checks, and lesson 01 asks the learner to write ``numerical_gradient(f, x, dout, h)``
    themselves, so this function must not stand in for that one.

    ``x`` is perturbed in place and always restored, even if ``f`` raises, so the
    caller's array is left exactly as it was.

    Vectorised where the structure allows it: with ``batch_axes=k``, ``f`` must act
    independently along the first k axes of ``x`` (output[n] depends on x[n] only,
    and the output has the same leading axes), and then every entry along those axes
    is perturbed at once. ``batch_axes=x.ndim`` suits elementwise functions and costs
    two calls of ``f`` in total; the default 0 perturbs one entry at a time.
    """
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        raise TypeError("centred_difference needs x as a float64 NumPy array")
    dout = np.asarray(dout, dtype=np.float64)
    batch_shape = x.shape[:batch_axes]
    grad = np.zeros_like(x)
    # Iterate over the entries of one batch element; slicing with `...` on the left
    # perturbs that entry in every batch element together.
    for index in np.ndindex(*x.shape[batch_axes:]):
        where = (Ellipsis,) + index if batch_axes else index
        original = x[where].copy()
        try:
            x[where] = original + h
            plus = np.asarray(f(x), dtype=np.float64) * dout
            x[where] = original - h
            minus = np.asarray(f(x), dtype=np.float64) * dout
        finally:
            x[where] = original
        diff = plus - minus
        # Sum over everything but the batch axes: one derivative per batch element.
        per_batch = diff.reshape(batch_shape + (-1,)).sum(axis=-1) if batch_axes else diff.sum()
        grad[where] = per_batch / (2 * h)
    return grad


def numeric_gradients(f: Callable[..., np.ndarray], inputs: dict, dout, h: float = 1e-5) -> dict:
    """Centred differences of ``sum(f(**inputs) * dout)`` with respect to every input."""
    return {
        name: centred_difference(lambda value, name=name: f(**{**inputs, name: value}), inputs[name].copy(), dout, h=h)
        for name in inputs
    }
