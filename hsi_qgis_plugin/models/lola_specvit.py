"""LoLA-SpecViT-style spectral-spatial classifier: 3-D convolution front end, local window attention with
SwiGLU, and LoRA adapters in the attention and projection layers (reimplemented from the paper's abstract).
"""
from __future__ import annotations

import math

import torch
from torch import nn


class LoRALinear(nn.Module):
    """Linear layer ``W x + b + (alpha / r) B A x``; with ``freeze_base()`` only A and B train."""

    def __init__(self, in_features: int, out_features: int, rank: int = 4, alpha: float = 8.0, bias: bool = True):
        super().__init__()
        self.base = nn.Linear(in_features, out_features, bias=bias)
        self.lora_a = nn.Parameter(torch.randn(rank, in_features) / math.sqrt(in_features))
        self.lora_b = nn.Parameter(torch.zeros(out_features, rank))
        self.scale = alpha / rank
        self.lora_strength = 1.0  # modulated by the cyclical schedule during fine-tuning

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        delta = (x @ self.lora_a.t()) @ self.lora_b.t()
        return self.base(x) + self.scale * self.lora_strength * delta

    def freeze_base(self) -> None:
        for p in self.base.parameters():
            p.requires_grad_(False)


class WindowAttention(nn.Module):
    """Multi-head self-attention inside non-overlapping ``window x window`` groups of tokens.

    Input and output ``(N, H, W, dim)``; H and W must be multiples of ``window``.
    """

    def __init__(self, dim: int, heads: int, window: int, rank: int) -> None:
        super().__init__()
        self.heads, self.window = heads, window
        self.qkv = LoRALinear(dim, 3 * dim, rank)
        self.proj = LoRALinear(dim, dim, rank)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, h, w, c = x.shape
        s = self.window
        tokens = x.view(n, h // s, s, w // s, s, c).permute(0, 1, 3, 2, 4, 5).reshape(-1, s * s, c)
        q, k, v = self.qkv(tokens).view(tokens.shape[0], s * s, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        out = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(c // self.heads), dim=-1) @ v
        out = self.proj(out.transpose(1, 2).reshape(-1, s * s, c))
        return out.view(n, h // s, w // s, s, s, c).permute(0, 1, 3, 2, 4, 5).reshape(n, h, w, c)


class SwiGLU(nn.Module):
    """``(…, dim)`` -> ``(…, dim)``: W3 (silu(W1 x) * W2 x), with LoRA on the projections."""

    def __init__(self, dim: int, hidden: int, rank: int) -> None:
        super().__init__()
        self.gate = LoRALinear(dim, 2 * hidden, rank)
        self.out = LoRALinear(hidden, dim, rank)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = self.gate(x).chunk(2, dim=-1)
        return self.out(nn.functional.silu(a) * b)


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, window: int, rank: int) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, heads, window, rank)
        self.mlp = SwiGLU(dim, 2 * dim, rank)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class LolaSpecViT(nn.Module):
    """Patch of per-pixel features ``(N, channels, p, p)`` -> class logits ``(N, classes)`` for the centre pixel.

    Front end: Conv3d over (feature, row, col) with kernel (7, 3, 3), so neighbouring features and pixels mix
    before the features are projected to ``dim`` tokens. Blocks alternate window attention over ``window``
    groups and attention over the whole patch. ``embed`` returns the centre and mean tokens ``(N, 2 dim)``.
    """

    def __init__(self, channels: int, classes: int, dim: int = 48, depth: int = 2, heads: int = 4,
                 patch: int = 9, window: int = 3, rank: int = 4, conv_channels: int = 4) -> None:
        super().__init__()
        if patch % window:
            raise ValueError(f"patch {patch} must be a multiple of window {window}")
        self.patch = patch
        self.front = nn.Sequential(
            nn.Conv3d(1, conv_channels, (7, 3, 3), stride=(2, 1, 1), padding=(3, 1, 1)), nn.BatchNorm3d(conv_channels),
            nn.GELU(),
        )
        depth_out = (channels + 2 * 3 - 7) // 2 + 1
        self.embed_tokens = LoRALinear(conv_channels * depth_out, dim, rank)
        self.position = nn.Parameter(torch.zeros(1, patch, patch, dim))
        self.blocks = nn.ModuleList(
            Block(dim, heads, window if i % 2 == 0 else patch, rank) for i in range(depth)
        )
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(2 * dim, classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        n, _, p, _ = x.shape
        h = self.front(x.unsqueeze(1))  # (N, C3, D', p, p)
        h = h.flatten(1, 2).permute(0, 2, 3, 1)  # (N, p, p, C3 * D')
        h = self.embed_tokens(h) + self.position
        for block in self.blocks:
            h = block(h)
        h = self.norm(h)
        return torch.cat([h[:, p // 2, p // 2], h.mean(dim=(1, 2))], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))

    def lora_layers(self) -> list:
        return [m for m in self.modules() if isinstance(m, LoRALinear)]

    def set_lora_strength(self, strength: float) -> None:
        for layer in self.lora_layers():
            layer.lora_strength = strength
