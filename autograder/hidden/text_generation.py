"""Hidden checks for lesson 07: random texts, lines, shapes, toy models and seeds, with
edge cases chosen by case index (never by coin flip): an empty text, one of punctuation only,
tabs and carriage returns; a line of exactly seq_len + 1 characters, a longer one, one of a
single character, a passage holding the padding index itself; a fully padded row, logits on
scales of 1000 and 1 with a large margin at a wrong class, a padding index other than V;
generating a single character. Expected values come from the NumPy references (grader side);
in a learner's kernel the functions are only called, to be recorded."""
from __future__ import annotations

import functools
import string

import numpy as np

from course.checks import text_generation as visible
from . import hidden_check, lesson_reference

_reference = functools.partial(lesson_reference, __name__)

RANDOM_CASES = 3
ALPHABET = string.ascii_letters + string.digits + "  \n\t\r" + string.punctuation


def _random_text(rng, length):
    return "".join(rng.choice(list(ALPHABET), size=length))


@hidden_check("remove_punctuation_codes")
def remove_punctuation(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    from course.datasets import load_alice

    alice = load_alice()
    start = int(rng.integers(0, len(alice) - 2000))
    texts = ["", string.punctuation, "no punctuation here\n 2 9 x\ttab\r\n", alice[start:start + 2000]]
    texts += [_random_text(rng, int(rng.integers(20, 200))) for _ in range(RANDOM_CASES)]
    for text in texts:
        visible.compare_remove_punctuation(report, *functions, text, ref and ref.remove_punctuation(text),
                                           oracle="reference")


def _prefix_suspects(ref, lines, seq_len, pad):
    if not ref:
        return None
    mistakes = {visible.PREFIX_RIGHT: dict(side="right"), visible.PREFIX_LAST: dict(keep="last"),
                visible.PREFIX_SHORT: dict(skip_short=False), visible.PREFIX_BY_VALUE: dict(by_value=True)}
    return {hint: ref.prefix_rows(lines, seq_len, pad, **kwargs) for hint, kwargs in mistakes.items()}


@hidden_check("prefix_sequences")
def prefix_sequences(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for case in range(4 + RANDOM_CASES):
        seq_len = int(rng.integers(2, 9))
        pad = int(rng.integers(10, 40))
        lengths = list(rng.integers(0, 2 * seq_len + 3, size=int(rng.integers(2, 7))))
        # Always there: a line of exactly seq_len + 1 characters, a longer one, a line of one
        # character, one of two; the first cases put them first, later ones last.
        special = [seq_len + 1, seq_len + 3 + case, 1, 2]
        lengths = special + lengths if case % 2 else lengths + special
        lines = [rng.integers(0, 10, size=int(n)) for n in lengths]
        if case % 2 == 0:  # a passage that holds the padding index itself, before its last character
            pad = int(lines[-4][0])
        expected = ref.prefix_sequences(lines, seq_len, pad) if ref else None
        visible.compare_prefix_sequences(report, *functions, lines, seq_len, pad, expected,
                                         _prefix_suspects(ref, lines, seq_len, pad), oracle="reference",
                                         check_lines=False)


@hidden_check("char_lstm_forward")
def char_lstm(report, functions, rng, with_reference):
    for _ in range(1 + RANDOM_CASES):
        N, T, V = int(rng.integers(4, 7)), int(rng.integers(10, 17)), int(rng.integers(3, 13))
        E, H = int(rng.integers(8, 13)), int(rng.integers(2, 9))
        visible.compare_char_lstm(report, *functions, visible.model_inputs(rng, N, T, V), V, E, H,
                                  int(rng.integers(0, 2**31 - 2)))


@hidden_check("masked_cross_entropy")
def masked_cross_entropy(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for case in range(3 + RANDOM_CASES):
        N, T, V = int(rng.integers(2, 6)), int(rng.integers(3, 9)), int(rng.integers(2, 12))
        logits = rng.normal(scale=2.0, size=(N, T, V))
        pad = -1 if case == 2 else V  # the padding index is an argument: not always V
        targets = rng.integers(0, V, size=(N, T))
        for i in range(N):  # a different amount of padding in every row: row 0 none, the last row all (case 0)
            targets[i, : (T if case == 0 and i == N - 1 else min(i, T - 1))] = pad
        if case == 1:  # rows on scales 1000 and 1; at (0, 0) a wrong class leads the target by 2000
            logits[0] *= 500.0
            logits[0, 0, targets[0, 0]], logits[0, 0, (targets[0, 0] + 1) % V] = -1000.0, 1000.0
        visible.compare_masked_cross_entropy(report, *functions, logits, targets.astype(np.int64), pad, visible=False,
                                             reference=ref and ref.masked_cross_entropy)


@hidden_check("generate_indices")
def generate(report, functions, rng, with_reference):
    # num_chars: 500 (the lesson's), 1 (a single step), then random lengths.
    for case in range(2 + RANDOM_CASES):
        V = int(rng.integers(4, 27))
        num_chars = 500 if case == 0 else 1 if case == 1 else int(rng.integers(20, 300))
        W = visible.toy_logits(rng, V, float(rng.uniform(1.0, 3.0)))
        seed_indices = rng.integers(0, V, size=int(rng.integers(1, 12)))
        visible.compare_generate(report, *functions, W, seed_indices, num_chars, int(rng.integers(0, 2**31 - 2)))
