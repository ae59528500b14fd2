"""PyTorch as an oracle: the same computation in float64 autograd, on every device.

Checks compare a learner's NumPy results with PyTorch on the CPU and, when CUDA is
available, on the GPU as well (one printed line per device).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np


def torch_module():
    """torch, imported on first use: importing a check module stays cheap, and a check
    that needs no torch never loads it."""
    import torch

    return torch


def devices() -> list[str]:
    """'cpu', plus 'cuda' when a CUDA GPU is usable."""
    import torch

    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def forward_backward(
    function: Callable,
    inputs: Mapping[str, np.ndarray],
    dout=None,
    device: str = "cpu",
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Run ``function(**tensors)`` in float64 on ``device``; return its output and gradients.

    Floating-point inputs become leaf tensors that require grad; integer inputs (labels,
    indices) are passed as int64 tensors. When ``dout`` is given, the output is
    back-propagated with it (a scalar output takes ``dout=1.0``) and the gradient of
    every floating-point input is returned, as NumPy arrays on the CPU.
    """
    import torch

    tensors = {}
    for name, value in inputs.items():
        value = np.asarray(value)
        if value.dtype.kind == "f":
            tensors[name] = torch.tensor(value, dtype=torch.float64, device=device, requires_grad=dout is not None)
        else:
            tensors[name] = torch.tensor(value, dtype=torch.int64, device=device)
    out = function(**tensors)
    grads: dict[str, np.ndarray] = {}
    if dout is not None:
        out.backward(torch.as_tensor(np.asarray(dout), dtype=torch.float64, device=device))
        grads = {name: t.grad.cpu().numpy() for name, t in tensors.items() if t.grad is not None}
    return out.detach().cpu().numpy(), grads


def gradient_oracles(
    torch_function: Callable, numpy_function: Callable | None, inputs: Mapping[str, np.ndarray], dout, names
) -> list[tuple[str, dict[str, np.ndarray]]]:
    """The oracles of a backward pass: PyTorch autograd of ``torch_function`` on every device
    and, when ``numpy_function`` is given, centred differences of it ("numeric").

    ``names[i]`` names the gradient of the i-th input (e.g. "dWx" for "Wx"); each oracle
    is (its name, {gradient name: array}), as ``compare_gradients`` takes them.
    """
    from .gradients import numeric_gradients

    keys = dict(zip(names, inputs))
    oracles = []
    for device in devices():
        _, grads = forward_backward(torch_function, inputs, dout, device=device)
        oracles.append((f"torch {device}", {name: grads[keys[name]] for name in names}))
    if numpy_function is not None:
        grads = numeric_gradients(numpy_function, dict(inputs), dout)
        oracles.append(("numeric", {name: grads[keys[name]] for name in names}))
    return oracles
