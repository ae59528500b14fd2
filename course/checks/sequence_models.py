"""Checks for lesson 06 (sequence models with torch.nn).

Each ``@visible_check`` is what one graded cell calls, e.g. ``check.pad_sequences(pad_sequences)``
or ``check.intent_classifier(IntentClassifier)``.
Visible checks hold no answer: the padding helpers, windows and metrics are compared with
fixed expected values written out for fixed inputs; the intent classifier with each utterance
run *alone, unpadded* through torch.nn.LSTM (so no packing can be wrong); the forecaster with
torch.nn.GRU; the training step with plain SGD-with-momentum arithmetic on gradients from
torch.autograd.grad (not the optimizer loop the learner writes). The graded cells pass the
learner's own classes and training step; the harnesses below build and run them (NumPy in,
NumPy out) for the visible and the hidden checks alike.

The ``compare_*`` functions take the expected values (and the values known mistakes would
give, to name them) from their caller: the visible checks pass literals, the hidden checks
(``autograder.hidden.sequence_models``) pass the references' results. Every call also checks
the contract the docstrings state: inputs left unchanged, int64 / bool / float64 results,
new arrays where promised.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .core import CheckFailed, Report, call_student, call_unchanged, describe_mismatch, linspace_array, visible_check
from .torch_oracle import torch_module as _torch

I64, F64 = np.int64, np.float64
#: Exact results (copies, counts, means of a few float64 numbers) are compared this tightly:
#: a float32 slip is then wrong at every seed, never by luck.
EXACT = 1e-12


def explained(name: str, hint, run: Callable):
    """``run()`` calls the learner's code; when that code raises, fail with one message that
    names the error and says what to look at, instead of a raw traceback. ``hint`` is a str,
    or a function of the exception that returns one (a hint true for that error only)."""
    try:
        return run()
    except AssertionError:
        raise  # the check's own verdict (CheckFailed), or a record that cannot be replayed
    except Exception as error:  # noqa: BLE001  (the learner's code may raise anything)
        text = " ".join(str(error).split())[:200]
        advice = hint(error) if callable(hint) else hint
        raise CheckFailed(
            f"{name} raised {type(error).__name__}" + (f": {text}" if text else "") + f" -> {advice}"
        ) from None


def require_dtype(report: Report, quantity: str, value, dtype, hint: str) -> None:
    """The exact dtype a docstring promises (int64 indices, a bool mask)."""
    got = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
    report.require(
        f"{quantity} dtype",
        isinstance(value, np.ndarray) and value.dtype == np.dtype(dtype),
        f"got {got}, expected {np.dtype(dtype)}",
        hint=hint,
        oracle="contract",
    )


def require_float(report: Report, quantity: str, value) -> None:
    """A single float64 number: a Python float or a NumPy float64 scalar."""
    ok = isinstance(value, float) or (
        isinstance(value, np.ndarray | np.generic) and value.dtype == F64 and np.ndim(value) == 0
    )
    got = getattr(value, "dtype", type(value).__name__)
    report.require(
        f"{quantity} type",
        ok,
        f"got {got}, expected a float (float64)",
        hint="return one float64 number, e.g. float(np.mean(...)); float32 rounds it",
        oracle="contract",
    )


def require_own_array(report: Report, quantity: str, value, *inputs) -> None:
    """A result promised to be a new array must not be a writeable view of an input: writing
    into it would change the caller's input. (A read-only view cannot do that.)"""
    shared = (
        isinstance(value, np.ndarray)
        and value.flags.writeable
        and any(isinstance(a, np.ndarray) and np.shares_memory(value, a) for a in inputs)
    )
    report.require(
        quantity,
        not shared,
        "is a view of an input array",
        hint="return a new array (.copy()): a slice of the input is a view, and changing it later "
        "would change the input too",
        oracle="new array",
    )


IN_PLACE = (
    "leave the inputs as they are and build the result in a new array: an in-place operation (-=, out=, "
    "assigning into a slice or a list) writes into the caller's data"
)


# --------------------------------------------------------------------------- pad_sequences

PAD_HINT = (
    "copy each sequence into the start of its row (padding on the right), fill the rest with pad_value; "
    "lengths[n] = len(seqs[n]); T_max is the longest length"
)
PAD_LEFT = "pad on the right: row n starts with seqs[n], padding follows"
PAD_ZEROS = "fill the padding with pad_value, not with zeros"
LENGTH_COUNTED = (
    "lengths[n] = len(seqs[n]): do not count the entries that differ from pad_value (a real token may equal it)"
)
LENGTH_T_MAX = "lengths[n] is the true length of seqs[n], not T_max"


def pad_suspects(padded: np.ndarray, lengths: np.ndarray, pad_value) -> dict:
    """What known mistakes give, derived from the right answer: {quantity: {hint: value}}."""
    T = padded.shape[1]
    return {
        "padded": {
            PAD_LEFT: np.stack([np.roll(row, T - n) for row, n in zip(padded, lengths)]),
            PAD_ZEROS: np.where(padded == pad_value, 0, padded),
        },
        "lengths": {LENGTH_COUNTED: (padded != pad_value).sum(axis=1), LENGTH_T_MAX: np.full_like(lengths, T)},
    }


def compare_pad_sequences(report: Report, pad_sequences, seqs, pad_value, expected=None, *, oracle="fixed") -> None:
    """``expected``: (padded, lengths), or None to call only (a hidden check recording).
    The list and its arrays must be left unchanged (a hidden check's record carries a change too)."""
    padded, lengths = explained(
        "pad_sequences",
        PAD_HINT,
        lambda: call_unchanged(
            report,
            pad_sequences,
            seqs,
            pad_value,
            argument_names=("seqs", None),
            returns=("padded", "lengths"),
            hint=IN_PLACE,
        ),
    )
    if expected is None:
        return
    e_padded, e_lengths = expected
    require_dtype(report, "padded", padded, I64, "token indices are int64: np.full(..., pad_value, dtype=np.int64)")
    require_dtype(report, "lengths", lengths, I64, "lengths are int64 (pack_padded_sequence and torch need int64)")
    suspects = pad_suspects(e_padded, e_lengths, pad_value)
    report.compare("padded", padded, e_padded, oracle=oracle, tol=EXACT, hint=PAD_HINT, suspects=suspects["padded"])
    report.compare(
        "lengths",
        lengths,
        e_lengths,
        oracle=oracle,
        tol=EXACT,
        hint="lengths[n] is the true length of seqs[n], before padding",
        suspects=suspects["lengths"],
    )


#: (seqs, pad_value, padded, lengths): the longest sequence is not first; a real token equals
#: pad_value in the last case.
PAD_CASES = (
    (
        [[5, 3, 8], [2], [7, 1, 4, 4, 9], [6, 6]],
        0,
        [[5, 3, 8, 0, 0], [2, 0, 0, 0, 0], [7, 1, 4, 4, 9], [6, 6, 0, 0, 0]],
        [3, 1, 5, 2],
    ),
    ([[4, 2], [9, 9, 1]], -1, [[4, 2, -1], [9, 9, 1]], [2, 3]),
    ([[0, 4], [3, 0, 0], [7]], 0, [[0, 4, 0], [3, 0, 0], [7, 0, 0]], [2, 3, 1]),
)


@visible_check
def pad_sequences(report, pad_sequences):
    """Graded: pad_sequences(seqs, pad_value) -> (padded (N, T_max) int64, lengths (N,) int64)."""
    for seqs, pad_value, padded, lengths in PAD_CASES:
        compare_pad_sequences(
            report,
            pad_sequences,
            [np.array(s, dtype=I64) for s in seqs],
            pad_value,
            (np.array(padded, dtype=I64), np.array(lengths, dtype=I64)),
        )


# --------------------------------------------------------------------------- length_mask

MASK_HINT = "mask[n, t] is True exactly for the real steps t < lengths[n] (padding is on the right)"


def mask_suspects(mask: np.ndarray, lengths: np.ndarray) -> dict:
    """What known mistakes give, derived from the right mask."""
    one_more = mask.copy()
    one_more[:, 1:] |= mask[:, :-1]
    return {
        "the mask has T columns: the padded length T may exceed max(lengths)": mask[:, : int(np.max(lengths))],
        "t < lengths[n], not t <= lengths[n]: step lengths[n] is already padding": one_more,
        "padding is on the right: the real steps are the first lengths[n]": mask[:, ::-1],
    }


def compare_length_mask(report: Report, length_mask, lengths, T, expected=None, *, oracle="fixed") -> None:
    mask = explained(
        "length_mask",
        MASK_HINT,
        lambda: call_unchanged(report, length_mask, lengths, T, argument_names=("lengths", None), hint=IN_PLACE),
    )
    if expected is None:
        return
    require_dtype(report, "mask", mask, np.bool_, "a comparison such as a < b gives a bool array")
    report.compare(
        "mask", mask, expected, oracle=oracle, tol=EXACT, hint=MASK_HINT, suspects=mask_suspects(expected, lengths)
    )


#: (lengths, T, mask): T equals max(lengths), then exceeds it.
MASK_CASES = (
    ([3, 1, 5, 2], 5, [[1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [1, 1, 1, 1, 1], [1, 1, 0, 0, 0]]),
    ([2, 4], 6, [[1, 1, 0, 0, 0, 0], [1, 1, 1, 1, 0, 0]]),
)


@visible_check
def length_mask(report, length_mask):
    """Graded: length_mask(lengths, T) -> bool (N, T)."""
    for lengths, T, mask in MASK_CASES:
        compare_length_mask(report, length_mask, np.array(lengths, dtype=I64), T, np.array(mask, dtype=bool))


# --------------------------------------------------------------------------- make_windows

WINDOW_HINT = (
    "X[i] = series[i : i + window] (the days before), y[i] = target[i + window] (the day after); N = T - window"
)
Y_TODAY = "y[i] is the day AFTER the window, target[i + window], not its last day"
X_SHIFTED = "X[i] holds the window's days, series[i : i + window], ending the day before y[i]"
X_LAYOUT = "X is (N, window, F): days along axis 1, features along axis 2"


def compare_make_windows(
    report: Report,
    make_windows,
    series,
    target,
    window,
    expected=None,
    suspects=None,
    *,
    oracle="fixed",
    check_new=True,
) -> None:
    """``expected``: (X, y); ``suspects``: {"X": {hint: value}, "y": {...}} beyond those derived
    here. ``check_new``: check that X and y are new arrays (a record cannot show a view)."""
    X, y = explained(
        "make_windows",
        WINDOW_HINT,
        lambda: call_unchanged(
            report,
            make_windows,
            series,
            target,
            window,
            argument_names=("series", "target", None),
            returns=("X", "y"),
            hint=IN_PLACE,
        ),
    )
    if check_new:  # call_unchanged hands back copies: look at what the function itself returned
        X_own, y_own = call_student(make_windows, series, target, window, copy_inputs=False)
        require_own_array(report, "X new", X_own, series, target)
        require_own_array(report, "y new", y_own, series, target)
    if expected is None:
        return
    suspects = suspects or {}
    report.compare(
        "X",
        X,
        expected[0],
        oracle=oracle,
        tol=EXACT,
        hint=WINDOW_HINT,
        dtype=F64,
        suspects={X_LAYOUT: np.swapaxes(expected[0], 1, 2), **suspects.get("X", {})},
    )
    report.compare(
        "y", y, expected[1], oracle=oracle, tol=EXACT, hint=WINDOW_HINT, dtype=F64, suspects=suspects.get("y")
    )


def _window_cases():
    """(series, target, window, X, y, suspects): the expected windows written as the day indices they hold."""
    series = linspace_array((9, 2), -1.0, 1.3)
    target = np.array([3.0, 5.0, 4.0, 8.0, 7.5, 6.0, 9.0, 2.0, 1.0])
    days = np.array([[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5], [4, 5, 6], [5, 6, 7]])
    suspects = {"X": {X_SHIFTED: series[days + 1]}, "y": {Y_TODAY: np.array([4.0, 8.0, 7.5, 6.0, 9.0, 2.0])}}
    yield series, target, 3, series[days], np.array([8.0, 7.5, 6.0, 9.0, 2.0, 1.0]), suspects
    one = np.array([[0.5], [-1.5], [2.0], [4.0]])  # one feature, window 1
    yield one, np.array([10.0, 20.0, 30.0, 40.0]), 1, one[[[0], [1], [2]]], np.array([20.0, 30.0, 40.0]), {}


@visible_check
def make_windows(report, make_windows):
    """Graded: make_windows(series, target, window) -> X (T - window, window, F), y (T - window,)."""
    for series, target, window, X, y, suspects in _window_cases():
        compare_make_windows(report, make_windows, series, target, window, (X, y), suspects)


# --------------------------------------------------------------------------- persistence_forecast

PERSIST_HINT = "the forecast for day t = window + i is the day before it, target[t - 1]: target[window - 1 : -1]"
PERSIST_YESTERDAY = "off by one day: predict tomorrow from today, not from yesterday"
PERSIST_TRUTH = "that is the truth itself: the forecast may only use days up to the one before"
PERSIST_START = "use the last day of the window, not its first"


def compare_persistence(
    report: Report,
    persistence_forecast,
    target,
    window,
    expected=None,
    suspects=None,
    *,
    oracle="fixed",
    check_new=True,
) -> None:
    forecast = explained(
        "persistence_forecast",
        PERSIST_HINT,
        lambda: call_unchanged(
            report, persistence_forecast, target, window, argument_names=("target", None), hint=IN_PLACE
        ),
    )
    if check_new:
        require_own_array(report, "new", call_student(persistence_forecast, target, window, copy_inputs=False), target)
    if expected is None:
        return
    report.compare(
        "forecast", forecast, expected, oracle=oracle, tol=EXACT, hint=PERSIST_HINT, dtype=F64, suspects=suspects
    )


PERSIST_CASES = (
    (
        np.array([3.0, 5.0, 4.0, 8.0, 7.5, 6.0, 9.0, 2.0, 1.0]),
        3,
        np.array([4.0, 8.0, 7.5, 6.0, 9.0, 2.0]),
        {
            PERSIST_YESTERDAY: np.array([5.0, 4.0, 8.0, 7.5, 6.0, 9.0]),
            PERSIST_TRUTH: np.array([8.0, 7.5, 6.0, 9.0, 2.0, 1.0]),
            PERSIST_START: np.array([3.0, 5.0, 4.0, 8.0, 7.5, 6.0]),
        },
    ),
    (
        np.array([1.0, -2.0, 0.5, 4.0, 3.0]),
        1,
        np.array([1.0, -2.0, 0.5, 4.0]),
        {PERSIST_TRUTH: np.array([-2.0, 0.5, 4.0, 3.0])},
    ),
)


@visible_check
def persistence_forecast(report, persistence_forecast):
    """Graded: persistence_forecast(target, window) -> (T - window,), aligned with make_windows' y."""
    for target, window, expected, suspects in PERSIST_CASES:
        compare_persistence(report, persistence_forecast, target, window, expected, suspects)


# --------------------------------------------------------------------------- metrics

ACCURACY_HINT = "the fraction (0..1) of rows whose argmax over the classes (axis 1) equals the label"
CONFUSION_HINT = "matrix[i, j] counts the examples of true class i predicted as class j (rows: truth)"
MAE_HINT = "the mean of |y_true - y_pred|"
ACCURACY_COUNT = "a fraction, not a count: divide by N (or use np.mean)"
CONFUSION_T = "rows are the true classes, columns the predictions: you have the transpose"
CONFUSION_NORMALISED = "counts, not fractions: do not normalise"
CONFUSION_ONCE = (
    "a pair (i, j) that occurs several times counts several times: matrix[labels, predictions] += 1 "
    "adds 1 once per distinct pair; np.add.at adds at every occurrence"
)
CONFUSION_SHAPE = "the matrix is (num_classes, num_classes), also when a class never occurs in the data"
MAE_SQUARED = "absolute error, not squared: mean |y_true - y_pred|"
MAE_SIGNED = "take the absolute value before averaging (errors of opposite sign cancel)"
MAE_RMSE = "no square root: this is the MAE, not the RMSE"


def compare_metrics(
    report: Report,
    accuracy,
    confusion_matrix,
    mean_absolute_error,
    logits,
    labels,
    predictions,
    num_classes,
    y_true,
    y_pred,
    expected=None,
    suspects=None,
    *,
    oracle="fixed",
) -> None:
    """``expected``: (accuracy, confusion matrix, MAE); ``suspects``: {"accuracy": {hint: value}, ...}."""
    hint = IN_PLACE
    acc = explained(
        "accuracy",
        ACCURACY_HINT,
        lambda: call_unchanged(report, accuracy, logits, labels, argument_names=("logits", "labels"), hint=hint),
    )
    matrix = explained(
        "confusion_matrix",
        CONFUSION_HINT,
        lambda: call_unchanged(
            report,
            confusion_matrix,
            labels,
            predictions,
            num_classes,
            argument_names=("labels", "predictions", None),
            hint=hint,
        ),
    )
    mae = explained(
        "mean_absolute_error",
        MAE_HINT,
        lambda: call_unchanged(
            report, mean_absolute_error, y_true, y_pred, argument_names=("y_true", "y_pred"), hint=hint
        ),
    )
    if expected is None:
        return
    suspects = suspects or {}
    require_float(report, "accuracy", acc)
    require_float(report, "MAE", mae)
    report.require(
        "confusion dtype",
        isinstance(matrix, np.ndarray) and matrix.dtype.kind in "iu",
        f"got {getattr(matrix, 'dtype', type(matrix).__name__)}, expected integer counts",
        hint="counts are integers: np.zeros((C, C), dtype=np.int64)",
        oracle="contract",
    )
    report.compare(
        "accuracy", acc, expected[0], oracle=oracle, tol=EXACT, hint=ACCURACY_HINT, suspects=suspects.get("accuracy")
    )
    counts = expected[1]
    report.compare(
        "confusion",
        matrix,
        counts,
        oracle=oracle,
        tol=EXACT,
        hint=CONFUSION_HINT,
        suspects={
            CONFUSION_T: counts.T,
            CONFUSION_NORMALISED: counts / np.maximum(1, counts.sum(axis=1, keepdims=True)),
            **suspects.get("confusion", {}),
        },
    )
    report.compare("MAE", mae, expected[2], oracle=oracle, tol=EXACT, hint=MAE_HINT, suspects=suspects.get("MAE"))


def _metric_case():
    """Fixed inputs with their results: a pair (0, 0) that occurs twice, and a class (3) that never occurs."""
    logits = np.array(
        [
            [2.0, 0.1, -1.0, -2.0],
            [0.3, 0.2, 0.9, -1.5],
            [-0.5, 1.5, 0.0, -0.7],
            [1.0, 1.2, 0.3, -0.1],
            [0.0, -0.2, 0.4, -3.0],
            [1.1, 0.4, -0.3, 0.2],
        ]
    )
    labels = np.array([0, 2, 1, 0, 1, 0])
    predictions = np.array([0, 2, 1, 1, 2, 0])  # the argmax of each row of logits
    y_true, y_pred = np.array([10.0, 12.5, 8.0, 15.0]), np.array([11.0, 12.0, 9.5, 13.0])  # errors -1, .5, -1.5, 2
    counts = np.array([[2, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 0], [0, 0, 0, 0]])
    expected = (4 / 6, counts, 1.25)
    suspects = {
        "accuracy": {ACCURACY_COUNT: 4.0},
        "confusion": {CONFUSION_ONCE: counts - np.eye(4, dtype=int) * [1, 0, 0, 0], CONFUSION_SHAPE: counts[:3, :3]},
        "MAE": {MAE_SQUARED: 1.875, MAE_SIGNED: 0.0, MAE_RMSE: float(np.sqrt(1.875))},
    }
    return (logits, labels, predictions, 4, y_true, y_pred), expected, suspects


@visible_check
def metrics(report, accuracy, confusion_matrix, mean_absolute_error):
    """Graded: accuracy(logits, labels), confusion_matrix(labels, predictions, C),
    mean_absolute_error(y_true, y_pred)."""
    inputs, expected, suspects = _metric_case()
    compare_metrics(report, accuracy, confusion_matrix, mean_absolute_error, *inputs, expected, suspects)


# --------------------------------------------------------------------------- harnesses
# The models and the training step are not NumPy functions. A harness turns what the learner
# wrote (a torch.nn.Module class, a training step) into NumPy-in, NumPy-out functions that the
# checks compare and a hidden check records. It only builds and runs the learner's code, in
# float64, and it builds lazily: a class whose constructor still raises NotImplementedError
# fails inside the check's call, with call_student's plain message.


def load_state(model, state: dict, name: str):
    """Load a dict of NumPy arrays into ``model`` by parameter name, after checking the names
    and shapes: a submodule named or sized otherwise than the docstring says is told so."""
    torch = _torch()
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    given = {k: tuple(v.shape) for k, v in state.items()}
    if expected != given:
        missing = sorted(set(given) - set(expected))
        extra = sorted(set(expected) - set(given))
        wrong = sorted(k for k in set(given) & set(expected) if given[k] != expected[k])
        raise ValueError(
            f"{name}'s parameters do not match the specification: missing {missing}, unexpected {extra}, "
            f"wrong shape {wrong}"
        )
    model.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in state.items()})
    return model


def intent_harness(model_class):
    """(intent_classifier_forward,): the logits (N, C) of a float64 ``model_class`` (the learner's
    IntentClassifier) holding the weights in ``state``, in eval mode (NumPy in, NumPy out)."""

    def intent_classifier_forward(state, tokens, lengths):
        torch = _torch()
        vocab_size, embed_dim = state["embedding.weight"].shape
        hidden_size = state["rnn.weight_hh_l0"].shape[1]
        num_classes = state["head.weight"].shape[0]
        model = model_class(vocab_size, embed_dim, hidden_size, num_classes).to(torch.float64)
        load_state(model, state, "IntentClassifier")
        model.eval()
        with torch.no_grad():
            logits = model(torch.from_numpy(tokens), torch.from_numpy(lengths))
        return logits.detach().cpu().numpy()

    return (intent_classifier_forward,)


def forecaster_harness(model_class):
    """(forecaster_forward,): the forecasts (N,) of a float64 ``model_class`` (the learner's
    Forecaster) holding the weights in ``state``, with as many layers as it holds (NumPy in, NumPy out)."""

    def forecaster_forward(state, windows):
        torch = _torch()
        num_features = state["rnn.weight_ih_l0"].shape[1]
        hidden_size = state["rnn.weight_hh_l0"].shape[1]
        num_layers = sum(1 for k in state if k.startswith("rnn.weight_ih_l"))
        model = model_class(num_features, hidden_size, num_layers).to(torch.float64)
        load_state(model, state, "Forecaster")
        model.eval()
        with torch.no_grad():
            prediction = model(torch.from_numpy(windows))
        return prediction.detach().cpu().numpy()

    return (forecaster_forward,)


def _tiny_classifier(W, b, dropout):
    """What the training harness trains: dropout on x, then a float64 linear layer (W (C, D),
    b (C,)); a second input, when given, is added to the logits."""
    torch = _torch()

    class TinyClassifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.dropout = torch.nn.Dropout(dropout)
            self.linear = torch.nn.Linear(W.shape[1], W.shape[0]).to(torch.float64)
            with torch.no_grad():
                self.linear.weight.copy_(torch.from_numpy(W))
                self.linear.bias.copy_(torch.from_numpy(b))

        def forward(self, x, offset=None):
            logits = self.linear(self.dropout(x))
            return logits if offset is None else logits + offset

    return TinyClassifier()


def train_step_harness(step):
    """(train_step_run,): trains a small linear classifier with ``steps`` calls of ``step`` (the
    learner's train_step) and SGD with momentum 0.9; returns (losses, W, b) as NumPy."""

    def train_step_run(W, b, x, y, lr, steps, dropout=0.0, offset=None, loss="cross_entropy", seed=0):
        torch = _torch()
        model = _tiny_classifier(W, b, dropout)
        model.eval()  # as after an evaluation: the step must switch training mode back on
        optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        inputs = (torch.from_numpy(x),) if offset is None else (torch.from_numpy(x), torch.from_numpy(offset))
        loss_fn = getattr(torch.nn.functional, loss)  # one of LOSSES, named by the check
        torch.manual_seed(seed)  # the dropout masks
        losses = []
        for _ in range(int(steps)):
            value = step(model, optimizer, inputs, torch.from_numpy(y), loss_fn)
            if not isinstance(value, float):
                raise TypeError(
                    f"train_step should return the loss as a Python float (loss.item()), not {type(value).__name__}"
                )
            losses.append(value)
        weight, bias = model.linear.weight, model.linear.bias
        return np.array(losses), weight.detach().cpu().numpy().copy(), bias.detach().cpu().numpy().copy()

    return (train_step_run,)


# --------------------------------------------------------------------------- IntentClassifier

INTENT_HINT = (
    "embed, pack with pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False), run the "
    "bidirectional LSTM, and give the head torch.cat([h_n[0], h_n[1]], dim=1)"
)
INTENT_SORTED = (
    "the rows come back sorted by length: keep the batch's order (enforce_sorted=False lets "
    "pack_padded_sequence take the rows as they are)"
)


def _model_error_hint(model_hint: str):
    def hint(error: Exception) -> str:
        text = str(error)
        if "sorted" in text:
            return "the batch is not sorted by length: pack_padded_sequence(..., enforce_sorted=False)"
        if "lengths" in text and ("CPU" in text or "cpu" in text):
            return "pack_padded_sequence wants the lengths on the CPU: lengths.cpu()"
        if "do not match the specification" in text:
            return "name and size the submodules exactly as the docstring says (the check loads the weights by name)"
        return model_hint

    return hint


def intent_state(rng, V, E, H, C):
    """A float64 state dict (NumPy) for IntentClassifier(V, E, H, C): embedding row 0 (padding) is zero."""
    s = 1.0 / np.sqrt(H)
    state = {"embedding.weight": rng.normal(size=(V, E))}
    state["embedding.weight"][0] = 0.0
    for suffix in ("_l0", "_l0_reverse"):
        state[f"rnn.weight_ih{suffix}"] = rng.uniform(-s, s, (4 * H, E))
        state[f"rnn.weight_hh{suffix}"] = rng.uniform(-s, s, (4 * H, H))
        state[f"rnn.bias_ih{suffix}"] = rng.uniform(-s, s, 4 * H)
        state[f"rnn.bias_hh{suffix}"] = rng.uniform(-s, s, 4 * H)
    state["head.weight"] = rng.normal(scale=0.5, size=(C, 2 * H))
    state["head.bias"] = rng.normal(scale=0.1, size=C)
    return state


def _intent_oracles(state, tokens, lengths):
    """(expected logits, suspects): each utterance run alone, unpadded, through torch.nn.LSTM."""
    torch = _torch()
    E = state["embedding.weight"].shape[1]
    H = state["rnn.weight_hh_l0"].shape[1]
    lstm = torch.nn.LSTM(E, H, batch_first=True, bidirectional=True).double()
    lstm.load_state_dict({k[4:]: torch.from_numpy(v) for k, v in state.items() if k.startswith("rnn.")})
    W, b = state["head.weight"], state["head.bias"]
    emb = state["embedding.weight"][tokens]  # (N, T, E)
    with torch.no_grad():
        finals = []
        for n, length in enumerate(lengths):
            _, (h_n, _) = lstm(torch.from_numpy(emb[n : n + 1, :length]))
            finals.append(h_n[:, 0].numpy())  # (2, H)
        finals = np.stack(finals, axis=1)  # (2, N, H)
        out_all, (h_all, _) = lstm(torch.from_numpy(emb))
    expected = np.concatenate([finals[0], finals[1]], axis=1) @ W.T + b
    out_all, h_all = out_all.numpy(), h_all.numpy()
    suspects = {
        "pack the batch (pack_padded_sequence): without it the LSTM also reads the padding": np.concatenate(
            [h_all[0], h_all[1]], axis=1
        )
        @ W.T
        + b,
        "read h_n, the state after each utterance's true last token, not the output at the last padded step": out_all[
            :, -1
        ]
        @ W.T
        + b,
        "h_n[0] is the forward direction, h_n[1] the backward one: concatenate them in that order": np.concatenate(
            [finals[1], finals[0]], axis=1
        )
        @ W.T
        + b,
    }
    order = np.argsort(-np.asarray(lengths), kind="stable")
    if not np.array_equal(order, np.arange(len(lengths))):
        suspects[INTENT_SORTED] = expected[order]
    return expected, suspects


def compare_intent_classifier(
    report: Report, intent_classifier_forward, state, tokens, lengths, reference=None
) -> None:
    """``intent_classifier_forward``: intent_harness's function (or its record); ``reference``:
    the same for the reference class (hidden checks)."""
    logits = explained(
        "IntentClassifier",
        _model_error_hint(INTENT_HINT),
        lambda: call_unchanged(
            report,
            intent_classifier_forward,
            state,
            tokens,
            lengths,
            argument_names=(None, "tokens", "lengths"),
            name="IntentClassifier",
            hint=IN_PLACE,
        ),
    )
    expected, suspects = _intent_oracles(state, tokens, lengths)
    oracles = [("LSTM alone", expected)]
    if reference is not None:
        oracles.append(("reference", reference(state, tokens, lengths)))
    for oracle, value in oracles:
        report.compare("logits", logits, value, oracle=oracle, hint=INTENT_HINT, suspects=suspects, dtype=F64)


def intent_tokens(rng, lengths, T, V):
    """Right-padded token rows: real tokens in 1..V-1, padding 0."""
    tokens = np.zeros((len(lengths), T), dtype=I64)
    for n, length in enumerate(lengths):
        tokens[n, :length] = rng.integers(1, V, size=length)
    return tokens


@visible_check(harness=intent_harness)
def intent_classifier(report, intent_classifier_forward):
    """Graded: IntentClassifier (the class, through intent_harness), against each utterance run alone
    through torch.nn.LSTM(bidirectional=True). The batches are not sorted by length, and in the second
    every row is padded (T > max(lengths))."""
    rng = np.random.default_rng(6)
    for lengths, T in (([6, 3, 1, 4], 6), ([2, 5, 3], 7)):
        lengths = np.array(lengths, dtype=I64)
        tokens = intent_tokens(rng, lengths, T, 9)
        compare_intent_classifier(report, intent_classifier_forward, intent_state(rng, 9, 3, 2, 4), tokens, lengths)


# --------------------------------------------------------------------------- Forecaster

FORECAST_HINT = (
    "run the stacked GRU (num_layers layers, batch_first=True) on x (N, T, F), apply the head to the top "
    "layer's output at the last step, out[:, -1], and squeeze the last axis: (N, 1) -> (N,)"
)


def forecaster_state(rng, F, H, L):
    s = 1.0 / np.sqrt(H)
    state = {}
    for layer in range(L):
        state[f"rnn.weight_ih_l{layer}"] = rng.uniform(-s, s, (3 * H, F if layer == 0 else H))
        state[f"rnn.weight_hh_l{layer}"] = rng.uniform(-s, s, (3 * H, H))
        state[f"rnn.bias_ih_l{layer}"] = rng.uniform(-s, s, 3 * H)
        state[f"rnn.bias_hh_l{layer}"] = rng.uniform(-s, s, 3 * H)
    state["head.weight"] = rng.normal(size=(1, H))
    state["head.bias"] = rng.normal(size=1)
    return state


def _forecast_oracles(state, windows):
    torch = _torch()
    F = state["rnn.weight_ih_l0"].shape[1]
    H = state["rnn.weight_hh_l0"].shape[1]
    L = sum(1 for k in state if k.startswith("rnn.weight_ih_l"))
    gru = torch.nn.GRU(F, H, num_layers=L, batch_first=True).double()
    gru.load_state_dict({k[4:]: torch.from_numpy(v) for k, v in state.items() if k.startswith("rnn.")})
    with torch.no_grad():
        out, h_n = gru(torch.from_numpy(windows))
    out, h_n = out.numpy(), h_n.numpy()
    W, b = state["head.weight"], state["head.bias"]
    suspects = {
        f"the head reads the TOP layer, out[:, -1] (or h_n[-1]); this is layer {layer}'s state, h_n[{layer}]": h_n[
            layer
        ]
        @ W.T
        + b
        for layer in range(L - 1)
    }
    suspects["the forecast follows the last step of the window, out[:, -1], not the first"] = out[:, 0] @ W.T + b
    return (out[:, -1] @ W.T + b)[:, 0], {k: v[:, 0] for k, v in suspects.items()}


def compare_forecaster(report: Report, forecaster_forward, state, windows, reference=None) -> None:
    prediction = explained(
        "Forecaster",
        _model_error_hint(FORECAST_HINT),
        lambda: call_unchanged(
            report,
            forecaster_forward,
            state,
            windows,
            argument_names=(None, "windows"),
            name="Forecaster",
            hint=IN_PLACE,
        ),
    )
    expected, suspects = _forecast_oracles(state, windows)
    squeeze_hint = "squeeze only the last axis, .squeeze(-1): the forecast is (N,), also for a batch of one"
    suspects[squeeze_hint] = expected.reshape(-1, 1)
    if expected.shape == (1,):
        suspects[squeeze_hint + " "] = expected[0]
    oracles = [("GRU", expected)]
    if reference is not None:
        oracles.append(("reference", reference(state, windows)))
    for oracle, value in oracles:
        report.compare("forecast", prediction, value, oracle=oracle, hint=FORECAST_HINT, suspects=suspects, dtype=F64)


@visible_check(harness=forecaster_harness)
def forecaster(report, forecaster_forward):
    """Graded: Forecaster (the class, through forecaster_harness), against torch.nn.GRU: two layers,
    then three layers on a batch of one."""
    rng = np.random.default_rng(7)
    compare_forecaster(report, forecaster_forward, forecaster_state(rng, 3, 4, 2), rng.normal(size=(5, 6, 3)))
    compare_forecaster(report, forecaster_forward, forecaster_state(rng, 2, 3, 3), rng.normal(size=(1, 4, 2)))


# --------------------------------------------------------------------------- train_step

TRAIN_HINT = (
    "per call: model.train(), optimizer.zero_grad(), loss = loss_fn(model(*inputs), targets), loss.backward(), "
    "optimizer.step(), and return loss.item() (the loss before the update)"
)
TRAIN_MISTAKES = {
    "no_zero_grad": "zero the gradients at every step (optimizer.zero_grad()) before backward: otherwise they pile up "
    "across calls",
    "no_step": "the parameters never change: call optimizer.step() after loss.backward(), and zero the gradients "
    "before backward, not between backward and step",
    "loss_after": "return the loss computed before the update (the one you called backward on)",
    "eval_mode": "call model.train() first: an evaluation may have left the model in eval mode, and dropout must "
    "be on while training",
    "first_input": "call the model on every input: model(*inputs), not model(inputs[0])",
    "fixed_loss": "use the loss_fn you are given, not a loss of your own choice",
}
LOSSES = ("cross_entropy", "multi_margin_loss")


def sgd_oracle(W, b, x, y, lr, steps, dropout=0.0, offset=None, loss="cross_entropy", seed=0, mistake=None):
    """What train_step_run must return, computed without an optimizer: dropout(x) @ W.T + b (+ offset)
    in train mode, the gradients by torch.autograd.grad, and SGD with momentum 0.9 written out
    (buffer = 0.9 * buffer + gradient, parameter -= lr * buffer). ``mistake`` (a key of
    TRAIN_MISTAKES) gives what that mistake would return instead."""
    torch = _torch()
    F = torch.nn.functional
    loss_fn = getattr(F, "cross_entropy" if mistake == "fixed_loss" else loss)
    x_t, y_t = torch.from_numpy(np.asarray(x, dtype=F64)), torch.from_numpy(np.asarray(y, dtype=I64))
    extra = None if offset is None or mistake == "first_input" else torch.from_numpy(offset)
    params = [torch.tensor(W, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)]
    training = mistake != "eval_mode"

    def forward(weight, bias):
        logits = F.linear(F.dropout(x_t, dropout, training), weight, bias)
        return logits if extra is None else logits + extra

    torch.manual_seed(seed)
    buffers, piled, losses = None, None, []
    for _ in range(int(steps)):
        leaves = [p.clone().requires_grad_(True) for p in params]
        value = loss_fn(forward(*leaves), y_t)
        grads = list(torch.autograd.grad(value, leaves))
        if mistake == "no_zero_grad":
            piled = grads if piled is None else [p + g for p, g in zip(piled, grads)]
            grads = piled
        if mistake != "no_step":
            buffers = (
                [g.clone() for g in grads] if buffers is None else [m.mul(0.9).add(g) for m, g in zip(buffers, grads)]
            )
            params = [p.add(m, alpha=-lr) for p, m in zip(params, buffers)]
        if mistake == "loss_after":
            with torch.no_grad():
                value = loss_fn(forward(*params), y_t)
        losses.append(float(value.detach()))
    # A dict, not train_step_run's tuple: this is an oracle, never a stand-in for the learner's step.
    return {"losses": np.array(losses), "W": params[0].numpy(), "b": params[1].numpy()}


def compare_train_step(
    report: Report,
    train_step_run,
    W,
    b,
    x,
    y,
    lr,
    steps,
    dropout=0.0,
    offset=None,
    loss="cross_entropy",
    seed=0,
    reference=None,
) -> None:
    settings = {"dropout": dropout, "offset": offset, "loss": loss, "seed": seed}
    result = explained(
        "train_step",
        TRAIN_HINT,
        lambda: call_unchanged(
            report,
            train_step_run,
            W,
            b,
            x,
            y,
            lr,
            steps,
            argument_names=(None,) * 6,
            name="train_step",
            returns=("losses", "W", "b"),
            **settings,
        ),
    )
    names = ("losses", "W", "b")
    oracles = [("SGD by hand", sgd_oracle(W, b, x, y, lr, steps, **settings))]
    if reference is not None:
        oracles.append(("reference", dict(zip(names, reference(W, b, x, y, lr, steps, **settings)))))
    right = all(not describe_mismatch(result[k], oracles[0][1][name], 1e-10)[0] for k, name in enumerate(names))
    wrong = (
        {}
        if right
        else {hint: sgd_oracle(W, b, x, y, lr, steps, **settings, mistake=m) for m, hint in TRAIN_MISTAKES.items()}
    )  # only needed to name a mistake
    for oracle, expected in oracles:
        named = False  # one mistake, one hint: W and b are wrong because the steps were, as the losses show
        for k, name in enumerate(names):
            line = report.compare(
                name,
                result[k],
                expected[name],
                oracle=oracle,
                tol=1e-10,
                dtype=F64,
                hint="" if named else TRAIN_HINT,
                suspects=None if named else {hint: value[name] for hint, value in wrong.items()},
            )
            named = named or not line.ok


@visible_check(harness=train_step_harness)
def train_step(report, train_step_run):
    """Graded: train_step, run three times by train_step_harness (a linear model, SGD with momentum),
    against SGD written out: once plainly; once with dropout on the input (the model starts in eval
    mode, as after an evaluation), a second input and another loss."""
    x = linspace_array((6, 4), -1.0, 1.2)
    y = np.array([0, 2, 1, 1, 0, 2])
    W, b = linspace_array((3, 4), 0.5, -0.4), linspace_array((3,), -0.1, 0.2)
    compare_train_step(report, train_step_run, W, b, x, y, 0.5, 3)
    compare_train_step(
        report,
        train_step_run,
        W,
        b,
        x,
        y,
        0.3,
        3,
        dropout=0.5,
        offset=linspace_array((6, 3), 0.4, -0.6),
        loss="multi_margin_loss",
        seed=1,
    )
