"""Spectral subspace tools: noise estimation and signal-subspace identification (HySime-style).

Bioucas-Dias & Nascimento, "Hyperspectral Subspace Identification", IEEE TGRS 46(8), 2008.
Pixels are columns: ``pixels`` is (bands, n).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ...core.errors import HsiInputError


def estimate_noise_std(pixels: np.ndarray, max_neighbours: int = 30) -> np.ndarray:
    """Per-band noise std by regressing each band on its nearest bands (HySime's multiple regression).

    Regressing on all other bands over-fits when pixels are few (a 32 x 32 tile of a 224-band image), so each
    band uses at most ``max_neighbours`` spectral neighbours and no more than one per 20 pixels; the residual
    variance is corrected for the fitted degrees of freedom.
    """
    y = np.asarray(pixels, dtype=np.float64)
    bands, n = y.shape
    count = int(min(bands - 1, max(1, n // 20), max_neighbours))
    if n <= count + 2:
        raise HsiInputError(f"Too few valid pixels ({n}) to estimate the noise level")
    std = np.empty(bands)
    ones = np.ones((n, 1))
    for i in range(bands):
        neighbours = np.argsort(np.abs(np.arange(bands) - i), kind="stable")[1:count + 1]
        design = np.hstack([y[neighbours].T, ones])
        beta, *_ = np.linalg.lstsq(design, y[i], rcond=None)
        residual = y[i] - design @ beta
        std[i] = np.sqrt(residual @ residual / (n - count - 1))
    return std


@dataclass
class Subspace:
    """A signal subspace fitted on noise-whitened spectra.

    Bands are divided by ``noise_std`` and centred on ``mean``; ``basis`` (bands, rank) spans the signal.
    ``eigen_noise`` and ``eigen_power`` are the noise variance and total power of each eigen-image.
    """

    noise_std: np.ndarray
    mean: np.ndarray
    basis: np.ndarray
    eigen_noise: np.ndarray
    eigen_power: np.ndarray

    @property
    def rank(self) -> int:
        return self.basis.shape[1]

    def to_eigenimages(self, pixels: np.ndarray) -> np.ndarray:
        """(bands, n) -> (rank, n) coefficients in the whitened, centred subspace."""
        return self.basis.T @ ((pixels - self.mean[:, None]) / self.noise_std[:, None])

    def from_eigenimages(self, coefficients: np.ndarray) -> np.ndarray:
        """(rank, n) -> (bands, n) spectra in the original units."""
        return (self.basis @ coefficients) * self.noise_std[:, None] + self.mean[:, None]


def fit_subspace(pixels: np.ndarray, rank: int = 0, max_rank: Optional[int] = None) -> Subspace:
    """Fit a signal subspace to (bands, n) spectra; ``rank`` 0 chooses it automatically.

    The spectra are whitened by the per-band noise std (so band-dependent noise is handled, as in FastHyDe),
    which makes the noise power 1 along every direction. HySime's minimum-error rule then keeps the
    eigenvectors whose power exceeds twice the noise power, and, since sample eigenvalues of pure noise spread
    up to the Marchenko-Pastur edge (1 + sqrt(bands / n))^2, also above that edge.
    """
    y = np.asarray(pixels, dtype=np.float64)
    bands, n = y.shape
    if bands < 2:
        raise HsiInputError("Subspace methods need at least 2 good bands")
    if n < bands + 1:
        raise HsiInputError(f"Too few valid pixels ({n}) to estimate a {bands}-band subspace; need at least {bands + 1}")
    if rank < 0:
        raise HsiInputError(f"RANK must be >= 0 (0 = automatic), got {rank}")
    noise_std = estimate_noise_std(y)
    noise_std = np.maximum(noise_std, max(float(np.median(noise_std)) * 1e-3, 1e-12))
    mean = y.mean(axis=1)
    white = (y - mean[:, None]) / noise_std[:, None]
    eigvals, eigvecs = np.linalg.eigh(white @ white.T / n)
    order = np.argsort(eigvals)[::-1]
    eigvals, eigvecs = eigvals[order], eigvecs[:, order]
    if rank == 0:
        threshold = max(2.0, 1.05 * (1.0 + np.sqrt(bands / n)) ** 2)
        rank = int(np.sum(eigvals > threshold))
    rank = int(min(max(rank, 1), bands, max_rank or bands))
    return Subspace(noise_std, mean, eigvecs[:, :rank], np.ones(rank), eigvals[:rank])
