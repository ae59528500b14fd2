"""Known-wrong variants of lesson 02's graded functions."""
from __future__ import annotations

import numpy as np
import torch

from autograder.reference import rnn_cell as ref

from . import BOTH, HIDDEN, VISIBLE, Wrong  # noqa: F401  (HIDDEN, VISIBLE: for variants caught by one side only)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# ---------------------------------------------------------------- rnn_step_forward
def step_sigmoid(x, prev_h, Wx, Wh, b):
    return _sigmoid(x @ Wx + prev_h @ Wh + b), None


def step_no_bias(x, prev_h, Wx, Wh, b):
    return np.tanh(x @ Wx + prev_h @ Wh), None


def step_Wh_transposed(x, prev_h, Wx, Wh, b):
    return np.tanh(x @ Wx + prev_h @ Wh.T + b), None


def step_no_tanh(x, prev_h, Wx, Wh, b):
    return x @ Wx + prev_h @ Wh + b, None


def step_ignores_prev_h(x, prev_h, Wx, Wh, b):
    return np.tanh(x @ Wx + b), None


def step_returns_only_h(x, prev_h, Wx, Wh, b):
    return np.tanh(x @ Wx + prev_h @ Wh + b)


# ---------------------------------------------------------------- rnn_forward
def _loop(x, h0, step, keep_previous=False, same_x=False, same_h0=False):
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]))
    prev_h = h0
    for t in range(T):
        next_h = step(x[:, 0 if same_x else t], h0 if same_h0 else prev_h)
        h[:, t] = prev_h if keep_previous else next_h
        prev_h = next_h
    return h, None


def forward_reuses_h0(x, h0, Wx, Wh, b):
    return _loop(x, h0, lambda x_t, h: ref.rnn_step_forward(x_t, h, Wx, Wh, b)[0], same_h0=True)


def forward_stores_previous_state(x, h0, Wx, Wh, b):
    return _loop(x, h0, lambda x_t, h: ref.rnn_step_forward(x_t, h, Wx, Wh, b)[0], keep_previous=True)


def forward_first_input_only(x, h0, Wx, Wh, b):
    return _loop(x, h0, lambda x_t, h: ref.rnn_step_forward(x_t, h, Wx, Wh, b)[0], same_x=True)


def forward_Wh_transposed(x, h0, Wx, Wh, b):
    return _loop(x, h0, lambda x_t, h: step_Wh_transposed(x_t, h, Wx, Wh, b)[0])


def forward_skips_last_step(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]))
    prev_h = h0
    for t in range(T - 1):  # off by one: the last step is never taken
        prev_h = ref.rnn_step_forward(x[:, t], prev_h, Wx, Wh, b)[0]
        h[:, t] = prev_h
    return h, None


def forward_time_major(x, h0, Wx, Wh, b):
    h, cache = ref.rnn_forward(x, h0, Wx, Wh, b)
    return h.transpose(1, 0, 2), cache  # (T, N, H) instead of (N, T, H)


# ---------------------------------------------------------------- one_hot
def one_hot_int_dtype(idx, V):
    return np.eye(V, dtype=np.int64)[idx]


def one_hot_flattened(idx, V):
    return np.eye(V)[idx.reshape(-1)]


def one_hot_off_by_one(idx, V):
    return np.eye(V + 1)[idx + 1][..., :V]


def one_hot_infers_V(idx, V):
    return np.eye(int(idx.max()) + 1)[idx]


def one_hot_bool(idx, V):
    return np.eye(V, dtype=bool)[idx]


# ---------------------------------------------------------------- temporal_affine_forward
def temporal_affine_no_bias(x, W, b):
    return x @ W, None


def temporal_affine_scrambled_reshape(x, W, b):
    N, T, H = x.shape
    return (x.transpose(1, 0, 2).reshape(N * T, H) @ W + b).reshape(N, T, W.shape[1]), None


def temporal_affine_not_reshaped_back(x, W, b):
    N, T, H = x.shape
    return x.reshape(N * T, H) @ W + b, None


def temporal_affine_W_transposed(x, W, b):
    return x @ W.T + b, None


def temporal_affine_last_step_only(x, W, b):
    return x[:, -1] @ W + b, None


# ---------------------------------------------------------------- rnn_cell_module (through the notebook's adapter)
class _Module(torch.nn.Module):
    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.Wx = torch.nn.Parameter(torch.zeros(input_size, hidden_size))
        self.Wh = torch.nn.Parameter(torch.zeros(hidden_size, hidden_size))
        self.b = torch.nn.Parameter(torch.zeros(hidden_size))


class ModuleSigmoid(_Module):
    def forward(self, x, h):
        return torch.sigmoid(x @ self.Wx + h @ self.Wh + self.b)


class ModuleNoBias(_Module):
    def forward(self, x, h):
        return torch.tanh(x @ self.Wx + h @ self.Wh)


class ModuleWhTransposed(_Module):
    def forward(self, x, h):
        return torch.tanh(x @ self.Wx + h @ self.Wh.T + self.b)


class ModuleIgnoresH(_Module):
    def forward(self, x, h):
        return torch.tanh(x @ self.Wx + self.b)


class ModuleTorchLayout(torch.nn.Module):
    """Parameters stored like torch.nn.RNNCell's, (H, D) and (H, H): our weights do not fit."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.Wx = torch.nn.Parameter(torch.zeros(hidden_size, input_size))
        self.Wh = torch.nn.Parameter(torch.zeros(hidden_size, hidden_size))
        self.b = torch.nn.Parameter(torch.zeros(hidden_size))

    def forward(self, x, h):
        return torch.tanh(x @ self.Wx.T + h @ self.Wh.T + self.b)


class ModulePlainTensors(torch.nn.Module):
    """Tensors that are not registered as parameters: nothing to train."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.Wx = torch.zeros(input_size, hidden_size)
        self.Wh = torch.zeros(hidden_size, hidden_size)
        self.b = torch.zeros(hidden_size)

    def forward(self, x, h):
        return torch.tanh(x @ self.Wx + h @ self.Wh + self.b)


def _adapter(module_class):
    return ref.module_adapter(module_class)


# As in a notebook: the step lives among the globals that rnn_forward sees, so the
# check can count the calls a variant makes to it.
rnn_step_forward = ref.rnn_step_forward


def forward_inlines_the_step(x, h0, Wx, Wh, b):
    # Right values, but the loop writes the step out instead of calling rnn_step_forward.
    h, states = h0, []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ Wx + h @ Wh + b)
        states.append(h)
    return np.stack(states, axis=1), None


VARIANTS: dict[str, list[Wrong]] = {
    "rnn_step_forward": [
        Wrong("sigmoid", "sigmoid instead of tanh", (step_sigmoid,), BOTH),
        Wrong("no_bias", "forgot to add b", (step_no_bias,), BOTH),
        Wrong("Wh_transposed", "prev_h @ Wh.T", (step_Wh_transposed,), BOTH),
        Wrong("no_tanh", "no activation", (step_no_tanh,), BOTH),
        Wrong("ignores_prev_h", "prev_h left out", (step_ignores_prev_h,), BOTH),
        Wrong("returns_only_h", "returns next_h without the cache", (step_returns_only_h,), BOTH),
    ],
    "rnn_forward": [
        Wrong("reuses_h0", "h0 fed at every step instead of the previous state", (forward_reuses_h0,), BOTH),
        Wrong("stores_previous_state", "h[:, t] holds h_{t-1} (off by one over time)", (forward_stores_previous_state,), BOTH),
        Wrong("skips_last_step", "range(T - 1): the last step never taken", (forward_skips_last_step,), BOTH),
        Wrong("first_input_only", "x[:, 0] at every step", (forward_first_input_only,), BOTH),
        Wrong("Wh_transposed", "prev_h @ Wh.T inside the loop", (forward_Wh_transposed,), BOTH),
        Wrong("time_major", "returns (T, N, H)", (forward_time_major,), BOTH),
        Wrong("inlines_the_step", "the step written out in the loop, rnn_step_forward never called", (forward_inlines_the_step,), VISIBLE),
    ],
    "one_hot": [
        Wrong("int_dtype", "integer array instead of floats", (one_hot_int_dtype,), BOTH),
        Wrong("bool_dtype", "boolean array instead of floats", (one_hot_bool,), BOTH),
        Wrong("flattened", "(N * T, V) instead of (N, T, V)", (one_hot_flattened,), BOTH),
        Wrong("off_by_one", "position idx + 1 set", (one_hot_off_by_one,), BOTH),
        Wrong("infers_V", "V taken as idx.max() + 1", (one_hot_infers_V,), BOTH),
    ],
    "temporal_affine_forward": [
        Wrong("no_bias", "forgot to add b", (temporal_affine_no_bias,), BOTH),
        Wrong("scrambled_reshape", "axes swapped before the reshape: rows scrambled", (temporal_affine_scrambled_reshape,), BOTH),
        Wrong("not_reshaped_back", "returns (N * T, M)", (temporal_affine_not_reshaped_back,), BOTH),
        Wrong("W_transposed", "x @ W.T (crashes when H != M; silent when H == M)", (temporal_affine_W_transposed,), BOTH),
        Wrong("last_step_only", "applied to the last step only", (temporal_affine_last_step_only,), BOTH),
    ],
    "rnn_cell_module": [
        Wrong("sigmoid", "torch.sigmoid instead of torch.tanh", (_adapter(ModuleSigmoid),), BOTH),
        Wrong("no_bias", "self.b left out of forward", (_adapter(ModuleNoBias),), BOTH),
        Wrong("Wh_transposed", "h @ self.Wh.T", (_adapter(ModuleWhTransposed),), BOTH),
        Wrong("ignores_h", "h left out of forward", (_adapter(ModuleIgnoresH),), BOTH),
        Wrong("torch_layout", "parameters stored as (H, D) like torch.nn.RNNCell", (_adapter(ModuleTorchLayout),), BOTH),
        Wrong("plain_tensors", "weights not registered as nn.Parameter", (_adapter(ModulePlainTensors),), BOTH),
    ],
}

#: The correct functions, in each check's argument order.
CORRECT = {
    "rnn_step_forward": (ref.rnn_step_forward,),
    "rnn_forward": (ref.rnn_forward,),
    "one_hot": (ref.one_hot,),
    "temporal_affine_forward": (ref.temporal_affine_forward,),
    "rnn_cell_module": (ref.rnn_cell_module_forward,),
}
