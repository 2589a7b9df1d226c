"""Raster side of pansharpening: ratio detection, alignment of the PAN on the refined HS grid, the Pansharpen and
Assess pansharpening workflows.

The ratio is the HS pixel size over the PAN pixel size (measured in the HS CRS); it must be an integer >= 2 on both
axes. The output grid is the HS grid restricted to the whole coarse pixels the PAN covers, refined by the ratio.
When the PAN already lies on that grid (same CRS, aligned pixels) its pixels are read as they are, so the fused
raster's geotransform equals the PAN's over the overlap; otherwise the PAN is warped onto it (cubic).
Whole images are processed in memory, checked against the memory budget.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Optional

import numpy as np
from osgeo import gdal, osr

from ...core import pansharpening_metrics as psm
from ...core.errors import HsiInputError
from ...core.metadata import BandMetadata
from ...core.mtf import centre_offset
from ...core.outputs import OutputSet
from ...core.progress import Monitor, as_monitor
from ...core.raster import RasterGrid, RasterInfo, open_raster, raster_info, read_window, valid_pixel_mask, write_raster
from ...core.report import band_axis, plot_per_band, write_html, write_json
from ...core.tiling import DEFAULT_MEMORY_BUDGET_MB
from .classical import CLASSICAL, METHOD_NAMES, SENSOR_MTF_GAINS, classical_pansharpen

RATIO_TOLERANCE = 0.02
MIN_OVERLAP = 4  # coarse pixels per axis
OUTPUT_NODATA = -9999.0
WORK_COPIES = 6  # float64 cubes alive at once in the classical methods
METHODS = (*CLASSICAL, "pnn")
ALL_METHOD_NAMES = {**METHOD_NAMES, "pnn": "Zero-shot band-wise network (rho-PNN style)"}


@dataclass
class PansharpenInputs:
    """Coarse HS cube over the overlap, the PAN on the refined grid, and their masks."""

    hs_lr: np.ndarray  # (bands, h, w) float64, invalid pixels filled with band means
    pan: np.ndarray  # (h ratio, w ratio) float64, invalid pixels filled with the mean
    ratio: int
    coarse_grid: RasterGrid
    fine_grid: RasterGrid
    metadata: BandMetadata
    hs_valid: np.ndarray  # (h, w) bool
    pan_valid: np.ndarray  # (h ratio, w ratio) bool


def _srs(wkt: str) -> Optional[osr.SpatialReference]:
    if not wkt:
        return None
    srs = osr.SpatialReference()
    srs.ImportFromWkt(wkt)
    srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return srs


def _north_up(grid: RasterGrid, role: str) -> None:
    gt = grid.geotransform
    if gt[2] != 0 or gt[4] != 0 or gt[1] <= 0 or gt[5] >= 0:
        raise HsiInputError(f"{role} must be north-up without rotation; warp it to a north-up grid first")


def _pan_footprint(hs: RasterInfo, pan: RasterInfo) -> tuple:
    """PAN extent (xmin, xmax, ymin, ymax) and pixel size (x, y) expressed in the HS CRS."""
    gt = pan.grid.geotransform
    if not (hs.grid.crs_wkt and pan.grid.crs_wkt) or _srs(hs.grid.crs_wkt).IsSame(_srs(pan.grid.crs_wkt)):
        return (gt[0], gt[0] + gt[1] * pan.width, gt[3] + gt[5] * pan.height, gt[3]), (gt[1], -gt[5])
    warped = gdal.Warp("", open_raster(pan.path), format="VRT", dstSRS=hs.grid.crs_wkt)
    wgt = warped.GetGeoTransform()
    extent = (wgt[0], wgt[0] + wgt[1] * warped.RasterXSize, wgt[3] + wgt[5] * warped.RasterYSize, wgt[3])
    return extent, (wgt[1], -wgt[5])


def detect_ratio(hs_pixel: tuple, pan_pixel: tuple) -> int:
    """Integer ratio of the HS to the PAN pixel size; a clear error when it is not an integer >= 2."""
    ratios = [h / p for h, p in zip(hs_pixel, pan_pixel)]
    ratio = int(round(ratios[0]))
    if any(abs(r - ratio) > RATIO_TOLERANCE * ratio for r in ratios) or ratio < 2:
        raise HsiInputError(
            f"The HS pixel ({hs_pixel[0]:g} x {hs_pixel[1]:g}) is {ratios[0]:.3f} x {ratios[1]:.3f} times the PAN pixel "
            f"({pan_pixel[0]:g} x {pan_pixel[1]:g}); pansharpening needs the same integer ratio >= 2 on both axes. "
            "Resample the PAN to an integer fraction of the HS pixel size first"
        )
    return ratio


def _overlap_window(hs: RasterInfo, extent: tuple) -> tuple:
    """Whole HS pixels inside the PAN extent: (col0, row0, cols, rows)."""
    gt = hs.grid.geotransform
    xmin, xmax, ymin, ymax = extent
    eps = 1e-6
    col0 = max(0, math.ceil((xmin - gt[0]) / gt[1] - eps))
    col1 = min(hs.width, math.floor((xmax - gt[0]) / gt[1] + eps))
    row0 = max(0, math.ceil((ymax - gt[3]) / gt[5] - eps))
    row1 = min(hs.height, math.floor((ymin - gt[3]) / gt[5] + eps))
    if col1 <= col0 or row1 <= row0:
        raise HsiInputError(
            "The PAN and HS rasters do not overlap (no whole HS pixel lies inside the PAN's extent); check that "
            "they cover the same area and that their CRSs are set correctly"
        )
    if col1 - col0 < MIN_OVERLAP or row1 - row0 < MIN_OVERLAP:
        raise HsiInputError(
            f"The PAN and HS rasters overlap on only {col1 - col0} x {row1 - row0} HS pixels; at least "
            f"{MIN_OVERLAP} x {MIN_OVERLAP} are needed"
        )
    return col0, row0, col1 - col0, row1 - row0


def _pan_band(ds: gdal.Dataset, info: RasterInfo, window: Optional[tuple], pan_band: int) -> tuple:
    """The PAN as (rows, cols) float64 and its valid mask; pan_band 0 = mean of the good bands."""
    if not 0 <= pan_band <= info.band_count:
        raise HsiInputError(f"PAN_BAND {pan_band} does not exist: the PAN raster has {info.band_count} band(s)")
    col0, row0, cols, rows = window if window else (0, 0, ds.RasterXSize, ds.RasterYSize)
    bands = [pan_band - 1] if pan_band else [int(b) for b in np.flatnonzero(info.metadata.good_bands)]
    data = read_window(ds, col0, row0, cols, rows, bands).astype(np.float64)
    nodata = info.metadata.nodata
    if nodata is None:
        nodata = ds.GetRasterBand(1).GetNoDataValue()
    valid = valid_pixel_mask(data, nodata)
    return data.mean(axis=0), valid


def _aligned_window(pan: RasterInfo, fine: RasterGrid) -> Optional[tuple]:
    """The PAN pixel window equal to the fine grid, or None when the PAN is not aligned with it."""
    if pan.grid.crs_wkt and fine.crs_wkt and not _srs(pan.grid.crs_wkt).IsSame(_srs(fine.crs_wkt)):
        return None
    pgt, fgt = pan.grid.geotransform, fine.geotransform
    if not (math.isclose(pgt[1], fgt[1], rel_tol=1e-6) and math.isclose(pgt[5], fgt[5], rel_tol=1e-6)):
        return None
    col = (fgt[0] - pgt[0]) / pgt[1]
    row = (fgt[3] - pgt[3]) / pgt[5]
    if abs(col - round(col)) > 1e-3 or abs(row - round(row)) > 1e-3:
        return None
    col, row = int(round(col)), int(round(row))
    if col < 0 or row < 0 or col + fine.width > pan.width or row + fine.height > pan.height:
        return None
    return col, row, fine.width, fine.height


def _warped_pan(pan: RasterInfo, fine: RasterGrid, pan_band: int) -> tuple:
    gt = fine.geotransform
    bounds = (gt[0], gt[3] + gt[5] * fine.height, gt[0] + gt[1] * fine.width, gt[3])
    source = open_raster(pan.path)
    nodata = pan.metadata.nodata
    if nodata is None:
        nodata = source.GetRasterBand(1).GetNoDataValue()
    warped = gdal.Warp(
        "", source, format="MEM", outputBounds=bounds, width=fine.width, height=fine.height,
        dstSRS=fine.crs_wkt or None, resampleAlg="cubic", srcNodata=nodata, dstNodata=np.nan,
        outputType=gdal.GDT_Float64,
    )
    data, valid = _pan_band(warped, pan, None, pan_band)
    return data, valid & np.isfinite(data)


def load_inputs(
    hs_path: str, pan_path: str, pan_band: int = 0, memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB
) -> PansharpenInputs:
    """Read the HS raster over its overlap with the PAN and the PAN on the refined grid."""
    hs, pan = raster_info(hs_path), raster_info(pan_path)
    _north_up(hs.grid, "HS")
    _north_up(pan.grid, "PAN")
    extent, pan_pixel = _pan_footprint(hs, pan)
    ratio = detect_ratio(hs.grid.pixel_size, pan_pixel)
    window = _overlap_window(hs, extent)
    coarse = hs.grid.window_grid(*window)
    fine = coarse.refined(ratio)
    needed = hs.band_count * fine.width * fine.height * 8 * WORK_COPIES / 2**20
    if needed > memory_budget_mb:
        raise HsiInputError(
            f"Pansharpening {hs.band_count} bands on a {fine.width} x {fine.height} grid needs about {needed:.0f} MB, "
            f"more than the {memory_budget_mb:.0f} MB budget; raise the memory budget or clip the rasters first"
        )
    hs_lr = read_window(open_raster(hs_path), *window).astype(np.float64)
    meta = hs.metadata
    hs_valid = valid_pixel_mask(hs_lr, meta.nodata, meta.bad_bands)
    if not hs_valid.any():
        raise HsiInputError("The HS raster has no valid pixel where it overlaps the PAN")
    aligned = _aligned_window(pan, fine)
    if aligned is not None:
        pan_data, pan_valid = _pan_band(open_raster(pan_path), pan, aligned, pan_band)
    else:
        pan_data, pan_valid = _warped_pan(pan, fine, pan_band)
    if not pan_valid.any():
        raise HsiInputError("The PAN raster has no valid pixel where it overlaps the HS raster")
    for band in range(hs_lr.shape[0]):
        values = hs_lr[band][hs_valid]
        hs_lr[band][~hs_valid] = values[np.isfinite(values)].mean() if np.isfinite(values).any() else 0.0
    pan_data[~pan_valid] = pan_data[pan_valid].mean()
    return PansharpenInputs(hs_lr, pan_data, ratio, coarse, fine, meta, hs_valid, pan_valid)


def replicate(array: np.ndarray, ratio: int) -> np.ndarray:
    """Nearest-neighbour enlargement of the last two axes by ``ratio``."""
    return np.repeat(np.repeat(array, ratio, axis=-2), ratio, axis=-1)


def resolve_gain(sensor: str, gain: float) -> float:
    """The HS MTF gain at Nyquist: ``gain`` when > 0, else the sensor's default."""
    if gain and gain > 0:
        if gain >= 1:
            raise HsiInputError(f"MTF_GAIN must be in (0, 1); got {gain}")
        return float(gain)
    key = (sensor or "generic").lower()
    if key not in SENSOR_MTF_GAINS:
        raise HsiInputError(f"unknown SENSOR {sensor!r}; choose one of {', '.join(SENSOR_MTF_GAINS)}")
    return SENSOR_MTF_GAINS[key]


@dataclass
class PansharpenResult:
    output: str
    ratio: int
    method: str
    gain: float
    seconds: float


def pansharpen_rasters(
    hs_path: str,
    pan_path: str,
    output_path: str,
    method: str = "glp_fs",
    pan_band: int = 0,
    sensor: str = "generic",
    gain: float = 0.0,
    equalise_pan: bool = False,
    pnn_settings=None,
    device: str = "cpu",
    memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB,
    monitor: Optional[Monitor] = None,
) -> PansharpenResult:
    """Pansharpen a HS raster with a PAN raster and write a GeoTIFF on the refined grid.

    Bad bands are copied (nearest neighbour) and HS or PAN nodata pixels are written as nodata; only the good
    bands are sharpened.
    """
    import time

    monitor = as_monitor(monitor)
    if method not in METHODS:
        raise HsiInputError(f"unknown METHOD {method!r}; choose one of {', '.join(METHODS)}")
    start = time.perf_counter()
    outputs = OutputSet([output_path], inputs=[hs_path, pan_path])
    gain = resolve_gain(sensor, gain)
    inputs = load_inputs(hs_path, pan_path, pan_band, memory_budget_mb)
    ratio = inputs.ratio
    monitor.log(f"Resolution ratio {ratio}; output grid {inputs.fine_grid.width} x {inputs.fine_grid.height} pixels")
    monitor.report(0.05)
    monitor.check()
    good = inputs.metadata.good_bands
    if not good.any():
        raise HsiInputError("Every band of the HS raster is flagged bad; nothing to sharpen")
    offset = centre_offset(ratio)
    work = monitor.span(0.05, 0.95)
    if method == "pnn":
        from .training import zero_shot_pansharpen

        sharpened = zero_shot_pansharpen(
            inputs.hs_lr[good], inputs.pan, ratio, gain, offset, pnn_settings, device, work
        ).fused
    else:
        options = {"equalise_pan": equalise_pan} if method == "glp_hpm" else {}
        sharpened = classical_pansharpen(method, inputs.hs_lr[good], inputs.pan, ratio, gain, offset, **options)
    monitor.check()
    fused = replicate(inputs.hs_lr, ratio).astype(np.float32)
    fused[good] = sharpened
    invalid = ~(replicate(inputs.hs_valid, ratio) & inputs.pan_valid)
    nodata = inputs.metadata.nodata
    if invalid.any():
        nodata = OUTPUT_NODATA if nodata is None else nodata
        fused[:, invalid] = nodata
    with outputs:
        write_raster(outputs.path(output_path), fused, inputs.fine_grid, inputs.metadata, nodata, np.float32)
    monitor.report(1.0)
    return PansharpenResult(output_path, ratio, method, gain, time.perf_counter() - start)


def assess_pansharpening(
    fused_path: str,
    hs_path: str,
    pan_path: str,
    reference_path: Optional[str] = None,
    html_path: Optional[str] = None,
    json_path: Optional[str] = None,
    pan_band: int = 0,
    sensor: str = "generic",
    gain: float = 0.0,
    memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB,
    monitor: Optional[Monitor] = None,
) -> dict:
    """No-reference indices (D_lambda Khan, D_s, HQNR) and, with a reference on the fused grid, ERGAS/SAM/Q2n."""
    monitor = as_monitor(monitor)
    outputs = OutputSet([html_path, json_path], inputs=[fused_path, hs_path, pan_path, reference_path])
    gain = resolve_gain(sensor, gain)
    inputs = load_inputs(hs_path, pan_path, pan_band, memory_budget_mb)
    fused_info = raster_info(fused_path)
    if not fused_info.grid.same_as(inputs.fine_grid):
        raise HsiInputError(
            f"FUSED ({fused_info.width} x {fused_info.height}, geotransform {fused_info.grid.geotransform}) is not on "
            f"the HS grid refined by {inputs.ratio} over the PAN overlap ({inputs.fine_grid.width} x "
            f"{inputs.fine_grid.height}, {inputs.fine_grid.geotransform})"
        )
    if fused_info.band_count != inputs.hs_lr.shape[0]:
        raise HsiInputError(f"FUSED has {fused_info.band_count} bands but HS has {inputs.hs_lr.shape[0]}")
    fused = read_window(open_raster(fused_path), 0, 0, fused_info.width, fused_info.height).astype(np.float64)
    good = inputs.metadata.good_bands & fused_info.metadata.good_bands
    fine_valid = valid_pixel_mask(fused, fused_info.metadata.nodata, ~good) & inputs.pan_valid
    fine_valid &= replicate(inputs.hs_valid, inputs.ratio)
    if not fine_valid.all():
        monitor.log(f"{int((~fine_valid).sum())} nodata pixel(s) are filled with band means for the no-reference indices")
    cube = fused[good]
    for band in cube:
        band[~fine_valid] = band[fine_valid].mean() if fine_valid.any() else 0.0
    monitor.report(0.3)
    offset = centre_offset(inputs.ratio)
    result: dict = dict(psm.hqnr(cube, inputs.hs_lr[good], inputs.pan, inputs.ratio, gain, offset))
    per_band = [
        1.0 - psm.d_lambda_khan(cube[i:i + 1], inputs.hs_lr[good][i:i + 1], inputs.ratio, gain, offset)
        for i in range(cube.shape[0])
    ]
    monitor.report(0.7)
    if reference_path:
        ref_info = raster_info(reference_path)
        if not ref_info.grid.same_as(fused_info.grid) or ref_info.band_count != fused_info.band_count:
            raise HsiInputError("REFERENCE must have the same grid and band count as FUSED")
        reference = read_window(open_raster(reference_path), 0, 0, fused_info.width, fused_info.height)
        mask = fine_valid & valid_pixel_mask(reference, ref_info.metadata.nodata, ~good)
        result.update(psm.reduced_resolution(reference, fused, inputs.ratio, mask, good))
    result.update(
        fused=os.path.abspath(fused_path), hs=os.path.abspath(hs_path), pan=os.path.abspath(pan_path),
        reference=os.path.abspath(reference_path) if reference_path else None, ratio=inputs.ratio, mtf_gain=gain,
        bands_used=int(good.sum()), bands=int(good.size),
    )
    with outputs:
        if json_path:
            write_json(outputs.path(json_path), {**result, "Q_PER_BAND": per_band})
        if html_path:
            x, label = band_axis(inputs.metadata, good.size)
            values = np.full(good.size, np.nan)
            values[good] = per_band
            plot_path = os.path.splitext(html_path)[0] + "_per_band.png"
            plot_per_band(outputs.path(plot_path), {"1 - D_lambda per band": values}, x, label, gaps=~good)
            scalars = {k: result[k] for k in ("HQNR", "D_LAMBDA", "D_S", "ERGAS", "SAM", "Q2N") if k in result}
            inputs_table = {"Fused": result["fused"], "HS": result["hs"], "PAN": result["pan"],
                            "Reference": result["reference"] or "none (no-reference indices only)",
                            "Ratio": inputs.ratio, "HS MTF gain at Nyquist": gain,
                            "Bands used": f"{result['bands_used']} of {result['bands']}"}
            write_html(outputs.path(html_path), "Pansharpening quality",
                       [("Summary", scalars), ("Inputs", inputs_table)], [plot_path])
    monitor.report(1.0)
    return result
