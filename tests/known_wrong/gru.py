"""Known-wrong variants of lesson 05's graded functions."""
from __future__ import annotations

import numpy as np

from autograder.reference import gru as ref

from . import BOTH, HIDDEN, VISIBLE, Wrong  # noqa: F401  (HIDDEN, VISIBLE: for variants caught by one side only)

sigmoid = ref.sigmoid


# ---------------------------------------------------------------- gru_step_forward
def _step(x, prev_h, Wx, Wh, bx, bh, form="torch", order="rzn", swap_z=False):
    H = prev_h.shape[1]
    blocks = {k: slice(i * H, (i + 1) * H) for i, k in enumerate(order)}
    xp, hp = x @ Wx + bx, prev_h @ Wh + bh
    r = sigmoid(xp[:, blocks["r"]] + hp[:, blocks["r"]])
    z = sigmoid(xp[:, blocks["z"]] + hp[:, blocks["z"]])
    if form == "torch":
        n = np.tanh(xp[:, blocks["n"]] + r * hp[:, blocks["n"]])
    elif form == "before":  # (r * h) Wh_n + bh_n
        n = np.tanh(xp[:, blocks["n"]] + (r * prev_h) @ Wh[:, blocks["n"]] + bh[blocks["n"]])
    else:  # r * (h Wh_n) + bh_n
        n = np.tanh(xp[:, blocks["n"]] + r * (prev_h @ Wh[:, blocks["n"]]) + bh[blocks["n"]])
    next_h = z * n + (1 - z) * prev_h if swap_z else (1 - z) * n + z * prev_h
    return next_h, None


def step_z_swapped(*args):
    return _step(*args, swap_z=True)


def step_reset_before(*args):
    return _step(*args, form="before")


def step_bh_outside(*args):
    return _step(*args, form="outside")


def step_order_zrn(*args):
    return _step(*args, order="zrn")


# ---------------------------------------------------------------- gru_step_backward
F = ref.gru_step_forward


def _step_backward(dnext_h, cache, direct=True, r_on_hn=True, dz_sign=1.0, mean=False):
    x, prev_h, Wx, Wh, r, z, n, hn = cache
    dan = dnext_h * (1 - z) * (1 - n**2)
    dar = dan * hn * r * (1 - r)
    daz = dz_sign * dnext_h * (prev_h - n) * z * (1 - z)
    dgx = np.concatenate([dar, daz, dan], axis=1)
    dgh = np.concatenate([dar, daz, dan * r if r_on_hn else dan], axis=1)
    dprev_h = (dnext_h * z if direct else 0.0) + dgh @ Wh.T
    reduce = (lambda a: a.mean(axis=0)) if mean else (lambda a: a.sum(axis=0))
    return dgx @ Wx.T, dprev_h, x.T @ dgx, prev_h.T @ dgh, reduce(dgx), reduce(dgh)


def sb_no_direct_path(dnext_h, cache):
    return _step_backward(dnext_h, cache, direct=False)  # the z * dnext_h path into dprev_h missing


def sb_no_r_on_hn(dnext_h, cache):
    return _step_backward(dnext_h, cache, r_on_hn=False)  # dbh_n, dWh_n without the factor r


def sb_dz_sign(dnext_h, cache):
    return _step_backward(dnext_h, cache, dz_sign=-1.0)  # dL/dz = dnext_h * (n - prev_h)


def sb_bias_mean(dnext_h, cache):
    return _step_backward(dnext_h, cache, mean=True)


# ---------------------------------------------------------------- gru_forward
def _forward(x, h0, Wx, Wh, bx, bh, step=ref.gru_step_forward, carry=True):
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]))
    prev = h0
    for t in range(T):
        prev, _ = step(x[:, t], prev if carry else h0, Wx, Wh, bx, bh)
        h[:, t] = prev
    return h, None


def forward_z_swapped(*args):
    return _forward(*args, step=step_z_swapped)


def forward_reset_before(*args):
    return _forward(*args, step=step_reset_before)


def forward_no_carry(*args):
    return _forward(*args, carry=False)  # every step starts from h0


def forward_bh_outside(*args):
    return _forward(*args, step=step_bh_outside)


# ---------------------------------------------------------------- gru_backward
B = ref.gru_forward


def _backward(dh, cache, carry=True, overwrite=(), step=ref.gru_step_backward):
    N, T, H = dh.shape
    D = cache[0][0].shape[1]
    dx = np.zeros((N, T, D))
    g = {"dWx": np.zeros((D, 3 * H)), "dWh": np.zeros((H, 3 * H)), "dbx": np.zeros(3 * H), "dbh": np.zeros(3 * H)}
    dprev = np.zeros((N, H))
    for t in reversed(range(T)):
        dx_t, dprev_new, *grads = step(dh[:, t] + (dprev if carry else 0), cache[t])
        dx[:, t], dprev = dx_t, dprev_new
        for k, v in zip(g, grads):
            g[k] = v if k in overwrite else g[k] + v
    return dx, dprev, g["dWx"], g["dWh"], g["dbx"], g["dbh"]


def backward_no_carry(dh, cache):
    return _backward(dh, cache, carry=False)


def backward_overwrites_dWh(dh, cache):
    return _backward(dh, cache, overwrite=("dWh",))


def backward_overwrites_all(dh, cache):
    return _backward(dh, cache, overwrite=("dWx", "dWh", "dbx", "dbh"))


def backward_no_direct_path(dh, cache):
    return _backward(dh, cache, step=sb_no_direct_path)


VARIANTS: dict[str, list[Wrong]] = {
    "gru_step_forward": [
        Wrong("z_swapped", "h' = z * n + (1 - z) * h: the update gate's roles swapped", (step_z_swapped,), BOTH),
        Wrong("reset_before", "reset applied to h before the matmul: (r * h) Wh_n + bh_n", (step_reset_before,), BOTH),
        Wrong("bh_outside", "bh_n outside the reset product: r * (h Wh_n) + bh_n", (step_bh_outside,), BOTH),
        Wrong("order_zrn", "gate blocks read in the order z, r, n", (step_order_zrn,), BOTH),
    ],
    "gru_step_backward": [
        Wrong("no_direct_path", "the z * dnext_h path into dprev_h missing", (F, sb_no_direct_path), BOTH),
        Wrong("no_r_on_hn", "the n block of dWh, dbh not multiplied by r", (F, sb_no_r_on_hn), BOTH),
        Wrong("dz_sign", "dL/dz = dnext_h * (n - prev_h): sign flipped", (F, sb_dz_sign), BOTH),
        Wrong("bias_mean", "dbx, dbh averaged over the batch", (F, sb_bias_mean), BOTH),
    ],
    "gru_forward": [
        Wrong("z_swapped", "h' = z * n + (1 - z) * h at every step", (forward_z_swapped,), BOTH),
        Wrong("reset_before", "reset applied before the matmul at every step", (forward_reset_before,), BOTH),
        Wrong("bh_outside", "bh_n outside the reset product at every step", (forward_bh_outside,), BOTH),
        Wrong("no_carry", "every step starts from h0", (forward_no_carry,), BOTH),
    ],
    "gru_backward": [
        Wrong("no_carry", "the gradient carried from step t+1 dropped", (B, backward_no_carry), BOTH),
        Wrong("overwrites_dWh", "dWh = ... instead of dWh += ...", (B, backward_overwrites_dWh), BOTH),
        Wrong("overwrites_all", "= instead of += for every parameter gradient", (B, backward_overwrites_all), BOTH),
        Wrong("no_direct_path", "the z * dnext_h path into dprev_h missing at every step", (B, backward_no_direct_path), BOTH),
    ],
}

#: The correct functions, in each check's argument order.
CORRECT = {
    "gru_step_forward": (ref.gru_step_forward,),
    "gru_step_backward": (F, ref.gru_step_backward),
    "gru_forward": (ref.gru_forward,),
    "gru_backward": (B, ref.gru_backward),
}
