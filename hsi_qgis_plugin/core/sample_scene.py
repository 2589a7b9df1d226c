"""Deterministic synthetic hyperspectral scene for demos and tests (no data files).

Six surface classes with analytic reflectance spectra are mixed by smooth abundance fields
(vegetation, dry grass, bare soil) and sharp objects (a lake, buildings, a road). In the
water-vapour absorption windows the atmosphere leaves little signal, so the retrieved
reflectance there is low and noisy, as in real surface-reflectance products.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
from osgeo import osr
from scipy import ndimage

from .errors import HsiInputError
from .metadata import BandMetadata
from .outputs import OutputSet
from .raster import RasterGrid, write_raster

CLASS_NAMES = ["vegetation", "dry grass", "bare soil", "water", "roof", "asphalt"]
CLASS_COLORS = [(34, 139, 34), (214, 190, 110), (150, 100, 60), (30, 90, 200), (200, 60, 40), (90, 90, 90)]
WATER_VAPOUR_WINDOWS_NM = ((1340.0, 1450.0), (1790.0, 1960.0))
PIXEL_SIZE_M = 30.0
ORIGIN_UTM33N = (368000.0, 5810000.0)  # upper-left corner, near Potsdam
CRS_EPSG = 32633

_VEGETATION, _DRY_GRASS, _SOIL, _WATER, _ROOF, _ASPHALT = range(6)
_NATURAL = (_VEGETATION, _DRY_GRASS, _SOIL)
_OBJECT_PURITY = 0.9  # abundance of the object's class inside lake, buildings and road
_SOFTMAX_TEMPERATURE = 0.25
_BAD_BAND_TRANSMISSION = 0.1
_BAD_BAND_NOISE = 0.01


@dataclass(frozen=True)
class SampleScene:
    """A synthetic scene; ``data`` is surface reflectance shaped (bands, rows, cols)."""

    data: np.ndarray
    wavelengths_nm: np.ndarray
    fwhm_nm: np.ndarray
    bad_bands: np.ndarray
    class_map: np.ndarray
    class_names: list[str]
    class_colors: list[tuple[int, int, int]]
    endmembers: np.ndarray
    geotransform: tuple[float, float, float, float, float, float]
    crs_epsg: int


def _gauss(wl: np.ndarray, centre: float, width: float) -> np.ndarray:
    return np.exp(-0.5 * ((wl - centre) / width) ** 2)


def _sigmoid(wl: np.ndarray, centre: float, width: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(wl - centre) / width))


def _absorption(wl: np.ndarray, *bands: tuple[float, float, float]) -> np.ndarray:
    """Product of Gaussian absorption features given as (centre nm, width nm, depth)."""
    factor = np.ones_like(wl)
    for centre, width, depth in bands:
        factor *= 1.0 - depth * _gauss(wl, centre, width)
    return factor


def endmember_spectra(wavelengths_nm) -> np.ndarray:
    """Reflectance of the six classes (rows in CLASS_NAMES order) at the given wavelengths."""
    wl = np.asarray(wavelengths_nm, dtype=np.float64)
    leaf_water = ((970, 25, 0.08), (1200, 40, 0.15), (1450, 60, 0.55), (1940, 80, 0.7))
    vegetation = (
        0.03 + 0.06 * _gauss(wl, 550, 30) - 0.01 * _gauss(wl, 675, 20)  # chlorophyll: green peak, red well
        + 0.44 * _sigmoid(wl, 718, 12) * (1 - 0.35 * _sigmoid(wl, 1350, 60) - 0.15 * _sigmoid(wl, 2000, 120))
    ) * _absorption(wl, *leaf_water)
    dry_grass = (
        0.06 + 0.28 * _sigmoid(wl, 640, 70) + 0.06 * _sigmoid(wl, 1100, 200)
    ) * _absorption(wl, (1450, 60, 0.15), (1940, 80, 0.2), (2100, 50, 0.12))
    soil = (
        0.1 + 0.3 * (1 - np.exp(-(wl - 350) / 500))
    ) * _absorption(wl, (900, 80, 0.04), (1410, 30, 0.08), (1910, 40, 0.12), (2200, 25, 0.18))
    water = 0.005 + (0.015 + 0.035 * _gauss(wl, 520, 90)) * (1 - _sigmoid(wl, 700, 35))
    roof = (
        0.06 + 0.3 * _sigmoid(wl, 590, 25) + 0.1 * _sigmoid(wl, 1200, 300)  # iron-oxide edge of red tiles
    ) * _absorption(wl, (880, 70, 0.08))
    asphalt = (0.05 + 0.04 * (wl - 400) / 2100) * _absorption(wl, (1730, 30, 0.05), (2310, 30, 0.05))
    return np.stack([vegetation, dry_grass, soil, water, roof, asphalt])


def _smooth_fields(rng: np.random.Generator, count: int, rows: int, cols: int, scale: float) -> np.ndarray:
    """``count`` smooth random fields with zero mean and unit std."""
    sigma = scale * min(rows, cols)
    fields = ndimage.gaussian_filter(rng.standard_normal((count, rows, cols)), sigma=(0, sigma, sigma), mode="wrap")
    fields -= fields.mean(axis=(1, 2), keepdims=True)
    return fields / fields.std(axis=(1, 2), keepdims=True)


def _abundances(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """(classes, rows, cols) abundances summing to one."""
    r = (np.arange(rows)[:, None] + 0.5) / rows  # fractional pixel-centre coordinates
    c = (np.arange(cols)[None, :] + 0.5) / cols

    # natural cover: smooth fields, each class favoured around its own anchor, softmax-mixed
    fields = _smooth_fields(rng, len(_NATURAL), rows, cols, 0.1)
    anchors = ((0.15, 0.2), (0.85, 0.8), (0.6, 0.6))
    for field, (ar, ac) in zip(fields, anchors):
        field += 4.0 * np.exp(-((r - ar) ** 2 + (c - ac) ** 2) / (2 * 0.08 ** 2))
    weights = np.exp((fields - fields.max(axis=0)) / _SOFTMAX_TEMPERATURE)
    abundances = np.zeros((len(CLASS_NAMES), rows, cols))
    abundances[list(_NATURAL)] = weights / weights.sum(axis=0)

    # sharp objects: a lake, a few buildings and a straight road
    lake = ((r - 0.72) / 0.14) ** 2 + ((c - 0.25) / 0.18) ** 2 <= 1
    buildings = np.zeros((rows, cols), bool)
    footprints = ((0.1, 0.55, 0.08, 0.1), (0.12, 0.72, 0.1, 0.07), (0.23, 0.6, 0.06, 0.12), (0.22, 0.8, 0.07, 0.08))
    for top, left, height, width in footprints:  # fractional (top, left, height, width)
        r0, c0 = int(top * rows), int(left * cols)
        buildings[r0:r0 + max(1, round(height * rows)), c0:c0 + max(1, round(width * cols))] = True
    # road from (0.45, 0) to (0.35, 1) in fractional coordinates, about two pixels wide at 128 rows
    road_rows = (0.45 - 0.1 * c) * rows
    road = np.abs((r * rows) - road_rows) <= max(0.5, rows / 128)
    for mask, cls in ((lake, _WATER), (buildings, _ROOF), (road, _ASPHALT)):
        abundances[:, mask] *= 1 - _OBJECT_PURITY
        abundances[cls, mask] += _OBJECT_PURITY
    return abundances


def make_sample_scene(rows: int = 128, cols: int = 128, n_bands: int = 120, seed: int = 0) -> SampleScene:
    """Build the synthetic scene; the same arguments always give the same scene.

    Bands are evenly spaced from 400 to 2500 nm (FWHM = band spacing); bands inside the
    water-vapour windows 1340-1450 and 1790-1960 nm are flagged in ``bad_bands`` (True = bad).
    ``class_map`` (1-based, CLASS_NAMES order) is the class of largest abundance.
    """
    for name, value, minimum in (("ROWS", rows, 8), ("COLS", cols, 8), ("N_BANDS", n_bands, 3)):
        if isinstance(value, bool) or int(value) != value or value < minimum:
            raise HsiInputError(f"{name} must be an integer >= {minimum}; got {value!r}")
    rows, cols, n_bands = int(rows), int(cols), int(n_bands)
    rng = np.random.default_rng(seed)

    wavelengths = np.linspace(400.0, 2500.0, n_bands)
    fwhm = np.full(n_bands, wavelengths[1] - wavelengths[0])
    bad = np.zeros(n_bands, bool)
    for low, high in WATER_VAPOUR_WINDOWS_NM:
        bad |= (wavelengths >= low) & (wavelengths <= high)
    endmembers = endmember_spectra(wavelengths)

    abundances = _abundances(rng, rows, cols)
    illumination = 1.0 + 0.08 * _smooth_fields(rng, 1, rows, cols, 0.25)[0]
    data = np.einsum("kb,krc->brc", endmembers, abundances) * illumination
    noise = _BAD_BAND_NOISE * rng.standard_normal((int(bad.sum()), rows, cols))
    data[bad] = data[bad] * _BAD_BAND_TRANSMISSION + noise

    geotransform = (ORIGIN_UTM33N[0], PIXEL_SIZE_M, 0.0, ORIGIN_UTM33N[1], 0.0, -PIXEL_SIZE_M)
    return SampleScene(
        data=np.clip(data, 0.0, 1.0).astype(np.float32),
        wavelengths_nm=wavelengths,
        fwhm_nm=fwhm,
        bad_bands=bad,
        class_map=(np.argmax(abundances, axis=0) + 1).astype(np.uint8),
        class_names=list(CLASS_NAMES),
        class_colors=list(CLASS_COLORS),
        endmembers=endmembers,
        geotransform=geotransform,
        crs_epsg=CRS_EPSG,
    )


def scene_grid(scene: SampleScene) -> RasterGrid:
    reference = osr.SpatialReference()
    reference.ImportFromEPSG(scene.crs_epsg)
    rows, cols = scene.class_map.shape
    return RasterGrid(cols, rows, tuple(scene.geotransform), reference.ExportToWkt())


def write_sample_scene(scene: SampleScene, path: str, class_map_path: Optional[str] = None) -> str:
    """Write the scene as a GeoTIFF (wavelengths, FWHM, bad bands) and optionally its class map."""
    grid = scene_grid(scene)
    meta = BandMetadata(scene.data.shape[0], scene.wavelengths_nm, scene.fwhm_nm, scene.bad_bands)
    with OutputSet([path, class_map_path]) as outputs:
        write_raster(outputs.path(path), scene.data.astype(np.float32), grid, meta)
        if class_map_path:
            write_raster(outputs.path(class_map_path), scene.class_map[np.newaxis].astype(np.uint8), grid, nodata=0)
    return path
