"""Hidden checks for lesson 06: random sizes and values, with the edge cases present by case
index, never by chance: a sequence of length one; a batch whose longest row is not first; a
padded length T greater than every length; a real token equal to the padding value; a batch of
one; a one-step window; a class that never occurs and a (label, prediction) pair that occurs
twice; one, two and three stacked layers; a model with dropout that starts in eval mode, a
second input and another loss. Expected values come from the references (grader side); in a
learner's kernel (``with_reference`` false) the functions are only called, to be recorded.
The values of known mistakes, which name a mistake in a hint, come from the catalog
(``autograder.mistakes.sequence_models``), imported with the references only.
The models and the training step go through the visible checks' harnesses: the learner's
classes and train_step there, the references' here."""

from __future__ import annotations

import functools

import numpy as np

from course.checks import sequence_models as visible

from . import hidden_check, lesson_reference

_reference = functools.partial(lesson_reference, __name__)


def _suspects(check: str, names, part: int, *args, output: int | None = None) -> dict:
    """{hint: value} for the named known mistakes of ``check``: what each one's function ``part``
    (in the check's argument order) returns on copies of ``args``; ``output`` picks one result of
    a tuple. Grader side only (call it when ``with_reference`` is true)."""
    from autograder.mistakes import (
        sequence_models as mistakes,  # a graded kernel cannot read it
    )

    known = {wrong.name: wrong for wrong in mistakes.VARIANTS[check]}
    suspects = {}
    for name in names:
        value = known[name].functions[part](*(a.copy() if isinstance(a, np.ndarray) else a for a in args))
        suspects[known[name].hint] = value if output is None else value[output]
    return suspects


def _lengths(rng, case, N, T):
    """Lengths in 1..T, by case index: case % 3 == 0: the full row (T) last and a row of length 1
    first, so the longest row is not first; 1: every row shorter than T (T > max(lengths), T > 1);
    2: every row full."""
    kind = case % 3
    if kind == 2 or T == 1:
        return np.full(N, T, dtype=np.int64)
    if kind == 1:
        lengths = rng.integers(1, T, size=N)
    else:
        lengths = rng.integers(1, T + 1, size=N)
        lengths[-1] = T
    lengths[0] = 1
    return lengths.astype(np.int64)


@hidden_check("pad_sequences")
def pad_sequences(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    shapes = [(1, 1), (3, 4), (5, 7), (2, 1), (4, 3), (3, 5)] + [
        (int(rng.integers(2, 7)), int(rng.integers(2, 9))) for _ in range(2)
    ]
    for case, (N, T) in enumerate(shapes):
        lengths = _lengths(rng, case, N, T)
        if case % 3 == 1:
            lengths[-1] = T  # T_max is the longest length: one row reaches it
        pad_value = (0, -1, 99)[case % 3]
        seqs = [rng.integers(1, 50, size=int(n)) for n in lengths]
        if case % 2 == 0:
            seqs[-1][-1] = pad_value  # a real token equal to pad_value
        expected = ref.pad_sequences([s.copy() for s in seqs], pad_value) if ref else None
        visible.compare_pad_sequences(report, *functions, seqs, pad_value, expected, oracle="reference")


@hidden_check("length_mask")
def length_mask(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    shapes = [(1, 1), (3, 4), (4, 6), (2, 1), (3, 5), (5, 3)] + [
        (int(rng.integers(2, 7)), int(rng.integers(2, 9))) for _ in range(2)
    ]
    for case, (N, T) in enumerate(shapes):
        lengths = _lengths(rng, case, N, T)
        expected = ref.length_mask(lengths.copy(), T) if ref else None
        visible.compare_length_mask(report, *functions, lengths, T, expected, oracle="reference")


def _window_suspects(series, target, window):
    return {
        "X": _suspects("make_windows", ("shifted",), 0, series, target, window, output=0),
        "y": _suspects("make_windows", ("target_today",), 0, series, target, window, output=1),
    }


@hidden_check("make_windows")
def make_windows(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    cases = [(5, 1, 1), (8, 3, 2), (12, 4, 3), (6, 5, 1)] + [
        (int(rng.integers(6, 15)), int(rng.integers(1, 5)), int(rng.integers(1, 4))) for _ in range(3)
    ]
    for T, window, F in cases:
        series = rng.normal(size=(T, F))
        target = rng.normal(size=T)
        expected = ref.make_windows(series.copy(), target.copy(), window) if ref else None
        suspects = _window_suspects(series, target, window) if ref else None
        visible.compare_make_windows(
            report, *functions, series, target, window, expected, suspects, oracle="reference", check_new=False
        )


@hidden_check("persistence_forecast")
def persistence_forecast(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    cases = [(4, 1), (9, 3), (7, 6), (12, 2)] + [(int(rng.integers(6, 15)), int(rng.integers(2, 5))) for _ in range(3)]
    for T, window in cases:
        target = rng.normal(size=T)
        expected = ref.persistence_forecast(target.copy(), window) if ref else None
        suspects = _suspects("persistence_forecast", ("truth", "window_start"), 0, target, window) if ref else None
        visible.compare_persistence(
            report, *functions, target, window, expected, suspects, oracle="reference", check_new=False
        )


@hidden_check("accuracy", "confusion_matrix", "mean_absolute_error")
def metrics(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    cases = [(7, 3), (6, 5), (10, 2), (9, 4)] + [(int(rng.integers(5, 12)), int(rng.integers(3, 6))) for _ in range(2)]
    for case, (N, C) in enumerate(cases):
        if N == C:
            N += 1  # N != C: an argmax over the wrong axis must show
        logits = rng.normal(size=(N, C))
        absent = C - 1 if case == 0 else 1 if case == 1 else None  # a class that never occurs, by case index
        classes = [c for c in range(C) if c != absent]
        if absent is not None:
            logits[:, absent] -= 100.0
        logits[3] = logits[2]  # rows 2 and 3: one (label, prediction) pair twice
        predictions = np.argmax(logits, axis=1)
        labels = rng.choice(classes, size=N)
        labels[0] = predictions[0]  # one right,
        labels[1] = next(c for c in classes if c != predictions[1])  # one wrong,
        labels[3] = labels[2]
        y_true = rng.normal(size=N)
        y_pred = y_true + rng.normal(size=N)
        y_pred[0], y_pred[1] = y_true[0] + 1.5, y_true[1] - 0.5  # errors of both signs, one above and one below 1
        expected = suspects = None
        if ref:
            expected = (
                ref.accuracy(logits, labels),
                ref.confusion_matrix(labels, predictions, C),
                ref.mean_absolute_error(y_true, y_pred),
            )
            # accuracy is function 0 of the check, confusion_matrix 1, mean_absolute_error 2
            suspects = {
                "accuracy": _suspects("metrics", ("accuracy_count",), 0, logits, labels),
                "confusion": _suspects(
                    "metrics", ("confusion_plus_equals", "confusion_classes_from_data"), 1, labels, predictions, C
                ),
                "MAE": _suspects("metrics", ("mae_squared", "mae_no_abs", "mae_rmse"), 2, y_true, y_pred),
            }
        visible.compare_metrics(
            report, *functions, logits, labels, predictions, C, y_true, y_pred, expected, suspects, oracle="reference"
        )


@hidden_check("IntentClassifier", harness=visible.intent_harness)
def intent_classifier(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    cases = [(3, 5), (1, 4), (4, 6), (1, 1), (3, 3)] + [
        (int(rng.integers(2, 6)), int(rng.integers(2, 7))) for _ in range(2)
    ]
    for case, (N, T) in enumerate(cases):
        V, E, H, C = int(rng.integers(3, 12)), int(rng.integers(1, 5)), int(rng.integers(1, 5)), int(rng.integers(2, 6))
        lengths = _lengths(rng, case, N, T)
        tokens = visible.intent_tokens(rng, lengths, T, V)
        state = visible.intent_state(rng, V, E, H, C)
        visible.compare_intent_classifier(
            report,
            *functions,
            state,
            tokens,
            lengths,
            reference=ref and visible.intent_harness(ref.IntentClassifier)[0],
        )


@hidden_check("Forecaster", harness=visible.forecaster_harness)
def forecaster(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    # (N, T, F, H, L): one, two and three layers; a batch of one; one step; one feature
    cases = [(1, 1, 1, 2, 2), (1, 5, 3, 2, 3), (4, 3, 2, 5, 3), (3, 6, 4, 3, 1)] + [
        (int(rng.integers(2, 6)), int(rng.integers(2, 7)), int(rng.integers(1, 4)), int(rng.integers(1, 5)), 2)
        for _ in range(2)
    ]
    for N, T, F, H, L in cases:
        state = visible.forecaster_state(rng, F, H, L)
        visible.compare_forecaster(
            report,
            *functions,
            state,
            rng.normal(size=(N, T, F)),
            reference=ref and visible.forecaster_harness(ref.Forecaster)[0],
        )


@hidden_check("train_step", harness=visible.train_step_harness)
def train_step(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    # (N, D, C, steps, dropout, second input, loss): every case index has its own combination
    cases = [
        (1, 2, 2, 2, 0.0, False, "cross_entropy"),
        (5, 3, 4, 3, 0.4, False, "cross_entropy"),
        (8, 4, 3, 3, 0.0, True, "multi_margin_loss"),
        (6, 3, 3, 3, 0.3, True, "cross_entropy"),
    ] + [(int(rng.integers(2, 9)), int(rng.integers(1, 5)), int(rng.integers(2, 5)), 3, 0.2, True, "multi_margin_loss")]
    for N, D, C, steps, dropout, second, loss in cases:
        W, b = rng.normal(size=(C, D)), rng.normal(scale=0.2, size=C)
        x, y = rng.normal(size=(N, D)), rng.integers(0, C, size=N)
        offset = rng.normal(size=(N, C)) if second else None
        visible.compare_train_step(
            report,
            *functions,
            W,
            b,
            x,
            y,
            float(rng.uniform(0.1, 0.6)),
            steps,
            dropout=dropout,
            offset=offset,
            loss=loss,
            seed=int(rng.integers(0, 2**31 - 1)),
            reference=ref and visible.train_step_harness(ref.train_step)[0],
        )
