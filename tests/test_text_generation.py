"""Lesson 07's references on the real data, and the properties its notebook relies on."""
from __future__ import annotations

import string

import nbformat
import numpy as np
import torch

from autograder import COURSE_ROOT
from course.checks import text_generation as check
from course.datasets import CharVocab, load_alice
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


def test_reference_model_is_the_posts_two_layers_with_the_assignments_dropout():
    # The Keras post's model (two LSTM(256) layers) with dropout 0.1 on the input and between the
    # LSTM layers, none before the read-out: the specification the check and the stub state.
    torch.manual_seed(0)
    model = ref.CharLSTM(5, 4, 3)
    lstm = model.lstm
    assert (lstm.num_layers, lstm.dropout, lstm.batch_first) == (2, check.DROPOUT, True)
    assert [m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)] == [check.DROPOUT]
    assert model.embedding.padding_idx == 5 and model.embedding.num_embeddings == 6
    logits, (h, c) = model(torch.as_tensor(check.model_inputs(None, 3, 7, 5)))
    assert logits.shape == (3, 7, 5) and h.shape == c.shape == (2, 3, 3)
    other = ref.CharLSTM(5, 4, 3, dropout=0.25)
    assert other.lstm.dropout == 0.25 and other.dropout.p == 0.25


def test_char_lstm_oracle_equals_the_reference_model_in_eval_mode():
    # The check's two-layer oracle, fed the reference model's own weights, gives its eval logits.
    torch.manual_seed(1)
    model = ref.CharLSTM(6, 5, 4).double().eval()
    x = check.model_inputs(None, 4, 9, 6)
    weights = [getattr(model.lstm, f"{name}_l{k}").detach().numpy() for k in range(2) for name in check.GATE_WEIGHTS]
    expected = check._lstm_oracle(x, model.embedding.weight.detach().numpy(), weights,
                                  model.head.weight.detach().numpy(), model.head.bias.detach().numpy())
    with torch.no_grad():
        np.testing.assert_allclose(model(torch.as_tensor(x))[0].numpy(), expected, rtol=0, atol=1e-12)
