"""Lesson 06: the graded cells pass the learner's own classes and train_step (no adapter cells);
the harnesses that run them build lazily, start training in eval mode and name a wrongly
built model; the reference models give the same results on CUDA (skipped without a GPU)."""

from __future__ import annotations

import nbformat
import numpy as np
import pytest
import torch

from autograder import COURSE_ROOT
from autograder.reference import sequence_models as ref
from course.checks import sequence_models as check
from course.checks.core import CheckFailed
from course.checks.sequence_models import forecaster_state, intent_state

NOTEBOOK = COURSE_ROOT / "solutions" / "06_torch_sequence_models" / "sequence_models.ipynb"


def _cells():
    return {c.id: c for c in nbformat.read(NOTEBOOK, as_version=4).cells}


def test_graded_cells_pass_the_learners_objects_and_no_adapter_cell_is_left():
    cells = _cells()
    assert not [cell_id for cell_id in cells if cell_id.endswith("_adapter")]
    for cell_id, learner in (
        ("check_intent_classifier", "IntentClassifier"),
        ("check_forecaster", "Forecaster"),
        ("check_train_step", "train_step"),
    ):
        source = cells[cell_id].source
        name = cell_id.removeprefix("check_")
        assert source.startswith(f"check.{name}({learner})\n") and f"hidden.{name}({learner})" in source
    assert "class LoopedLSTM" in cells["given_looped_lstm"].source  # the given cell that teaches stays


def test_a_student_stub_class_fails_inside_the_check_with_the_plain_message():
    """The harness builds lazily: the stub's constructor raises inside the check's call."""

    class IntentStub(torch.nn.Module):
        def __init__(self, vocab_size, embed_dim, hidden_size, num_classes):
            super().__init__()
            raise NotImplementedError()

    functions = check.intent_harness(IntentStub)  # builds nothing yet
    assert len(functions) == 1
    with pytest.raises(CheckFailed, match="IntentClassifier still raises NotImplementedError"):
        check.intent_classifier(IntentStub)


def test_a_model_built_with_other_submodules_is_told_to_follow_the_docstring():
    class Renamed(torch.nn.Module):
        def __init__(self, num_features, hidden_size, num_layers=2):
            super().__init__()
            self.gru = torch.nn.GRU(num_features, hidden_size, num_layers=num_layers, batch_first=True)
            self.head = torch.nn.Linear(hidden_size, 1)

        def forward(self, x):
            return self.head(self.gru(x)[0][:, -1]).squeeze(-1)

    with pytest.raises(CheckFailed, match="name and size the submodules exactly as the docstring says"):
        check.forecaster(Renamed)


def test_the_harnesses_run_the_class_in_float64_on_the_given_weights():
    rng = np.random.default_rng(0)
    state, tokens, lengths = intent_state(rng, 7, 3, 2, 4), np.array([[1, 2, 3], [4, 0, 0]]), np.array([3, 1])
    (forward,) = check.intent_harness(ref.IntentClassifier)
    model = ref.IntentClassifier(7, 3, 2, 4).double()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    with torch.no_grad():
        expected = model.eval()(torch.from_numpy(tokens), torch.from_numpy(lengths)).numpy()
    logits = forward(state, tokens, lengths)
    assert logits.dtype == np.float64 and np.array_equal(logits, expected)
    state, x = forecaster_state(rng, 2, 3, 3), rng.normal(size=(4, 5, 2))
    (forward,) = check.forecaster_harness(ref.Forecaster)
    assert forward(state, x).shape == (4,) and forward(state, x).dtype == np.float64


def test_the_training_harness_starts_in_eval_mode_and_passes_every_input():
    seen = []

    def spy(model, optimizer, inputs, targets, loss_fn):
        seen.append((model.training, len(inputs), loss_fn.__name__))
        return ref.train_step(model, optimizer, inputs, targets, loss_fn)

    (run,) = check.train_step_harness(spy)
    rng = np.random.default_rng(1)
    W, b, x, y = rng.normal(size=(3, 4)), rng.normal(size=3), rng.normal(size=(6, 4)), rng.integers(0, 3, size=6)
    losses, W_after, _ = run(W, b, x, y, 0.3, 2, dropout=0.5, offset=rng.normal(size=(6, 3)), loss="multi_margin_loss")
    assert seen == [(False, 2, "multi_margin_loss"), (True, 2, "multi_margin_loss")]
    assert losses.shape == (2,) and not np.array_equal(W_after, W)


def test_given_cells_hold_no_masked_mean_or_single_text_generator():
    """Lesson 06's given code must not answer lesson 07's masked_cross_entropy or generate: its name
    model's loss is PyTorch's cross_entropy with ignore_index, and it samples names in a batch."""
    given = "\n".join(
        c.source
        for c in nbformat.read(NOTEBOOK, as_version=4).cells
        if c.cell_type == "code" and not c.metadata.get("nbgrader", {}).get("solution")
    )
    assert "def masked_cross_entropy" not in given and "mask.sum()" not in given
    assert "ignore_index=NAME_PAD" in given and "def sample_names(model, temperature, count" in given


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
def test_reference_models_agree_on_cuda():
    torch.manual_seed(0)
    model = ref.IntentClassifier(9, 4, 3, 5).double()
    tokens, lengths = torch.tensor([[1, 2, 3, 4], [5, 6, 0, 0]]), torch.tensor([4, 2])
    with torch.no_grad():
        cpu = model(tokens, lengths)
        gpu = model.cuda()(tokens.cuda(), lengths).cpu()
    assert torch.allclose(cpu, gpu, atol=1e-10)
