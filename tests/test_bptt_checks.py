"""Lesson 03's visible sample check compares with fixed expected draws (a sampler on the
student's side would answer the exercise): those values, and the draws of each known
mistake that give the hints, must be what the grader's reference and mistakes draw now."""
from __future__ import annotations

import numpy as np
import pytest

from course.checks import bptt as visible
from autograder.hidden import bptt as hidden
from autograder.reference import bptt as ref


def _draws(temperature, mistake=None):
    args = (visible._sample_params(), visible.SAMPLE_SEED_IDX, visible._sample_h0(), visible.SAMPLE_LENGTH)
    return tuple(int(i) for i in hidden.sample_draws(ref, *args, temperature, visible.SAMPLE_SEED, mistake))


@pytest.mark.parametrize("temperature", visible.SAMPLE_TEMPERATURES)
def test_fixed_draws_are_the_references(temperature):
    assert visible.SAMPLE_EXPECTED[temperature] == _draws(temperature)


@pytest.mark.parametrize("mistake", sorted(hidden.MISTAKES))
def test_fixed_mistake_draws_match_the_grader_side_mistakes(mistake):
    hint = hidden.MISTAKES[mistake]
    assert set(visible.SAMPLE_MISTAKES) == set(hidden.MISTAKES.values())
    for temperature in visible.SAMPLE_TEMPERATURES:
        assert visible.SAMPLE_MISTAKES[hint][temperature] == _draws(temperature, mistake)
    # Each mistake shows at some temperature of the visible check (else its hint never fires).
    assert any(visible.SAMPLE_MISTAKES[hint][t] != visible.SAMPLE_EXPECTED[t] for t in visible.SAMPLE_TEMPERATURES)


def test_the_reference_sampler_passes_the_fixed_values():
    visible.sample(ref.sample_arrays)


def test_greedy_limit_is_not_a_constant_sequence():
    # A constant argmax sequence would let a sampler that drops its state pass the T -> 0 line.
    greedy = visible.SAMPLE_EXPECTED[min(visible.SAMPLE_TEMPERATURES)]
    assert len(set(greedy)) > 1
    assert np.any(np.array(visible.SAMPLE_MISTAKES[hidden.MISTAKES["drops_state"]][min(visible.SAMPLE_TEMPERATURES)]) != greedy)
