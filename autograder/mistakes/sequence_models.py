"""Known-wrong variants of lesson 06's graded functions, in the learner's form: NumPy functions,
IntentClassifier and Forecaster classes, train_step functions. The hidden checks take the
values of some of them (those whose ``hint`` is a check's full hint) to name the mistake."""

from __future__ import annotations

import numpy as np
import torch

from autograder.reference import sequence_models as ref
from course.checks import sequence_models as check

from . import BOTH, HIDDEN, VISIBLE, Wrong  # noqa: F401  (HIDDEN: for variants caught by one side only)


# ---------------------------------------------------------------- pad_sequences
def pad_left(seqs, pad_value=0):
    lengths = np.array([len(s) for s in seqs])
    out = np.full((len(seqs), lengths.max()), pad_value, dtype=np.int64)
    for row, s in enumerate(seqs):
        out[row, out.shape[1] - len(s) :] = s
    return out, lengths


def pad_with_zeros(seqs, pad_value=0):
    return ref.pad_sequences(seqs, 0)


def pad_lengths_are_t_max(seqs, pad_value=0):
    padded, lengths = ref.pad_sequences(seqs, pad_value)
    return padded, np.full_like(lengths, padded.shape[1])


def pad_float(seqs, pad_value=0):
    padded, lengths = ref.pad_sequences(seqs, pad_value)
    return padded.astype(np.float64), lengths


# ---------------------------------------------------------------- length_mask
def mask_le(lengths, T):
    return np.arange(T)[None, :] <= np.asarray(lengths)[:, None]


def mask_left(lengths, T):
    return np.arange(T)[None, :] >= T - np.asarray(lengths)[:, None]


def mask_all_true(lengths, T):  # a mask that counts the padding
    return np.ones((len(lengths), T), dtype=bool)


def mask_float(lengths, T):
    return ref.length_mask(lengths, T).astype(np.float64)


# ---------------------------------------------------------------- make_windows
def windows_target_today(series, target, window):
    X, _ = ref.make_windows(series, target, window)
    return X, np.asarray(target)[window - 1 : -1]


def windows_shifted(series, target, window):
    T = len(target)
    X = np.stack([series[i + 1 : i + 1 + window] for i in range(T - window)])
    return X, np.asarray(target)[window:]


def windows_one_too_many(series, target, window):
    T = len(target)
    X = np.stack([series[i : i + window] for i in range(T - window + 1)])
    return X, np.asarray(target)[window - 1 :]


def windows_feature_major(series, target, window):
    X, y = ref.make_windows(series, target, window)
    return X.transpose(0, 2, 1), y


# ---------------------------------------------------------------- persistence_forecast
def persist_yesterday(target, window):
    return np.asarray(target)[window - 2 : -2] if window >= 2 else np.asarray(target)[:-2]


def persist_truth(target, window):
    return np.asarray(target)[window:]


def persist_window_start(target, window):
    return np.asarray(target)[:-window]


# ---------------------------------------------------------------- metrics
def accuracy_wrong_axis(logits, labels):
    return float(np.mean(np.argmax(logits, axis=0) == labels))


def accuracy_count(logits, labels):
    return float(np.sum(np.argmax(logits, axis=1) == labels))


def confusion_transposed(labels, predictions, num_classes):
    return ref.confusion_matrix(labels, predictions, num_classes).T


def confusion_normalised(labels, predictions, num_classes):
    m = ref.confusion_matrix(labels, predictions, num_classes)
    return m / np.maximum(1, m.sum(axis=1, keepdims=True))


def mae_squared(y_true, y_pred):
    return float(np.mean((y_true - y_pred) ** 2))


def mae_no_abs(y_true, y_pred):
    return float(np.mean(y_true - y_pred))


def mae_rmse(y_true, y_pred):
    return float(np.sqrt(np.mean((y_true - y_pred) ** 2)))


A, CM, MAE = ref.accuracy, ref.confusion_matrix, ref.mean_absolute_error


# ---------------------------------------------------------------- IntentClassifier
class _Intent(torch.nn.Module):
    def __init__(self, vocab_size, embed_dim, hidden_size, num_classes):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.rnn = torch.nn.LSTM(embed_dim, hidden_size, batch_first=True, bidirectional=True)
        self.head = torch.nn.Linear(2 * hidden_size, num_classes)

    def packed(self, tokens, lengths):
        return torch.nn.utils.rnn.pack_padded_sequence(
            self.embedding(tokens), lengths.cpu(), batch_first=True, enforce_sorted=False
        )


class IntentNoPacking(_Intent):
    def forward(self, tokens, lengths):
        _, (h_n, _) = self.rnn(self.embedding(tokens))
        return self.head(torch.cat([h_n[0], h_n[1]], dim=1))


class IntentLastPaddedStep(_Intent):
    def forward(self, tokens, lengths):
        out, _ = self.rnn(self.embedding(tokens))
        return self.head(out[:, -1])


class IntentLastPaddedStepPacked(_Intent):
    def forward(self, tokens, lengths):
        out, _ = self.rnn(self.packed(tokens, lengths))
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True)
        return self.head(out[:, -1])


class IntentSwapped(_Intent):
    def forward(self, tokens, lengths):
        _, (h_n, _) = self.rnn(self.packed(tokens, lengths))
        return self.head(torch.cat([h_n[1], h_n[0]], dim=1))


class IntentUnidirectional(torch.nn.Module):
    def __init__(self, vocab_size, embed_dim, hidden_size, num_classes):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.rnn = torch.nn.LSTM(embed_dim, hidden_size, batch_first=True)
        self.head = torch.nn.Linear(hidden_size, num_classes)

    def forward(self, tokens, lengths):
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            self.embedding(tokens), lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        _, (h_n, _) = self.rnn(packed)
        return self.head(h_n[-1])


# ---------------------------------------------------------------- Forecaster
class _Forecaster(torch.nn.Module):
    def __init__(self, num_features, hidden_size, num_layers=2):
        super().__init__()
        self.rnn = torch.nn.GRU(num_features, hidden_size, num_layers=num_layers, batch_first=True)
        self.head = torch.nn.Linear(hidden_size, 1)


class ForecasterFirstLayer(_Forecaster):
    def forward(self, x):
        _, h_n = self.rnn(x)
        return self.head(h_n[0]).squeeze(-1)


class ForecasterFirstStep(_Forecaster):
    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, 0]).squeeze(-1)


class ForecasterSqueezeAll(_Forecaster):
    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1]).squeeze()


class ForecasterOneLayer(torch.nn.Module):
    def __init__(self, num_features, hidden_size, num_layers=2):
        super().__init__()
        self.rnn = torch.nn.GRU(num_features, hidden_size, batch_first=True)  # num_layers ignored
        self.head = torch.nn.Linear(hidden_size, 1)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1]).squeeze(-1)


# ---------------------------------------------------------------- train_step
def step_no_zero_grad(model, optimizer, inputs, targets, loss_fn):
    model.train()
    loss = loss_fn(model(*inputs), targets)
    loss.backward()
    optimizer.step()
    return loss.item()


def step_no_step(model, optimizer, inputs, targets, loss_fn):
    model.train()
    optimizer.zero_grad()
    loss = loss_fn(model(*inputs), targets)
    loss.backward()
    return loss.item()


def step_loss_after(model, optimizer, inputs, targets, loss_fn):
    model.train()
    optimizer.zero_grad()
    loss_fn(model(*inputs), targets).backward()
    optimizer.step()
    with torch.no_grad():
        return loss_fn(model(*inputs), targets).item()


def step_returns_tensor(model, optimizer, inputs, targets, loss_fn):
    model.train()
    optimizer.zero_grad()
    loss = loss_fn(model(*inputs), targets)
    loss.backward()
    optimizer.step()
    return loss


def step_zero_grad_after_backward(model, optimizer, inputs, targets, loss_fn):
    model.train()
    loss = loss_fn(model(*inputs), targets)
    loss.backward()
    optimizer.zero_grad()
    optimizer.step()
    return loss.item()


# ---------------------------------------------------------------- new variants, by kind of gap
# 1. inputs changed in place, views returned where new arrays are promised
def pad_overwrites_list(seqs, pad_value=0):
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    T = int(lengths.max())
    for i, s in enumerate(seqs):  # pads the caller's list itself
        seqs[i] = np.concatenate([s, np.full(T - len(s), pad_value, dtype=np.int64)])
    return np.stack(seqs), lengths


def windows_y_view(series, target, window):
    X, _ = ref.make_windows(series, target, window)
    return X, np.asarray(target)[window:]


def persist_view(target, window):
    return np.asarray(target)[window - 1 : -1]


def accuracy_shifts_logits(logits, labels):
    logits -= logits.max(axis=1, keepdims=True)  # "for stability", into the caller's array
    return float(np.mean(np.argmax(logits, axis=1) == labels))


def mae_in_place(y_true, y_pred):
    y_true -= y_pred
    return float(np.mean(np.abs(y_true)))


# 3. dtypes
def pad_int32(seqs, pad_value=0):
    padded, lengths = ref.pad_sequences(seqs, pad_value)
    return padded.astype(np.int32), lengths


def pad_lengths_float(seqs, pad_value=0):
    padded, lengths = ref.pad_sequences(seqs, pad_value)
    return padded, lengths.astype(np.float64)


def windows_float32(series, target, window):
    X, y = ref.make_windows(series, target, window)
    return X.astype(np.float32), y


def persist_float32(target, window):
    return ref.persistence_forecast(target, window).astype(np.float32)


def mae_float32(y_true, y_pred):
    return np.mean(np.abs(y_true - y_pred), dtype=np.float32)


def confusion_float(labels, predictions, num_classes):
    matrix = np.zeros((num_classes, num_classes))
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


# 5. code that works only on some shapes and values
def pad_lengths_by_count(seqs, pad_value=0):
    padded, _ = ref.pad_sequences(seqs, pad_value)
    return padded, (padded != pad_value).sum(axis=1)


def pad_longest_first(seqs, pad_value=0):
    out = np.full((len(seqs), len(seqs[0])), pad_value, dtype=np.int64)  # T_max taken from the first row
    for row, s in enumerate(seqs):
        out[row, : len(s)] = s
    return out, np.array([len(s) for s in seqs], dtype=np.int64)


def mask_ignores_T(lengths, T):
    lengths = np.asarray(lengths)
    return np.arange(lengths.max())[None, :] < lengths[:, None]


def confusion_plus_equals(labels, predictions, num_classes):
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    matrix[labels, predictions] += 1  # a repeated pair counts once
    return matrix


def confusion_classes_from_data(labels, predictions, num_classes):
    C = int(max(labels.max(), predictions.max())) + 1
    return ref.confusion_matrix(labels, predictions, C)


class IntentEnforceSorted(_Intent):
    def forward(self, tokens, lengths):
        packed = torch.nn.utils.rnn.pack_padded_sequence(self.embedding(tokens), lengths.cpu(), batch_first=True)
        _, (h_n, _) = self.rnn(packed)
        return self.head(torch.cat([h_n[0], h_n[1]], dim=1))


class IntentSortedNoRestore(_Intent):
    def forward(self, tokens, lengths):
        lengths, order = lengths.sort(descending=True)
        packed = torch.nn.utils.rnn.pack_padded_sequence(self.embedding(tokens[order]), lengths.cpu(), batch_first=True)
        _, (h_n, _) = self.rnn(packed)
        return self.head(torch.cat([h_n[0], h_n[1]], dim=1))  # rows left in the sorted order


class ForecasterSecondLayer(_Forecaster):
    def forward(self, x):
        _, h_n = self.rnn(x)
        return self.head(h_n[1]).squeeze(-1)  # the top layer only when there are two


def step_no_train_mode(model, optimizer, inputs, targets, loss_fn):
    optimizer.zero_grad()
    loss = loss_fn(model(*inputs), targets)
    loss.backward()
    optimizer.step()
    return loss.item()


def step_first_input_only(model, optimizer, inputs, targets, loss_fn):
    model.train()
    optimizer.zero_grad()
    loss = loss_fn(model(inputs[0]), targets)
    loss.backward()
    optimizer.step()
    return loss.item()


def step_fixed_loss(model, optimizer, inputs, targets, loss_fn):
    model.train()
    optimizer.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(*inputs), targets)
    loss.backward()
    optimizer.step()
    return loss.item()


VARIANTS: dict[str, list[Wrong]] = {
    "pad_sequences": [
        Wrong("left", "padding on the left", (pad_left,), BOTH, hint="pad on the right"),
        Wrong("zeros", "pad_value ignored: pads with 0", (pad_with_zeros,), BOTH, hint="not with zeros"),
        Wrong(
            "lengths_t_max",
            "every length reported as T_max (the mask would count padding)",
            (pad_lengths_are_t_max,),
            BOTH,
            hint="not T_max",
        ),
        Wrong(
            "float",
            "a float array of token indices",
            (pad_float,),
            BOTH,
            hint="padded dtype: got float64, expected int64",
        ),
        Wrong(
            "overwrites_list",
            "pads the caller's list in place (seqs[i] = padded row)",
            (pad_overwrites_list,),
            BOTH,
            hint="seqs was left changed",
        ),
        Wrong(
            "int32",
            "int32 token indices (torch losses want int64 targets)",
            (pad_int32,),
            BOTH,
            hint="padded dtype: got int32, expected int64",
        ),
        Wrong("lengths_float", "lengths as float64", (pad_lengths_float,), BOTH, hint="lengths dtype: got float64"),
        Wrong(
            "lengths_by_count",
            "lengths counted as the entries that differ from pad_value",
            (pad_lengths_by_count,),
            BOTH,
            hint="do not count the entries that differ from pad_value",
        ),
        Wrong(
            "longest_first",
            "T_max taken from the first sequence",
            (pad_longest_first,),
            BOTH,
            hint="pad_sequences raised ValueError",
        ),
    ],
    "length_mask": [
        Wrong("le", "t <= length: one padded step counted", (mask_le,), BOTH, hint="not t <= lengths[n]"),
        Wrong(
            "left", "the mask aligned on the right (left padding)", (mask_left,), BOTH, hint="padding is on the right"
        ),
        Wrong("all_true", "a mask that counts the padding", (mask_all_true,), BOTH, hint=check.MASK_HINT),
        Wrong("float", "a float mask", (mask_float,), BOTH, hint="mask dtype: got float64, expected bool"),
        Wrong(
            "ignores_T", "T ignored: max(lengths) columns", (mask_ignores_T,), BOTH, hint="T may exceed max(lengths)"
        ),
    ],
    "make_windows": [
        Wrong(
            "target_today",
            "y is the window's last day, not the day after",
            (windows_target_today,),
            BOTH,
            hint=check.Y_TODAY,
        ),
        Wrong(
            "shifted",
            "X shifted one day later (it contains the target day)",
            (windows_shifted,),
            BOTH,
            hint=check.X_SHIFTED,
        ),
        Wrong(
            "one_too_many",
            "T - window + 1 windows (a window whose target is its own last day)",
            (windows_one_too_many,),
            BOTH,
            hint="X: shape",
        ),
        Wrong("feature_major", "X as (N, F, window)", (windows_feature_major,), BOTH, hint="days along axis 1"),
        Wrong(
            "y_view", "y returned as a view of target", (windows_y_view,), VISIBLE, hint="y new: is a view of an input"
        ),
        Wrong("float32", "X in float32", (windows_float32,), BOTH, hint="dtype float32, expected float64"),
    ],
    "persistence_forecast": [
        Wrong(
            "yesterday",
            "off by one day: today predicted from yesterday",
            (persist_yesterday,),
            BOTH,
            hint="not from yesterday",
        ),
        Wrong("truth", "the forecast is the truth itself", (persist_truth,), BOTH, hint=check.PERSIST_TRUTH),
        Wrong("window_start", "the first day of the window", (persist_window_start,), BOTH, hint=check.PERSIST_START),
        Wrong("view", "a view of target returned", (persist_view,), VISIBLE, hint="new: is a view of an input"),
        Wrong("float32", "the forecast in float32", (persist_float32,), BOTH, hint="dtype float32, expected float64"),
    ],
    "metrics": [
        Wrong("accuracy_axis", "argmax over the batch axis", (accuracy_wrong_axis, CM, MAE), BOTH, hint="accuracy"),
        Wrong(
            "accuracy_count",
            "a count of right answers, not a fraction",
            (accuracy_count, CM, MAE),
            BOTH,
            hint=check.ACCURACY_COUNT,
        ),
        Wrong(
            "confusion_transposed",
            "rows are predictions",
            (A, confusion_transposed, MAE),
            BOTH,
            hint="you have the transpose",
        ),
        Wrong(
            "confusion_normalised",
            "rows normalised to fractions",
            (A, confusion_normalised, MAE),
            BOTH,
            hint="expected integer counts",
        ),
        Wrong(
            "mae_squared", "MAE computed as the mean squared error", (A, CM, mae_squared), BOTH, hint=check.MAE_SQUARED
        ),
        Wrong("mae_no_abs", "the mean of signed errors", (A, CM, mae_no_abs), BOTH, hint=check.MAE_SIGNED),
        Wrong("mae_rmse", "the root mean squared error", (A, CM, mae_rmse), BOTH, hint=check.MAE_RMSE),
        Wrong(
            "accuracy_in_place",
            "logits shifted in place",
            (accuracy_shifts_logits, CM, MAE),
            BOTH,
            hint="logits was left changed",
        ),
        Wrong(
            "mae_in_place",
            "y_true overwritten by the errors",
            (A, CM, mae_in_place),
            BOTH,
            hint="y_true was left changed",
        ),
        Wrong(
            "mae_float32", "the MAE as a float32 scalar", (A, CM, mae_float32), BOTH, hint="expected a float (float64)"
        ),
        Wrong("confusion_float", "float counts", (A, confusion_float, MAE), BOTH, hint="expected integer counts"),
        Wrong(
            "confusion_plus_equals",
            "matrix[labels, predictions] += 1: repeated pairs counted once",
            (A, confusion_plus_equals, MAE),
            BOTH,
            hint=check.CONFUSION_ONCE,
        ),
        Wrong(
            "confusion_classes_from_data",
            "num_classes ignored: C from the largest class seen",
            (A, confusion_classes_from_data, MAE),
            BOTH,
            hint=check.CONFUSION_SHAPE,
        ),
    ],
    "intent_classifier": [
        Wrong("no_packing", "no packing: the LSTM reads the padding", (IntentNoPacking,), BOTH, hint="pack the batch"),
        Wrong(
            "last_padded_step", "head on out[:, -1], the last padded step", (IntentLastPaddedStep,), BOTH, hint="logits"
        ),
        Wrong(
            "last_padded_step_packed",
            "packed, but the head reads out[:, -1] after unpacking",
            (IntentLastPaddedStepPacked,),
            BOTH,
            hint="logits",
        ),
        Wrong(
            "swapped",
            "final states concatenated backward first",
            (IntentSwapped,),
            BOTH,
            hint="h_n[0] is the forward direction",
        ),
        Wrong(
            "unidirectional",
            "a one-directional LSTM",
            (IntentUnidirectional,),
            BOTH,
            hint="name and size the submodules",
        ),
        Wrong(
            "enforce_sorted",
            "pack_padded_sequence with enforce_sorted=True",
            (IntentEnforceSorted,),
            BOTH,
            hint="enforce_sorted=False",
        ),
        Wrong(
            "sorted_no_restore",
            "the batch sorted by length and never put back",
            (IntentSortedNoRestore,),
            BOTH,
            hint="sorted by length",
        ),
    ],
    "forecaster": [
        Wrong(
            "first_layer",
            "the head reads h_n[0], the first layer's final state",
            (ForecasterFirstLayer,),
            BOTH,
            hint="the head reads the TOP layer",
        ),
        Wrong("first_step", "the head reads out[:, 0]", (ForecasterFirstStep,), BOTH, hint="not the first"),
        Wrong(
            "squeeze_all",
            ".squeeze() makes a batch of one a scalar",
            (ForecasterSqueezeAll,),
            BOTH,
            hint="squeeze only the last axis",
        ),
        Wrong("one_layer", "num_layers ignored", (ForecasterOneLayer,), BOTH, hint="name and size the submodules"),
        Wrong(
            "second_layer",
            "the head reads h_n[1] (the top layer only when there are two)",
            (ForecasterSecondLayer,),
            BOTH,
            hint="h_n[1]",
        ),
    ],
    "train_step": [
        Wrong("no_zero_grad", "gradients never zeroed", (step_no_zero_grad,), BOTH, hint="they pile up"),
        Wrong("no_step", "optimizer.step() forgotten", (step_no_step,), BOTH, hint="the parameters never change"),
        Wrong(
            "loss_after",
            "the loss after the update returned",
            (step_loss_after,),
            BOTH,
            hint="the loss computed before the update",
        ),
        Wrong(
            "returns_tensor",
            "the loss tensor returned instead of a float",
            (step_returns_tensor,),
            BOTH,
            hint="loss.item()",
        ),
        Wrong(
            "zero_grad_after_backward",
            "zero_grad between backward and step",
            (step_zero_grad_after_backward,),
            BOTH,
            hint="not between backward and step",
        ),
        Wrong(
            "no_train_mode",
            "model.train() never called: a model left in eval mode trains without dropout",
            (step_no_train_mode,),
            BOTH,
            hint="model.train()",
        ),
        Wrong(
            "first_input_only",
            "model(inputs[0]): the other inputs dropped",
            (step_first_input_only,),
            BOTH,
            hint="model(*inputs)",
        ),
        Wrong(
            "fixed_loss",
            "cross_entropy whatever loss_fn is given",
            (step_fixed_loss,),
            BOTH,
            hint="use the loss_fn you are given",
        ),
    ],
}

#: The correct functions, in each check's argument order.
CORRECT = {
    "pad_sequences": (ref.pad_sequences,),
    "length_mask": (ref.length_mask,),
    "make_windows": (ref.make_windows,),
    "persistence_forecast": (ref.persistence_forecast,),
    "metrics": (A, CM, MAE),
    "intent_classifier": (ref.IntentClassifier,),
    "forecaster": (ref.Forecaster,),
    "train_step": (ref.train_step,),
}
