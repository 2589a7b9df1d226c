"""Classical hyperspectral pansharpening on in-memory arrays (hyperspectral review toolbox family).

Arrays: ``hs_lr`` (bands, h, w) at the coarse resolution, ``pan`` (h * ratio, w * ratio) at the fine one; every
method returns the fused cube (bands, h * ratio, w * ratio) in float64.

Geometry (``offset``, MTF-matched low-pass, bicubic interpolator) comes from :mod:`core.mtf`; the interpolator and
the low-pass use the same sample positions, so a scene whose bands are a scaled PAN is recovered exactly.

Methods (Vivone et al. / Ciotola et al. hyperspectral pansharpening review):

* ``exp``: bicubic interpolation only (Keys, a = -0.5).
* ``gsa``: adaptive Gram-Schmidt; intensity = least-squares combination of the bands (plus a constant) that best
  fits the MTF-degraded PAN, injection gains cov(I, HS_b) / var(I).
* ``bth``: Brovey with haze correction; haze = minimum less 5 % of the range of each interpolated band and of the
  intensity, PAN equalised to the intensity through its low-pass version, ratio injection.
* ``glp_hpm``: MTF-matched generalised Laplacian pyramid with high-pass modulation, ratio clipped to [0, 10];
  optional per-band PAN equalisation.
* ``glp_fs``: MTF-GLP with full-scale regression gains cov(HS_b, P) / cov(P_low, P).
"""
from __future__ import annotations

from typing import Callable, Dict, Optional

import numpy as np

from ...core.errors import HsiInputError
from ...core.mtf import interpolate, low_pass, mtf_degrade

CLASSICAL_METHODS = ("exp", "gsa", "bth", "glp_hpm", "glp_fs")
METHOD_NAMES = {
    "exp": "EXP (bicubic interpolation)",
    "gsa": "GSA (adaptive Gram-Schmidt)",
    "bth": "BT-H (Brovey with haze correction)",
    "glp_hpm": "MTF-GLP-HPM (high-pass modulation)",
    "glp_fs": "MTF-GLP-FS (full-scale regression)",
}
# Gain of the hyperspectral sensor's MTF at the Nyquist frequency of its own grid: PRISMA 0.3 as in the review
# toolbox, Hyperion 0.27 as commonly used for EO-1; EnMAP and DESIS have no widely used value and take the
# generic 0.3.
SENSOR_MTF_GAINS = {"generic": 0.30, "prisma": 0.30, "enmap": 0.30, "hyperion": 0.27, "desis": 0.30}
HPM_CLIP = 10.0
HAZE_MARGIN = 0.05


# --- methods ---------------------------------------------------------------------------------------------------


def _check(hs_lr: np.ndarray, pan: np.ndarray, ratio: int) -> tuple:
    hs_lr = np.asarray(hs_lr, dtype=np.float64)
    pan = np.asarray(pan, dtype=np.float64)
    if hs_lr.ndim != 3 or pan.ndim != 2:
        raise HsiInputError(f"expected HS (bands, rows, cols) and PAN (rows, cols); got {hs_lr.shape} and {pan.shape}")
    if int(ratio) != ratio or ratio < 2:
        raise HsiInputError(f"the resolution ratio must be an integer >= 2; got {ratio}")
    if pan.shape != (hs_lr.shape[1] * ratio, hs_lr.shape[2] * ratio):
        raise HsiInputError(
            f"PAN is {pan.shape[0]} x {pan.shape[1]} pixels but the HS raster ({hs_lr.shape[1]} x {hs_lr.shape[2]}) "
            f"at ratio {ratio} needs {hs_lr.shape[1] * ratio} x {hs_lr.shape[2] * ratio}"
        )
    if not (np.isfinite(hs_lr).all() and np.isfinite(pan).all()):
        raise HsiInputError("HS or PAN contains NaN or infinite values; fill nodata before pansharpening")
    return hs_lr, pan


def _cov(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Covariance of the last two axes of a with b (broadcast), over pixels."""
    a = a - a.mean(axis=(-2, -1), keepdims=True)
    b = b - b.mean(axis=(-2, -1), keepdims=True)
    return (a * b).mean(axis=(-2, -1))


def exp(hs_lr, pan, ratio, gain=0.3, offset=None) -> np.ndarray:
    """Bicubic interpolation (no sharpening)."""
    hs_lr, pan = _check(hs_lr, pan, ratio)
    return interpolate(hs_lr, ratio, offset)


def gsa(hs_lr, pan, ratio, gain=0.3, offset=None) -> np.ndarray:
    """Adaptive Gram-Schmidt: regression intensity, covariance gains, additive injection."""
    hs_lr, pan = _check(hs_lr, pan, ratio)
    up = interpolate(hs_lr, ratio, offset)
    pan_lr = mtf_degrade(pan, ratio, gain, offset)
    design = np.concatenate([hs_lr.reshape(hs_lr.shape[0], -1), np.ones((1, pan_lr.size))]).T
    weights = np.linalg.lstsq(design, pan_lr.ravel(), rcond=None)[0]
    intensity = np.tensordot(weights[:-1], up, axes=1) + weights[-1]
    variance = max(float(intensity.var()), 1e-300)
    gains = _cov(up, intensity) / variance
    return up + gains[:, None, None] * (pan - intensity)[None]


def bth(hs_lr, pan, ratio, gain=0.3, offset=None) -> np.ndarray:
    """Brovey transform with haze correction.

    Haze of each interpolated band and of the intensity = its minimum less 5 % of its range, so the intensity
    above its haze never drops below 5 % of its range and the Brovey ratio stays bounded.
    """
    hs_lr, pan = _check(hs_lr, pan, ratio)
    up = interpolate(hs_lr, ratio, offset)
    pan_lr = mtf_degrade(pan, ratio, gain, offset)
    weights = np.linalg.lstsq(hs_lr.reshape(hs_lr.shape[0], -1).T, pan_lr.ravel(), rcond=None)[0]
    intensity = np.tensordot(weights, up, axes=1)
    haze = up.min(axis=(1, 2)) - HAZE_MARGIN * np.ptp(up, axis=(1, 2))
    pan_haze = intensity.min() - HAZE_MARGIN * max(float(np.ptp(intensity)), 1e-300)
    pan_low = interpolate(pan_lr, ratio, offset)
    spread = max(float(pan_low.std()), 1e-300)
    equalised = (pan - pan_low.mean()) * intensity.std() / spread + intensity.mean()
    modulation = (equalised - pan_haze) / (intensity - pan_haze)
    return (up - haze[:, None, None]) * modulation[None] + haze[:, None, None]


def glp_hpm(hs_lr, pan, ratio, gain=0.3, offset=None, equalise_pan: bool = False) -> np.ndarray:
    """MTF-GLP with high-pass modulation: HS_b * P_b / low_pass(P_b), ratio clipped to [0, 10].

    ``equalise_pan`` matches the PAN's mean and std to each band first (through the PAN's low-pass version);
    it hurts when the PAN is a mean of the bands (the modulation then gets an offset).
    """
    hs_lr, pan = _check(hs_lr, pan, ratio)
    up = interpolate(hs_lr, ratio, offset)
    pan_low = low_pass(pan, ratio, gain, offset)
    if equalise_pan:
        scale = up.std(axis=(1, 2)) / max(float(pan_low.std()), 1e-300)
        shift = up.mean(axis=(1, 2)) - scale * pan_low.mean()
        pans = scale[:, None, None] * pan[None] + shift[:, None, None]
        lows = scale[:, None, None] * pan_low[None] + shift[:, None, None]
    else:
        pans, lows = pan[None], pan_low[None]
    with np.errstate(divide="ignore", invalid="ignore"):
        modulation = np.where(np.abs(lows) > 1e-12, pans / lows, 1.0)
    return up * np.clip(modulation, 0.0, HPM_CLIP)


def glp_fs(hs_lr, pan, ratio, gain=0.3, offset=None) -> np.ndarray:
    """MTF-GLP with full-scale regression injection gains cov(HS_b, P) / cov(P_low, P)."""
    hs_lr, pan = _check(hs_lr, pan, ratio)
    up = interpolate(hs_lr, ratio, offset)
    pan_low = low_pass(pan, ratio, gain, offset)
    denominator = float(_cov(pan_low, pan))
    gains = _cov(up, pan) / denominator if abs(denominator) > 1e-300 else np.zeros(up.shape[0])
    return up + gains[:, None, None] * (pan - pan_low)[None]


CLASSICAL: Dict[str, Callable[..., np.ndarray]] = {
    "exp": exp,
    "gsa": gsa,
    "bth": bth,
    "glp_hpm": glp_hpm,
    "glp_fs": glp_fs,
}


def classical_pansharpen(
    method: str, hs_lr, pan, ratio: int, gain: float = 0.3, offset: Optional[float] = None, **options
) -> np.ndarray:
    """Run one classical method by name (see :data:`CLASSICAL_METHODS`)."""
    if method not in CLASSICAL:
        raise HsiInputError(f"unknown pansharpening method {method!r}; choose one of {', '.join(CLASSICAL)}")
    return CLASSICAL[method](hs_lr, pan, ratio, gain, offset, **options)
