"""The NumPy references agree with PyTorch (float64) on random inputs, on the CPU and,
when a GPU is present, on CUDA. Hidden checks trust the references, so they are tested
against the framework independently of any check."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from autograder.reference import fc_layers as ref
from autograder.torch_layout import load_into, torch_weights

DEVICES = [
    "cpu",
    pytest.param("cuda", marks=[pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")]),
]
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
    for mine, theirs in zip(ref.affine_backward(dout, ref.affine_forward(x, W, b)[1]), ref.affine_gradients_autograd(x, W, b, dout)):
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
