"""Low-rank denoising baseline: projection on the HySime signal subspace, optional Wiener filtering of the
eigen-images, done tile by tile. Bad bands and nodata pixels are passed through unchanged."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy.signal import wiener

from ...core.errors import HsiInputError
from ...core.outputs import OutputSet
from ...core.progress import Monitor, as_monitor
from ...core.raster import open_raster, raster_info, read_window, require_bands, valid_pixel_mask
from ...core.tiling import DEFAULT_MEMORY_BUDGET_MB, iterate_windows, run_tiled
from .subspace import Subspace, fit_subspace

WIENER_WINDOW = 5
MIN_BANDS = 3


@dataclass
class LowRankResult:
    output: str
    rank: int
    noise_std: np.ndarray
    good_bands: np.ndarray


def denoise_pixels_block(
    data: np.ndarray,
    subspace: Subspace,
    good_bands: np.ndarray,
    nodata: Optional[float],
    filter_eigenimages: bool,
) -> np.ndarray:
    """Denoise a (bands, rows, cols) block with a fitted subspace; bad bands and invalid pixels unchanged."""
    bands, rows, cols = data.shape
    valid = valid_pixel_mask(data, nodata, ~good_bands)
    out = data.copy()
    if not valid.any():
        return out
    good = data[good_bands].reshape(int(good_bands.sum()), -1).astype(np.float64)
    filled = np.where(valid.reshape(-1)[None, :], good, subspace.mean[:, None])
    coefficients = subspace.to_eigenimages(filled).reshape(subspace.rank, rows, cols)
    if filter_eigenimages and min(rows, cols) >= WIENER_WINDOW:
        for i in range(subspace.rank):
            coefficients[i] = wiener(coefficients[i], WIENER_WINDOW, noise=float(subspace.eigen_noise[i]))
    restored = subspace.from_eigenimages(coefficients.reshape(subspace.rank, -1)).reshape(-1, rows, cols)
    good_out = out[good_bands]
    good_out[:, valid] = restored[:, valid]
    out[good_bands] = good_out
    return out


def sample_valid_pixels(
    path: str,
    good_bands: np.ndarray,
    nodata: Optional[float],
    max_pixels: int,
    memory_budget_mb: float,
    seed: int = 0,
    monitor: Optional[Monitor] = None,
) -> np.ndarray:
    """Random valid pixels of the good bands, (good_bands, n), read strip by strip within the budget."""
    monitor = as_monitor(monitor)
    ds = open_raster(path)
    rng = np.random.default_rng(seed)
    total = ds.RasterXSize * ds.RasterYSize
    keep_fraction = min(1.0, max_pixels / total)
    chunks = []
    windows = list(iterate_windows(ds.RasterXSize, ds.RasterYSize, ds.RasterCount, memory_budget_mb))
    for i, window in enumerate(windows):
        monitor.check()
        data = read_window(ds, window.x, window.y, window.width, window.height)
        keep = valid_pixel_mask(data, nodata, ~good_bands).reshape(-1)
        if keep_fraction < 1.0:
            keep &= rng.random(keep.size) < keep_fraction
        # gather the kept pixels first, then the good bands: small copies only
        chunks.append(data.reshape(data.shape[0], -1)[:, np.flatnonzero(keep)][good_bands])
        monitor.report((i + 1) / len(windows))
    sample = np.concatenate(chunks, axis=1) if chunks else np.zeros((int(good_bands.sum()), 0))
    if sample.shape[1] == 0:
        raise HsiInputError(f"'{path}' has no valid pixel: every pixel is nodata or not finite")
    return sample


def lowrank_denoise(
    input_path: str,
    output_path: str,
    rank: int = 0,
    filter_eigenimages: bool = True,
    tile_size: int = 256,
    memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB,
    sample_pixels: int = 50_000,
    seed: int = 0,
    monitor: Optional[Monitor] = None,
) -> LowRankResult:
    """Denoise a raster file by subspace projection (rank 0 = automatic, HySime)."""
    monitor = as_monitor(monitor)
    outputs = OutputSet([output_path], inputs=[input_path])
    info = raster_info(input_path)
    require_bands(info, MIN_BANDS)
    meta = info.metadata
    good_bands = meta.good_bands
    if good_bands.sum() < MIN_BANDS:
        raise HsiInputError(f"Only {good_bands.sum()} good bands remain after removing bad bands; need {MIN_BANDS}")
    monitor.log("Estimating noise and the signal subspace (HySime)")
    sample = sample_valid_pixels(
        input_path, good_bands, meta.nodata, sample_pixels, memory_budget_mb, seed, monitor.span(0.0, 0.1)
    )
    subspace = fit_subspace(sample, rank)
    monitor.log(f"Signal subspace rank: {subspace.rank} of {int(good_bands.sum())} good bands")
    overlap = 2 * WIENER_WINDOW if filter_eigenimages else 0

    def denoise_tile(data, _window):
        return denoise_pixels_block(data, subspace, good_bands, meta.nodata, filter_eigenimages)

    with outputs:
        run_tiled(
            open_raster(input_path),
            outputs.path(output_path),
            denoise_tile,
            info.band_count,
            meta,
            tile_size=tile_size,
            overlap=overlap,
            memory_budget_mb=memory_budget_mb,
            nodata_out=meta.nodata,
            monitor=monitor.span(0.1, 1.0),
        )
    return LowRankResult(output_path, subspace.rank, subspace.noise_std, good_bands)
