"""Lesson 06: the notebook's locked adapters behave like the references' adapters, and the
reference models give the same results on CUDA (skipped without a GPU)."""
from __future__ import annotations

import nbformat
import numpy as np
import pytest
import torch

from autograder import COURSE_ROOT
from course.checks import sequence_models as check
from course.checks.sequence_models import forecaster_state, intent_state
from autograder.reference import sequence_models as ref

NOTEBOOK = COURSE_ROOT / "solutions" / "06_torch_sequence_models" / "sequence_models.ipynb"
ADAPTERS = ("intent_classifier_adapter", "forecaster_adapter", "train_step_adapter")


@pytest.fixture(scope="module")
def adapters():
    cells = {c.id: c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells}
    namespace = {"np": np, "torch": torch, "IntentClassifier": ref.IntentClassifier, "Forecaster": ref.Forecaster,
                 "train_step": ref.train_step}
    for cell_id in ADAPTERS:
        exec(cells[cell_id], namespace)  # noqa: S102  (our own locked cells)
    return namespace


def test_notebook_adapters_pass_the_checks_with_the_references(adapters):
    check.intent_classifier(adapters["intent_classifier_forward"])
    check.forecaster(adapters["forecaster_forward"])
    check.train_step(adapters["train_step_run"])


def test_notebook_adapters_equal_the_reference_adapters(adapters):
    rng = np.random.default_rng(0)
    state, tokens = intent_state(rng, 7, 3, 2, 4), np.array([[1, 2, 3], [4, 0, 0]])
    lengths = np.array([3, 1])
    np.testing.assert_array_equal(adapters["intent_classifier_forward"](state, tokens, lengths),
                                  ref.intent_adapter(ref.IntentClassifier)(state, tokens, lengths))
    state, x = forecaster_state(rng, 2, 3, 2), rng.normal(size=(4, 5, 2))
    np.testing.assert_array_equal(adapters["forecaster_forward"](state, x), ref.forecaster_adapter(ref.Forecaster)(state, x))
    W, b, x, y = rng.normal(size=(3, 4)), rng.normal(size=3), rng.normal(size=(6, 4)), rng.integers(0, 3, size=6)
    for settings in ({}, dict(dropout=0.5, offset=rng.normal(size=(6, 3)), loss="multi_margin_loss", seed=3)):
        for mine, theirs in zip(adapters["train_step_run"](W, b, x, y, 0.3, 3, **settings),
                                ref.train_step_adapter(ref.train_step)(W, b, x, y, 0.3, 3, **settings)):
            np.testing.assert_array_equal(mine, theirs)


def test_given_cells_hold_no_masked_mean_or_single_text_generator():
    """Lesson 06's given code must not answer lesson 07's masked_cross_entropy or generate: its name
    model's loss is PyTorch's cross_entropy with ignore_index, and it samples names in a batch."""
    given = "\n".join(c.source for c in nbformat.read(NOTEBOOK, as_version=4).cells
                      if c.cell_type == "code" and not c.metadata.get("nbgrader", {}).get("solution"))
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
