"""Raster I/O over GDAL: windowed reads of all bands in one call, and a tiled GeoTIFF writer.

Arrays are always shaped (bands, rows, cols). Writers write exactly the path they are given: a run writes into
the temporary paths its :class:`~.outputs.OutputSet` hands out, which commits or removes them all.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
from osgeo import gdal, osr

from .errors import HsiInputError
from .metadata import BandMetadata, read_band_metadata, write_band_metadata

gdal.UseExceptions()

_NUMPY_TO_GDAL = {
    np.dtype(np.uint8): gdal.GDT_Byte,
    np.dtype(np.uint16): gdal.GDT_UInt16,
    np.dtype(np.int16): gdal.GDT_Int16,
    np.dtype(np.uint32): gdal.GDT_UInt32,
    np.dtype(np.int32): gdal.GDT_Int32,
    np.dtype(np.float32): gdal.GDT_Float32,
    np.dtype(np.float64): gdal.GDT_Float64,
}


@dataclass(frozen=True)
class RasterGrid:
    """A georeferenced pixel grid: size, GDAL geotransform and CRS as WKT."""

    width: int
    height: int
    geotransform: tuple
    crs_wkt: str

    @property
    def pixel_size(self) -> tuple:
        return abs(self.geotransform[1]), abs(self.geotransform[5])

    def window_grid(self, xoff: int, yoff: int, width: int, height: int) -> "RasterGrid":
        """The grid of a pixel window of this grid."""
        gt = self.geotransform
        origin_x = gt[0] + xoff * gt[1] + yoff * gt[2]
        origin_y = gt[3] + xoff * gt[4] + yoff * gt[5]
        return RasterGrid(width, height, (origin_x, gt[1], gt[2], origin_y, gt[4], gt[5]), self.crs_wkt)

    def refined(self, factor: int) -> "RasterGrid":
        """The same extent with pixels ``factor`` times smaller (super-resolution, pansharpening)."""
        gt = self.geotransform
        return RasterGrid(
            self.width * factor,
            self.height * factor,
            (gt[0], gt[1] / factor, gt[2] / factor, gt[3], gt[4] / factor, gt[5] / factor),
            self.crs_wkt,
        )

    def coarsened(self, factor: int) -> "RasterGrid":
        """The same origin with pixels ``factor`` times larger (Wald-protocol decimation)."""
        gt = self.geotransform
        return RasterGrid(
            self.width // factor,
            self.height // factor,
            (gt[0], gt[1] * factor, gt[2] * factor, gt[3], gt[4] * factor, gt[5] * factor),
            self.crs_wkt,
        )

    def same_as(self, other: "RasterGrid", tolerance: float = 1e-6) -> bool:
        if (self.width, self.height) != (other.width, other.height):
            return False
        scale = max(abs(self.geotransform[1]), abs(self.geotransform[5]), 1e-12)
        if not np.allclose(self.geotransform, other.geotransform, rtol=0, atol=tolerance * scale):
            return False
        if self.crs_wkt and other.crs_wkt:
            a, b = osr.SpatialReference(), osr.SpatialReference()
            a.ImportFromWkt(self.crs_wkt)
            b.ImportFromWkt(other.crs_wkt)
            return bool(a.IsSame(b))
        return not self.crs_wkt and not other.crs_wkt


@dataclass
class RasterInfo:
    path: str
    grid: RasterGrid
    band_count: int
    data_type: str
    metadata: BandMetadata

    @property
    def width(self) -> int:
        return self.grid.width

    @property
    def height(self) -> int:
        return self.grid.height


def open_raster(path: str) -> gdal.Dataset:
    """Open a raster read-only (GeoTIFF, ENVI BSQ/BIL/BIP, VRT, anything GDAL reads)."""
    if not path:
        raise HsiInputError("No raster file was given")
    if not os.path.exists(path) and not path.startswith("/vsi"):
        raise HsiInputError(f"Raster file '{path}' does not exist")
    try:
        ds = gdal.Open(path, gdal.GA_ReadOnly)
    except RuntimeError as error:
        raise HsiInputError(f"GDAL cannot read '{path}': {error}") from error
    if ds is None or ds.RasterCount == 0:
        raise HsiInputError(f"'{path}' is not a raster GDAL can read")
    if ds.GetDriver().ShortName == "GTiff":  # decode the blocks of one read on all cores
        ds = gdal.OpenEx(path, gdal.OF_RASTER | gdal.OF_READONLY, open_options=["NUM_THREADS=ALL_CPUS"])
    return ds


def grid_of(ds: gdal.Dataset) -> RasterGrid:
    return RasterGrid(ds.RasterXSize, ds.RasterYSize, tuple(ds.GetGeoTransform()), ds.GetProjection() or "")


def raster_info(path: str) -> RasterInfo:
    ds = open_raster(path)
    return RasterInfo(
        path=path,
        grid=grid_of(ds),
        band_count=ds.RasterCount,
        data_type=gdal.GetDataTypeName(ds.GetRasterBand(1).DataType),
        metadata=read_band_metadata(ds),
    )


def require_bands(info: RasterInfo, minimum: int, role: str = "INPUT") -> None:
    """Reject rasters with too few bands for a hyperspectral algorithm."""
    if info.band_count < minimum:
        raise HsiInputError(
            f"{role} '{os.path.basename(info.path)}' has {info.band_count} band(s); "
            f"this algorithm needs a hyperspectral raster with at least {minimum} bands"
        )


def read_window(
    ds: gdal.Dataset,
    xoff: int,
    yoff: int,
    xsize: int,
    ysize: int,
    bands: Optional[Sequence[int]] = None,
) -> np.ndarray:
    """Read a window of all (or the given 0-based) bands in one GDAL call, as float32 (bands, rows, cols)."""
    if xoff < 0 or yoff < 0 or xsize <= 0 or ysize <= 0 or xoff + xsize > ds.RasterXSize or yoff + ysize > ds.RasterYSize:
        raise HsiInputError(
            f"Window ({xoff}, {yoff}, {xsize} x {ysize}) lies outside the {ds.RasterXSize} x {ds.RasterYSize} raster"
        )
    band_list = [b + 1 for b in bands] if bands is not None else list(range(1, ds.RasterCount + 1))
    data = ds.ReadAsArray(xoff, yoff, xsize, ysize, band_list=band_list, buf_type=gdal.GDT_Float32)
    if data.ndim == 2:
        data = data[np.newaxis]
    return data


def read_raster(path: str, memory_budget_mb: Optional[float] = None, copies: float = 4.0) -> tuple:
    """Read a whole raster into memory: ``(array, RasterInfo)``.

    With a budget, refuse rasters whose float32 array times ``copies`` (the caller's working copies) exceeds it.
    """
    info = raster_info(path)
    needed = info.width * info.height * info.band_count * 4 * copies / 2**20
    if memory_budget_mb is not None and needed > memory_budget_mb:
        raise HsiInputError(
            f"'{os.path.basename(path)}' needs about {needed:.0f} MB in memory for this algorithm, more than the "
            f"{memory_budget_mb:.0f} MB budget; raise the memory budget or clip the raster first"
        )
    ds = open_raster(path)
    return read_window(ds, 0, 0, info.width, info.height), info


def valid_pixel_mask(data: np.ndarray, nodata: Optional[float], bad_bands: Optional[np.ndarray] = None) -> np.ndarray:
    """(rows, cols) mask of pixels that are finite and not nodata in every good band.

    Band by band: no copy of the cube, and short numpy calls, so a worker thread never holds the GIL long
    enough to stall QGIS's main thread.
    """
    bands = range(data.shape[0])
    if bad_bands is not None and np.any(~bad_bands):
        bands = np.flatnonzero(~bad_bands)
    mask = np.ones(data.shape[1:], dtype=bool)
    check_nodata = nodata is not None and np.isfinite(nodata)
    for band in bands:
        values = data[band]
        mask &= np.isfinite(values)
        if check_nodata:
            mask &= values != nodata
    return mask


BLOCK_WIDTH = 256


def _creation_options(dtype: np.dtype, block_height: int, estimated_bytes: int) -> list:
    predictor = "3" if np.issubdtype(dtype, np.floating) else "2"
    return [
        "TILED=YES",
        f"BLOCKXSIZE={BLOCK_WIDTH}",  # wide blocks compress faster; their height bounds the writer's buffer
        f"BLOCKYSIZE={block_height}",
        "INTERLEAVE=BAND",
        "COMPRESS=DEFLATE",
        "ZLEVEL=1",
        f"PREDICTOR={predictor}",
        "NUM_THREADS=ALL_CPUS",
        "BIGTIFF=YES" if estimated_bytes > 3_500_000_000 else "BIGTIFF=IF_SAFER",
    ]


class GeoTiffWriter:
    """Writes a tiled, compressed GeoTIFF at ``path`` (a temporary path of an :class:`~.outputs.OutputSet`).

    Rows are written strictly top to bottom with :meth:`write_rows`; they are buffered until a full row of
    GeoTIFF blocks is complete, so every block is compressed exactly once and memory stays bounded.
    Use as a context manager: the file is finished on success and released (for the OutputSet to remove) on
    an exception.
    """

    def __init__(
        self,
        path: str,
        grid: RasterGrid,
        band_count: int,
        metadata: Optional[BandMetadata] = None,
        dtype=np.float32,
        nodata: Optional[float] = None,
        block_height: int = 256,
    ) -> None:
        if not path:
            raise HsiInputError("No output file was given")
        self.path = path
        self.grid = grid
        self.band_count = band_count
        self.dtype = np.dtype(dtype)
        self.block_height = max(16, min(block_height, 512)) // 16 * 16
        estimated = grid.width * grid.height * band_count * self.dtype.itemsize
        driver = gdal.GetDriverByName("GTiff")
        self._ds = driver.Create(
            path,
            grid.width,
            grid.height,
            band_count,
            _NUMPY_TO_GDAL[self.dtype],
            options=_creation_options(self.dtype, self.block_height, estimated),
        )
        self._ds.SetGeoTransform(grid.geotransform)
        if grid.crs_wkt:
            self._ds.SetProjection(grid.crs_wkt)
        if metadata is not None:
            write_band_metadata(self._ds, metadata)
        if nodata is not None:
            for b in range(band_count):
                self._ds.GetRasterBand(b + 1).SetNoDataValue(float(nodata))
        self._buffer: Optional[np.ndarray] = None  # one row of blocks, allocated on first use
        self._buffered = 0
        self._next_row = 0

    @property
    def dataset(self) -> gdal.Dataset:
        """The GDAL dataset being written (for colour tables and category names)."""
        return self._ds

    def write_rows(self, y0: int, rows: np.ndarray) -> None:
        """Append full-width rows starting at ``y0`` (must continue where the last call ended)."""
        if y0 != self._next_row:
            raise ValueError(f"rows must be written in order: expected row {self._next_row}, got {y0}")
        if rows.shape[0] != self.band_count or rows.shape[2] != self.grid.width:
            raise ValueError(f"expected ({self.band_count}, n, {self.grid.width}) rows, got {rows.shape}")
        if self._buffer is None:
            self._buffer = np.empty((self.band_count, self.block_height, self.grid.width), dtype=self.dtype)
        taken = 0
        while taken < rows.shape[1]:
            n = min(rows.shape[1] - taken, self.block_height - self._buffered)
            self._buffer[:, self._buffered:self._buffered + n] = rows[:, taken:taken + n]
            self._buffered += n
            taken += n
            self._next_row += n
            if self._buffered == self.block_height or self._next_row == self.grid.height:
                self._flush()

    def _flush(self) -> None:
        if self._buffered:
            self.write_array(self._buffer[:, :self._buffered], 0, self._next_row - self._buffered)
            self._buffered = 0

    def write_array(self, array: np.ndarray, xoff: int, yoff: int) -> None:
        """Write a (bands, rows, cols) window directly (for small outputs written in one go)."""
        # WriteArray hands GDAL the array itself (no bytes copy) and releases the GIL while GDAL works
        data = np.ascontiguousarray(array, dtype=self.dtype)
        self._ds.WriteArray(data, xoff=xoff, yoff=yoff, band_list=list(range(1, self.band_count + 1)))

    def close(self) -> str:
        """Finish and close the file; returns its path."""
        self._flush()
        self._ds.FlushCache()
        self._ds = None
        return self.path

    def abort(self) -> None:
        """Close the unfinished file without flushing it (its OutputSet removes it)."""
        self._ds = None
        self._buffer = None

    def __enter__(self) -> "GeoTiffWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_raster(
    path: str,
    array: np.ndarray,
    grid: RasterGrid,
    metadata: Optional[BandMetadata] = None,
    nodata: Optional[float] = None,
    dtype=None,
) -> str:
    """Write a whole in-memory (bands, rows, cols) array as a GeoTIFF."""
    if array.ndim == 2:
        array = array[np.newaxis]
    if (array.shape[2], array.shape[1]) != (grid.width, grid.height):
        raise ValueError(f"array {array.shape} does not match the {grid.width} x {grid.height} grid")
    with GeoTiffWriter(path, grid, array.shape[0], metadata, dtype or array.dtype, nodata) as writer:
        writer.write_array(array, 0, 0)
    return path
