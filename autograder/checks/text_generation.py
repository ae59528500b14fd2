"""Checks for lesson 07 (character-level text generation on Alice, the capstone).

Each public function is what one graded cell calls, e.g.
``check.prefix_sequences(prefix_sequences)``. Functions that take or return text or torch
objects are graded through the notebook's locked adapters, which pass and return NumPy
arrays only, so that the hidden checks' record/replay (``autograder.probe``) can carry them:

- ``remove_punctuation_codes(codes)``: the text as character codes, in and out;
- ``char_lstm_forward(x, V, E, H, seed)``: the learner's CharLSTM built in float64, run once
  in train mode and once in eval mode; it returns the order in which forward calls the
  layers, the dropout rates, what goes in and out of each layer, and the weights, so that
  the structure (Embedding -> Dropout(0.1) -> LSTM(batch_first) -> Linear, nothing dropping
  out before the Linear) is checked both by inspection and by behaviour;
- ``generate_indices(W, seed_indices, num_chars, temperature, seed)``: the learner's
  generate driven by ``ToyModel``, a stand-in language model whose next-character logits
  are known exactly, so that greedy decoding (a tiny temperature) has one right answer.
"""
from __future__ import annotations

import functools
import string

import numpy as np

from .core import CheckFailed, Report, call_student, linspace_array
from .torch_oracle import devices, torch_module as _torch

PUNCTUATION = frozenset(string.punctuation)
DROPOUT = 0.1
#: Layer codes in char_lstm_forward's ``order``: the calls forward makes, in order.
LAYER_NAMES = {0: "other", 1: "Embedding", 2: "Dropout", 3: "LSTM", 4: "Linear"}
EXPECTED_ORDER = [1, 2, 3, 4]
#: A temperature so small that sampling must pick the most likely character every time.
GREEDY_TEMPERATURE = 1e-3


def _text(codes) -> str:
    return "".join(chr(int(c)) for c in codes)


def _codes(text: str) -> np.ndarray:
    return np.array([ord(c) for c in text], dtype=np.int64)


def _is_int_array(value) -> bool:
    return isinstance(value, np.ndarray) and value.dtype.kind in "iu"


# --------------------------------------------------------------------------- remove_punctuation

PUNCTUATION_HINT = ("remove every character of string.punctuation (the 32 ASCII punctuation marks, the apostrophe "
                    "and the hyphen included); keep letters, digits, spaces and newlines, in order")


def _first_difference(got: str, expected: str) -> int:
    for i, (a, b) in enumerate(zip(got, expected)):
        if a != b:
            return i
    return min(len(got), len(expected))


def compare_remove_punctuation(report: Report, remove_punctuation_codes, text: str, reference=None) -> None:
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    got = call_student(remove_punctuation_codes, _codes(text), name="remove_punctuation")
    if not _is_int_array(got):
        report.require("text", False, f"got {type(got).__name__}, expected the text (a str)", hint=PUNCTUATION_HINT)
        return
    got_text = _text(got)
    left = sorted({c for c in got_text if c in PUNCTUATION})
    report.require("removed", not left, f"punctuation left in: {' '.join(repr(c) for c in left[:6])}", hint=PUNCTUATION_HINT)
    expected = "".join(c for c in text if c not in PUNCTUATION)
    kept = "".join(c for c in got_text if c not in PUNCTUATION)
    lost = sorted({c for c in expected} - set(got_text))
    problem = ""
    if lost:
        problem = f"characters that are not punctuation were removed: {' '.join(repr(c) for c in lost[:6])}"
    elif kept != expected:
        i = _first_difference(kept, expected)
        problem = f"{len(got_text)} characters, expected {len(expected)}; first difference at character {i}"
    report.require("kept", not problem, problem, hint="remove, do not replace: a punctuation mark becomes nothing, "
                   "not a space; letters, digits, spaces and newlines stay")
    if reference is not None:
        report.require("text", got_text == reference(text), "differs from the reference", hint=PUNCTUATION_HINT,
                       oracle="reference")


VISIBLE_TEXT = ("'Well!' thought Alice to herself, \"after such a fall as this, I shall think\n"
                "nothing of tumbling down stairs!  (It was 29 [or 2.9] miles--she-didn't know; *why*?) "
                "#1 $2 %3 &4 +5 /6 <7 =8 >9 @0 \\ ^ _ ` { | } ~ :;")


def remove_punctuation(remove_punctuation_codes):
    """Graded: remove_punctuation(text), through the notebook's remove_punctuation_codes adapter."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("remove_punctuation")
    compare_remove_punctuation(report, remove_punctuation_codes, VISIBLE_TEXT)
    report.finish()


# --------------------------------------------------------------------------- prefix_sequences

PREFIX_HINT = ("one row per passage of at least 2 characters; a passage p (its first seq_len + 1 characters when "
               "longer) gives the input p[:-1] and the target p[1:], each left-padded with pad to seq_len")


def _prefix_rows(lines, seq_len, pad, *, side="left", shift=True, keep="first", skip_short=True):
    """The expected rows, or one of the common mistakes (for the suspects)."""
    rows = [np.asarray(line) for line in lines if len(line) >= 2 or not skip_short]
    rows = [row[: seq_len + 1] if keep == "first" else row[-(seq_len + 1):] for row in rows]
    inputs = np.full((len(rows), seq_len), pad, dtype=np.int64)
    targets = np.full((len(rows), seq_len), pad, dtype=np.int64)
    for i, row in enumerate(rows):
        n = max(len(row) - 1, 0)
        x, y = row[:n], (row[1:] if shift else row[:n])
        where = slice(seq_len - n, seq_len) if side == "left" else slice(0, n)
        if n:
            inputs[i, where], targets[i, where] = x, y
    return inputs, targets


PREFIX_MISTAKES = {
    "pad on the left: the padding goes before the passage, so that every row ends with real characters":
        dict(side="right"),
    "the target is the input shifted one step: targets hold p[1:], inputs p[:-1]": dict(shift=False),
    "keep the first seq_len + 1 characters of a long passage (its beginning: the prefix), not the last": dict(keep="last"),
    "skip passages shorter than 2 characters: they hold no (input, target) pair": dict(skip_short=False),
}


def compare_prefix_sequences(report: Report, prefix_sequences, lines, seq_len, pad, reference=None) -> None:
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    inputs, targets = call_student(prefix_sequences, lines, seq_len, pad, returns=("inputs", "targets"))
    expected = _prefix_rows(lines, seq_len, pad)
    wrong = {hint: _prefix_rows(lines, seq_len, pad, **kwargs) for hint, kwargs in PREFIX_MISTAKES.items()}
    for k, (name, value) in enumerate((("inputs", inputs), ("targets", targets))):
        report.require(f"{name[:2]} dtype", _is_int_array(value), "expected an integer NumPy array (indices)",
                       hint="np.full(..., pad, dtype=np.int64), then fill each row's right end")
        report.compare(name, value, expected[k], oracle="rule", hint=PREFIX_HINT,
                       suspects={h: v[k] for h, v in wrong.items()})
        if reference is not None:
            report.compare(name, value, reference(lines, seq_len, pad)[k], oracle="reference", hint=PREFIX_HINT)


def _visible_lines():
    # lengths 1 (skipped), 3, 2, 6 (exactly seq_len + 1), 9 (longer: cut to its first 6)
    return [np.array([4]), np.array([1, 2, 3]), np.array([7, 0]), np.array([5, 1, 4, 1, 5, 2]),
            np.array([3, 1, 4, 1, 5, 9, 2, 6, 8])]


def prefix_sequences(prefix_sequences):
    """Graded: prefix_sequences(passages, seq_len, pad) on five passages of lengths 1 to 9, seq_len 5."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("prefix_sequences")
    compare_prefix_sequences(report, prefix_sequences, _visible_lines(), 5, 10)
    report.finish()


# --------------------------------------------------------------------------- CharLSTM

MODEL_HINT = ("Embedding(vocab_size + 1, embed_size) -> Dropout(0.1) -> LSTM(embed_size, hidden_size, batch_first=True) "
              "-> Linear(hidden_size, vocab_size); forward(x, state=None) returns (logits, state)")


def _lstm_oracle(x, W_emb, w_ih, w_hh, b_ih, b_hh, W_head, b_head, device="cpu"):
    """Eval-mode logits from the learner's own weights: torch.nn.Embedding, LSTM and Linear in float64."""
    torch = _torch()
    t = lambda v: torch.tensor(v, dtype=torch.float64, device=device)  # noqa: E731
    lstm = torch.nn.LSTM(w_ih.shape[1], w_hh.shape[1], batch_first=True).to(device=device, dtype=torch.float64)
    with torch.no_grad():
        for name, value in (("weight_ih_l0", w_ih), ("weight_hh_l0", w_hh), ("bias_ih_l0", b_ih), ("bias_hh_l0", b_hh)):
            getattr(lstm, name).copy_(t(value))
        embedded = t(W_emb)[torch.as_tensor(x, device=device)]
        out, _ = lstm(embedded)
        return (out @ t(W_head).T + t(b_head)).cpu().numpy()


def compare_char_lstm(report: Report, char_lstm_forward, x, vocab_size, embed_size, hidden_size, seed) -> None:
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    result = call_student(char_lstm_forward, x, vocab_size, embed_size, hidden_size, seed, name="CharLSTM")
    (order, dropout_p, batch_first, emb_out, lstm_in, lstm_out, head_in, logits_train, logits_eval,
     W_emb, w_ih, w_hh, b_ih, b_hh, W_head, b_head) = result
    calls = " -> ".join(LAYER_NAMES.get(int(c), "other") for c in np.asarray(order).ravel())
    report.require("layers", np.asarray(order).ravel().tolist() == EXPECTED_ORDER, f"forward calls {calls}",
                   hint="the layers run in the order Embedding, Dropout, LSTM, Linear: dropout on the input "
                        "layer only, nothing between the LSTM and the Linear")
    p = np.asarray(dropout_p).ravel()
    report.require("dropout", p.size == 1 and abs(float(p[0]) - DROPOUT) < 1e-12,
                   f"torch.nn.Dropout rates {p.tolist()}", hint="one torch.nn.Dropout(0.1), on the embedded input")
    report.require("batch", int(batch_first) == 1, "torch.nn.LSTM is not batch_first",
                   hint="torch.nn.LSTM(..., batch_first=True): x is (N, T, E)")
    N, T = x.shape
    shapes_ok = np.shape(W_emb) == (vocab_size + 1, embed_size) and np.shape(logits_eval) == (N, T, vocab_size)
    report.require("shapes", shapes_ok,
                   f"embedding {np.shape(W_emb)} and logits {np.shape(logits_eval)}, expected ({vocab_size + 1}, "
                   f"{embed_size}) and {(N, T, vocab_size)}",
                   hint="the embedding has one row per character plus one for the padding index vocab_size; "
                        "the Linear predicts the vocab_size characters")
    if not shapes_ok:
        return
    report.compare("embedded", emb_out, np.asarray(W_emb)[x], oracle="W_emb[x]", hint="the Embedding reads x (N, T)")
    # In train mode the LSTM's input is the embedding with dropout: each entry zeroed or scaled by 1 / (1 - 0.1).
    kept = np.asarray(lstm_in) != 0
    live = np.asarray(emb_out) != 0
    expected_in = np.where(kept, np.asarray(emb_out) / (1 - DROPOUT), 0.0)
    report.compare("LSTM in", lstm_in, expected_in, oracle="dropout 0.1",
                   hint="in train mode the LSTM reads the embedding after Dropout(0.1): entries zeroed or scaled by 1/0.9")
    dropped = float(np.mean(~kept[live])) if live.any() else 0.0
    report.require("dropped", 0.02 <= dropped <= 0.22, f"{dropped:.0%} of the embedded entries dropped in train mode",
                   hint="Dropout(0.1) drops about 10% of the entries, in train mode only")
    report.compare("Linear in", head_in, lstm_out, oracle="LSTM out", tol=1e-12,
                   hint="nothing drops out between the LSTM and the Linear: the Linear reads the LSTM's output as is")
    report.compare("logits", logits_train, np.asarray(head_in) @ np.asarray(W_head).T + b_head, oracle="train",
                   hint="the logits are the Linear layer's output")
    for d in devices():
        report.compare("logits", logits_eval, _lstm_oracle(x, W_emb, w_ih, w_hh, b_ih, b_hh, W_head, b_head, d),
                       oracle=f"eval {d}", hint=MODEL_HINT + "; in eval mode nothing is dropped")


def model_inputs(rng: np.random.Generator | None, N: int, T: int, V: int) -> np.ndarray:
    """Rows of indices, left-padded with the index V (row i has i + 1 pads; a row of none too)."""
    x = (np.arange(N * T).reshape(N, T) * 7 + 3) % V if rng is None else rng.integers(0, V, size=(N, T))
    for i in range(1, N):
        x[i, : min(i, T - 1)] = V
    return x.astype(np.int64)


def char_lstm(char_lstm_forward):
    """Graded: CharLSTM through the notebook's char_lstm_forward adapter: its layers, dropout and results."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("CharLSTM")
    compare_char_lstm(report, char_lstm_forward, model_inputs(None, 4, 12, 7), 7, 8, 6, 0)
    report.finish()


# --------------------------------------------------------------------------- masked_cross_entropy

LOSS_HINT = ("average -log softmax(logits)[target] over the positions whose target is not pad only: "
             "mask = targets != pad, then cross_entropy(logits[mask], targets[mask])")


def _loss_variants(logits, targets, pad):
    torch = _torch()
    F = torch.nn.functional
    mask = targets != pad
    nll = -F.log_softmax(logits, dim=-1).gather(-1, targets.clamp(max=logits.shape[-1] - 1)[..., None])[..., 0]
    right = (nll * mask).sum() / mask.sum()
    return float(right), {
        "divide by the number of real targets, not by N * T: padding must not count": float((nll * mask).sum() / mask.numel()),
        "the mean, not the sum, over the real targets": float((nll * mask).sum()),
        "one mean over all real targets (not a mean per row, then over rows)":
            float(((nll * mask).sum(1) / mask.sum(1).clamp(min=1)).mean()),
        "mask the padded targets out: they are not characters to predict": float(nll.mean()),
    }


def compare_masked_cross_entropy(report: Report, masked_cross_entropy, logits, targets, pad, gradient=True,
                                 reference=None) -> None:
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    torch = _torch()
    given = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    loss = call_student(masked_cross_entropy, given, torch.as_tensor(targets), pad)
    if gradient:
        report.require("tensor", torch.is_tensor(loss) and loss.requires_grad and loss.ndim == 0,
                       f"got {type(loss).__name__}, expected a scalar torch tensor that autograd can differentiate",
                       hint="return the tensor itself: .item() or float() stops the gradient that training needs")
    value = float(loss.detach()) if torch.is_tensor(loss) and loss.numel() == 1 else loss
    expected, suspects = _loss_variants(torch.as_tensor(logits), torch.as_tensor(targets), pad)
    for d in devices():
        oracle = float(torch.nn.functional.cross_entropy(torch.as_tensor(logits, device=d).reshape(-1, logits.shape[-1]),
                                                         torch.as_tensor(targets, device=d).reshape(-1), ignore_index=pad))
        report.compare("loss", value, oracle, oracle=f"ignore_index {d}", hint=LOSS_HINT, suspects=suspects)
    if reference is not None:
        expected = float(reference(torch.as_tensor(logits), torch.as_tensor(targets), pad))
        report.compare("loss", value, expected, oracle="reference", hint=LOSS_HINT, suspects=suspects)


def _loss_inputs():
    N, T, V = 3, 5, 4
    logits = linspace_array((N, T, V), -2.0, 2.5)
    targets = (np.arange(N * T).reshape(N, T) * 3 + 1) % V
    for i in range(N):
        targets[i, : 2 * i] = V  # rows with 0, 2 and 4 padded positions
    return logits, targets.astype(np.int64), V


def masked_cross_entropy(masked_cross_entropy):
    """Graded: masked_cross_entropy(logits, targets, pad) against cross_entropy with ignore_index."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("masked_cross_entropy")
    compare_masked_cross_entropy(report, masked_cross_entropy, *_loss_inputs())
    report.finish()


# --------------------------------------------------------------------------- generate


@functools.lru_cache(maxsize=None)
def _toy_class():
    torch = _torch()

    class ToyModel(torch.nn.Module):
        """A stand-in language model for the checks, called like CharLSTM: forward(x, state=None)
        -> (logits (N, T, V), state). Its state is the sum of the indices read so far (mod V), and
        its logits for the next character are the row W[state]: what it predicts depends on
        every character it has read, and greedy decoding has one right answer."""

        def __init__(self, W):
            super().__init__()
            self.W = torch.nn.Parameter(torch.as_tensor(np.asarray(W), dtype=torch.float64), requires_grad=False)
            self.calls_in_training_mode = 0

        def forward(self, x, state=None):
            if self.training:
                self.calls_in_training_mode += 1
            x = torch.as_tensor(x, device=self.W.device).long()
            V = self.W.shape[0]
            start = torch.zeros(x.shape[0], dtype=torch.long, device=x.device) if state is None else state[0][0, :, 0].long()
            sums = (start[:, None] + torch.cumsum(x, dim=1)) % V
            h = sums[:, -1].to(torch.float64)[None, :, None]
            return self.W[sums], (h, torch.zeros_like(h))

    return ToyModel


def greedy_indices(W, seed_indices, num_chars) -> np.ndarray:
    """What ToyModel(W) gives with the most likely character chosen at every step."""
    V = W.shape[0]
    state, out = int(np.sum(seed_indices)) % V, []
    for _ in range(num_chars):
        index = int(np.argmax(W[state]))
        out.append(index)
        state = (state + index) % V
    return np.array(out, dtype=np.int64)


def toy_logits(rng: np.random.Generator | None, V: int, spread: float) -> np.ndarray:
    """(V, V) logits, each row a permutation of evenly spaced values in [0, spread]: one clear maximum."""
    levels = np.linspace(0.0, spread, V)
    if rng is None:
        return np.stack([np.roll(levels, 3 * r + 1)[::-1 if r % 2 else 1] for r in range(V)])
    return np.stack([rng.permutation(levels) for _ in range(V)])


GENERATE_HINT = ("feed the seed text, then repeat num_chars times: softmax(last logits / temperature), draw one index "
                 "with a torch.Generator seeded with `seed`, feed it back with the state")


def compare_generate(report: Report, generate_indices, W, seed_indices, num_chars, seed) -> None:
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    V = W.shape[0]
    runs = {}
    for key, temperature, s in (("greedy", GREEDY_TEMPERATURE, seed), ("t1", 1.0, seed), ("again", 1.0, seed),
                                ("other", 1.0, seed + 1)):
        runs[key] = call_student(generate_indices, W, seed_indices, num_chars, temperature, s, name="generate",
                                 returns=("indices", "training_calls"))
    text, _ = runs["t1"]
    ok_array = _is_int_array(text) and text.ndim == 1
    report.require("length", ok_array and len(text) == num_chars,
                   f"{len(text) if ok_array else 'no'} characters, expected exactly {num_chars}",
                   hint="return the num_chars new characters only: not the seed text, not one more or one fewer")
    report.require("eval mode", all(int(r[1]) == 0 for r in runs.values()), "the model ran in training mode",
                   hint="call model.eval() before generating: dropout must be off")
    report.require("same seed", ok_array and np.array_equal(text, runs["again"][0]),
                   "two calls with the same seed gave different texts",
                   hint="draw from a torch.Generator().manual_seed(seed) (pass generator= to torch.multinomial)")
    report.require("new seed", num_chars < 20 or not np.array_equal(text, runs["other"][0]),
                   "a different seed gave the same text", hint="use the `seed` argument to seed the generator")
    greedy = greedy_indices(W, seed_indices, num_chars)
    report.compare("greedy", runs["greedy"][0], greedy, oracle=f"T={GREEDY_TEMPERATURE:g}",
                   hint="divide the logits by the temperature before the softmax: as it goes to 0, sampling "
                        "picks the most likely character; use the logits after the LAST character read")
    report.require("sampled", num_chars < 20 or not np.array_equal(text, greedy),
                   "at temperature 1 the text is the most likely character at every step",
                   hint="sample from the softmax (torch.multinomial); do not take the argmax")


def generate(generate_indices):
    """Graded: generate(model, vocab, seed_text, num_chars, temperature, seed), through generate_indices."""
    __tracebackhide__ = True  # IPython hides this frame: the learner sees the message
    report = Report("generate")
    compare_generate(report, generate_indices, toy_logits(None, 6, 3.0), np.array([0, 1, 2]), 500, 7)
    report.finish()


def __getattr__(name):
    if name == "ToyModel":
        return _toy_class()
    raise AttributeError(name)


__all__ = ["CheckFailed", "remove_punctuation", "prefix_sequences", "char_lstm", "masked_cross_entropy", "generate",
           "ToyModel", "greedy_indices"]
