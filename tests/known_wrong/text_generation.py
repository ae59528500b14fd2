"""Known-wrong variants of lesson 07's graded functions."""
from __future__ import annotations

import string

import numpy as np
import torch

# The check builds the same rows, in their wrong modes too, to name a suspect; the variants reuse it.
from autograder.checks.text_generation import _prefix_rows as _prefix
from autograder.reference import text_generation as ref

from . import BOTH, HIDDEN, VISIBLE, Wrong  # noqa: F401  (HIDDEN: for variants caught by one side only)

F = torch.nn.functional


# ---------------------------------------------------------------- remove_punctuation (through the adapter)
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


def ps_right_padded(lines, seq_len, pad):
    return _prefix(lines, seq_len, pad, side="right")


def ps_unshifted_targets(lines, seq_len, pad):
    return _prefix(lines, seq_len, pad, shift=False)


def ps_keeps_last(lines, seq_len, pad):
    return _prefix(lines, seq_len, pad, keep="last")


def ps_keeps_short_lines(lines, seq_len, pad):
    return _prefix(lines, seq_len, pad, skip_short=False)


def ps_pads_with_zero(lines, seq_len, pad):
    return _prefix(lines, seq_len, 0)


# ---------------------------------------------------------------- CharLSTM (through the adapter)
class _Base(torch.nn.Module):
    def __init__(self, vocab_size, embed_size, hidden_size, dropout=0.1, batch_first=True):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab_size + 1, embed_size, padding_idx=vocab_size)
        self.dropout = torch.nn.Dropout(dropout)
        self.lstm = torch.nn.LSTM(embed_size, hidden_size, batch_first=batch_first)
        self.head = torch.nn.Linear(hidden_size, vocab_size)


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
    def __init__(self, vocab_size, embed_size, hidden_size):
        super().__init__(vocab_size, embed_size, hidden_size, dropout=0.5)

    def forward(self, x, state=None):
        out, state = self.lstm(self.dropout(self.embedding(x)), state)
        return self.head(out), state


class NoDropout(_Base):
    def forward(self, x, state=None):
        out, state = self.lstm(self.embedding(x), state)
        return self.head(out), state


class NotBatchFirst(_Base):
    def __init__(self, vocab_size, embed_size, hidden_size):
        super().__init__(vocab_size, embed_size, hidden_size, batch_first=False)

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
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), safe.reshape(-1), reduction="none").reshape(targets.shape)


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


# ---------------------------------------------------------------- generate (through the adapter)
def _generate(model, vocab, seed_text, num_chars=500, temperature=1.0, seed=0, *, extra=0, how="divide",
              seeded=True, eval_mode=True, greedy=False, with_seed_text=False):
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


RP, MA, GA = ref.remove_punctuation_adapter, ref.module_adapter, ref.generate_adapter

VARIANTS: dict[str, list[Wrong]] = {
    "remove_punctuation": [
        Wrong("keeps_apostrophes", "apostrophes kept (don't stays don't)", (RP(rp_keeps_apostrophes),), BOTH),
        Wrong("sentence_marks_only", "only . , ; : ! ? removed", (RP(rp_sentence_marks_only),), BOTH),
        Wrong("replaces_with_space", "punctuation replaced by spaces", (RP(rp_replaces_with_space),), BOTH),
        Wrong("drops_digits", "letters and whitespace kept only: digits removed", (RP(rp_drops_digits),), BOTH),
        Wrong("drops_newlines", "letters, digits and spaces kept only: newlines removed", (RP(rp_drops_newlines),), BOTH),
    ],
    "prefix_sequences": [
        Wrong("right_padded", "padding on the right", (ps_right_padded,), BOTH),
        Wrong("unshifted_targets", "targets equal to the inputs", (ps_unshifted_targets,), BOTH),
        Wrong("keeps_last", "a long line cut to its last seq_len + 1 characters", (ps_keeps_last,), BOTH),
        Wrong("keeps_short_lines", "one-character lines give all-padding rows", (ps_keeps_short_lines,), BOTH),
        Wrong("pads_with_zero", "padded with 0 instead of pad", (ps_pads_with_zero,), BOTH),
    ],
    "char_lstm": [
        Wrong("dropout_before_dense", "dropout between the LSTM and the Linear, none on the input",
              (MA(DropoutBeforeDense),), BOTH),
        Wrong("dropout_on_both", "dropout on the input and before the Linear", (MA(DropoutOnBoth),), BOTH),
        Wrong("functional_dropout_before_dense", "F.dropout before the Linear (no module to inspect)",
              (MA(FunctionalDropoutBeforeDense),), BOTH),
        Wrong("dropout_half", "Dropout(0.5) on the input", (MA(DropoutHalf),), BOTH),
        Wrong("no_dropout", "no dropout at all", (MA(NoDropout),), BOTH),
        Wrong("not_batch_first", "torch.nn.LSTM without batch_first, fed (N, T, E)", (MA(NotBatchFirst),), BOTH),
        Wrong("dropout_always_on", "F.dropout(training=True): still dropping in eval mode", (MA(DropoutAlwaysOn),), BOTH),
    ],
    "masked_cross_entropy": [
        Wrong("counts_padding", "divided by N * T: padded positions counted", (mce_counts_padding,), BOTH),
        Wrong("padding_as_class_zero", "padded targets scored as character 0", (mce_padding_as_class_zero,), BOTH),
        Wrong("sum", "summed, not averaged", (mce_sum,), BOTH),
        Wrong("mean_of_row_means", "mean per row, then over rows", (mce_mean_of_row_means,), BOTH),
        Wrong("returns_float", ".item(): no gradient for training", (mce_returns_float,), VISIBLE),
    ],
    "generate": [
        Wrong("chars_499", "499 characters", (GA(gen_499),), BOTH),
        Wrong("chars_501", "501 characters", (GA(gen_501),), BOTH),
        Wrong("ignores_temperature", "sampling ignores the temperature", (GA(gen_ignores_temperature),), BOTH),
        Wrong("multiplies_temperature", "logits multiplied by the temperature", (GA(gen_multiplies_temperature),), BOTH),
        Wrong("unseeded", "the global RNG, never seeded: not deterministic", (GA(gen_unseeded),), BOTH),
        Wrong("train_mode", "model.eval() forgotten: dropout on while generating", (GA(gen_train_mode),), BOTH),
        Wrong("greedy", "argmax at every step instead of sampling", (GA(gen_greedy),), BOTH),
        Wrong("with_seed_text", "the seed text returned in front of the 500 characters", (GA(gen_with_seed_text),), BOTH),
        Wrong("first_logits", "the first character drawn from the logits after the seed's first character",
              (GA(gen_first_logits),), BOTH),
    ],
}

#: The correct functions, in each check's argument order.
CORRECT = {
    "remove_punctuation": (RP(ref.remove_punctuation),),
    "prefix_sequences": (ref.prefix_sequences,),
    "char_lstm": (ref.char_lstm_forward_reference,),
    "masked_cross_entropy": (ref.masked_cross_entropy,),
    "generate": (GA(ref.generate),),
}
