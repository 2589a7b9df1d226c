"""Band-agnostic single-image super-resolution network with ESSA attention (after ESSAformer, ICCV 2023)
and a branch shared by overlapping band groups (after the Spectral Mixup paper, arXiv 2101.07589).

ESSA replaces softmax attention by a kernel on the spectral correlation coefficient of the tokens, computed
in the linear form ``q2 (k2^T v)`` so that the cost is O(N C^2) in the number of pixels N.
The bands are cut into overlapping groups of ``group_size`` adjacent bands; one branch, shared by every
group, predicts each group's high-frequency residual over a bicubic upsampling, with the mean of all bands
as a context channel. Outputs are placed back in band order and averaged over the overlaps, so one set of
weights serves any band count.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Dict

import torch
import torch.nn.functional as F
from torch import nn

from ..core.tiling import tile_starts

EPS = 1e-7


@dataclass(frozen=True)
class EssaConfig:
    """Hyper-parameters of :class:`EssaSR` (all stored in the model card)."""

    factor: int
    features: int = 48
    blocks: int = 3
    group_size: int = 8
    group_overlap: int = 2

    def to_dict(self) -> dict:
        return asdict(self)


PRESETS: Dict[str, dict] = {
    "small": {"features": 32, "blocks": 2},
    "base": {"features": 48, "blocks": 3},
    "large": {"features": 96, "blocks": 4},
}


def preset_config(preset: str, factor: int) -> EssaConfig:
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    return EssaConfig(factor=factor, **PRESETS[preset])


class EssaAttention(nn.Module):
    """ESSA: kernel attention on the spectral correlation coefficient, linear in the number of tokens.

    Input and output (B, N, C). With q~, k~ the channel-centred queries and keys,
    ``q2 = l2norm_C(q~^2 / sum_C q~^2)``, ``k2 = l2norm_N(k~^2 / sum_C k~^2)`` and
    ``out = proj(v + q2 (k2^T v) / sqrt(N))``.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def kernels(self, x: torch.Tensor) -> tuple:
        """``(q2, k2, v)``, each (B, N, C): the two feature maps of the kernel and the values."""
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        q = q - q.mean(dim=-1, keepdim=True)
        k = k - k.mean(dim=-1, keepdim=True)
        q2 = q * q
        k2 = k * k
        q2 = F.normalize(q2 / (q2.sum(dim=-1, keepdim=True) + EPS), dim=-1)
        k2 = F.normalize(k2 / (k2.sum(dim=-1, keepdim=True) + EPS), dim=-2)
        return q2, k2, v

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q2, k2, v = self.kernels(x)
        context = k2.transpose(-2, -1) @ v  # (B, C, C): the O(N C^2) step
        return self.proj(v + (q2 @ context) / math.sqrt(x.shape[1]))


class EssaBlock(nn.Module):
    """LayerNorm -> ESSA over all pixels, concatenated with the input, then a 1x1 / depthwise 3x3 / 1x1
    convolutional mixer with a residual. (B, F, h, w) -> (B, F, h, w)."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(features)
        self.attention = EssaAttention(features)
        self.mix = nn.Sequential(
            nn.Conv2d(2 * features, 2 * features, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * features, 2 * features, 3, padding=1, groups=2 * features),
            nn.LeakyReLU(0.2),
            nn.Conv2d(2 * features, features, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        tokens = x.flatten(2).transpose(1, 2)  # (B, N, F)
        attended = self.attention(self.norm(tokens)).transpose(1, 2).reshape(b, c, h, w)
        return x + self.mix(torch.cat([x, attended], dim=1))


class GroupBranch(nn.Module):
    """Shared branch: (B, group_size + 1, h, w) low-resolution group plus context ->
    (B, group_size, h*s, w*s) high-frequency residual. Every layer runs at low resolution; a final
    sub-pixel convolution (PixelShuffle) produces the fine grid."""

    def __init__(self, config: EssaConfig) -> None:
        super().__init__()
        f, s = config.features, config.factor
        self.head = nn.Conv2d(config.group_size + 1, f, 3, padding=1)
        self.body = nn.Sequential(*[EssaBlock(f) for _ in range(config.blocks)])
        self.body_tail = nn.Conv2d(f, f, 3, padding=1)
        self.tail = nn.Sequential(nn.Conv2d(f, config.group_size * s * s, 3, padding=1), nn.PixelShuffle(s))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.head(x)
        return self.tail(features + self.body_tail(self.body(features)))


class EssaSR(nn.Module):
    """Super-resolution by ``config.factor`` for any band count: (B, C, h, w) -> (B, C, h*s, w*s).

    Inputs are expected normalised (zero-mean bands, unit global spread); see methods/superres/workflow.py.
    """

    def __init__(self, config: EssaConfig) -> None:
        super().__init__()
        if config.factor < 2:
            raise ValueError(f"factor must be >= 2 (got {config.factor})")
        if not 0 <= config.group_overlap < config.group_size:
            raise ValueError("group_overlap must be >= 0 and smaller than group_size")
        self.config = config
        self.branch = GroupBranch(config)

    def upsample(self, x: torch.Tensor) -> torch.Tensor:
        """Bicubic upsampling, pixel-centre aligned (the refined grid keeps the outer edges)."""
        return F.interpolate(x, scale_factor=self.config.factor, mode="bicubic", align_corners=False)

    def group_indices(self, band_count: int) -> torch.Tensor:
        """(G, group_size) band indices of the overlapping groups; short rasters repeat their last band."""
        size, overlap = self.config.group_size, self.config.group_overlap
        starts = tile_starts(band_count, size, overlap)
        return torch.tensor([[min(start + i, band_count - 1) for i in range(size)] for start in starts])

    def forward_groups(self, groups: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """Super-resolve band groups: groups (B, group_size, h, w), context (B, 1, h, w) -> (B, group_size, H, W)."""
        return self.upsample(groups) + self.branch(torch.cat([groups, context], dim=1))

    def forward(self, x: torch.Tensor, group_batch: int = 64) -> torch.Tensor:
        b, c, h, w = x.shape
        s, size = self.config.factor, self.config.group_size
        index = self.group_indices(c).to(x.device)
        context = x.mean(dim=1, keepdim=True)
        out = torch.zeros(b, c, h * s, w * s, dtype=x.dtype, device=x.device)
        count = torch.zeros(c, dtype=x.dtype, device=x.device)
        for first in range(0, index.shape[0], group_batch):
            chunk = index[first:first + group_batch]  # (g, size)
            g = chunk.shape[0]
            groups = x[:, chunk.reshape(-1)].reshape(b * g, size, h, w)
            result = self.forward_groups(groups, context.repeat_interleave(g, dim=0))
            out.index_add_(1, chunk.reshape(-1), result.reshape(b, g * size, h * s, w * s))
            count.index_add_(0, chunk.reshape(-1), torch.ones(g * size, dtype=x.dtype, device=x.device))
        return out / count.view(1, c, 1, 1)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
