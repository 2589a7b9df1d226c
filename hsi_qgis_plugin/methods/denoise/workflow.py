"""Denoise workflows on raster files: low-rank, FastHyDe-style subspace, and the HSDT / MAN networks.

* ``lowrank``: the project's baseline (``methods.denoise.lowrank``), unchanged.
* ``subspace``: robust clean-up of stripes, dead lines and impulse noise, then noise-whitened HySime subspace
  with sliding-DCT denoising of the eigen-images (``classical``).
* ``hsdt`` / ``man``: the same clean-up and subspace, then a network that refines the classical estimate of
  the eigen-images. It is either fitted on this scene (self-supervised, within a time budget) or loaded from a
  model file written by :func:`train_denoiser` (``training``).

The subspace is fitted on a window of at most ``FIT_WINDOW`` pixels in the middle of the raster; tiles are then
denoised one by one with it. Bad bands and invalid (nodata or non-finite) pixels are copied unchanged.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import numpy as np

from ...core.device import resolve_device
from ...core.errors import HsiInputError
from ...core.model_file import check_compatibility, load_model, save_model
from ...core.outputs import OutputSet
from ...core.progress import Monitor, as_monitor
from ...core.raster import RasterInfo, open_raster, raster_info, read_window, require_bands, valid_pixel_mask
from ...core.tiling import DEFAULT_MEMORY_BUDGET_MB, run_tiled
from .classical import back_project, fit_scene_subspace, project, remove_structured_noise, robust_subspace_denoise
from .training import ARCHITECTURES, TrainingLog, apply_network, build_model, train_neighbor2neighbor
from .lowrank import lowrank_denoise
from .subspace import Subspace

METHODS = ("lowrank", "subspace", "hsdt", "man")
PRESETS = ("small", "medium")
TASK = "denoise"
MIN_BANDS = 3
FIT_WINDOW = 256
TILE_OVERLAP = 16
NORMALISATION = (
    "noise-whitened HySime subspace of the scene being denoised; each eigen-image divided by its std "
    "(sqrt of its eigenvalue); the network refines the sliding-DCT estimate of the eigen-images"
)


@dataclass
class DenoiseResult:
    output: str
    method: str
    rank: int
    seconds: float
    training: Optional[TrainingLog] = None
    messages: List[str] = field(default_factory=list)


@dataclass
class SceneFit:
    """A scene's subspace and its normalised eigen-image stack (rank, rows, cols) for training."""

    subspace: Subspace
    stack: np.ndarray

    @property
    def scale(self) -> np.ndarray:
        return eigen_scale(self.subspace)


def eigen_scale(subspace: Subspace) -> np.ndarray:
    """Std of each eigen-image (the networks see eigen-images divided by it)."""
    return np.sqrt(np.maximum(subspace.eigen_power, 1e-12))


def _good_bands(info: RasterInfo) -> np.ndarray:
    require_bands(info, MIN_BANDS)
    good = info.metadata.good_bands
    if good.sum() < MIN_BANDS:
        raise HsiInputError(
            f"'{os.path.basename(info.path)}' has only {int(good.sum())} good bands after removing bad bands; "
            f"denoising needs {MIN_BANDS}"
        )
    return good


def fit_scene(info: RasterInfo, rank: int = 0, seed: int = 0) -> SceneFit:
    """Read the central window, repair structured noise, fit the subspace and build the training stack."""
    good = _good_bands(info)
    width, height = min(info.width, FIT_WINDOW), min(info.height, FIT_WINDOW)
    x0, y0 = (info.width - width) // 2, (info.height - height) // 2
    data = read_window(open_raster(info.path), x0, y0, width, height)
    valid = valid_pixel_mask(data, info.metadata.nodata, ~good)
    if valid.sum() <= good.sum() + 1:
        raise HsiInputError(
            f"The central {width} x {height} window of '{os.path.basename(info.path)}' has only {int(valid.sum())} "
            f"valid pixels; at least {int(good.sum()) + 2} are needed to estimate the noise and the subspace"
        )
    repaired, _, _ = remove_structured_noise(data[good], valid, seed)
    subspace = fit_scene_subspace(repaired, valid, rank, seed)
    scale = eigen_scale(subspace)
    return SceneFit(subspace, project(repaired, valid, subspace) / scale[:, None, None])


def denoise_block(
    data: np.ndarray,
    good: np.ndarray,
    nodata: Optional[float],
    subspace: Subspace,
    network=None,
    device=None,
) -> np.ndarray:
    """Denoise a (bands, rows, cols) block; bad bands and invalid pixels are returned unchanged."""
    out = data.copy()
    valid = valid_pixel_mask(data, nodata, ~good)
    if not valid.any():
        return out
    classical, repaired, _ = robust_subspace_denoise(data[good], valid, subspace=subspace)
    if network is None:
        restored = classical
    else:
        scale = eigen_scale(subspace)
        eigen = project(repaired, valid, subspace) / scale[:, None, None]
        refined = apply_network(network, eigen, 1.0 / scale, device) * scale[:, None, None]
        restored = back_project(refined, subspace)
    good_out = out[good]
    good_out[:, valid] = restored[:, valid]
    out[good] = good_out
    return out


def _train(
    architecture: str,
    preset: str,
    stacks: Sequence[np.ndarray],
    scales: Sequence[np.ndarray],
    time_budget_s: float,
    device,
    seed: int,
    monitor: Monitor,
    max_steps: Optional[int] = None,
):
    if architecture not in ARCHITECTURES:
        raise HsiInputError(f"Unknown network '{architecture}'; choose one of {', '.join(ARCHITECTURES)}")
    if preset not in PRESETS:
        raise HsiInputError(f"Unknown preset '{preset}'; choose one of {', '.join(PRESETS)}")
    if time_budget_s <= 0 and max_steps is None:
        raise HsiInputError(f"The time budget must be > 0 seconds (got {time_budget_s})")
    model = build_model(architecture, preset)
    noise = [1.0 / scale for scale in scales]
    log = train_neighbor2neighbor(
        model, list(stacks), noise, time_budget_s, device, max_steps=max_steps, seed=seed, monitor=monitor
    )
    monitor.log(f"Trained {architecture.upper()}-{preset} for {log.steps} steps in {log.seconds:.0f} s")
    return model, log


def denoise_raster(
    input_path: str,
    output_path: str,
    method: str = "subspace",
    model_file: Optional[str] = None,
    preset: str = "small",
    device: str = "auto",
    threads: Optional[int] = None,
    time_budget_s: float = 120.0,
    max_steps: Optional[int] = None,
    rank: int = 0,
    tile_size: int = 256,
    memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB,
    seed: int = 0,
    monitor: Optional[Monitor] = None,
) -> DenoiseResult:
    """Denoise ``input_path`` into ``output_path`` (see the module docstring for the methods).

    For ``hsdt``/``man`` a ``model_file`` is applied when given; otherwise the network is fitted on this
    scene for ``time_budget_s`` seconds (or ``max_steps`` steps).
    """
    monitor = as_monitor(monitor)
    start = time.perf_counter()
    if method not in METHODS:
        raise HsiInputError(f"Unknown METHOD '{method}'; choose one of {', '.join(METHODS)}")
    if method == "lowrank":
        result = lowrank_denoise(
            input_path, output_path, rank=rank, tile_size=tile_size, memory_budget_mb=memory_budget_mb,
            seed=seed, monitor=monitor,
        )
        return DenoiseResult(output_path, method, result.rank, time.perf_counter() - start)
    outputs = OutputSet([output_path], inputs=[input_path, model_file])
    info = raster_info(input_path)
    good = _good_bands(info)
    network, log, choice = None, None, None
    if method in ARCHITECTURES:
        card = None
        if model_file:
            state, card = load_model(model_file, TASK)
            check_compatibility(card, info.band_count, info.metadata.wavelengths_nm, f"'{os.path.basename(model_file)}'")
            if card.get("architecture") != method:
                raise HsiInputError(
                    f"'{os.path.basename(model_file)}' holds a {str(card.get('architecture')).upper()} model but "
                    f"METHOD is {method.upper()}; choose METHOD {card.get('architecture')} or another model file"
                )
        choice = resolve_device(device, threads)
        monitor.log(choice.message)
    monitor.log("Repairing structured noise and fitting the signal subspace")
    fit = fit_scene(info, rank, seed)
    monitor.log(f"Signal subspace rank {fit.subspace.rank} of {int(good.sum())} good bands")
    monitor.report(0.05)
    apply_span = monitor.span(0.05, 1.0)
    if choice is not None:
        if card is not None:
            network = build_model(method, card.get("preset", "small"))
            network.load_state_dict(state)
            monitor.log(f"Applying {os.path.basename(model_file)} ({method.upper()}-{card.get('preset')})")
        else:
            network, log = _train(
                method, preset, [fit.stack], [fit.scale], time_budget_s, choice.device, seed,
                monitor.span(0.05, 0.8), max_steps,
            )
            apply_span = monitor.span(0.8, 1.0)

    def denoise_tile(data, _window):
        return denoise_block(data, good, info.metadata.nodata, fit.subspace, network, choice and choice.device)

    with outputs:
        run_tiled(
            open_raster(input_path), outputs.path(output_path), denoise_tile, info.band_count, info.metadata,
            tile_size=tile_size, overlap=TILE_OVERLAP, memory_budget_mb=memory_budget_mb,
            nodata_out=info.metadata.nodata, monitor=apply_span,
        )
    return DenoiseResult(output_path, method, fit.subspace.rank, time.perf_counter() - start, log)


def train_denoiser(
    input_paths: Sequence[str],
    output_model: str,
    architecture: str = "hsdt",
    preset: str = "small",
    device: str = "auto",
    threads: Optional[int] = None,
    time_budget_s: float = 300.0,
    max_steps: Optional[int] = None,
    seed: int = 0,
    monitor: Optional[Monitor] = None,
) -> dict:
    """Train a denoiser self-supervised on one or more rasters (same band count) and write a model file.

    Returns the model card.
    """
    monitor = as_monitor(monitor)
    if not input_paths:
        raise HsiInputError("INPUTS: give at least one hyperspectral raster to train on")
    outputs = OutputSet([output_model], inputs=input_paths)
    infos = [raster_info(path) for path in input_paths]
    first = infos[0]
    for info in infos[1:]:
        if info.band_count != first.band_count:
            raise HsiInputError(
                f"All training rasters need the same bands: '{os.path.basename(first.path)}' has "
                f"{first.band_count} bands but '{os.path.basename(info.path)}' has {info.band_count}"
            )
    choice = resolve_device(device, threads)
    monitor.log(choice.message)
    fits = []
    for i, info in enumerate(infos):
        monitor.check()
        monitor.log(f"Preparing {os.path.basename(info.path)}")
        fits.append(fit_scene(info, 0, seed))
        monitor.report(0.1 * (i + 1) / len(infos))
    model, log = _train(
        architecture, preset, [f.stack for f in fits], [f.scale for f in fits], time_budget_s, choice.device,
        seed, monitor.span(0.1, 0.95), max_steps,
    )
    wavelengths = first.metadata.wavelengths_nm
    card = {
        "task": TASK,
        "architecture": architecture,
        "preset": preset,
        "band_count": first.band_count,
        "wavelengths_nm": None if wavelengths is None else [float(w) for w in wavelengths],
        "normalisation": NORMALISATION,
        "training_data": {
            "description": "self-supervised (Neighbor2Neighbor, guided by the classical estimate) on the noisy rasters",
            "rasters": [os.path.basename(info.path) for info in infos],
            "sizes": [[info.width, info.height] for info in infos],
            "subspace_ranks": [f.subspace.rank for f in fits],
        },
        "training_time_s": round(log.seconds, 1),
        "device": choice.name,
        "metrics": {"self_supervised_loss": log.final_loss, "steps": log.steps, "epochs": log.epochs},
    }
    with outputs:
        save_model(outputs, output_model, model.state_dict(), card)
    monitor.report(1.0)
    return card
