"""The devices a reference is compared on: the CPU always, CUDA where there is one (marked
``cuda``, so `make gpu-check` finds every such test)."""

import pytest
import torch

DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=[
            pytest.mark.cuda,
            pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine"),
        ],
    ),
]
