"""Lesson 03's visible sample check compares with fixed expected draws (a sampler on the
student's side would answer the exercise): those values, and the draws of each known
mistake that give the hints, must be what the grader's reference and the catalog of known
mistakes draw now. The harnesses, which stand where the notebook's adapter cells stood,
hold no answer and turn a learner's broken return into a plain failure."""

from __future__ import annotations

import inspect
import json

import numpy as np
import pytest

from autograder import COURSE_ROOT
from autograder.hidden import bptt as hidden
from autograder.mistakes import bptt as catalog
from autograder.reference import bptt as ref
from course.checks import bptt as visible

NAMED_SAMPLERS = hidden.named_mistakes(catalog, "sample")


def _draws(temperature, sampler=ref.sample):
    params, h0 = visible.sample_case()
    rng = np.random.default_rng(visible.SAMPLE_SEED)
    return tuple(int(i) for i in sampler(params, visible.SAMPLE_SEED_IDX, h0, visible.SAMPLE_LENGTH, temperature, rng))


@pytest.mark.parametrize("temperature", visible.SAMPLE_TEMPERATURES)
def test_fixed_draws_are_the_references(temperature):
    assert visible.SAMPLE_EXPECTED[temperature] == _draws(temperature)


def test_the_fixed_mistakes_are_the_ones_the_hidden_check_names():
    assert set(visible.SAMPLE_MISTAKES) == {wrong.hint for wrong in NAMED_SAMPLERS}
    assert len(NAMED_SAMPLERS) == len(hidden.NAMED_MISTAKES["sample"])


@pytest.mark.parametrize("wrong", NAMED_SAMPLERS, ids=lambda wrong: wrong.name)
def test_fixed_mistake_draws_are_the_catalogs(wrong):
    for temperature in visible.SAMPLE_TEMPERATURES:
        assert visible.SAMPLE_MISTAKES[wrong.hint][temperature] == _draws(temperature, wrong.functions[0])
    # Each mistake shows at some temperature of the visible check (else its hint never fires).
    assert any(
        visible.SAMPLE_MISTAKES[wrong.hint][t] != visible.SAMPLE_EXPECTED[t] for t in visible.SAMPLE_TEMPERATURES
    )


@pytest.mark.parametrize("check", sorted(hidden.NAMED_MISTAKES))
def test_every_named_mistake_is_in_the_catalog(check):
    assert {wrong.name for wrong in hidden.named_mistakes(catalog, check)} == set(hidden.NAMED_MISTAKES[check])


def test_the_reference_sampler_passes_the_fixed_values():
    visible.sample(ref.sample)


def test_greedy_limit_is_not_a_constant_sequence():
    # A constant argmax sequence would let a sampler that drops its state pass the T -> 0 line.
    greedy = visible.SAMPLE_EXPECTED[min(visible.SAMPLE_TEMPERATURES)]
    assert len(set(greedy)) > 1
    drops_state = next(wrong for wrong in NAMED_SAMPLERS if wrong.name == "resets_state")
    assert np.any(np.array(visible.SAMPLE_MISTAKES[drops_state.hint][min(visible.SAMPLE_TEMPERATURES)]) != greedy)


@pytest.mark.parametrize(
    "check, returned",
    [
        ("clip_gradients", None),
        ("clip_gradients", ({"grad0": np.zeros(1)}, 1.0)),  # the wrong keys
        ("char_rnn_loss", (1.0, {"Wx": np.zeros(1)})),
        ("char_rnn_loss", (1.0, [np.zeros(1)] * 5, np.zeros(1))),  # grads not a dict
        ("tbptt_step", 1.0),
    ],
)
def test_a_broken_return_fails_plainly_through_the_harness(check, returned):
    def learner(*args):
        return returned

    with pytest.raises(AssertionError, match=f"{check} should return"):
        getattr(visible, check)(learner)


def test_harnesses_hold_no_answer():
    # A harness only calls what it is given: with a function that returns its arguments'
    # containers, nothing it returns is computed by the harness itself.
    calls = []

    def spy(*args):
        calls.append(args)
        raise NotImplementedError

    for check in ("clip_gradients", "char_rnn_loss", "tbptt_step", "sample"):
        with pytest.raises(AssertionError, match="NotImplementedError"):
            getattr(visible, check)(spy)
    assert len(calls) == 4
    # The params the learner's char_rnn_loss and sample get are the caller's arrays (an
    # in-place change shows); tbptt_step's are copies it may update in place.
    seen = {}

    def keeps(params, *rest):
        seen["params"] = params
        raise NotImplementedError

    (arrays,) = visible.char_rnn_loss_harness(keeps)
    weights = [np.ones(2) for _ in visible.PARAM_NAMES]
    with pytest.raises(NotImplementedError):
        arrays(*weights, None, None, None)
    assert all(seen["params"][name] is w for name, w in zip(visible.PARAM_NAMES, weights))
    (arrays,) = visible.tbptt_step_harness(keeps)
    with pytest.raises(NotImplementedError):
        arrays(*weights, None, None, None, 0.1, 1.0)
    assert all(seen["params"][name] is not w for name, w in zip(visible.PARAM_NAMES, weights))


@pytest.mark.parametrize(
    "check, wrong",
    [(check, wrong) for check in sorted(hidden.NAMED_MISTAKES) for wrong in hidden.named_mistakes(catalog, check)],
    ids=lambda value: getattr(value, "name", value),
)
def test_the_hidden_check_names_the_catalogs_mistake(check, wrong, capsys):
    with pytest.raises(AssertionError) as failure:
        getattr(hidden, check)(*wrong.functions, seed=0)
    assert wrong.hint in str(failure.value)


def test_the_loss_takes_scores_everywhere():
    # One name for the output layer's scores: the notebook's stub (both copies), the reference
    # and every known-wrong variant take (scores, y, mask), and the check calls the gradient dscores.
    expected = ["scores", "y", "mask"]
    functions = [ref.temporal_softmax_loss] + [w.functions[0] for w in catalog.VARIANTS["temporal_softmax_loss"]]
    for function in functions:
        assert list(inspect.signature(function).parameters) == expected, function.__name__
    for folder in ("solutions", "lessons"):
        notebook = json.loads((COURSE_ROOT / folder / "03_bptt" / "bptt.ipynb").read_text())
        sources = ["".join(cell["source"]) for cell in notebook["cells"]]
        assert any(source.startswith("def temporal_softmax_loss(scores, y, mask):") for source in sources), folder
    report = visible.Report("temporal_softmax_loss", quiet=True)
    visible.compare_temporal_softmax_loss(report, ref.temporal_softmax_loss, *visible.loss_case())
    assert {"loss", "dscores", "dscores dtype"} <= {line.quantity for line in report.lines}
