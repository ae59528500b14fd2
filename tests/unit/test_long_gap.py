"""The long-gap task shared by lessons 04 and 05: what it draws and where the bias goes."""

from __future__ import annotations

import pytest
import torch

from course.experiments.long_gap import TOKENS, Classifier, long_gap_batch, train_long_gap


def test_batch_starts_with_the_signal_and_holds_only_distractors_after_it():
    x, y = long_gap_batch(50, 7, torch.Generator().manual_seed(0))
    assert x.shape == (50, 8, len(TOKENS)) and y.shape == (50,)
    tokens = x.argmax(dim=2)
    assert torch.equal(tokens[:, 0], y), "the label is the first token"
    assert bool(((tokens[:, 1:] == 2) | (tokens[:, 1:] == 3)).all()), "only x and y after the signal"
    assert set(y.tolist()) == {0, 1}


@pytest.mark.parametrize("kind, block", [("LSTM", 1), ("GRU", 1)])  # f in (i, f, g, o); z in (r, z, n)
def test_memory_bias_sets_the_keep_gate_only(kind, block):
    hidden = 5
    rnn = Classifier(kind, hidden, memory_bias=2.0).rnn
    total = (rnn.bias_ih_l0 + rnn.bias_hh_l0).detach()
    keep = total[block * hidden : (block + 1) * hidden]
    assert torch.allclose(keep, torch.full((hidden,), 2.0))
    others = torch.cat([total[: block * hidden], total[(block + 1) * hidden :]])
    assert others.abs().max() < 1.0, "the other gates keep PyTorch's small uniform initialisation"


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_no_memory_bias_keeps_pytorchs_initialisation(kind):
    hidden = 16
    torch.manual_seed(0)
    rnn = Classifier(kind, hidden, memory_bias=None).rnn
    torch.manual_seed(0)
    plain = getattr(torch.nn, kind)(len(TOKENS), hidden, batch_first=True)
    for name in ("bias_ih_l0", "bias_hh_l0"):
        assert torch.equal(getattr(rnn, name), getattr(plain, name)), f"{name} is not PyTorch's draw"
    keep = (rnn.bias_ih_l0 + rnn.bias_hh_l0)[hidden : 2 * hidden].detach()
    assert keep.abs().max() <= 2 / hidden**0.5 and keep.abs().max() > 0, "the keep gate's bias is a small random draw"


def test_training_is_reproducible_and_learns_a_short_gap():
    _, first = train_long_gap("GRU", 2, 60, seed=3, memory_bias=2.0)
    _, again = train_long_gap("GRU", 2, 60, seed=3, memory_bias=2.0)
    assert first == again
    assert first > 0.9, f"a GRU should learn a gap of 2 in 60 steps; accuracy {first:.2f}"
