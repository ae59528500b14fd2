"""Hidden checks for lesson 03: random shapes, edge cases (one step, a batch of one,
D != H and D == H) and the NumPy references."""
from __future__ import annotations

import functools

import numpy as np

from ..checks import bptt as visible
from . import hidden_check, lesson_reference

#: Shapes (N, T, D, H) always tried besides the random ones: one time step, a batch of one,
#: one input feature, and a square case (D == H) where a transposed weight cannot crash.
EDGE_SHAPES = [(1, 1, 3, 2), (2, 1, 1, 4), (1, 5, 4, 3), (3, 4, 4, 4), (2, 3, 5, 5)]
RANDOM_CASES = 3
#: sample's temperatures, cycled through by case: below, at and above 1
TEMPERATURES = (0.3, 1.6, 1.0, 0.7)


_reference = functools.partial(lesson_reference, __name__)


def _shapes(rng: np.random.Generator):
    return EDGE_SHAPES + [tuple(int(v) for v in rng.integers(1, 7, size=4)) for _ in range(RANDOM_CASES)]


def _weights(rng, d, h):
    Wx = rng.normal(scale=1 / np.sqrt(d), size=(d, h))
    Wh = rng.normal(scale=1 / np.sqrt(h), size=(h, h))
    return Wx, Wh, rng.normal(scale=0.5, size=h)


@hidden_check("rnn_step_forward", "rnn_step_backward")
def rnn_step_backward(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for n, _, d, h in _shapes(rng):
        visible.compare_rnn_step_backward(report, *functions, rng.normal(size=(n, d)), np.tanh(rng.normal(size=(n, h))),
                                          *_weights(rng, d, h), rng.normal(size=(n, h)),
                                          reference=ref and (ref.rnn_step_forward, ref.rnn_step_backward), numeric=False)


@hidden_check("rnn_forward", "rnn_backward")
def rnn_backward(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for case, (n, t, d, h) in enumerate(_shapes(rng)):
        # Every other case has an upstream gradient at the last step only (the classic
        # many-to-one case), where a dropped carry leaves every earlier step at zero.
        dh = rng.normal(size=(n, t, h))
        if case % 2:  # by index, not by coin: each kind of case must always be there
            dh[:, :-1] = 0.0
        visible.compare_rnn_backward(report, *functions, rng.normal(size=(n, t, d)), np.tanh(rng.normal(size=(n, h))),
                                     *_weights(rng, d, h), dh,
                                     reference=ref and (ref.rnn_forward, ref.rnn_backward), numeric=False)


@hidden_check("temporal_affine_forward", "temporal_affine_backward")
def temporal_affine_backward(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for n, t, h, m in _shapes(rng):
        visible.compare_temporal_affine_backward(report, *functions, rng.normal(size=(n, t, h)), rng.normal(size=(h, m)),
                                                 rng.normal(size=m), rng.normal(size=(n, t, m)),
                                                 reference=ref and (ref.temporal_affine_forward, ref.temporal_affine_backward),
                                                 numeric=False)


@hidden_check("temporal_softmax_loss")
def temporal_softmax_loss(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for case, (n, t, _, v) in enumerate(_shapes(rng)):
        v = v + 1
        x = rng.normal(scale=3.0, size=(n, t, v)) + (900.0 if case % 2 else 0.0)  # every other case far from 0
        mask = rng.random((n, t)) < 0.6
        mask[0, 0] = True
        if case == 0:
            mask[:] = True
        visible.compare_temporal_softmax_loss(report, *functions, x, rng.integers(0, v, size=(n, t)), mask,
                                              reference=ref and ref.temporal_softmax_loss)


@hidden_check("clip_gradients_arrays")
def clip_gradients(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for case, (n, t, d, h) in enumerate(_shapes(rng)):
        grads = [rng.normal(size=(d, h)), rng.normal(size=(h, h)), rng.normal(size=h)][: 1 + case % 3]
        total = float(np.sqrt(sum(np.sum(g**2) for g in grads)))
        max_norm = total * (rng.uniform(0.1, 0.9) if case % 2 == 0 else rng.uniform(1.1, 3.0))
        visible.compare_clip_gradients(report, *functions, grads, max_norm, reference=ref and ref.clip_gradients_arrays)


@hidden_check("char_rnn_loss_arrays")
def char_rnn_loss(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for n, t, v, h in _shapes(rng)[:6]:
        visible.compare_char_rnn_loss(report, *functions, *visible._char_inputs(rng, n, t, v + 1, h),
                                      reference=ref and ref.char_rnn_loss_arrays, numeric=False)


@hidden_check("tbptt_step_arrays")
def tbptt_step(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for n, t, v, h in _shapes(rng)[:5]:
        params, chunks, h0 = visible._tbptt_inputs(rng, n, t, v + 1, h, chunks=3)
        # Scaled up so that clipping is active in some chunks and not in others.
        params = {k: p * rng.uniform(0.5, 3.0) for k, p in params.items()}
        visible.compare_tbptt_step(report, *functions, params, chunks, h0, float(rng.uniform(0.05, 0.5)),
                                   float(rng.uniform(0.5, 3.0)), reference=ref and ref.tbptt_step_arrays)


@hidden_check("sample_arrays")
def sample(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for case, (_, t, v, h) in enumerate(_shapes(rng)[:6]):
        v = v + 2
        params = visible._sample_params(rng, v, h)
        h0 = np.tanh(rng.normal(size=(1, h)))
        seed_idx, seed, length = int(rng.integers(v)), int(rng.integers(2**31)), int(t + 5)
        visible.compare_sample(report, *functions, params, seed_idx, h0, length, TEMPERATURES[case % len(TEMPERATURES)], seed,
                               reference=ref and ref.sample_arrays, label="idx")
        visible.compare_greedy_limit(report, *functions, params, seed_idx, h0, length, seed)
