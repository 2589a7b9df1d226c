"""Single-image super-resolution benchmark (Wald protocol): bicubic, the ESSA network fit on the scene, and
a model file trained on the other scenes.

Each scene (CAVE balloons, Samson, an EnMAP Potsdam crop from ../shared/data) is cropped to a multiple of 4,
downsampled by the factor with antialiased bicubic (torch, as in the issue's reference numbers), written as
a GeoTIFF, and super-resolved back by hsi_qgis_plugin.methods.superres.workflow.superresolve (the same code path as
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
from hsi_qgis_plugin.methods.superres.workflow import degrade, superresolve, train_superres_model  # noqa: E402

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


def write_scene(path: str, image: np.ndarray, good: np.ndarray, wavelengths, pixel: float) -> str:
    meta = BandMetadata(image.shape[0], wavelengths_nm=wavelengths, bad_bands=~good)
    grid = RasterGrid(image.shape[2], image.shape[1], (0.0, pixel, 0.0, 0.0, 0.0, -pixel), "")
    return write_raster(path, image, grid, meta)


def transfer_model(name: str, budget: float, degradation: str, preset: str, threads: int, folder: str) -> tuple:
    """(model file, training seconds, training steps): one x2 network trained on the originals of the *other* scenes
    (leave-one-scene-out, so the scene under test is never seen) by train_superres_model."""
    others = []
    for other in SCENES:
        if other != name:
            high, good, wavelengths = load_scene(other)
            others.append(write_scene(os.path.join(folder, f"train_{other.replace(' ', '_')}.tif"), high, good,
                                      wavelengths, 1.0))
    model_path = os.path.join(folder, f"without_{name.replace(' ', '_')}.safetensors")
    start = time.perf_counter()
    trained = train_superres_model(others, 2, model_path, preset=preset, budget_s=budget, degradation=degradation,
                                   device="cpu", threads=threads)
    return model_path, time.perf_counter() - start, trained.history.steps


def run_case(name: str, factor: int, methods: list, budget: float, degradation: str, preset: str, threads: int,
             folder: str, transfer: dict) -> list:
    high, good, wavelengths = load_scene(name)
    low = degrade(high, factor, "bicubic")
    low_path = write_scene(os.path.join(folder, f"{name.replace(' ', '_')}_x{factor}_low.tif"), low, good,
                           wavelengths, float(factor))
    rows = []
    for method in methods:
        out_path = os.path.join(folder, f"{name.replace(' ', '_')}_x{factor}_{method}.tif")
        training_seconds, training_steps, model_path = 0.0, 0, None
        called = "model" if method == "transfer" else method
        if method == "transfer":
            if name not in transfer:
                transfer[name] = transfer_model(name, budget, degradation, preset, threads, folder)
            model_path, training_seconds, training_steps = transfer[name]
        start = time.perf_counter()
        try:
            result = superresolve(
                low_path, out_path, factor, called, model_path=model_path,
                budget_s=budget, degradation=degradation, preset=preset, device="cpu", threads=threads,
                tile_size=256,
            )
        except HsiInputError as refused:
            print(f"{name:14s} x{factor} {method:8s} refused: {refused}", flush=True)
            continue
        seconds = time.perf_counter() - start + training_seconds
        estimate, _ = read_raster(out_path)
        scores = assess(high, estimate, ratio=factor, band_mask=good)
        steps = result.history.steps if result.history else training_steps
        if result.method != called:  # the network lost to bicubic on the degraded scene
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
        "loss L1 + 0.3 x spectral-difference L1, 8-fold self-ensemble at inference; at x4 one x2 network is "
        "fitted and applied twice. `transfer` = a x2 model file trained by `train_superres_model` on the "
        "originals of the two *other* scenes (leave-one-scene-out, same budget and degradation), applied once "
        "at x2 and twice at x4. Time = training + tiled inference, wall clock.",
        "",
        "| scene | size (bands x rows x cols) | factor | method | PSNR (dB) | SSIM | SAM (deg) | time (s) | steps |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, shape, factor, method, psnr, ssim, sam, seconds, steps in rows:
        size = " x ".join(map(str, shape))
        lines.append(f"| {name} | {size} | x{factor} | {method} | {psnr:.2f} | {ssim:.4f} | {sam:.3f} | "
                     f"{seconds:.1f} | {steps} |")
    lines += ["", "Gain over bicubic (PSNR dB / SAM deg); `policy` = what a user is told to do: the zero-shot "
              "fit where the scene is large enough, else the model file trained on other scenes:", ""]
    for factor in sorted({r[2] for r in rows}):
        gains = {"essa": [], "transfer": [], "policy": []}
        for name in dict.fromkeys(r[0] for r in rows):
            pick = {r[3].split(" ")[0]: r for r in rows if r[0] == name and r[2] == factor}
            if "bicubic" not in pick:
                continue
            policy = pick.get("essa", pick.get("transfer"))
            for method, row in (("essa", pick.get("essa")), ("transfer", pick.get("transfer")), ("policy", policy)):
                if row is not None:
                    gains[method].append((row[4] - pick["bicubic"][4], row[6] - pick["bicubic"][6]))
                    lines.append(f"- {name} x{factor} {method}: {gains[method][-1][0]:+.2f} dB, "
                                 f"SAM {gains[method][-1][1]:+.3f}")
        for method, values in gains.items():
            if values:
                psnr, sam = np.mean(values, axis=0)
                lines.append(f"- **mean x{factor} {method} over {len(values)} scene(s): {psnr:+.2f} dB, "
                             f"SAM {sam:+.3f}**")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="CAVE only, x2, 20 s budget")
    parser.add_argument("--budget", type=float, default=None, help="training budget per scene (s)")
    parser.add_argument("--factors", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--scenes", nargs="+", default=list(SCENES))
    parser.add_argument("--degradation", default="bicubic", choices=["wald", "bicubic"])
    parser.add_argument("--methods", nargs="+", default=["bicubic", "essa", "transfer"],
                        choices=["bicubic", "essa", "transfer"])
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
    rows, transfer = [], {}
    with tempfile.TemporaryDirectory() as folder:
        for factor in args.factors:
            for name in args.scenes:
                rows += run_case(name, factor, args.methods, budget, args.degradation, args.preset,
                                 args.threads, folder, transfer)
    command = "flock /tmp/hsi-bench.lock .venv/bin/python bench/superres.py " + " ".join(sys.argv[1:])
    text = markdown(rows, command.strip(), budget, args.degradation, args.preset, args.threads, load)
    if not args.quick:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text)
    print(text)


if __name__ == "__main__":
    main()
