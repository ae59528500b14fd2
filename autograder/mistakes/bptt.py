"""Known-wrong variants of lesson 03's graded functions, in the learner's form (functions of
dicts where the notebook's are): the checks' harnesses call them as they call the learner's.

The hidden checks name some of these mistakes by their hint when a learner's values match
(autograder.hidden.bptt.NAMED_MISTAKES): those hints are written to be read as hints, and the
visible checks' own messages contain them."""

from __future__ import annotations

import numpy as np

from autograder.reference import bptt as ref

from . import BOTH, HIDDEN, VISIBLE, Wrong  # noqa: F401  (HIDDEN, VISIBLE: for variants caught by one side only)

F, B = ref.rnn_step_forward, ref.rnn_forward


# ---------------------------------------------------------------- rnn_step_backward
def step_backward_tanh_of_preactivation(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    pre = x @ Wx + prev_h @ Wh
    da = dnext_h * (1 - pre**2)  # derivative taken from the pre-activation (and no b to hand)
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def step_backward_no_tanh_derivative(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def step_backward_Wh_not_transposed(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h**2)
    return da @ Wx.T, da @ Wh, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def step_backward_dWh_from_next_h(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h**2)
    return da @ Wx.T, da @ Wh.T, x.T @ da, next_h.T @ da, da.sum(axis=0)


def step_backward_db_mean(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h**2)
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.mean(axis=0)


# ---------------------------------------------------------------- rnn_backward
def _backward(dh, cache, carry=True, overwrite=False, reverse=True, skip_first=False):
    N, T, H = dh.shape
    D = cache[0][0].shape[1]
    dx = np.zeros((N, T, D))
    dWx, dWh, db = np.zeros((D, H)), np.zeros((H, H)), np.zeros(H)
    dprev = np.zeros((N, H))
    steps = reversed(range(T)) if reverse else range(T)
    for t in steps:
        if skip_first and t == 0:
            continue
        dx_t, dprev_new, gWx, gWh, gb = ref.rnn_step_backward(dh[:, t] + (dprev if carry else 0), cache[t])
        dx[:, t] = dx_t
        dprev = dprev_new
        if overwrite:
            dWx, dWh, db = gWx, gWh, gb
        else:
            dWx, dWh, db = dWx + gWx, dWh + gWh, db + gb
    return dx, dprev, dWx, dWh, db


def backward_no_carry(dh, cache):
    return _backward(dh, cache, carry=False)


def backward_overwrites_dWh(dh, cache):
    dx, dh0, dWx, _, db = _backward(dh, cache)
    _, _, _, dWh, _ = _backward(dh, cache, overwrite=True)  # `dWh = ...` instead of `dWh += ...`
    return dx, dh0, dWx, dWh, db


def backward_overwrites_all(dh, cache):
    return _backward(dh, cache, overwrite=True)


def backward_forward_in_time(dh, cache):
    return _backward(dh, cache, reverse=False)


def backward_skips_first_step(dh, cache):
    return _backward(dh, cache, skip_first=True)  # range(T - 1, 0, -1): step 0 never visited


def backward_last_dh_only(dh, cache):
    only_last = np.zeros_like(dh)
    only_last[:, -1] = dh[:, -1]
    return _backward(only_last, cache)  # treats the model as many-to-one


# ---------------------------------------------------------------- temporal_affine_backward
def _tab(dout, cache):
    x, W, b = cache
    N, T, H = x.shape
    return x, W, N, T, H, dout.reshape(N * T, -1)


def ta_backward_db_over_batch_only(dout, cache):
    x, W, N, T, H, d2 = _tab(dout, cache)
    return (d2 @ W.T).reshape(N, T, H), x.reshape(N * T, H).T @ d2, dout.sum(axis=0)


def ta_backward_dW_last_step(dout, cache):
    x, W, N, T, H, d2 = _tab(dout, cache)
    return (d2 @ W.T).reshape(N, T, H), x[:, -1].T @ dout[:, -1], d2.sum(axis=0)


def ta_backward_scrambled(dout, cache):
    x, W, N, T, H, d2 = _tab(dout, cache)
    scrambled = dout.transpose(1, 0, 2).reshape(N * T, -1)
    return (scrambled @ W.T).reshape(N, T, H), x.reshape(N * T, H).T @ d2, d2.sum(axis=0)


def ta_backward_mean(dout, cache):
    x, W, N, T, H, d2 = _tab(dout, cache)
    return (d2 @ W.T).reshape(N, T, H), x.reshape(N * T, H).T @ d2 / (N * T), d2.mean(axis=0)


def ta_backward_W_not_transposed(dout, cache):
    x, W, N, T, H, d2 = _tab(dout, cache)
    return (d2 @ W).reshape(N, T, H), x.reshape(N * T, H).T @ d2, d2.sum(axis=0)


# ---------------------------------------------------------------- temporal_softmax_loss
def _softmax_parts(scores, y):
    # Stable (log-sum-exp), so that each variant below shows its own mistake only.
    shifted = scores - scores.max(axis=2, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=2, keepdims=True))
    nll = -np.take_along_axis(log_p, y[..., None], axis=2)[..., 0]
    return np.exp(log_p), nll, np.eye(scores.shape[2])[y]


def loss_ignores_mask(scores, y, mask):
    p, nll, onehot = _softmax_parts(scores, y)
    N = scores.shape[0]
    return nll.sum() / N, (p - onehot) / N


def loss_mean_over_time(scores, y, mask):
    p, nll, onehot = _softmax_parts(scores, y)
    N, T, _ = scores.shape
    return np.sum(nll * mask) / (N * T), (p - onehot) * mask[..., None] / (N * T)


def loss_mask_in_loss_only(scores, y, mask):
    p, nll, onehot = _softmax_parts(scores, y)
    N = scores.shape[0]
    return np.sum(nll * mask) / N, (p - onehot) / N


def loss_no_max_shift(scores, y, mask):
    N, T, V = scores.shape
    e = np.exp(scores)
    p = e / e.sum(axis=2, keepdims=True)
    nll = -np.log(np.take_along_axis(p, y[..., None], axis=2)[..., 0])
    return np.sum(nll * mask) / N, (p - np.eye(V)[y]) * mask[..., None] / N


def loss_divides_by_unmasked(scores, y, mask):
    p, nll, onehot = _softmax_parts(scores, y)
    count = max(1, int(mask.sum()))
    return np.sum(nll * mask) / count, (p - onehot) * mask[..., None] / count


# ---------------------------------------------------------------- clip_gradients
def _norm(grads):
    return float(np.sqrt(sum(np.sum(g**2) for g in grads.values())))


def clip_elementwise(grads, max_norm):
    norm = _norm(grads)
    return {k: np.clip(g, -max_norm, max_norm) for k, g in grads.items()}, norm


def clip_norm_after(grads, max_norm):
    clipped, _ = ref.clip_gradients(grads, max_norm)
    return clipped, _norm(clipped)


def clip_per_array(grads, max_norm):
    norm = _norm(grads)
    return {k: g * min(1.0, max_norm / np.linalg.norm(g)) for k, g in grads.items()}, norm


def clip_always_rescales(grads, max_norm):
    norm = _norm(grads)
    return {k: g * max_norm / norm for k, g in grads.items()}, norm


def clip_squared_norm(grads, max_norm):
    norm = float(sum(np.sum(g**2) for g in grads.values()))
    scale = max_norm / norm if norm > max_norm else 1.0
    return {k: g * scale for k, g in grads.items()}, norm


# ---------------------------------------------------------------- char_rnn_loss
def char_loss_from_zeros(params, x_idx, y_idx, h_prev):
    return ref.char_rnn_loss(params, x_idx, y_idx, np.zeros_like(h_prev))


def char_loss_first_state(params, x_idx, y_idx, h_prev):
    loss, grads, _ = ref.char_rnn_loss(params, x_idx, y_idx, h_prev)
    h, _ = B(ref.one_hot(x_idx, params["Wy"].shape[1]), h_prev, params["Wx"], params["Wh"], params["b"])
    return loss, grads, h[:, 0]


def char_loss_targets_are_inputs(params, x_idx, y_idx, h_prev):
    return ref.char_rnn_loss(params, x_idx, x_idx, h_prev)


def char_loss_no_carry(params, x_idx, y_idx, h_prev):
    V = params["Wy"].shape[1]
    h, rnn_cache = B(ref.one_hot(x_idx, V), h_prev, params["Wx"], params["Wh"], params["b"])
    scores, affine_cache = ref.temporal_affine_forward(h, params["Wy"], params["by"])
    loss, dscores = ref.temporal_softmax_loss(scores, y_idx, np.ones(y_idx.shape, dtype=bool))
    dh, dWy, dby = ref.temporal_affine_backward(dscores, affine_cache)
    _, _, dWx, dWh, db = backward_no_carry(dh, rnn_cache)
    return loss, {"Wx": dWx, "Wh": dWh, "b": db, "Wy": dWy, "by": dby}, h[:, -1]


# ---------------------------------------------------------------- tbptt_step
def tbptt_resets_state(params, x, y, h_prev, lr, max_norm):
    return ref.tbptt_step(params, x, y, np.zeros_like(h_prev), lr, max_norm)  # hidden state reset every chunk


def tbptt_no_clipping(params, x, y, h_prev, lr, max_norm):
    loss, grads, h_last = ref.char_rnn_loss(params, x, y, h_prev)
    for k in params:
        params[k] -= lr * grads[k]
    return loss, h_last


def tbptt_ascent(params, x, y, h_prev, lr, max_norm):
    loss, grads, h_last = ref.char_rnn_loss(params, x, y, h_prev)
    grads, _ = ref.clip_gradients(grads, max_norm)
    for k in params:
        params[k] += lr * grads[k]
    return loss, h_last


def tbptt_rebinds_params(params, x, y, h_prev, lr, max_norm):
    loss, grads, h_last = ref.char_rnn_loss(params, x, y, h_prev)
    grads, _ = ref.clip_gradients(grads, max_norm)
    params = {k: params[k] - lr * grads[k] for k in params}  # a new dict: the caller's is unchanged
    return loss, h_last


def tbptt_loss_after_update(params, x, y, h_prev, lr, max_norm):
    _, h_last = ref.tbptt_step(params, x, y, h_prev, lr, max_norm)
    loss, _, _ = ref.char_rnn_loss(params, x, y, h_prev)
    return loss, h_last


# ---------------------------------------------------------------- sample
def _sample(params, seed_idx, h0, length, temperature, rng, how="divide", feed="sample", carry=True, shift=True):
    V = params["Wy"].shape[1]
    h, current, out = h0, int(seed_idx), []
    for _ in range(length):
        h = F(np.eye(V)[[current]], h if carry else h0, params["Wx"], params["Wh"], params["b"])[0]
        scores = h @ params["Wy"] + params["by"]
        if how == "divide":
            scores = scores / temperature
        elif how == "multiply":
            scores = scores * temperature
        if shift:
            scores = scores - scores.max()
        e = np.exp(scores)
        p = e / e.sum()
        if how == "after_softmax":
            p = p / temperature
            p = p / p.sum()
        drawn = int(rng.choice(V, p=p[0]))
        out.append(drawn)
        current = drawn if feed == "sample" else int(np.argmax(p))
    return np.array(out, dtype=np.int64)


def sample_ignores_temperature(*args):
    return _sample(*args, how="ignore")


def sample_temperature_after_softmax(*args):
    return _sample(*args, how="after_softmax")


def sample_multiplies_temperature(*args):
    return _sample(*args, how="multiply")


def sample_feeds_argmax(*args):
    return _sample(*args, feed="argmax")


def sample_resets_state(*args):
    return _sample(*args, carry=False)


def sample_no_max_shift(*args):
    return _sample(*args, shift=False)


def sample_includes_seed(params, seed_idx, h0, length, temperature, rng):
    return np.concatenate([[seed_idx], ref.sample(params, seed_idx, h0, length - 1, temperature, rng)]).astype(np.int64)


# ---------------------------------------------------------------- new kinds: in place, cache, dtype, stability, generality
def step_backward_scales_dnext_h(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    dnext_h *= 1 - next_h**2  # the caller's upstream gradient, overwritten
    da = dnext_h
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def step_backward_squares_cached_state(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    next_h **= 2  # the cache's next_h squared in place: a second call sees next_h**4
    da = dnext_h * (1 - next_h)
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def step_backward_sign_error(dnext_h, cache):
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (next_h**2 - 1)
    return da @ Wx.T, da @ Wh.T, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def step_backward_float32(dnext_h, cache):
    return tuple(g.astype(np.float32) for g in ref.rnn_step_backward(dnext_h, cache))


def backward_adds_into_dh(dh, cache):
    N, T, H = dh.shape
    D = cache[0][0].shape[1]
    dx, dWx, dWh, db = np.zeros((N, T, D)), np.zeros((D, H)), np.zeros((H, H)), np.zeros(H)
    dprev = np.zeros((N, H))
    for t in reversed(range(T)):
        dh[:, t] += dprev  # into the caller's dh
        dx[:, t], dprev, gWx, gWh, gb = ref.rnn_step_backward(dh[:, t], cache[t])
        dWx, dWh, db = dWx + gWx, dWh + gWh, db + gb
    return dx, dprev, dWx, dWh, db


def backward_reverses_cache(dh, cache):
    cache.reverse()  # the caller's list, reversed in place: a second call walks it the wrong way
    N, T, H = dh.shape
    D = cache[0][0].shape[1]
    dx, dWx, dWh, db = np.zeros((N, T, D)), np.zeros((D, H)), np.zeros((H, H)), np.zeros(H)
    dprev = np.zeros((N, H))
    for k, step_cache in enumerate(cache):
        t = T - 1 - k
        dx[:, t], dprev, gWx, gWh, gb = ref.rnn_step_backward(dh[:, t] + dprev, step_cache)
        dWx, dWh, db = dWx + gWx, dWh + gWh, db + gb
    return dx, dprev, dWx, dWh, db


def backward_subtracts_weight_grads(dh, cache):
    dx, dh0, dWx, dWh, db = ref.rnn_backward(dh, cache)
    return dx, dh0, -dWx, -dWh, -db  # dW -= dW_t


def backward_float32(dh, cache):
    dx, dh0, dWx, dWh, db = ref.rnn_backward(dh, cache)
    return dx.astype(np.float32), dh0, dWx, dWh, db


def ta_backward_float32(dout, cache):
    dx, dW, db = ref.temporal_affine_backward(dout, cache)
    return dx, dW.astype(np.float32), db


def loss_shifts_scores_in_place(scores, y, mask):
    scores -= scores.max(axis=2, keepdims=True)  # the caller's scores, changed
    return ref.temporal_softmax_loss(scores, y, mask)


def loss_one_max_for_the_batch(scores, y, mask):
    N, T, V = scores.shape
    e = np.exp(scores - scores.max())  # one max over every score of the batch
    p = e / e.sum(axis=2, keepdims=True)
    nll = -np.log(np.take_along_axis(p, y[..., None], axis=2)[..., 0])
    return np.sum(nll * mask) / N, (p - np.eye(V)[y]) * mask[..., None] / N


def loss_neg_log_softmax(scores, y, mask):
    N, T, V = scores.shape
    shifted = np.exp(scores - scores.max(axis=2, keepdims=True))
    p = shifted / shifted.sum(axis=2, keepdims=True)
    nll = -np.log(np.take_along_axis(p, y[..., None], axis=2)[..., 0])  # -log(0) = inf at a large margin
    return np.sum(nll * mask) / N, (p - np.eye(V)[y]) * mask[..., None] / N


def loss_mean_per_sequence(scores, y, mask):
    p, nll, onehot = _softmax_parts(scores, y)
    per_sequence = mask.sum(axis=1, keepdims=True)  # 0 for a fully masked sequence: 0 / 0
    N = scores.shape[0]
    return np.sum(nll * mask / per_sequence) / N * scores.shape[1], (p - onehot) * (mask / per_sequence)[
        ..., None
    ] / N * scores.shape[1]


def loss_float32_dscores(scores, y, mask):
    loss, dscores = ref.temporal_softmax_loss(scores, y, mask)
    return loss, dscores.astype(np.float32)


def clip_scales_in_place(grads, max_norm):
    norm = _norm(grads)
    if norm > max_norm:
        for g in grads.values():
            g *= max_norm / norm  # the caller's arrays, scaled
    return grads, norm


def clip_rebinds_entries(grads, max_norm):
    norm = _norm(grads)
    scale = max_norm / norm if norm > max_norm else 1.0
    for k in grads:
        grads[k] = grads[k] * scale  # new arrays, but in the caller's dict, which is returned
    return grads, norm


def clip_float32(grads, max_norm):
    clipped, norm = ref.clip_gradients(grads, max_norm)
    return {k: g.astype(np.float32) for k, g in clipped.items()}, norm


def char_loss_overwrites_h_prev(params, x_idx, y_idx, h_prev):
    loss, grads, h_last = ref.char_rnn_loss(params, x_idx, y_idx, h_prev)
    h_prev[:] = h_last  # "carry" the state by writing it into the caller's array
    return loss, grads, h_prev


def tbptt_overwrites_h_prev(params, x, y, h_prev, lr, max_norm):
    loss, h_last = ref.tbptt_step(params, x, y, h_prev.copy(), lr, max_norm)
    h_prev[:] = h_last
    return loss, h_prev


def tbptt_fixed_learning_rate(params, x, y, h_prev, lr, max_norm):
    return ref.tbptt_step(params, x, y, h_prev, 0.1, max_norm)  # learning_rate ignored: 0.1 as in the visible check


def tbptt_fixed_max_norm(params, x, y, h_prev, lr, max_norm):
    return ref.tbptt_step(params, x, y, h_prev, lr, 5.0)  # max_norm ignored


def sample_ignores_h0(params, seed_idx, h0, length, temperature, rng):
    return ref.sample(params, seed_idx, np.zeros_like(h0), length, temperature, rng)


def sample_float_indices(params, seed_idx, h0, length, temperature, rng):
    return ref.sample(params, seed_idx, h0, length, temperature, rng).astype(np.float64)  # np.zeros(length) filled in


def sample_state_into_h0(params, seed_idx, h0, length, temperature, rng):
    V = params["Wy"].shape[1]
    h, current, out = h0, int(seed_idx), []
    for _ in range(length):
        h[:] = F(np.eye(V)[[current]], h, params["Wx"], params["Wh"], params["b"])[0]  # writes into the caller's h0
        scores = (h @ params["Wy"] + params["by"])[0] / temperature
        p = np.exp(scores - scores.max())
        current = int(rng.choice(V, p=p / p.sum()))
        out.append(current)
    return np.array(out, dtype=np.int64)


VARIANTS: dict[str, list[Wrong]] = {
    "rnn_step_backward": [
        Wrong(
            "tanh_of_preactivation",
            "tanh's derivative taken from the pre-activation",
            (F, step_backward_tanh_of_preactivation),
            BOTH,
            hint="not its pre-activation",
        ),
        Wrong(
            "no_tanh_derivative",
            "tanh's derivative left out",
            (F, step_backward_no_tanh_derivative),
            BOTH,
            hint="multiply by tanh's derivative",
        ),
        Wrong(
            "Wh_not_transposed",
            "dprev_h = da @ Wh instead of da @ Wh.T",
            (F, step_backward_Wh_not_transposed),
            BOTH,
            hint="the gradient at tanh's input back through Wh transposed (da Wh^T, not da Wh)",
        ),
        Wrong(
            "dWh_from_next_h",
            "dWh = next_h.T @ da",
            (F, step_backward_dWh_from_next_h),
            BOTH,
            hint="dWh (H, H): the state that entered the step (prev_h, not next_h)",
        ),
        Wrong(
            "db_mean",
            "db averaged over the batch",
            (F, step_backward_db_mean),
            BOTH,
            hint="db sums over the batch, not a mean",
        ),
        Wrong(
            "sign_error",
            "da = dnext_h * (next_h**2 - 1)",
            (F, step_backward_sign_error),
            BOTH,
            hint="the sign is flipped",
        ),
        Wrong(
            "scales_dnext_h",
            "dnext_h *= ... overwrites the caller's upstream gradient",
            (F, step_backward_scales_dnext_h),
            BOTH,
            hint="dnext_h: dnext_h was left changed",
        ),
        Wrong(
            "squares_cached_state",
            "next_h **= 2 inside the backward: the cache changed",
            (F, step_backward_squares_cached_state),
            BOTH,
            hint="cache: cache was left changed",
        ),
        Wrong(
            "float32",
            "gradients returned as float32",
            (F, step_backward_float32),
            BOTH,
            hint="dx dtype: got ndarray of float32",
        ),
    ],
    "rnn_backward": [
        Wrong(
            "no_carry",
            "the gradient carried from step t+1 dropped",
            (B, backward_no_carry),
            BOTH,
            hint="carry the gradient across steps",
        ),
        Wrong(
            "overwrites_dWh",
            "dWh = ... instead of dWh += ...",
            (B, backward_overwrites_dWh),
            BOTH,
            hint="accumulate with +=, do not overwrite with =",
        ),
        Wrong(
            "overwrites_all",
            "= instead of += for every parameter gradient",
            (B, backward_overwrites_all),
            BOTH,
            hint="accumulate with +=, do not overwrite with =",
        ),
        Wrong(
            "forward_in_time",
            "steps visited from 0 to T-1",
            (B, backward_forward_in_time),
            BOTH,
            hint="walk t from T-1 down to 0",
        ),
        Wrong(
            "skips_first_step",
            "range(T - 1, 0, -1): step 0 never visited",
            (B, backward_skips_first_step),
            BOTH,
            hint="dh0 is the gradient the step at t = 0 passes back to its previous state",
        ),
        Wrong(
            "last_dh_only",
            "only dh[:, -1] used (many-to-one)",
            (B, backward_last_dh_only),
            BOTH,
            hint="step t's backward gets dh[:, t] plus the gradient carried from step t+1",
        ),
        Wrong(
            "subtracts_weight_grads",
            "dW -= dW_t: the weight gradients negated",
            (B, backward_subtracts_weight_grads),
            BOTH,
            hint="the sign is flipped",
        ),
        Wrong(
            "adds_into_dh",
            "dh[:, t] += dprev_h into the caller's dh",
            (B, backward_adds_into_dh),
            BOTH,
            hint="dh: dh was left changed",
        ),
        Wrong(
            "reverses_cache",
            "cache.reverse(): the caller's cache changed",
            (B, backward_reverses_cache),
            BOTH,
            hint="cache: cache was left changed",
        ),
        Wrong(
            "float32", "dx allocated as float32", (B, backward_float32), BOTH, hint="dx dtype: got ndarray of float32"
        ),
    ],
    "temporal_affine_backward": [
        Wrong(
            "db_over_batch_only",
            "db summed over axis 0 only",
            (ref.temporal_affine_forward, ta_backward_db_over_batch_only),
            BOTH,
            hint="db sums over both the batch and the time axes",
        ),
        Wrong(
            "dW_last_step",
            "dW from the last step only",
            (ref.temporal_affine_forward, ta_backward_dW_last_step),
            BOTH,
            hint="include all T steps",
        ),
        Wrong(
            "scrambled",
            "axes swapped before the reshape of dout",
            (ref.temporal_affine_forward, ta_backward_scrambled),
            BOTH,
            hint="swapping axes first scrambles the rows",
        ),
        Wrong(
            "mean",
            "dW and db averaged over N * T",
            (ref.temporal_affine_forward, ta_backward_mean),
            BOTH,
            hint="sums over examples and steps, not means",
        ),
        Wrong(
            "W_not_transposed",
            "dx = dout @ W (crashes unless H == M)",
            (ref.temporal_affine_forward, ta_backward_W_not_transposed),
            BOTH,
            hint="matmul: Input operand 1 has a mismatch",
        ),
        Wrong(
            "float32",
            "dW returned as float32",
            (ref.temporal_affine_forward, ta_backward_float32),
            BOTH,
            hint="dW dtype: got ndarray of float32",
        ),
    ],
    "temporal_softmax_loss": [
        Wrong(
            "ignores_mask",
            "the mask ignored",
            (loss_ignores_mask,),
            BOTH,
            hint="steps where mask is False do not count",
        ),
        Wrong(
            "mean_over_time",
            "mean over time (divided by N * T) instead of sum",
            (loss_mean_over_time,),
            BOTH,
            hint="not over N * T",
        ),
        Wrong(
            "mask_in_loss_only",
            "mask applied to the loss but not to dx",
            (loss_mask_in_loss_only,),
            BOTH,
            hint="masked steps get zero gradient",
        ),
        Wrong(
            "no_max_shift",
            "np.exp of raw scores (overflows at +1000)",
            (loss_no_max_shift,),
            BOTH,
            hint="np.exp overflows at large scores",
        ),
        Wrong(
            "divides_by_unmasked",
            "divided by the number of unmasked steps",
            (loss_divides_by_unmasked,),
            BOTH,
            hint="divide by N, not by the number of unmasked steps",
        ),
        Wrong(
            "one_max_for_the_batch",
            "scores - scores.max(): one max over the whole batch",
            (loss_one_max_for_the_batch,),
            BOTH,
            hint="not one max for the whole batch",
        ),
        Wrong(
            "neg_log_softmax",
            "-log(softmax): inf when a wrong class has a large margin",
            (loss_neg_log_softmax,),
            BOTH,
            hint="-log of a softmax that underflowed to 0 is inf",
        ),
        Wrong(
            "mean_per_sequence",
            "each sequence divided by its own count of unmasked steps",
            (loss_mean_per_sequence,),
            BOTH,
            hint="a sequence or a step whose mask is all False contributes 0",
        ),
        Wrong(
            "shifts_scores_in_place",
            "scores -= scores.max(...) changes the caller's scores",
            (loss_shifts_scores_in_place,),
            BOTH,
            hint="scores: scores was left changed",
        ),
        Wrong(
            "float32_dscores",
            "dscores returned as float32",
            (loss_float32_dscores,),
            BOTH,
            hint="dscores dtype: got ndarray of float32",
        ),
    ],
    "clip_gradients": [
        Wrong(
            "elementwise",
            "clipping per element (np.clip) instead of by the global norm",
            (clip_elementwise,),
            BOTH,
            hint="do not clip entries one by one",
        ),
        Wrong(
            "norm_after",
            "norm returned after clipping",
            (clip_norm_after,),
            BOTH,
            hint="return the norm measured before clipping",
        ),
        Wrong(
            "per_array",
            "each array clipped by its own norm",
            (clip_per_array,),
            BOTH,
            hint="not each array by its own norm",
        ),
        Wrong(
            "always_rescales",
            "rescaled to max_norm even when the norm is below it",
            (clip_always_rescales,),
            BOTH,
            hint="the global norm is below max_norm here: return the gradients unchanged",
        ),
        Wrong(
            "squared_norm",
            "squared norm (no square root)",
            (clip_squared_norm,),
            BOTH,
            hint="the norm is the square root of the sum of squares",
        ),
        Wrong(
            "scales_in_place",
            "the caller's arrays scaled in place and the dict returned",
            (clip_scales_in_place,),
            BOTH,
            hint="grads[0]: grads[0] was left changed",
        ),
        Wrong(
            "rebinds_entries",
            "new arrays put into the caller's dict, which is returned",
            (clip_rebinds_entries,),
            BOTH,
            hint="new dict: returned the grads dict itself",
        ),
        Wrong(
            "float32", "clipped arrays as float32", (clip_float32,), BOTH, hint="grads[0] dtype: got ndarray of float32"
        ),
    ],
    "char_rnn_loss": [
        Wrong(
            "from_zeros",
            "h_prev ignored: the RNN starts from zeros",
            (char_loss_from_zeros,),
            BOTH,
            hint="start the RNN from h_prev, not from zeros",
        ),
        Wrong(
            "first_state",
            "h[:, 0] returned instead of h[:, -1]",
            (char_loss_first_state,),
            BOTH,
            hint="h_last is the state after the last step",
        ),
        Wrong(
            "targets_are_inputs",
            "the loss scored against the inputs, not the targets",
            (char_loss_targets_are_inputs,),
            BOTH,
            hint="not with x_idx",
        ),
        Wrong(
            "no_carry",
            "rnn_backward without the carried gradient",
            (char_loss_no_carry,),
            BOTH,
            hint="rnn_backward must carry the gradient across steps",
        ),
        Wrong(
            "overwrites_h_prev",
            "h_prev[:] = h_last: the caller's state changed",
            (char_loss_overwrites_h_prev,),
            BOTH,
            hint="h_prev: h_prev was left changed",
        ),
    ],
    "tbptt_step": [
        Wrong(
            "resets_state",
            "hidden state reset between chunks",
            (tbptt_resets_state,),
            BOTH,
            hint="start each chunk from h_prev",
        ),
        Wrong("no_clipping", "gradients not clipped", (tbptt_no_clipping,), BOTH, hint="clip the gradients"),
        Wrong(
            "ascent", "params += lr * grad", (tbptt_ascent,), BOTH, hint="descend: subtract learning_rate * gradient"
        ),
        Wrong(
            "rebinds_params",
            "a new dict built: the caller's params never change",
            (tbptt_rebinds_params,),
            BOTH,
            hint="update the arrays in params",
        ),
        Wrong(
            "loss_after_update",
            "loss reported after the update",
            (tbptt_loss_after_update,),
            BOTH,
            hint="return the loss computed before the update",
        ),
        Wrong(
            "overwrites_h_prev",
            "h_prev[:] = h_last: the caller's state changed",
            (tbptt_overwrites_h_prev,),
            BOTH,
            hint="h_prev 0: h_prev 0 was left changed",
        ),
        Wrong(
            "fixed_learning_rate",
            "learning_rate ignored (0.1)",
            (tbptt_fixed_learning_rate,),
            HIDDEN,
            hint="-= learning_rate * (its clipped gradient)",
        ),
        Wrong("fixed_max_norm", "max_norm ignored (5.0)", (tbptt_fixed_max_norm,), BOTH, hint="clip the gradients"),
    ],
    "sample": [
        Wrong(
            "ignores_temperature",
            "temperature ignored",
            (sample_ignores_temperature,),
            BOTH,
            hint="divide the scores by the temperature before the softmax",
        ),
        Wrong(
            "after_softmax",
            "temperature applied to the probabilities after the softmax",
            (sample_temperature_after_softmax,),
            BOTH,
            hint="divide the scores by the temperature before the softmax",
        ),
        Wrong(
            "multiplies",
            "scores multiplied by the temperature",
            (sample_multiplies_temperature,),
            BOTH,
            hint="divide the scores by the temperature (not multiply)",
        ),
        Wrong(
            "feeds_argmax",
            "the most likely character fed back instead of the sample",
            (sample_feeds_argmax,),
            BOTH,
            hint="feed the sampled character back as the next input, not the most likely one",
        ),
        Wrong(
            "resets_state",
            "h0 used at every step",
            (sample_resets_state,),
            BOTH,
            hint="carry the hidden state from step to step: each step starts from the state the previous one returned",
        ),
        Wrong(
            "no_max_shift",
            "no max subtracted: overflows at a tiny temperature",
            (sample_no_max_shift,),
            BOTH,
            hint="np.exp overflows at a tiny temperature",
        ),
        Wrong(
            "includes_seed",
            "the seed character returned as the first sample",
            (sample_includes_seed,),
            BOTH,
            hint="return the generated characters only, not the seed character first",
        ),
        Wrong(
            "ignores_h0",
            "the state argument ignored: starts from zeros",
            (sample_ignores_h0,),
            BOTH,
            hint="start from the given state h0, not from zeros",
        ),
        Wrong(
            "float_indices",
            "indices returned as floats",
            (sample_float_indices,),
            BOTH,
            hint="expected an integer array",
        ),
        Wrong(
            "state_into_h0",
            "h[:] = ... with h = h0: the caller's h0 overwritten",
            (sample_state_into_h0,),
            BOTH,
            hint="h0: h0 was left changed",
        ),
    ],
}

#: The correct functions, in each check's argument order.
CORRECT = {
    "rnn_step_backward": (F, ref.rnn_step_backward),
    "rnn_backward": (B, ref.rnn_backward),
    "temporal_affine_backward": (ref.temporal_affine_forward, ref.temporal_affine_backward),
    "temporal_softmax_loss": (ref.temporal_softmax_loss,),
    "clip_gradients": (ref.clip_gradients,),
    "char_rnn_loss": (ref.char_rnn_loss,),
    "tbptt_step": (ref.tbptt_step,),
    "sample": (ref.sample,),
}
