"""No-reference quality of a pansharpened cube: D_lambda (Khan), D_s by regression, and HQNR.

Reduced-resolution (Wald) quality reuses :mod:`core.metrics` (ERGAS, SAM, Q2n) through :func:`reduced_resolution`.

* D_lambda (Khan's protocol): 1 - Q2n(MTF-degraded fused cube, original coarse cube); the fused cube is blurred with
  the hyperspectral sensor's Gaussian MTF (gain at Nyquist) and decimated at the coarse pixel positions.
* D_s (regression): 1 - R^2 of the least-squares fit of the PAN on the fused bands (plus a constant) at full
  resolution, R^2 = 1 - var(residual) / var(PAN).
* HQNR = (1 - D_lambda) (1 - D_s); 1 is ideal.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from . import metrics
from .errors import HsiInputError
from .mtf import mtf_degrade


def _shapes(fused: np.ndarray, hs_lr: np.ndarray, ratio: int) -> None:
    if fused.ndim != 3 or hs_lr.ndim != 3 or fused.shape[0] != hs_lr.shape[0]:
        raise HsiInputError(f"FUSED {fused.shape} and HS {hs_lr.shape} must be (bands, rows, cols) with equal bands")
    if fused.shape[1:] != (hs_lr.shape[1] * ratio, hs_lr.shape[2] * ratio):
        raise HsiInputError(
            f"FUSED is {fused.shape[1]} x {fused.shape[2]} pixels; at ratio {ratio} the {hs_lr.shape[1]} x "
            f"{hs_lr.shape[2]} HS raster needs {hs_lr.shape[1] * ratio} x {hs_lr.shape[2] * ratio}"
        )


def d_lambda_khan(
    fused, hs_lr, ratio: int, gain: float = 0.3, offset: Optional[float] = None, block_size: int = 32
) -> float:
    """Spectral distortion 1 - Q2n(MTF-degraded fused, coarse HS), 0 = ideal."""
    fused = np.asarray(fused, dtype=np.float64)
    hs_lr = np.asarray(hs_lr, dtype=np.float64)
    _shapes(fused, hs_lr, ratio)
    degraded = mtf_degrade(fused, ratio, gain, offset)
    return 1.0 - metrics.q2n(hs_lr, degraded, block_size=block_size, shift=block_size)


def d_s_regression(fused, pan) -> float:
    """Spatial distortion 1 - R^2 of the PAN regressed on the fused bands (with intercept), 0 = ideal."""
    fused = np.asarray(fused, dtype=np.float64)
    pan = np.asarray(pan, dtype=np.float64)
    if pan.shape != fused.shape[1:]:
        raise HsiInputError(f"PAN {pan.shape} and FUSED {fused.shape[1:]} must share one grid")
    target = pan.ravel() - pan.mean()
    total = float(target @ target)
    if total <= 0:
        raise HsiInputError("PAN is constant: its regression on the fused bands is undefined")
    design = fused.reshape(fused.shape[0], -1).T
    design = design - design.mean(axis=0)
    coefficients = np.linalg.lstsq(design, target, rcond=None)[0]
    residual = target - design @ coefficients
    return float(np.clip(residual @ residual / total, 0.0, 1.0))


def hqnr(fused, hs_lr, pan, ratio: int, gain: float = 0.3, offset: Optional[float] = None) -> dict:
    """D_lambda (Khan), D_s (regression) and HQNR as a dict with keys D_LAMBDA, D_S, HQNR."""
    d_lambda = d_lambda_khan(fused, hs_lr, ratio, gain, offset)
    d_s = d_s_regression(fused, pan)
    return {"D_LAMBDA": d_lambda, "D_S": d_s, "HQNR": (1.0 - d_lambda) * (1.0 - d_s)}


def reduced_resolution(reference, fused, ratio: int, mask=None, band_mask=None) -> dict:
    """Wald-protocol indices against a reference on the fused grid: ERGAS, SAM (degrees), Q2n."""
    return {
        "ERGAS": metrics.ergas(reference, fused, ratio, mask, band_mask),
        "SAM": metrics.sam_degrees(reference, fused, mask, band_mask),
        "Q2N": metrics.q2n(reference, fused, mask=mask, band_mask=band_mask),
    }
