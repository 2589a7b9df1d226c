"""INTL self-supervised pretraining (IterNorm whitening + trace loss) of the spectral encoder and of the
LoLA-SpecViT backbone on the scene's own unlabelled pixels.

Loss over two views z0, z1 (N x D projector outputs), as in INTL (arXiv 2305.16789):
whiten each view with T Newton-Schulz iterations (axis 0: the N x N covariance across samples, features
centred per sample), then L = ||ẑ1/|ẑ1| - ẑ0/|ẑ0|||² (mean over the batch) + β (TL(ẑ1) + TL(ẑ0)) with the
trace loss TL = Σ_j (d_j - 1)², d the diagonal of the whitened covariance, β = (log2(N) - 3) / 100.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np
import torch

from ...core.progress import Monitor, as_monitor
from ...models.lola_specvit import LolaSpecViT
from ...models.spectral_encoder import Projector, SpectralEncoder


def _oriented(z: torch.Tensor, axis: int) -> torch.Tensor:
    """Samples along dim 1 for axis 0 (whiten across samples), along dim 0 for axis 1 (across features)."""
    return z.t() if axis == 0 else z


def iternorm_whiten(z: torch.Tensor, iters: int = 4, axis: int = 0) -> torch.Tensor:
    """IterNorm: Σ_N = Σ / tr Σ, P_k = 1.5 P - 0.5 P³ Σ_N (k = 1..T), W = P_T / sqrt(tr Σ); returns X_c W.

    axis 0 centres each sample over its features and whitens the N x N covariance across samples;
    axis 1 centres each feature over the batch and whitens the D x D covariance.
    """
    x = _oriented(z, axis)  # (m, n): covariance is n x n
    x = x - x.mean(dim=0, keepdim=True)
    sigma = x.t() @ x / (x.shape[0] - 1)
    trace = torch.diagonal(sigma).sum().clamp_min(1e-12)
    sigma_n = sigma / trace
    p = torch.eye(sigma.shape[0], dtype=z.dtype, device=z.device)
    for _ in range(iters):
        p = 1.5 * p - 0.5 * torch.linalg.matrix_power(p, 3) @ sigma_n
    whitened = x @ (p / trace.sqrt())
    return whitened.t() if axis == 0 else whitened


def trace_loss(z_hat: torch.Tensor, axis: int = 0) -> torch.Tensor:
    """TL = Σ_j (d_j - 1)², d_j the diagonal of the covariance on the whitened side."""
    x = _oriented(z_hat, axis)
    x = x - x.mean(dim=0, keepdim=True)
    d = (x * x).sum(dim=0) / (x.shape[0] - 1)
    return ((d - 1.0) ** 2).sum()


def intl_beta(batch: int, emb: int, axis: int = 0) -> float:
    return (math.log2(batch if axis == 0 else emb) - 3.0) * 0.01


def intl_loss(views: list, iters: int = 4, axis: int = 0, beta: Optional[float] = None) -> torch.Tensor:
    """INTL loss over V >= 2 views of the same batch (each (N, D)), view 0 as the anchor."""
    n, d = views[0].shape
    if beta is None:
        beta = intl_beta(n, d, axis)
    whitened = [iternorm_whiten(v, iters, axis) for v in views]
    anchor = torch.nn.functional.normalize(whitened[0], dim=1)
    total = views[0].new_zeros(())
    for z in whitened[1:]:
        align = ((torch.nn.functional.normalize(z, dim=1) - anchor) ** 2).sum(dim=1).mean()
        total = total + align + beta * (trace_loss(z, axis) + trace_loss(whitened[0], axis))
    return total / (len(views) - 1)


def _cosine_lr(optimizer, step: int, steps: int, base: float, warmup: int) -> None:
    lr = base * (step + 1) / warmup if step < warmup else base * (0.001 + 0.999 * 0.5 * (1 + math.cos(
        math.pi * (step - warmup) / max(1, steps - warmup))))
    for group in optimizer.param_groups:
        group["lr"] = lr


def augment_spectra(x: torch.Tensor, mean_over_std: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """HSI-safe view of standardised spectra ``(N, B)``: gain 0.8-1.2 on reflectance, 2 % noise, one masked
    contiguous run of 10-20 % of the bands (set to the band mean)."""
    n, b = x.shape
    gain = 0.8 + 0.4 * torch.rand(n, 1, generator=generator)
    noise = 0.02 * torch.randn(n, b, generator=generator)
    # x is (r - mean) / std; a gain g on reflectance r gives g x + (g - 1) mean / std
    y = gain * x + (gain - 1.0) * mean_over_std.unsqueeze(0) + noise
    width = max(1, int(b * (0.1 + 0.1 * torch.rand(1, generator=generator).item())))
    start = torch.randint(0, max(1, b - width + 1), (n, 1), generator=generator)
    positions = torch.arange(b).unsqueeze(0)
    return y.masked_fill((positions >= start) & (positions < start + width), 0.0)


def pretrain_encoder(
    spectra: np.ndarray,
    neighbours: np.ndarray,
    mean_over_std: np.ndarray,
    steps: int = 300,
    batch: int = 256,
    embed_dim: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    device: Optional[torch.device] = None,
    monitor: Optional[Monitor] = None,
) -> tuple:
    """INTL on pixel spectra: the two views are a pixel and a random valid 8-neighbour, each augmented.

    ``spectra`` (N, B) standardised; ``neighbours`` (N, 8) index of each 8-neighbour or -1;
    ``mean_over_std`` (B,) band mean / band std (for the illumination gain). Returns (encoder, loss history).
    """
    monitor = as_monitor(monitor)
    device = device or torch.device("cpu")
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    encoder = SpectralEncoder(embed_dim).to(device)
    projector = Projector(embed_dim).to(device)
    optimizer = torch.optim.AdamW(list(encoder.parameters()) + list(projector.parameters()), lr=lr, weight_decay=1e-4)
    data = torch.from_numpy(np.ascontiguousarray(spectra, dtype=np.float32))
    shift = torch.from_numpy(np.asarray(mean_over_std, dtype=np.float32))
    rng = np.random.default_rng(seed)
    batch = min(batch, len(data))
    history = []
    encoder.train()
    projector.train()
    for step in range(steps):
        monitor.check()
        index = rng.integers(0, len(data), batch)
        choice = neighbours[index, rng.integers(0, neighbours.shape[1], batch)]
        partner = np.where(choice >= 0, choice, index)
        v0 = augment_spectra(data[index], shift, generator).to(device)
        v1 = augment_spectra(data[partner], shift, generator).to(device)
        _cosine_lr(optimizer, step, steps, lr, max(1, steps // 10))
        loss = intl_loss([projector(encoder(v0)), projector(encoder(v1))])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(loss.item())
        monitor.report((step + 1) / steps)
    encoder.eval()
    return encoder, history


def augment_patches(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """View of feature patches ``(N, C, p, p)``: random flip and rot90, 10 % feature dropout, small noise."""
    k = int(torch.randint(0, 4, (1,), generator=generator))
    y = torch.rot90(x, k, dims=(2, 3))
    if torch.rand(1, generator=generator).item() < 0.5:
        y = y.flip(3)
    keep = (torch.rand(y.shape[0], y.shape[1], 1, 1, generator=generator) > 0.1).to(y.dtype)
    return y * keep + 0.05 * torch.randn(y.shape, generator=generator)


def pretrain_backbone(
    patches_of,
    count: int,
    channels: int,
    patch: int,
    steps: int = 150,
    batch: int = 128,
    lr: float = 2e-3,
    seed: int = 0,
    device: Optional[torch.device] = None,
    monitor: Optional[Monitor] = None,
) -> tuple:
    """INTL on feature patches around unlabelled pixels; ``patches_of(indices) -> (n, C, p, p)`` tensor.

    Returns (backbone without a trained head, loss history).
    """
    monitor = as_monitor(monitor)
    device = device or torch.device("cpu")
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed + 1)
    backbone = LolaSpecViT(channels, 2, patch=patch).to(device)
    projector = Projector(backbone.head.in_features).to(device)
    params = [p for name, p in backbone.named_parameters() if not name.startswith("head")]
    optimizer = torch.optim.AdamW(params + list(projector.parameters()), lr=lr, weight_decay=1e-4)
    rng = np.random.default_rng(seed + 1)
    batch = min(batch, count)
    history = []
    backbone.train()
    for step in range(steps):
        monitor.check()
        x = patches_of(rng.integers(0, count, batch))
        v0, v1 = augment_patches(x, generator).to(device), augment_patches(x, generator).to(device)
        _cosine_lr(optimizer, step, steps, lr, max(1, steps // 10))
        loss = intl_loss([projector(backbone.embed(v0)), projector(backbone.embed(v1))])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(loss.item())
        monitor.report((step + 1) / steps)
    backbone.eval()
    return backbone, history
