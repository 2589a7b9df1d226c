"""MTF-matched decimation and bicubic interpolation between a coarse grid and a grid ``ratio`` times finer.

Coarse pixel i is sampled at fine-grid coordinate ``offset + i * ratio``. For real rasters the coarse pixel centre
is at ``(ratio - 1) / 2`` (:func:`centre_offset`, the default); images made by ``degradation.wald_degrade`` are
sampled at ``ratio // 2`` (:func:`wald_offset`). Both operators are separable matrices along rows and columns with
half-sample reflection at the borders. Used by pansharpening and its quality indices.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .errors import HsiInputError


def centre_offset(ratio: int) -> float:
    """Fine-grid coordinate of the centre of coarse pixel 0 (coarse pixel = ratio x ratio fine pixels)."""
    return (ratio - 1) / 2.0


def wald_offset(ratio: int) -> float:
    """Sample position used by ``core.degradation.wald_degrade``."""
    return float(ratio // 2)


# --- shared geometry: interpolation and MTF-matched decimation ----------------------------------------------


def _keys_cubic(t: np.ndarray) -> np.ndarray:
    t = np.abs(t)
    a = -0.5
    return np.where(
        t <= 1, (a + 2) * t**3 - (a + 3) * t**2 + 1, np.where(t < 2, a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a, 0.0)
    )


def _reflect(index: np.ndarray, size: int) -> np.ndarray:
    """Symmetric (half-sample) reflection of integer indices into 0..size-1."""
    period = 2 * size
    index = np.mod(index, period)
    return np.where(index >= size, period - 1 - index, index)


def interpolation_matrix(size: int, ratio: int, offset: float) -> np.ndarray:
    """(size * ratio, size) bicubic interpolation matrix; coarse sample i sits at fine coordinate offset + i ratio."""
    fine = (np.arange(size * ratio) - offset) / ratio
    base = np.floor(fine).astype(int)
    matrix = np.zeros((size * ratio, size))
    rows = np.arange(size * ratio)
    for shift in (-1, 0, 1, 2):
        taps = base + shift
        np.add.at(matrix, (rows, _reflect(taps, size)), _keys_cubic(fine - taps))
    return matrix


def interpolate(image: np.ndarray, ratio: int, offset: Optional[float] = None) -> np.ndarray:
    """Bicubic up-sampling by ``ratio`` of (bands, h, w) or (h, w)."""
    offset = centre_offset(ratio) if offset is None else offset
    rows = interpolation_matrix(image.shape[-2], ratio, offset)
    cols = interpolation_matrix(image.shape[-1], ratio, offset)
    return np.einsum("Rr,...rc,Cc->...RC", rows, np.asarray(image, dtype=np.float64), cols, optimize=True)


def mtf_taps(ratio: int, gain: float, offset: float) -> tuple:
    """1-D Gaussian MTF taps (response ``gain`` at the coarse Nyquist frequency) centred on a coarse sample.

    Returns (taps, first): coarse sample i is sum_k taps[k] * fine[first + i * ratio + k]. A half-integer
    ``offset`` (even ratio, pixel centres) gives an even-length kernel sampled at half-integer distances.
    """
    if not 0 < gain < 1:
        raise HsiInputError(f"MTF gain at Nyquist must be in (0, 1); got {gain}")
    std = ratio * np.sqrt(-2.0 * np.log(gain)) / np.pi
    half = int(np.ceil(5 * std))
    first = int(np.floor(offset)) - half
    positions = np.arange(first, int(np.ceil(offset)) + half + 1)
    taps = np.exp(-0.5 * ((positions - offset) / std) ** 2)
    return taps / taps.sum(), first


def decimation_matrix(size: int, ratio: int, gain: float, offset: float) -> np.ndarray:
    """(size // ratio, size) matrix of the MTF-matched blur and decimation along one axis (reflected borders)."""
    taps, first = mtf_taps(ratio, gain, offset)
    count = size // ratio
    matrix = np.zeros((count, size))
    index = first + ratio * np.arange(count)[:, None] + np.arange(taps.size)[None, :]
    np.add.at(matrix, (np.repeat(np.arange(count), taps.size), _reflect(index, size).ravel()), np.tile(taps, count))
    return matrix


def mtf_degrade(image: np.ndarray, ratio: int, gain: float, offset: Optional[float] = None) -> np.ndarray:
    """MTF-matched Gaussian blur and decimation by ``ratio`` of (bands, H, W) or (H, W); reflection at borders."""
    offset = centre_offset(ratio) if offset is None else offset
    rows = decimation_matrix(image.shape[-2], ratio, gain, offset)
    cols = decimation_matrix(image.shape[-1], ratio, gain, offset)
    return np.einsum("rR,...RC,cC->...rc", rows, np.asarray(image, dtype=np.float64), cols, optimize=True)


def low_pass(image: np.ndarray, ratio: int, gain: float, offset: Optional[float] = None) -> np.ndarray:
    """The GLP low-pass: MTF degradation followed by bicubic interpolation back to the fine grid."""
    return interpolate(mtf_degrade(image, ratio, gain, offset), ratio, offset)
