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
    blocks = dict(zip(order, (a[:, k * H:(k + 1) * H] for k in range(4))))
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


# ---------------------------------------------------------------- lstm_step_backward
def _step_backward(dnext_h, dnext_c, cache, tanh_path=True, forget_factor=True, sigmoid_as_tanh=False, db_mean=False):
    x, prev_h, prev_c, Wx, Wh, i, f, g, o, next_c = cache
    tc = np.tanh(next_c)
    dc = dnext_c + (dnext_h * o * (1 - tc**2) if tanh_path else 0)
    dsig = (lambda s: 1 - s**2) if sigmoid_as_tanh else (lambda s: s * (1 - s))
    da = np.concatenate([dc * g * dsig(i), dc * prev_c * dsig(f), dc * i * (1 - g**2), dnext_h * tc * dsig(o)], axis=1)
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


# ---------------------------------------------------------------- lstm_backward
def _backward(dh, cache, carry_h=True, carry_c=True, overwrite=(), reverse=True):
    N, T, H = dh.shape
    D = cache[0][0].shape[1]
    dx = np.zeros((N, T, D))
    total = {"dWx": np.zeros((D, 4 * H)), "dWh": np.zeros((H, 4 * H)), "db": np.zeros(4 * H)}
    dprev_h, dprev_c = np.zeros((N, H)), np.zeros((N, H))
    for t in (reversed(range(T)) if reverse else range(T)):
        dx_t, dph, dpc, dWx_t, dWh_t, db_t = ref.lstm_step_backward(dh[:, t] + (dprev_h if carry_h else 0),
                                                                     dprev_c if carry_c else np.zeros((N, H)), cache[t])
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


# ---------------------------------------------------------------- lstm_cell_module (through the notebook's adapter)
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


VARIANTS: dict[str, list[Wrong]] = {
    "lstm_step_forward": [
        Wrong("ifog", "gates split in the order i, f, o, g", (step_ifog,), BOTH),
        Wrong("no_input_gate", "c' = f * c + g: the input gate left out of the cell update", (step_no_input_gate,), BOTH),
        Wrong("h_without_tanh", "h' = o * c' without tanh", (step_h_without_tanh,), BOTH),
        Wrong("forget_on_h", "the forget gate applied to prev_h instead of prev_c", (step_forget_on_h,), BOTH),
    ],
    "lstm_step_backward": [
        Wrong("no_forget_factor", "dprev_c = dc, missing the forget-gate factor", (F, sb_no_forget_factor), BOTH),
        Wrong("no_tanh_path", "dc = dnext_c: the path through h' = o * tanh(c') left out", (F, sb_no_tanh_path), BOTH),
        Wrong("sigmoid_as_tanh", "sigmoid's derivative written as 1 - s**2", (F, sb_sigmoid_as_tanh), BOTH),
        Wrong("db_mean", "db averaged over the batch", (F, sb_db_mean), BOTH),
    ],
    "lstm_forward": [
        Wrong("ifog", "gates split in the order i, f, o, g", (forward_ifog,), BOTH),
        Wrong("c_not_carried", "the cell state reset to zero at every step", (forward_c_not_carried,), BOTH),
        Wrong("ignores_h0", "h0 ignored: starts from zeros", (forward_ignores_h0,), BOTH),
        Wrong("no_tanh", "h' = o * c' without tanh", (forward_no_tanh,), BOTH),
    ],
    "lstm_backward": [
        Wrong("overwrites_dWh", "dWh = ... instead of dWh += ...", (B, backward_overwrites_dWh), BOTH),
        Wrong("drops_dc", "the carried dprev_c dropped across steps", (B, backward_drops_dc), BOTH),
        Wrong("drops_dh", "the carried dprev_h dropped across steps", (B, backward_drops_dh), BOTH),
        Wrong("forward_in_time", "steps visited from 0 to T-1", (B, backward_forward_in_time), BOTH),
    ],
    "lstm_cell_module": [
        Wrong("ifog", "gates chunked in the order i, f, o, g", (ref.module_adapter(ModuleIfog),), BOTH),
        Wrong("no_tanh", "h' = o * c' without tanh", (ref.module_adapter(ModuleNoTanh),), BOTH),
        Wrong("ignores_c", "the previous cell state never used", (ref.module_adapter(ModuleIgnoresC),), BOTH),
        Wrong("torch_layout", "parameters stored in torch's (4H, D) layout", (ref.module_adapter(ModuleTorchLayout),), BOTH),
    ],
}

#: The correct functions, in each check's argument order.
CORRECT = {
    "lstm_step_forward": (F,),
    "lstm_step_backward": (F, ref.lstm_step_backward),
    "lstm_forward": (B,),
    "lstm_backward": (B, ref.lstm_backward),
    "lstm_cell_module": (ref.module_adapter(ref._module_class()),),
}
