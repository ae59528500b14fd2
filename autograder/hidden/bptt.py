"""Hidden checks for lesson 03: random shapes, edge cases (one step, a batch of one,
D != H and D == H, a nonzero initial state, fully masked sequences and steps, large
scores) and the NumPy references.

This module is on the grader's side: it may hold answer code. The cases come from the
visible checks' case builders, drawn from the grading rng. The record carries what a
backward changes in its cache, so a backward that changes its cache in place is caught
here as in the visible checks. The
known mistakes whose values need answer code (a gradient through Wh untransposed, dWh from
the wrong state, a walk through time the wrong way, the sampler's mistakes) are named with
the catalog's own variants and hints (``autograder.mistakes.bptt``), imported only when the
references are there (never in a learner's kernel). Every kind of case is chosen by index,
not by a coin, so that a verdict never depends on the grading seed.
"""

from __future__ import annotations

import functools
import importlib

import numpy as np

from course.checks import bptt as visible

from . import hidden_check, lesson_reference

#: Shapes (N, T, D, H) always tried besides the random ones: one time step, a batch of one,
#: one input feature, and a square case (D == H) where a transposed weight cannot crash.
EDGE_SHAPES = [(1, 1, 3, 2), (2, 1, 1, 4), (1, 5, 4, 3), (3, 4, 4, 4), (2, 3, 5, 5)]
RANDOM_CASES = 3
#: sample's temperatures, cycled through by case: below, at and above 1
TEMPERATURES = (0.3, 1.6, 1.0, 0.7)

#: The catalog's variants that the hidden checks name when a learner's values match theirs.
NAMED_MISTAKES = {
    "rnn_step_backward": ("Wh_not_transposed", "dWh_from_next_h"),
    "rnn_backward": ("forward_in_time", "skips_first_step", "last_dh_only"),
    "sample": ("ignores_temperature", "multiplies", "feeds_argmax", "resets_state", "ignores_h0", "includes_seed"),
}


_reference = functools.partial(lesson_reference, __name__)


def _catalog(with_reference: bool):
    """The catalog of known mistakes, on the grader's side only (like the references)."""
    return importlib.import_module("autograder.mistakes.bptt") if with_reference else None


def named_mistakes(catalog, check: str) -> list:
    """The catalog's variants of ``check`` that the hidden check names (NAMED_MISTAKES)."""
    return [wrong for wrong in catalog.VARIANTS[check] if wrong.name in NAMED_MISTAKES[check]]


def backward_mistakes(catalog, check: str, names, case) -> dict:
    """{quantity: {hint: value}}: what each named mistake of a backward check returns on
    ``case`` (the forward's arguments, then the upstream gradient), where that differs from
    the right value."""
    *args, upstream = case

    def run(functions):
        forward, backward = functions
        return backward(np.copy(upstream), forward(*(np.copy(a) for a in args))[1])

    right = run(catalog.CORRECT[check])
    found: dict = {}
    for wrong in named_mistakes(catalog, check):
        for name, value, expected in zip(names, run(wrong.functions), right):
            if not np.allclose(value, expected, rtol=1e-9, atol=1e-12):
                found.setdefault(name, {})[wrong.hint] = value
    return found


def _shapes(rng: np.random.Generator):
    return EDGE_SHAPES + [tuple(int(v) for v in rng.integers(1, 7, size=4)) for _ in range(RANDOM_CASES)]


# ------------------------------------------------------------------ the hidden checks


@hidden_check("rnn_step_forward", "rnn_step_backward")
def rnn_step_backward(report, functions, rng, with_reference):
    ref, catalog = _reference(with_reference), _catalog(with_reference)
    for n, _, d, h in _shapes(rng):
        case = visible.step_case(rng, n, d, h)
        visible.compare_backward(
            report,
            visible.STEP,
            *functions,
            case,
            numeric=False,
            reference=ref and (ref.rnn_step_forward, ref.rnn_step_backward),
            mistakes=catalog and backward_mistakes(catalog, "rnn_step_backward", visible.STEP_NAMES, case),
        )


@hidden_check("rnn_forward", "rnn_backward")
def rnn_backward(report, functions, rng, with_reference):
    ref, catalog = _reference(with_reference), _catalog(with_reference)
    for index, (n, t, d, h) in enumerate(_shapes(rng)):
        case = visible.sequence_case(rng, n, t, d, h)
        # Every other case has an upstream gradient at the last step only (the classic
        # many-to-one case), where a dropped carry leaves every earlier step at zero.
        if index % 2:  # by index, not by coin: each kind of case must always be there
            case[-1][:, :-1] = 0.0
        visible.compare_backward(
            report,
            visible.SEQUENCE,
            *functions,
            case,
            numeric=False,
            reference=ref and (ref.rnn_forward, ref.rnn_backward),
            mistakes=catalog and backward_mistakes(catalog, "rnn_backward", visible.SEQ_NAMES, case),
        )


@hidden_check("temporal_affine_forward", "temporal_affine_backward")
def temporal_affine_backward(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for n, t, h, m in _shapes(rng):
        visible.compare_backward(
            report,
            visible.AFFINE,
            *functions,
            visible.affine_case(rng, n, t, h, m),
            numeric=False,
            reference=ref and (ref.temporal_affine_forward, ref.temporal_affine_backward),
        )


@hidden_check("temporal_softmax_loss")
def temporal_softmax_loss(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for index, (n, t, _, v) in enumerate(_shapes(rng)):
        scores, y, mask = visible.loss_case(rng, n, t, v + 1)
        if index == 0:
            mask[:] = True
        if index % 3 == 1:  # a fully masked sequence (when there are two) and a fully masked step
            mask[-1] = n == 1
            mask[:, -1] = t == 1
        visible.compare_temporal_softmax_loss(
            report, *functions, scores, y, mask, reference=ref and ref.temporal_softmax_loss
        )
        if index % 2 == 0:  # large scores: shifted, on very different scales, a large wrong margin
            cases = visible.stability_cases(scores, y, visible.score_offsets(rng, n, t))
            visible.compare_large_scores(
                report, *functions, scores, y, mask, cases, reference=ref and ref.temporal_softmax_loss
            )


@hidden_check("clip_gradients", harness=visible.clip_gradients_harness)
def clip_gradients(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for index, (_, _, d, h) in enumerate(_shapes(rng)):
        grads = visible.clip_case(rng, d, h)[: 1 + index % 3]
        total = visible.global_norm(grads)
        max_norm = total * (rng.uniform(0.1, 0.9) if index % 2 == 0 else rng.uniform(1.1, 3.0))
        visible.compare_clip_gradients(
            report, *functions, grads, max_norm, reference=ref and visible.clip_gradients_harness(ref.clip_gradients)[0]
        )


@hidden_check("char_rnn_loss", harness=visible.char_rnn_loss_harness)
def char_rnn_loss(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for n, t, v, h in _shapes(rng)[:6]:
        visible.compare_char_rnn_loss(
            report,
            *functions,
            *visible.char_case(rng, n, t, v + 1, h),
            numeric=False,
            reference=ref and visible.char_rnn_loss_harness(ref.char_rnn_loss)[0],
        )


@hidden_check("tbptt_step", harness=visible.tbptt_step_harness)
def tbptt_step(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for index, (n, t, v, h) in enumerate(_shapes(rng)[:5]):
        params, chunks, h0 = visible.tbptt_case(rng, n, t, v + 1, h, chunks=3)
        # max_norm from the first chunk's own gradient norm: clipping is active there in every
        # case but one, where it is not (by construction, not by chance).
        model = visible.char_model_oracle(params, *chunks[0], h0)
        norm = visible.global_norm(model[f"d{p}"] for p in visible.PARAM_NAMES)
        max_norm = norm * (4.0 if index == 2 else float(rng.uniform(0.2, 0.7)))
        visible.compare_tbptt_step(
            report,
            *functions,
            params,
            chunks,
            h0,
            float(rng.uniform(0.05, 0.5)),
            max_norm,
            reference=ref and visible.tbptt_step_harness(ref.tbptt_step)[0],
        )


@hidden_check("sample", harness=visible.sample_harness)
def sample(report, functions, rng, with_reference):
    ref, catalog = _reference(with_reference), _catalog(with_reference)
    for index, (_, t, v, h) in enumerate(_shapes(rng)[:6]):
        params, h0 = visible.sample_case(rng, v + 2, h)
        seed_idx, seed, length = int(rng.integers(v + 2)), int(rng.integers(2**31)), int(t + 5)
        for temperature in (TEMPERATURES[index % len(TEMPERATURES)], 1e-4):
            label = "T->0" if temperature < 0.01 else "idx"
            idx = visible.call_sample(report, *functions, params, seed_idx, h0, length, temperature, seed, label)
            if idx is None or ref is None:
                continue  # recording in a learner's kernel: the grader compares on replay
            arguments = (params, seed_idx, h0, length, temperature, seed)
            suspects = {
                wrong.hint: _draws(wrong.functions[0], *arguments) for wrong in named_mistakes(catalog, "sample")
            }
            visible.compare_sample_draws(report, idx, _draws(ref.sample, *arguments), label, suspects, "reference")


def _draws(sampler, params, seed_idx, h0, length, temperature, seed):
    """A sampler of the learner's form (the reference, a known mistake) with the Generator of ``seed``."""
    return sampler(params, seed_idx, h0.copy(), length, temperature, np.random.default_rng(seed))
