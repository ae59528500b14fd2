"""Lesson 07's references on the real data, and the properties its notebook relies on."""

from __future__ import annotations

import re
import string

import nbformat
import numpy as np
import pytest
import torch

from autograder import COURSE_ROOT
from autograder.reference import text_generation as ref
from course.checks import core as check_core
from course.checks import text_generation as check
from course.datasets import CharVocab, load_alice

NOTEBOOK = COURSE_ROOT / "solutions" / "07_text_generation" / "text_generation.ipynb"


def test_graded_cells_pass_the_learners_own_objects_and_no_adapter_is_given():
    cells = nbformat.read(NOTEBOOK, as_version=4).cells
    nbgrader = [(c, c.metadata.get("nbgrader", {})) for c in cells]
    solutions = "\n".join(c.source for c, meta in nbgrader if meta.get("solution"))
    passed = []
    for cell, meta in nbgrader:
        if not meta.get("grade"):
            continue
        visible, hidden = cell.source.split("### BEGIN HIDDEN TESTS")
        call = re.fullmatch(r"check\.(\w+)\((\w+)\)", visible.strip())
        assert call, f"{meta['grade_id']}: the check gets one object"
        assert f"hidden.{call[1]}({call[2]})" in hidden, meta["grade_id"]
        # What the cell passes is the learner's own definition, not something a given cell made.
        assert re.search(rf"^(def|class) {call[2]}\b", solutions, re.MULTILINE), call[2]
        passed.append(call[2])
    assert passed == ["remove_punctuation", "prefix_sequences", "CharLSTM", "masked_cross_entropy", "generate"]
    assert not any("adapter" in c.id or "adapter" in c.source for c in cells), "an adapter cell is left"


def _stub_class(*args, **kwargs):
    raise NotImplementedError()


def test_harnesses_build_nothing_until_the_check_calls_them():
    # A class or function that still raises fails inside the check's call, with the plain message.
    for harness in (check.remove_punctuation_harness, check.char_lstm_harness, check.generate_harness):
        (function,) = harness(_stub_class)
        assert callable(function)
    for graded in (check.remove_punctuation, check.char_lstm, check.generate):
        with pytest.raises(check_core.CheckFailed, match="still raises NotImplementedError"):
            graded(_stub_class)


def test_char_lstm_harness_reports_the_models_own_layers_and_results():
    (forward,) = check.char_lstm_harness(ref.CharLSTM)
    x = check.model_inputs(None, 3, 8, 5)
    (order, dropout_p, config, _, _, _, _, _, logits_eval, W_emb, *_, resumed, other_rates) = forward(x, 5, 4, 3, 0)
    assert order.tolist() == check.EXPECTED_ORDER and dropout_p.tolist() == [check.DROPOUT]
    assert config.tolist() == [2, check.DROPOUT, 1] and other_rates.tolist() == [0.25, 0.25]
    torch.manual_seed(0)
    model = ref.CharLSTM(5, 4, 3).double().eval()  # what the harness built, at the same seed
    with torch.no_grad():
        np.testing.assert_array_equal(model(torch.as_tensor(x))[0].numpy(), logits_eval)
    np.testing.assert_array_equal(W_emb, model.embedding.weight.detach().numpy())
    np.testing.assert_allclose(resumed, logits_eval[:, 4:], rtol=0, atol=1e-12)


def test_generate_harness_returns_the_indices_the_learners_text_spells():
    (generate_indices,) = check.generate_harness(ref.generate)
    W, seed_indices = check.toy_logits(None, 5, 2.0), np.array([0, 3])
    indices, training_calls = generate_indices(W, seed_indices, 40, 0.7, 3)
    vocab = CharVocab("abcde")
    text = ref.generate(check.ToyModel(W), vocab, vocab.decode(seed_indices), num_chars=40, temperature=0.7, seed=3)
    np.testing.assert_array_equal(indices, vocab.encode(text))
    assert int(training_calls) == 0
    (codes_function,) = check.remove_punctuation_harness(ref.remove_punctuation)
    codes = codes_function(np.array([ord(c) for c in "a, b!\tc"]))
    assert "".join(map(chr, codes)) == "a b\tc" and codes.dtype == np.int64


def test_hidden_prefix_suspects_come_from_the_catalog_of_mistakes():
    from autograder.hidden import text_generation as hidden
    from autograder.mistakes import text_generation as mistakes

    lines, seq_len, pad = [np.array([1, 2, 3]), np.array([4]), np.array([5, 6, 7, 8, 9, 1, 2])], 4, 10
    suspects = hidden._prefix_suspects(True, lines, seq_len, pad)
    wrong = {w.name: w for w in mistakes.VARIANTS["prefix_sequences"]}
    assert set(suspects) == {wrong[name].hint for name in hidden.PREFIX_SUSPECTS}
    for name in hidden.PREFIX_SUSPECTS:
        for got, expected in zip(suspects[wrong[name].hint], wrong[name].functions[0](lines, seq_len, pad)):
            np.testing.assert_array_equal(got, expected)
    assert hidden._prefix_suspects(False, lines, seq_len, pad) is None  # a learner's kernel: no catalog


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
    expected = check._lstm_oracle(
        x,
        model.embedding.weight.detach().numpy(),
        weights,
        model.head.weight.detach().numpy(),
        model.head.bias.detach().numpy(),
    )
    with torch.no_grad():
        np.testing.assert_allclose(model(torch.as_tensor(x))[0].numpy(), expected, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- the capstone's experiments


def test_split_book_cuts_at_a_line_end_and_loses_nothing():
    from course.experiments.capstone import split_book

    text = load_alice()
    train, held = split_book(text, heldout_fraction=0.1)
    assert train + held == text and train.endswith("\n")
    assert 0.09 < len(held) / len(text) < 0.11


def test_skip_leading_pads_reads_left_padding_as_a_keras_mask_does():
    # A masked LSTM keeps its state at a padded step; before the first real character that state is zero.
    # Stepping the reference model that way over left-padded rows gives the logits of the rows with their
    # pads skipped, at every real position.
    from course.experiments.capstone import skip_leading_pads

    V, seq_len = 6, 9
    rng = np.random.default_rng(0)
    passages = [rng.integers(0, V, size=n) for n in (10, 7, 3, 2)]
    x, y = (torch.as_tensor(a) for a in ref.prefix_sequences(passages, seq_len, V))
    x_read, y_read = skip_leading_pads(x, y, V)
    for row, passage in enumerate(passages):
        n = min(len(passage), seq_len + 1) - 1
        np.testing.assert_array_equal(x_read[row, :n].numpy(), passage[:n])
        np.testing.assert_array_equal(y_read[row, :n].numpy(), passage[1 : n + 1])
        assert (y_read[row, n:] == V).all()
    torch.manual_seed(0)
    model = ref.CharLSTM(V, 4, 5).double().eval()
    with torch.no_grad():
        skipped = model(x_read)[0]
        state, steps = None, []
        for t in range(seq_len):
            logits, new_state = model(x[:, t : t + 1], state)
            state = state or tuple(torch.zeros_like(part) for part in new_state)
            padded = (x[:, t] == V)[None, :, None]
            state = tuple(torch.where(padded, old, new) for old, new in zip(state, new_state))
            steps.append(logits)
        stepped = torch.cat(steps, dim=1)
        read_pads = model(x)[0]
    real, real_read = y != V, y_read != V
    torch.testing.assert_close(stepped[real], skipped[real_read], rtol=0, atol=1e-12)
    assert not torch.allclose(read_pads[real], skipped[real_read])  # the pads do move the state


def test_random_windows_are_the_posts_shifted_windows():
    from course.experiments.capstone import random_windows

    encoded = torch.arange(50)
    x, y = random_windows(encoded, 10, 7, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (7, 10)
    torch.testing.assert_close(y[:, :-1], x[:, 1:])
    torch.testing.assert_close(x[:, 1:] - x[:, :-1], torch.ones(7, 9, dtype=torch.int64))
    assert int(y.max()) <= 49


def test_set_dropout_puts_dropout_where_a_row_of_the_table_asks():
    from course.experiments.capstone import set_dropout

    torch.manual_seed(0)
    model = ref.CharLSTM(5, 4, 3)
    set_dropout(model, on_input=0.0, between_lstms=0.2, before_dense=0.5)
    assert model.dropout.p == 0.0 and model.lstm.dropout == 0.2
    seen = []
    model.head.register_forward_hook(lambda module, args, output: seen.append(args[0].detach().clone()))
    x = torch.as_tensor(check.model_inputs(None, 3, 40, 5))
    model.train()
    model(x)
    model.eval()
    with torch.no_grad():
        model(x)
    dropped = float((seen[0] == 0).double().mean())
    assert 0.35 < dropped < 0.65 and not (seen[1] == 0).any()  # dropped in training only


def test_row_sampler_visits_every_row_once_per_sweep():
    from course.experiments.capstone import RowSampler

    sampler = RowSampler(10, 4, torch.Generator().manual_seed(0))
    drawn = torch.cat([sampler() for _ in range(5)])  # 20 rows: exactly two sweeps
    assert sorted(drawn[:10].tolist()) == list(range(10)) and sorted(drawn[10:].tolist()) == list(range(10))
