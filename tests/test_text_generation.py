"""Lesson 07's references on the real data, and the properties its notebook relies on."""
from __future__ import annotations

import string

import nbformat
import numpy as np
import torch

from autograder import COURSE_ROOT
from autograder.checks import text_generation as check
from autograder.datasets import CharVocab, load_alice
from autograder.reference import text_generation as ref

NOTEBOOK = COURSE_ROOT / "solutions" / "07_text_generation" / "text_generation.ipynb"


def test_notebook_adapters_equal_the_reference_adapters():
    cells = {c.id: c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells}
    namespace = {"np": np, "torch": torch, "string": string, "check": check, "CharVocab": CharVocab,
                 "CharLSTM": ref.CharLSTM, "generate": ref.generate, "remove_punctuation": ref.remove_punctuation}
    for cell_id in ("remove_punctuation_adapter", "char_lstm_adapter", "generate_adapter"):
        exec(cells[cell_id], namespace)  # noqa: S102  (our own locked cells)
    x = check.model_inputs(None, 3, 8, 5)
    for mine, theirs in zip(namespace["char_lstm_forward"](x, 5, 4, 3, 0), ref.char_lstm_forward_reference(x, 5, 4, 3, 0)):
        np.testing.assert_array_equal(mine, theirs)
    W, seed_text = check.toy_logits(None, 5, 2.0), np.array([0, 3])
    for mine, theirs in zip(namespace["generate_indices"](W, seed_text, 40, 0.7, 3),
                            ref.generate_adapter(ref.generate)(W, seed_text, 40, 0.7, 3)):
        np.testing.assert_array_equal(mine, theirs)
    codes = np.array([ord(c) for c in "a, b!\tc"])
    np.testing.assert_array_equal(namespace["remove_punctuation_codes"](codes),
                                  ref.remove_punctuation_adapter(ref.remove_punctuation)(codes))


def test_punctuation_free_alice_has_letters_digits_space_and_newline_only():
    clean = ref.remove_punctuation(load_alice())
    vocab = CharVocab(clean)
    assert set(vocab.chars) <= set(string.ascii_letters + string.digits + " \n")
    assert not set(vocab.chars) & set(string.punctuation)
    assert len(vocab) == 56


def test_prefix_sequences_on_alice_left_pads_every_line():
    clean = ref.remove_punctuation(load_alice())
    vocab = CharVocab(clean)
    lines = [vocab.encode(line) for line in clean.splitlines(keepends=True)]
    seq_len = max(len(line) for line in lines) - 1
    inputs, targets = ref.prefix_sequences(lines, seq_len, len(vocab))
    assert inputs.shape == targets.shape == (sum(len(line) >= 2 for line in lines), seq_len)
    # Left padding: the last column is always a real character, and padding never follows text.
    assert (inputs[:, -1] != len(vocab)).all() and (targets[:, -1] != len(vocab)).all()
    real = inputs != len(vocab)
    assert (np.diff(real.astype(int), axis=1) >= 0).all()
    np.testing.assert_array_equal(inputs[:, 1:][real[:, :-1]], targets[:, :-1][real[:, :-1]])


def test_masked_cross_entropy_matches_ignore_index():
    rng = np.random.default_rng(0)
    logits = torch.tensor(rng.normal(size=(4, 6, 5)))
    targets = torch.tensor(rng.integers(0, 5, size=(4, 6)))
    targets[1:, :3] = 5
    expected = torch.nn.functional.cross_entropy(logits.reshape(-1, 5), targets.reshape(-1), ignore_index=5)
    torch.testing.assert_close(ref.masked_cross_entropy(logits, targets, 5), expected)


def test_generate_with_the_reference_model_is_exact_length_and_reproducible():
    vocab = CharVocab("abc \n")
    torch.manual_seed(0)
    model = ref.CharLSTM(len(vocab), 4, 8)
    first = ref.generate(model, vocab, "ab c", num_chars=500, temperature=0.8, seed=3)
    assert len(first) == 500 and set(first) <= set(vocab.chars)
    assert ref.generate(model, vocab, "ab c", num_chars=500, temperature=0.8, seed=3) == first
    assert ref.generate(model, vocab, "ab c", num_chars=500, temperature=0.8, seed=4) != first
    torch.rand(10)  # the global random state does not matter
    assert ref.generate(model, vocab, "ab c", num_chars=500, temperature=0.8, seed=3) == first
