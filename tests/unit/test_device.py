"""The one place that chooses where torch models run."""

from __future__ import annotations

import pytest
import torch

from course.device import describe, torch_device


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


def _pretend(monkeypatch, *, cuda: bool, mps: bool):
    monkeypatch.delenv("AUTOGRADER_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)


def test_an_apple_gpu_is_chosen_when_there_is_no_cuda(monkeypatch):
    _pretend(monkeypatch, cuda=False, mps=True)
    assert torch_device() == torch.device("mps")
    assert describe() == "mps (Apple GPU)", "describe() must name the device it uses, not call MPS a CPU"


def test_cuda_comes_before_mps(monkeypatch):
    _pretend(monkeypatch, cuda=True, mps=True)
    assert torch_device().type == "cuda"


def test_cpu_when_there_is_no_gpu_of_either_kind(monkeypatch):
    _pretend(monkeypatch, cuda=False, mps=False)
    assert torch_device() == torch.device("cpu")
    assert describe().startswith("cpu (") and "threads" in describe()


def test_asking_for_mps_without_one_says_so(monkeypatch):
    _pretend(monkeypatch, cuda=False, mps=False)
    monkeypatch.setenv("AUTOGRADER_DEVICE", "mps")
    with pytest.raises(RuntimeError, match="no Apple GPU"):
        torch_device()


def test_describe_names_the_device_it_is_given(monkeypatch):
    _pretend(monkeypatch, cuda=False, mps=True)
    assert describe(torch.device("cpu")).startswith("cpu (")
    assert describe("mps") == "mps (Apple GPU)"
