"""Replicate padding of the two spatial dimensions up to a multiple (for U-Net-style encoders)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """(..., H, W) -> (..., H', W') with H', W' the next multiples of ``multiple``; edges replicated.

    Crop the result back with ``y[..., :H, :W]``.
    """
    rows, cols = x.shape[-2:]
    pad_r, pad_c = (-rows) % multiple, (-cols) % multiple
    if not (pad_r or pad_c):
        return x
    return F.pad(x, (0, pad_c, 0, pad_r, 0, 0), mode="replicate")
