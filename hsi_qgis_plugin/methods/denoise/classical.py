"""Classical parts of the denoisers: robust clean-up of structured noise and a FastHyDe-style subspace denoiser.

Arrays are (bands, rows, cols) of the GOOD bands only, with a (rows, cols) ``valid`` mask; the callers copy
bad bands and invalid pixels through unchanged.

* :func:`remove_structured_noise` finds dead lines (columns a detector left constant), stuck values (saturated
  or dropped samples repeated exactly), impulse noise (values far from the prediction of each band from its
  spectral neighbours) and stripes (column offsets of that prediction's
  residual), and repairs them from the spectral prediction. Gaussian noise is left for the denoisers.
* :func:`dct_denoise` is the spatial denoiser of the eigen-images: sliding 8 x 8 DCT hard thresholding, then an
  empirical Wiener step piloted by the first estimate (the two stages of BM3D without block matching).
* :func:`subspace_denoise` is FastHyDe's scheme (Zhuang & Bioucas-Dias 2018): noise-whitened HySime subspace,
  each eigen-image denoised spatially at its own (unit) noise level, back-projection.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Optional

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import ndimage
from scipy.fft import dctn, idctn

from ...core.errors import HsiInputError
from .subspace import Subspace, fit_subspace

PATCH = 8
HARD_THRESHOLD = 2.7
OUTLIER_THRESHOLD = 5.0
ROBUST_ITERATIONS = 2
PREDICTION_NEIGHBOURS = 8
SPATIAL_RANK_MARGIN = 2
STRIPE_MIN_OFFSET = 2.0  # in robust noise sigmas: weaker column offsets are left to the subspace projection
MAX_FIT_PIXELS = 40_000
STUCK_DISTINCT_FRACTION = 0.5
STUCK_COUNT_FRACTION = 0.002
MAX_STUCK_VALUES = 4


@dataclass
class CleanupReport:
    """What :func:`remove_structured_noise` repaired (counts of values)."""

    dead_values: int
    impulse_values: int
    stripe_columns: int


def _dead_columns(data: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(bands, rows, cols) mask of columns that are constant along their valid rows (dead detector lines)."""
    bands, rows, cols = data.shape
    dead = np.zeros(data.shape, dtype=bool)
    if rows < 4:
        return dead
    masked = np.where(valid[None], data, np.nan)
    spread = np.nanmax(masked, axis=1) - np.nanmin(masked, axis=1)  # (bands, cols)
    scale = np.nanmedian(spread, axis=1, keepdims=True)
    constant = (spread <= 1e-6 * np.maximum(scale, 1e-12)) & (valid.sum(axis=0) >= 4)[None]
    dead[:] = constant[:, None, :]
    return dead & valid[None]


def _stuck_values(data: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(bands, rows, cols) mask of exactly repeated values (saturated or dropped samples) in continuous bands.

    Only bands with a few such values and otherwise mostly distinct values (floating-point, noisy) are
    changed, so quantised integer data are left alone.
    """
    stuck = np.zeros(data.shape, dtype=bool)
    for band in range(data.shape[0]):
        values = data[band][valid]
        unique, counts = np.unique(values, return_counts=True)
        frequent = counts > max(4, STUCK_COUNT_FRACTION * values.size)
        others = values.size - int(counts[frequent].sum())
        if 0 < frequent.sum() <= MAX_STUCK_VALUES and (~frequent).sum() >= STUCK_DISTINCT_FRACTION * others:
            stuck[band] = np.isin(data[band], unique[frequent]) & valid
    return stuck


def _fit_pixels(data: np.ndarray, valid: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    pixels = data[:, valid]
    if pixels.shape[1] > MAX_FIT_PIXELS:
        pixels = pixels[:, rng.choice(pixels.shape[1], MAX_FIT_PIXELS, replace=False)]
    return pixels


def _spectral_prediction(
    data: np.ndarray, valid: np.ndarray, flagged: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Predict every band from its spectral neighbours (never from itself), by least squares on valid pixels.

    A defect of one band (stripe, dead line, impulse) is absent from its neighbours, so it stands out in the
    residual ``data - prediction``.
    """
    bands = data.shape[0]
    flat = data.reshape(bands, -1)
    usable = valid.reshape(-1) & ~flagged.reshape(bands, -1).any(axis=0)
    if usable.sum() < 4 * PREDICTION_NEIGHBOURS:
        usable = valid.reshape(-1)
    index = np.flatnonzero(usable)
    if index.size > MAX_FIT_PIXELS:
        index = rng.choice(index, MAX_FIT_PIXELS, replace=False)
    prediction = np.empty_like(flat)
    ones = np.ones((flat.shape[1], 1))
    for band in range(bands):
        order = np.argsort(np.abs(np.arange(bands) - band), kind="stable")[1:PREDICTION_NEIGHBOURS + 1]
        design = np.hstack([flat[order].T, ones])
        beta, *_ = np.linalg.lstsq(design[index], flat[band, index], rcond=None)
        prediction[band] = design @ beta
    return prediction.reshape(data.shape)


def _fill(data: np.ndarray, flagged: np.ndarray, band_median: np.ndarray) -> np.ndarray:
    """Provisional values for flagged samples: the 5 x 5 median of the band (flagged samples at its median)."""
    filled = np.where(flagged, band_median[:, None, None], data)
    if flagged.any():
        filled = np.where(flagged, ndimage.median_filter(filled, size=(1, 5, 5)), filled)
    return filled


def remove_structured_noise(
    data: np.ndarray, valid: np.ndarray, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, CleanupReport]:
    """Find dead lines, stuck values and impulse noise, and remove stripes, in (bands, rows, cols) data.

    Returns ``(destriped, missing, report)``: the data with stripe offsets removed and the flagged values
    provisionally filled from the spectral prediction, and the (bands, rows, cols) mask of values to
    treat as missing (see :func:`robust_subspace_denoise`).
    """
    bands, rows, cols = data.shape
    if int(valid.sum()) <= bands + 1 or bands < 3:
        return data.astype(np.float64), np.zeros(data.shape, dtype=bool), CleanupReport(0, 0, 0)
    rng = np.random.default_rng(seed)
    out = data.astype(np.float64, copy=True)
    dead = _dead_columns(out, valid) | _stuck_values(out, valid)
    flagged = dead.copy()
    band_median = np.array([np.median(out[b][valid]) for b in range(bands)])
    striped = np.zeros((bands, cols), dtype=bool)
    for _ in range(ROBUST_ITERATIONS):
        filled = _fill(out, flagged, band_median)
        prediction = _spectral_prediction(filled, valid, flagged, rng)
        residual = np.where(valid[None] & ~dead, filled - prediction, np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            column_offset = np.nanmedian(residual, axis=1)  # (bands, cols), robust to impulses in a column
            counts = np.sum(np.isfinite(residual), axis=1)
            column_offset = np.nan_to_num(column_offset - np.nanmedian(column_offset, axis=1, keepdims=True))
            centre = np.nanmedian(residual, axis=(1, 2), keepdims=True)
            spread = 1.4826 * np.nanmedian(np.abs(residual - centre), axis=(1, 2), keepdims=True)
        spread = np.maximum(np.nan_to_num(spread), 1e-12)
        limit = np.maximum(4.0 / np.sqrt(np.maximum(counts, 1)), STRIPE_MIN_OFFSET) * spread[:, :, 0]
        significant = np.abs(column_offset) > limit
        offsets = np.where(significant, column_offset, 0.0)[:, None, :] * valid[None]
        striped |= significant
        out = out - offsets
        residual = residual - offsets
        impulse = (np.abs(np.nan_to_num(residual - centre)) > OUTLIER_THRESHOLD * spread) & valid[None] & ~dead
        flagged = dead | impulse
    prediction = _spectral_prediction(_fill(out, flagged, band_median), valid, flagged, rng)
    out = np.where(flagged, prediction, out)
    report = CleanupReport(int(dead.sum()), int((flagged & ~dead).sum()), int(striped.sum()))
    return out, flagged, report


def _patch_transform(image: np.ndarray) -> np.ndarray:
    """All overlapping PATCH x PATCH patches of a 2-D image, DCT-transformed: (n_r, n_c, PATCH, PATCH)."""
    patches = sliding_window_view(image, (PATCH, PATCH))
    return dctn(patches, axes=(-2, -1), norm="ortho")


def _aggregate(coefficients: np.ndarray, weights: np.ndarray, shape: tuple) -> np.ndarray:
    """Weighted overlap-add of inverse-DCT patches; ``weights`` is (n_r, n_c)."""
    patches = idctn(coefficients, axes=(-2, -1), norm="ortho") * weights[..., None, None]
    numerator = np.zeros(shape)
    denominator = np.zeros(shape)
    n_r, n_c = weights.shape
    for i in range(PATCH):
        for j in range(PATCH):
            numerator[i:i + n_r, j:j + n_c] += patches[:, :, i, j]
            denominator[i:i + n_r, j:j + n_c] += weights
    return numerator / np.maximum(denominator, 1e-12)


def dct_denoise(image: np.ndarray, sigma: float) -> np.ndarray:
    """Denoise a 2-D image with white Gaussian noise of std ``sigma`` (sliding DCT: hard threshold + Wiener)."""
    image = np.asarray(image, dtype=np.float64)
    if sigma <= 0:
        return image.copy()
    pad_r, pad_c = max(0, PATCH - image.shape[0]), max(0, PATCH - image.shape[1])
    padded = np.pad(image, ((0, pad_r), (0, pad_c)), mode="symmetric") if pad_r or pad_c else image
    noisy = _patch_transform(padded)
    keep = np.abs(noisy) > HARD_THRESHOLD * sigma
    keep[..., 0, 0] = True
    pilot = _aggregate(noisy * keep, 1.0 / np.maximum(keep.sum(axis=(-2, -1)), 1), padded.shape)
    power = _patch_transform(pilot) ** 2
    gain = power / (power + sigma**2)
    weights = 1.0 / np.maximum((gain**2).sum(axis=(-2, -1)), 1e-6)
    result = _aggregate(noisy * gain, weights, padded.shape)
    return result[: image.shape[0], : image.shape[1]]


def denoise_eigenimages(eigen: np.ndarray, subspace: Subspace) -> np.ndarray:
    """Spatially denoise (rank, rows, cols) eigen-images, each at its own noise level."""
    return np.stack([dct_denoise(eigen[i], float(np.sqrt(subspace.eigen_noise[i]))) for i in range(eigen.shape[0])])


def project(data: np.ndarray, valid: np.ndarray, subspace: Subspace) -> np.ndarray:
    """(bands, rows, cols) -> (rank, rows, cols) eigen-images; invalid pixels are set to the mean spectrum."""
    bands, rows, cols = data.shape
    flat = np.where(valid.reshape(-1)[None], data.reshape(bands, -1).astype(np.float64), subspace.mean[:, None])
    return subspace.to_eigenimages(flat).reshape(subspace.rank, rows, cols)


def back_project(eigen: np.ndarray, subspace: Subspace) -> np.ndarray:
    """(rank, rows, cols) -> (bands, rows, cols) in the data's units."""
    rank, rows, cols = eigen.shape
    return subspace.from_eigenimages(eigen.reshape(rank, -1)).reshape(-1, rows, cols)


def fit_scene_subspace(data: np.ndarray, valid: np.ndarray, rank: int = 0, seed: int = 0) -> Subspace:
    """Whitened subspace of the valid pixels of (bands, rows, cols) data; ``rank`` 0 chooses it.

    The automatic rank keeps the eigenvectors above the Marchenko-Pastur noise edge plus
    ``SPATIAL_RANK_MARGIN``: components barely stronger than the noise still carry spatially coherent detail
    that the eigen-image denoiser recovers (measured in docs/benchmarks/denoise.md), and a pure-noise
    eigen-image costs little after spatial denoising.
    """
    if not valid.any():
        raise HsiInputError("The raster has no valid pixel: every pixel is nodata or not finite")
    pixels = _fit_pixels(data, valid, np.random.default_rng(seed))
    if rank > 0:
        return fit_subspace(pixels, rank)
    bands, n = pixels.shape
    full = fit_subspace(pixels, bands)
    edge = 1.05 * (1.0 + np.sqrt(bands / n)) ** 2
    keep = int(min(bands, max(1, int(np.sum(full.eigen_power > edge))) + SPATIAL_RANK_MARGIN))
    return Subspace(
        full.noise_std, full.mean, full.basis[:, :keep], full.eigen_noise[:keep], full.eigen_power[:keep]
    )


def subspace_denoise(
    data: np.ndarray, valid: np.ndarray, subspace: Optional[Subspace] = None, rank: int = 0
) -> np.ndarray:
    """FastHyDe-style denoising of (bands, rows, cols) good-band data; invalid pixels returned unchanged."""
    subspace = subspace or fit_scene_subspace(data, valid, rank)
    restored = back_project(denoise_eigenimages(project(data, valid, subspace), subspace), subspace)
    return np.where(valid[None], restored, data).astype(data.dtype)


def robust_subspace_denoise(
    data: np.ndarray,
    valid: np.ndarray,
    rank: int = 0,
    iterations: int = 3,
    seed: int = 0,
    subspace: Optional[Subspace] = None,
) -> tuple[np.ndarray, np.ndarray, CleanupReport]:
    """Structured-noise clean-up, then FastHyDe-style denoising that re-estimates the missing values.

    Returns ``(denoised, repaired, report)``: ``repaired`` is the noisy data with stripes removed and the
    flagged values inpainted (the input of the network denoisers). With ``subspace`` (e.g. fitted on the whole
    scene) that subspace is used instead of one fitted on ``data``.

    Flagged values (dead lines, stuck values, impulses) are inpainted: each pass denoises the whole cube and
    replaces them by the result, so they are filled from both the spectral subspace and the spatial denoiser.
    """
    filled, missing, report = remove_structured_noise(data, valid, seed)
    passes = iterations if missing.any() else 1
    for _ in range(passes):
        fitted = subspace or fit_scene_subspace(filled, valid, rank, seed)
        restored = subspace_denoise(filled, valid, fitted)
        filled = np.where(missing, restored, filled)
    return np.where(valid[None], restored, data).astype(data.dtype), filled, report
