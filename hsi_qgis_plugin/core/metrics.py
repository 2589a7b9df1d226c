"""Full-reference quality metrics for hyperspectral images shaped (bands, rows, cols).

Definitions follow the hyperspectral pansharpening toolbox and the HSI denoising literature:
PSNR, SSIM (Wang et al. 2004), SAM, ERGAS and Q2^n (Garzelli & Nencini 2009).
Every metric is computed in float64; inputs are never modified.

Common options:

* ``mask`` (rows, cols), True = valid pixel. PSNR, ERGAS and SAM use the valid pixels only.
  SSIM and Q2^n work on windows, so invalid pixels of the estimate take the reference values
  there (they count as perfect, not as errors); where the reference itself is NaN/inf outside
  the valid area, both images take the band's mean over the valid pixels.
* ``band_mask`` (bands,), True = band included (bad bands excluded). Excluded bands are left
  out of every metric; per-band results hold NaN for them so that band numbers are kept.
* ``data_range`` (PSNR, SSIM): default max - min of the reference over the included bands and
  valid pixels; for images scaled to [0, 1] this is about 1, the usual HSI-denoising convention.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np
from scipy import ndimage

from .errors import HsiInputError

_SSIM_WINDOW = 11
_SSIM_SIGMA = 1.5
_SSIM_K1 = 0.01
_SSIM_K2 = 0.03


class _Pair(NamedTuple):
    """A validated reference/estimate pair restricted to the included bands."""

    reference: np.ndarray  # (selected bands, rows, cols) float64, invalid pixels filled
    estimate: np.ndarray  # same shape; equals the reference on invalid pixels
    valid: np.ndarray  # (rows, cols) bool
    bands: np.ndarray  # (bands,) bool, the included bands of the input


def _as_image(array, name: str) -> np.ndarray:
    try:
        image = np.array(array, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise HsiInputError(f"{name} is not a numeric array: {exc}") from exc
    if image.ndim != 3:
        raise HsiInputError(f"{name} must be a 3-D array (bands, rows, cols); got shape {image.shape}")
    return image


def _prepare(reference, estimate, mask=None, band_mask=None) -> _Pair:
    """Validate the inputs and return float64 copies ready for every metric."""
    ref = _as_image(reference, "REFERENCE")
    est = _as_image(estimate, "ESTIMATE")
    if ref.shape != est.shape:
        raise HsiInputError(f"REFERENCE and ESTIMATE have different shapes: {ref.shape} vs {est.shape}")
    n_bands, rows, cols = ref.shape

    valid = np.ones((rows, cols), bool) if mask is None else np.asarray(mask).astype(bool)
    if valid.shape != (rows, cols):
        raise HsiInputError(f"MASK must have shape (rows, cols) = {(rows, cols)}; got {valid.shape}")
    if not valid.any():
        raise HsiInputError("MASK excludes every pixel: nothing left to compare")

    bands = np.ones(n_bands, bool) if band_mask is None else np.asarray(band_mask).astype(bool)
    if bands.shape != (n_bands,):
        raise HsiInputError(f"BAND_MASK must have one entry per band ({n_bands}); got shape {bands.shape}")
    if not bands.any():
        raise HsiInputError("BAND_MASK excludes every band: nothing left to compare")
    ref, est = ref[bands], est[bands]
    band_numbers = np.flatnonzero(bands) + 1

    for name, image in (("REFERENCE", ref), ("ESTIMATE", est)):
        bad = ~np.isfinite(image[:, valid]).all(axis=1)
        if bad.any():
            raise HsiInputError(
                f"{name} contains NaN or infinite values in valid pixels of band {band_numbers[bad][0]}; "
                "exclude those pixels with MASK or the band with BAND_MASK"
            )

    invalid = ~valid
    if invalid.any():
        outside = ref[:, invalid]
        band_means = ref[:, valid].mean(axis=1)
        ref[:, invalid] = np.where(np.isfinite(outside), outside, band_means[:, None])
        est[:, invalid] = ref[:, invalid]
    return _Pair(ref, est, valid, bands)


def _expand(values: np.ndarray, bands: np.ndarray) -> np.ndarray:
    """Per-band values of the included bands -> one value per input band, NaN for excluded bands."""
    out = np.full(bands.shape, np.nan)
    out[bands] = values
    return out


def _resolve_data_range(pair: _Pair, data_range) -> float:
    if data_range is None:
        values = pair.reference[:, pair.valid]
        peak = float(values.max() - values.min())
        if peak <= 0:
            raise HsiInputError("REFERENCE is constant, so its data range is zero: give DATA_RANGE explicitly")
        return peak
    peak = float(data_range)
    if not np.isfinite(peak) or peak <= 0:
        raise HsiInputError(f"DATA_RANGE must be > 0; got {data_range}")
    return peak


def _mse(pair: _Pair) -> np.ndarray:
    diff = pair.reference[:, pair.valid] - pair.estimate[:, pair.valid]
    return np.mean(diff * diff, axis=1)


def _mean_finite(values: np.ndarray) -> float:
    """Mean of the finite values; inf if every value is +inf (perfect bands)."""
    finite = values[np.isfinite(values)]
    if finite.size:
        return float(finite.mean())
    return float("inf") if np.any(values == np.inf) else float("nan")


# --- PSNR ------------------------------------------------------------------------------------


def _psnr(pair: _Pair, peak: float) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(peak * peak / _mse(pair))


def psnr_per_band(reference, estimate, data_range=None, mask=None, band_mask=None) -> np.ndarray:
    """PSNR per band in dB, 10 log10(data_range^2 / MSE_b); +inf for identical bands."""
    pair = _prepare(reference, estimate, mask, band_mask)
    return _expand(_psnr(pair, _resolve_data_range(pair, data_range)), pair.bands)


# --- SSIM ------------------------------------------------------------------------------------


def _ssim_window() -> np.ndarray:
    offsets = np.arange(_SSIM_WINDOW) - _SSIM_WINDOW // 2
    weights = np.exp(-0.5 * (offsets / _SSIM_SIGMA) ** 2)
    return weights / weights.sum()


def _ssim(ref: np.ndarray, est: np.ndarray, peak: float) -> np.ndarray:
    rows, cols = ref.shape[1:]
    if min(rows, cols) < _SSIM_WINDOW:
        raise HsiInputError(
            f"SSIM needs images of at least {_SSIM_WINDOW} x {_SSIM_WINDOW} pixels; got {rows} x {cols}"
        )
    window = _ssim_window()
    half = _SSIM_WINDOW // 2

    def local_mean(image: np.ndarray) -> np.ndarray:
        # separable Gaussian window, keeping only the 'valid' area (no padded pixels involved)
        filtered = ndimage.correlate1d(image, window, axis=1, mode="constant")
        filtered = ndimage.correlate1d(filtered, window, axis=2, mode="constant")
        return filtered[:, half:-half, half:-half]

    mu_x, mu_y = local_mean(ref), local_mean(est)
    var_x = local_mean(ref * ref) - mu_x * mu_x
    var_y = local_mean(est * est) - mu_y * mu_y
    cov = local_mean(ref * est) - mu_x * mu_y
    c1 = (_SSIM_K1 * peak) ** 2
    c2 = (_SSIM_K2 * peak) ** 2
    numerator = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    ssim_map = numerator / ((mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2))
    return ssim_map.mean(axis=(1, 2))


def ssim_per_band(reference, estimate, data_range=None, mask=None, band_mask=None) -> np.ndarray:
    """SSIM per band: 11x11 Gaussian window (sigma 1.5), K1=0.01, K2=0.03, mean over the 'valid' map."""
    pair = _prepare(reference, estimate, mask, band_mask)
    peak = _resolve_data_range(pair, data_range)
    return _expand(_ssim(pair.reference, pair.estimate, peak), pair.bands)


# --- SAM -------------------------------------------------------------------------------------


def _sam_map(pair: _Pair) -> np.ndarray:
    ref, est = pair.reference, pair.estimate
    dot = np.einsum("brc,brc->rc", ref, est)
    norms = np.sqrt(np.einsum("brc,brc->rc", ref, ref) * np.einsum("brc,brc->rc", est, est))
    usable = pair.valid & (norms > 0)
    angles = np.full(norms.shape, np.nan)
    angles[usable] = np.degrees(np.arccos(np.clip(dot[usable] / norms[usable], -1.0, 1.0)))
    return angles


def sam_map_degrees(reference, estimate, mask=None, band_mask=None) -> np.ndarray:
    """Spectral angle per pixel in degrees, (rows, cols); NaN for invalid pixels and zero spectra."""
    return _sam_map(_prepare(reference, estimate, mask, band_mask))


def _sam(pair: _Pair) -> float:
    angles = _sam_map(pair)
    defined = np.isfinite(angles)
    return float(angles[defined].mean()) if defined.any() else float("nan")


def sam_degrees(reference, estimate, mask=None, band_mask=None) -> float:
    """Mean spectral angle in degrees.

    Pixels where either spectrum has zero norm have no angle: they are excluded from the mean
    (NaN if no pixel is left).
    """
    return _sam(_prepare(reference, estimate, mask, band_mask))


# --- ERGAS -----------------------------------------------------------------------------------


def _ergas(pair: _Pair, ratio: float) -> float:
    ratio = float(ratio)
    if not np.isfinite(ratio) or ratio <= 0:
        raise HsiInputError(f"RATIO must be > 0; got {ratio}")
    band_means = pair.reference[:, pair.valid].mean(axis=1)
    usable = band_means != 0
    if not usable.any():
        return float("nan")
    relative = _mse(pair)[usable] / band_means[usable] ** 2
    return float(100.0 / ratio * np.sqrt(relative.mean()))


def ergas(reference, estimate, ratio: float = 1.0, mask=None, band_mask=None) -> float:
    """ERGAS = (100 / ratio) sqrt(mean_b MSE_b / mu_b^2), mu_b the mean of reference band b.

    ``ratio`` is the resolution ratio (1 for denoising). Bands whose reference mean is zero have
    no relative error and are skipped (NaN if no band is left).
    """
    return _ergas(_prepare(reference, estimate, mask, band_mask), ratio)


# --- Q2^n ------------------------------------------------------------------------------------


def hypercomplex_conjugate(x: np.ndarray) -> np.ndarray:
    """Cayley-Dickson conjugate of hypercomplex numbers stored as x[component, ...]."""
    if x.shape[0] == 1:
        return x.copy()
    half = x.shape[0] // 2
    return np.concatenate([hypercomplex_conjugate(x[:half]), -x[half:]])


def hypercomplex_multiply(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Cayley-Dickson product of hypercomplex numbers stored as x[component, ...] (2^n components).

    (a, b)(c, d) = (ac - d* b, da + b c*), applied recursively on the halves and vectorised over
    the trailing (pixel) axes.
    """
    if x.shape[0] != y.shape[0] or x.shape[0] & (x.shape[0] - 1):
        raise HsiInputError(
            f"hypercomplex operands need the same power-of-two component count; got {x.shape[0]} and {y.shape[0]}"
        )
    if x.shape[0] == 1:
        return x * y
    half = x.shape[0] // 2
    a, b, c, d = x[:half], x[half:], y[:half], y[half:]
    return np.concatenate([
        hypercomplex_multiply(a, c) - hypercomplex_multiply(hypercomplex_conjugate(d), b),
        hypercomplex_multiply(d, a) + hypercomplex_multiply(b, hypercomplex_conjugate(c)),
    ])


@lru_cache(maxsize=None)
def _conjugate_product_table(components: int) -> np.ndarray:
    """table[k, i] = component k of e_i * conj(e_(i xor k)).

    Cayley-Dickson basis elements multiply as e_i e_j = +-e_(i xor j), so the product
    e_i * conj(sum_j e_j) carries e_i * conj(e_(i xor k)) in component k.
    """
    basis = np.eye(components)
    table = hypercomplex_multiply(basis, hypercomplex_conjugate(np.ones((components, components))))
    table.setflags(write=False)
    return table


def _block_starts(size: int, block_size: int, shift: int) -> tuple[list[int], int]:
    """Block origins along one axis and the block length; the last block is aligned to the edge."""
    if size <= block_size:
        return [0], size
    starts = list(range(0, size - block_size + 1, shift))
    if starts[-1] + block_size < size:
        starts.append(size - block_size)
    return starts, block_size


def _q_block(ref: np.ndarray, est: np.ndarray, components: int) -> float:
    """Hypercomplex quality index of one block; ref, est shaped (bands, pixels)."""
    if not np.ptp(ref, axis=1).any() and not np.ptp(est, axis=1).any():
        return 1.0 if np.array_equal(ref, est) else 0.0

    # zero-pad to 2^n bands, then per band z-score with the reference statistics, plus one
    pixels = ref.shape[1]
    x = np.zeros((components, pixels))
    y = np.zeros((components, pixels))
    x[: ref.shape[0]] = ref
    y[: est.shape[0]] = est
    centre = x.mean(axis=1, keepdims=True)
    scale = np.where(np.ptp(x, axis=1) > 0, x.std(axis=1), 1.0)[:, None]
    x = (x - centre) / scale + 1.0
    y = (y - centre) / scale + 1.0

    mean_x, mean_y = x.mean(axis=1), y.mean(axis=1)
    dev_x, dev_y = x - mean_x[:, None], y - mean_y[:, None]
    var_x = np.sum(dev_x * dev_x) / pixels
    var_y = np.sum(dev_y * dev_y) / pixels
    # E[dx * conj(dy)] from the cross moments E[dx_i dy_j] (the product is bilinear)
    moments = dev_x @ dev_y.T / pixels
    index = np.arange(components)
    paired = moments[index[None, :], index[None, :] ^ index[:, None]]  # paired[k, i] = moments[i, i xor k]
    covariance = np.sum(_conjugate_product_table(components) * paired, axis=1)
    norm_x2, norm_y2 = np.sum(mean_x * mean_x), np.sum(mean_y * mean_y)
    return float(
        4.0 * np.linalg.norm(covariance) * np.sqrt(norm_x2 * norm_y2) / ((var_x + var_y) * (norm_x2 + norm_y2))
    )


def _q2n(ref: np.ndarray, est: np.ndarray, block_size: int, shift: int) -> float:
    if int(block_size) != block_size or block_size < 2:
        raise HsiInputError(f"BLOCK_SIZE must be an integer >= 2; got {block_size}")
    if int(shift) != shift or shift < 1:
        raise HsiInputError(f"SHIFT must be an integer >= 1; got {shift}")
    n_bands, rows, cols = ref.shape
    components = 1 << (n_bands - 1).bit_length()
    row_starts, block_rows = _block_starts(rows, int(block_size), int(shift))
    col_starts, block_cols = _block_starts(cols, int(block_size), int(shift))
    qualities = [
        _q_block(
            ref[:, r:r + block_rows, c:c + block_cols].reshape(n_bands, -1),
            est[:, r:r + block_rows, c:c + block_cols].reshape(n_bands, -1),
            components,
        )
        for r in row_starts
        for c in col_starts
    ]
    return float(np.mean(qualities))


def q2n(reference, estimate, block_size: int = 32, shift: int = 32, mask=None, band_mask=None) -> float:
    """Q2^n hypercomplex quality index (Garzelli & Nencini 2009), range 0..1, 1 = identical.

    Bands are zero-padded to the next power of two 2^n and each pixel becomes a 2^n-component
    Cayley-Dickson hypercomplex number. Blocks of block_size x block_size pixels start every
    ``shift`` pixels; the last block along an axis is aligned to the image edge so every pixel is
    covered, and an axis shorter than a block gives one block spanning it. In each block every
    (padded) band of both images is mapped with the reference band's z-score (mean and std over
    the block, std 0 -> 1) plus one, then

        Q = 4 |sigma_xy| |m_x| |m_y| / ((sigma_x^2 + sigma_y^2) (|m_x|^2 + |m_y|^2)),

    sigma_xy = E[(x - m_x) conj(y - m_y)] (hypercomplex), |.| the hypercomplex modulus. Blocks
    where both images are constant give Q = 1 if identical, else 0. The result is the mean of Q
    over blocks.
    """
    pair = _prepare(reference, estimate, mask, band_mask)
    return _q2n(pair.reference, pair.estimate, block_size, shift)


# --- all metrics -----------------------------------------------------------------------------


def assess(reference, estimate, ratio: float = 1.0, data_range=None, mask=None, band_mask=None) -> dict:
    """Every metric at once; scalars are python floats, per-band values lists (NaN = band excluded)."""
    pair = _prepare(reference, estimate, mask, band_mask)
    peak = _resolve_data_range(pair, data_range)
    psnr = _psnr(pair, peak)
    ssim = _ssim(pair.reference, pair.estimate, peak)
    return {
        "MPSNR": _mean_finite(psnr),
        "MSSIM": float(ssim.mean()),
        "SAM": _sam(pair),
        "ERGAS": _ergas(pair, ratio),
        "Q2N": _q2n(pair.reference, pair.estimate, 32, 32),
        "PSNR_PER_BAND": _expand(psnr, pair.bands).tolist(),
        "SSIM_PER_BAND": _expand(ssim, pair.bands).tolist(),
        "data_range": peak,
    }
