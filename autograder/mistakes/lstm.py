"""Known-wrong variants of lesson 04's graded functions."""

from __future__ import annotations

import numpy as np
import torch

from autograder.reference import lstm as ref

from . import BOTH, HIDDEN, VISIBLE, Wrong  # noqa: F401  (HIDDEN, VISIBLE: for variants caught by one side only)

sig = ref.sigmoid
F, B = ref.lstm_step_forward, ref.lstm_forward


# ---------------------------------------------------------------- lstm_step_forward
def _step(x, prev_h, prev_c, Wx, Wh, b, order="ifgo", input_gate=True, tanh_c=True, forget_on="c"):
    a = x @ Wx + prev_h @ Wh + b
    H = prev_h.shape[1]
    blocks = dict(zip(order, (a[:, k * H : (k + 1) * H] for k in range(4))))
    i, f, g, o = sig(blocks["i"]), sig(blocks["f"]), np.tanh(blocks["g"]), sig(blocks["o"])
    next_c = f * (prev_c if forget_on == "c" else prev_h) + (i * g if input_gate else g)
    next_h = o * (np.tanh(next_c) if tanh_c else next_c)
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, g, o, next_c)


def step_ifog(*args):
    return _step(*args, order="ifog")


def step_no_input_gate(*args):
    return _step(*args, input_gate=False)


def step_h_without_tanh(*args):
    return _step(*args, tanh_c=False)


def step_forget_on_h(*args):
    return _step(*args, forget_on="h")


def step_g_sigmoid(x, prev_h, prev_c, Wx, Wh, b):
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    i, f, g, o = (sig(a[:, k * H : (k + 1) * H]) for k in range(4))  # a sigmoid for the candidate too
    next_c = f * prev_c + i * g
    return o * np.tanh(next_c), next_c, (x, prev_h, prev_c, Wx, Wh, i, f, g, o, next_c)


def step_updates_prev_c_in_place(x, prev_h, prev_c, Wx, Wh, b):
    next_h, next_c, cache = ref.lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
    i, f, g, o = cache[5:9]
    prev_c *= f  # the caller's prev_c becomes next_c
    prev_c += i * g
    return next_h, prev_c, (x, prev_h, prev_c, Wx, Wh, i, f, g, o, prev_c)


def step_caches_tanh_c(x, prev_h, prev_c, Wx, Wh, b):
    next_h, next_c, cache = ref.lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
    return next_h, next_c, cache[:9] + (np.tanh(next_c),)


def step_caches_preactivations(x, prev_h, prev_c, Wx, Wh, b):
    next_h, next_c, cache = ref.lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
    a = x @ Wx + prev_h @ Wh + b
    H = prev_h.shape[1]
    return next_h, next_c, cache[:5] + tuple(a[:, k * H : (k + 1) * H] for k in range(4)) + (next_c,)


def step_cache_with_b(x, prev_h, prev_c, Wx, Wh, b):
    next_h, next_c, cache = ref.lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b)
    return next_h, next_c, cache[:5] + (b,) + cache[5:]  # another layout than the docstring's


def step_float32(x, prev_h, prev_c, Wx, Wh, b):
    return ref.lstm_step_forward(*(v.astype(np.float32) for v in (x, prev_h, prev_c, Wx, Wh, b)))


def step_exp_sigmoid(x, prev_h, prev_c, Wx, Wh, b):
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    s = np.exp(a) / (1 + np.exp(a))  # inf / inf for a large a
    i, f, o, g = s[:, :H], s[:, H : 2 * H], s[:, 3 * H :], np.tanh(a[:, 2 * H : 3 * H])
    next_c = f * prev_c + i * g
    return o * np.tanh(next_c), next_c, (x, prev_h, prev_c, Wx, Wh, i, f, g, o, next_c)


# ---------------------------------------------------------------- lstm_step_backward
def _step_backward(
    dnext_h,
    dnext_c,
    cache,
    tanh_path=True,
    forget_factor=True,
    sigmoid_as_tanh=False,
    db_mean=False,
    order="ifgo",
    tanh_in_place=False,
):
    x, prev_h, prev_c, Wx, Wh, i, f, g, o, next_c = cache
    tc = np.tanh(next_c, out=next_c) if tanh_in_place else np.tanh(next_c)
    dc = dnext_c + (dnext_h * o * (1 - tc**2) if tanh_path else 0)
    dsig = (lambda s: 1 - s**2) if sigmoid_as_tanh else (lambda s: s * (1 - s))
    blocks = {"i": dc * g * dsig(i), "f": dc * prev_c * dsig(f), "g": dc * i * (1 - g**2), "o": dnext_h * tc * dsig(o)}
    da = np.concatenate([blocks[k] for k in order], axis=1)
    db = da.mean(axis=0) if db_mean else da.sum(axis=0)
    return da @ Wx.T, da @ Wh.T, dc * f if forget_factor else dc, x.T @ da, prev_h.T @ da, db


def sb_no_forget_factor(dnext_h, dnext_c, cache):
    return _step_backward(dnext_h, dnext_c, cache, forget_factor=False)


def sb_no_tanh_path(dnext_h, dnext_c, cache):
    return _step_backward(dnext_h, dnext_c, cache, tanh_path=False)


def sb_sigmoid_as_tanh(dnext_h, dnext_c, cache):
    return _step_backward(dnext_h, dnext_c, cache, sigmoid_as_tanh=True)


def sb_db_mean(dnext_h, dnext_c, cache):
    return _step_backward(dnext_h, dnext_c, cache, db_mean=True)


def sb_order_ifog(dnext_h, dnext_c, cache):
    return _step_backward(dnext_h, dnext_c, cache, order="ifog")


def sb_adds_into_dnext_c(dnext_h, dnext_c, cache):
    x, prev_h, prev_c, Wx, Wh, i, f, g, o, next_c = cache
    dc = dnext_c
    dc += dnext_h * o * (1 - np.tanh(next_c) ** 2)  # writes into the caller's dnext_c
    da = np.concatenate(
        [dc * g * i * (1 - i), dc * prev_c * f * (1 - f), dc * i * (1 - g**2), dnext_h * np.tanh(next_c) * o * (1 - o)],
        axis=1,
    )
    return da @ Wx.T, da @ Wh.T, dc * f, x.T @ da, prev_h.T @ da, da.sum(axis=0)


def sb_tanh_into_cache(dnext_h, dnext_c, cache):
    return _step_backward(
        dnext_h, dnext_c, cache, tanh_in_place=True
    )  # np.tanh(next_c, out=next_c): a second call differs


def sb_ignores_dnext_c(dnext_h, dnext_c, cache):
    return ref.lstm_step_backward(dnext_h, np.zeros_like(dnext_c), cache)  # only the path through next_h


def sb_db_keepdims(dnext_h, dnext_c, cache):
    dx, dprev_h, dprev_c, dWx, dWh, db = ref.lstm_step_backward(dnext_h, dnext_c, cache)
    return dx, dprev_h, dprev_c, dWx, dWh, db[None]  # da.sum(axis=0, keepdims=True): (1, 4H)


def sb_float32(dnext_h, dnext_c, cache):
    return tuple(g.astype(np.float32) for g in ref.lstm_step_backward(dnext_h, dnext_c, cache))


# ---------------------------------------------------------------- lstm_forward
def _forward(x, h0, Wx, Wh, b, step=ref.lstm_step_forward, carry_c=True, use_h0=True):
    N, T, _ = x.shape
    H = h0.shape[1]
    h = np.zeros((N, T, H))
    prev_h, prev_c, cache = (h0 if use_h0 else np.zeros_like(h0)), np.zeros((N, H)), []
    for t in range(T):
        prev_h, c, step_cache = step(x[:, t], prev_h, prev_c if carry_c else np.zeros((N, H)), Wx, Wh, b)
        prev_c = c
        h[:, t] = prev_h
        cache.append(step_cache)
    return h, cache


def forward_ifog(x, h0, Wx, Wh, b):
    return _forward(x, h0, Wx, Wh, b, step=step_ifog)


def forward_c_not_carried(x, h0, Wx, Wh, b):
    return _forward(x, h0, Wx, Wh, b, carry_c=False)


def forward_ignores_h0(x, h0, Wx, Wh, b):
    return _forward(x, h0, Wx, Wh, b, use_h0=False)


def forward_no_tanh(x, h0, Wx, Wh, b):
    return _forward(x, h0, Wx, Wh, b, step=step_h_without_tanh)


def forward_exp_sigmoid(x, h0, Wx, Wh, b):
    return _forward(x, h0, Wx, Wh, b, step=step_exp_sigmoid)


def forward_float32_h(x, h0, Wx, Wh, b):
    h, cache = _forward(x, h0, Wx, Wh, b)
    out = np.zeros(h.shape, dtype=np.float32)  # a float32 buffer for the states
    out[:] = h
    return out, cache


def forward_one_cell_state_array(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    H = h0.shape[1]
    h, prev_h, c, cache = np.zeros((N, T, H)), h0, np.zeros((N, H)), []
    for t in range(T):
        prev_h, next_c, step = ref.lstm_step_forward(x[:, t], prev_h, c.copy(), Wx, Wh, b)
        c[:] = next_c  # one array for the cell state, updated in place: every cache holds it
        cache.append(step[:2] + (c,) + step[3:9] + (c,))
        h[:, t] = prev_h
    return h, cache


def forward_squeezes_h(x, h0, Wx, Wh, b):
    h, cache = ref.lstm_forward(x, h0, Wx, Wh, b)
    return np.squeeze(h), cache  # right while N, T and H all exceed 1


def forward_caches_tanh_c(x, h0, Wx, Wh, b):
    return _forward(x, h0, Wx, Wh, b, step=step_caches_tanh_c)


def forward_caches_prev_c_as_next_c(x, h0, Wx, Wh, b):
    h, cache = _forward(x, h0, Wx, Wh, b)
    return h, [step[:9] + (step[2],) for step in cache]  # the step's input where its output belongs


def forward_updates_h0_in_place(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    H = h0.shape[1]
    h, state, c, cache = np.zeros((N, T, H)), h0, np.zeros((N, H)), []
    for t in range(T):
        next_h, c, step = ref.lstm_step_forward(x[:, t], state.copy(), c, Wx, Wh, b)
        state[:] = next_h  # state is h0 itself: the caller's h0 is overwritten
        cache.append(step)
        h[:, t] = next_h
    return h, cache


# ---------------------------------------------------------------- lstm_backward
def _backward(dh, cache, carry_h=True, carry_c=True, overwrite=(), reverse=True):
    N, T, H = dh.shape
    D = cache[0][0].shape[1]
    dx = np.zeros((N, T, D))
    total = {"dWx": np.zeros((D, 4 * H)), "dWh": np.zeros((H, 4 * H)), "db": np.zeros(4 * H)}
    dprev_h, dprev_c = np.zeros((N, H)), np.zeros((N, H))
    for t in reversed(range(T)) if reverse else range(T):
        dx_t, dph, dpc, dWx_t, dWh_t, db_t = ref.lstm_step_backward(
            dh[:, t] + (dprev_h if carry_h else 0), dprev_c if carry_c else np.zeros((N, H)), cache[t]
        )
        dx[:, t] = dx_t
        dprev_h, dprev_c = dph, dpc
        for name, value in (("dWx", dWx_t), ("dWh", dWh_t), ("db", db_t)):
            total[name] = value if name in overwrite else total[name] + value
    return dx, dprev_h, total["dWx"], total["dWh"], total["db"]


def backward_overwrites_dWh(dh, cache):
    return _backward(dh, cache, overwrite=("dWh",))


def backward_drops_dc(dh, cache):
    return _backward(dh, cache, carry_c=False)


def backward_drops_dh(dh, cache):
    return _backward(dh, cache, carry_h=False)


def backward_forward_in_time(dh, cache):
    return _backward(dh, cache, reverse=False)


def backward_adds_into_dh(dh, cache):
    N, T, H = dh.shape
    D = cache[0][0].shape[1]
    dx, dWx, dWh, db = np.zeros((N, T, D)), np.zeros((D, 4 * H)), np.zeros((H, 4 * H)), np.zeros(4 * H)
    dprev_h, dprev_c = np.zeros((N, H)), np.zeros((N, H))
    for t in reversed(range(T)):
        dh[:, t] += dprev_h  # writes into the caller's dh
        dx[:, t], dprev_h, dprev_c, dWx_t, dWh_t, db_t = ref.lstm_step_backward(dh[:, t], dprev_c, cache[t])
        dWx, dWh, db = dWx + dWx_t, dWh + dWh_t, db + db_t
    return dx, dprev_h, dWx, dWh, db


def backward_float32_dx(dh, cache):
    dx, dh0, dWx, dWh, db = ref.lstm_backward(dh, cache)
    return dx.astype(np.float32), dh0, dWx, dWh, db


def backward_last_step_only(dh, cache):
    last = np.zeros_like(dh)
    last[:, -1] = dh[:, -1]  # as if only the last state had a loss (many-to-one)
    return ref.lstm_backward(last, cache)


def backward_skips_step_0(dh, cache):
    N, T, H = dh.shape
    dx, dh0, dWx, dWh, db = ref.lstm_backward(dh[:, 1:], cache[1:]) if T > 1 else (None,) * 5
    if T == 1:
        return (
            np.zeros((N, 1, cache[0][0].shape[1])),
            np.zeros((N, H)),
            np.zeros_like(cache[0][3]),
            np.zeros_like(cache[0][4]),
            np.zeros(4 * H),
        )
    return np.concatenate([np.zeros_like(dx[:, :1]), dx], axis=1), dh0, dWx, dWh, db  # range(T - 1, 0, -1)


# ---------------------------------------------------------------- lstm_cell_module (the class the cell passes)
class _Module(torch.nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.Wx = torch.nn.Parameter(torch.zeros(input_size, 4 * hidden_size))
        self.Wh = torch.nn.Parameter(torch.zeros(hidden_size, 4 * hidden_size))
        self.b = torch.nn.Parameter(torch.zeros(4 * hidden_size))

    def gates(self, x, h):
        return (x @ self.Wx + h @ self.Wh + self.b).chunk(4, dim=1)


class ModuleIfog(_Module):
    def forward(self, x, h, c):
        i, f, o, g = self.gates(x, h)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


class ModuleNoTanh(_Module):
    def forward(self, x, h, c):
        i, f, g, o = self.gates(x, h)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * c, c


class ModuleIgnoresC(_Module):
    def forward(self, x, h, c):
        i, f, g, o = self.gates(x, h)
        c = torch.sigmoid(i) * torch.tanh(g)  # the previous cell state never enters
        return torch.sigmoid(o) * torch.tanh(c), c


class ModuleTorchLayout(torch.nn.Module):
    """Parameters stored like torch.nn.LSTMCell's, (4H, D) and (4H, H): our weights do not fit."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.Wx = torch.nn.Parameter(torch.zeros(4 * hidden_size, input_size))
        self.Wh = torch.nn.Parameter(torch.zeros(4 * hidden_size, hidden_size))
        self.b = torch.nn.Parameter(torch.zeros(4 * hidden_size))

    def forward(self, x, h, c):
        i, f, g, o = (x @ self.Wx.T + h @ self.Wh.T + self.b).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


ORDER = "in this order"
OVERFLOW = "exp overflow"
FLOAT64 = "float64 expected"

# fmt: off
# The catalog is a table, one known mistake a line or two: kept as written.
VARIANTS: dict[str, list[Wrong]] = {
    "lstm_step_forward": [
        Wrong("ifog", "gates split in the order i, f, o, g", (step_ifog,), BOTH, hint=ORDER),
        Wrong("no_input_gate", "c' = f * c + g: the input gate left out of the cell update",
              (step_no_input_gate,), BOTH,
              hint="the input gate i scales the candidate"),
        Wrong("h_without_tanh", "h' = o * c' without tanh", (step_h_without_tanh,), BOTH, hint="squash the cell state"),
        Wrong("forget_on_h", "the forget gate applied to prev_h instead of prev_c", (step_forget_on_h,), BOTH,
              hint="scales the previous cell state prev_c, not prev_h"),
        Wrong("g_sigmoid", "a sigmoid for the candidate g", (step_g_sigmoid,), BOTH, hint="g is a tanh of its block"),
        Wrong("prev_c_in_place", "prev_c *= f; prev_c += i * g: the caller's prev_c overwritten",
              (step_updates_prev_c_in_place,),
              BOTH, hint="prev_c left changed"),
        Wrong("caches_tanh_c", "the cache holds tanh(next_c) for next_c", (step_caches_tanh_c,), BOTH,
              hint="the cache holds next_c itself, not tanh(next_c)"),
        Wrong("caches_preactivations", "the cache holds the gates' pre-activations",
              (step_caches_preactivations,), BOTH,
              hint="not the pre-activation"),
        Wrong("cache_layout", "the cache in another layout (b inserted)", (step_cache_with_b,), BOTH,
              hint="expected the tuple (x, prev_h, prev_c, Wx, Wh, i, f, g, o, next_c)"),
        Wrong("float32", "computed in float32", (step_float32,), BOTH, hint=FLOAT64),
        Wrong("exp_sigmoid", "sigmoid written exp(a) / (1 + exp(a)): nan for large a", (step_exp_sigmoid,), BOTH,
              hint=OVERFLOW),
    ],
    "lstm_step_backward": [
        Wrong("no_forget_factor", "dprev_c = dc, missing the forget-gate factor", (F, sb_no_forget_factor), BOTH,
              hint="dprev_c = dc * f"),
        Wrong("no_tanh_path", "dc = dnext_c: the path through h' = o * tanh(c') left out", (F, sb_no_tanh_path), BOTH,
              hint="two paths"),
        Wrong("sigmoid_as_tanh", "sigmoid's derivative written as 1 - s**2", (F, sb_sigmoid_as_tanh), BOTH,
              hint="s * (1 - s)"),
        Wrong("db_mean", "db averaged over the batch", (F, sb_db_mean), BOTH, hint="db sums da over the batch axis 0"),
        Wrong("order_ifog", "da stacked in the order i, f, o, g", (F, sb_order_ifog), BOTH,
              hint="g, o blocks of da are wrong"),
        Wrong("adds_into_dnext_c", "dc = dnext_c; dc += ...: the caller's dnext_c changed",
              (F, sb_adds_into_dnext_c), BOTH,
              hint="dnext_c left changed"),
        Wrong("tanh_into_cache", "np.tanh(next_c, out=next_c) overwrites the cache", (F, sb_tanh_into_cache), BOTH,
              hint="changed its cache"),
        Wrong("float32", "gradients returned as float32", (F, sb_float32), BOTH, hint=FLOAT64),
        Wrong("ignores_dnext_c", "dnext_c never used: dc from the path through next_h only",
              (F, sb_ignores_dnext_c), BOTH,
              hint="two paths"),
        Wrong("db_keepdims", "db summed with keepdims=True: shape (1, 4H)", (F, sb_db_keepdims), BOTH,
              hint="the documented shape"),
    ],
    "lstm_forward": [
        Wrong("ifog", "gates split in the order i, f, o, g", (forward_ifog,), BOTH, hint=ORDER),
        Wrong("c_not_carried", "the cell state reset to zero at every step", (forward_c_not_carried,), BOTH,
              hint="carry the cell state c"),
        Wrong("ignores_h0", "h0 ignored: starts from zeros", (forward_ignores_h0,), BOTH, hint="starts from h0"),
        Wrong("no_tanh", "h' = o * c' without tanh", (forward_no_tanh,), BOTH, hint="squash the cell state"),
        Wrong("exp_sigmoid", "sigmoid written exp(a) / (1 + exp(a)): nan for large a", (forward_exp_sigmoid,), BOTH,
              hint=OVERFLOW),
        Wrong("float32_h", "h stored in a float32 array", (forward_float32_h,), BOTH, hint=FLOAT64),
        Wrong("h0_in_place", "the state array is h0 itself, updated in place", (forward_updates_h0_in_place,), BOTH,
              hint="h0 left changed"),
        Wrong("squeezes_h", "np.squeeze(h): an axis of size 1 (N, T or H) dropped", (forward_squeezes_h,), HIDDEN,
              hint="the documented shape"),
        # Sequence caches are lists of step caches; the record carries them, so both checks catch these.
        Wrong("one_cell_state_array", "one cell-state array updated in place: every step cache holds it",
              (forward_one_cell_state_array,), BOTH, hint="every step's cache holds the same prev_c array"),
        Wrong("caches_tanh_c", "every step cache holds tanh(next_c) for next_c", (forward_caches_tanh_c,), BOTH,
              hint="the cache holds next_c itself, not tanh(next_c)"),
        Wrong("caches_input_as_output", "every step cache holds prev_c where next_c belongs",
              (forward_caches_prev_c_as_next_c,),
              BOTH, hint="the cache's next_c is prev_c"),
    ],
    "lstm_backward": [
        Wrong("overwrites_dWh", "dWh = ... instead of dWh += ...", (B, backward_overwrites_dWh), BOTH,
              hint="do not overwrite"),
        Wrong("drops_dc", "the carried dprev_c dropped across steps", (B, backward_drops_dc), BOTH,
              hint="carry dprev_c back"),
        Wrong("drops_dh", "the carried dprev_h dropped across steps", (B, backward_drops_dh), BOTH,
              hint="carry dprev_h across"),
        Wrong("forward_in_time", "steps visited from 0 to T-1", (B, backward_forward_in_time), BOTH,
              hint="walk t = T-1 down to 0"),
        Wrong("adds_into_dh", "dh[:, t] += dprev_h writes into the caller's dh", (B, backward_adds_into_dh), BOTH,
              hint="dh left changed"),
        Wrong("float32_dx", "dx returned as float32", (B, backward_float32_dx), BOTH, hint=FLOAT64),
        Wrong("last_step_only", "only dh[:, -1] used, as if many-to-one", (B, backward_last_step_only), BOTH,
              hint="dh[:, t]"),
        Wrong("skips_step_0", "the loop stops before t = 0", (B, backward_skips_step_0), BOTH,
              hint="walk t = T-1 down to 0"),
    ],
    "lstm_cell_module": [
        Wrong("ifog", "gates chunked in the order i, f, o, g", (ModuleIfog,), BOTH, hint=ORDER),
        Wrong("no_tanh", "h' = o * c' without tanh", (ModuleNoTanh,), BOTH, hint="squash the cell state"),
        Wrong("ignores_c", "the previous cell state never used", (ModuleIgnoresC,), BOTH,
              hint="the previous cell state must enter"),
        Wrong("torch_layout", "parameters stored in torch's (4H, D) layout", (ModuleTorchLayout,), BOTH,
              hint="the course's layout is Wx (D, 4H)"),
    ],
}

#: The correct functions, in each check's argument order.
CORRECT = {
    "lstm_step_forward": (F,),
    "lstm_step_backward": (F, ref.lstm_step_backward),
    "lstm_forward": (B,),
    "lstm_backward": (B, ref.lstm_backward),
    "lstm_cell_module": (ref.LSTMCellModule,),
}
# fmt: on
