"""Self-supervised training of the HSDT / MAN denoisers on the noisy scene itself (no clean data).

The networks work on the scene's eigen-images (noise-whitened HySime subspace, see ``classical``): a
stack of ``rank`` images with white, unit-variance noise, which makes training on 2 CPU cores feasible and the
models independent of the sensor's band count. Each eigen-image is divided by its std, so the network sees
a (1, 1, rank, rows, cols) cube whose noise level differs per "band".

Objective: Neighbor2Neighbor (Huang et al., CVPR 2021). Two sub-images ``g1(y)``, ``g2(y)`` take one random
pixel of each 2 x 2 cell; their noises are independent, so ``f(g1(y)) ~ g2(y)`` trains a denoiser, and the
regulariser ``|f(g1 y) - g2 y - (g1 f(y) - g2 f(y))|^2`` corrects the half-pixel shift between them.

With ``guided=True`` (the default) the network does not see the noisy stack but the classical estimate of it
(sliding-DCT denoising of every eigen-image at its noise level, the FastHyDe-style pilot), and learns a
correction of that estimate: ``f(P(g1 y)) ~ g2 y``. A residual network then starts from the classical result
instead of from the noisy input, which is what makes a one- to three-minute CPU fit useful.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import List, Optional, Sequence

import numpy as np
import torch
from torch import nn

from ...core.progress import Monitor, as_monitor
from ...models.hsdt import build_hsdt
from ...models.man import build_man
from .classical import dct_denoise

ARCHITECTURES = {"hsdt": build_hsdt, "man": build_man}
PATCH = 48
BATCH = 4
LEARNING_RATE = 1e-3
REGULARISATION = 1.0
STEPS_PER_EPOCH = 10


def build_model(architecture: str, preset: str) -> nn.Module:
    """An HSDT or MAN network with the given preset ("small" or "medium")."""
    return ARCHITECTURES[architecture](preset)


@dataclass
class TrainingLog:
    steps: int
    epochs: int
    seconds: float
    final_loss: float


def _neighbour_masks(shape: Sequence[int], generator: torch.Generator, device: torch.device) -> tuple:
    """Two index sets choosing different random pixels of every 2 x 2 cell (B, H/2 * W/2)."""
    batch, rows, cols = shape
    cells = (rows // 2) * (cols // 2)
    first = torch.randint(0, 4, (batch, cells), generator=generator).to(device)
    second = (first + torch.randint(1, 4, (batch, cells), generator=generator).to(device)) % 4
    return first, second


def _subsample(cube: torch.Tensor, choice: torch.Tensor) -> torch.Tensor:
    """(B, 1, D, H, W) -> (B, 1, D, H/2, W/2) keeping pixel ``choice`` (0..3) of each 2 x 2 cell."""
    b, _, d, h, w = cube.shape
    cells = cube[..., : h // 2 * 2, : w // 2 * 2].reshape(b, 1, d, h // 2, 2, w // 2, 2)
    cells = cells.permute(0, 1, 2, 3, 5, 4, 6).reshape(b, 1, d, (h // 2) * (w // 2), 4)
    index = choice.view(b, 1, 1, -1, 1).expand(b, 1, d, choice.shape[1], 1)
    return torch.gather(cells, 4, index).reshape(b, 1, d, h // 2, w // 2)


def _random_crops(stack: np.ndarray, size: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` randomly flipped and rotated crops (count, 1, rank, size, size) of a (rank, rows, cols) stack."""
    rank, rows, cols = stack.shape
    size_r, size_c = min(size, rows // 2 * 2), min(size, cols // 2 * 2)
    crops = []
    for _ in range(count):
        y, x = int(rng.integers(0, rows - size_r + 1)), int(rng.integers(0, cols - size_c + 1))
        crop = stack[:, y:y + size_r, x:x + size_c]
        if rng.random() < 0.5:
            crop = crop[:, :, ::-1]
        crops.append(np.rot90(crop, int(rng.integers(4)), axes=(1, 2)) if size_r == size_c else crop)
    return np.ascontiguousarray(np.stack(crops)[:, None], dtype=np.float32)


def pilot(cube: torch.Tensor, noise: np.ndarray) -> torch.Tensor:
    """Classical estimate of a (B, 1, D, H, W) normalised stack whose band d has noise std ``noise[d]``."""
    array = cube.detach().cpu().numpy()
    out = np.empty_like(array)
    for b in range(array.shape[0]):
        for d in range(array.shape[2]):
            out[b, 0, d] = dct_denoise(array[b, 0, d], float(noise[d]))
    return torch.from_numpy(out).to(cube.device)


def train_neighbor2neighbor(
    model: nn.Module,
    stacks: List[np.ndarray],
    noise: List[np.ndarray],
    time_budget_s: float,
    device: torch.device,
    guided: bool = True,
    max_steps: Optional[int] = None,
    seed: int = 0,
    monitor: Optional[Monitor] = None,
) -> TrainingLog:
    """Train ``model`` on normalised eigen-image stacks until the time budget (or ``max_steps``) is spent.

    ``noise[i]`` holds the noise std of each image of ``stacks[i]`` (used by the guided objective).
    """
    monitor = as_monitor(monitor)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(seed)
    model.to(device).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    start = time.perf_counter()
    steps, loss_sum, last_epoch_loss = 0, 0.0, float("nan")
    while True:
        elapsed = time.perf_counter() - start
        if elapsed >= time_budget_s or (max_steps is not None and steps >= max_steps):
            break
        monitor.check()
        fraction = min(1.0, elapsed / time_budget_s) if max_steps is None else steps / max_steps
        for group in optimiser.param_groups:
            group["lr"] = LEARNING_RATE * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * fraction)))
        index = int(rng.integers(len(stacks)))
        batch = torch.from_numpy(_random_crops(stacks[index], PATCH, BATCH, rng)).to(device)
        first, second = _neighbour_masks((batch.shape[0], batch.shape[3], batch.shape[4]), generator, device)
        g1, g2 = _subsample(batch, first), _subsample(batch, second)
        if guided:
            batch_in, g1_in = pilot(batch, noise[index]), pilot(g1, noise[index])
        else:
            batch_in, g1_in = batch, g1
        with torch.no_grad():
            full = model(batch_in)
        output = model(g1_in)
        shift = _subsample(full, first) - _subsample(full, second)
        loss = torch.mean((output - g2) ** 2) + REGULARISATION * torch.mean((output - g2 - shift) ** 2)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        steps += 1
        loss_sum += float(loss.detach())
        if steps % STEPS_PER_EPOCH == 0:
            last_epoch_loss = loss_sum / STEPS_PER_EPOCH
            loss_sum = 0.0
            monitor.log(f"Epoch {steps // STEPS_PER_EPOCH}: self-supervised loss {last_epoch_loss:.4f}")
            monitor.report(fraction)
    model.eval()
    final = last_epoch_loss if steps >= STEPS_PER_EPOCH else (loss_sum / max(steps, 1))
    return TrainingLog(steps, steps // STEPS_PER_EPOCH, time.perf_counter() - start, final)


def apply_network(
    model: nn.Module, stack: np.ndarray, noise: np.ndarray, device: torch.device, guided: bool = True
) -> np.ndarray:
    """Denoise one normalised (rank, rows, cols) stack, averaged over the four flips (self-ensemble)."""
    model.to(device).eval()
    cube = torch.from_numpy(np.ascontiguousarray(stack, dtype=np.float32))[None, None].to(device)
    if guided:
        cube = pilot(cube, noise)
    total = torch.zeros_like(cube)
    with torch.no_grad():
        for dims in ((), (-1,), (-2,), (-2, -1)):
            flipped = torch.flip(cube, dims) if dims else cube
            result = model(flipped)
            total += torch.flip(result, dims) if dims else result
    return (total / 4)[0, 0].cpu().numpy().astype(np.float64)
