"""Memory-bounded tiled processing with overlap and smooth weighted blending.

``run_tiled`` reads overlapping windows (all bands, one GDAL call each), applies a function, and blends the
results with raised-cosine weights over the overlaps, so tile borders leave no seams. Only one strip of output
(one tile high) is held at a time; finished rows stream to a GeoTIFF writer (at a path its run's OutputSet hands out).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Iterator, List, Optional

import numpy as np
from osgeo import gdal

from .errors import HsiInputError
from .metadata import BandMetadata
from .progress import Monitor, as_monitor
from .raster import GeoTiffWriter, grid_of, read_window

MIB = 1024 * 1024
DEFAULT_MEMORY_BUDGET_MB = 1024
MIN_GDAL_CACHE_MB = 16
MAX_STRIP_MB = 64


@dataclass(frozen=True)
class Window:
    """A pixel window of the input grid."""

    x: int
    y: int
    width: int
    height: int


@dataclass(frozen=True)
class TilePlan:
    tile_size: int
    overlap: int
    block_height: int
    estimated_bytes: int


TileFunction = Callable[[np.ndarray, Window], np.ndarray]


def tile_starts(length: int, tile: int, overlap: int) -> List[int]:
    """Start offsets of tiles of size ``tile`` covering ``length`` with at least ``overlap`` shared pixels."""
    if tile >= length:
        return [0]
    stride = tile - overlap
    starts = list(range(0, length - tile, stride))
    starts.append(length - tile)
    return starts


def blend_ramp(length: int, overlap: int, taper_start: bool, taper_end: bool) -> np.ndarray:
    """1-D blend weights of a tile: 1 inside, a raised cosine across the middle half of each tapered overlap.

    The outer quarter of an overlap gets a tiny weight (never zero), so a function whose edge effects reach
    less than ``overlap / 4`` pixels leaves no trace of the tile borders in the blended result; the
    neighbouring tile's mirrored ramp makes the weights complementary.
    """
    weights = np.ones(length, dtype=np.float64)
    overlap = min(overlap, length // 2)
    if overlap > 0:
        position = (np.arange(overlap) + 0.5) / overlap  # 0..1 across the overlap
        ramp = np.clip((position - 0.25) * 2.0, 0.0, 1.0)
        rising = np.maximum(0.5 - 0.5 * np.cos(np.pi * ramp), 1e-9)
        if taper_start:
            weights[:overlap] = rising
        if taper_end:
            weights[length - overlap:] = rising[::-1]
    return weights


def plan_tiles(
    width: int,
    bands_in: int,
    bands_out: int,
    tile_size: int,
    overlap: int,
    scale: int = 1,
    memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB,
    work_factor: float = 3.0,
    reserved_mb: float = 0.0,
) -> TilePlan:
    """Largest tile (<= ``tile_size``) whose working set fits the memory budget.

    Working set: the input strip (one tile high, full width), the float32 blended strip and float64 weight sum
    one output tile high, the writer's block buffer, and the tile itself times ``work_factor`` (the function's
    temporaries), plus ``reserved_mb`` (GDAL's block cache, see :func:`run_tiled`).
    """
    if tile_size <= 0:
        raise HsiInputError(f"TILE_SIZE must be > 0 (got {tile_size})")
    if overlap < 0:
        raise HsiInputError(f"Tile overlap must be >= 0 (got {overlap})")
    if memory_budget_mb <= 0:
        raise HsiInputError(f"The memory budget must be > 0 MB (got {memory_budget_mb})")
    budget = (memory_budget_mb - reserved_mb) * MIB
    out_width = width * scale
    smallest = max(16, 2 * overlap + 8)
    tile = max(tile_size, smallest)
    # GeoTIFF block rows are buffered whole by the writer: the tallest of 256/128/64/32/16 using <= 1/4 of it
    block = next((b for b in (256, 128, 64, 32) if bands_out * b * out_width * 4 <= budget / 4), 16)
    while True:
        strip = bands_in * tile * width * 4 + (bands_out * 4 + 8) * tile * scale * out_width
        writer = bands_out * block * out_width * 4
        work = (bands_in + bands_out * scale * scale) * tile * tile * 4 * work_factor
        total = strip + writer + work
        if total <= budget:
            break
        if tile == smallest:
            raise HsiInputError(
                f"The memory budget ({memory_budget_mb:.0f} MB) is too small for a {width}-pixel-wide raster with "
                f"{max(bands_in, bands_out)} bands: even {tile}-pixel tiles need about {total / MIB:.0f} MB; "
                "raise the memory budget"
            )
        tile = max(smallest, int(tile * 0.9))
    return TilePlan(tile, overlap, min(block, max(16, tile * scale // 16 * 16)), int(total))


@contextlib.contextmanager
def bounded_gdal_cache(cache_mb: float) -> Iterator[None]:
    """Set GDAL's block cache to ``cache_mb`` for the duration of a run (the writer's blocks pass through it)."""
    previous = gdal.GetCacheMax()
    gdal.SetCacheMax(int(cache_mb * MIB))
    try:
        yield
    finally:
        gdal.SetCacheMax(previous)


def run_tiled(
    source: gdal.Dataset,
    output_path: str,
    function: TileFunction,
    bands_out: int,
    metadata_out: Optional[BandMetadata] = None,
    tile_size: int = 256,
    overlap: int = 16,
    scale: int = 1,
    memory_budget_mb: float = DEFAULT_MEMORY_BUDGET_MB,
    nodata_out: Optional[float] = None,
    dtype=np.float32,
    monitor: Optional[Monitor] = None,
    work_factor: float = 3.0,
) -> str:
    """Apply ``function`` to overlapping tiles of ``source`` and write the blended result to ``output_path``.

    ``function(tile, window)`` gets a float32 (bands, h, w) tile and must return (bands_out, h*scale, w*scale).
    Cancel is checked before every tile; the caller's OutputSet removes the file on cancel or error.
    """
    monitor = as_monitor(monitor)
    width, height = source.RasterXSize, source.RasterYSize
    # the input strip grows by whole rows of source blocks, so every compressed block is decoded exactly once
    # (GDAL decodes the blocks of one read in parallel) and GDAL's own cache can stay small; a source whose
    # block rows would take more than a quarter of the budget (one strip for the whole file) is read row-exact
    block_height = source.GetRasterBand(1).GetBlockSize()[1]
    row_bytes = source.RasterCount * width * 4
    chunk = block_height if row_bytes * block_height <= memory_budget_mb * MIB / 4 else 1
    extra_rows_mb = (chunk - 1) * row_bytes / MIB
    plan = plan_tiles(
        width, source.RasterCount, bands_out, tile_size, overlap, scale, memory_budget_mb, work_factor,
        extra_rows_mb + MIN_GDAL_CACHE_MB,
    )
    tile, overlap = plan.tile_size, plan.overlap
    xs, ys = tile_starts(width, tile, overlap), tile_starts(height, tile, overlap)
    grid = grid_of(source)
    out_grid = grid if scale == 1 else grid.refined(scale)
    out_width = width * scale
    strip_height = min(tile, height) * scale
    # a running weighted mean, blended += w / (W + w) * (tile - blended), is exact where tiles agree: an
    # identity function returns the input bit for bit, with no float64 copy of the strip
    blended = np.zeros((bands_out, strip_height, out_width), dtype=np.float32)
    weight_sum = np.zeros((strip_height, out_width), dtype=np.float64)
    total_tiles, done = len(xs) * len(ys), 0
    monitor.log(
        f"Tiled run: {len(xs)} x {len(ys)} tiles of {min(tile, width)} x {min(tile, height)} px, "
        f"overlap {overlap} px, working set about {(plan.estimated_bytes / MIB + extra_rows_mb):.0f} MB"
    )
    with bounded_gdal_cache(MIN_GDAL_CACHE_MB), GeoTiffWriter(
        output_path, out_grid, bands_out, metadata_out, dtype, nodata_out, plan.block_height
    ) as writer:
        strip_origin = 0  # output row of blended row 0
        strip = np.empty((source.RasterCount, min(height, tile + chunk - 1), width), dtype=np.float32)
        strip_top, strip_rows = 0, 0  # input rows held in ``strip``
        for row_index, y0 in enumerate(ys):
            monitor.check()
            th = min(tile, height - y0)
            # rolling input strip: drop the rows above this row of tiles, then read whole block rows until the
            # tiles' last row is in
            kept = max(0, strip_top + strip_rows - y0)
            strip[:, :kept] = strip[:, strip_rows - kept:strip_rows]
            strip_top, strip_rows = y0, kept
            if kept < th:
                end = min(height, -(-(y0 + th) // chunk) * chunk)
                strip[:, kept:end - y0] = read_window(source, 0, y0 + kept, width, end - y0 - kept)
                strip_rows = end - y0
            wy = blend_ramp(th * scale, overlap * scale, row_index > 0, row_index < len(ys) - 1)
            for col_index, x0 in enumerate(xs):
                monitor.check()
                tw = min(tile, width - x0)
                data = np.ascontiguousarray(strip[:, :th, x0:x0 + tw])
                result = np.asarray(function(data, Window(x0, y0, tw, th)), dtype=np.float32)
                expected = (bands_out, th * scale, tw * scale)
                if result.shape != expected:
                    raise RuntimeError(f"tile function returned {result.shape}, expected {expected}")
                wx = blend_ramp(tw * scale, overlap * scale, col_index > 0, col_index < len(xs) - 1)
                weights = wy[:, None] * wx[None, :]
                rows = slice(y0 * scale - strip_origin, y0 * scale - strip_origin + th * scale)
                cols = slice(x0 * scale, (x0 + tw) * scale)
                total = weight_sum[rows, cols] + weights
                target = blended[:, rows, cols]
                target += (weights / total).astype(np.float32) * (result - target)
                weight_sum[rows, cols] = total
                done += 1
                monitor.report(done / total_tiles)
            final_row = ys[row_index + 1] * scale if row_index + 1 < len(ys) else height * scale
            ready = final_row - strip_origin
            writer.write_rows(strip_origin, blended[:, :ready])
            keep = strip_height - ready
            blended[:, :keep] = blended[:, ready:]
            blended[:, keep:] = 0.0
            weight_sum[:keep] = weight_sum[ready:]
            weight_sum[keep:] = 0.0
            strip_origin = final_row
    return output_path


def iterate_windows(width: int, height: int, bands: int, memory_budget_mb: float) -> Iterator[Window]:
    """Non-overlapping full-width strips for read-only passes: float32 data within a quarter of the budget and
    at most 64 MB, so that no single numpy call on a strip keeps a worker busy (and the GIL held) for long."""
    strip_mb = min(memory_budget_mb / 4, MAX_STRIP_MB)
    rows = int(max(1, min(height, strip_mb * MIB / max(1, bands * width * 4))))
    for y in range(0, height, rows):
        yield Window(0, y, width, min(rows, height - y))

