"""The NumPy references agree with PyTorch (float64) on random inputs, on the CPU and,
when a GPU is present, on CUDA. Hidden checks trust the references, so they are tested
against the framework independently of any check."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autograder.reference import fc_layers as ref
from course.torch_layout import load_into, torch_weights
from tests.unit.devices import DEVICES

TOL = 1e-10


def _t(array, device, grad=False):
    return torch.tensor(array, dtype=torch.float64, device=device, requires_grad=grad)


def _np(tensor):
    return tensor.detach().cpu().numpy()


@pytest.fixture
def rng():
    return np.random.default_rng(2026)


def _close(a, b):
    np.testing.assert_allclose(a, b, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("device", DEVICES)
def test_affine(device, rng):
    x, W, b, dout = rng.normal(size=(5, 4)), rng.normal(size=(4, 3)), rng.normal(size=3), rng.normal(size=(5, 3))
    out, cache = ref.affine_forward(x, W, b)
    dx, dW, db = ref.affine_backward(dout, cache)
    xt, Wt, bt = _t(x, device, True), _t(W, device, True), _t(b, device, True)
    out_t = torch.nn.functional.linear(xt, Wt.T, bt)
    out_t.backward(_t(dout, device))
    for mine, theirs in ((out, out_t), (dx, xt.grad), (dW, Wt.grad), (db, bt.grad)):
        _close(mine, _np(theirs))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", ["tanh", "sigmoid"])
def test_activations(kind, device, rng):
    x = rng.normal(scale=4, size=(6, 5))
    x[0, :2] = [-800.0, 800.0]  # saturation must not overflow
    dout = rng.normal(size=x.shape)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        out, cache = getattr(ref, f"{kind}_forward")(x)
        dx = getattr(ref, f"{kind}_backward")(dout, cache)
    xt = _t(x, device, True)
    out_t = getattr(torch, kind)(xt)
    out_t.backward(_t(dout, device))
    _close(out, _np(out_t))
    _close(dx, _np(xt.grad))


@pytest.mark.parametrize("device", DEVICES)
def test_softmax_cross_entropy(device, rng):
    scores, y = rng.normal(scale=3, size=(7, 6)) + 900.0, rng.integers(0, 6, size=7)
    loss, dscores = ref.softmax_cross_entropy(scores, y)
    st = _t(scores, device, True)
    loss_t = torch.nn.functional.cross_entropy(st, torch.tensor(y, device=device))
    loss_t.backward()
    _close(loss, loss_t.item())
    _close(dscores, _np(st.grad))


def test_numerical_gradient_matches_autograd_and_restores_x(rng):
    x, A, dout = rng.normal(size=(3, 4)), rng.normal(size=(4, 2)), rng.normal(size=(3, 2))
    before = x.copy()
    grad = ref.numerical_gradient(lambda v: np.tanh(v @ A), x, dout)
    xt = _t(x, "cpu", True)
    torch.tanh(xt @ _t(A, "cpu")).backward(_t(dout, "cpu"))
    np.testing.assert_allclose(grad, _np(xt.grad), rtol=1e-6, atol=1e-9)
    assert np.array_equal(x, before)


@pytest.mark.parametrize("device", DEVICES)
def test_fc_feedback_step_is_the_rnn_cell(device, rng):
    n, d, h = 3, 100, 10
    x, prev_h = rng.normal(size=(n, d)), rng.normal(size=(n, h))
    W, b = rng.normal(scale=0.1, size=(d + h, h)), rng.normal(size=h)
    cell = load_into(torch.nn.RNNCell(d, h, dtype=torch.float64, device=device), W[:d], W[d:], b)
    with torch.no_grad():
        expected = _np(cell(_t(x, device), _t(prev_h, device)))
    _close(ref.fc_feedback_step(x, prev_h, W, b), expected)


def test_affine_gradients_autograd_matches_affine_backward(rng):
    x, W, b, dout = rng.normal(size=(5, 4)), rng.normal(size=(4, 3)), rng.normal(size=3), rng.normal(size=(5, 3))
    for mine, theirs in zip(
        ref.affine_backward(dout, ref.affine_forward(x, W, b)[1]), ref.affine_gradients_autograd(x, W, b, dout)
    ):
        _close(mine, theirs)


def test_torch_weights_layout():
    Wx, Wh, b = np.arange(6.0).reshape(2, 3), np.arange(9.0).reshape(3, 3), np.arange(3.0)
    weights = torch_weights(Wx, Wh, b)
    assert np.array_equal(weights["weight_ih"], Wx.T) and np.array_equal(weights["weight_hh"], Wh.T)
    assert np.array_equal(weights["bias_ih"], b) and not weights["bias_hh"].any()
    gru = torch_weights(np.zeros((2, 9)), np.zeros((3, 9)), bx=np.ones(9), bh=np.full(9, 2.0))
    assert gru["bias_ih"][0] == 1 and gru["bias_hh"][0] == 2
    with pytest.raises(ValueError):
        torch_weights(Wx, Wh)  # neither b nor (bx, bh)
    with pytest.raises(ValueError):
        torch_weights(Wx.T, Wh, b)  # Wx in PyTorch's layout by mistake


# --------------------------------------------------------------------------- lesson 02: the recurrent cell

from autograder.reference import rnn_cell as rnn_ref  # noqa: E402


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("n, t, d, h", [(3, 4, 5, 2), (1, 1, 3, 3), (2, 6, 1, 4)])
def test_rnn_step_and_forward_match_torch(device, n, t, d, h, rng):
    x, h0 = rng.normal(size=(n, t, d)), rng.normal(size=(n, h))
    Wx, Wh, b = rng.normal(size=(d, h)), rng.normal(scale=0.5, size=(h, h)), rng.normal(size=h)
    cell = load_into(torch.nn.RNNCell(d, h, dtype=torch.float64, device=device), Wx, Wh, b)
    rnn = load_into(torch.nn.RNN(d, h, batch_first=True, dtype=torch.float64, device=device), Wx, Wh, b)
    with torch.no_grad():
        step_t = _np(cell(_t(x[:, 0], device), _t(h0, device)))
        seq_t, last_t = rnn(_t(x, device), _t(h0, device)[None])
    _close(rnn_ref.rnn_step_forward(x[:, 0], h0, Wx, Wh, b)[0], step_t)
    h_all, _ = rnn_ref.rnn_forward(x, h0, Wx, Wh, b)
    _close(h_all, _np(seq_t))
    _close(h_all[:, -1], _np(last_t[0]))


@pytest.mark.parametrize("device", DEVICES)
def test_one_hot_and_temporal_affine_match_torch(device, rng):
    idx = rng.integers(0, 7, size=(3, 5))
    encoded = rnn_ref.one_hot(idx, 9)
    assert encoded.dtype == np.float64 and encoded.shape == (3, 5, 9)
    _close(encoded, _np(torch.nn.functional.one_hot(torch.tensor(idx, device=device), 9).double()))
    x, W, b = rng.normal(size=(3, 5, 4)), rng.normal(size=(4, 6)), rng.normal(size=6)
    _close(
        rnn_ref.temporal_affine_forward(x, W, b)[0],
        _np(torch.nn.functional.linear(_t(x, device), _t(W, device).T, _t(b, device))),
    )


def test_rnn_cell_module_matches_rnncell_and_trains(rng):
    x, h0 = rng.normal(size=(2, 3)), rng.normal(size=(2, 4))
    Wx, Wh, b = rng.normal(size=(3, 4)), rng.normal(size=(4, 4)), rng.normal(size=4)
    cell = load_into(torch.nn.RNNCell(3, 4, dtype=torch.float64), Wx, Wh, b)
    with torch.no_grad():
        expected = _np(cell(_t(x, "cpu"), _t(h0, "cpu")))
    module = rnn_ref.RNNCellModule(3, 4)
    assert {name: tuple(p.shape) for name, p in module.named_parameters()} == {"Wx": (3, 4), "Wh": (4, 4), "b": (4,)}
    module = module.to(torch.float64)
    with torch.no_grad():
        for name, value in (("Wx", Wx), ("Wh", Wh), ("b", b)):
            getattr(module, name).copy_(_t(value, "cpu"))
        _close(_np(module(_t(x, "cpu"), _t(h0, "cpu"))), expected)


# --------------------------------------------------------------------------- lesson 03: backpropagation through time

from autograder.reference import bptt as bptt_ref  # noqa: E402


def _torch_rnn(x, h0, Wx, Wh, b):
    states, h = [], h0
    for t in range(x.shape[1]):
        h = torch.tanh(x[:, t] @ Wx + h @ Wh + b)
        states.append(h)
    return torch.stack(states, dim=1)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("n, t, d, h", [(3, 4, 5, 2), (1, 1, 3, 3), (2, 6, 1, 4)])
def test_rnn_backward_matches_autograd(device, n, t, d, h, rng):
    x, h0 = rng.normal(size=(n, t, d)), rng.normal(size=(n, h))
    Wx, Wh, b = rng.normal(size=(d, h)), rng.normal(scale=0.5, size=(h, h)), rng.normal(size=h)
    dh = rng.normal(size=(n, t, h))
    leaves = [_t(v, device, True) for v in (x, h0, Wx, Wh, b)]
    # torch.nn.RNN holding the same weights gives the same states: the loop below is that RNN.
    rnn = load_into(torch.nn.RNN(d, h, batch_first=True, dtype=torch.float64, device=device), Wx, Wh, b)
    with torch.no_grad():
        _close(_np(_torch_rnn(*leaves)), _np(rnn(_t(x, device), _t(h0, device)[None])[0]))
    _torch_rnn(*leaves).backward(_t(dh, device))
    _, cache = bptt_ref.rnn_forward(x, h0, Wx, Wh, b)
    for mine, leaf in zip(bptt_ref.rnn_backward(dh, cache), leaves):
        _close(mine, _np(leaf.grad))
    # One step is the sequence of length one.
    _, step_cache = bptt_ref.rnn_step_forward(x[:, 0], h0, Wx, Wh, b)
    leaves = [_t(v, device, True) for v in (x[:, 0], h0, Wx, Wh, b)]
    torch.tanh(leaves[0] @ leaves[2] + leaves[1] @ leaves[3] + leaves[4]).backward(_t(dh[:, 0], device))
    for mine, leaf in zip(bptt_ref.rnn_step_backward(dh[:, 0], step_cache), leaves):
        _close(mine, _np(leaf.grad))


@pytest.mark.parametrize("device", DEVICES)
def test_temporal_affine_backward_and_softmax_loss_match_autograd(device, rng):
    x, W, b, dout = rng.normal(size=(3, 5, 4)), rng.normal(size=(4, 6)), rng.normal(size=6), rng.normal(size=(3, 5, 6))
    leaves = [_t(v, device, True) for v in (x, W, b)]
    torch.nn.functional.linear(leaves[0], leaves[1].T, leaves[2]).backward(_t(dout, device))
    for mine, leaf in zip(
        bptt_ref.temporal_affine_backward(dout, bptt_ref.temporal_affine_forward(x, W, b)[1]), leaves
    ):
        _close(mine, _np(leaf.grad))
    scores, y, mask = (
        rng.normal(scale=4, size=(3, 5, 7)) + 500,
        rng.integers(0, 7, size=(3, 5)),
        rng.random((3, 5)) < 0.6,
    )
    st = _t(scores, device, True)
    per_step = torch.nn.functional.cross_entropy(
        st.reshape(15, 7), torch.tensor(y.reshape(15), device=device), reduction="none"
    )
    loss_t = (per_step * torch.tensor(mask.reshape(15), device=device)).sum() / 3
    loss_t.backward()
    loss, dx = bptt_ref.temporal_softmax_loss(scores, y, mask)
    _close(loss, loss_t.item())
    _close(dx, _np(st.grad))


def test_clip_gradients_matches_clip_grad_norm(rng):
    grads = {"a": rng.normal(size=(3, 4)), "b": rng.normal(size=5)}
    for max_norm in (0.5, 100.0):
        parameters = [torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.float64)) for g in grads.values()]
        for p, g in zip(parameters, grads.values()):
            p.grad = torch.tensor(g)
        total = torch.nn.utils.clip_grad_norm_(parameters, max_norm)
        clipped, norm = bptt_ref.clip_gradients(grads, max_norm)
        np.testing.assert_allclose(norm, total.item(), rtol=1e-12)
        for p, name in zip(parameters, grads):  # clip_grad_norm_ adds 1e-6 to the norm
            np.testing.assert_allclose(clipped[name], _np(p.grad), rtol=1e-5)
        assert set(clipped) == set(grads) and all(clipped[k] is not grads[k] for k in grads)


@pytest.mark.parametrize("device", DEVICES)
def test_char_rnn_loss_and_tbptt_step_match_autograd(device, rng):
    V, H, N, T = 6, 4, 2, 5
    params = {
        "Wx": rng.normal(size=(V, H)),
        "Wh": rng.normal(scale=0.5, size=(H, H)),
        "b": rng.normal(size=H),
        "Wy": rng.normal(size=(H, V)),
        "by": rng.normal(size=V),
    }
    x_idx, y_idx, h0 = rng.integers(0, V, size=(N, T)), rng.integers(0, V, size=(N, T)), rng.normal(size=(N, H))
    leaves = {k: _t(v, device, True) for k, v in params.items()}
    states = _torch_rnn(
        torch.nn.functional.one_hot(torch.tensor(x_idx, device=device), V).double(),
        _t(h0, device),
        leaves["Wx"],
        leaves["Wh"],
        leaves["b"],
    )
    scores = states @ leaves["Wy"] + leaves["by"]
    loss_t = (
        torch.nn.functional.cross_entropy(
            scores.reshape(-1, V), torch.tensor(y_idx.reshape(-1), device=device), reduction="sum"
        )
        / N
    )
    loss_t.backward()
    loss, grads, h_last = bptt_ref.char_rnn_loss(params, x_idx, y_idx, h0)
    _close(loss, loss_t.item())
    _close(h_last, _np(states[:, -1]))
    for k in params:
        _close(grads[k], _np(leaves[k].grad))
    # The truncated-BPTT step: torch's clip_grad_norm_ and SGD on the same gradients.
    max_norm, lr = 0.5, 0.1
    torch.nn.utils.clip_grad_norm_(list(leaves.values()), max_norm)
    updated = {k: params[k].copy() for k in params}
    step_loss, step_h = bptt_ref.tbptt_step(updated, x_idx, y_idx, h0, lr, max_norm)
    assert step_loss == loss
    for k in params:
        np.testing.assert_allclose(updated[k], params[k] - lr * _np(leaves[k].grad), rtol=1e-5, atol=1e-7)


def test_sample_is_deterministic_and_greedy_at_low_temperature(rng):
    V, H = 7, 5
    params = {
        "Wx": rng.normal(size=(V, H)),
        "Wh": rng.normal(scale=0.5, size=(H, H)),
        "b": rng.normal(size=H),
        "Wy": rng.normal(scale=2, size=(H, V)),
        "by": rng.normal(size=V),
    }
    h0 = np.zeros((1, H))
    first = bptt_ref.sample(params, 3, h0, 30, 1.0, np.random.default_rng(5))
    assert first.dtype == np.int64 and first.shape == (30,)
    assert np.array_equal(first, bptt_ref.sample(params, 3, h0, 30, 1.0, np.random.default_rng(5)))
    # Torch's probabilities drive the same draws.
    cell = load_into(torch.nn.RNNCell(V, H, dtype=torch.float64), params["Wx"], params["Wh"], params["b"])
    draws, h, current = np.random.default_rng(5), torch.tensor(h0), 3
    with torch.no_grad():
        for expected in first:
            h = cell(torch.nn.functional.one_hot(torch.tensor([current]), V).double(), h)
            p = torch.softmax(h @ torch.tensor(params["Wy"]) + torch.tensor(params["by"]), dim=-1)[0].numpy()
            current = int(draws.choice(V, p=p / p.sum()))
            assert current == expected
    greedy, h, current = [], h0, 3
    for _ in range(30):
        h = np.tanh(np.eye(V)[[current]] @ params["Wx"] + h @ params["Wh"] + params["b"])
        current = int(np.argmax(h @ params["Wy"] + params["by"]))
        greedy.append(current)
    assert np.array_equal(bptt_ref.sample(params, 3, h0, 30, 1e-4, np.random.default_rng(0)), greedy)
