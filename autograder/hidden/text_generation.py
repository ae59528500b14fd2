"""Hidden checks for lesson 07: random texts, lines, shapes, toy models and seeds, with
edge cases chosen by case index (never by coin flip): an empty text, one of punctuation only,
tabs and carriage returns; a line of exactly seq_len + 1 characters, a longer one, one of a
single character, a passage holding the padding index itself; a fully padded row, logits on
scales of 1000 and 1 with a large margin at a wrong class, a padding index other than V;
generating a single character. Expected values come from the NumPy references (grader side), and
what a known mistake gives from the catalog of known mistakes (``autograder.mistakes``); in a
learner's kernel the functions are only called, to be recorded. Each cell passes the learner's own
object; the visible checks' harnesses turn text, a module class and a generator into the array
functions that are recorded."""

from __future__ import annotations

import functools
import string

from course.checks import text_generation as visible

from . import hidden_check, lesson_reference

_reference = functools.partial(lesson_reference, __name__)

RANDOM_CASES = 3
ALPHABET = string.ascii_letters + string.digits + "  \n\t\r" + string.punctuation


def _random_text(rng, length):
    return "".join(rng.choice(list(ALPHABET), size=length))


@hidden_check("remove_punctuation_codes", harness=visible.remove_punctuation_harness)
def remove_punctuation(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    from course.datasets import load_alice

    alice = load_alice()
    start = int(rng.integers(0, len(alice) - 2000))
    texts = ["", string.punctuation, "no punctuation here\n 2 9 x\ttab\r\n", alice[start : start + 2000]]
    texts += [_random_text(rng, int(rng.integers(20, 200))) for _ in range(RANDOM_CASES)]
    for text in texts:
        visible.compare_remove_punctuation(
            report, *functions, text, ref and ref.remove_punctuation(text), oracle="reference"
        )


#: The known mistakes of prefix_sequences that a hidden check names by what they return (the
#: visible check adds the unshifted targets and the zero padding, which it derives from the answer).
PREFIX_SUSPECTS = ("right_padded", "keeps_last", "keeps_short_lines", "pad_by_value")


def _prefix_suspects(with_reference, lines, seq_len, pad):
    """{hint: (inputs, targets)} of the known mistakes, from the catalog (absent in a learner's kernel)."""
    if not with_reference:
        return None
    from autograder.mistakes import text_generation as mistakes

    wrong = {w.name: w for w in mistakes.VARIANTS["prefix_sequences"]}
    return {wrong[name].hint: wrong[name].functions[0](lines, seq_len, pad) for name in PREFIX_SUSPECTS}


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
        visible.compare_prefix_sequences(
            report,
            *functions,
            lines,
            seq_len,
            pad,
            expected,
            _prefix_suspects(with_reference, lines, seq_len, pad),
            oracle="reference",
        )


@hidden_check("char_lstm_forward", harness=visible.char_lstm_harness)
def char_lstm(report, functions, rng, with_reference):
    for _ in range(1 + RANDOM_CASES):
        N, T, V = int(rng.integers(4, 7)), int(rng.integers(10, 17)), int(rng.integers(3, 13))
        E, H = int(rng.integers(8, 13)), int(rng.integers(2, 9))
        visible.compare_char_lstm(
            report, *functions, visible.model_inputs(rng, N, T, V), V, E, H, int(rng.integers(0, 2**31 - 2))
        )


@hidden_check("masked_cross_entropy")
def masked_cross_entropy(report, functions, rng, with_reference):
    ref = _reference(with_reference)
    for case in range(3 + RANDOM_CASES):
        N, T, V = int(rng.integers(2, 6)), int(rng.integers(3, 9)), int(rng.integers(2, 12))
        pad = -1 if case == 2 else V  # the padding index is an argument: not always V
        # A different amount of padding in every row: row 0 none, the last row all (case 0).
        pads = [T if case == 0 and i == N - 1 else min(i, T - 1) for i in range(N)]
        logits, targets, pad = visible.loss_case(rng, N, T, V, pad, pads)
        if case == 1:  # rows on scales 1000 and 1; at (0, 0) a wrong class leads the target by 2000
            logits[0] *= 500.0
            logits[0, 0, targets[0, 0]], logits[0, 0, (targets[0, 0] + 1) % V] = -1000.0, 1000.0
        visible.compare_masked_cross_entropy(
            report, *functions, logits, targets, pad, visible=False, reference=ref and ref.masked_cross_entropy
        )


@hidden_check("generate_indices", harness=visible.generate_harness)
def generate(report, functions, rng, with_reference):
    # num_chars: 500 (the lesson's), 1 (a single step), then random lengths.
    for case in range(2 + RANDOM_CASES):
        V = int(rng.integers(4, 27))
        num_chars = 500 if case == 0 else 1 if case == 1 else int(rng.integers(20, 300))
        W = visible.toy_logits(rng, V, float(rng.uniform(1.0, 3.0)))
        seed_indices = rng.integers(0, V, size=int(rng.integers(1, 12)))
        visible.compare_generate(report, *functions, W, seed_indices, num_chars, int(rng.integers(0, 2**31 - 2)))
