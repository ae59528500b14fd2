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
    hn = hp[:, blocks["n"]]
    if form == "torch":
        n = np.tanh(xp[:, blocks["n"]] + r * hn)
    elif form == "before":  # (r * h) Wh_n + bh_n
        n = np.tanh(xp[:, blocks["n"]] + (r * prev_h) @ Wh[:, blocks["n"]] + bh[blocks["n"]])
    else:  # r * (h Wh_n) + bh_n
        n = np.tanh(xp[:, blocks["n"]] + r * (prev_h @ Wh[:, blocks["n"]]) + bh[blocks["n"]])
    next_h = z * n + (1 - z) * prev_h if swap_z else (1 - z) * n + z * prev_h
    return next_h, (x, prev_h, Wx, Wh, r, z, n, hn)


def step_z_swapped(*args):
    return _step(*args, swap_z=True)


def step_reset_before(*args):
    return _step(*args, form="before")


def step_bh_outside(*args):
    return _step(*args, form="outside")


def step_order_zrn(*args):
    return _step(*args, order="zrn")


def step_squeezes(*args):
    next_h, cache = ref.gru_step_forward(*args)
    return np.squeeze(next_h), cache  # right while N and H both exceed 1


def step_bh_only_in_n(x, prev_h, Wx, Wh, bx, bh):
    H = prev_h.shape[1]
    return ref.gru_step_forward(
        x, prev_h, Wx, Wh, bx, np.concatenate([np.zeros(2 * H), bh[2 * H :]])
    )  # bh_r, bh_z left out


def step_updates_prev_h_in_place(x, prev_h, Wx, Wh, bx, bh):
    _, (x, _, Wx, Wh, r, z, n, hn) = ref.gru_step_forward(x, prev_h, Wx, Wh, bx, bh)
    cache = (x, prev_h.copy(), Wx, Wh, r, z, n, hn)
    h = prev_h  # the caller's array
    h *= z
    h += (1 - z) * n
    return h, cache


def step_caches_hn_without_bh(x, prev_h, Wx, Wh, bx, bh):
    next_h, cache = ref.gru_step_forward(x, prev_h, Wx, Wh, bx, bh)
    H = prev_h.shape[1]
    return next_h, cache[:7] + (prev_h @ Wh[:, 2 * H :],)  # hn without bh_n


def step_caches_reset_hn(x, prev_h, Wx, Wh, bx, bh):
    next_h, cache = ref.gru_step_forward(x, prev_h, Wx, Wh, bx, bh)
    return next_h, cache[:7] + (cache[4] * cache[7],)  # r * hn where hn belongs


def step_cache_as_list(x, prev_h, Wx, Wh, bx, bh):
    next_h, cache = ref.gru_step_forward(x, prev_h, Wx, Wh, bx, bh)
    return next_h, {"x": x, "prev_h": prev_h, "r": cache[4], "z": cache[5], "n": cache[6], "hn": cache[7]}


def step_float32(*args):
    return ref.gru_step_forward(*(a.astype(np.float32) for a in args))


def step_exp_sigmoid(x, prev_h, Wx, Wh, bx, bh):
    H = prev_h.shape[1]
    xp, hp = x @ Wx + bx, prev_h @ Wh + bh
    s = np.exp(xp[:, : 2 * H] + hp[:, : 2 * H])
    r, z = np.split(s / (1 + s), 2, axis=1)  # inf / inf for a large pre-activation
    hn = hp[:, 2 * H :]
    n = np.tanh(xp[:, 2 * H :] + r * hn)
    return (1 - z) * n + z * prev_h, (x, prev_h, Wx, Wh, r, z, n, hn)


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


def sb_scales_dnext_h_in_place(dnext_h, cache):
    x, prev_h, Wx, Wh, r, z, n, hn = cache
    direct = dnext_h * z
    dn = dnext_h
    dn *= 1 - z  # writes into the caller's dnext_h
    dan = dn * (1 - n**2)
    dar, daz = dan * hn * r * (1 - r), (direct / z) * (prev_h - n) * z * (1 - z)
    dgx, dgh = np.concatenate([dar, daz, dan], axis=1), np.concatenate([dar, daz, dan * r], axis=1)
    return dgx @ Wx.T, direct + dgh @ Wh.T, x.T @ dgx, prev_h.T @ dgh, dgx.sum(axis=0), dgh.sum(axis=0)


def sb_scales_cache_in_place(dnext_h, cache):
    x, prev_h, Wx, Wh, r, z, n, hn = cache
    rhn = hn
    rhn *= r  # the cache's hn becomes r * hn: a second call differs
    grads = _step_backward(dnext_h, (x, prev_h, Wx, Wh, r, z, n, rhn / r))
    return grads


def sb_float32(dnext_h, cache):
    return tuple(g.astype(np.float32) for g in ref.gru_step_backward(dnext_h, cache))


# ---------------------------------------------------------------- gru_forward
def _forward(x, h0, Wx, Wh, bx, bh, step=ref.gru_step_forward, carry=True):
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]))
    prev, cache = h0, []
    for t in range(T):
        prev, step_cache = step(x[:, t], prev if carry else h0, Wx, Wh, bx, bh)
        h[:, t] = prev
        cache.append(step_cache)
    return h, cache


def forward_z_swapped(*args):
    return _forward(*args, step=step_z_swapped)


def forward_reset_before(*args):
    return _forward(*args, step=step_reset_before)


def forward_no_carry(*args):
    return _forward(*args, carry=False)  # every step starts from h0


def forward_bh_outside(*args):
    return _forward(*args, step=step_bh_outside)


def forward_exp_sigmoid(*args):
    return _forward(*args, step=step_exp_sigmoid)


def forward_float32_h(x, h0, Wx, Wh, bx, bh):
    h, cache = ref.gru_forward(x, h0, Wx, Wh, bx, bh)
    return h.astype(np.float32), cache


def forward_one_state_array(x, h0, Wx, Wh, bx, bh):
    N, T, _ = x.shape
    h, state, cache = np.zeros((N, T, h0.shape[1])), h0.copy(), []
    for t in range(T):
        next_h, step = ref.gru_step_forward(x[:, t], state.copy(), Wx, Wh, bx, bh)
        cache.append((step[0], state) + step[2:])  # every cache holds the one state array
        state[:] = next_h
        h[:, t] = next_h
    return h, cache


def forward_caches_reset_hn(*args):
    return _forward(*args, step=step_caches_reset_hn)


def forward_updates_h0_in_place(x, h0, Wx, Wh, bx, bh):
    N, T, _ = x.shape
    h, state, cache = np.zeros((N, T, h0.shape[1])), h0, []
    for t in range(T):
        next_h, step = ref.gru_step_forward(x[:, t], state.copy(), Wx, Wh, bx, bh)
        state[:] = next_h  # state is h0 itself: the caller's h0 is overwritten
        cache.append(step)
        h[:, t] = next_h
    return h, cache


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


def backward_adds_into_dh(dh, cache):
    N, T, H = dh.shape
    dx, dprev, total = np.zeros((N, T, cache[0][0].shape[1])), np.zeros((N, H)), None
    for t in reversed(range(T)):
        dh[:, t] += dprev  # writes into the caller's dh
        dx[:, t], dprev, *grads = ref.gru_step_backward(dh[:, t], cache[t])
        total = grads if total is None else [a + b for a, b in zip(total, grads)]
    return (dx, dprev, *total)


def backward_float32(dh, cache):
    return tuple(g.astype(np.float32) for g in ref.gru_backward(dh, cache))


def backward_last_step_only(dh, cache):
    last = np.zeros_like(dh)
    last[:, -1] = dh[:, -1]  # as if only the last state had a loss (many-to-one)
    return ref.gru_backward(last, cache)


OVERFLOW = "exp overflow"
FLOAT64 = "float64 expected"

# fmt: off
# The catalog is a table, one known mistake a line or two: kept as written.
VARIANTS: dict[str, list[Wrong]] = {
    "gru_step_forward": [
        Wrong("z_swapped", "h' = z * n + (1 - z) * h: the update gate's roles swapped", (step_z_swapped,), BOTH,
              hint="z keeps the old state"),
        Wrong("reset_before", "reset applied to h before the matmul: (r * h) Wh_n + bh_n", (step_reset_before,), BOTH,
              hint="applies the reset after the matmul"),
        Wrong("bh_outside", "bh_n outside the reset product: r * (h Wh_n) + bh_n", (step_bh_outside,), BOTH,
              hint="bh_n sits inside the reset product"),
        Wrong("order_zrn", "gate blocks read in the order z, r, n", (step_order_zrn,), BOTH, hint="stacked r, z, n"),
        Wrong("prev_h_in_place", "h = prev_h; h *= z; h += ...: the caller's prev_h overwritten",
              (step_updates_prev_h_in_place,),
              BOTH, hint="prev_h left changed"),
        Wrong("caches_hn_without_bh", "the cache's hn lacks bh_n", (step_caches_hn_without_bh,), BOTH,
              hint="it includes bh_n"),
        Wrong("caches_reset_hn", "the cache holds r * hn for hn", (step_caches_reset_hn,), BOTH,
              hint="before the reset gate multiplies it"),
        Wrong("cache_dict", "the cache as a dict, not the documented tuple", (step_cache_as_list,), BOTH,
              hint="expected the tuple (x, prev_h, Wx, Wh, r, z, n, hn)"),
        Wrong("float32", "computed in float32", (step_float32,), BOTH, hint=FLOAT64),
        Wrong("exp_sigmoid", "sigmoid written exp(a) / (1 + exp(a)): nan for large a", (step_exp_sigmoid,), BOTH,
              hint=OVERFLOW),
        Wrong("squeezes", "np.squeeze(next_h): the batch axis dropped when N = 1", (step_squeezes,), HIDDEN,
              hint="the documented shape"),
        Wrong("bh_only_in_n", "bh used in the n block only: r and z without bh_r, bh_z", (step_bh_only_in_n,), BOTH,
              hint="x Wx + bx + h Wh + bh"),
    ],
    "gru_step_backward": [
        Wrong("no_direct_path", "the z * dnext_h path into dprev_h missing", (F, sb_no_direct_path), BOTH,
              hint="prev_h reaches next_h twice"),
        Wrong("no_r_on_hn", "the n block of dWh, dbh not multiplied by r", (F, sb_no_r_on_hn), BOTH,
              hint="inside the reset product"),
        Wrong("dz_sign", "dL/dz = dnext_h * (n - prev_h): sign flipped", (F, sb_dz_sign), BOTH,
              hint="the z block is wrong"),
        Wrong("bias_mean", "dbx, dbh averaged over the batch", (F, sb_bias_mean), BOTH, hint="over the batch axis 0"),
        Wrong("scales_dnext_h_in_place", "dn = dnext_h; dn *= 1 - z: the caller's dnext_h changed",
              (F, sb_scales_dnext_h_in_place), BOTH, hint="dnext_h left changed"),
        Wrong("scales_cache_in_place", "hn *= r on the cache's array", (F, sb_scales_cache_in_place), BOTH,
              hint="changed its cache"),
        Wrong("float32", "gradients returned as float32", (F, sb_float32), BOTH, hint=FLOAT64),
    ],
    "gru_forward": [
        Wrong("z_swapped", "h' = z * n + (1 - z) * h at every step", (forward_z_swapped,), BOTH,
              hint="z keeps the old state"),
        Wrong("reset_before", "reset applied before the matmul at every step", (forward_reset_before,), BOTH,
              hint="applies the reset after the matmul"),
        Wrong("bh_outside", "bh_n outside the reset product at every step", (forward_bh_outside,), BOTH,
              hint="bh_n sits inside the reset product"),
        Wrong("no_carry", "every step starts from h0", (forward_no_carry,), BOTH, hint="carry the state"),
        Wrong("exp_sigmoid", "sigmoid written exp(a) / (1 + exp(a)): nan for large a", (forward_exp_sigmoid,), BOTH,
              hint=OVERFLOW),
        Wrong("float32_h", "h returned as float32", (forward_float32_h,), BOTH, hint=FLOAT64),
        Wrong("h0_in_place", "the state array is h0 itself, updated in place", (forward_updates_h0_in_place,), BOTH,
              hint="h0 left changed"),
        # Sequence caches are lists of step caches; the record carries them, so both checks catch these.
        Wrong("one_state_array", "one state array updated in place: every step cache holds it",
              (forward_one_state_array,),
              BOTH, hint="every step's cache holds the same prev_h array"),
        Wrong("caches_reset_hn", "every step cache holds r * hn for hn", (forward_caches_reset_hn,), BOTH,
              hint="before the reset gate multiplies it"),
    ],
    "gru_backward": [
        Wrong("no_carry", "the gradient carried from step t+1 dropped", (B, backward_no_carry), BOTH,
              hint="carry the gradient across steps"),
        Wrong("overwrites_dWh", "dWh = ... instead of dWh += ...", (B, backward_overwrites_dWh), BOTH,
              hint="do not overwrite"),
        Wrong("overwrites_all", "= instead of += for every parameter gradient", (B, backward_overwrites_all), BOTH,
              hint="do not overwrite"),
        Wrong("no_direct_path", "the z * dnext_h path into dprev_h missing at every step",
              (B, backward_no_direct_path), BOTH,
              hint="misses the direct path"),
        Wrong("adds_into_dh", "dh[:, t] += dprev writes into the caller's dh", (B, backward_adds_into_dh), BOTH,
              hint="dh left changed"),
        Wrong("float32", "gradients returned as float32", (B, backward_float32), BOTH, hint=FLOAT64),
        Wrong("last_step_only", "only dh[:, -1] used, as if many-to-one", (B, backward_last_step_only), BOTH,
              hint="dh[:, t]"),
    ],
}

#: The correct functions, in each check's argument order.
CORRECT = {
    "gru_step_forward": (ref.gru_step_forward,),
    "gru_step_backward": (F, ref.gru_step_backward),
    "gru_forward": (ref.gru_forward,),
    "gru_backward": (B, ref.gru_backward),
}
# fmt: on
