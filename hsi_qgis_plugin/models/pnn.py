"""Band-wise pansharpening network in the style of rho-PNN / R-PNN (Guarino, Ciotola et al.), reimplemented.

One small CNN sharpens one band at a time and is fine-tuned band after band on the image itself, so any band count
and wavelength grid works.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn


class BandPNN(nn.Module):
    """Residual detail-injection CNN for one band.

    Input (N, 2, H, W): channel 0 the band's starting estimate at PAN resolution (interpolated or classically
    sharpened), channel 1 the PAN, both normalised. Output (N, 1, H, W) = channel 0 + CNN(input).
    Convolutions use 'same' reflect padding; the last layer starts at zero, so an untrained network returns its
    starting estimate unchanged.
    """

    def __init__(self, channels: Sequence[int] = (32, 16), kernels: Sequence[int] = (5, 5, 3)) -> None:
        super().__init__()
        if len(kernels) != len(channels) + 1:
            raise ValueError("kernels needs one entry per layer (len(channels) + 1)")
        widths = [2, *channels, 1]
        layers: list = []
        for index, kernel in enumerate(kernels):
            layers.append(
                nn.Conv2d(widths[index], widths[index + 1], kernel, padding="same", padding_mode="reflect")
            )
            if index < len(kernels) - 1:
                layers.append(nn.ReLU(inplace=True))
        self.body = nn.Sequential(*layers)
        nn.init.zeros_(self.body[-1].weight)
        nn.init.zeros_(self.body[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :1] + self.body(x)
