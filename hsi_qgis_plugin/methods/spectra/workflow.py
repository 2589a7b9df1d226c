"""Spectra for the interactive workspace: one pixel, mean +- std over a polygon, and a quick restoration preview
of a small window around a pixel. Coordinates are in the raster's own CRS; no QGIS here.

Values are in the raster's physical units (scale and offset applied when the file declares them); bad bands
and nodata become NaN so plots show them as gaps.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
from osgeo import gdal, ogr, osr

from ...core.errors import HsiInputError
from ...core.metadata import BandMetadata
from ...core.outputs import OutputSet
from ...core.progress import Monitor, as_monitor
from ...core.raster import RasterInfo, open_raster, raster_info, read_window, valid_pixel_mask
from ...core.report import band_axis
from ..denoise.classical import subspace_denoise
from ..denoise.lowrank import denoise_pixels_block
from ..denoise.subspace import fit_subspace

MAX_POLYGON_MB = 256.0
PREVIEW_MIN_RADIUS = 12


@dataclass
class Spectrum:
    """A plotted spectrum: ``values`` (and ``std`` for polygon statistics) against ``x`` (nm or band number)."""

    label: str
    x: np.ndarray
    x_label: str
    values: np.ndarray
    std: Optional[np.ndarray] = None
    pixel_count: int = 1


def pixel_of(info: RasterInfo, x: float, y: float) -> Optional[Tuple[int, int]]:
    """(col, row) of the pixel containing map coordinates ``x, y`` (raster CRS), or None outside the raster."""
    gt = info.grid.geotransform
    inverse = gdal.InvGeoTransform(gt)
    col = int(np.floor(inverse[0] + inverse[1] * x + inverse[2] * y))
    row = int(np.floor(inverse[3] + inverse[4] * x + inverse[5] * y))
    if 0 <= col < info.width and 0 <= row < info.height:
        return col, row
    return None


def _physical(data: np.ndarray, meta: BandMetadata) -> np.ndarray:
    """(bands, n) raw values -> physical units, NaN for bad bands and nodata pixels."""
    valid = valid_pixel_mask(data.reshape(data.shape[0], -1, 1), meta.nodata, meta.bad_bands)[:, 0]
    values = data.reshape(data.shape[0], -1).astype(np.float64)
    if meta.scales is not None:
        values = values * meta.scales[:, None]
    if meta.offsets is not None:
        values = values + meta.offsets[:, None]
    values[meta.bad_bands] = np.nan
    values[:, ~valid] = np.nan
    return values


def _spectrum(info: RasterInfo, label: str, values: np.ndarray, std=None, count: int = 1) -> Spectrum:
    x, x_label = band_axis(info.metadata, info.band_count)
    return Spectrum(label, np.asarray(x, dtype=np.float64), x_label, values, std, count)


def pixel_spectrum(path: str, x: float, y: float, label: str) -> Optional[Spectrum]:
    """The spectrum of the pixel at ``x, y`` (raster CRS); None when the point is outside the raster."""
    info = raster_info(path)
    pixel = pixel_of(info, x, y)
    if pixel is None:
        return None
    data = read_window(open_raster(path), pixel[0], pixel[1], 1, 1)
    return _spectrum(info, f"{label} (col {pixel[0] + 1}, row {pixel[1] + 1})", _physical(data, info.metadata)[:, 0])


def polygon_spectrum(path: str, polygon_wkt: str, label: str) -> Spectrum:
    """Mean and std of the valid pixels whose centres fall inside a polygon (WKT in the raster CRS)."""
    info = raster_info(path)
    geometry = ogr.CreateGeometryFromWkt(polygon_wkt)
    if geometry is None or geometry.IsEmpty() or geometry.GetArea() <= 0:
        raise HsiInputError("The drawn polygon is empty; draw at least three vertices")
    min_x, max_x, min_y, max_y = geometry.GetEnvelope()
    inverse = gdal.InvGeoTransform(info.grid.geotransform)
    corners = [(px, py) for px in (min_x, max_x) for py in (min_y, max_y)]
    cols = [inverse[0] + inverse[1] * px + inverse[2] * py for px, py in corners]
    rows = [inverse[3] + inverse[4] * px + inverse[5] * py for px, py in corners]
    x0, x1 = max(0, int(np.floor(min(cols)))), min(info.width, int(np.ceil(max(cols))))
    y0, y1 = max(0, int(np.floor(min(rows)))), min(info.height, int(np.ceil(max(rows))))
    if x1 <= x0 or y1 <= y0:
        raise HsiInputError(f"The polygon does not overlap '{label}'")
    needed = (x1 - x0) * (y1 - y0) * info.band_count * 8 / 2**20
    if needed > MAX_POLYGON_MB:
        raise HsiInputError(f"The polygon covers too many pixels ({needed:.0f} MB of spectra); draw a smaller one")
    inside = _rasterize(geometry, info, x0, y0, x1 - x0, y1 - y0).reshape(-1)
    data = read_window(open_raster(path), x0, y0, x1 - x0, y1 - y0)
    valid = valid_pixel_mask(data, info.metadata.nodata, info.metadata.bad_bands).reshape(-1)
    values = _physical(data, info.metadata)[:, inside & valid]
    if values.shape[1] == 0:
        raise HsiInputError(f"No valid pixel of '{label}' has its centre inside the polygon")
    count = values.shape[1]
    return _spectrum(info, f"{label} (mean of {count} px)", values.mean(axis=1), values.std(axis=1), count)


def _rasterize(geometry: ogr.Geometry, info: RasterInfo, x0: int, y0: int, width: int, height: int) -> np.ndarray:
    """(height, width) bool mask of the window's pixel centres inside the geometry."""
    grid = info.grid.window_grid(x0, y0, width, height)
    target = gdal.GetDriverByName("MEM").Create("", width, height, 1, gdal.GDT_Byte)
    target.SetGeoTransform(grid.geotransform)
    source = ogr.GetDriverByName("Memory").CreateDataSource("")
    reference = osr.SpatialReference()
    if grid.crs_wkt:
        reference.ImportFromWkt(grid.crs_wkt)
    layer = source.CreateLayer("polygon", reference if grid.crs_wkt else None, ogr.wkbPolygon)
    feature = ogr.Feature(layer.GetLayerDefn())
    feature.SetGeometry(geometry)
    layer.CreateFeature(feature)
    gdal.RasterizeLayer(target, [1], layer, burn_values=[1])
    return target.ReadAsArray().astype(bool)


# --- live preview ------------------------------------------------------------------------------------------

PreviewFunction = Callable[[np.ndarray, BandMetadata, Monitor], np.ndarray]


def _lowrank_preview(filter_eigenimages: bool) -> PreviewFunction:
    def restore(data: np.ndarray, meta: BandMetadata, monitor: Monitor) -> np.ndarray:
        good = meta.good_bands
        valid = valid_pixel_mask(data, meta.nodata, meta.bad_bands)
        pixels = data[good][:, valid].astype(np.float64)
        monitor.check()
        subspace = fit_subspace(pixels)
        monitor.report(0.5)
        monitor.check()
        return denoise_pixels_block(data, subspace, good, meta.nodata, filter_eigenimages)

    return restore


def _subspace_dct_preview(data: np.ndarray, meta: BandMetadata, monitor: Monitor) -> np.ndarray:
    good = meta.good_bands
    valid = valid_pixel_mask(data, meta.nodata, meta.bad_bands)
    monitor.check()
    out = data.copy()
    out[good] = subspace_denoise(data[good], valid)
    return out


PREVIEW_METHODS: Dict[str, PreviewFunction] = {
    "Low-rank denoise (HySime + Wiener)": _lowrank_preview(True),
    "Low-rank denoise (projection only)": _lowrank_preview(False),
    "Subspace denoise (HySime + DCT eigen-images)": _subspace_dct_preview,
}


def preview_radius(good_band_count: int) -> int:
    """Half-size of the preview window: enough pixels (4 per band) to fit a subspace of the good bands."""
    side = int(np.ceil(np.sqrt(4 * (good_band_count + 1))))
    return max(PREVIEW_MIN_RADIUS, (side + 1) // 2)


def preview_spectrum(
    path: str, x: float, y: float, method: str, label: str, monitor: Optional[Monitor] = None
) -> Optional[Spectrum]:
    """Restore a small window around the pixel at ``x, y`` with a preview method; the centre pixel's spectrum."""
    monitor = as_monitor(monitor)
    if method not in PREVIEW_METHODS:
        raise HsiInputError(f"Unknown preview method '{method}'; choose one of: {', '.join(PREVIEW_METHODS)}")
    info = raster_info(path)
    pixel = pixel_of(info, x, y)
    if pixel is None:
        return None
    meta = info.metadata
    if meta.good_bands.sum() < 3:
        raise HsiInputError(f"'{label}' has fewer than 3 good bands; the preview needs a hyperspectral raster")
    radius = preview_radius(int(meta.good_bands.sum()))
    side = 2 * radius + 1  # the window is shifted, not clipped, at the raster's edges
    x0 = int(np.clip(pixel[0] - radius, 0, max(0, info.width - side)))
    y0 = int(np.clip(pixel[1] - radius, 0, max(0, info.height - side)))
    x1, y1 = min(info.width, x0 + side), min(info.height, y0 + side)
    data = read_window(open_raster(path), x0, y0, x1 - x0, y1 - y0)
    monitor.log(f"Preview window {x1 - x0} x {y1 - y0} px around col {pixel[0] + 1}, row {pixel[1] + 1}")
    restored = PREVIEW_METHODS[method](data, meta, monitor.span(0.1, 0.9))
    centre = restored[:, pixel[1] - y0, pixel[0] - x0][:, None, None]
    monitor.report(1.0)
    return _spectrum(info, f"{label}: {method} preview", _physical(centre, meta)[:, 0])


def write_spectra_csv(path: str, spectra: Sequence[Spectrum]) -> str:
    """One row per band: x of each spectrum, its value and (for polygon means) its std; blanks for gaps."""
    if not spectra:
        raise HsiInputError("There is no spectrum to export; pick a pixel first")
    header: List[str] = []
    columns: List[np.ndarray] = []
    for spectrum in spectra:
        header += [f"{spectrum.label} | {spectrum.x_label}", f"{spectrum.label} | value"]
        columns += [spectrum.x, spectrum.values]
        if spectrum.std is not None:
            header.append(f"{spectrum.label} | std")
            columns.append(spectrum.std)
    rows = max(len(c) for c in columns)
    outputs = OutputSet([path])
    with outputs, open(outputs.path(path), "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for i in range(rows):
            writer.writerow(["" if i >= len(c) or not np.isfinite(c[i]) else f"{c[i]:.8g}" for c in columns])
    return path
