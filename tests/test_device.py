"""The one place that chooses where torch models run."""
from __future__ import annotations

import pytest
import torch

from autograder.device import describe, torch_device


def test_default_is_cuda_when_present_else_cpu(monkeypatch):
    monkeypatch.delenv("AUTOGRADER_DEVICE", raising=False)
    assert torch_device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert describe().startswith(torch_device().type)


def test_override_to_cpu(monkeypatch):
    monkeypatch.setenv("AUTOGRADER_DEVICE", "cpu")
    assert torch_device() == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="asks for CUDA where there is none")
def test_asking_for_cuda_without_a_gpu_says_so(monkeypatch):
    monkeypatch.setenv("AUTOGRADER_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        torch_device()
