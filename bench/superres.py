"""Single-image super-resolution benchmark (Wald protocol): bicubic vs the ESSA network fit on the scene.

Each scene (CAVE balloons, Samson, an EnMAP Potsdam crop from ../shared/data) is cropped to a multiple of 4,
downsampled by the factor with antialiased bicubic (torch, as in the issue's reference numbers), written as
a GeoTIFF, and super-resolved back by hsi_qgis_plugin.methods.superres.superresolve (the same code path as
the Processing algorithm, tiling included). PSNR, SSIM and SAM are measured against the original on the
good bands; wall time covers training and inference on 2 CPU threads.

Run (serialised with the other benchmarks):
    flock /tmp/hsi-bench.lock .venv/bin/python bench/superres.py            # full: x2 and x4, 3 scenes
    flock /tmp/hsi-bench.lock .venv/bin/python bench/superres.py --quick    # 20 s budget, CAVE only
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from hsi_qgis_plugin.core.errors import HsiInputError  # noqa: E402
from hsi_qgis_plugin.core.metadata import BandMetadata  # noqa: E402
from hsi_qgis_plugin.core.metrics import assess  # noqa: E402
from hsi_qgis_plugin.core.raster import RasterGrid, read_raster, write_raster  # noqa: E402
from hsi_qgis_plugin.methods.superres import degrade, superresolve  # noqa: E402

DATA = os.path.join(os.path.dirname(ROOT), "shared", "data")
SCENES = {
    # name: (file, (row slice, col slice) or None)
    "CAVE balloons": ("cave_balloons/cave_balloons.tif", None),
    "Samson": ("samson/samson.tif", None),
    "EnMAP Potsdam": ("enmap_potsdam/mosaic.vrt", (slice(96, 160), slice(32, 160))),  # fully valid 64 x 128
}


def load_scene(name: str) -> tuple:
    """(HR image (bands, rows, cols) float32, good-band mask, wavelengths) cropped to a multiple of 4."""
    relative, crop = SCENES[name]
    data, info = read_raster(os.path.join(DATA, relative))
    if crop is not None:
        data = data[:, crop[0], crop[1]]
    rows, cols = data.shape[1] // 4 * 4, data.shape[2] // 4 * 4
    return data[:, :rows, :cols].astype(np.float32), info.metadata.good_bands, info.metadata.wavelengths_nm


def run_case(name: str, factor: int, methods: list, budget: float, degradation: str, preset: str, threads: int,
             folder: str) -> list:
    high, good, wavelengths = load_scene(name)
    low = degrade(high, factor, "bicubic")
    meta = BandMetadata(high.shape[0], wavelengths_nm=wavelengths, bad_bands=~good)
    grid = RasterGrid(low.shape[2], low.shape[1], (0.0, float(factor), 0.0, 0.0, 0.0, -float(factor)), "")
    low_path = os.path.join(folder, f"{name.replace(' ', '_')}_x{factor}_low.tif")
    write_raster(low_path, low, grid, meta)
    rows = []
    for method in methods:
        out_path = os.path.join(folder, f"{name.replace(' ', '_')}_x{factor}_{method}.tif")
        start = time.perf_counter()
        try:
            result = superresolve(
                low_path, out_path, factor, method, budget_s=budget, degradation=degradation, preset=preset,
                device="cpu", threads=threads, tile_size=256,
            )
        except HsiInputError as refused:
            print(f"{name:14s} x{factor} {method:8s} refused: {refused}", flush=True)
            continue
        seconds = time.perf_counter() - start
        estimate, _ = read_raster(out_path)
        scores = assess(high, estimate, ratio=factor, band_mask=good)
        steps = result.history.steps if result.history else 0
        if result.method != method:  # the network lost to bicubic on the degraded scene
            method = f"{method} -> {result.method}"
        rows.append((name, high.shape, factor, method, scores["MPSNR"], scores["MSSIM"], scores["SAM"], seconds, steps))
        print(f"{name:14s} x{factor} {method:8s} PSNR {scores['MPSNR']:.2f} SSIM {scores['MSSIM']:.4f} "
              f"SAM {scores['SAM']:.3f} time {seconds:.1f} s steps {steps}", flush=True)
    return rows


def markdown(rows: list, command: str, budget: float, degradation: str, preset: str, threads: int, load: float) -> str:
    cpu = subprocess.run("lscpu | grep 'Model name'", shell=True, capture_output=True, text=True).stdout.strip()
    lines = [
        "# Single-image super-resolution (Wald protocol)",
        "",
        f"Command: `{command}`  ",
        f"Date: {datetime.date.today().isoformat()}; machine: {cpu.split(':')[-1].strip()}, 2 cores "
        f"(torch threads {threads}), Python {platform.python_version()}, load average before the run "
        f"{load:.1f} (the machine is shared).  ",
        "Protocol: the scene (cropped to a multiple of 4) is downsampled with antialiased bicubic "
        "(`torch.nn.functional.interpolate(mode='bicubic', antialias=True)`), then super-resolved back; metrics "
        "on the good bands against the original (PSNR/SSIM data range = reference max - min). `essa` = the "
        f"project's network (preset `{preset}`) fit zero-shot on the low-resolution input itself with a "
        f"{budget:.0f} s training budget, training degradation `{degradation}`, Spectral Mixup 0.5, "
        "loss L1 + 0.3 x spectral-difference L1, 8-fold self-ensemble at inference. "
        "Time = training + tiled inference, wall clock.",
        "",
        "| scene | size (bands x rows x cols) | factor | method | PSNR (dB) | SSIM | SAM (deg) | time (s) | steps |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, shape, factor, method, psnr, ssim, sam, seconds, steps in rows:
        size = " x ".join(map(str, shape))
        lines.append(f"| {name} | {size} | x{factor} | {method} | {psnr:.2f} | {ssim:.4f} | {sam:.3f} | "
                     f"{seconds:.1f} | {steps} |")
    lines += ["", "Gain of `essa` over bicubic (PSNR dB / SAM deg):", ""]
    for factor in sorted({r[2] for r in rows}):
        gains, sams = [], []
        for name in dict.fromkeys(r[0] for r in rows):
            pick = {r[3].split(' ')[0]: r for r in rows if r[0] == name and r[2] == factor}
            if "bicubic" in pick and "essa" in pick:
                gains.append(pick["essa"][4] - pick["bicubic"][4])
                sams.append(pick["essa"][6] - pick["bicubic"][6])
                lines.append(f"- {name} x{factor}: {gains[-1]:+.2f} dB, SAM {sams[-1]:+.3f}")
        if gains:
            lines.append(f"- **mean x{factor}: {np.mean(gains):+.2f} dB, SAM {np.mean(sams):+.3f}**")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CAVE only, x2, 20 s budget")
    parser.add_argument("--budget", type=float, default=None, help="training budget per scene (s)")
    parser.add_argument("--factors", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--scenes", nargs="+", default=list(SCENES))
    parser.add_argument("--degradation", default="bicubic", choices=["wald", "bicubic"])
    parser.add_argument("--preset", default="small")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=os.path.join(ROOT, "docs", "benchmarks", "superres.md"))
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    if args.quick:
        args.scenes, args.factors = ["CAVE balloons"], [2]
    budget = args.budget if args.budget is not None else (20.0 if args.quick else 100.0)
    for name in args.scenes:
        if not os.path.exists(os.path.join(DATA, SCENES[name][0])):
            sys.exit(f"{SCENES[name][0]} is missing under {DATA}")
    load = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for factor in args.factors:
            for name in args.scenes:
                rows += run_case(name, factor, ["bicubic", "essa"], budget, args.degradation, args.preset,
                                 args.threads, folder)
    command = "flock /tmp/hsi-bench.lock .venv/bin/python bench/superres.py " + " ".join(sys.argv[1:])
    text = markdown(rows, command.strip(), budget, args.degradation, args.preset, args.threads, load)
    if not args.quick:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text)
    print(text)


if __name__ == "__main__":
    main()
