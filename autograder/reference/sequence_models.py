"""Lesson 06 references: padding and masks, forecasting windows and the persistence baseline,
the evaluation metrics, the two torch models and the training step.

Padding is on the right with ``pad_value``; token index 0 is the padding token of the
intent classifier's embedding. The intent classifier is an embedding, a one-layer
bidirectional LSTM (batch_first) over the packed batch, and a linear head on
``cat(h_n[0], h_n[1])`` (the forward direction's state after the last real token, then
the backward direction's state after the first). The forecaster is a stacked GRU
(batch_first) and a linear head on the top layer's last output, squeezed to (N,).
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "pad_sequences", "length_mask", "make_windows", "persistence_forecast",
    "accuracy", "confusion_matrix", "mean_absolute_error", "train_step",
    "intent_adapter", "forecaster_adapter", "train_step_adapter",
]


def pad_sequences(seqs, pad_value=0):
    """seqs: list of N 1-D int arrays -> padded (N, T_max) int64 (right-padded), lengths (N,) int64."""
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    padded = np.full((len(seqs), int(lengths.max())), pad_value, dtype=np.int64)
    for row, s in enumerate(seqs):
        padded[row, :len(s)] = s
    return padded, lengths


def length_mask(lengths, T):
    """lengths (N,) -> bool (N, T), True where t < lengths[n]."""
    return np.arange(T)[None, :] < np.asarray(lengths)[:, None]


def make_windows(series, target, window):
    """series (T, F), target (T,) -> X (T - window, window, F), y (T - window,):
    X[i] = series[i:i + window], y[i] = target[i + window] (the day after the window)."""
    T = len(target)
    X = np.stack([series[i:i + window] for i in range(T - window)])
    return X, np.asarray(target)[window:].copy()


def persistence_forecast(target, window):
    """target (T,) -> (T - window,): for the day t = window + i, the forecast is target[t - 1]."""
    target = np.asarray(target)
    return target[window - 1:-1].copy()


def accuracy(logits, labels):
    """logits (N, C), labels (N,) int -> the fraction of rows whose argmax is the label (a float)."""
    return float(np.mean(np.argmax(logits, axis=1) == labels))


def confusion_matrix(labels, predictions, num_classes):
    """labels, predictions (N,) int -> (C, C) int64; entry [i, j] counts true class i predicted as j."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def mean_absolute_error(y_true, y_pred):
    """(N,) and (N,) -> mean |y_true - y_pred| (a float)."""
    return float(np.mean(np.abs(np.asarray(y_true) - np.asarray(y_pred))))


def train_step(model, optimizer, inputs, targets, loss_fn):
    """One update: loss = loss_fn(model(*inputs), targets); zero the gradients, backward, step.
    Returns the loss before the update as a Python float."""
    model.train()
    optimizer.zero_grad()
    loss = loss_fn(model(*inputs), targets)
    loss.backward()
    optimizer.step()
    return loss.item()


# ------------------------------------------------------------------ the torch models


def _intent_class():
    import torch

    class IntentClassifier(torch.nn.Module):
        def __init__(self, vocab_size, embed_dim, hidden_size, num_classes):
            super().__init__()
            self.embedding = torch.nn.Embedding(vocab_size, embed_dim, padding_idx=0)
            self.rnn = torch.nn.LSTM(embed_dim, hidden_size, batch_first=True, bidirectional=True)
            self.head = torch.nn.Linear(2 * hidden_size, num_classes)

        def forward(self, tokens, lengths):
            packed = torch.nn.utils.rnn.pack_padded_sequence(self.embedding(tokens), lengths.cpu(), batch_first=True,
                                                             enforce_sorted=False)
            _, (h_n, _) = self.rnn(packed)
            return self.head(torch.cat([h_n[0], h_n[1]], dim=1))

    return IntentClassifier


def _forecaster_class():
    import torch

    class Forecaster(torch.nn.Module):
        def __init__(self, num_features, hidden_size, num_layers=2):
            super().__init__()
            self.rnn = torch.nn.GRU(num_features, hidden_size, num_layers=num_layers, batch_first=True)
            self.head = torch.nn.Linear(hidden_size, 1)

        def forward(self, x):
            out, _ = self.rnn(x)
            return self.head(out[:, -1]).squeeze(-1)

    return Forecaster


def _load_state(model, state, name):
    import torch

    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    given = {k: tuple(v.shape) for k, v in state.items()}
    if expected != given:
        missing = sorted(set(given) - set(expected))
        extra = sorted(set(expected) - set(given))
        wrong = sorted(k for k in set(given) & set(expected) if given[k] != expected[k])
        raise ValueError(f"{name}'s parameters do not match the specification: missing {missing}, unexpected {extra}, "
                         f"wrong shape {wrong}")
    model.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in state.items()})
    return model


def intent_adapter(model_class):
    """The notebook's locked intent_classifier_forward, for a given IntentClassifier class."""
    import torch

    def intent_classifier_forward(state, tokens, lengths):
        vocab_size, embed_dim = state["embedding.weight"].shape
        hidden_size = state["rnn.weight_hh_l0"].shape[1]
        num_classes = state["head.weight"].shape[0]
        model = model_class(vocab_size, embed_dim, hidden_size, num_classes).to(torch.float64)
        _load_state(model, state, "IntentClassifier")
        model.eval()
        with torch.no_grad():
            logits = model(torch.from_numpy(tokens), torch.from_numpy(lengths))
        return logits.detach().cpu().numpy()

    return intent_classifier_forward


def forecaster_adapter(model_class):
    """The notebook's locked forecaster_forward, for a given Forecaster class."""
    import torch

    def forecaster_forward(state, windows):
        num_features = state["rnn.weight_ih_l0"].shape[1]
        hidden_size = state["rnn.weight_hh_l0"].shape[1]
        num_layers = sum(1 for k in state if k.startswith("rnn.weight_ih_l"))
        model = model_class(num_features, hidden_size, num_layers).to(torch.float64)
        _load_state(model, state, "Forecaster")
        model.eval()
        with torch.no_grad():
            prediction = model(torch.from_numpy(windows))
        return prediction.detach().cpu().numpy()

    return forecaster_forward


def _tiny_classifier_class():
    import torch

    class TinyClassifier(torch.nn.Module):
        """What train_step_run trains: dropout on x, then a linear layer (W (C, D), b (C,));
        a second input, when given, is added to the logits."""

        def __init__(self, W, b, dropout):
            super().__init__()
            self.dropout = torch.nn.Dropout(dropout)
            self.linear = torch.nn.Linear(W.shape[1], W.shape[0]).to(torch.float64)
            with torch.no_grad():
                self.linear.weight.copy_(torch.from_numpy(W))
                self.linear.bias.copy_(torch.from_numpy(b))

        def forward(self, x, offset=None):
            logits = self.linear(self.dropout(x))
            return logits if offset is None else logits + offset

    return TinyClassifier


def train_step_adapter(step):
    """The notebook's locked train_step_run, for a given train_step function."""
    import torch

    losses_by_name = {"cross_entropy": torch.nn.functional.cross_entropy,
                      "multi_margin_loss": torch.nn.functional.multi_margin_loss}

    def train_step_run(W, b, x, y, lr, steps, dropout=0.0, offset=None, loss="cross_entropy", seed=0):
        model = _tiny_classifier_class()(W, b, dropout)
        model.eval()  # as after an evaluation: train_step must switch training mode back on
        optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        inputs = (torch.from_numpy(x),) if offset is None else (torch.from_numpy(x), torch.from_numpy(offset))
        torch.manual_seed(seed)  # the dropout masks
        losses = []
        for _ in range(int(steps)):
            value = step(model, optimizer, inputs, torch.from_numpy(y), losses_by_name[loss])
            if not isinstance(value, float):
                raise TypeError(f"train_step should return the loss as a Python float (loss.item()), not {type(value).__name__}")
            losses.append(value)
        weight, bias = model.linear.weight, model.linear.bias
        return np.array(losses), weight.detach().cpu().numpy().copy(), bias.detach().cpu().numpy().copy()

    return train_step_run


def __getattr__(name):
    if name == "IntentClassifier":
        return _intent_class()
    if name == "Forecaster":
        return _forecaster_class()
    raise AttributeError(name)
