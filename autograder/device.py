"""Where the course's torch models run: the one place that chooses.

CUDA when a GPU is usable, the CPU otherwise. ``AUTOGRADER_DEVICE=cpu`` (or ``cuda``)
overrides the choice, e.g. to time the same notebook on both.
"""
from __future__ import annotations

import os


def torch_device():
    """The ``torch.device`` every lesson's models and batches are moved to."""
    import torch

    wanted = os.environ.get("AUTOGRADER_DEVICE", "").strip().lower()
    if wanted:
        if wanted.startswith("cuda") and not torch.cuda.is_available():
            raise RuntimeError(f"AUTOGRADER_DEVICE={wanted} but torch sees no CUDA GPU")
        return torch.device(wanted)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def describe(device=None) -> str:
    """A line naming the device, for a notebook's first output (e.g. 'cpu (2 threads)')."""
    import torch

    device = device or torch_device()
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({torch.get_num_threads()} threads)"
