"""Simulated degradations of a raster file: Wald-protocol spatial degradation, noise cases, simulated PAN."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ...core import degradation
from ...core.errors import HsiInputError
from ...core.outputs import OutputSet
from ...core.progress import Monitor, as_monitor
from ...core.raster import read_raster, valid_pixel_mask, write_raster
from ...core.tiling import DEFAULT_MEMORY_BUDGET_MB

NOISE_CASES = ("none", "gaussian", "noniid", "stripes", "deadlines", "impulse", "mixture")


@dataclass
class SimulationResult:
    output: str
    pan_output: Optional[str]
    ratio: int
    noise: str


def simulate_degradation(
    input_path: str,
    output_path: str,
    noise: str = "gaussian",
    sigma: float = 30 / 255,
    sigma_min: float = 10 / 255,
    sigma_max: float = 70 / 255,
    band_fraction: float = 1 / 3,
    ratio: int = 1,
    mtf_gain: float = 0.3,
    pan_output_path: Optional[str] = None,
    pan_range_nm: tuple = (400.0, 900.0),
    seed: int = 0,
    memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB,
    monitor: Optional[Monitor] = None,
) -> SimulationResult:
    """Degrade ``input_path``: blur + decimate by ``ratio`` (Wald), then add noise; optionally write a PAN.

    Only good bands and valid pixels are degraded; bad bands and nodata pixels are copied unchanged. The
    simulated PAN is the mean of the clean bands inside ``pan_range_nm``, on the input (high-resolution) grid.
    """
    monitor = as_monitor(monitor)
    if noise not in NOISE_CASES:
        raise HsiInputError(f"Unknown noise case '{noise}'; choose one of {', '.join(NOISE_CASES)}")
    if int(ratio) != ratio or ratio < 1:
        raise HsiInputError(f"RATIO must be an integer >= 1 (got {ratio})")
    if not 0 < mtf_gain < 1:
        raise HsiInputError(f"MTF_GAIN must lie strictly between 0 and 1 (got {mtf_gain})")
    ratio = int(ratio)
    outputs = OutputSet([output_path, pan_output_path], inputs=[input_path])
    data, info = read_raster(input_path, memory_budget_mb, copies=5)
    meta = info.metadata
    good = meta.good_bands
    valid = valid_pixel_mask(data, meta.nodata, meta.bad_bands)
    if not valid.any():
        raise HsiInputError(f"'{input_path}' has no valid pixel: every pixel is nodata or not finite")
    rng = np.random.default_rng(seed)
    clean = data[good]
    band_means = np.array([band[valid].mean() for band in clean], dtype=np.float32)
    filled = np.where(valid[None], clean, band_means[:, None, None])
    monitor.report(0.1)

    pan = None
    if pan_output_path:
        if meta.wavelengths_nm is None:
            raise HsiInputError("A simulated PAN needs band wavelengths, and this raster has none")
        pan = degradation.simulate_pan(filled, meta.wavelengths_nm[good], tuple(pan_range_nm))
        pan = np.where(valid, pan, np.float32(meta.nodata) if meta.nodata is not None else np.nan)
    monitor.check()

    grid = info.grid
    if ratio > 1:
        filled = degradation.wald_degrade(filled, ratio, mtf_gain)
        grid = grid.coarsened(ratio)
        offset = ratio // 2
        valid = valid[offset::ratio, offset::ratio][: grid.height, : grid.width]
        data = data[:, offset::ratio, offset::ratio][:, : grid.height, : grid.width]
    monitor.report(0.4)
    monitor.check()
    degraded = degradation.degrade(
        filled, rng, noise=noise, sigma=sigma, sigma_min=sigma_min, sigma_max=sigma_max, band_fraction=band_fraction
    )
    monitor.report(0.8)
    out = data.copy()
    out[good] = np.where(valid[None], degraded, data[good])
    monitor.check()
    with outputs:
        write_raster(outputs.path(output_path), out.astype(np.float32), grid, meta, nodata=meta.nodata)
        if pan is not None:
            write_raster(outputs.path(pan_output_path), pan[None].astype(np.float32), info.grid, nodata=meta.nodata)
    monitor.report(1.0)
    return SimulationResult(output_path, pan_output_path or None, ratio, noise)
