"""Headless demo: make a synthetic scene, degrade it, denoise it (low-rank baseline and robust subspace), assess
it, through the plugin's Processing algorithms in a QgsApplication (the path the toolbox and qgis_process use).

    .venv/bin/python scripts/demo.py --out demo_out
"""
from __future__ import annotations

import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, "/usr/share/qgis/python/plugins")  # QGIS's Processing framework (Debian location)
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def start_qgis():
    from qgis.core import QgsApplication

    application = QgsApplication([], False)
    application.initQgis()
    from processing.core.Processing import Processing

    Processing.initialize()
    from hsi_qgis_plugin import classFactory

    plugin = classFactory(None)  # what QGIS and qgis_process do with the installed plugin
    plugin.initProcessing()
    return application, plugin


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo_out")
    parser.add_argument("--size", type=int, default=128, help="scene rows and columns")
    parser.add_argument("--bands", type=int, default=120)
    args = parser.parse_args()
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    started = time.perf_counter()

    application, plugin = start_qgis()
    import processing
    from qgis.core import QgsProcessingFeedback

    from hsi_qgis_plugin.core.raster import read_raster
    from hsi_qgis_plugin.core.report import quicklook
    from hsi_qgis_plugin.core.sample_scene import make_sample_scene, write_sample_scene

    class Feedback(QgsProcessingFeedback):
        def pushInfo(self, info):  # noqa: N802
            print(f"    {info}")

    def path(name: str) -> str:
        return os.path.join(out, name)

    print(f"1/5 Synthetic scene: {args.size} x {args.size} px, {args.bands} bands (400-2500 nm, 30 m, UTM 33N)")
    scene = make_sample_scene(rows=args.size, cols=args.size, n_bands=args.bands, seed=0)
    write_sample_scene(scene, path("scene_clean.tif"), path("scene_classes.tif"))

    print("2/5 Simulate degradation: mixture noise (non-i.i.d. Gaussian + stripes + dead lines + impulse)")
    processing.run(
        "hsi:simulatedegradation",
        {"INPUT": path("scene_clean.tif"), "NOISE": 6, "SEED": 1, "OUTPUT": path("scene_noisy.tif")},
        feedback=Feedback(),
    )
    print("3/5 Denoise: low-rank baseline, then the robust subspace method (stripes, dead lines, impulses first)")
    processing.run(
        "hsi:lowrankdenoise",
        {"INPUT": path("scene_noisy.tif"), "OUTPUT": path("scene_lowrank.tif")},
        feedback=Feedback(),
    )
    denoised = processing.run(
        "hsi:denoise",
        {"INPUT": path("scene_noisy.tif"), "METHOD": 1, "OUTPUT": path("scene_denoised.tif")},
        feedback=Feedback(),
    )
    print("4/5 Assess quality of the noisy and the two denoised scenes")
    scores = {}
    for name in ("noisy", "lowrank", "denoised"):
        scores[name] = processing.run(
            "hsi:assessquality",
            {
                "REFERENCE": path("scene_clean.tif"),
                "ESTIMATE": path(f"scene_{name}.tif"),
                "OUTPUT_HTML": path(f"quality_{name}.html"),
                "OUTPUT_JSON": path(f"quality_{name}.json"),
            },
        )
    print("5/5 Quicklook")
    panels = {label: read_raster(path(f"scene_{name}.tif"))[0] for label, name in
              (("Clean", "clean"), ("Noisy (mixture)", "noisy"), ("Low-rank", "lowrank"),
               ("Robust subspace", "denoised"))}
    quicklook(path("quicklook.png"), panels, read_raster(path("scene_clean.tif"))[1].metadata)

    print()
    print(f"{'':10}{'MPSNR dB':>10}{'MSSIM':>8}{'SAM deg':>9}{'ERGAS':>8}{'Q2n':>7}")
    for name, result in scores.items():
        label = {"denoised": "subspace"}.get(name, name)
        print(f"{label:10}{result['MPSNR']:10.2f}{result['MSSIM']:8.3f}{result['SAM']:9.2f}{result['ERGAS']:8.2f}{result['Q2N']:7.3f}")
    print(f"\nSubspace rank: {denoised['RANK']}. Finished in {time.perf_counter() - started:.0f} s.")
    print(f"Outputs: {out}")
    print(f"Report:  {path('quality_denoised.html')}")
    print(f"Quicklook: {path('quicklook.png')}")
    plugin.unload()
    return 0


if __name__ == "__main__":
    sys.exit(main())
