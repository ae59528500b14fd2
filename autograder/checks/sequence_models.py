"""Checks for lesson 06 (sequence models with torch.nn).

Each public function is what one graded cell calls, e.g. ``check.pad_sequences(pad_sequences)``.
Visible checks use small fixed cases whose answers are computed here by independent means:
the padding helpers and metrics by their definitions, the intent classifier by running
torch.nn.LSTM on each utterance *alone, unpadded* (so no packing can be wrong), the forecaster
by torch.nn.GRU, and the training step by an explicit torch loop. The models and the training
step are graded through the notebook's locked adapters (NumPy in, NumPy out).
"""
from __future__ import annotations

import numpy as np

from .core import CheckFailed, Report, call_student, linspace_array
from .torch_oracle import torch_module as _torch


def _require_dtype(report: Report, quantity: str, value, kind: str, what: str, hint: str) -> None:
    ok = isinstance(value, np.ndarray) and value.dtype.kind in kind
    got = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
    report.require(f"{quantity} dtype", ok, f"got {got}, expected {what}", hint=hint, oracle="type")


# --------------------------------------------------------------------------- pad_sequences

PAD_HINT = ("copy each sequence into the start of its row (padding on the right), fill the rest with pad_value; "
            "lengths[n] = len(seqs[n]); T_max is the longest length")


def _pad(seqs, pad_value, left=False):
    T = max(len(s) for s in seqs)
    out = np.full((len(seqs), T), pad_value, dtype=np.int64)
    for row, s in enumerate(seqs):
        if left:
            out[row, T - len(s):] = s
        else:
            out[row, :len(s)] = s
    return out


def compare_pad_sequences(report: Report, pad_sequences, seqs, pad_value, reference=None) -> None:
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    seqs = [np.asarray(s, dtype=np.int64) for s in seqs]
    padded, lengths = call_student(pad_sequences, [s.copy() for s in seqs], pad_value, returns=("padded", "lengths"))
    _require_dtype(report, "padded", padded, "iu", "an integer array", "token indices stay integers: np.full(..., dtype=np.int64)")
    expected = [("definition", (_pad(seqs, pad_value), np.array([len(s) for s in seqs])))]
    if reference is not None:
        expected.append(("reference", reference(seqs, pad_value)))
    suspects = {"pad on the right: row n starts with seqs[n], padding follows": _pad(seqs, pad_value, left=True),
                "fill the padding with pad_value, not with zeros": _pad(seqs, 0)}
    for oracle, (p, n) in expected:
        report.compare("padded", padded, p, oracle=oracle, hint=PAD_HINT, suspects=suspects)
        report.compare("lengths", lengths, n, oracle=oracle, hint="lengths[n] is the true length of seqs[n], before padding")


PAD_CASES = ([[5, 3, 8], [2], [7, 1, 4, 4, 9], [6, 6]], [[4, 2], [9, 9, 1]])


def pad_sequences(pad_sequences):
    """Graded: pad_sequences(seqs, pad_value) -> (padded (N, T_max) int, lengths (N,))."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("pad_sequences")
    compare_pad_sequences(report, pad_sequences, PAD_CASES[0], 0)
    compare_pad_sequences(report, pad_sequences, PAD_CASES[1], -1)
    report.finish()


# --------------------------------------------------------------------------- length_mask

MASK_HINT = "mask[n, t] is True exactly for the real steps t < lengths[n] (padding is on the right)"


def compare_length_mask(report: Report, length_mask, lengths, T, reference=None) -> None:
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    lengths = np.asarray(lengths, dtype=np.int64)
    mask = call_student(length_mask, lengths, T)
    _require_dtype(report, "mask", mask, "b", "a bool array", "a comparison such as a < b gives a bool array")
    t = np.arange(T)[None, :]
    expected = [("definition", t < lengths[:, None])]
    if reference is not None:
        expected.append(("reference", reference(lengths, T)))
    suspects = {"t < lengths[n], not t <= lengths[n]: step lengths[n] is already padding": t <= lengths[:, None],
                "padding is on the right: the real steps are the first lengths[n]": t >= T - lengths[:, None]}
    for oracle, value in expected:
        report.compare("mask", mask, value, oracle=oracle, hint=MASK_HINT, suspects=suspects)


def length_mask(length_mask):
    """Graded: length_mask(lengths, T) -> bool (N, T)."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("length_mask")
    compare_length_mask(report, length_mask, [3, 1, 5, 2], 5)
    compare_length_mask(report, length_mask, [2, 4], 6)
    report.finish()


# --------------------------------------------------------------------------- make_windows

WINDOW_HINT = "X[i] = series[i : i + window] (the days before), y[i] = target[i + window] (the day after); N = T - window"


def compare_make_windows(report: Report, make_windows, series, target, window, reference=None) -> None:
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    X, y = call_student(make_windows, series, target, window, returns=("X", "y"))
    T = len(target)
    expected = [("definition", (np.stack([series[i:i + window] for i in range(T - window)]), target[window:]))]
    if reference is not None:
        expected.append(("reference", reference(series, target, window)))
    y_suspects = {"y[i] is the day AFTER the window, target[i + window], not its last day": target[window - 1:-1]}
    x_suspects = {"X[i] holds the window's days, series[i : i + window], ending the day before y[i]":
                  np.stack([series[i + 1:i + 1 + window] for i in range(T - window)])}
    for oracle, (ex, ey) in expected:
        report.compare("X", X, ex, oracle=oracle, hint=WINDOW_HINT, suspects=x_suspects)
        report.compare("y", y, ey, oracle=oracle, hint=WINDOW_HINT, suspects=y_suspects)


def make_windows(make_windows):
    """Graded: make_windows(series, target, window) -> X (T - window, window, F), y (T - window,)."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("make_windows")
    series = linspace_array((9, 2), -1.0, 1.3)
    target = np.array([3.0, 5.0, 4.0, 8.0, 7.5, 6.0, 9.0, 2.0, 1.0])
    compare_make_windows(report, make_windows, series, target, 3)
    report.finish()


# --------------------------------------------------------------------------- persistence_forecast

PERSIST_HINT = "the forecast for day t = window + i is the day before it, target[t - 1]: target[window - 1 : -1]"


def compare_persistence(report: Report, persistence_forecast, target, window, reference=None) -> None:
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    forecast = call_student(persistence_forecast, target, window)
    expected = [("definition", target[window - 1:-1])]
    if reference is not None:
        expected.append(("reference", reference(target, window)))
    suspects = {"off by one day: predict tomorrow from today, not from yesterday": target[window - 2:-2],
                "that is the truth itself: the forecast may only use days up to the one before": target[window:],
                "use the last day of the window, not its first": target[:-window]}
    for oracle, value in expected:
        report.compare("forecast", forecast, value, oracle=oracle, hint=PERSIST_HINT, suspects=suspects)


def persistence_forecast(persistence_forecast):
    """Graded: persistence_forecast(target, window) -> (T - window,), aligned with make_windows' y."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("persistence_forecast")
    compare_persistence(report, persistence_forecast, np.array([3.0, 5.0, 4.0, 8.0, 7.5, 6.0, 9.0, 2.0, 1.0]), 3)
    compare_persistence(report, persistence_forecast, np.array([1.0, -2.0, 0.5, 4.0, 3.0]), 1)
    report.finish()


# --------------------------------------------------------------------------- metrics

def compare_metrics(report: Report, accuracy, confusion_matrix, mean_absolute_error, logits, labels, num_classes,
                    y_true, y_pred, reference=None) -> None:
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    acc = call_student(accuracy, logits, labels)
    predictions = np.argmax(logits, axis=1)
    matrix = call_student(confusion_matrix, labels, predictions, num_classes)
    mae = call_student(mean_absolute_error, y_true, y_pred)
    for quantity, value in (("accuracy", acc), ("MAE", mae)):
        report.require(f"{quantity} type", isinstance(value, (float, np.floating)) and np.ndim(value) == 0,
                       f"got {type(value).__name__}, expected a float", hint="return a single number: float(...)", oracle="type")
    counts = np.zeros((num_classes, num_classes))
    for i, j in zip(labels, predictions):
        counts[i, j] += 1
    diff = y_true - y_pred
    expected = [("definition", (np.mean(predictions == labels), counts, np.mean(np.abs(diff))))]
    if reference is not None:
        expected.append(("reference", (reference.accuracy(logits, labels), reference.confusion_matrix(labels, predictions, num_classes),
                                       reference.mean_absolute_error(y_true, y_pred))))
    for oracle, (e_acc, e_matrix, e_mae) in expected:
        report.compare("accuracy", acc, e_acc, oracle=oracle,
                       hint="the fraction (0..1) of rows whose argmax over the classes (axis 1) equals the label",
                       suspects={"a fraction, not a count: divide by N (or use np.mean)": np.sum(predictions == labels)})
        report.compare("confusion", matrix, e_matrix, oracle=oracle,
                       hint="matrix[i, j] counts the examples of true class i predicted as class j (rows: truth)",
                       suspects={"rows are the true classes, columns the predictions: you have the transpose": counts.T,
                                 "counts, not fractions: do not normalise": counts / np.maximum(1, counts.sum(axis=1, keepdims=True))})
        report.compare("MAE", mae, e_mae, oracle=oracle, hint="the mean of |y_true - y_pred|",
                       suspects={"absolute error, not squared: mean |y_true - y_pred|": np.mean(diff**2),
                                 "take the absolute value before averaging (errors of opposite sign cancel)": np.mean(diff),
                                 "no square root: this is the MAE, not the RMSE": np.sqrt(np.mean(diff**2))})


def _metric_inputs():
    logits = np.array([[2.0, 0.1, -1.0], [0.3, 0.2, 0.9], [-0.5, 1.5, 0.0], [1.0, 1.2, 0.3], [0.0, -0.2, 0.4]])
    labels = np.array([0, 2, 1, 0, 1])
    y_true, y_pred = np.array([10.0, 12.5, 8.0, 15.0]), np.array([11.0, 12.0, 9.5, 13.0])
    return logits, labels, 4, y_true, y_pred


def metrics(accuracy, confusion_matrix, mean_absolute_error):
    """Graded: accuracy(logits, labels), confusion_matrix(labels, predictions, C), mean_absolute_error(y_true, y_pred)."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("metrics")
    compare_metrics(report, accuracy, confusion_matrix, mean_absolute_error, *_metric_inputs())
    report.finish()


# --------------------------------------------------------------------------- IntentClassifier

INTENT_HINT = ("embed, pack with pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False), run the "
               "bidirectional LSTM, and give the head torch.cat([h_n[0], h_n[1]], dim=1)")


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
            _, (h_n, _) = lstm(torch.from_numpy(emb[n:n + 1, :length]))
            finals.append(h_n[:, 0].numpy())  # (2, H)
        finals = np.stack(finals, axis=1)  # (2, N, H)
        out_all, (h_all, _) = lstm(torch.from_numpy(emb))
    expected = np.concatenate([finals[0], finals[1]], axis=1) @ W.T + b
    out_all, h_all = out_all.numpy(), h_all.numpy()
    suspects = {
        "pack the batch (pack_padded_sequence): without it the LSTM also reads the padding":
            np.concatenate([h_all[0], h_all[1]], axis=1) @ W.T + b,
        "read h_n, the state after each utterance's true last token, not the output at the last padded step":
            out_all[:, -1] @ W.T + b,
        "h_n[0] is the forward direction, h_n[1] the backward one: concatenate them in that order":
            np.concatenate([finals[1], finals[0]], axis=1) @ W.T + b,
    }
    return expected, suspects


def compare_intent_classifier(report: Report, intent_classifier_forward, state, tokens, lengths, reference=None) -> None:
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    logits = call_student(intent_classifier_forward, state, tokens, lengths)
    expected, suspects = _intent_oracles(state, tokens, lengths)
    oracles = [("LSTM alone", expected)]
    if reference is not None:
        oracles.append(("reference", reference(state, tokens, lengths)))
    for oracle, value in oracles:
        report.compare("logits", logits, value, oracle=oracle, hint=INTENT_HINT, suspects=suspects)


def _intent_case(rng, lengths, T, V=9, E=3, H=2, C=4):
    tokens = np.zeros((len(lengths), T), dtype=np.int64)
    for n, length in enumerate(lengths):
        tokens[n, :length] = rng.integers(1, V, size=length)
    return intent_state(rng, V, E, H, C), tokens, np.asarray(lengths, dtype=np.int64)


def intent_classifier(intent_classifier_forward):
    """Graded: IntentClassifier through the notebook's intent_classifier_forward adapter, against each
    utterance run alone through torch.nn.LSTM(bidirectional=True)."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("intent_classifier")
    rng = np.random.default_rng(6)
    compare_intent_classifier(report, intent_classifier_forward, *_intent_case(rng, [6, 3, 1, 4], 6))
    report.finish()


# --------------------------------------------------------------------------- Forecaster

FORECAST_HINT = ("run the stacked GRU (num_layers layers, batch_first=True) on x (N, T, F), apply the head to the top "
                 "layer's output at the last step, out[:, -1], and squeeze the last axis: (N, 1) -> (N,)")


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
    suspects = {"the head reads the TOP layer: out[:, -1] (or h_n[-1]), not h_n[0], the first layer's state": h_n[0] @ W.T + b,
                "the forecast follows the last step of the window, out[:, -1], not the first": out[:, 0] @ W.T + b}
    return (out[:, -1] @ W.T + b)[:, 0], {k: v[:, 0] for k, v in suspects.items()}


def compare_forecaster(report: Report, forecaster_forward, state, windows, reference=None) -> None:
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    prediction = call_student(forecaster_forward, state, windows)
    expected, suspects = _forecast_oracles(state, windows)
    squeeze_hint = "squeeze only the last axis, .squeeze(-1): the forecast is (N,), also for a batch of one"
    suspects[squeeze_hint] = expected.reshape(-1, 1)
    if expected.shape == (1,):
        suspects[squeeze_hint + " "] = expected[0]
    oracles = [("GRU", expected)]
    if reference is not None:
        oracles.append(("reference", reference(state, windows)))
    for oracle, value in oracles:
        report.compare("forecast", prediction, value, oracle=oracle, hint=FORECAST_HINT, suspects=suspects)


def forecaster(forecaster_forward):
    """Graded: Forecaster through the notebook's forecaster_forward adapter, against torch.nn.GRU."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("forecaster")
    rng = np.random.default_rng(7)
    compare_forecaster(report, forecaster_forward, forecaster_state(rng, 3, 4, 2), rng.normal(size=(5, 6, 3)))
    compare_forecaster(report, forecaster_forward, forecaster_state(rng, 2, 3, 2), rng.normal(size=(1, 4, 2)))
    report.finish()


# --------------------------------------------------------------------------- train_step

TRAIN_HINT = ("per call: optimizer.zero_grad(), loss = loss_fn(model(*inputs), targets), loss.backward(), "
              "optimizer.step(), and return loss.item() (the loss before the update)")


def _train_oracle(W, b, x, y, lr, steps, mistake=None):
    torch = _torch()
    model = torch.nn.Linear(W.shape[1], W.shape[0]).double()
    with torch.no_grad():
        model.weight.copy_(torch.from_numpy(W))
        model.bias.copy_(torch.from_numpy(b))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    losses = []
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(steps):
        if mistake != "no_zero_grad":
            optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(xt), yt)
        loss.backward()
        if mistake != "no_step":
            optimizer.step()
        if mistake == "loss_after":
            with torch.no_grad():
                loss = torch.nn.functional.cross_entropy(model(xt), yt)
        losses.append(loss.item())
    return np.array(losses), model.weight.detach().numpy().copy(), model.bias.detach().numpy().copy()


def compare_train_step(report: Report, train_step_run, W, b, x, y, lr, steps, reference=None) -> None:
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    result = call_student(train_step_run, W, b, x, y, lr, steps, returns=("losses", "W", "b"))
    oracles = [("torch loop", _train_oracle(W, b, x, y, lr, steps))]
    if reference is not None:
        oracles.append(("reference", reference(W, b, x, y, lr, steps)))
    wrong = {"zero the gradients at every step (optimizer.zero_grad()): otherwise they pile up across calls":
             _train_oracle(W, b, x, y, lr, steps, "no_zero_grad"),
             "call optimizer.step() after loss.backward(): the parameters never change":
             _train_oracle(W, b, x, y, lr, steps, "no_step"),
             "return the loss computed before the update (the one you called backward on)":
             _train_oracle(W, b, x, y, lr, steps, "loss_after")}
    for oracle, expected in oracles:
        for k, name in enumerate(("losses", "W", "b")):
            report.compare(name, result[k], expected[k], oracle=oracle, hint=TRAIN_HINT,
                           suspects={hint: value[k] for hint, value in wrong.items()})


def train_step(train_step_run):
    """Graded: train_step, run three times by the notebook's train_step_run adapter (a linear model,
    SGD with momentum, cross-entropy), against an explicit torch loop."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("train_step")
    x = linspace_array((6, 4), -1.0, 1.2)
    y = np.array([0, 2, 1, 1, 0, 2])
    compare_train_step(report, train_step_run, linspace_array((3, 4), 0.5, -0.4), linspace_array((3,), -0.1, 0.2), x, y, 0.5, 3)
    report.finish()


__all__ = ["CheckFailed", "pad_sequences", "length_mask", "make_windows", "persistence_forecast", "metrics",
           "intent_classifier", "forecaster", "train_step"]
