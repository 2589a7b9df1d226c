"""MAN: Mixed Attention Network for hyperspectral denoising (Lai et al., arXiv 2301.11525), v1 re-implementation.

A 3-D U-Net over ``(batch, 1, bands, rows, cols)`` whose blocks (MAB) are a 3-D convolution followed by a
recurrent spectral attention (a gated recurrence along the band axis, direction alternating per layer),
then a simplified channel attention. Head and tail scan the bands both ways (BiMAB); encoder and decoder are
joined by attentive skip connections. No parameter depends on the band count.
"""
from __future__ import annotations

from typing import Dict, Sequence

import torch
from torch import nn

from .padding import pad_to_multiple

PRESETS: Dict[str, dict] = {
    "small": {"channels": 8, "num_half_layer": 5, "sample_idx": (1, 3)},
    "medium": {"channels": 12, "num_half_layer": 5, "sample_idx": (1, 3)},
}


def _pointwise_ffn(channels: int) -> nn.Sequential:
    """Two 1x1x1 convs with a tanh between them, hidden width 2C."""
    return nn.Sequential(nn.Conv3d(channels, 2 * channels, 1), nn.Tanh(), nn.Conv3d(2 * channels, channels, 1))


def _scan(z: torch.Tensor, forget: torch.Tensor, reverse: bool) -> torch.Tensor:
    """h_t = f_t h_{t-1} + (1 - f_t) z_t along the band axis (dim 2) of (B, C, D, H, W)."""
    steps = range(z.shape[2] - 1, -1, -1) if reverse else range(z.shape[2])
    hidden = None
    outputs = [None] * z.shape[2]
    for t in steps:
        update = (1 - forget[:, :, t]) * z[:, :, t]
        hidden = update if hidden is None else forget[:, :, t] * hidden + update
        outputs[t] = hidden
    return torch.stack(outputs, dim=2)


class MAB(nn.Module):
    """Mixed attention block: conv -> recurrent spectral attention -> channel attention.

    (B, i, D, H, W) -> (B, o, D, H', W'), H' = H / stride (or H * 2 with ``upsample``).
    """

    def __init__(
        self, in_channels: int, out_channels: int, stride: int = 1, upsample: bool = False,
        reverse: bool = False, bidirectional: bool = False,
    ) -> None:
        super().__init__()
        layers = [nn.Upsample(scale_factor=(1, 2, 2), mode="trilinear", align_corners=False)] if upsample else []
        layers.append(nn.Conv3d(in_channels, out_channels, 3, stride=(1, stride, stride), padding=1))
        self.conv = nn.Sequential(*layers)
        self.candidate = _pointwise_ffn(out_channels)
        self.forget = _pointwise_ffn(out_channels)
        self.backward_forget = _pointwise_ffn(out_channels) if bidirectional else None
        self.channel_attention = nn.Conv3d(out_channels, out_channels, 1)
        self.reverse = reverse

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        z = torch.tanh(self.candidate(x))
        y = _scan(z, torch.sigmoid(self.forget(x)), self.reverse)
        if self.backward_forget is not None:
            y = y + _scan(z, torch.sigmoid(self.backward_forget(x)), not self.reverse)
        return y * torch.sigmoid(self.channel_attention(y.mean(dim=(2, 3, 4), keepdim=True)))


class AttentiveSkip(nn.Module):
    """w = sigmoid(Conv3(tanh(Conv1([x, y])))), out = (1 - w) x + w y; (B, C, D, H, W) twice -> same."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.gate = nn.Sequential(
            nn.Conv3d(2 * channels, channels, 1), nn.Tanh(), nn.Conv3d(channels, channels, 3, padding=1)
        )

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        w = torch.sigmoid(self.gate(torch.cat([x, y], dim=1)))
        return (1 - w) * x + w * y


class MAN(nn.Module):
    """Denoiser (B, 1, D, H, W) -> (B, 1, D, H, W) for any D, H, W (padded internally to a multiple of 2^levels).

    The global residual is scaled by a learned gain that starts at 0, so training starts from the identity.
    """

    def __init__(self, channels: int = 8, num_half_layer: int = 5, sample_idx: Sequence[int] = (1, 3)) -> None:
        super().__init__()
        self.levels = len(sample_idx)
        self.head = MAB(1, channels, bidirectional=True)
        self.encoder = nn.ModuleList()
        self.skips = nn.ModuleList()
        self.decoder = nn.ModuleList()
        width = channels
        for i in range(num_half_layer):
            self.skips.append(AttentiveSkip(width))
            if i in sample_idx:
                self.encoder.append(MAB(width, 2 * width, stride=2, reverse=i % 2 == 1))
                width *= 2
            else:
                self.encoder.append(MAB(width, width, reverse=i % 2 == 1))
        for i in reversed(range(num_half_layer)):
            if i in sample_idx:
                self.decoder.append(MAB(width, width // 2, upsample=True, reverse=i % 2 == 0))
                width //= 2
            else:
                self.decoder.append(MAB(width, width, reverse=i % 2 == 0))
        self.tail = MAB(channels, 1, bidirectional=True)
        self.tail_skip = AttentiveSkip(1)
        self.gain = nn.Parameter(torch.zeros(1))  # ReZero: the untrained network is the identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows, cols = x.shape[-2:]
        padded = pad_to_multiple(x, 2 ** self.levels)
        features = []
        y = self.head(padded)
        for layer in self.encoder:
            features.append(y)
            y = layer(y)
        for layer, skip in zip(self.decoder, reversed(self.skips)):
            y = skip(features.pop(), layer(y))
        y = self.tail_skip(padded, padded + self.gain * self.tail(y))
        return y[..., :rows, :cols]


def build_man(preset: str = "small") -> MAN:
    """MAN-S (about 0.21 M parameters) or MAN-M (about 0.46 M)."""
    return MAN(**PRESETS[preset])
