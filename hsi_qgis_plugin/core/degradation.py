"""Simulated degradations of hyperspectral images shaped (bands, rows, cols).

Noise cases follow the HSI denoising benchmarks (QRNN3D, HSDT): i.i.d. and non-i.i.d. Gaussian
noise, stripes, dead lines, impulse noise and their mixture. Resolution degradation follows
Wald's protocol with a Gaussian MTF filter.

Noise levels are a FRACTION of the image's value range (max - min over the whole image), so
sigma = 30/255 is the usual "sigma 30" of [0, 1]-scaled data whatever the units of the image.
Stripe offsets are fractions of the same range; dead lines and impulse noise use the image's
minimum and maximum. All these statistics refer to the input image. Values are not clipped.

Random choices come from the ``rng`` argument only, so a seed reproduces a result. Inputs are
never modified; floating-point inputs keep their dtype, other inputs give float64.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import ndimage

from .errors import HsiInputError

NOISE_CASES = ("none", "gaussian", "noniid", "stripes", "deadlines", "impulse", "mixture")

# default settings of the structured noises (QRNN3D / HSDT benchmark cases)
STRIPE_FRACTION = (0.05, 0.15)
STRIPE_STRENGTH = 0.5
LINE_COUNT = (3, 10)
MAX_LINE_WIDTH = 3
IMPULSE_AMOUNTS = (0.1, 0.3, 0.5)


# --- validation helpers ----------------------------------------------------------------------


def _as_image(image) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim != 3:
        raise HsiInputError(f"IMAGE must be a 3-D array (bands, rows, cols); got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise HsiInputError("IMAGE contains NaN or infinite values; fill or mask them before simulating degradations")
    return array


def _value_range(image: np.ndarray) -> float:
    spread = float(image.max() - image.min())
    if spread <= 0:
        raise HsiInputError("IMAGE is constant: noise levels relative to its value range are undefined")
    return spread


def _positive(value: float, name: str) -> float:
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise HsiInputError(f"{name} must be > 0; got {value}")
    return value


def _sigma_interval(sigma_min: float, sigma_max: float) -> tuple[float, float]:
    low, high = _positive(sigma_min, "SIGMA_MIN"), _positive(sigma_max, "SIGMA_MAX")
    if low > high:
        raise HsiInputError(f"SIGMA_MIN ({low}) must not exceed SIGMA_MAX ({high})")
    return low, high


def _fraction_interval(interval: Sequence[float], name: str) -> tuple[float, float]:
    low, high = (float(v) for v in interval)
    if not 0 < low <= high <= 1:
        raise HsiInputError(f"{name} must be two fractions with 0 < min <= max <= 1; got {tuple(interval)}")
    return low, high


def _integer(value, name: str, minimum: int) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise HsiInputError(f"{name} must be an integer >= {minimum}; got {value!r}") from None
    if isinstance(value, bool) or not number.is_integer() or number < minimum:
        raise HsiInputError(f"{name} must be an integer >= {minimum}; got {value!r}")
    return int(number)


def _band_count(n_bands: int, band_fraction: float) -> int:
    """Number of bands a structured noise affects: floor(fraction * bands), at least one."""
    fraction = float(band_fraction)
    if not 0 < fraction <= 1:
        raise HsiInputError(f"BAND_FRACTION must be in (0, 1]; got {band_fraction}")
    return max(1, int(np.floor(fraction * n_bands + 1e-9)))


def _pick_bands(rng: np.random.Generator, n_bands: int, band_fraction: float) -> np.ndarray:
    return rng.choice(n_bands, _band_count(n_bands, band_fraction), replace=False)


# --- noise applied in place on a float copy --------------------------------------------------


def _stripes(out, bands, rng, spread, stripe_fraction, strength) -> None:
    cols = out.shape[2]
    low, high = (max(1, int(round(f * cols))) for f in stripe_fraction)
    for band in bands:
        columns = rng.choice(cols, rng.integers(low, high + 1), replace=False)
        offsets = rng.uniform(-strength / 2, strength / 2, columns.size) * spread
        out[band][:, columns] += offsets.astype(out.dtype)


def _deadlines(out, bands, rng, floor_value, line_count, max_width) -> None:
    cols = out.shape[2]
    for band in bands:
        for _ in range(rng.integers(line_count[0], line_count[1] + 1)):
            width = min(int(rng.integers(1, max_width + 1)), cols)
            start = rng.integers(0, cols - width + 1)
            out[band, :, start:start + width] = floor_value


def _impulse(out, bands, rng, low_value, high_value, amounts) -> None:
    for band in bands:
        hit = rng.random(out.shape[1:]) < rng.choice(amounts)
        salt = rng.random(out.shape[1:]) < 0.5
        out[band][hit & salt] = high_value
        out[band][hit & ~salt] = low_value


# --- public noise functions ------------------------------------------------------------------


def add_gaussian_noise(image, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """I.i.d. Gaussian noise with std sigma * (value range)."""
    image = _as_image(image)
    scale = _positive(sigma, "SIGMA") * _value_range(image)
    return (image + scale * rng.standard_normal(image.shape)).astype(image.dtype)


def add_noniid_gaussian_noise(image, sigma_min: float, sigma_max: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise whose std per band is uniform in [sigma_min, sigma_max] * (value range)."""
    image = _as_image(image)
    low, high = _sigma_interval(sigma_min, sigma_max)
    scales = rng.uniform(low, high, image.shape[0]) * _value_range(image)
    return (image + scales[:, None, None] * rng.standard_normal(image.shape)).astype(image.dtype)


def add_stripes(
    image,
    rng: np.random.Generator,
    band_fraction: float = 1 / 3,
    stripe_fraction: tuple[float, float] = STRIPE_FRACTION,
    strength: float = STRIPE_STRENGTH,
) -> np.ndarray:
    """Vertical stripes on a random subset of bands.

    In each chosen band a random number of columns, between stripe_fraction[0] and
    stripe_fraction[1] of the width, gets a constant offset uniform in
    [-strength/2, strength/2] * (value range); the default gives +-0.25 of the range (QRNN3D).
    """
    image = _as_image(image)
    fractions = _fraction_interval(stripe_fraction, "STRIPE_FRACTION")
    strength = _positive(strength, "STRENGTH")
    out = image.copy()
    _stripes(out, _pick_bands(rng, image.shape[0], band_fraction), rng, _value_range(image), fractions, strength)
    return out


def _deadline_options(line_count, max_width) -> tuple[tuple[int, int], int]:
    low = _integer(line_count[0], "LINE_COUNT minimum", 1)
    high = _integer(line_count[1], "LINE_COUNT maximum", low)
    return (low, high), _integer(max_width, "MAX_WIDTH", 1)


def add_deadlines(
    image,
    rng: np.random.Generator,
    band_fraction: float = 1 / 3,
    line_count: tuple[int, int] = LINE_COUNT,
    max_width: int = MAX_LINE_WIDTH,
) -> np.ndarray:
    """Dead lines on a random subset of bands: line_count[0]..line_count[1] column groups of
    1..max_width columns set to the image minimum (0 for reflectance)."""
    image = _as_image(image)
    counts, width = _deadline_options(line_count, max_width)
    out = image.copy()
    _deadlines(out, _pick_bands(rng, image.shape[0], band_fraction), rng, image.min(), counts, width)
    return out


def _impulse_amounts(amounts) -> np.ndarray:
    values = np.atleast_1d(np.asarray(amounts, dtype=np.float64))
    if values.size == 0 or not np.all((values > 0) & (values <= 1)):
        raise HsiInputError(f"AMOUNTS must be fractions of pixels in (0, 1]; got {amounts}")
    return values


def add_impulse(
    image,
    rng: np.random.Generator,
    band_fraction: float = 1 / 3,
    amounts: Sequence[float] = IMPULSE_AMOUNTS,
) -> np.ndarray:
    """Salt-and-pepper noise on a random subset of bands.

    Each chosen band draws its fraction of corrupted pixels from ``amounts``; half of those
    pixels become the image maximum (salt), half the image minimum (pepper).
    """
    image = _as_image(image)
    values = _impulse_amounts(amounts)
    out = image.copy()
    _impulse(out, _pick_bands(rng, image.shape[0], band_fraction), rng, image.min(), image.max(), values)
    return out


def _add_structured(
    out: np.ndarray, kind: str, bands: np.ndarray, rng: np.random.Generator, clean: np.ndarray
) -> None:
    """Apply one structured noise with its default settings; statistics come from ``clean``."""
    if kind == "stripes":
        _stripes(out, bands, rng, _value_range(clean), STRIPE_FRACTION, STRIPE_STRENGTH)
    elif kind == "deadlines":
        _deadlines(out, bands, rng, clean.min(), LINE_COUNT, MAX_LINE_WIDTH)
    else:
        _impulse(out, bands, rng, clean.min(), clean.max(), np.asarray(IMPULSE_AMOUNTS))


def add_mixture(
    image,
    rng: np.random.Generator,
    sigma_min: float = 10 / 255,
    sigma_max: float = 70 / 255,
    band_fraction: float = 1 / 3,
) -> np.ndarray:
    """Non-i.i.d. Gaussian noise on every band, then stripes, dead lines and impulse noise
    (default settings) each on its own group of bands; the three groups do not overlap, so
    band_fraction must be at most 1/3 and the image needs at least 3 bands."""
    clean = _as_image(image)
    if float(band_fraction) > 1 / 3 + 1e-9:
        raise HsiInputError(
            "BAND_FRACTION must be <= 1/3 for the mixture (stripes, dead lines and impulse noise "
            f"go to separate bands); got {band_fraction}"
        )
    group = _band_count(clean.shape[0], band_fraction)
    if 3 * group > clean.shape[0]:
        raise HsiInputError(f"the mixture needs at least 3 bands; the image has {clean.shape[0]}")
    _value_range(clean)  # reject a constant image before drawing anything
    out = add_noniid_gaussian_noise(clean, sigma_min, sigma_max, rng)
    order = rng.permutation(clean.shape[0])
    for position, kind in enumerate(("stripes", "deadlines", "impulse")):
        _add_structured(out, kind, order[position * group:(position + 1) * group], rng, clean)
    return out


def degrade(
    image,
    rng: np.random.Generator,
    noise: str = "gaussian",
    sigma: float = 30 / 255,
    sigma_min: float = 10 / 255,
    sigma_max: float = 70 / 255,
    band_fraction: float = 1 / 3,
) -> np.ndarray:
    """Apply one benchmark noise case (see NOISE_CASES).

    "gaussian" uses ``sigma``; "noniid" uses [sigma_min, sigma_max]. As in the QRNN3D/HSDT
    benchmarks, "stripes", "deadlines" and "impulse" add that structured noise (default
    settings) on ``band_fraction`` of the bands on top of non-i.i.d. Gaussian noise on every
    band, and "mixture" combines all three (see add_mixture). "none" returns a copy.
    """
    if noise not in NOISE_CASES:
        raise HsiInputError(f"unknown NOISE {noise!r}; choose one of {', '.join(NOISE_CASES)}")
    clean = _as_image(image)
    if noise == "none":
        return clean.copy()
    if noise == "gaussian":
        return add_gaussian_noise(clean, sigma, rng)
    if noise == "mixture":
        return add_mixture(clean, rng, sigma_min, sigma_max, band_fraction)
    _band_count(clean.shape[0], band_fraction)  # validate before drawing anything
    noisy = add_noniid_gaussian_noise(clean, sigma_min, sigma_max, rng)
    if noise != "noniid":
        _add_structured(noisy, noise, _pick_bands(rng, clean.shape[0], band_fraction), rng, clean)
    return noisy


# --- resolution degradation ------------------------------------------------------------------


def _gaussian_1d(ratio: int, gain_at_nyquist: float, size: int | None) -> np.ndarray:
    """1-D sampled Gaussian whose frequency response is gain_at_nyquist at f = 1/(2 ratio).

    A Gaussian of spatial std s (pixels) has H(f) = exp(-2 pi^2 s^2 f^2); H(1/(2 ratio)) = g
    gives s = ratio * sqrt(-2 ln g) / pi.
    """
    gain = float(gain_at_nyquist)
    if not 0 < gain < 1:
        raise HsiInputError(f"GAIN_AT_NYQUIST must be in (0, 1); got {gain_at_nyquist}")
    std = ratio * np.sqrt(-2.0 * np.log(gain)) / np.pi
    if size is None:
        size = max(41, 2 * int(np.ceil(3 * std)) + 1)
    elif _integer(size, "SIZE", 1) % 2 == 0:
        raise HsiInputError(f"SIZE must be an odd integer; got {size}")
    offsets = np.arange(int(size)) - int(size) // 2
    weights = np.exp(-0.5 * (offsets / std) ** 2)
    return weights / weights.sum()


def mtf_gaussian_kernel(ratio: int, gain_at_nyquist: float = 0.3, size: int | None = None) -> np.ndarray:
    """2-D Gaussian MTF kernel (size x size, sum 1) with response gain_at_nyquist at the Nyquist
    frequency of the low-resolution grid, f = 1/(2 ratio) cycles per high-resolution pixel.

    Spatial std s = ratio * sqrt(-2 ln g) / pi. ``size`` defaults to the larger of 41 and the
    smallest odd size covering +-3 s; a smaller odd ``size`` truncates the Gaussian.
    """
    kernel = _gaussian_1d(_integer(ratio, "RATIO", 1), gain_at_nyquist, size)
    return np.outer(kernel, kernel)


def wald_degrade(image, ratio: int, gain_at_nyquist: float | Sequence[float] = 0.3) -> np.ndarray:
    """Wald-protocol degradation: MTF blur per band, then decimation by ``ratio``.

    ``gain_at_nyquist`` is one value or one per band. Borders are padded by reflection. Output
    pixel (i, j) is the blurred input at (ratio // 2 + i ratio, ratio // 2 + j ratio), i.e. the
    high-resolution pixel at the centre of each low-resolution pixel; the output has shape
    (bands, rows // ratio, cols // ratio). ratio = 1 returns a copy.
    """
    image = _as_image(image)
    ratio = _integer(ratio, "RATIO", 1)
    n_bands, rows, cols = image.shape
    if rows < ratio or cols < ratio:
        raise HsiInputError(f"IMAGE ({rows} x {cols} pixels) is smaller than RATIO {ratio}")
    if ratio == 1:
        return image.copy()
    gains = np.asarray(gain_at_nyquist, dtype=np.float64)
    if gains.ndim == 0:
        gains = np.full(n_bands, gains)
    if gains.shape != (n_bands,):
        raise HsiInputError(f"GAIN_AT_NYQUIST must be one value or one per band ({n_bands}); got {gains.size} values")
    offset = ratio // 2
    out = np.empty((n_bands, rows // ratio, cols // ratio), dtype=image.dtype)
    for band, gain in enumerate(gains):
        kernel = _gaussian_1d(ratio, gain, None)
        blurred = ndimage.correlate1d(image[band].astype(np.float64), kernel, axis=0, mode="reflect")
        blurred = ndimage.correlate1d(blurred, kernel, axis=1, mode="reflect")
        out[band] = blurred[offset::ratio, offset::ratio][: rows // ratio, : cols // ratio]
    return out


def simulate_pan(image, wavelengths_nm, wavelength_range: tuple[float, float] = (400, 900)) -> np.ndarray:
    """Panchromatic band (rows, cols): mean of the bands whose centre wavelength lies in the
    inclusive ``wavelength_range`` (nm)."""
    image = _as_image(image)
    wavelengths = np.asarray(wavelengths_nm, dtype=np.float64).ravel()
    if wavelengths.size != image.shape[0]:
        raise HsiInputError(f"WAVELENGTHS has {wavelengths.size} values but IMAGE has {image.shape[0]} bands")
    low, high = (float(v) for v in wavelength_range)
    if not low < high:
        raise HsiInputError(f"WAVELENGTH_RANGE must be (min, max) with min < max; got {tuple(wavelength_range)}")
    inside = (wavelengths >= low) & (wavelengths <= high)
    if not inside.any():
        raise HsiInputError(
            f"no band has its centre wavelength inside {low:g}-{high:g} nm; "
            f"the image covers {wavelengths.min():g}-{wavelengths.max():g} nm"
        )
    return image[inside].mean(axis=0, dtype=np.float64).astype(image.dtype)
