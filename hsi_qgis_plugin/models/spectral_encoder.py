"""Band-agnostic per-pixel spectral encoder (SpectralEarth-style adapter) and the INTL projector.

The encoder reads one spectrum at a time with strided 1-D convolutions along the spectrum and pools the
result, so the same weights accept any band count; the wavelengths it was trained on are recorded in the
model card written by ``methods/classify``.
"""
from __future__ import annotations

import torch
from torch import nn


class SpectralEncoder(nn.Module):
    """Spectrum ``(N, bands)`` -> embedding ``(N, embed_dim)``.

    Conv1d 1->16 (k 7, s 3) -> 32 (k 7, s 3) -> 64 (k 5, s 2), each with BatchNorm and ReLU, then average and
    max pooling over the remaining spectral positions and a linear layer. Padding keeps every stage at least
    one sample long, so any band count >= 1 works.
    """

    def __init__(self, embed_dim: int = 64, width: int = 16) -> None:
        super().__init__()
        layers = []
        channels = 1
        for out, kernel, stride in ((width, 7, 3), (2 * width, 7, 3), (4 * width, 5, 2)):
            layers += [nn.Conv1d(channels, out, kernel, stride, padding=kernel // 2), nn.BatchNorm1d(out), nn.ReLU()]
            channels = out
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(2 * channels, embed_dim)
        self.embed_dim = embed_dim

    def forward(self, spectra: torch.Tensor) -> torch.Tensor:
        h = self.features(spectra.unsqueeze(1))  # (N, C, L')
        pooled = torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1)
        return self.head(pooled)


class Projector(nn.Module):
    """INTL projector ``(N, in_dim)`` -> ``(N, out_dim)``: Linear(no bias)-BN-ReLU twice, then Linear."""

    def __init__(self, in_dim: int, hidden: int = 256, out_dim: int = 128) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_dim, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(),
            nn.Linear(hidden, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(),
            nn.Linear(hidden, out_dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
