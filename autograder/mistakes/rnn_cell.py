"""Known-wrong variants of lesson 02's graded functions."""

from __future__ import annotations

import numpy as np
import torch

from autograder.reference import rnn_cell as ref

from . import BOTH, HIDDEN, VISIBLE, Wrong  # noqa: F401  (HIDDEN, VISIBLE: for variants caught by one side only)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# ---------------------------------------------------------------- rnn_step_forward
def _step(next_h, x, prev_h, Wx, Wh):
    return next_h, (x, prev_h, Wx, Wh, next_h)  # the stated cache layout, so only the mistake shows


def step_sigmoid(x, prev_h, Wx, Wh, b):
    return _step(_sigmoid(x @ Wx + prev_h @ Wh + b), x, prev_h, Wx, Wh)


def step_no_bias(x, prev_h, Wx, Wh, b):
    return _step(np.tanh(x @ Wx + prev_h @ Wh), x, prev_h, Wx, Wh)


def step_Wh_transposed(x, prev_h, Wx, Wh, b):
    return _step(np.tanh(x @ Wx + prev_h @ Wh.T + b), x, prev_h, Wx, Wh)


def step_no_tanh(x, prev_h, Wx, Wh, b):
    return _step(x @ Wx + prev_h @ Wh + b, x, prev_h, Wx, Wh)


def step_ignores_prev_h(x, prev_h, Wx, Wh, b):
    return _step(np.tanh(x @ Wx + b), x, prev_h, Wx, Wh)


def step_returns_only_h(x, prev_h, Wx, Wh, b):
    return np.tanh(x @ Wx + prev_h @ Wh + b)


def step_tanh_into_prev_h(x, prev_h, Wx, Wh, b):
    # np.tanh(..., out=prev_h): the new state overwrites the caller's previous state.
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b, out=prev_h)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def step_caches_preactivation(x, prev_h, Wx, Wh, b):
    a = x @ Wx + prev_h @ Wh + b
    return np.tanh(a), (x, prev_h, Wx, Wh, a)  # the backward would need tanh(a), not a


def step_cache_order(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (prev_h, x, Wx, Wh, next_h)


def step_cache_without_next_h(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    return next_h, (x, prev_h, Wx, Wh)


def step_float32(x, prev_h, Wx, Wh, b):
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b).astype(np.float32)
    return next_h, (x, prev_h, Wx, Wh, next_h)


# ---------------------------------------------------------------- rnn_forward
def _loop(x, h0, step, keep_previous=False, same_x=False, same_h0=False, Wx=None, Wh=None):
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]))
    prev_h, cache = h0, []
    for t in range(T):
        x_t, into = x[:, 0 if same_x else t], h0 if same_h0 else prev_h
        next_h = step(x_t, into)
        h[:, t] = prev_h if keep_previous else next_h
        cache.append((x_t, into, Wx, Wh, next_h))
        prev_h = next_h
    return h, cache


def _ref_step(Wx, Wh, b):
    return lambda x_t, h: rnn_step_forward(x_t, h, Wx, Wh, b)[0]  # the notebook's global, as a learner's loop calls it


def forward_reuses_h0(x, h0, Wx, Wh, b):
    return _loop(x, h0, _ref_step(Wx, Wh, b), same_h0=True, Wx=Wx, Wh=Wh)


def forward_stores_previous_state(x, h0, Wx, Wh, b):
    return _loop(x, h0, _ref_step(Wx, Wh, b), keep_previous=True, Wx=Wx, Wh=Wh)


def forward_first_input_only(x, h0, Wx, Wh, b):
    return _loop(x, h0, _ref_step(Wx, Wh, b), same_x=True, Wx=Wx, Wh=Wh)


def forward_Wh_transposed(x, h0, Wx, Wh, b):
    return _loop(x, h0, lambda x_t, h: step_Wh_transposed(x_t, h, Wx, Wh, b)[0], Wx=Wx, Wh=Wh)


def forward_skips_last_step(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]))
    prev_h = h0
    for t in range(T - 1):  # off by one: the last step is never taken
        prev_h = rnn_step_forward(x[:, t], prev_h, Wx, Wh, b)[0]
        h[:, t] = prev_h
    return h, ref.rnn_forward(x, h0, Wx, Wh, b)[1]


def forward_time_major(x, h0, Wx, Wh, b):
    h, cache = ref.rnn_forward(x, h0, Wx, Wh, b)
    return h.transpose(1, 0, 2), cache  # (T, N, H) instead of (N, T, H)


def forward_from_zeros(x, h0, Wx, Wh, b):
    return ref.rnn_forward(x, np.zeros_like(h0), Wx, Wh, b)  # h0 ignored


def forward_updates_h0_in_place(x, h0, Wx, Wh, b):
    # prev_h[:] = next_h with prev_h = h0: the caller's h0 ends up holding the last state,
    # and every step's cache holds that one array as its prev_h.
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]))
    prev_h, cache = h0, []
    for t in range(T):
        next_h, step_cache = rnn_step_forward(x[:, t], prev_h, Wx, Wh, b)
        cache.append(step_cache)
        prev_h[:] = next_h
        h[:, t] = next_h
    return h, cache


def forward_one_state_buffer(x, h0, Wx, Wh, b):
    # One buffer reused for every state: right h, but every cache holds the last state.
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]))
    state = h0.copy()
    cache = []
    for t in range(T):
        before = h0 if t == 0 else state
        state[:] = rnn_step_forward(x[:, t], before, Wx, Wh, b)[0]
        cache.append((x[:, t], h0 if t == 0 else state, Wx, Wh, state))
        h[:, t] = state
    return h, cache


def forward_cache_reversed(x, h0, Wx, Wh, b):
    h, cache = ref.rnn_forward(x, h0, Wx, Wh, b)
    return h, cache[::-1]  # cache.insert(0, step_cache): newest first


def forward_cache_of_states(x, h0, Wx, Wh, b):
    h, _ = ref.rnn_forward(x, h0, Wx, Wh, b)
    return h, [h[:, t] for t in range(x.shape[1])]  # the states only: no step caches


def forward_float32_states(x, h0, Wx, Wh, b):
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]), dtype=np.float32)  # the states are stored in float32
    prev_h, cache = h0, []
    for t in range(T):
        prev_h, step_cache = rnn_step_forward(x[:, t], prev_h, Wx, Wh, b)
        h[:, t] = prev_h
        cache.append(step_cache)
    return h, cache


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


def one_hot_float32(idx, V):
    return np.eye(V, dtype=np.float32)[idx]


def one_hot_minus_one(idx, V):
    return np.eye(V)[idx - 1]  # 1-based thinking: index 0 lands on the last position


# ---------------------------------------------------------------- temporal_affine_forward
def temporal_affine_no_bias(x, W, b):
    return x @ W, (x, W, b)


def temporal_affine_scrambled_reshape(x, W, b):
    N, T, H = x.shape
    return (x.transpose(1, 0, 2).reshape(N * T, H) @ W + b).reshape(N, T, W.shape[1]), (x, W, b)


def temporal_affine_not_reshaped_back(x, W, b):
    N, T, H = x.shape
    return x.reshape(N * T, H) @ W + b, (x, W, b)


def temporal_affine_W_transposed(x, W, b):
    return x @ W.T + b, (x, W, b)


def temporal_affine_last_step_only(x, W, b):
    return x[:, -1] @ W + b, (x, W, b)


def temporal_affine_caches_output(x, W, b):
    out, _ = ref.temporal_affine_forward(x, W, b)
    return out, (out, W, b)


def temporal_affine_cache_order(x, W, b):
    out, _ = ref.temporal_affine_forward(x, W, b)
    return out, (W, x, b)


def temporal_affine_float32(x, W, b):
    out, cache = ref.temporal_affine_forward(x, W, b)
    return out.astype(np.float32), cache


# ---------------------------------------------------------------- rnn_cell_module (the learner's class; the check builds it)
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
        Wrong("sigmoid", "sigmoid instead of tanh", (step_sigmoid,), BOTH, hint="tanh, not the sigmoid"),
        Wrong("no_bias", "forgot to add b", (step_no_bias,), BOTH, hint="did you add the bias b?"),
        Wrong("Wh_transposed", "prev_h @ Wh.T", (step_Wh_transposed,), BOTH, hint="not prev_h @ Wh.T"),
        Wrong("no_tanh", "no activation", (step_no_tanh,), BOTH, hint="the step ends with tanh"),
        Wrong("ignores_prev_h", "prev_h left out", (step_ignores_prev_h,), BOTH, hint="prev_h must enter the sum"),
        Wrong(
            "returns_only_h",
            "returns next_h without the cache",
            (step_returns_only_h,),
            BOTH,
            hint="should return (next_h, cache)",
        ),
        # in place
        Wrong(
            "tanh_into_prev_h",
            "np.tanh(..., out=prev_h) overwrites the caller's state",
            (step_tanh_into_prev_h,),
            BOTH,
            hint="prev_h: prev_h was left changed -> write results to new arrays",
        ),
        # the cache contract
        Wrong(
            "caches_preactivation",
            "the cache holds the pre-activation, not next_h",
            (step_caches_preactivation,),
            BOTH,
            hint="cache the step's output next_h (after tanh), not its input",
        ),
        Wrong(
            "cache_order",
            "cache fields in another order",
            (step_cache_order,),
            BOTH,
            hint="(x, prev_h, Wx, Wh, next_h), in that order",
        ),
        Wrong(
            "cache_without_next_h",
            "a 4-field cache without next_h",
            (step_cache_without_next_h,),
            BOTH,
            hint="cache: got a tuple of 4",
        ),
        # dtype
        Wrong(
            "float32", "next_h returned as float32", (step_float32,), BOTH, hint="next_h dtype: got ndarray of float32"
        ),
    ],
    "rnn_forward": [
        Wrong(
            "reuses_h0",
            "h0 fed at every step instead of the previous state",
            (forward_reuses_h0,),
            BOTH,
            hint="not h0 at every step",
        ),
        Wrong(
            "stores_previous_state",
            "h[:, t] holds h_{t-1} (off by one over time)",
            (forward_stores_previous_state,),
            BOTH,
            hint="store the new state at step t",
        ),
        Wrong(
            "skips_last_step",
            "range(T - 1): the last step never taken",
            (forward_skips_last_step,),
            BOTH,
            hint="range(T), not range(T - 1)",
        ),
        Wrong(
            "first_input_only",
            "x[:, 0] at every step",
            (forward_first_input_only,),
            BOTH,
            hint="the step at time t reads x[:, t]",
        ),
        Wrong(
            "Wh_transposed", "prev_h @ Wh.T inside the loop", (forward_Wh_transposed,), BOTH, hint="not prev_h @ Wh.T"
        ),
        Wrong(
            "time_major",
            "returns (T, N, H)",
            (forward_time_major,),
            BOTH,
            hint="h: shape (4, 2, 5), expected (2, 4, 5)",
        ),
        Wrong(
            "inlines_the_step",
            "the step written out in the loop, rnn_step_forward never called",
            (forward_inlines_the_step,),
            BOTH,
            hint="called rnn_step_forward 0 times",
        ),
        # generality: the initial state matters
        Wrong(
            "from_zeros",
            "h0 ignored: starts from zeros",
            (forward_from_zeros,),
            BOTH,
            hint="start from h0, the given initial state",
        ),
        # in place
        Wrong(
            "updates_h0_in_place",
            "prev_h[:] = next_h with prev_h = h0",
            (forward_updates_h0_in_place,),
            BOTH,
            hint="h0: h0 was left changed -> write results to new arrays",
        ),
        # the cache contract (a list: checked where the learner's real list is seen, the visible check)
        Wrong(
            "one_state_buffer",
            "one buffer for every state: all caches alias it",
            (forward_one_state_buffer,),
            BOTH,
            hint="every step's cache holds the same array",
        ),
        Wrong(
            "cache_reversed",
            "step caches stored newest first",
            (forward_cache_reversed,),
            BOTH,
            hint="step t's cache is what rnn_step_forward returned at step t",
        ),
        Wrong(
            "cache_of_states",
            "the cache holds the states, not the step caches",
            (forward_cache_of_states,),
            BOTH,
            hint="its entries are not all 5-field step caches",
        ),
        # dtype
        Wrong(
            "float32_states",
            "h allocated as float32",
            (forward_float32_states,),
            BOTH,
            hint="h dtype: got ndarray of float32",
        ),
    ],
    "one_hot": [
        Wrong(
            "int_dtype",
            "integer array instead of floats",
            (one_hot_int_dtype,),
            BOTH,
            hint="the encoding is multiplied by weights",
        ),
        Wrong(
            "bool_dtype",
            "boolean array instead of floats",
            (one_hot_bool,),
            BOTH,
            hint="the encoding is multiplied by weights",
        ),
        Wrong(
            "float32",
            "float32 instead of float64",
            (one_hot_float32,),
            BOTH,
            hint="return float64, as the docstring says, not float32",
        ),
        Wrong(
            "flattened", "(N * T, V) instead of (N, T, V)", (one_hot_flattened,), BOTH, hint="keep the (N, T) layout"
        ),
        Wrong("off_by_one", "position idx + 1 set", (one_hot_off_by_one,), BOTH, hint="not i + 1"),
        Wrong("minus_one", "position idx - 1 set", (one_hot_minus_one,), BOTH, hint="not i - 1"),
        Wrong("infers_V", "V taken as idx.max() + 1", (one_hot_infers_V,), BOTH, hint="V is given: do not infer it"),
    ],
    "temporal_affine_forward": [
        Wrong("no_bias", "forgot to add b", (temporal_affine_no_bias,), BOTH, hint="did you add the bias b?"),
        Wrong(
            "scrambled_reshape",
            "axes swapped before the reshape: rows scrambled",
            (temporal_affine_scrambled_reshape,),
            BOTH,
            hint="swapping axes first scrambles the order of the rows",
        ),
        Wrong(
            "not_reshaped_back",
            "returns (N * T, M)",
            (temporal_affine_not_reshaped_back,),
            BOTH,
            hint="reshape the result back to (N, T, M)",
        ),
        Wrong(
            "W_transposed",
            "x @ W.T (crashes when H != M; silent when H == M)",
            (temporal_affine_W_transposed,),
            BOTH,
            hint="matmul: Input operand 1 has a mismatch",
        ),
        Wrong(
            "last_step_only",
            "applied to the last step only",
            (temporal_affine_last_step_only,),
            BOTH,
            hint="out: shape (2, 5), expected (2, 3, 5)",
        ),
        # the cache contract
        Wrong(
            "caches_output",
            "the cache holds out instead of x",
            (temporal_affine_caches_output,),
            BOTH,
            hint="cache the layer's input x, not its output",
        ),
        Wrong(
            "cache_order",
            "cache fields in another order",
            (temporal_affine_cache_order,),
            BOTH,
            hint="the cache is the tuple (x, W, b), in that order",
        ),
        # dtype
        Wrong(
            "float32",
            "out returned as float32",
            (temporal_affine_float32,),
            BOTH,
            hint="out dtype: got ndarray of float32",
        ),
    ],
    "rnn_cell_module": [
        Wrong("sigmoid", "torch.sigmoid instead of torch.tanh", (ModuleSigmoid,), BOTH, hint="tanh, not the sigmoid"),
        Wrong("no_bias", "self.b left out of forward", (ModuleNoBias,), BOTH, hint="did you add the bias b?"),
        Wrong("Wh_transposed", "h @ self.Wh.T", (ModuleWhTransposed,), BOTH, hint="not prev_h @ Wh.T"),
        Wrong("ignores_h", "h left out of forward", (ModuleIgnoresH,), BOTH, hint="prev_h must enter the sum"),
        Wrong(
            "torch_layout",
            "parameters stored as (H, D) like torch.nn.RNNCell",
            (ModuleTorchLayout,),
            BOTH,
            hint="the course's layout is Wx (D, H)",
        ),
        Wrong(
            "plain_tensors",
            "weights not registered as nn.Parameter",
            (ModulePlainTensors,),
            BOTH,
            hint="should have the parameters Wx, Wh and b",
        ),
    ],
}

#: The correct functions, in each check's argument order.
CORRECT = {
    "rnn_step_forward": (ref.rnn_step_forward,),
    "rnn_forward": (ref.rnn_forward,),
    "one_hot": (ref.one_hot,),
    "temporal_affine_forward": (ref.temporal_affine_forward,),
    "rnn_cell_module": (ref.RNNCellModule,),
}
