"""Zero-shot band-wise pansharpening network (rho-PNN style), trained on the image being sharpened.

Procedure (reimplemented from Guarino et al., rho-PNN, TGRS 2025; no external data, no pretrained model):

1. every band starts from a classical estimate (``base``: bicubic "exp" as in rho-PNN, or a classical method);
2. bands and PAN are normalised by the coarse band's / PAN's mean and std;
3. one small :class:`models.pnn.BandPNN` is fine-tuned band after band, its weights carried from band to band;
   the spectral loss is L1 between the MTF-degraded output and the coarse band, the structural loss is
   mean(1 - |rho|) of the local correlation between output and PAN;
4. hysteresis: the structural loss (weight ``beta``) switches on when the spectral loss falls below
   ``gamma * gamma_low`` times the base's spectral loss and off again above ``gamma`` times it; a band stops after
   ``active_steps`` steps with the structural loss on, or after ``iterations`` steps; an exponential moving average
   of the weights gives the band's output;
5. training uses salient patches chosen without any pretrained network: k-means on the principal components of
   coarse-resolution blocks, one patch per cluster (the whole image when it is small);
6. a wall-clock budget bounds training; bands left when it runs out are sharpened with the current weights.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

from ...core.errors import HsiInputError
from ...core.mtf import centre_offset, decimation_matrix, mtf_taps
from ...core.progress import Monitor, as_monitor
from .classical import CLASSICAL, classical_pansharpen


@dataclass
class PnnSettings:
    """Hyper-parameters of the zero-shot network (defaults tuned for CPU, ratio 2-6)."""

    base: str = "glp_hpm"
    channels: tuple = (16, 16)
    kernels: tuple = (5, 5, 3)
    learning_rate: float = 5e-4
    iterations: int = 10  # maximum steps per band
    first_band_factor: int = 5  # the first band trains this many times longer (the network starts from scratch)
    active_steps: int = 8  # steps with the structural loss on before a band stops
    beta: float = 0.1
    gamma: float = 0.65
    gamma_low: float = 0.9
    ema: float = 0.9
    patch_size: int = 96  # fine-resolution pixels
    patches: int = 4
    time_budget_s: float = 480.0
    seed: int = 0


@dataclass
class PnnResult:
    fused: np.ndarray
    tuned_bands: int
    seconds: float
    log: List[str] = field(default_factory=list)


def select_patches(hs_lr: np.ndarray, ratio: int, patch_size: int, count: int, seed: int) -> list:
    """Origins (row, col) in coarse pixels of ``count`` salient patches of ``patch_size // ratio`` coarse pixels.

    Candidate blocks tile the coarse image; each is described by the mean and std of its first three principal
    components; k-means groups them and the block nearest each centroid is kept. Returns the whole image as one
    patch when it holds no more than ``count`` blocks.
    """
    from scipy.cluster.vq import kmeans2

    size = max(patch_size // ratio, 1)
    rows, cols = hs_lr.shape[1] // size, hs_lr.shape[2] // size
    if rows * cols <= count:
        return [(0, 0, hs_lr.shape[1], hs_lr.shape[2])]
    pixels = hs_lr.reshape(hs_lr.shape[0], -1).T
    pixels = pixels - pixels.mean(axis=0)
    _, _, vt = np.linalg.svd(pixels[:: max(1, pixels.shape[0] // 4000)], full_matrices=False)
    scores = (pixels @ vt[: min(3, vt.shape[0])].T).T.reshape(-1, hs_lr.shape[1], hs_lr.shape[2])
    blocks = scores[:, : rows * size, : cols * size].reshape(scores.shape[0], rows, size, cols, size)
    features = np.concatenate([blocks.mean(axis=(2, 4)), blocks.std(axis=(2, 4))]).reshape(-1, rows * cols).T
    features = (features - features.mean(axis=0)) / np.maximum(features.std(axis=0), 1e-12)
    centroids, labels = kmeans2(features, count, seed=seed, minit="++")
    chosen = []
    for cluster in range(count):
        members = np.flatnonzero(labels == cluster)
        if members.size:
            best = members[np.argmin(((features[members] - centroids[cluster]) ** 2).sum(axis=1))]
            chosen.append((int(best // cols) * size, int(best % cols) * size, size, size))
    return chosen


def _local_correlation(x, y, half: int):
    """Local Pearson correlation of (N, 1, H, W) tensors in (2 half + 1)^2 windows ('valid' area)."""
    import torch.nn.functional as F

    size = 2 * half + 1

    def mean(t):
        return F.avg_pool2d(t, size, stride=1)

    mx, my = mean(x), mean(y)
    vx = (mean(x * x) - mx * mx).clamp_min(0)
    vy = (mean(y * y) - my * my).clamp_min(0)
    return (mean(x * y) - mx * my) / (vx * vy + 1e-8).sqrt()


class _Trainer:
    """Holds the normalised tensors of one scene and the per-patch degradation operators."""

    def __init__(self, hs_lr, base, pan, ratio, gain, offset, settings: PnnSettings, device) -> None:
        import torch

        self.mean = hs_lr.mean(axis=(1, 2))
        self.std = np.maximum(hs_lr.std(axis=(1, 2)), 1e-12 * max(np.abs(hs_lr).max(), 1e-30))
        pan_n = (pan - pan.mean()) / max(float(pan.std()), 1e-30)

        def tensor(a):
            return torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float32, device=device)

        self.hs_lr = tensor((hs_lr - self.mean[:, None, None]) / self.std[:, None, None])
        self.base = tensor((base - self.mean[:, None, None]) / self.std[:, None, None])
        self.pan = tensor(pan_n)
        self.patches = []
        margin = int(np.ceil(mtf_taps(ratio, gain, offset)[0].size / 2 / ratio))  # coarse pixels touched by borders
        for r0, c0, h, w in select_patches(hs_lr, ratio, settings.patch_size, settings.patches, settings.seed):
            mh, mw = (margin, margin) if min(h, w) > 2 * margin + 1 else (0, 0)
            self.patches.append(
                dict(
                    fine=(slice(r0 * ratio, (r0 + h) * ratio), slice(c0 * ratio, (c0 + w) * ratio)),
                    coarse=(slice(r0 + mh, r0 + h - mh), slice(c0 + mw, c0 + w - mw)),
                    rows=tensor(decimation_matrix(h * ratio, ratio, gain, offset)[mh: h - mh or None]),
                    cols=tensor(decimation_matrix(w * ratio, ratio, gain, offset)[mw: w - mw or None]),
                )
            )
        self.half = max(ratio // 2, 1)

    def inputs(self, band: int, patch: dict):
        import torch

        fine = patch["fine"]
        return torch.stack([self.base[band][fine], self.pan[fine]])[None]

    def losses(self, net, band: int):
        spectral, structural = 0.0, 0.0
        for patch in self.patches:
            x = self.inputs(band, patch)
            out = net(x)
            degraded = patch["rows"] @ out[0, 0] @ patch["cols"].T
            target = self.hs_lr[band][patch["coarse"]]
            spectral = spectral + (degraded - target).abs().mean()
            rho = _local_correlation(out, x[:, 1:], self.half)
            structural = structural + (1 - rho.abs()).mean()
        count = len(self.patches)
        return spectral / count, structural / count

    def base_spectral_loss(self, band: int) -> float:
        total = 0.0
        for patch in self.patches:
            degraded = patch["rows"] @ self.base[band][patch["fine"]] @ patch["cols"].T
            total += float((degraded - self.hs_lr[band][patch["coarse"]]).abs().mean())
        return total / len(self.patches)


def zero_shot_pansharpen(
    hs_lr,
    pan,
    ratio: int,
    gain: float = 0.3,
    offset: Optional[float] = None,
    settings: Optional[PnnSettings] = None,
    device: str = "cpu",
    monitor: Optional[Monitor] = None,
) -> PnnResult:
    """Sharpen (bands, h, w) ``hs_lr`` with the (h ratio, w ratio) ``pan`` by band-wise zero-shot fine-tuning."""
    import torch

    from ...models.pnn import BandPNN

    settings = settings or PnnSettings()
    monitor = as_monitor(monitor)
    if settings.base not in CLASSICAL:
        raise HsiInputError(f"unknown base method {settings.base!r}; choose one of {', '.join(CLASSICAL)}")
    if settings.iterations < 0 or settings.time_budget_s <= 0:
        raise HsiInputError("the iteration count must be >= 0 and the time budget > 0")
    offset = centre_offset(ratio) if offset is None else offset
    start = time.perf_counter()
    hs_lr = np.asarray(hs_lr, dtype=np.float64)
    pan = np.asarray(pan, dtype=np.float64)
    base = classical_pansharpen(settings.base, hs_lr, pan, ratio, gain, offset)
    monitor.report(0.02)
    torch.manual_seed(settings.seed)
    trainer = _Trainer(hs_lr, base, pan, ratio, gain, offset, settings, device)
    net = BandPNN(settings.channels, settings.kernels).to(device)
    optimiser = torch.optim.Adam(net.parameters(), lr=settings.learning_rate)
    fused = np.empty_like(base)
    log: List[str] = [f"{len(trainer.patches)} training patch(es); base estimate {settings.base}"]
    tuned = 0
    n_bands = hs_lr.shape[0]
    for band in range(n_bands):
        monitor.check()
        elapsed = time.perf_counter() - start
        if elapsed < settings.time_budget_s:
            steps = settings.iterations * (settings.first_band_factor if band == 0 else 1)
            average = _tune_band(net, optimiser, trainer, band, steps, settings, start, monitor)
            tuned += 1
        else:
            average = net
            if band == tuned:
                log.append(f"time budget reached after {tuned} band(s); the rest use the last weights")
        with torch.no_grad():
            whole = torch.stack([trainer.base[band], trainer.pan])[None]
            out = average(whole)[0, 0].cpu().numpy().astype(np.float64)
        fused[band] = out * trainer.std[band] + trainer.mean[band]
        monitor.report(0.02 + 0.98 * (band + 1) / n_bands)
    seconds = time.perf_counter() - start
    log.append(f"{tuned} of {n_bands} bands fine-tuned in {seconds:.1f} s")
    for line in log:
        monitor.log(line)
    return PnnResult(fused, tuned, seconds, log)


def _tune_band(net, optimiser, trainer: _Trainer, band: int, steps: int, settings: PnnSettings, start, monitor):
    """Fine-tune ``net`` on one band with the hysteresis rule; returns the weight-averaged copy."""
    import torch

    reference = max(trainer.base_spectral_loss(band), 1e-6)
    low, high = settings.gamma * settings.gamma_low * reference, settings.gamma * reference
    average = copy.deepcopy(net)
    beta, active = 0.0, 0
    for _ in range(steps):
        monitor.check()
        spectral, structural = trainer.losses(net, band)
        value = float(spectral.detach())
        if value < low:
            beta = settings.beta
        elif value > high:
            beta = 0.0
        loss = spectral + beta * structural
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        with torch.no_grad():
            for kept, current in zip(average.parameters(), net.parameters()):
                kept.mul_(settings.ema).add_(current, alpha=1 - settings.ema)
        active += beta > 0
        if active >= settings.active_steps or time.perf_counter() - start > settings.time_budget_s:
            break
    return average
