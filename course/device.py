"""Where the course's torch models run: the one place that chooses.

An NVIDIA GPU (CUDA) when one is usable, else an Apple GPU (MPS, on Apple silicon), else
the CPU. ``AUTOGRADER_DEVICE=cpu`` (or ``cuda``, ``cuda:1``, ``mps``) overrides the choice,
e.g. to time the same notebook on two devices.

The checks' float64 oracles are another matter: MPS has no float64, so
``course.checks.torch_oracle`` compares on the CPU and on CUDA only.
"""

from __future__ import annotations

import os


def mps_available() -> bool:
    """True when torch can use an Apple GPU through Metal (never on Linux)."""
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def torch_device():
    """The ``torch.device`` every lesson's models and batches are moved to."""
    import torch

    wanted = os.environ.get("AUTOGRADER_DEVICE", "").strip().lower()
    if wanted:
        kind = wanted.split(":", 1)[0]
        if kind == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"AUTOGRADER_DEVICE={wanted} but torch sees no CUDA GPU")
        if kind == "mps" and not mps_available():
            raise RuntimeError(f"AUTOGRADER_DEVICE={wanted} but torch sees no Apple GPU (MPS)")
        return torch.device(wanted)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def describe(device=None) -> str:
    """A line naming the device, for a notebook's first output, e.g. 'cpu (2 threads)',
    'cuda (NVIDIA H200)' or 'mps (Apple GPU)'."""
    import torch

    device = torch.device(device) if device is not None else torch_device()
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "mps":
        return "mps (Apple GPU)"
    return f"cpu ({torch.get_num_threads()} threads)"
