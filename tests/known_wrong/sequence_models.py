"""Known-wrong variants of lesson 06's graded functions."""
from __future__ import annotations

import numpy as np
import torch

from autograder.reference import sequence_models as ref

from . import BOTH, HIDDEN, VISIBLE, Wrong  # noqa: F401  (HIDDEN, VISIBLE: for variants caught by one side only)


# ---------------------------------------------------------------- pad_sequences
def pad_left(seqs, pad_value=0):
    lengths = np.array([len(s) for s in seqs])
    out = np.full((len(seqs), lengths.max()), pad_value, dtype=np.int64)
    for row, s in enumerate(seqs):
        out[row, out.shape[1] - len(s):] = s
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
    return X, np.asarray(target)[window - 1:-1]


def windows_shifted(series, target, window):
    T = len(target)
    X = np.stack([series[i + 1:i + 1 + window] for i in range(T - window)])
    return X, np.asarray(target)[window:]


def windows_one_too_many(series, target, window):
    T = len(target)
    X = np.stack([series[i:i + window] for i in range(T - window + 1)])
    return X, np.asarray(target)[window - 1:]


def windows_feature_major(series, target, window):
    X, y = ref.make_windows(series, target, window)
    return X.transpose(0, 2, 1), y


# ---------------------------------------------------------------- persistence_forecast
def persist_yesterday(target, window):
    return np.asarray(target)[window - 2:-2] if window >= 2 else np.asarray(target)[:-2]


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
        return torch.nn.utils.rnn.pack_padded_sequence(self.embedding(tokens), lengths.cpu(), batch_first=True, enforce_sorted=False)


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
        packed = torch.nn.utils.rnn.pack_padded_sequence(self.embedding(tokens), lengths.cpu(), batch_first=True, enforce_sorted=False)
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
    loss = loss_fn(model(*inputs), targets)
    loss.backward()
    optimizer.step()
    return loss.item()


def step_no_step(model, optimizer, inputs, targets, loss_fn):
    optimizer.zero_grad()
    loss = loss_fn(model(*inputs), targets)
    loss.backward()
    return loss.item()


def step_loss_after(model, optimizer, inputs, targets, loss_fn):
    optimizer.zero_grad()
    loss_fn(model(*inputs), targets).backward()
    optimizer.step()
    with torch.no_grad():
        return loss_fn(model(*inputs), targets).item()


def step_returns_tensor(model, optimizer, inputs, targets, loss_fn):
    optimizer.zero_grad()
    loss = loss_fn(model(*inputs), targets)
    loss.backward()
    optimizer.step()
    return loss


def step_zero_grad_after_backward(model, optimizer, inputs, targets, loss_fn):
    loss = loss_fn(model(*inputs), targets)
    loss.backward()
    optimizer.zero_grad()
    optimizer.step()
    return loss.item()


_IA, _FA, _TA = ref.intent_adapter, ref.forecaster_adapter, ref.train_step_adapter

VARIANTS: dict[str, list[Wrong]] = {
    "pad_sequences": [
        Wrong("left", "padding on the left", (pad_left,), BOTH),
        Wrong("zeros", "pad_value ignored: pads with 0", (pad_with_zeros,), BOTH),
        Wrong("lengths_t_max", "every length reported as T_max (the mask would count padding)", (pad_lengths_are_t_max,), BOTH),
        Wrong("float", "a float array of token indices", (pad_float,), BOTH),
    ],
    "length_mask": [
        Wrong("le", "t <= length: one padded step counted", (mask_le,), BOTH),
        Wrong("left", "the mask aligned on the right (left padding)", (mask_left,), BOTH),
        Wrong("all_true", "a mask that counts the padding", (mask_all_true,), BOTH),
        Wrong("float", "a float mask", (mask_float,), BOTH),
    ],
    "make_windows": [
        Wrong("target_today", "y is the window's last day, not the day after", (windows_target_today,), BOTH),
        Wrong("shifted", "X shifted one day later (it contains the target day)", (windows_shifted,), BOTH),
        Wrong("one_too_many", "T - window + 1 windows (a window whose target is its own last day)", (windows_one_too_many,), BOTH),
        Wrong("feature_major", "X as (N, F, window)", (windows_feature_major,), BOTH),
    ],
    "persistence_forecast": [
        Wrong("yesterday", "off by one day: today predicted from yesterday", (persist_yesterday,), BOTH),
        Wrong("truth", "the forecast is the truth itself", (persist_truth,), BOTH),
        Wrong("window_start", "the first day of the window", (persist_window_start,), BOTH),
    ],
    "metrics": [
        Wrong("accuracy_axis", "argmax over the batch axis", (accuracy_wrong_axis, CM, MAE), BOTH),
        Wrong("accuracy_count", "a count of right answers, not a fraction", (accuracy_count, CM, MAE), BOTH),
        Wrong("confusion_transposed", "rows are predictions", (A, confusion_transposed, MAE), BOTH),
        Wrong("confusion_normalised", "rows normalised to fractions", (A, confusion_normalised, MAE), BOTH),
        Wrong("mae_squared", "MAE computed as the mean squared error", (A, CM, mae_squared), BOTH),
        Wrong("mae_no_abs", "the mean of signed errors", (A, CM, mae_no_abs), BOTH),
        Wrong("mae_rmse", "the root mean squared error", (A, CM, mae_rmse), BOTH),
    ],
    "intent_classifier": [
        Wrong("no_packing", "no packing: the LSTM reads the padding", (_IA(IntentNoPacking),), BOTH),
        Wrong("last_padded_step", "head on out[:, -1], the last padded step", (_IA(IntentLastPaddedStep),), BOTH),
        Wrong("last_padded_step_packed", "packed, but the head reads out[:, -1] after unpacking", (_IA(IntentLastPaddedStepPacked),), BOTH),
        Wrong("swapped", "final states concatenated backward first", (_IA(IntentSwapped),), BOTH),
        Wrong("unidirectional", "a one-directional LSTM", (_IA(IntentUnidirectional),), BOTH),
    ],
    "forecaster": [
        Wrong("first_layer", "the head reads h_n[0], the first layer's final state", (_FA(ForecasterFirstLayer),), BOTH),
        Wrong("first_step", "the head reads out[:, 0]", (_FA(ForecasterFirstStep),), BOTH),
        Wrong("squeeze_all", ".squeeze() makes a batch of one a scalar", (_FA(ForecasterSqueezeAll),), BOTH),
        Wrong("one_layer", "num_layers ignored", (_FA(ForecasterOneLayer),), BOTH),
    ],
    "train_step": [
        Wrong("no_zero_grad", "gradients never zeroed", (_TA(step_no_zero_grad),), BOTH),
        Wrong("no_step", "optimizer.step() forgotten", (_TA(step_no_step),), BOTH),
        Wrong("loss_after", "the loss after the update returned", (_TA(step_loss_after),), BOTH),
        Wrong("returns_tensor", "the loss tensor returned instead of a float", (_TA(step_returns_tensor),), BOTH),
        Wrong("zero_grad_after_backward", "zero_grad between backward and step", (_TA(step_zero_grad_after_backward),), BOTH),
    ],
}

#: The correct functions, in each check's argument order.
CORRECT = {
    "pad_sequences": (ref.pad_sequences,),
    "length_mask": (ref.length_mask,),
    "make_windows": (ref.make_windows,),
    "persistence_forecast": (ref.persistence_forecast,),
    "metrics": (A, CM, MAE),
    "intent_classifier": (_IA(ref.IntentClassifier),),
    "forecaster": (_FA(ref.Forecaster),),
    "train_step": (_TA(ref.train_step),),
}
