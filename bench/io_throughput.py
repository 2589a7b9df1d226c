"""Raster-engine throughput and memory: read -> identity -> write of a large synthetic scene under a budget.

Compares with gdal_translate writing the same creation options (tiled, DEFLATE level 1, floating-point
predictor, band interleaved) from the same file, and with an uncompressed gdal_translate copy.

    .venv/bin/python bench/io_throughput.py [--rows 1000 --cols 1000 --bands 224 --budget-mb 512]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from common import ROOT, machine_line, write_section  # noqa: E402  (sets sys.path)

import numpy as np  # noqa: E402
from osgeo import gdal  # noqa: E402

from hsi_qgis_plugin.core.metadata import BandMetadata  # noqa: E402
from hsi_qgis_plugin.core.raster import GeoTiffWriter, RasterGrid  # noqa: E402
from hsi_qgis_plugin.core.sample_scene import endmember_spectra  # noqa: E402

CREATION_OPTIONS = [
    "TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256", "INTERLEAVE=BAND", "COMPRESS=DEFLATE", "ZLEVEL=1",
    "PREDICTOR=3", "NUM_THREADS=ALL_CPUS", "BIGTIFF=IF_SAFER",
]


def make_input(path: str, rows: int, cols: int, bands: int) -> None:
    """A smooth mixture of the sample-scene endmembers plus noise, written strip by strip by the plugin's writer."""
    wavelengths = np.linspace(400, 2500, bands)
    endmembers = endmember_spectra(wavelengths).astype(np.float32)  # (classes, bands)
    rng = np.random.default_rng(0)
    grid = RasterGrid(cols, rows, (368000.0, 30.0, 0.0, 5810000.0, 0.0, -30.0), "")
    meta = BandMetadata(bands, wavelengths_nm=wavelengths)
    x = np.linspace(0, 6 * np.pi, cols)
    with GeoTiffWriter(path, grid, bands, meta, block_height=256) as writer:
        for y0 in range(0, rows, 128):
            h = min(128, rows - y0)
            y = np.linspace(0, 6 * np.pi, rows)[y0:y0 + h]
            fields = np.stack([np.sin(x[None] * (k + 1) / 3 + y[:, None] * (k + 2) / 4 + k) for k in range(len(endmembers))])
            abundance = np.exp(3 * fields)
            abundance /= abundance.sum(axis=0, keepdims=True)
            strip = np.einsum("kb,khw->bhw", endmembers, abundance)
            strip += rng.normal(scale=0.005, size=strip.shape).astype(np.float32)
            writer.write_rows(y0, strip.astype(np.float32))


# peak RSS is the child's VmHWM: getrusage's ru_maxrss would also count the parent's peak (it survives exec)
IDENTITY_CHILD = """
import sys, time, json
sys.path.insert(0, {root!r})
from hsi_qgis_plugin.core.raster import open_raster, raster_info
from hsi_qgis_plugin.core.tiling import run_tiled
info = raster_info({source!r})
start = time.perf_counter()
run_tiled(open_raster({source!r}), {target!r}, lambda tile, window: tile, info.band_count, info.metadata,
          tile_size=512, overlap=16, memory_budget_mb={budget})
elapsed = time.perf_counter() - start
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM"))
print(json.dumps({{"seconds": elapsed, "peak_rss_mb": int(hwm.split()[1]) / 1024}}))
"""


def run_identity(source: str, target: str, budget_mb: int) -> dict:
    code = IDENTITY_CHILD.format(root=ROOT, source=source, target=target, budget=budget_mb)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_gdal_translate(source: str, target: str, options: list) -> float:
    arguments = ["gdal_translate", "-q", "--config", "GDAL_CACHEMAX", "512"]
    for option in options:
        arguments += ["-co", option]
    start = time.perf_counter()
    subprocess.run(arguments + [source, target], check=True)
    elapsed = time.perf_counter() - start
    return elapsed




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--cols", type=int, default=1000)
    parser.add_argument("--bands", type=int, default=224)
    parser.add_argument("--budget-mb", type=int, default=512)
    parser.add_argument("--workdir", default=None, help="folder for the temporary files (default: a temp dir)")
    parser.add_argument("--markdown", default=os.path.join(ROOT, "docs", "benchmarks", "io_throughput.md"))
    args = parser.parse_args()

    workdir = args.workdir or tempfile.mkdtemp(prefix="hsi_io_bench_")
    source = os.path.join(workdir, "input.tif")
    make_input(source, args.rows, args.cols, args.bands)
    size_mb = args.rows * args.cols * args.bands * 4 / 2**20

    ours = run_identity(source, os.path.join(workdir, "ours.tif"), args.budget_mb)
    translate_same = run_gdal_translate(source, os.path.join(workdir, "gdal_same.tif"), CREATION_OPTIONS)
    translate_plain = run_gdal_translate(source, os.path.join(workdir, "gdal_plain.tif"), ["TILED=YES", "INTERLEAVE=BAND", "BIGTIFF=YES"])
    ours_mbps = size_mb / ours["seconds"]
    same_mbps = size_mb / translate_same
    plain_mbps = size_mb / translate_plain
    verdict_memory = "pass" if ours["peak_rss_mb"] <= args.budget_mb + 300 else "FAIL"
    verdict_speed = "pass" if ours_mbps >= 0.5 * same_mbps else "FAIL"
    for name in ("input.tif", "ours.tif", "gdal_same.tif", "gdal_plain.tif"):
        os.remove(os.path.join(workdir, name))

    command = "flock /tmp/hsi-bench.lock .venv/bin/python bench/io_throughput.py " + " ".join(sys.argv[1:])
    lines = [
        "## Raster engine I/O throughput (issue 2)",
        "",
        f"- Command: `{command.strip()}`",
        f"- Data: synthetic {args.cols} x {args.rows} x {args.bands} float32 scene ({size_mb:.0f} MB), tiled DEFLATE GeoTIFF input (as the plugin writes them)",
        f"{machine_line()}; GDAL {gdal.__version__}",
        f"- Our run: read -> identity -> write through `core.tiling.run_tiled` (overlap 16 px, blended) with a {args.budget_mb} MB budget, output tiled DEFLATE (level 1, predictor 3)",
        "",
        "| run | seconds | MB/s | peak RSS (MB) |",
        "|---|---:|---:|---:|",
        f"| hsi_qgis_plugin run_tiled, identity | {ours['seconds']:.1f} | {ours_mbps:.0f} | {ours['peak_rss_mb']:.0f} |",
        f"| gdal_translate, same creation options | {translate_same:.1f} | {same_mbps:.0f} | - |",
        f"| gdal_translate, uncompressed | {translate_plain:.1f} | {plain_mbps:.0f} | - |",
        "",
        f"Targets: peak RSS <= budget + 300 MB = {args.budget_mb + 300} MB: **{verdict_memory}**; "
        f"throughput >= half of gdal_translate with the same options ({0.5 * same_mbps:.0f} MB/s): **{verdict_speed}** "
        f"({ours_mbps / same_mbps:.0%} of gdal_translate).",
        "",
    ]
    write_section(args.markdown, lines)


if __name__ == "__main__":
    main()
