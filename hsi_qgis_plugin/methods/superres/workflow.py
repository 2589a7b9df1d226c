"""Single-image super-resolution: bicubic, or the band-agnostic ESSA network (models/essa.py) trained
zero-shot on the scene itself or loaded from a model file.

Zero-shot training (ZSSR-style): the scene is degraded by the factor (Wald protocol: Gaussian MTF blur and
decimation, or antialiased bicubic), the network learns degraded -> scene, and is then applied to the scene
to go one factor finer. Training samples are random crops of one random group of adjacent bands, rotated or
flipped, and, with Spectral Mixup, recombined by a random convex mixing of all bands (virtual spectra).
Training stops at a wall-clock budget. Inference runs tile by tile (core.tiling.run_tiled, scale = factor)
with blended overlaps. Bad bands and nodata pixels are carried over by pixel replication, never invented.

x4 is fitted as a gradual cascade (ZSSR): one x2 network is fitted on the scene and applied twice, through a
temporary x2 GeoTIFF beside the output. Learning x2 needs a degraded training image only half as coarse. On
CAVE balloons x4 (bench/superres.py, 100 s) it gave 37.7-38.0 dB against 33.7-34.2 dB for a direct x4 fit
and 35.04 dB for bicubic.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import numpy as np

from ...core import degradation as wald
from ...core.device import resolve_device
from ...core.errors import HsiInputError
from ...core.metadata import BandMetadata
from ...core.model_file import check_compatibility, load_model, save_model
from ...core.outputs import OutputSet
from ...core.progress import Monitor, as_monitor
from ...core.raster import open_raster, raster_info, read_window, require_bands, valid_pixel_mask
from ...core.tiling import DEFAULT_MEMORY_BUDGET_MB, run_tiled
from ..denoise.lowrank import sample_valid_pixels

TASK = "superresolution"
ARCHITECTURE = "essa-group-sr"
FACTORS = (2, 3, 4)
METHODS = ("bicubic", "essa", "model")
DEGRADATIONS = ("wald", "bicubic")
MIN_BANDS = 3
MIN_LOW_RES_SIDE = 16  # the degraded training image needs this many pixels per side (smaller ones overfit)
CASCADE = {4: 2}  # zero-shot factor -> the step of the network fitted and applied repeatedly (x4 = x2 twice)
TRAIN_WINDOW = 192  # side of the windows read for training
MAX_TRAIN_WINDOWS = 6  # per scene
TILE_OVERLAP = 8


@dataclass
class Normaliser:
    """Per-band mean and one global scale, so that every band of a scene is centred with a common spread."""

    mean: np.ndarray  # (bands,)
    scale: float

    @classmethod
    def from_pixels(cls, pixels: np.ndarray) -> "Normaliser":
        """From (bands, n) valid pixels."""
        mean = pixels.mean(axis=1)
        scale = float(np.sqrt(np.mean((pixels - mean[:, None]) ** 2)))
        return cls(mean.astype(np.float32), scale if scale > 0 else 1.0)

    def forward(self, data: np.ndarray) -> np.ndarray:
        return ((data - self.mean[:, None, None]) / self.scale).astype(np.float32)

    def inverse(self, data: np.ndarray) -> np.ndarray:
        return (data * self.scale + self.mean[:, None, None]).astype(np.float32)


@dataclass
class TrainingHistory:
    steps: int = 0
    seconds: float = 0.0
    losses: List[float] = field(default_factory=list)
    psnr_network_db: float = float("nan")  # on the degraded scene(s) -> scene, after training
    psnr_bicubic_db: float = float("nan")
    device: str = ""


@dataclass
class SuperResResult:
    output: str
    factor: int
    method: str
    history: Optional[TrainingHistory]


@dataclass
class TrainResult:
    model_path: str
    history: TrainingHistory
    parameters: int


# --- degradation and augmentation ----------------------------------------------------------------------


def degrade(image: np.ndarray, factor: int, kind: str = "wald", mtf_gain: float = 0.3) -> np.ndarray:
    """Low-resolution version of a (bands, rows, cols) image, pixel-centre aligned with it.

    ``wald``: Gaussian MTF with ``mtf_gain`` at Nyquist, then decimation (core.degradation.wald_degrade);
    for even factors the image is first averaged with its one-pixel shift so that the samples fall on the
    centres of the low-resolution pixels instead of half a pixel off. ``bicubic``: antialiased bicubic.
    Rows and columns beyond a multiple of ``factor`` are dropped.
    """
    if kind not in DEGRADATIONS:
        raise HsiInputError(f"Unknown degradation '{kind}'; choose one of {', '.join(DEGRADATIONS)}")
    bands, rows, cols = image.shape
    rows, cols = rows // factor * factor, cols // factor * factor
    image = np.asarray(image[:, :rows, :cols], dtype=np.float32)
    if kind == "bicubic":
        import torch
        import torch.nn.functional as F

        with torch.no_grad():
            low = F.interpolate(
                torch.from_numpy(image)[None], size=(rows // factor, cols // factor), mode="bicubic",
                antialias=True, align_corners=False,
            )
        return low[0].numpy()
    if factor % 2 == 0:
        padded = np.pad(image, ((0, 0), (1, 0), (1, 0)), mode="edge")
        image = 0.25 * (padded[:, 1:, 1:] + padded[:, :-1, 1:] + padded[:, 1:, :-1] + padded[:, :-1, :-1])
    return wald.wald_degrade(image, factor, mtf_gain).astype(np.float32)


def mixing_matrix(band_count: int, alpha: float, generator: "torch.Generator") -> "torch.Tensor":  # noqa: F821
    """Spectral Mixup weights (bands, bands): ``(1 - alpha) I + alpha M`` with M uniform, columns summing to 1.

    Every column is non-negative and sums to 1, so each mixed band is a convex combination of the bands.
    """
    import torch

    random = torch.rand(band_count, band_count, generator=generator)
    random = random / random.sum(dim=0, keepdim=True)
    return (1.0 - alpha) * torch.eye(band_count) + alpha * random


def spectral_mixup(x: "torch.Tensor", alpha: float, generator: "torch.Generator") -> "torch.Tensor":  # noqa: F821
    """Virtual image (bands, rows, cols) whose bands are random convex combinations of the bands of ``x``."""
    import torch

    weights = mixing_matrix(x.shape[0], alpha, generator).to(x.dtype)
    return torch.einsum("chw,cd->dhw", x, weights)


# --- training ----------------------------------------------------------------------------------------------


@dataclass
class _Pair:
    """One training image: normalised scene (bands, H, W) and its degraded version, with valid masks."""

    low: "torch.Tensor"  # noqa: F821
    high: "torch.Tensor"  # noqa: F821
    high_valid: "torch.Tensor"  # noqa: F821


def _make_pair(scene: np.ndarray, valid: np.ndarray, factor: int, kind: str, mtf_gain: float) -> _Pair:
    import torch

    rows, cols = scene.shape[1] // factor * factor, scene.shape[2] // factor * factor
    if min(rows, cols) < factor * MIN_LOW_RES_SIDE:
        raise HsiInputError(
            f"The scene ({scene.shape[2]} x {scene.shape[1]} pixels) is too small to learn x{factor} "
            f"super-resolution from itself: it needs at least {factor * MIN_LOW_RES_SIDE} pixels per side; "
            f"use bicubic, or a model file trained on larger scenes"
        )
    high = scene[:, :rows, :cols]
    low = degrade(high, factor, kind, mtf_gain)
    return _Pair(
        torch.from_numpy(np.ascontiguousarray(low)),
        torch.from_numpy(np.ascontiguousarray(high)),
        torch.from_numpy(np.ascontiguousarray(valid[:rows, :cols])),
    )


def _dihedral(x: "torch.Tensor", k: int) -> "torch.Tensor":  # noqa: F821
    """One of the 8 rotations/flips of the last two axes."""
    import torch

    x = torch.rot90(x, k % 4, dims=(-2, -1))
    return torch.flip(x, dims=(-1,)) if k >= 4 else x


def _dihedral_inverse(x: "torch.Tensor", k: int) -> "torch.Tensor":  # noqa: F821
    import torch

    x = torch.flip(x, dims=(-1,)) if k >= 4 else x
    return torch.rot90(x, -(k % 4), dims=(-2, -1))


def _sample_batch(pairs: List[_Pair], model, batch: int, patch: int, mixup: float, rng: np.random.Generator, generator):
    """Random (crop, band group, rotation, mixup) samples: low (B, g+1, p, p), high (B, g, pS, pS), mask."""
    import torch

    size, s = model.config.group_size, model.config.factor
    lows, highs, masks = [], [], []
    for _ in range(batch):
        pair = pairs[int(rng.integers(len(pairs)))]
        bands, h, w = pair.low.shape
        ph, pw = min(patch, h), min(patch, w)
        y, x = int(rng.integers(h - ph + 1)), int(rng.integers(w - pw + 1))
        low = pair.low[:, y:y + ph, x:x + pw]
        high = pair.high[:, y * s:(y + ph) * s, x * s:(x + pw) * s]
        mask = pair.high_valid[y * s:(y + ph) * s, x * s:(x + pw) * s]
        start = int(rng.integers(max(1, bands - size + 1)))
        columns = torch.clamp(torch.arange(start, start + size), max=bands - 1)
        weights = mixing_matrix(bands, mixup, generator) if mixup > 0 and rng.random() < 0.5 else torch.eye(bands)
        weights = torch.cat([weights[:, columns], weights.mean(dim=1, keepdim=True)], dim=1)  # groups + context
        k = int(rng.integers(8))
        lows.append(_dihedral(torch.einsum("chw,cd->dhw", low, weights), k))
        highs.append(_dihedral(torch.einsum("chw,cd->dhw", high, weights[:, :size]), k))
        masks.append(_dihedral(mask, k))
    shapes = {tuple(t.shape) for t in lows}
    if len(shapes) > 1:  # crops of scenes smaller than the patch differ: keep the most common shape
        common = max(shapes, key=lambda sh: sum(tuple(t.shape) == sh for t in lows))
        keep = [i for i, t in enumerate(lows) if tuple(t.shape) == common]
        lows, highs, masks = [lows[i] for i in keep], [highs[i] for i in keep], [masks[i] for i in keep]
    return torch.stack(lows), torch.stack(highs), torch.stack(masks)[:, None].float()


def _evaluate(model, pairs: List[_Pair], device) -> tuple:
    """PSNR (dB, peak = spread of the normalised scene) of the network and of bicubic on the training pairs."""
    import torch

    errors_net, errors_bic, count, peak = 0.0, 0.0, 0.0, 0.0
    model.eval()
    with torch.no_grad():
        for pair in pairs:
            low = pair.low[None].to(device)
            high, mask = pair.high.to(device), pair.high_valid.to(device).float()
            net = model(low)[0]
            bic = model.upsample(low)[0]
            errors_net += float((((net - high) ** 2) * mask).sum())
            errors_bic += float((((bic - high) ** 2) * mask).sum())
            count += float(mask.sum()) * high.shape[0]
            valid = high[:, mask > 0]
            peak = max(peak, float(valid.max() - valid.min()) if valid.numel() else 0.0)
    model.train()
    if count == 0 or peak == 0:
        return float("nan"), float("nan")
    return tuple(10 * math.log10(peak ** 2 / max(e / count, 1e-20)) for e in (errors_net, errors_bic))


def fit_network(
    scenes: Sequence[tuple],
    factor: int,
    preset: str = "small",
    budget_s: float = 120.0,
    max_steps: Optional[int] = None,
    degradation: str = "wald",
    mtf_gain: float = 0.3,
    mixup: float = 0.5,
    batch: int = 16,
    patch: int = 16,
    learning_rate: float = 2e-3,
    spectral_weight: float = 0.3,
    device: str = "auto",
    threads: Optional[int] = None,
    seed: int = 0,
    model=None,
    monitor: Optional[Monitor] = None,
) -> tuple:
    """Train the network on (normalised scene (bands, rows, cols), valid mask (rows, cols)) pairs.

    Each scene is degraded by ``factor`` and the network learns degraded -> scene. Training stops after
    ``budget_s`` seconds or ``max_steps`` steps; the learning rate follows a cosine over the budget. The loss is
    the L1 error plus ``spectral_weight`` times the L1 error of band-to-band differences (spectral shape).
    Returns ``(model, history)``; pass ``model`` to continue training one.
    """
    import torch

    from ...models.essa import EssaSR, preset_config

    monitor = as_monitor(monitor)
    if factor not in FACTORS:
        raise HsiInputError(f"FACTOR must be one of {', '.join(map(str, FACTORS))} (got {factor})")
    if budget_s <= 0:
        raise HsiInputError(f"The training budget must be > 0 seconds (got {budget_s})")
    if not 0.0 <= mixup <= 1.0:
        raise HsiInputError(f"The Spectral Mixup strength must be in [0, 1] (got {mixup})")
    choice = resolve_device(device, threads)
    monitor.log(choice.message)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(seed)
    pairs = [_make_pair(scene, valid, factor, degradation, mtf_gain) for scene, valid in scenes]
    if model is None:
        model = EssaSR(preset_config(preset, factor))
    model = model.to(choice.device).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=learning_rate)
    history = TrainingHistory(device=choice.name)
    start = time.perf_counter()
    while True:
        monitor.check()
        elapsed = time.perf_counter() - start
        done = elapsed / budget_s if max_steps is None else max(elapsed / budget_s, history.steps / max_steps)
        if done >= 1.0:
            break
        for group in optimiser.param_groups:
            group["lr"] = learning_rate * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * done)))
        sample = _sample_batch(pairs, model, batch, patch, mixup, rng, generator)
        low, high, mask = (t.to(choice.device) for t in sample)
        size = model.config.group_size
        prediction = model.forward_groups(low[:, :size], low[:, size:])
        error = prediction - high
        loss = (error.abs() * mask).sum() / (mask.sum() * size).clamp_min(1.0)
        if spectral_weight > 0:  # errors of the band-to-band differences: spectral shape
            spectral = (error[:, 1:] - error[:, :-1]).abs() * mask
            loss = loss + spectral_weight * spectral.sum() / (mask.sum() * (size - 1)).clamp_min(1.0)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        history.losses.append(loss.item())
        history.steps += 1
        monitor.report(done)
    history.seconds = time.perf_counter() - start
    history.psnr_network_db, history.psnr_bicubic_db = _evaluate(model, pairs, choice.device)
    monitor.log(
        f"Trained {history.steps} steps in {history.seconds:.0f} s; on the scene degraded x{factor}: network "
        f"{history.psnr_network_db:.2f} dB PSNR vs bicubic {history.psnr_bicubic_db:.2f} dB"
    )
    return model.eval(), history


# --- reading scenes ------------------------------------------------------------------------------------------


def _good_bands(meta: BandMetadata, path: str) -> np.ndarray:
    good = meta.good_bands
    if good.sum() < MIN_BANDS:
        raise HsiInputError(
            f"'{os.path.basename(path)}' has only {int(good.sum())} good bands (bbl = 1); need {MIN_BANDS}"
        )
    return good


def _normaliser(path: str, good: np.ndarray, nodata, memory_budget_mb: float, seed: int, monitor) -> Normaliser:
    pixels = sample_valid_pixels(path, good, nodata, 50_000, memory_budget_mb, seed, monitor)
    return Normaliser.from_pixels(pixels.astype(np.float64))


def training_windows(path: str, normaliser: Normaliser, seed: int = 0) -> List[tuple]:
    """Normalised good-band windows (scene, valid mask) for training: the whole raster when it is small,
    else up to MAX_TRAIN_WINDOWS random windows of TRAIN_WINDOW pixels. Invalid pixels hold 0 (the mean)."""
    info = raster_info(path)
    good = _good_bands(info.metadata, path)
    ds = open_raster(path)
    width, height = info.width, info.height
    rng = np.random.default_rng(seed)
    if width <= TRAIN_WINDOW and height <= TRAIN_WINDOW:
        origins = [(0, 0)]
    else:
        count = min(MAX_TRAIN_WINDOWS, math.ceil(width / TRAIN_WINDOW) * math.ceil(height / TRAIN_WINDOW))
        origins = [
            (int(rng.integers(max(1, width - TRAIN_WINDOW + 1))), int(rng.integers(max(1, height - TRAIN_WINDOW + 1))))
            for _ in range(count)
        ]
    windows = []
    for x, y in origins:
        data = read_window(ds, x, y, min(TRAIN_WINDOW, width), min(TRAIN_WINDOW, height))
        valid = valid_pixel_mask(data, info.metadata.nodata, ~good)
        scene = np.where(valid[None], normaliser.forward(data[good]), 0.0).astype(np.float32)
        if valid.mean() > 0.25:
            windows.append((scene, valid))
    if not windows:
        raise HsiInputError(f"'{os.path.basename(path)}' has too few valid pixels to learn from")
    return windows


# --- inference -------------------------------------------------------------------------------------------------


def _group_batch(model, rows: int, cols: int, memory_budget_mb: float) -> int:
    """Band groups per forward pass so that the high-resolution features stay within a quarter of the budget."""
    s, f = model.config.factor, model.config.features
    per_group = (4 * f + 3 * model.config.group_size) * rows * cols * s * s * 4
    return int(max(1, min(256, memory_budget_mb * 2**20 / 4 / per_group)))


def superresolve_block(
    data: np.ndarray,
    factor: int,
    good: np.ndarray,
    nodata,
    model=None,
    normaliser: Optional[Normaliser] = None,
    device=None,
    memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB,
    self_ensemble: bool = False,
) -> np.ndarray:
    """Super-resolve a (bands, rows, cols) block: good bands by the network (or bicubic without a model),
    bad bands and invalid pixels by pixel replication (nodata stays nodata). ``self_ensemble`` averages the
    network over the 8 rotations and flips of the block."""
    import torch
    import torch.nn.functional as F

    valid = valid_pixel_mask(data, nodata, ~good)
    out = np.repeat(np.repeat(data, factor, axis=1), factor, axis=2)
    if not valid.any():
        return out
    good_data = data[good]
    fill = good_data[:, valid].mean(axis=1) if normaliser is None else normaliser.mean
    filled = np.where(valid[None], good_data, fill[:, None, None]).astype(np.float32)
    with torch.no_grad():
        if model is None:
            tensor = torch.from_numpy(filled)[None]
            high = F.interpolate(tensor, scale_factor=factor, mode="bicubic", align_corners=False)[0].numpy()
        else:
            tensor = torch.from_numpy(normaliser.forward(filled))[None].to(device)
            batch = _group_batch(model, data.shape[1], data.shape[2], memory_budget_mb)
            passes = range(8) if self_ensemble else range(1)
            result = sum(_dihedral_inverse(model(_dihedral(tensor, k), group_batch=batch), k) for k in passes)
            high = normaliser.inverse((result / len(passes))[0].float().cpu().numpy())
    valid_high = np.repeat(np.repeat(valid, factor, axis=0), factor, axis=1)
    good_out = out[good]
    good_out[:, valid_high] = high[:, valid_high]
    out[good] = good_out
    return out


def _model_card(model, preset: str, factor: int, meta: BandMetadata, good: np.ndarray, history: TrainingHistory,
                scenes: Sequence[str], degradation: str, mixup: float) -> dict:
    from ...models.essa import parameter_count

    return {
        "task": TASK,
        "architecture": ARCHITECTURE,
        "preset": preset,
        "config": model.config.to_dict(),
        "factor": factor,
        "band_agnostic": True,
        "band_count": int(good.sum()),
        "wavelengths_nm": None if meta.wavelengths_nm is None else meta.wavelengths_nm[good].tolist(),
        "normalisation": "per scene, good bands only: subtract each band's mean, divide by the global std",
        "training_data": {
            "description": f"pairs made from the rasters themselves: each degraded x{factor} ({degradation}) -> "
                           f"the raster, with Spectral Mixup {mixup} and rotations/flips",
            "rasters": [os.path.basename(p) for p in scenes],
            "sizes": [[raster_info(p).width, raster_info(p).height] for p in scenes],
        },
        "training_time_s": round(history.seconds, 1),
        "device": history.device,
        "parameters": parameter_count(model),
        "metrics": {
            "steps": history.steps,
            "psnr_db_on_degraded_training_scenes": history.psnr_network_db,
            "bicubic_psnr_db_on_degraded_training_scenes": history.psnr_bicubic_db,
        },
    }


def _load_for(model_path: str, factor: int, meta: BandMetadata, good: np.ndarray, monitor: Monitor):
    from ...models.essa import EssaConfig, EssaSR

    state, card = load_model(model_path, TASK)
    if card.get("factor") != factor and CASCADE.get(factor) != card.get("factor"):
        raise HsiInputError(
            f"'{os.path.basename(model_path)}' super-resolves by x{card.get('factor')}, not x{factor}; "
            f"choose FACTOR {card.get('factor')} or train a x{factor} model"
        )
    wavelengths = None if meta.wavelengths_nm is None else meta.wavelengths_nm[good]
    try:
        check_compatibility(card, int(good.sum()), wavelengths, os.path.basename(model_path))
    except HsiInputError as mismatch:
        monitor.log(f"{mismatch}. The network is band-agnostic, so it is applied anyway; quality may be lower.")
    model = EssaSR(EssaConfig(**card["config"]))
    model.load_state_dict(state)
    return model.eval(), card


def superresolve(
    input_path: str,
    output_path: str,
    factor: int = 2,
    method: str = "essa",
    model_path: Optional[str] = None,
    preset: str = "small",
    budget_s: float = 120.0,
    max_steps: Optional[int] = None,
    degradation: str = "wald",
    mixup: float = 0.5,
    self_ensemble: bool = True,
    device: str = "auto",
    threads: Optional[int] = None,
    seed: int = 0,
    tile_size: int = 128,
    memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB,
    monitor: Optional[Monitor] = None,
) -> SuperResResult:
    """Super-resolve a raster file by ``factor`` with ``bicubic``, ``essa`` (fit on this scene) or ``model``
    (a model file); the output grid is the input grid refined by the factor. ``self_ensemble`` averages the
    network over the 8 rotations and flips of each tile (8 times the inference cost, smoother results).

    With ``essa`` at x4, one x2 network is fitted (the scene needs 2 x MIN_LOW_RES_SIDE pixels per side) and
    applied twice, through a scratch raster beside the output that is removed in every case; a x2 model
    file serves x4 the same way."""
    import torch

    monitor = as_monitor(monitor)
    if factor not in FACTORS:
        raise HsiInputError(f"FACTOR must be one of {', '.join(map(str, FACTORS))} (got {factor})")
    if method not in METHODS:
        raise HsiInputError(f"METHOD must be one of {', '.join(METHODS)} (got '{method}')")
    if method == "model" and not model_path:
        raise HsiInputError("METHOD 'model' needs a MODEL_FILE written by 'Train super-resolution model'")
    outputs = OutputSet([output_path], inputs=[input_path, model_path])
    info = raster_info(input_path)
    require_bands(info, MIN_BANDS)
    meta = info.metadata
    good = _good_bands(meta, input_path)
    model, normaliser, history, device_obj = None, None, None, None
    step = factor  # the network's factor; a zero-shot x4 is fitted as x2 and applied twice
    apply_monitor = monitor
    if method != "bicubic":
        choice = resolve_device(device, threads)
        device_obj = choice.device
        normaliser = _normaliser(input_path, good, meta.nodata, memory_budget_mb, seed, monitor.span(0.0, 0.05))
        if method == "model":
            monitor.log(choice.message)
            model, card = _load_for(model_path, factor, meta, good, monitor)
            step = int(card["factor"])
            monitor.log(f"Model '{os.path.basename(model_path)}' ({card.get('preset')}, x{step}, trained on "
                        f"{', '.join(card.get('training_data', {}).get('rasters', []))})")
            apply_monitor = monitor.span(0.05, 1.0)
        else:
            step = CASCADE.get(factor, factor)
            if step != factor:
                monitor.log(f"Fitting the ESSA network on this scene (x{step}, applied {_passes(factor, step)} "
                            f"times for x{factor}; {budget_s:.0f} s budget)")
            else:
                monitor.log(f"Fitting the ESSA network on this scene (x{factor}, {budget_s:.0f} s budget)")
            windows = training_windows(input_path, normaliser, seed)
            try:
                model, history = fit_network(
                    windows, step, preset, budget_s, max_steps, degradation, mixup=mixup, device=device,
                    threads=threads, seed=seed, monitor=monitor.span(0.05, 0.85),
                )
            except HsiInputError as refused:
                if step == factor:
                    raise
                raise HsiInputError(f"{refused} (x{factor} is learned as x{step} applied twice)") from refused
            apply_monitor = monitor.span(0.85, 1.0)
            if not history.psnr_network_db > history.psnr_bicubic_db:
                monitor.log("Warning: the network does not beat bicubic on the degraded scene; using bicubic")
                model, normaliser, method, step = None, None, "bicubic", factor
        model = None if model is None else model.to(device_obj)

    def tile_function(data, _window):
        return superresolve_block(
            data, step, good, meta.nodata, model, normaliser, device_obj, memory_budget_mb, self_ensemble
        )

    passes = _passes(factor, step)
    # each pass writes ``step ** 2`` times the pixels of the one before: progress weights in proportion
    weights = np.cumsum([step ** (2 * i) for i in range(1, passes + 1)], dtype=float)
    weights /= weights[-1]
    source_path, source = input_path, None
    with outputs:
        try:
            for index in range(passes):
                last = index == passes - 1
                target = outputs.path(output_path) if last else outputs.scratch(output_path, f".x{step}.tif")
                monitor.log(f"Super-resolving x{step} ({method})" if passes == 1 else
                            f"Super-resolving x{step} ({method}), pass {index + 1} of {passes}")
                source = open_raster(source_path)
                with torch.no_grad():
                    run_tiled(
                        source, target, tile_function, info.band_count, meta, tile_size=tile_size,
                        overlap=TILE_OVERLAP, scale=step, memory_budget_mb=memory_budget_mb, nodata_out=meta.nodata,
                        monitor=apply_monitor.span(0.0 if index == 0 else weights[index - 1], weights[index]),
                    )
                source_path = target
        finally:
            source = None  # close the intermediate raster before it is removed (Windows cannot delete open files)
    return SuperResResult(output_path, factor, method, history)


def _passes(factor: int, step: int) -> int:
    """How many times a x``step`` network is applied for x``factor`` (a power of ``step``)."""
    passes = round(math.log(factor, step))
    if step ** passes != factor:
        raise ValueError(f"x{factor} is not a power of x{step}")
    return passes


def train_superres_model(
    input_paths: Sequence[str],
    factor: int,
    output_model: str,
    preset: str = "small",
    budget_s: float = 300.0,
    max_steps: Optional[int] = None,
    degradation: str = "wald",
    mixup: float = 0.5,
    device: str = "auto",
    threads: Optional[int] = None,
    seed: int = 0,
    memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB,
    monitor: Optional[Monitor] = None,
) -> TrainResult:
    """Train one network on several scenes (any band counts) and write it as a model file with its card."""
    from ...models.essa import parameter_count

    monitor = as_monitor(monitor)
    if not input_paths:
        raise HsiInputError("INPUTS: give at least one hyperspectral raster to train on")
    if not output_model:
        raise HsiInputError("OUTPUT_MODEL: no model file was given")
    outputs = OutputSet([output_model], inputs=input_paths)
    windows, first_meta, first_good = [], None, None
    reading = monitor.span(0.0, 0.1)
    for i, path in enumerate(input_paths):
        info = raster_info(path)
        require_bands(info, MIN_BANDS, "INPUTS")
        good = _good_bands(info.metadata, path)
        if first_meta is None:
            first_meta, first_good = info.metadata, good
        normaliser = _normaliser(path, good, info.metadata.nodata, memory_budget_mb, seed, None)
        windows.extend(training_windows(path, normaliser, seed + i))
        reading.report((i + 1) / len(input_paths))
    monitor.log(f"Training on {len(windows)} window(s) from {len(input_paths)} scene(s)")
    model, history = fit_network(
        windows, factor, preset, budget_s, max_steps, degradation, mixup=mixup, device=device, threads=threads,
        seed=seed, monitor=monitor.span(0.1, 0.98),
    )
    band_counts = {int(raster_info(p).metadata.good_bands.sum()) for p in input_paths}
    card = _model_card(model, preset, factor, first_meta, first_good, history, input_paths, degradation, mixup)
    if len(band_counts) > 1:
        card["band_count"], card["wavelengths_nm"] = None, None
        card["training_data"]["band_counts"] = sorted(band_counts)
    with outputs:
        save_model(outputs, output_model, model.state_dict(), card)
    monitor.report(1.0)
    return TrainResult(output_model, history, parameter_count(model))
