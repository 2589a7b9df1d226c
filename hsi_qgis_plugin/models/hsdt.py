"""HSDT: Hybrid Spectral Denoising Transformer (Lai et al., ICCV 2023), band-agnostic re-implementation.

A 3-D U-Net over ``(batch, 1, bands, rows, cols)`` built from spatial-spectral separable convolutions (S3Conv),
guided spectral self-attention (GSSA) and a self-modulated feed-forward network (SM-FFN).

The paper's GSSA mixes a learnable query ``Linear(C -> 31)`` that fixes the band count to 31. Here the
"guide" is a learned query projection of the pooled spectral tokens, so the attention is ``bands x bands``
for any band count and any wavelength grid (the paper's ``flex`` self-attention branch, with learned queries).
"""
from __future__ import annotations

from typing import Dict, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .padding import pad_to_multiple

PRESETS: Dict[str, dict] = {
    "small": {"channels": 8, "num_half_layer": 5, "sample_idx": (1, 3)},
    "medium": {"channels": 16, "num_half_layer": 5, "sample_idx": (1, 3)},
}


class S3Conv(nn.Module):
    """Spatial path (two 1x3x3 convs) plus spectral path (3x1x1 conv): (B, i, D, H, W) -> (B, o, D, H, W)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.spatial = nn.Sequential(
            nn.Conv3d(in_channels, out_channels, (1, 3, 3), padding=(0, 1, 1), bias=False),
            nn.LeakyReLU(0.2),
            nn.Conv3d(out_channels, out_channels, (1, 3, 3), padding=(0, 1, 1), bias=False),
            nn.LeakyReLU(0.2),
        )
        self.spectral = nn.Conv3d(in_channels, out_channels, (3, 1, 1), padding=(1, 0, 0), bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spatial(x) + self.spectral(x)


class GSSA(nn.Module):
    """Guided spectral self-attention: one (D x D) band attention from pooled features, shared by all pixels.

    (B, C, D, H, W) -> (B, C, D, H, W).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.query = nn.Linear(channels, channels, bias=False)
        self.value = nn.Linear(channels, channels, bias=False)
        self.out = nn.Linear(channels, channels)
        self.scale = channels ** -0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = x.mean(dim=(3, 4)).transpose(1, 2)  # (B, D, C)
        attention = torch.softmax(self.query(tokens) @ tokens.transpose(1, 2) * self.scale, dim=-1)  # (B, D, D)
        value = self.value(x.permute(0, 3, 4, 2, 1))  # (B, H, W, D, C)
        mixed = torch.einsum("bde,bhwec->bhwdc", attention, value)
        return self.out(mixed).permute(0, 4, 3, 1, 2)


class SMFFN(nn.Module):
    """Self-modulated FFN on channels: W2 GELU(W1 x) + a * sigmoid(b), (a, b) = W3 x. (..., C) -> (..., C)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.w1 = nn.Linear(channels, 2 * channels)
        self.w2 = nn.Linear(2 * channels, channels)
        self.w3 = nn.Linear(channels, 2 * channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.w3(x).chunk(2, dim=-1)
        return self.w2(F.gelu(self.w1(x))) + a * torch.sigmoid(b)


class TransformerBlock(nn.Module):
    """Pre-norm GSSA and SM-FFN with residuals: (B, C, D, H, W) -> (B, C, D, H, W)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(channels)
        self.attention = GSSA(channels)
        self.norm2 = nn.LayerNorm(channels)
        self.ffn = SMFFN(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        normed = self.norm1(x.permute(0, 2, 3, 4, 1)).permute(0, 4, 1, 2, 3)
        x = x + self.attention(normed)
        last = x.permute(0, 2, 3, 4, 1)
        return (last + self.ffn(self.norm2(last))).permute(0, 4, 1, 2, 3)


def _block(conv: nn.Module, channels: int) -> nn.Sequential:
    return nn.Sequential(conv, nn.BatchNorm3d(channels), TransformerBlock(channels))


class HSDT(nn.Module):
    """Denoiser (B, 1, D, H, W) -> (B, 1, D, H, W) for any D, H, W (padded internally to a multiple of 2^levels).

    The global residual is scaled by a learned gain that starts at 0, so training starts from the identity.
    """

    def __init__(self, channels: int = 8, num_half_layer: int = 5, sample_idx: Sequence[int] = (1, 3)) -> None:
        super().__init__()
        self.levels = len(sample_idx)
        self.head = _block(S3Conv(1, channels), channels)
        self.encoder = nn.ModuleList()
        self.decoder = nn.ModuleList()
        widths = []
        width = channels
        for i in range(num_half_layer):
            if i in sample_idx:
                conv = nn.Conv3d(width, 2 * width, 3, stride=(1, 2, 2), padding=1, bias=False)
                self.encoder.append(_block(conv, 2 * width))
                width *= 2
            else:
                self.encoder.append(_block(S3Conv(width, width), width))
            widths.append(width)
        for i in reversed(range(num_half_layer)):
            if i in sample_idx:
                up = nn.Sequential(
                    nn.Upsample(scale_factor=(1, 2, 2), mode="trilinear", align_corners=False),
                    nn.Conv3d(width, width // 2, 3, padding=1, bias=False),
                )
                self.decoder.append(_block(up, width // 2))
                width //= 2
            else:
                self.decoder.append(_block(S3Conv(width, width), width))
        self.tail = nn.Conv3d(channels, 1, 3, padding=1, bias=False)
        self.gain = nn.Parameter(torch.zeros(1))  # ReZero: the untrained network is the identity
        for module in self.modules():
            if isinstance(module, nn.Conv3d):
                nn.init.xavier_normal_(module.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows, cols = x.shape[-2:]
        padded = pad_to_multiple(x, 2 ** self.levels)
        skips = []
        y = self.head(padded)
        for layer in self.encoder:
            skips.append(y)
            y = layer(y)
        for layer in self.decoder:
            y = layer(y) + skips.pop()
        y = padded + self.gain * self.tail(y)
        return y[..., :rows, :cols]


def build_hsdt(preset: str = "small") -> HSDT:
    """HSDT-S (about 0.13 M parameters) or HSDT-M (about 0.52 M)."""
    return HSDT(**PRESETS[preset])
