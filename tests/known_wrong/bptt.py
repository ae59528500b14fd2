"""Known-wrong variants of lesson 03's graded functions."""
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
def _softmax_parts(x, y):
    shifted = x - x.max(axis=2, keepdims=True)
    p = np.exp(shifted) / np.exp(shifted).sum(axis=2, keepdims=True)
    nll = -np.log(np.take_along_axis(p, y[..., None], axis=2)[..., 0])
    return p, nll, np.eye(x.shape[2])[y]


def loss_ignores_mask(x, y, mask):
    p, nll, onehot = _softmax_parts(x, y)
    N = x.shape[0]
    return nll.sum() / N, (p - onehot) / N


def loss_mean_over_time(x, y, mask):
    p, nll, onehot = _softmax_parts(x, y)
    N, T, _ = x.shape
    return np.sum(nll * mask) / (N * T), (p - onehot) * mask[..., None] / (N * T)


def loss_mask_in_loss_only(x, y, mask):
    p, nll, onehot = _softmax_parts(x, y)
    N = x.shape[0]
    return np.sum(nll * mask) / N, (p - onehot) / N


def loss_no_max_shift(x, y, mask):
    N, T, V = x.shape
    e = np.exp(x)
    p = e / e.sum(axis=2, keepdims=True)
    nll = -np.log(np.take_along_axis(p, y[..., None], axis=2)[..., 0])
    return np.sum(nll * mask) / N, (p - np.eye(V)[y]) * mask[..., None] / N


def loss_divides_by_unmasked(x, y, mask):
    p, nll, onehot = _softmax_parts(x, y)
    count = max(1, int(mask.sum()))
    return np.sum(nll * mask) / count, (p - onehot) * mask[..., None] / count


# ---------------------------------------------------------------- clip_gradients
def clip_elementwise(grads, max_norm):
    norm = float(np.sqrt(sum(np.sum(g**2) for g in grads.values())))
    return {k: np.clip(g, -max_norm, max_norm) for k, g in grads.items()}, norm


def clip_norm_after(grads, max_norm):
    clipped, _ = ref.clip_gradients(grads, max_norm)
    return clipped, float(np.sqrt(sum(np.sum(g**2) for g in clipped.values())))


def clip_per_array(grads, max_norm):
    norm = float(np.sqrt(sum(np.sum(g**2) for g in grads.values())))
    return {k: g * min(1.0, max_norm / np.linalg.norm(g)) for k, g in grads.items()}, norm


def clip_always_rescales(grads, max_norm):
    norm = float(np.sqrt(sum(np.sum(g**2) for g in grads.values())))
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


VARIANTS: dict[str, list[Wrong]] = {
    "rnn_step_backward": [
        Wrong("tanh_of_preactivation", "tanh's derivative taken from the pre-activation", (F, step_backward_tanh_of_preactivation), BOTH),
        Wrong("no_tanh_derivative", "tanh's derivative left out", (F, step_backward_no_tanh_derivative), BOTH),
        Wrong("Wh_not_transposed", "dprev_h = da @ Wh instead of da @ Wh.T", (F, step_backward_Wh_not_transposed), BOTH),
        Wrong("dWh_from_next_h", "dWh = next_h.T @ da", (F, step_backward_dWh_from_next_h), BOTH),
        Wrong("db_mean", "db averaged over the batch", (F, step_backward_db_mean), BOTH),
    ],
    "rnn_backward": [
        Wrong("no_carry", "the gradient carried from step t+1 dropped", (B, backward_no_carry), BOTH),
        Wrong("overwrites_dWh", "dWh = ... instead of dWh += ...", (B, backward_overwrites_dWh), BOTH),
        Wrong("overwrites_all", "= instead of += for every parameter gradient", (B, backward_overwrites_all), BOTH),
        Wrong("forward_in_time", "steps visited from 0 to T-1", (B, backward_forward_in_time), BOTH),
        Wrong("skips_first_step", "range(T - 1, 0, -1): step 0 never visited", (B, backward_skips_first_step), BOTH),
        Wrong("last_dh_only", "only dh[:, -1] used (many-to-one)", (B, backward_last_dh_only), BOTH),
    ],
    "temporal_affine_backward": [
        Wrong("db_over_batch_only", "db summed over axis 0 only", (ref.temporal_affine_forward, ta_backward_db_over_batch_only), BOTH),
        Wrong("dW_last_step", "dW from the last step only", (ref.temporal_affine_forward, ta_backward_dW_last_step), BOTH),
        Wrong("scrambled", "axes swapped before the reshape of dout", (ref.temporal_affine_forward, ta_backward_scrambled), BOTH),
        Wrong("mean", "dW and db averaged over N * T", (ref.temporal_affine_forward, ta_backward_mean), BOTH),
        Wrong("W_not_transposed", "dx = dout @ W (crashes unless H == M)", (ref.temporal_affine_forward, ta_backward_W_not_transposed), BOTH),
    ],
    "temporal_softmax_loss": [
        Wrong("ignores_mask", "the mask ignored", (loss_ignores_mask,), BOTH),
        Wrong("mean_over_time", "mean over time (divided by N * T) instead of sum", (loss_mean_over_time,), BOTH),
        Wrong("mask_in_loss_only", "mask applied to the loss but not to dx", (loss_mask_in_loss_only,), BOTH),
        Wrong("no_max_shift", "np.exp of raw scores (overflows at +1000)", (loss_no_max_shift,), BOTH),
        Wrong("divides_by_unmasked", "divided by the number of unmasked steps", (loss_divides_by_unmasked,), BOTH),
    ],
    "clip_gradients": [
        Wrong("elementwise", "clipping per element (np.clip) instead of by the global norm", (ref.clip_gradients_adapter(clip_elementwise),), BOTH),
        Wrong("norm_after", "norm returned after clipping", (ref.clip_gradients_adapter(clip_norm_after),), BOTH),
        Wrong("per_array", "each array clipped by its own norm", (ref.clip_gradients_adapter(clip_per_array),), BOTH),
        Wrong("always_rescales", "rescaled to max_norm even when the norm is below it", (ref.clip_gradients_adapter(clip_always_rescales),), BOTH),
        Wrong("squared_norm", "squared norm (no square root)", (ref.clip_gradients_adapter(clip_squared_norm),), BOTH),
    ],
    "char_rnn_loss": [
        Wrong("from_zeros", "h_prev ignored: the RNN starts from zeros", (ref.char_rnn_loss_adapter(char_loss_from_zeros),), BOTH),
        Wrong("first_state", "h[:, 0] returned instead of h[:, -1]", (ref.char_rnn_loss_adapter(char_loss_first_state),), BOTH),
        Wrong("targets_are_inputs", "the loss scored against the inputs, not the targets", (ref.char_rnn_loss_adapter(char_loss_targets_are_inputs),), BOTH),
        Wrong("no_carry", "rnn_backward without the carried gradient", (ref.char_rnn_loss_adapter(char_loss_no_carry),), BOTH),
    ],
    "tbptt_step": [
        Wrong("resets_state", "hidden state reset between chunks", (ref.tbptt_step_adapter(tbptt_resets_state),), BOTH),
        Wrong("no_clipping", "gradients not clipped", (ref.tbptt_step_adapter(tbptt_no_clipping),), BOTH),
        Wrong("ascent", "params += lr * grad", (ref.tbptt_step_adapter(tbptt_ascent),), BOTH),
        Wrong("rebinds_params", "a new dict built: the caller's params never change", (ref.tbptt_step_adapter(tbptt_rebinds_params),), BOTH),
        Wrong("loss_after_update", "loss reported after the update", (ref.tbptt_step_adapter(tbptt_loss_after_update),), BOTH),
    ],
    "sample": [
        Wrong("ignores_temperature", "temperature ignored", (ref.sample_adapter(sample_ignores_temperature),), BOTH),
        Wrong("after_softmax", "temperature applied to the probabilities after the softmax", (ref.sample_adapter(sample_temperature_after_softmax),), BOTH),
        Wrong("multiplies", "scores multiplied by the temperature", (ref.sample_adapter(sample_multiplies_temperature),), BOTH),
        Wrong("feeds_argmax", "the most likely character fed back instead of the sample", (ref.sample_adapter(sample_feeds_argmax),), BOTH),
        Wrong("resets_state", "h0 used at every step", (ref.sample_adapter(sample_resets_state),), BOTH),
        Wrong("no_max_shift", "no max subtracted: overflows at a tiny temperature", (ref.sample_adapter(sample_no_max_shift),), BOTH),
        Wrong("includes_seed", "the seed character returned as the first sample", (ref.sample_adapter(sample_includes_seed),), BOTH),
    ],
}

#: The correct functions, in each check's argument order.
CORRECT = {
    "rnn_step_backward": (F, ref.rnn_step_backward),
    "rnn_backward": (B, ref.rnn_backward),
    "temporal_affine_backward": (ref.temporal_affine_forward, ref.temporal_affine_backward),
    "temporal_softmax_loss": (ref.temporal_softmax_loss,),
    "clip_gradients": (ref.clip_gradients_arrays,),
    "char_rnn_loss": (ref.char_rnn_loss_arrays,),
    "tbptt_step": (ref.tbptt_step_arrays,),
    "sample": (ref.sample_arrays,),
}
