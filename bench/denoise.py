"""Denoising benchmark: the project's methods against BM4D and a FastHyDe-style baseline (HySime + BM3D).

Scenes (from ../shared/data, each min-max scaled to [0, 1]): CAVE balloons (central 128 x 128 crop, 31 bands),
Samson (95 x 95, 156 bands), EnMAP Potsdam (the fully covered 64 x 64 window at the mosaic's origin, good bands).
Noise cases (core.degradation): iid Gaussian sigma 30/255, non-iid Gaussian sigma in [10, 70]/255, mixture.

The BM3D/BM4D baselines need numpy 2, so they run in a separate venv (never the project's .venv):

    /usr/bin/python3 -m venv /work/bench-venv && /work/bench-venv/bin/pip install bm3d bm4d

This script runs them as ``/work/bench-venv/bin/python bench/denoise.py --worker JOB.npz`` (that mode imports
only numpy, bm3d and bm4d). Results are cached per (scene, case, method) in a JSON file so the run can be
done in parts; the markdown is rebuilt from everything cached.

    flock /tmp/hsi-bench.lock .venv/bin/python bench/denoise.py                 # everything
    flock /tmp/hsi-bench.lock .venv/bin/python bench/denoise.py --quick         # Samson iid only, short fits
    .venv/bin/python bench/denoise.py --report-only                            # rebuild the markdown
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

SCENES = ("cave", "samson", "enmap")
CASES = ("gaussian", "noniid", "mixture")
METHODS = ("lowrank", "subspace", "hsdt", "man", "fasthyde_bm3d", "bm4d")
LABELS = {
    "lowrank": "Low-rank (project baseline)",
    "subspace": "Subspace, robust (project)",
    "hsdt": "HSDT-S fitted on scene (project)",
    "man": "MAN-S fitted on scene (project)",
    "fasthyde_bm3d": "FastHyDe-style: HySime + BM3D",
    "bm4d": "BM4D",
}
MARKER = "<!-- results below are written by bench/denoise.py; notes above are kept -->"
BENCH_VENV = os.environ.get("HSI_BENCH_VENV", "/work/bench-venv")


def worker(job_path: str) -> None:
    """Bench-venv side: BM4D on a noisy cube, or BM3D on each eigen-image; writes the result beside the job."""
    import numpy as np

    job = np.load(job_path)
    start = time.perf_counter()
    if str(job["kind"]) == "bm4d":
        import bm4d

        cube = np.moveaxis(job["noisy"], 0, -1)  # (rows, cols, bands)
        result = np.moveaxis(bm4d.bm4d(cube, float(job["sigma"])), -1, 0)
    else:
        import bm3d

        result = np.stack([bm3d.bm3d(image, 1.0) for image in job["eigen"]])
    np.savez(job_path.replace(".npz", "_out.npz"), result=result, seconds=time.perf_counter() - start)


def load_scene(name: str):
    import numpy as np

    from bench.common import SHARED_DATA
    from hsi_qgis_plugin.core.raster import open_raster, raster_info, read_raster, read_window

    if name == "cave":
        data, _ = read_raster(os.path.join(SHARED_DATA, "cave_balloons", "cave_balloons.tif"))
        data = data[:, 64:192, 64:192]
    elif name == "samson":
        data, _ = read_raster(os.path.join(SHARED_DATA, "samson", "samson.tif"))
    else:
        path = os.path.join(SHARED_DATA, "enmap_potsdam", "mosaic.vrt")
        info = raster_info(path)
        data = read_window(open_raster(path), 0, 0, 64, 64)[info.metadata.good_bands]
    data = data.astype(np.float64)
    return ((data - data.min()) / (data.max() - data.min())).astype(np.float32)


def run_project(method: str, noisy, folder: str, budget: float, preset: str):
    import numpy as np

    from hsi_qgis_plugin.core.raster import RasterGrid, read_raster, write_raster
    from hsi_qgis_plugin.methods.denoise.workflow import denoise_raster

    grid = RasterGrid(noisy.shape[2], noisy.shape[1], (0.0, 1.0, 0.0, 0.0, 0.0, -1.0), "")
    source = os.path.join(folder, "noisy.tif")
    write_raster(source, noisy.astype(np.float32), grid)
    output = os.path.join(folder, f"{method}.tif")
    start = time.perf_counter()
    result = denoise_raster(source, output, method, preset=preset, device="cpu", time_budget_s=budget, tile_size=256)
    seconds = time.perf_counter() - start
    from hsi_qgis_plugin.methods.denoise.classical import STRIPE_MIN_OFFSET

    extra = {"rank": result.rank, "stripe_k": STRIPE_MIN_OFFSET}
    if result.training is not None:
        extra.update(steps=result.training.steps, training_s=round(result.training.seconds, 1))
    return read_raster(output)[0], seconds, extra


def run_baseline(method: str, noisy, folder: str):
    import numpy as np

    from hsi_qgis_plugin.methods.denoise.classical import back_project, fit_scene_subspace, project

    job = os.path.join(folder, f"{method}.npz")
    start = time.perf_counter()
    if method == "bm4d":
        from hsi_qgis_plugin.methods.denoise.subspace import estimate_noise_std

        sigma = float(np.median(estimate_noise_std(noisy.reshape(noisy.shape[0], -1))))
        np.savez(job, kind="bm4d", noisy=noisy.astype(np.float64), sigma=sigma)
        prep = 0.0
    else:
        valid = np.ones(noisy.shape[1:], bool)
        subspace = fit_scene_subspace(noisy, valid)  # same rank rule as the project's subspace method
        eigen = project(noisy, valid, subspace)
        np.savez(job, kind="bm3d", eigen=eigen)
        prep = time.perf_counter() - start
    subprocess.run([os.path.join(BENCH_VENV, "bin", "python"), os.path.abspath(__file__), "--worker", job], check=True)
    out = np.load(job.replace(".npz", "_out.npz"))
    seconds = prep + float(out["seconds"])
    result = out["result"] if method == "bm4d" else back_project(out["result"], subspace)
    return result, seconds, {}


def markdown(results: dict, command: str) -> list:
    from bench.common import machine_line

    lines = [
        "## Results",
        "",
        f"- Command: `{command}`",
        machine_line() + " (shared with other jobs; heavy runs serialised with `flock /tmp/hsi-bench.lock`)",
        "- Data: CAVE balloons (central 128 x 128 crop, 31 bands), Samson (95 x 95, 156 bands), EnMAP Potsdam "
        "(fully covered 64 x 64 window of `mosaic.vrt`, good bands only); each scaled to [0, 1]",
        "- Noise (seed 0): iid sigma 30/255; non-iid sigma in [10, 70]/255 per band; mixture = non-iid + stripes, "
        "dead lines, impulse on a third of the bands each (`core.degradation`)",
        "- Metrics (`core.metrics.assess`, data range 1): MPSNR (dB), MSSIM, SAM (degrees); time = wall seconds on "
        "2 cores (project methods: GeoTIFF in, GeoTIFF out; HSDT/MAN include the self-supervised fit)",
        "",
        "| scene | case | method | MPSNR | MSSIM | SAM | time (s) | notes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key in sorted(results):
        scene, case, method = key.split("/")
        r = results[key]
        notes = ", ".join(f"{k} {v}" for k, v in r.get("extra", {}).items())
        lines.append(
            f"| {scene} | {case} | {LABELS[method]} | {r['MPSNR']:.2f} | {r['MSSIM']:.4f} | {r['SAM']:.2f} | "
            f"{r['seconds']:.1f} | {notes} |"
        )
    lines += ["", "## Averages over the scenes where each method was measured", ""]
    lines += ["| case | method | scenes | MPSNR | MSSIM | SAM | time (s) |", "|---|---|---|---|---|---|---|"]
    for case in CASES:
        for method in METHODS:
            rows = [results[f"{s}/{case}/{method}"] for s in SCENES if f"{s}/{case}/{method}" in results]
            if rows:
                mean = {k: sum(r[k] for r in rows) / len(rows) for k in ("MPSNR", "MSSIM", "SAM", "seconds")}
                lines.append(
                    f"| {case} | {LABELS[method]} | {len(rows)} | {mean['MPSNR']:.2f} | {mean['MSSIM']:.4f} | "
                    f"{mean['SAM']:.2f} | {mean['seconds']:.1f} |"
                )
    lines += ["", "## Best project method minus the strongest classical baseline measured (per scene and case)", ""]
    lines += ["| scene | case | best project | MPSNR gain (dB) | SAM project / classical |", "|---|---|---|---|---|"]
    gains = []
    for scene in SCENES:
        for case in CASES:
            ours = {m: results[f"{scene}/{case}/{m}"] for m in METHODS[:4] if f"{scene}/{case}/{m}" in results}
            theirs = {m: results[f"{scene}/{case}/{m}"] for m in METHODS[4:] if f"{scene}/{case}/{m}" in results}
            if ours and theirs:
                best = max(ours, key=lambda m: ours[m]["MPSNR"])
                strongest = max(theirs, key=lambda m: theirs[m]["MPSNR"])
                gain = ours[best]["MPSNR"] - theirs[strongest]["MPSNR"]
                gains.append(gain)
                sam = min(r["SAM"] for r in theirs.values())
                lines.append(f"| {scene} | {case} | {LABELS[best]} | {gain:+.2f} | {ours[best]['SAM']:.2f} / {sam:.2f} |")
    if gains:
        lines += ["", f"Mean gain over {len(gains)} scene/case pairs: {sum(gains) / len(gains):+.2f} dB (target: +1.0)."]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--scenes", nargs="+", default=list(SCENES), choices=SCENES)
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--budget", type=float, default=60.0, help="HSDT/MAN training budget per scene (s)")
    parser.add_argument("--preset", default="small", choices=("small", "medium"))
    parser.add_argument("--quick", action="store_true", help="Samson, iid, 15 s fits")
    parser.add_argument("--results", default=os.path.join(tempfile.gettempdir(), "hsi_bench_denoise.json"))
    parser.add_argument("--output", default=None, help="markdown file (default docs/benchmarks/denoise.md)")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()
    if args.worker:
        worker(args.worker)
        return
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import numpy as np
    import torch

    from bench.common import ROOT, write_section
    from hsi_qgis_plugin.core.degradation import degrade
    from hsi_qgis_plugin.core.metrics import assess

    torch.set_num_threads(2)
    if args.quick:
        args.scenes, args.cases, args.budget = ["samson"], ["gaussian"], 15.0
    results = json.load(open(args.results)) if os.path.exists(args.results) else {}
    if not args.report_only:
        for scene in args.scenes:
            clean = load_scene(scene)
            for case in args.cases:
                noisy = degrade(clean, np.random.default_rng(0), case).astype(np.float32)
                for method in args.methods:
                    with tempfile.TemporaryDirectory() as folder:
                        if method in ("fasthyde_bm3d", "bm4d"):
                            estimate, seconds, extra = run_baseline(method, noisy, folder)
                        else:
                            estimate, seconds, extra = run_project(method, noisy, folder, args.budget, args.preset)
                    metrics = assess(clean, estimate, data_range=1.0)
                    key = f"{scene}/{case}/{method}"
                    results[key] = {k: metrics[k] for k in ("MPSNR", "MSSIM", "SAM")}
                    results[key].update(seconds=seconds, extra=extra)
                    print(key, {k: round(v, 3) for k, v in results[key].items() if k != "extra"}, extra, flush=True)
                    with open(args.results, "w") as handle:
                        json.dump(results, handle, indent=1)
    command = "flock /tmp/hsi-bench.lock .venv/bin/python bench/denoise.py " + " ".join(
        a for a in sys.argv[1:] if not a.startswith("--report-only")
    )
    path = args.output or os.path.join(ROOT, "docs", "benchmarks", "denoise.md")
    notes = []
    if os.path.exists(path):
        text = open(path).read()
        if MARKER in text:
            notes = text.split(MARKER)[0].rstrip("\n").split("\n") + [""]
    write_section(path, notes + [MARKER, ""] + markdown(results, command))


if __name__ == "__main__":
    main()
