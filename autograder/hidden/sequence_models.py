"""Hidden checks for lesson 06: random sizes and values, with the edge cases always present by
case index (a sequence of length one, a row that fills the batch, a padded row, a batch of one,
a one-step window) and the references as a further oracle."""
from __future__ import annotations

import functools

import numpy as np

from ..checks import sequence_models as visible
from . import hidden_check, lesson_reference

_reference = functools.partial(lesson_reference, __name__)


def _lengths(rng, case, N, T):
    """Lengths in 1..T with, by index: row 0 full (T), the last row of length 1 (when N > 1),
    row 1 padded (when N > 2); every third case has all rows full."""
    lengths = rng.integers(1, T + 1, size=N)
    lengths[0] = T
    if case % 3 == 2:
        lengths[:] = T
        return lengths
    if N > 1:
        lengths[-1] = 1
    if N > 2 and T > 1:
        lengths[1] = rng.integers(1, T)
    return lengths


@hidden_check("pad_sequences")
def pad_sequences(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    shapes = [(1, 1), (3, 4), (5, 7), (2, 1)] + [(int(rng.integers(2, 7)), int(rng.integers(2, 9))) for _ in range(3)]
    for case, (N, T) in enumerate(shapes):
        lengths = _lengths(rng, case, N, T)
        seqs = [rng.integers(1, 50, size=int(n)) for n in lengths]
        pad_value = (0, -1, 99)[case % 3]
        visible.compare_pad_sequences(report, *functions, seqs, pad_value, reference=ref and ref.pad_sequences)


@hidden_check("length_mask")
def length_mask(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    shapes = [(1, 1), (3, 4), (4, 6), (2, 1)] + [(int(rng.integers(2, 7)), int(rng.integers(2, 9))) for _ in range(3)]
    for case, (N, T) in enumerate(shapes):
        visible.compare_length_mask(report, *functions, _lengths(rng, case, N, T), T, reference=ref and ref.length_mask)


@hidden_check("make_windows")
def make_windows(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    cases = [(5, 1, 1), (8, 3, 2), (12, 4, 3), (6, 5, 1)] + [(int(rng.integers(6, 15)), int(rng.integers(1, 5)), int(rng.integers(1, 4)))
                                                            for _ in range(3)]
    for T, window, F in cases:
        series = rng.normal(size=(T, F))
        target = rng.normal(size=T)
        visible.compare_make_windows(report, *functions, series, target, window, reference=ref and ref.make_windows)


@hidden_check("persistence_forecast")
def persistence_forecast(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    cases = [(4, 1), (9, 3), (7, 6), (12, 2)] + [(int(rng.integers(6, 15)), int(rng.integers(2, 5))) for _ in range(3)]
    for T, window in cases:
        visible.compare_persistence(report, *functions, rng.normal(size=T), window, reference=ref and ref.persistence_forecast)


@hidden_check("accuracy", "confusion_matrix", "mean_absolute_error")
def metrics(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    cases = [(7, 3), (4, 5), (10, 2)] + [(int(rng.integers(3, 12)), int(rng.integers(2, 6))) for _ in range(3)]
    for N, C in cases:
        if N == C:
            N += 1  # N != C: an argmax over the wrong axis must show
        logits = rng.normal(size=(N, C))
        labels = rng.integers(0, C, size=N)
        labels[0] = int(np.argmax(logits[0]))  # at least one right,
        labels[1] = (int(np.argmax(logits[1])) + 1) % C  # and one wrong: the confusion matrix is not symmetric
        y_true = rng.normal(size=N)
        y_pred = y_true + rng.normal(size=N)
        y_pred[0], y_pred[1] = y_true[0] + 1.5, y_true[1] - 0.5  # errors of both signs, one above and one below 1
        visible.compare_metrics(report, *functions, logits, labels, C, y_true, y_pred, reference=ref)


@hidden_check("intent_classifier_forward")
def intent_classifier(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    cases = [(1, 1), (1, 4), (3, 5), (4, 3)] + [(int(rng.integers(2, 6)), int(rng.integers(2, 7))) for _ in range(2)]
    for case, (N, T) in enumerate(cases):
        V, E, H, C = int(rng.integers(3, 12)), int(rng.integers(1, 5)), int(rng.integers(1, 5)), int(rng.integers(2, 6))
        lengths = _lengths(rng, 0 if case == 3 else case, N, T)
        tokens = np.zeros((N, T), dtype=np.int64)
        for n, length in enumerate(lengths):
            tokens[n, :length] = rng.integers(1, V, size=length)
        state = visible.intent_state(rng, V, E, H, C)
        visible.compare_intent_classifier(report, *functions, state, tokens, lengths,
                                          reference=ref and ref.intent_adapter(ref.IntentClassifier))


@hidden_check("forecaster_forward")
def forecaster(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    cases = [(1, 1, 1, 2, 2), (1, 5, 3, 2, 2), (4, 3, 2, 5, 3), (3, 6, 4, 3, 1)] + [
        (int(rng.integers(2, 6)), int(rng.integers(2, 7)), int(rng.integers(1, 4)), int(rng.integers(1, 5)), 2) for _ in range(2)]
    for N, T, F, H, L in cases:
        state = visible.forecaster_state(rng, F, H, L)
        visible.compare_forecaster(report, *functions, state, rng.normal(size=(N, T, F)),
                                   reference=ref and ref.forecaster_adapter(ref.Forecaster))


@hidden_check("train_step_run")
def train_step(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    cases = [(1, 2, 2, 2), (5, 3, 4, 3), (8, 4, 3, 4)] + [(int(rng.integers(2, 9)), int(rng.integers(1, 5)), int(rng.integers(2, 5)), 3)
                                                         for _ in range(2)]
    for N, D, C, steps in cases:
        W, b = rng.normal(size=(C, D)), rng.normal(scale=0.2, size=C)
        x, y = rng.normal(size=(N, D)), rng.integers(0, C, size=N)
        visible.compare_train_step(report, *functions, W, b, x, y, float(rng.uniform(0.1, 0.6)), steps,
                                   reference=ref and ref.train_step_adapter(ref.train_step))
