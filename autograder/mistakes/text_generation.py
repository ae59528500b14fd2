"""Known-wrong variants of lesson 07's graded functions, each in the learner's form (a str function,
a torch.nn.Module class, a generator of text): the checks' harnesses turn them into NumPy functions
as they do the learner's. The hidden check of prefix_sequences names a mistake by what the variant
here returns, with the variant's hint (the visible check's words for it)."""

from __future__ import annotations

import re
import string

import numpy as np
import torch

from autograder.reference import text_generation as ref
from course.checks import text_generation as check

from . import BOTH, HIDDEN, VISIBLE, Wrong  # noqa: F401  (HIDDEN: for variants caught by one side only)

F = torch.nn.functional


# ---------------------------------------------------------------- remove_punctuation
def rp_keeps_apostrophes(text):
    return "".join(c for c in text if c not in string.punctuation or c == "'")


def rp_sentence_marks_only(text):
    return "".join(c for c in text if c not in ".,;:!?")


def rp_replaces_with_space(text):
    return "".join(" " if c in string.punctuation else c for c in text)


def rp_drops_digits(text):
    return "".join(c for c in text if c.isalpha() or c.isspace())


def rp_drops_newlines(text):
    return "".join(c for c in text if c.isalnum() or c == " ")


# ---------------------------------------------------------------- prefix_sequences
def _prefix_rows(lines, seq_len, pad, *, side="left", shift=True, keep="first", skip_short=True, by_value=False):
    """prefix_sequences with one of the common mistakes: right padding, unshifted targets, a long
    passage's last characters kept, short passages kept, or the rows placed by looking for pad (wrong
    when a passage holds a character equal to pad)."""
    rows = [np.asarray(line) for line in lines if len(line) >= 2 or not skip_short]
    rows = [row[: seq_len + 1] if keep == "first" else row[-(seq_len + 1) :] for row in rows]
    inputs = np.full((len(rows), seq_len), pad, dtype=np.int64)
    targets = np.full((len(rows), seq_len), pad, dtype=np.int64)
    for i, row in enumerate(rows):
        n = max(len(row) - 1, 0)
        x, y = row[:n], (row[1:] if shift else row[:n])
        where = slice(seq_len - n, seq_len) if side == "left" else slice(0, n)
        if n:
            inputs[i, where], targets[i, where] = x, y
    if by_value:  # built on the right, then moved right by the number of pad entries found
        right_in, right_out = _prefix_rows(lines, seq_len, pad, side="right")
        for i in range(len(rows)):
            k = int(np.sum(right_in[i] == pad))
            inputs[i], targets[i] = np.roll(right_in[i], k), np.roll(right_out[i], k)
    return inputs, targets


def ps_right_padded(lines, seq_len, pad):
    return _prefix_rows(lines, seq_len, pad, side="right")


def ps_unshifted_targets(lines, seq_len, pad):
    return _prefix_rows(lines, seq_len, pad, shift=False)


def ps_keeps_last(lines, seq_len, pad):
    return _prefix_rows(lines, seq_len, pad, keep="last")


def ps_keeps_short_lines(lines, seq_len, pad):
    return _prefix_rows(lines, seq_len, pad, skip_short=False)


def ps_pads_with_zero(lines, seq_len, pad):
    return _prefix_rows(lines, seq_len, 0)


# ---------------------------------------------------------------- CharLSTM
class _Base(torch.nn.Module):
    def __init__(self, vocab_size, embed_size, hidden_size, dropout=0.1, batch_first=True, num_layers=2, between=None):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab_size + 1, embed_size, padding_idx=vocab_size)
        self.dropout = torch.nn.Dropout(dropout)
        between = dropout if between is None else between
        self.lstm = torch.nn.LSTM(
            embed_size,
            hidden_size,
            num_layers=num_layers,
            dropout=between if num_layers > 1 else 0,
            batch_first=batch_first,
        )
        self.head = torch.nn.Linear(hidden_size, vocab_size)

    def forward(self, x, state=None):
        out, state = self.lstm(self.dropout(self.embedding(x)), state)
        return self.head(out), state


class OneLayer(_Base):  # the lesson's model before this issue: one LSTM layer, so no dropout between layers
    def __init__(self, vocab_size, embed_size, hidden_size, dropout=0.1):
        super().__init__(vocab_size, embed_size, hidden_size, dropout, num_layers=1)


class NoDropoutBetween(_Base):  # two layers, but torch.nn.LSTM's dropout left at its default 0
    def __init__(self, vocab_size, embed_size, hidden_size, dropout=0.1):
        super().__init__(vocab_size, embed_size, hidden_size, dropout, between=0.0)


class HalfBetween(_Base):
    def __init__(self, vocab_size, embed_size, hidden_size, dropout=0.1):
        super().__init__(vocab_size, embed_size, hidden_size, dropout, between=0.5)


class FixedRateBetween(_Base):  # the input dropout follows the argument, the LSTM's is fixed at 0.1
    def __init__(self, vocab_size, embed_size, hidden_size, dropout=0.1):
        super().__init__(vocab_size, embed_size, hidden_size, dropout, between=0.1)


class TwoLSTMModules(torch.nn.Module):  # two one-layer LSTMs with a Dropout between: not the specified layout
    def __init__(self, vocab_size, embed_size, hidden_size, dropout=0.1):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab_size + 1, embed_size, padding_idx=vocab_size)
        self.dropout = torch.nn.Dropout(dropout)
        self.lstm1 = torch.nn.LSTM(embed_size, hidden_size, batch_first=True)
        self.lstm2 = torch.nn.LSTM(hidden_size, hidden_size, batch_first=True)
        self.head = torch.nn.Linear(hidden_size, vocab_size)

    def forward(self, x, state=None):
        first, second = (None, None) if state is None else state
        out, first = self.lstm1(self.dropout(self.embedding(x)), first)
        out, second = self.lstm2(self.dropout(out), second)
        return self.head(out), (first, second)


class DropoutBeforeDense(_Base):
    def forward(self, x, state=None):
        out, state = self.lstm(self.embedding(x), state)
        return self.head(self.dropout(out)), state


class DropoutOnBoth(_Base):
    def forward(self, x, state=None):
        out, state = self.lstm(self.dropout(self.embedding(x)), state)
        return self.head(self.dropout(out)), state


class FunctionalDropoutBeforeDense(_Base):
    def forward(self, x, state=None):
        out, state = self.lstm(self.dropout(self.embedding(x)), state)
        return self.head(F.dropout(out, 0.1, self.training)), state


class DropoutHalf(_Base):
    def __init__(self, vocab_size, embed_size, hidden_size, dropout=0.1):
        super().__init__(vocab_size, embed_size, hidden_size, dropout=0.5)  # the argument ignored

    def forward(self, x, state=None):
        out, state = self.lstm(self.dropout(self.embedding(x)), state)
        return self.head(out), state


class NoDropout(_Base):
    def forward(self, x, state=None):
        out, state = self.lstm(self.embedding(x), state)
        return self.head(out), state


class NotBatchFirst(_Base):
    def __init__(self, vocab_size, embed_size, hidden_size, dropout=0.1):
        super().__init__(vocab_size, embed_size, hidden_size, dropout, batch_first=False)

    def forward(self, x, state=None):
        out, state = self.lstm(self.dropout(self.embedding(x)), state)
        return self.head(out), state


class DropoutAlwaysOn(_Base):
    def forward(self, x, state=None):
        out, state = self.lstm(F.dropout(self.embedding(x), 0.1, training=True), state)
        return self.head(out), state


# ---------------------------------------------------------------- masked_cross_entropy
def _nll(logits, targets, pad):
    safe = torch.where(targets == pad, torch.zeros_like(targets), targets)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), safe.reshape(-1), reduction="none").reshape(
        targets.shape
    )


def mce_counts_padding(logits, targets, pad):
    mask = targets != pad
    return (_nll(logits, targets, pad) * mask).sum() / mask.numel()


def mce_padding_as_class_zero(logits, targets, pad):
    return _nll(logits, targets, pad).mean()


def mce_sum(logits, targets, pad):
    return (_nll(logits, targets, pad) * (targets != pad)).sum()


def mce_mean_of_row_means(logits, targets, pad):
    mask = targets != pad
    return ((_nll(logits, targets, pad) * mask).sum(1) / mask.sum(1).clamp(min=1)).mean()


def mce_returns_float(logits, targets, pad):
    return ref.masked_cross_entropy(logits, targets, pad).item()


# ---------------------------------------------------------------- generate
def _generate(
    model,
    vocab,
    seed_text,
    num_chars=500,
    temperature=1.0,
    seed=0,
    *,
    extra=0,
    how="divide",
    seeded=True,
    eval_mode=True,
    greedy=False,
    with_seed_text=False,
):
    generator = torch.Generator().manual_seed(seed) if seeded else None
    if eval_mode:
        model.eval()
    chosen = []
    with torch.no_grad():
        logits, state = model(torch.as_tensor(vocab.encode(seed_text))[None])
        for _ in range(num_chars + extra):
            last = logits[0, -1].double()
            scaled = {"divide": last / temperature, "ignore": last, "multiply": last * temperature}[how]
            probs = torch.softmax(scaled, dim=-1)
            index = int(probs.argmax()) if greedy else int(torch.multinomial(probs, 1, generator=generator))
            chosen.append(index)
            logits, state = model(torch.tensor([[index]]), state)
    text = vocab.decode(chosen)
    return seed_text + text if with_seed_text else text


def gen_499(model, vocab, seed_text, num_chars=500, temperature=1.0, seed=0):
    return _generate(model, vocab, seed_text, num_chars, temperature, seed, extra=-1)


def gen_501(model, vocab, seed_text, num_chars=500, temperature=1.0, seed=0):
    return _generate(model, vocab, seed_text, num_chars, temperature, seed, extra=1)


def gen_ignores_temperature(model, vocab, seed_text, num_chars=500, temperature=1.0, seed=0):
    return _generate(model, vocab, seed_text, num_chars, temperature, seed, how="ignore")


def gen_multiplies_temperature(model, vocab, seed_text, num_chars=500, temperature=1.0, seed=0):
    return _generate(model, vocab, seed_text, num_chars, temperature, seed, how="multiply")


def gen_unseeded(model, vocab, seed_text, num_chars=500, temperature=1.0, seed=0):
    return _generate(model, vocab, seed_text, num_chars, temperature, seed, seeded=False)


def gen_train_mode(model, vocab, seed_text, num_chars=500, temperature=1.0, seed=0):
    return _generate(model, vocab, seed_text, num_chars, temperature, seed, eval_mode=False)


def gen_greedy(model, vocab, seed_text, num_chars=500, temperature=1.0, seed=0):
    return _generate(model, vocab, seed_text, num_chars, temperature, seed, greedy=True)


def gen_with_seed_text(model, vocab, seed_text, num_chars=500, temperature=1.0, seed=0):
    return _generate(model, vocab, seed_text, num_chars, temperature, seed, with_seed_text=True)


def gen_first_logits(model, vocab, seed_text, num_chars=500, temperature=1.0, seed=0):
    """Samples the first character from the logits after the seed's FIRST character (an off-by-one)."""
    generator = torch.Generator().manual_seed(seed)
    model.eval()
    with torch.no_grad():
        logits, state = model(torch.as_tensor(vocab.encode(seed_text))[None])
        chosen, last = [], logits[0, 0]
        for _ in range(num_chars):
            index = int(torch.multinomial(torch.softmax(last.double() / temperature, -1), 1, generator=generator))
            chosen.append(index)
            logits, state = model(torch.tensor([[index]]), state)
            last = logits[0, -1]
    return vocab.decode(chosen)


# ---------------------------------------------------------------- new variants, by kind of gap
# 1. inputs changed in place
def ps_filters_list_in_place(lines, seq_len, pad):
    lines[:] = [line for line in lines if len(line) >= 2]  # "clean up" the caller's list
    return ref.prefix_sequences(lines, seq_len, pad)


def mce_overwrites_targets(logits, targets, pad):
    mask = targets != pad
    targets[~mask] = 0  # so that cross_entropy can index every position: into the caller's tensor
    losses = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none")
    return (losses * mask.reshape(-1)).sum() / mask.sum()


# 3. dtypes
def ps_int32(lines, seq_len, pad):
    inputs, targets = ref.prefix_sequences(lines, seq_len, pad)
    return inputs.astype(np.int32), targets.astype(np.int32)


def mce_float32(logits, targets, pad):
    return ref.masked_cross_entropy(logits.float(), targets, pad)


def mce_rewrapped(logits, targets, pad):
    return torch.tensor(ref.masked_cross_entropy(logits, targets, pad).item(), requires_grad=True)


# 4. numerical stability
def mce_log_of_softmax(logits, targets, pad):
    mask = targets != pad
    probs = torch.softmax(logits[mask], dim=-1)
    return -torch.log(probs.gather(1, targets[mask][:, None])).mean()


def mce_one_max_for_the_batch(logits, targets, pad):
    mask = targets != pad
    z = logits[mask] - logits.max()  # one max for every row
    log_probs = z - torch.log(torch.exp(z).sum(dim=-1, keepdim=True))
    return -log_probs.gather(1, targets[mask][:, None]).mean()


def gen_exp_over_sum(model, vocab, seed_text, num_chars=500, temperature=1.0, seed=0):
    generator = torch.Generator().manual_seed(seed)
    model.eval()
    chosen = []
    with torch.no_grad():
        logits, state = model(torch.as_tensor(vocab.encode(seed_text))[None])
        for _ in range(num_chars):
            weights = torch.exp(logits[0, -1].double() / temperature)
            index = int(torch.multinomial(weights / weights.sum(), 1, generator=generator))
            chosen.append(index)
            logits, state = model(torch.tensor([[index]]), state)
    return vocab.decode(chosen)


# 5. code that works only on some inputs
def rp_keeps_space_and_newline_only(text):
    return "".join(c for c in text if c.isalnum() or c in " \n")


def rp_regex_word_characters(text):
    return re.sub(r"[^\w\s]", "", text)  # \w holds the underscore


def ps_pad_by_value(lines, seq_len, pad):
    return _prefix_rows(lines, seq_len, pad, by_value=True)


def mce_pad_assumed_v(logits, targets, pad):
    mask = targets < logits.shape[-1]  # "padding is the index past the vocabulary"
    return F.cross_entropy(logits[mask], targets[mask])


class EmbeddingWithoutPaddingRow(_Base):
    def __init__(self, vocab_size, embed_size, hidden_size, dropout=0.1):
        super().__init__(vocab_size, embed_size, hidden_size, dropout)
        self.embedding = torch.nn.Embedding(vocab_size, embed_size)

    def forward(self, x, state=None):
        out, state = self.lstm(self.dropout(self.embedding(x)), state)
        return self.head(out), state


class PaddingIndexZero(_Base):
    def __init__(self, vocab_size, embed_size, hidden_size, dropout=0.1):
        super().__init__(vocab_size, embed_size, hidden_size, dropout)
        self.embedding = torch.nn.Embedding(vocab_size + 1, embed_size, padding_idx=0)

    def forward(self, x, state=None):
        out, state = self.lstm(self.dropout(self.embedding(x)), state)
        return self.head(out), state


class FixedDropoutRate(_Base):
    def __init__(self, vocab_size, embed_size, hidden_size, dropout=0.1):
        super().__init__(vocab_size, embed_size, hidden_size, dropout=0.1)  # the argument ignored

    def forward(self, x, state=None):
        out, state = self.lstm(self.dropout(self.embedding(x)), state)
        return self.head(out), state


class IgnoresState(_Base):
    def forward(self, x, state=None):
        out, state = self.lstm(self.dropout(self.embedding(x)))
        return self.head(out), state


class ReturnsNoState(_Base):
    def forward(self, x, state=None):
        out, _ = self.lstm(self.dropout(self.embedding(x)), state)
        return self.head(out), None


# 6. a dropped state must be named as such (not as a temperature mistake)
def gen_drops_state(model, vocab, seed_text, num_chars=500, temperature=1.0, seed=0):
    generator = torch.Generator().manual_seed(seed)
    model.eval()
    chosen = []
    with torch.no_grad():
        logits, _ = model(torch.as_tensor(vocab.encode(seed_text))[None])
        for _ in range(num_chars):
            index = int(
                torch.multinomial(torch.softmax(logits[0, -1].double() / temperature, -1), 1, generator=generator)
            )
            chosen.append(index)
            logits, _ = model(torch.tensor([[index]]))  # the state is not passed back
    return vocab.decode(chosen)


VARIANTS: dict[str, list[Wrong]] = {
    "remove_punctuation": [
        Wrong(
            "keeps_apostrophes",
            "apostrophes kept (don't stays don't)",
            (rp_keeps_apostrophes,),
            BOTH,
            hint='punctuation left in: "\'"',
        ),
        Wrong(
            "sentence_marks_only",
            "only . , ; : ! ? removed",
            (rp_sentence_marks_only,),
            BOTH,
            hint="punctuation left in",
        ),
        Wrong(
            "replaces_with_space",
            "punctuation replaced by spaces",
            (rp_replaces_with_space,),
            BOTH,
            hint="remove, do not replace",
        ),
        Wrong(
            "drops_digits",
            "letters and whitespace kept only: digits removed",
            (rp_drops_digits,),
            BOTH,
            hint="not punctuation were removed: '0'",
        ),
        Wrong(
            "drops_newlines",
            "letters, digits and spaces kept only: newlines removed",
            (rp_drops_newlines,),
            BOTH,
            hint="not punctuation were removed",
        ),
        Wrong(
            "drops_tabs_and_cr",
            "letters, digits, spaces and newlines kept only: tabs and \\r removed",
            (rp_keeps_space_and_newline_only,),
            BOTH,
            hint="not punctuation were removed: '\\t' '\\r'",
        ),
        Wrong(
            "regex_word_characters",
            "re.sub(r'[^\\w\\s]', ''): the underscore kept",
            (rp_regex_word_characters,),
            BOTH,
            hint="punctuation left in: '_'",
        ),
    ],
    "prefix_sequences": [
        Wrong("right_padded", "padding on the right", (ps_right_padded,), BOTH, hint=check.PREFIX_RIGHT),
        Wrong(
            "unshifted_targets",
            "targets equal to the inputs",
            (ps_unshifted_targets,),
            BOTH,
            hint=check.PREFIX_UNSHIFTED,
        ),
        Wrong(
            "keeps_last",
            "a long line cut to its last seq_len + 1 characters",
            (ps_keeps_last,),
            BOTH,
            hint=check.PREFIX_LAST,
        ),
        Wrong(
            "keeps_short_lines",
            "one-character lines give all-padding rows",
            (ps_keeps_short_lines,),
            BOTH,
            hint=check.PREFIX_SHORT,
        ),
        Wrong("pads_with_zero", "padded with 0 instead of pad", (ps_pads_with_zero,), BOTH, hint=check.PREFIX_ZERO),
        Wrong(
            "filters_list_in_place",
            "the caller's list of passages filtered in place",
            (ps_filters_list_in_place,),
            BOTH,
            hint="passages was left changed",
        ),
        Wrong(
            "int32",
            "int32 rows (torch's losses want int64 targets)",
            (ps_int32,),
            BOTH,
            hint="got int32, expected int64",
        ),
        Wrong(
            "pad_by_value",
            "rows placed by counting pad entries: wrong when a passage holds pad",
            (ps_pad_by_value,),
            BOTH,
            hint=check.PREFIX_BY_VALUE,
        ),
    ],
    "char_lstm": [
        Wrong(
            "one_layer",
            "one LSTM layer (the post's model stacks two)",
            (OneLayer,),
            BOTH,
            hint="stacks two LSTM layers",
        ),
        Wrong(
            "no_dropout_between",
            "two LSTM layers with no dropout between them",
            (NoDropoutBetween,),
            BOTH,
            hint="between the two LSTM layers too",
        ),
        Wrong(
            "half_between",
            "dropout 0.5 between the LSTM layers",
            (HalfBetween,),
            BOTH,
            hint="dropout between the LSTM layers 0.5",
        ),
        Wrong(
            "fixed_rate_between",
            "the dropout argument ignored between the LSTM layers: always 0.1",
            (FixedRateBetween,),
            BOTH,
            hint="LSTM dropout [0.1]",
        ),
        Wrong(
            "two_lstm_modules",
            "two torch.nn.LSTM modules instead of one with num_layers=2",
            (TwoLSTMModules,),
            BOTH,
            hint="exactly one torch.nn.LSTM (the LSTM with num_layers=2)",
        ),
        Wrong(
            "dropout_before_dense",
            "dropout between the LSTM and the Linear, none on the input",
            (DropoutBeforeDense,),
            BOTH,
            hint="nothing between the LSTM and the Linear",
        ),
        Wrong(
            "dropout_on_both",
            "dropout on the input and before the Linear",
            (DropoutOnBoth,),
            BOTH,
            hint="nothing between the LSTM and the Linear",
        ),
        Wrong(
            "functional_dropout_before_dense",
            "F.dropout before the Linear (no module to inspect)",
            (FunctionalDropoutBeforeDense,),
            BOTH,
            hint="nothing drops out between the LSTM and the Linear",
        ),
        Wrong("dropout_half", "Dropout(0.5) on the input", (DropoutHalf,), BOTH, hint="torch.nn.Dropout rates [0.5]"),
        Wrong("no_dropout", "no dropout at all", (NoDropout,), BOTH, hint="forward calls Embedding -> LSTM -> Linear"),
        Wrong(
            "not_batch_first",
            "torch.nn.LSTM without batch_first, fed (N, T, E)",
            (NotBatchFirst,),
            BOTH,
            hint="batch_first=True",
        ),
        Wrong(
            "dropout_always_on",
            "F.dropout(training=True): still dropping in eval mode",
            (DropoutAlwaysOn,),
            BOTH,
            hint="in eval mode nothing is dropped",
        ),
        Wrong(
            "no_padding_row",
            "Embedding(vocab_size, E): no row for the padding index",
            (EmbeddingWithoutPaddingRow,),
            BOTH,
            hint="CharLSTM raised IndexError: index out of range in self -> x holds the padding index",
        ),
        Wrong(
            "padding_index_zero",
            "padding_idx=0: a real character's row frozen at zero",
            (PaddingIndexZero,),
            BOTH,
            hint="the padding index is vocab_size",
        ),
        Wrong(
            "fixed_dropout_rate",
            "the dropout argument ignored: always 0.1",
            (FixedDropoutRate,),
            BOTH,
            hint="use the dropout argument",
        ),
        Wrong(
            "ignores_state",
            "forward never passes state to the LSTM",
            (IgnoresState,),
            BOTH,
            hint="passes state to the LSTM",
        ),
        Wrong(
            "returns_no_state",
            "forward returns None as the state",
            (ReturnsNoState,),
            BOTH,
            hint="returns the LSTM's new (h, c)",
        ),
    ],
    "masked_cross_entropy": [
        Wrong(
            "counts_padding",
            "divided by N * T: padded positions counted",
            (mce_counts_padding,),
            BOTH,
            hint="not by N * T",
        ),
        Wrong(
            "padding_as_class_zero",
            "padded targets scored as character 0",
            (mce_padding_as_class_zero,),
            BOTH,
            hint="mask the padded targets out",
        ),
        Wrong("sum", "summed, not averaged", (mce_sum,), BOTH, hint="the mean, not the sum"),
        Wrong(
            "mean_of_row_means",
            "mean per row, then over rows",
            (mce_mean_of_row_means,),
            BOTH,
            hint="not a mean per row",
        ),
        Wrong(
            "returns_float",
            ".item(): no gradient for training",
            (mce_returns_float,),
            VISIBLE,
            hint="expected a scalar torch tensor",
        ),
        Wrong(
            "overwrites_targets",
            "padded targets set to 0 in the caller's tensor",
            (mce_overwrites_targets,),
            VISIBLE,
            hint="targets was left changed",
        ),
        Wrong("float32", "computed in float32", (mce_float32,), BOTH, hint="dtype float32, expected float64"),
        Wrong(
            "rewrapped",
            "the value rewrapped in a new tensor: no gradient reaches logits",
            (mce_rewrapped,),
            BOTH,
            hint="torch operations only",
        ),
        Wrong(
            "log_of_softmax",
            "-log(softmax(.)): log(0) for a large margin",
            (mce_log_of_softmax,),
            BOTH,
            hint="log(softmax(.)) is log(0)",
        ),
        Wrong(
            "one_max_for_the_batch",
            "one max subtracted over the whole batch",
            (mce_one_max_for_the_batch,),
            BOTH,
            hint="works row by row",
        ),
        Wrong(
            "pad_assumed_v",
            "the pad argument ignored: padding taken to be V",
            (mce_pad_assumed_v,),
            BOTH,
            hint="whatever its value",
        ),
    ],
    "generate": [
        Wrong("chars_499", "499 characters", (gen_499,), BOTH, hint="expected exactly"),
        Wrong("chars_501", "501 characters", (gen_501,), BOTH, hint="expected exactly"),
        Wrong(
            "ignores_temperature",
            "sampling ignores the temperature",
            (gen_ignores_temperature,),
            BOTH,
            hint="divide the logits by the temperature",
        ),
        Wrong(
            "multiplies_temperature",
            "logits multiplied by the temperature",
            (gen_multiplies_temperature,),
            BOTH,
            hint="divide the logits by the temperature",
        ),
        Wrong(
            "unseeded",
            "the global RNG, never seeded: not deterministic",
            (gen_unseeded,),
            BOTH,
            hint="torch.Generator().manual_seed(seed)",
        ),
        Wrong(
            "train_mode",
            "model.eval() forgotten: dropout on while generating",
            (gen_train_mode,),
            BOTH,
            hint="model.eval()",
        ),
        Wrong("greedy", "argmax at every step instead of sampling", (gen_greedy,), BOTH, hint="do not take the argmax"),
        Wrong(
            "with_seed_text",
            "the seed text returned in front of the 500 characters",
            (gen_with_seed_text,),
            BOTH,
            hint="not the seed text",
        ),
        Wrong(
            "first_logits",
            "the first character drawn from the logits after the seed's first character",
            (gen_first_logits,),
            BOTH,
            hint="after the LAST character",
        ),
        Wrong(
            "drops_state",
            "the state not fed back: each character read from a fresh state",
            (gen_drops_state,),
            BOTH,
            hint="carry the state",
        ),
        Wrong(
            "exp_over_sum",
            "probabilities as exp(logits / T) / sum: overflow at a small temperature",
            (gen_exp_over_sum,),
            BOTH,
            hint="exp of them overflows",
        ),
    ],
}

#: The correct functions, in each check's argument order.
CORRECT = {
    "remove_punctuation": (ref.remove_punctuation,),
    "prefix_sequences": (ref.prefix_sequences,),
    "char_lstm": (ref.CharLSTM,),
    "masked_cross_entropy": (ref.masked_cross_entropy,),
    "generate": (ref.generate,),
}
