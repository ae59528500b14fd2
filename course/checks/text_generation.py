"""Checks for lesson 07 (character-level text generation on Alice, the capstone).

Each check is what one graded cell calls with the learner's own object, e.g.
``check.prefix_sequences(prefix_sequences)`` or ``check.char_lstm(CharLSTM)``. The checks hold no
answer: the text and the rows are compared with fixed expected values written out for fixed
inputs, the model with torch.nn layers run on the learner's own weights, the loss with torch's
cross_entropy (ignore_index) and its autograd, and generation with a toy model whose most likely
continuation is known. The ``compare_*`` functions take expected values from their caller:
literals here, the references' results in the hidden checks (``autograder.hidden.text_generation``).

Three exercises take or return text or torch objects. A harness (student side, no answer in it)
turns each into a function of NumPy arrays, which the comparisons call and the hidden checks'
record/replay (``course.recording``) can carry; it builds nothing until the check calls it, so
a learner's code that raises fails inside the check, with a plain message:

- ``remove_punctuation_harness(remove_punctuation)`` -> ``remove_punctuation_codes(codes)``: the
  text as character codes, in and out;
- ``char_lstm_harness(CharLSTM)`` -> ``char_lstm_forward(x, V, E, H, seed)``: the learner's CharLSTM
  built in float64, run once in train mode and once in eval mode, and in eval mode once more in two
  parts (the second from the state the first returned); it returns the order in which forward calls
  the layers, the dropout rates (also of a model built with another rate), what goes in and out of
  each layer, the LSTM's layers and dropout between them, and the weights, so that the structure
  (Embedding with its padding row -> Dropout(0.1) -> two stacked LSTM layers with dropout 0.1
  between them, batch_first -> Linear, nothing dropping out before the Linear) and the state passed
  through forward are checked both by inspection and by behaviour;
- ``generate_harness(generate)`` -> ``generate_indices(W, seed_indices, num_chars, temperature,
  seed)``: the learner's generate driven by ``ToyModel``, a stand-in language model whose
  next-character logits are known exactly, so that greedy decoding (a tiny temperature) has one
  right answer.
"""

from __future__ import annotations

import functools
import string

import numpy as np

from .core import Report, call_student, call_unchanged, linspace_array, visible_check
from .sequence_models import EXACT, explained, require_dtype
from .torch_oracle import devices
from .torch_oracle import torch_module as _torch

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

PUNCTUATION_HINT = (
    "remove every character of string.punctuation (the 32 ASCII punctuation marks, the apostrophe "
    "and the hyphen included); keep letters, digits, spaces and newlines, in order"
)


def _first_difference(got: str, expected: str) -> int:
    for i, (a, b) in enumerate(zip(got, expected)):
        if a != b:
            return i
    return min(len(got), len(expected))


def compare_remove_punctuation(
    report: Report, remove_punctuation_codes, text: str, expected: str | None = None, *, oracle: str = "fixed"
) -> None:
    """``expected``: the text without punctuation, or None to call only (a hidden check recording)."""
    got = explained(
        "remove_punctuation",
        PUNCTUATION_HINT,
        lambda: call_student(remove_punctuation_codes, _codes(text), name="remove_punctuation"),
    )
    if expected is None:
        return
    if not _is_int_array(got):
        report.require("text", False, f"got {type(got).__name__}, expected the text (a str)", hint=PUNCTUATION_HINT)
        return
    got_text = _text(got)
    left = sorted({c for c in got_text if c in PUNCTUATION})
    report.require(
        "removed", not left, f"punctuation left in: {' '.join(repr(c) for c in left[:6])}", hint=PUNCTUATION_HINT
    )
    lost = sorted(set(expected) - set(got_text))
    problem = ""
    if lost:
        problem = f"characters that are not punctuation were removed: {' '.join(repr(c) for c in lost[:6])}"
    elif got_text != expected and not left:
        i = _first_difference(got_text, expected)
        problem = f"{len(got_text)} characters, expected {len(expected)}; first difference at character {i}"
    report.require(
        "kept",
        not problem,
        problem,
        oracle=oracle,
        hint="remove, do not replace: a punctuation mark becomes nothing, not a space; letters, digits "
        "and whitespace (spaces, tabs, newlines, carriage returns) stay",
    )


VISIBLE_TEXT = (
    "'Well!' thought Alice to herself,\t\"after such a fall as this, I shall think\r\n"
    "nothing of tumbling down stairs!  (It was 29 [or 2.9] miles--she-didn't know; *why*?) "
    "#1 $2 %3 &4 +5 /6 <7 =8 >9 @0 \\ ^ _ ` { | } ~ :;"
)
#: VISIBLE_TEXT without its punctuation, written out.
VISIBLE_EXPECTED = (
    "Well thought Alice to herself\tafter such a fall as this I shall think\r\nnothing of tumbling down "
    "stairs  It was 29 or 29 milesshedidnt know why 1 2 3 4 5 6 7 8 9 0         "
)


def remove_punctuation_harness(remove_punctuation):
    """The learner's remove_punctuation(text) as a function of character codes (NumPy in, NumPy out)."""

    def remove_punctuation_codes(codes):
        result = remove_punctuation("".join(chr(int(c)) for c in codes))
        if not isinstance(result, str):
            raise TypeError(f"remove_punctuation should return a str; it returned {type(result).__name__}")
        return _codes(result)

    return (remove_punctuation_codes,)


@visible_check(harness=remove_punctuation_harness)
def remove_punctuation(report, remove_punctuation_codes):
    """Graded: remove_punctuation(text) on a written-out text that holds all 32 punctuation marks,
    digits, tabs, a carriage return and a newline."""
    compare_remove_punctuation(report, remove_punctuation_codes, VISIBLE_TEXT, VISIBLE_EXPECTED)


# --------------------------------------------------------------------------- prefix_sequences

PREFIX_HINT = (
    "one row per passage of at least 2 characters; a passage p (its first seq_len + 1 characters when "
    "longer) gives the input p[:-1] and the target p[1:], each left-padded with pad to seq_len"
)


PREFIX_RIGHT = "pad on the left: the padding goes before the passage, so that every row ends with real characters"
PREFIX_UNSHIFTED = "the target is the input shifted one step: targets hold p[1:], inputs p[:-1]"
PREFIX_LAST = "keep the first seq_len + 1 characters of a long passage (its beginning: the prefix), not the last"
PREFIX_SHORT = "skip passages shorter than 2 characters: they hold no (input, target) pair"
PREFIX_ZERO = "fill the padding with pad, not with 0"
PREFIX_BY_VALUE = (
    "place each row by the passage's length, not by looking for pad: a passage may hold a character equal to pad"
)


def compare_prefix_sequences(
    report: Report,
    prefix_sequences,
    lines,
    seq_len,
    pad,
    expected=None,
    suspects=None,
    *,
    oracle: str = "fixed",
    hint: str = PREFIX_HINT,
) -> None:
    """``expected``: (inputs, targets), or None to call only; ``suspects``: {hint: (inputs, targets)};
    ``hint``: for a wrong row that no suspect explains (PREFIX_BY_VALUE where pad is also a character).
    The list of passages must be left unchanged (a hidden check's record carries a change too)."""
    inputs, targets = explained(
        "prefix_sequences",
        PREFIX_HINT,
        lambda: call_unchanged(
            report,
            prefix_sequences,
            lines,
            seq_len,
            pad,
            argument_names=("passages", None, None),
            returns=("inputs", "targets"),
            hint="leave the passages as they are: build the rows in new arrays, not by changing the list or its arrays",
        ),
    )
    if expected is None:
        return
    suspects = dict(suspects or {})
    suspects[PREFIX_UNSHIFTED] = (expected[0], expected[0])
    suspects.setdefault(PREFIX_ZERO, tuple(np.where(e == pad, 0, e) for e in expected))
    named = False  # one mistake, one hint: targets are usually wrong in the same way as inputs
    for k, (name, value) in enumerate((("inputs", inputs), ("targets", targets))):
        require_dtype(
            report,
            name[:2],
            value,
            np.int64,
            "indices are int64 (torch's losses want int64 targets): np.full(..., pad, dtype=np.int64)",
        )
        line = report.compare(
            name,
            value,
            expected[k],
            oracle=oracle,
            tol=EXACT,
            hint="" if named else hint,
            suspects=None if named else {h: v[k] for h, v in suspects.items()},
        )
        named = named or not line.ok


def _visible_prefix_cases():
    """(lines, seq_len, pad, expected, suspects), written out. The first: lengths 1 (skipped), 3, 2,
    6 (exactly seq_len + 1) and 9 (cut to its first 6); the second: pad equals a character."""
    lines = [
        np.array([4]),
        np.array([1, 2, 3]),
        np.array([7, 0]),
        np.array([5, 1, 4, 1, 5, 2]),
        np.array([3, 1, 4, 1, 5, 9, 2, 6, 8]),
    ]
    a = np.array
    expected = (
        a([[10, 10, 10, 1, 2], [10, 10, 10, 10, 7], [5, 1, 4, 1, 5], [3, 1, 4, 1, 5]]),
        a([[10, 10, 10, 2, 3], [10, 10, 10, 10, 0], [1, 4, 1, 5, 2], [1, 4, 1, 5, 9]]),
    )
    suspects = {
        PREFIX_RIGHT: (
            a([[1, 2, 10, 10, 10], [7, 10, 10, 10, 10], [5, 1, 4, 1, 5], [3, 1, 4, 1, 5]]),
            a([[2, 3, 10, 10, 10], [0, 10, 10, 10, 10], [1, 4, 1, 5, 2], [1, 4, 1, 5, 9]]),
        ),
        PREFIX_LAST: (
            a([[10, 10, 10, 1, 2], [10, 10, 10, 10, 7], [5, 1, 4, 1, 5], [1, 5, 9, 2, 6]]),
            a([[10, 10, 10, 2, 3], [10, 10, 10, 10, 0], [1, 4, 1, 5, 2], [5, 9, 2, 6, 8]]),
        ),
        PREFIX_SHORT: (
            a([[10] * 5, [10, 10, 10, 1, 2], [10, 10, 10, 10, 7], [5, 1, 4, 1, 5], [3, 1, 4, 1, 5]]),
            a([[10] * 5, [10, 10, 10, 2, 3], [10, 10, 10, 10, 0], [1, 4, 1, 5, 2], [1, 4, 1, 5, 9]]),
        ),
    }
    yield lines, 5, 10, expected, suspects
    yield (
        [np.array([1, 2, 1]), np.array([3, 1])],
        4,
        1,
        (a([[1, 1, 1, 2], [1, 1, 1, 3]]), a([[1, 1, 2, 1], [1, 1, 1, 1]])),
        None,
    )


@visible_check
def prefix_sequences(report, prefix_sequences):
    """Graded: prefix_sequences(passages, seq_len, pad): five passages of lengths 1 to 9 with seq_len 5,
    then two passages that hold the padding index itself."""
    for lines, seq_len, pad, expected, suspects in _visible_prefix_cases():
        compare_prefix_sequences(
            report,
            prefix_sequences,
            lines,
            seq_len,
            pad,
            expected,
            suspects,
            hint=PREFIX_HINT if suspects is not None else PREFIX_BY_VALUE,
        )


# --------------------------------------------------------------------------- CharLSTM

MODEL_HINT = (
    "Embedding(vocab_size + 1, embed_size, padding_idx=vocab_size) -> Dropout(dropout) -> LSTM(embed_size, "
    "hidden_size, num_layers=2, dropout=dropout, batch_first=True) -> Linear(hidden_size, vocab_size); "
    "forward(x, state=None) returns (logits, state)"
)
LAYERS = 2  # the Keras post's model: two stacked LSTM layers
GATE_WEIGHTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def _lstm_oracle(x, W_emb, lstm_weights, W_head, b_head, device="cpu"):
    """Eval-mode logits from the learner's own weights: torch.nn.Embedding, a two-layer LSTM and Linear in
    float64. ``lstm_weights``: (weight_ih, weight_hh, bias_ih, bias_hh) of layer 0, then of layer 1."""
    torch = _torch()

    def t(value):
        return torch.tensor(value, dtype=torch.float64, device=device)

    w_ih0, w_hh0 = lstm_weights[0], lstm_weights[1]
    lstm = torch.nn.LSTM(w_ih0.shape[1], w_hh0.shape[1], num_layers=LAYERS, batch_first=True)
    lstm = lstm.to(device=device, dtype=torch.float64)
    with torch.no_grad():
        for k, value in enumerate(lstm_weights):
            getattr(lstm, f"{GATE_WEIGHTS[k % 4]}_l{k // 4}").copy_(t(value))
        embedded = t(W_emb)[torch.as_tensor(x, device=device)]
        out, _ = lstm(embedded)
        return (out @ t(W_head).T + t(b_head)).cpu().numpy()


PADDING_ROW_HINT = (
    "x holds the padding index vocab_size, so the embedding needs vocab_size + 1 rows: "
    "Embedding(vocab_size + 1, embed_size, padding_idx=vocab_size)"
)
STATE_HINT = (
    "forward(x, state) passes state to the LSTM and returns the LSTM's new (h, c): run on x[:, :k] and then on "
    "x[:, k:] with the state it returned, it must give the logits of x run in one go"
)


def _char_lstm_error_hint(error: Exception) -> str:
    if isinstance(error, IndexError) and "index out of range" in str(error):
        return PADDING_ROW_HINT
    return MODEL_HINT


def compare_char_lstm(report: Report, char_lstm_forward, x, vocab_size, embed_size, hidden_size, seed) -> None:
    result = explained(
        "CharLSTM",
        _char_lstm_error_hint,
        lambda: call_student(char_lstm_forward, x, vocab_size, embed_size, hidden_size, seed, name="CharLSTM"),
    )
    (
        order,
        dropout_p,
        config,
        emb_out,
        lstm_in,
        lstm_out,
        head_in,
        logits_train,
        logits_eval,
        W_emb,
        *lstm_weights,
        W_head,
        b_head,
        logits_resumed,
        other_rates,
    ) = result
    num_layers, between, batch_first = np.asarray(config, dtype=np.float64).ravel()[:3]
    calls = " -> ".join(LAYER_NAMES.get(int(c), "other") for c in np.asarray(order).ravel())
    report.require(
        "layers",
        np.asarray(order).ravel().tolist() == EXPECTED_ORDER,
        f"forward calls {calls}",
        hint="the layers run in the order Embedding, Dropout, LSTM, Linear: dropout on the input layer and "
        "the LSTM's own dropout between its two layers, nothing between the LSTM and the Linear",
    )
    stacked = int(num_layers) == LAYERS
    report.require(
        "stacked",
        stacked,
        f"torch.nn.LSTM has {int(num_layers)} layer(s), expected {LAYERS}",
        hint="the post's model stacks two LSTM layers: torch.nn.LSTM(embed_size, hidden_size, num_layers=2, "
        "dropout=dropout, batch_first=True)",
    )
    between_ok = stacked and abs(float(between) - DROPOUT) < 1e-12
    if stacked:
        report.require(
            "between",
            between_ok,
            f"dropout between the LSTM layers {float(between):g}, expected {DROPOUT}",
            hint="dropout 0.1 everywhere, between the two LSTM layers too: torch.nn.LSTM(..., num_layers=2, "
            "dropout=dropout)",
        )
    p = np.asarray(dropout_p).ravel()
    report.require(
        "dropout",
        p.size == 1 and abs(float(p[0]) - DROPOUT) < 1e-12,
        f"torch.nn.Dropout rates {p.tolist()}",
        hint="one torch.nn.Dropout(0.1), on the embedded input",
    )
    rates = np.asarray(other_rates).ravel().tolist()
    # The LSTM's rate is judged here only when it is right at 0.1 (else "between" has named the mistake).
    report.require(
        "dropout=",
        rates[:1] == [0.25] and (not between_ok or rates[1:] == [0.25]),
        f"CharLSTM(..., dropout=0.25) holds torch.nn.Dropout rates {rates[:-1]} and LSTM dropout {rates[-1:]}",
        hint="use the dropout argument, on the input and between the LSTM layers: torch.nn.Dropout(dropout) "
        "and torch.nn.LSTM(..., dropout=dropout), not a fixed rate",
    )
    report.require(
        "batch",
        int(batch_first) == 1,
        "torch.nn.LSTM is not batch_first",
        hint="torch.nn.LSTM(..., batch_first=True): x is (N, T, E)",
    )
    N, T = x.shape
    shapes_ok = np.shape(W_emb) == (vocab_size + 1, embed_size) and np.shape(logits_eval) == (N, T, vocab_size)
    report.require(
        "shapes",
        shapes_ok,
        f"embedding {np.shape(W_emb)} and logits {np.shape(logits_eval)}, expected ({vocab_size + 1}, "
        f"{embed_size}) and {(N, T, vocab_size)}",
        hint="the embedding has one row per character plus one for the padding index vocab_size; "
        "the Linear predicts the vocab_size characters",
    )
    if not shapes_ok:
        return
    zero_rows = np.flatnonzero(~np.asarray(W_emb).any(axis=1)).tolist()
    report.require(
        "padding",
        zero_rows == [vocab_size],
        f"the embedding rows that start at zero: {zero_rows}, expected [{vocab_size}] only",
        hint="the padding index is vocab_size, the last row: "
        "Embedding(vocab_size + 1, embed_size, padding_idx=vocab_size) keeps that row at zero",
    )
    report.compare("embedded", emb_out, np.asarray(W_emb)[x], oracle="W_emb[x]", hint="the Embedding reads x (N, T)")
    # In train mode the LSTM's input is the embedding with dropout: each entry zeroed or scaled by 1 / (1 - 0.1).
    kept = np.asarray(lstm_in) != 0
    live = np.asarray(emb_out) != 0
    expected_in = np.where(kept, np.asarray(emb_out) / (1 - DROPOUT), 0.0)
    report.compare(
        "LSTM in",
        lstm_in,
        expected_in,
        oracle="dropout 0.1",
        hint="in train mode the LSTM reads the embedding after Dropout(0.1): entries zeroed or scaled by 1/0.9",
    )
    dropped = float(np.mean(~kept[live])) if live.any() else 0.0
    report.require(
        "dropped",
        0.02 <= dropped <= 0.22,
        f"{dropped:.0%} of the embedded entries dropped in train mode",
        hint="Dropout(0.1) drops about 10% of the entries, in train mode only",
    )
    report.compare(
        "Linear in",
        head_in,
        lstm_out,
        oracle="LSTM out",
        tol=1e-12,
        hint="nothing drops out between the LSTM and the Linear: the Linear reads the LSTM's output as is",
    )
    report.compare(
        "logits",
        logits_train,
        np.asarray(head_in) @ np.asarray(W_head).T + b_head,
        oracle="train",
        hint="the logits are the Linear layer's output",
    )
    if not stacked:
        return  # the oracle is the two-layer model: a one-layer model is named above, once
    for d in devices():
        expected = _lstm_oracle(x, W_emb, lstm_weights, W_head, b_head, d)
        report.compare(
            "logits",
            logits_eval,
            expected,
            oracle=f"eval {d}",
            hint=MODEL_HINT + "; in eval mode nothing is dropped",
            dtype=np.float64,
        )
        k = x.shape[1] - np.shape(logits_resumed)[1] if np.ndim(logits_resumed) == 3 else 0
        report.compare("resumed", logits_resumed, expected[:, k:], oracle=f"state {d}", hint=STATE_HINT)


def left_padded(rows, pad: int, pads_per_row) -> np.ndarray:
    """rows (N, T) of indices as a new int64 array, row i's first pads_per_row[i] entries set to pad."""
    rows = np.array(rows, dtype=np.int64)
    for i, count in enumerate(pads_per_row):
        rows[i, :count] = pad
    return rows


def model_inputs(rng: np.random.Generator | None, N: int, T: int, V: int) -> np.ndarray:
    """Rows of indices, left-padded with the index V (row i has i pads, at most T - 1: row 0 has none)."""
    x = (np.arange(N * T).reshape(N, T) * 7 + 3) % V if rng is None else rng.integers(0, V, size=(N, T))
    return left_padded(x, V, [min(i, T - 1) for i in range(N)])


def char_lstm_harness(CharLSTM):
    """The learner's CharLSTM class as char_lstm_forward (NumPy in, NumPy out): see the module's
    docstring. It builds and runs the learner's model only; every expected value is the checks'."""

    def char_lstm_forward(x, vocab_size, embed_size, hidden_size, seed):
        """Build CharLSTM(vocab_size, embed_size, hidden_size) in float64 (torch seed `seed`), run it on
        x (N, T) once in train mode and once in eval mode, and in eval mode once more in two parts, the
        second from the state the first returned; return what the checks compare, as NumPy arrays."""
        torch = _torch()
        nn = torch.nn
        torch.manual_seed(seed)
        model = CharLSTM(vocab_size, embed_size, hidden_size).to(torch.float64)
        layers = {}
        for kind in (nn.Embedding, nn.LSTM, nn.Linear):
            found = [m for m in model.modules() if isinstance(m, kind)]
            if len(found) != 1:
                raise TypeError(
                    f"CharLSTM should hold exactly one torch.nn.{kind.__name__} (the LSTM with "
                    f"num_layers=2); it holds {len(found)}"
                )
            layers[kind.__name__] = found[0]
        lstm = layers["LSTM"]
        if not lstm.bias or lstm.bidirectional or lstm.proj_size:
            raise TypeError("CharLSTM's torch.nn.LSTM should have biases, one direction and no projection")
        calls = []  # (module, its input, its output) for every layer, in the order forward calls them

        def record(module, inputs, output):
            calls.append((module, inputs[0], output[0] if isinstance(output, tuple) else output))

        hooks = [m.register_forward_hook(record) for m in model.modules() if not list(m.children())]
        try:
            model.train()
            torch.manual_seed(seed + 1)
            result = model(torch.from_numpy(x))
            if not isinstance(result, tuple) or len(result) != 2:
                raise TypeError("CharLSTM.forward(x) should return (logits, state)")
            train_calls = list(calls)
            model.eval()
            with torch.no_grad():
                logits_eval = model(torch.from_numpy(x))[0]
        finally:
            for hook in hooks:
                hook.remove()
        with torch.no_grad():  # the state carried: x's second part read from the state its first part left
            k = x.shape[1] // 2
            _, state = model(torch.from_numpy(x[:, :k]))
            logits_resumed = model(torch.from_numpy(x[:, k:]), state)[0]
        # The dropout argument: another rate must give another Dropout, and another rate between the LSTM layers.
        other = CharLSTM(vocab_size, embed_size, hidden_size, dropout=0.25)
        other_rates = np.array(
            [m.p for m in other.modules() if isinstance(m, nn.Dropout)]
            + [m.dropout for m in other.modules() if isinstance(m, nn.LSTM)],
            dtype=np.float64,
        )
        first = {}
        for module, given, made in train_calls:
            first.setdefault(module, (given, made))
        missing = [name for name, m in layers.items() if m not in first]
        if missing:
            raise TypeError(f"CharLSTM.forward never calls its {', '.join(missing)}")

        def as_np(tensor):
            return tensor.detach().cpu().numpy()

        codes = {getattr(nn, name): code for code, name in LAYER_NAMES.items() if code}
        order = np.array([next((c for kind, c in codes.items() if isinstance(m, kind)), 0) for m, _, _ in train_calls])
        dropout_p = np.array([m.p for m in model.modules() if isinstance(m, nn.Dropout)], dtype=np.float64)
        emb, head = layers["Embedding"], layers["Linear"]
        # The LSTM's layers, its dropout between them, batch_first; the weights of its first two layers
        # (empty arrays for a layer it lacks), in PyTorch's order weight_ih, weight_hh, bias_ih, bias_hh.
        config = np.array([lstm.num_layers, lstm.dropout, int(lstm.batch_first)], dtype=np.float64)
        weights = [
            as_np(getattr(lstm, f"{name}_l{k}")) if k < lstm.num_layers else np.zeros(0)
            for k in range(LAYERS)
            for name in GATE_WEIGHTS
        ]
        return (
            order,
            dropout_p,
            config,
            as_np(first[emb][1]),
            as_np(first[lstm][0]),
            as_np(first[lstm][1]),
            as_np(first[head][0]),
            as_np(result[0]),
            as_np(logits_eval),
            as_np(emb.weight),
            *weights,
            as_np(head.weight),
            as_np(head.bias),
            as_np(logits_resumed),
            other_rates,
        )

    return (char_lstm_forward,)


@visible_check(harness=char_lstm_harness)
def char_lstm(report, char_lstm_forward):
    """Graded: CharLSTM (the class): its layers, dropout and results, built with V = 7, E = 8, H = 6."""
    compare_char_lstm(report, char_lstm_forward, model_inputs(None, 4, 12, 7), 7, 8, 6, 0)


# --------------------------------------------------------------------------- masked_cross_entropy

LOSS_HINT = (
    "average -log softmax(logits)[target] over the positions whose target is not pad only: "
    "mask = targets != pad, then cross_entropy(logits[mask], targets[mask])"
)
STABILITY_HINT = (
    "the loss is inf or nan where the exact loss is finite: log(softmax(.)) is log(0) when a wrong class "
    "leads by a large margin, and one max subtracted over the whole batch underflows the rows on a "
    "smaller scale; use log_softmax along the last axis (or cross_entropy), which works row by row"
)
LOSS_ERROR_HINT = (
    "leave out the positions whose target equals pad (the pad argument, whatever its value) before any "
    "indexing by target: mask = targets != pad"
)
LOSS_PADDING_SCORED = "mask the padded targets out: they are not characters to predict"


def _loss_suspects(logits, targets, pad) -> dict:
    """What known mistakes give, from torch's own cross_entropy with other reductions and targets."""
    torch = _torch()
    F = torch.nn.functional
    V = logits.shape[-1]
    flat, flat_t = logits.reshape(-1, V), targets.reshape(-1)
    total = F.cross_entropy(flat, flat_t, ignore_index=pad, reduction="sum")
    rows = [F.cross_entropy(logits[n], targets[n], ignore_index=pad) for n in range(len(targets))]
    rows = torch.stack([r if torch.isfinite(r) else torch.zeros_like(r) for r in rows])  # a row of padding only: 0
    padded = targets == pad
    return {
        "divide by the number of real targets, not by N * T: padding must not count": float(total / flat_t.numel()),
        "the mean, not the sum, over the real targets": float(total),
        "one mean over all real targets (not a mean per row, then over rows)": float(rows.mean()),
        LOSS_PADDING_SCORED: float(F.cross_entropy(flat, torch.where(padded, 0, targets).reshape(-1))),
        LOSS_PADDING_SCORED + " ": float(F.cross_entropy(flat, torch.where(padded, V - 1, targets).reshape(-1))),
    }


def compare_masked_cross_entropy(
    report: Report, masked_cross_entropy, logits, targets, pad, visible=True, reference=None
) -> None:
    """``visible``: also check the gradient and that logits and targets are left unchanged (a hidden
    check's record carries the loss only)."""
    torch = _torch()
    F = torch.nn.functional
    given = torch.tensor(logits, dtype=torch.float64, requires_grad=visible)
    given_targets = torch.tensor(targets)
    loss = explained(
        "masked_cross_entropy", LOSS_ERROR_HINT, lambda: call_student(masked_cross_entropy, given, given_targets, pad)
    )
    is_tensor = torch.is_tensor(loss)
    if visible:
        report.require(
            "tensor",
            is_tensor and loss.requires_grad and loss.ndim == 0,
            f"got {type(loss).__name__}, expected a scalar torch tensor that autograd can differentiate",
            hint="return the tensor itself: .item() or float() stops the gradient that training needs",
        )
        for name, before, after in (
            ("logits", logits, given.detach().numpy()),
            ("targets", targets, given_targets.numpy()),
        ):
            report.require(
                name,
                np.array_equal(before, after),
                f"{name} was left changed",
                oracle="unchanged",
                hint="leave logits and targets as they are: an in-place change (targets[...] = 0, "
                "masked_fill_) writes into the caller's tensor",
            )
    # As a NumPy scalar of the loss's own dtype: a float32 loss is named as such, never judged by its rounding.
    value = loss.detach().cpu().numpy().reshape(()) if is_tensor and loss.numel() == 1 else loss
    suspects = _loss_suspects(torch.as_tensor(logits), torch.as_tensor(targets), pad)
    oracles = []
    for d in devices():
        expected = F.cross_entropy(
            torch.as_tensor(logits, device=d).reshape(-1, logits.shape[-1]),
            torch.as_tensor(targets, device=d).reshape(-1),
            ignore_index=pad,
        )
        oracles.append((f"ignore_index {d}", float(expected)))
    if reference is not None:
        oracles.append(("reference", float(reference(torch.as_tensor(logits), torch.as_tensor(targets), pad))))
    lines = [
        report.compare(
            "loss",
            value,
            expected,
            oracle=oracle,
            tol=1e-10,
            hint=LOSS_HINT,
            suspects=suspects,
            nonfinite_hint=STABILITY_HINT,
            dtype=np.float64,
        )
        for oracle, expected in oracles
    ]
    # The gradient, when the value is right (a wrong value has a wrong gradient too: one mistake, one hint);
    # when only the dtype is wrong, that the gradient reaches logits at all.
    value_right = all(line.ok for line in lines)
    if (
        visible
        and is_tensor
        and loss.requires_grad
        and all(line.ok or line.problem.startswith("dtype") for line in lines)
    ):
        try:
            (grad,) = torch.autograd.grad(loss, given, allow_unused=True)
        except RuntimeError:
            grad = None
        hint = (
            "compute the loss from logits with torch operations only, so that autograd reaches logits: no "
            ".detach(), .item() or a new tensor on the way"
        )
        if not value_right:
            report.require(
                "gradient",
                grad is not None,
                "autograd does not reach logits from the loss",
                hint=hint,
                oracle="autograd",
            )
            return
        leaf = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
        (expected,) = torch.autograd.grad(
            F.cross_entropy(leaf.reshape(-1, logits.shape[-1]), torch.as_tensor(targets).reshape(-1), ignore_index=pad),
            leaf,
        )
        report.compare(
            "gradient",
            None if grad is None else grad.numpy(),
            expected.numpy(),
            oracle="autograd",
            tol=1e-9,
            dtype=np.float64,
            hint=hint,
        )


def loss_case(rng: np.random.Generator | None, N: int, T: int, V: int, pad: int, pads_per_row) -> tuple:
    """(logits (N, T, V), targets (N, T) int64, pad): a ramp of logits and a fixed pattern of targets
    (rng None) or random ones, row i's first pads_per_row[i] targets set to pad."""
    if rng is None:
        logits = linspace_array((N, T, V), -2.0, 2.5)
        targets = (np.arange(N * T).reshape(N, T) * 3 + 1) % V
    else:
        logits = rng.normal(scale=2.0, size=(N, T, V))
        targets = rng.integers(0, V, size=(N, T))
    return logits, left_padded(targets, pad, pads_per_row), pad


def _loss_cases():
    """(logits, targets, pad): rows with 0, 2 and 4 padded positions; rows on scales 1000 and 1, a wrong
    class leading by 2000 in the first; a padding index that is not V (-1)."""
    yield loss_case(None, 3, 5, 4, 4, [0, 2, 4])
    large = np.array(
        [
            [[-1000.0, 0.0, 1000.0], [500.0, -500.0, 0.0], [1000.0, 999.0, -1000.0]],
            [[0.5, -0.2, 0.1], [-1.0, 1.0, 0.0], [0.3, 0.3, -0.3]],
        ]
    )
    yield large, np.array([[0, 3, 0], [2, 1, 3]]), 3  # row 0, step 0: target logit -1000, the largest 1000
    # Not a ramp: a ramp's log-softmax is the same at every step, and unequal means could then agree.
    yield 2.0 * np.sin(1.7 * np.arange(30.0)).reshape(2, 3, 5), np.array([[4, -1, 0], [-1, -1, 2]]), -1


@visible_check
def masked_cross_entropy(report, masked_cross_entropy):
    """Graded: masked_cross_entropy(logits, targets, pad) against cross_entropy with ignore_index, on
    ordinary, large and differently scaled logits, and with a padding index that is not V."""
    for logits, targets, pad in _loss_cases():
        compare_masked_cross_entropy(report, masked_cross_entropy, logits, targets, pad)


# --------------------------------------------------------------------------- generate


@functools.cache
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
            start = (
                torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
                if state is None
                else state[0][0, :, 0].long()
            )
            sums = (start[:, None] + torch.cumsum(x, dim=1)) % V
            h = sums[:, -1].to(torch.float64)[None, :, None]
            return self.W[sums], (h, torch.zeros_like(h))

    return ToyModel


def greedy_indices(W, seed_indices, num_chars, *, carry_state=True, first_from_first_seed=False) -> np.ndarray:
    """What ToyModel(W) gives with the most likely character chosen at every step. The options give
    what two known mistakes give instead: the state dropped after the seed (each new character read
    from a fresh state), and the first character chosen after the seed's FIRST character."""
    V = W.shape[0]
    state, out = int(np.sum(seed_indices)) % V, []
    for step in range(num_chars):
        row = int(seed_indices[0]) % V if first_from_first_seed and step == 0 else state
        index = int(np.argmax(W[row]))
        out.append(index)
        state = (state + index) % V if carry_state else index % V
    return np.array(out, dtype=np.int64)


def toy_logits(rng: np.random.Generator | None, V: int, spread: float) -> np.ndarray:
    """(V, V) logits, each row a permutation of evenly spaced values in [0, spread]: one clear maximum."""
    levels = np.linspace(0.0, spread, V)
    if rng is None:
        return np.stack([np.roll(levels, 3 * r + 1)[:: -1 if r % 2 else 1] for r in range(V)])
    return np.stack([rng.permutation(levels) for _ in range(V)])


GENERATE_HINT = (
    "feed the seed text, then repeat num_chars times: softmax(last logits / temperature), draw one index "
    "with a torch.Generator seeded with `seed`, feed it back with the state"
)
TEMPERATURE_HINT = (
    "at temperature 0.001 two seeds gave different texts: divide the logits by the temperature before "
    "the softmax (softmax(logits / temperature)); as it goes to 0, sampling picks the most likely character"
)
GREEDY_STATE = (
    "carry the state: feed each drawn character together with the state the model returned "
    "(model(x, state)); without it the model forgets the seed and every character before"
)
GREEDY_FIRST = "read the logits after the LAST character of the seed text (logits[0, -1]), not after its first"
GREEDY_HINT = (
    "at temperature 0.001 the text must be the most likely character at every step: feed the seed once, read "
    "the logits after its last character, then feed each drawn character with the state the model returned"
)
OVERFLOW_HINT = (
    "at temperature 0.001 the scaled logits are in the thousands: exp of them overflows; use torch.softmax "
    "(it subtracts the largest logit first), not exp(...) / sum"
)


def compare_generate(report: Report, generate_indices, W, seed_indices, num_chars, seed) -> None:
    runs = {}
    for key, temperature, s in (
        ("t1", 1.0, seed),
        ("again", 1.0, seed),
        ("other", 1.0, seed + 1),
        ("greedy", GREEDY_TEMPERATURE, seed),
        ("greedy other", GREEDY_TEMPERATURE, seed + 1),
    ):
        hint = OVERFLOW_HINT if temperature < 1 else GENERATE_HINT  # the runs at temperature 1 went through
        runs[key] = explained(
            "generate",
            hint,
            lambda t=temperature, s=s: call_student(
                generate_indices,
                W,
                seed_indices,
                num_chars,
                t,
                s,
                name="generate",
                returns=("indices", "training_calls"),
            ),
        )
    text, _ = runs["t1"]
    ok_array = _is_int_array(text) and text.ndim == 1
    report.require(
        "length",
        ok_array and len(text) == num_chars,
        f"{len(text) if ok_array else 'no'} characters, expected exactly {num_chars}",
        hint="return the num_chars new characters only: not the seed text, not one more or one fewer",
    )
    report.require(
        "eval mode",
        all(int(r[1]) == 0 for r in runs.values()),
        "the model ran in training mode",
        hint="call model.eval() before generating: dropout must be off",
    )
    report.require(
        "same seed",
        ok_array and np.array_equal(text, runs["again"][0]),
        "two calls with the same seed gave different texts",
        hint="draw from a torch.Generator().manual_seed(seed) (pass generator= to torch.multinomial)",
    )
    argmax = num_chars >= 20 and np.array_equal(text, greedy_indices(W, seed_indices, num_chars))
    report.require(
        "new seed",
        num_chars < 20 or argmax or not np.array_equal(text, runs["other"][0]),
        "a different seed gave the same text",
        hint="use the `seed` argument to seed the generator",
    )
    greedy, greedy_other = runs["greedy"][0], runs["greedy other"][0]
    expected = greedy_indices(W, seed_indices, num_chars)
    if not (ok_array and len(text) == num_chars):
        return  # a wrong length makes every text below wrong too: one mistake, one hint
    if num_chars >= 20 and not np.array_equal(greedy, greedy_other):
        hint, suspects = TEMPERATURE_HINT, None  # still random at a tiny temperature: the temperature is not applied
    else:
        hint, suspects = (
            GREEDY_HINT,
            {
                GREEDY_STATE: greedy_indices(W, seed_indices, num_chars, carry_state=False),
                GREEDY_FIRST: greedy_indices(W, seed_indices, num_chars, first_from_first_seed=True),
            },
        )
    report.compare(
        "greedy", greedy, expected, oracle=f"T={GREEDY_TEMPERATURE:g}", tol=EXACT, hint=hint, suspects=suspects
    )
    report.require(
        "sampled",
        num_chars < 20 or not np.array_equal(text, expected),
        "at temperature 1 the text is the most likely character at every step",
        hint="sample from the softmax (torch.multinomial); do not take the argmax",
    )


def generate_harness(generate):
    """The learner's generate(model, vocab, seed_text, num_chars, temperature, seed) as generate_indices
    (NumPy in, NumPy out), driven by ToyModel(W) over a vocabulary of the first V lowercase letters."""

    def generate_indices(W, seed_indices, num_chars, temperature, seed):
        """The generated text as indices, and how many times the model was called in training mode."""
        from course.datasets import CharVocab

        vocab = CharVocab(string.ascii_lowercase[: W.shape[0]])
        model = _toy_class()(W)
        text = generate(
            model, vocab, vocab.decode(seed_indices), num_chars=num_chars, temperature=temperature, seed=seed
        )
        if not isinstance(text, str):
            raise TypeError(f"generate should return a str; it returned {type(text).__name__}")
        return vocab.encode(text), np.array(model.calls_in_training_mode)

    return (generate_indices,)


@visible_check(harness=generate_harness)
def generate(report, generate_indices):
    """Graded: generate(model, vocab, seed_text, num_chars, temperature, seed), 500 characters from a toy
    model over 6 characters."""
    compare_generate(report, generate_indices, toy_logits(None, 6, 3.0), np.array([0, 1, 2]), 500, 7)


def __getattr__(name):
    if name == "ToyModel":
        return _toy_class()
    raise AttributeError(name)
