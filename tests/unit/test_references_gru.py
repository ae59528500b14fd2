"""Lesson 05's NumPy references against torch.nn.GRUCell and torch.nn.GRU(batch_first=True):
forward values and autograd gradients, on the CPU and on CUDA when present."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from autograder.reference import gru as ref
from course.torch_layout import load_into
from tests.unit.devices import DEVICES


def _weights(rng, D, H):
    return (
        rng.normal(scale=0.5, size=(D, 3 * H)),
        rng.normal(scale=0.5, size=(H, 3 * H)),
        rng.normal(scale=0.5, size=3 * H),
        rng.normal(scale=0.5, size=3 * H),
    )


def _torch(module, x, h0, Wx, Wh, bx, bh, dout, device, suffix):
    module = load_into(module.to(device=device, dtype=torch.float64), Wx, Wh, bx=bx, bh=bh)
    xt = torch.tensor(x, device=device, requires_grad=True)
    ht = torch.tensor(h0, device=device, requires_grad=True)
    out = module(xt, ht[None])[0] if suffix else module(xt, ht)
    out.backward(torch.tensor(dout, device=device))
    p = {n: getattr(module, n + suffix).grad.cpu().numpy() for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    grads = (
        xt.grad.cpu().numpy(),
        ht.grad.cpu().numpy(),
        p["weight_ih"].T,
        p["weight_hh"].T,
        p["bias_ih"],
        p["bias_hh"],
    )
    return out.detach().cpu().numpy(), grads


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("N, D, H", [(3, 4, 5), (1, 2, 2), (4, 6, 3)])
def test_gru_step_matches_grucell(device, N, D, H):
    rng = np.random.default_rng(N * 100 + D * 10 + H)
    x, h, dnext = rng.normal(size=(N, D)), rng.normal(size=(N, H)), rng.normal(size=(N, H))
    W = _weights(rng, D, H)
    next_h, cache = ref.gru_step_forward(x, h, *W)
    expected, grads = _torch(torch.nn.GRUCell(D, H), x, h, *W, dnext, device, "")
    np.testing.assert_allclose(next_h, expected, rtol=1e-10, atol=1e-12)
    for mine, theirs in zip(ref.gru_step_backward(dnext, cache), grads):
        np.testing.assert_allclose(mine, theirs, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("N, T, D, H", [(2, 5, 3, 4), (1, 1, 2, 3), (3, 7, 4, 4)])
def test_gru_sequence_matches_gru(device, N, T, D, H):
    rng = np.random.default_rng(N * 1000 + T * 100 + D * 10 + H)
    x, h0, dh = rng.normal(size=(N, T, D)), rng.normal(size=(N, H)), rng.normal(size=(N, T, H))
    W = _weights(rng, D, H)
    h, cache = ref.gru_forward(x, h0, *W)
    expected, grads = _torch(torch.nn.GRU(D, H, batch_first=True), x, h0, *W, dh, device, "_l0")
    np.testing.assert_allclose(h, expected, rtol=1e-10, atol=1e-12)
    for mine, theirs in zip(ref.gru_backward(dh, cache), grads):
        np.testing.assert_allclose(mine, theirs, rtol=1e-9, atol=1e-11)


def test_gru_forward_is_the_step_unrolled():
    rng = np.random.default_rng(5)
    x, h0, W = rng.normal(size=(2, 4, 3)), rng.normal(size=(2, 5)), _weights(rng, 3, 5)
    h, _ = ref.gru_forward(x, h0, *W)
    prev = h0
    for t in range(4):
        prev, _ = ref.gru_step_forward(x[:, t], prev, *W)
        np.testing.assert_array_equal(h[:, t], prev)


def test_step_cache_has_the_documented_layout():
    # (x, prev_h, Wx, Wh, r, z, n, hn) with hn = prev_h Wh_n + bh_n: the layout gru_step_forward's docstring states.
    rng = np.random.default_rng(11)
    x, h, W = rng.normal(size=(2, 3)), rng.normal(size=(2, 4)), _weights(rng, 3, 4)
    Wx, Wh, bx, bh = W
    _, cache = ref.gru_step_forward(x, h, *W)
    xp, hp = torch.tensor(x @ Wx + bx), torch.tensor(h @ Wh + bh)
    r, z = torch.sigmoid(xp[:, :4] + hp[:, :4]), torch.sigmoid(xp[:, 4:8] + hp[:, 4:8])
    n = torch.tanh(xp[:, 8:] + r * hp[:, 8:])
    for ours, theirs in zip(cache, (x, h, Wx, Wh, r, z, n, hp[:, 8:]), strict=True):
        np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-12, atol=1e-15)
