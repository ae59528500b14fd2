"""Lesson 04's NumPy references against PyTorch: torch.nn.LSTMCell and torch.nn.LSTM for the
forward passes, autograd through them for the backward passes, on the CPU and on CUDA when present."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autograder.reference import lstm as ref
from course.torch_layout import load_into
from tests.unit.devices import DEVICES


def _weights(rng, D, H):
    return (
        rng.normal(scale=0.5, size=(D, 4 * H)),
        rng.normal(scale=0.5, size=(H, 4 * H)),
        rng.normal(scale=0.5, size=4 * H),
    )


def _t(value, device, grad=False):
    return torch.tensor(value, dtype=torch.float64, device=device, requires_grad=grad)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("N, D, H", [(1, 3, 2), (4, 5, 3), (2, 4, 4)])
def test_step_matches_lstm_cell(device, N, D, H):
    rng = np.random.default_rng(N * 100 + D * 10 + H)
    x, h, c = rng.normal(size=(N, D)), rng.normal(size=(N, H)), rng.normal(size=(N, H))
    Wx, Wh, b = _weights(rng, D, H)
    dnext_h, dnext_c = rng.normal(size=(N, H)), rng.normal(size=(N, H))
    next_h, next_c, cache = ref.lstm_step_forward(x, h, c, Wx, Wh, b)
    dx, dh, dc, dWx, dWh, db = ref.lstm_step_backward(dnext_h, dnext_c, cache)

    cell = load_into(torch.nn.LSTMCell(D, H).to(device=device, dtype=torch.float64), Wx, Wh, b)
    xt, ht, ct = _t(x, device, True), _t(h, device, True), _t(c, device, True)
    th, tc = cell(xt, (ht, ct))
    ((th * _t(dnext_h, device)).sum() + (tc * _t(dnext_c, device)).sum()).backward()
    np.testing.assert_allclose(next_h, th.detach().cpu().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(next_c, tc.detach().cpu().numpy(), rtol=1e-10, atol=1e-12)
    for ours, theirs in (
        (dx, xt.grad),
        (dh, ht.grad),
        (dc, ct.grad),
        (dWx, cell.weight_ih.grad.T),
        (dWh, cell.weight_hh.grad.T),
        (db, cell.bias_ih.grad),
    ):
        np.testing.assert_allclose(ours, theirs.cpu().numpy(), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("N, T, D, H", [(1, 1, 3, 2), (3, 6, 4, 5), (2, 4, 3, 3)])
def test_sequence_matches_lstm(device, N, T, D, H):
    rng = np.random.default_rng(N * 1000 + T * 100 + D * 10 + H)
    x, h0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, H))
    Wx, Wh, b = _weights(rng, D, H)
    dh = rng.normal(size=(N, T, H))
    h, cache = ref.lstm_forward(x, h0, Wx, Wh, b)
    dx, dh0, dWx, dWh, db = ref.lstm_backward(dh, cache)

    layer = load_into(torch.nn.LSTM(D, H, batch_first=True).to(device=device, dtype=torch.float64), Wx, Wh, b)
    xt, h0t = _t(x, device, True), _t(h0[None], device, True)
    out, _ = layer(xt, (h0t, torch.zeros_like(h0t)))
    (out * _t(dh, device)).sum().backward()
    np.testing.assert_allclose(h, out.detach().cpu().numpy(), rtol=1e-10, atol=1e-12)
    for ours, theirs in (
        (dx, xt.grad),
        (dh0, h0t.grad[0]),
        (dWx, layer.weight_ih_l0.grad.T),
        (dWh, layer.weight_hh_l0.grad.T),
        (db, layer.bias_ih_l0.grad),
    ):
        np.testing.assert_allclose(ours, theirs.cpu().numpy(), rtol=1e-9, atol=1e-11)


def test_module_matches_step():
    rng = np.random.default_rng(7)
    x, h, c = rng.normal(size=(3, 4)), rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    Wx, Wh, b = _weights(rng, 4, 2)
    module = ref.LSTMCellModule(4, 2).to(torch.float64)
    with torch.no_grad():
        for name, value in (("Wx", Wx), ("Wh", Wh), ("b", b)):
            getattr(module, name).copy_(torch.from_numpy(value))
        next_h, next_c = module(torch.from_numpy(x), torch.from_numpy(h), torch.from_numpy(c))
    expected = ref.lstm_step_forward(x, h, c, Wx, Wh, b)
    np.testing.assert_allclose(next_h.numpy(), expected[0], rtol=1e-12)
    np.testing.assert_allclose(next_c.numpy(), expected[1], rtol=1e-12)


def test_step_cache_has_the_documented_layout():
    # (x, prev_h, prev_c, Wx, Wh, i, f, g, o, next_c): the layout lstm_step_forward's docstring states,
    # which the checks verify field by field and the known-wrong step backwards unpack.
    rng = np.random.default_rng(11)
    x, h, c = rng.normal(size=(2, 3)), rng.normal(size=(2, 4)), rng.normal(size=(2, 4))
    Wx, Wh, b = _weights(rng, 3, 4)
    _, next_c, cache = ref.lstm_step_forward(x, h, c, Wx, Wh, b)
    a = torch.tensor(x @ Wx + h @ Wh + b)
    ai, af, ag, ao = a.chunk(4, dim=1)
    expected = (x, h, c, Wx, Wh, torch.sigmoid(ai), torch.sigmoid(af), torch.tanh(ag), torch.sigmoid(ao), next_c)
    assert len(cache) == len(expected)
    for ours, theirs in zip(cache, expected):
        np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-12, atol=1e-15)
    _, sequence_cache = ref.lstm_forward(x[:, None], h, Wx, Wh, b)
    assert all(len(step) == len(expected) for step in sequence_cache)
