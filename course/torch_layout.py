"""The one place where the course's weight layout meets PyTorch's.

The course is batch-first and row-vector: a layer computes ``x @ Wx + h @ Wh + b`` with
Wx of shape (D, G*H) and Wh of shape (H, G*H), where G is the number of stacked gate
blocks (1 for the RNN, 4 for the LSTM in order i, f, g, o, 3 for the GRU in order r, z, n).
PyTorch stores ``weight_ih`` (G*H, D) and ``weight_hh`` (G*H, H) and computes
``x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh``. The gate blocks are already in
PyTorch's order, so the mapping is two transposes and the biases:

    weight_ih = Wx.T, weight_hh = Wh.T
    RNN, LSTM: bias_ih = b, bias_hh = 0        GRU: bias_ih = bx, bias_hh = bh
"""

from __future__ import annotations

import numpy as np


def torch_weights(Wx, Wh, b=None, *, bx=None, bh=None) -> dict[str, np.ndarray]:
    """Our weights in PyTorch's names and shapes (a dict of NumPy arrays).

    Pass ``b`` for the RNN and the LSTM (one bias), or ``bx`` and ``bh`` for the GRU.
    """
    Wx, Wh = np.asarray(Wx), np.asarray(Wh)
    if Wx.ndim != 2 or Wh.ndim != 2 or Wx.shape[1] != Wh.shape[1] or Wh.shape[1] % Wh.shape[0]:
        raise ValueError(f"expected Wx (D, G*H) and Wh (H, G*H); got {Wx.shape} and {Wh.shape}")
    if (b is None) == (bx is None and bh is None):
        raise ValueError("pass either b (RNN, LSTM) or bx and bh (GRU)")
    if b is not None:
        bias_ih, bias_hh = np.asarray(b), np.zeros(Wx.shape[1], dtype=Wx.dtype)
    else:
        bias_ih, bias_hh = np.asarray(bx), np.asarray(bh)
    return {
        "weight_ih": Wx.T.copy(),
        "weight_hh": Wh.T.copy(),
        "bias_ih": bias_ih.copy(),
        "bias_hh": bias_hh.copy(),
    }


def load_into(module, Wx, Wh, b=None, *, bx=None, bh=None, layer: int = 0):
    """Copy our weights into a torch.nn.RNNCell/LSTMCell/GRUCell or RNN/LSTM/GRU layer.

    For the multi-layer modules, ``layer`` picks which layer (PyTorch suffixes _l0, _l1...).
    The module keeps its own dtype and device; returns the module for chaining.
    """
    import torch

    suffix = "" if hasattr(module, "weight_ih") else f"_l{layer}"
    with torch.no_grad():
        for name, value in torch_weights(Wx, Wh, b, bx=bx, bh=bh).items():
            parameter = getattr(module, name + suffix)
            if tuple(parameter.shape) != value.shape:
                raise ValueError(f"{name + suffix}: module has {tuple(parameter.shape)}, ours is {value.shape}")
            parameter.copy_(torch.as_tensor(value, dtype=parameter.dtype, device=parameter.device))
    return module
