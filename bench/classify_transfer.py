"""Apply classifier on tiles it was not trained on (EnMAP Potsdam, ../shared/data/enmap_potsdam).

The scene's 18 tiles are split into two scenes of the same sensor: the 12 northern tiles (mosaic rows 0-127)
train, the 6 southern tiles (rows 128-191) are classified by the saved model file. Per draw: n labelled pixels
per class from the northern scene, `classify_raster` there (pretrained encoder loaded from a file made once by
`pretrain_raster`, model file written), then `apply_classifier` on the southern scene with each of the model
file's classifiers, scored on every labelled pixel of the southern scene. Baselines trained on the same draws
predict the southern scene from the reflectance: bench/classify.py's Random Forest (500 trees), SVM-RBF on
standardised spectra (C = 1, gamma = 'scale', and grid-searched) and 1-NN.

    flock /tmp/hsi-bench.lock .venv/bin/python bench/classify_transfer.py            # 10 seeds, 5 and 20 labels
    flock /tmp/hsi-bench.lock .venv/bin/python bench/classify_transfer.py --quick    # 2 seeds, 5 labels
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from classify import DATA, baselines, draw, machine_line, scores, write_results  # noqa: E402
from hsi_qgis_plugin.core.raster import read_raster, valid_pixel_mask, write_raster  # noqa: E402
from hsi_qgis_plugin.methods.classify.workflow import apply_classifier, classify_raster, pretrain_raster  # noqa: E402

SOUTH_FROM_ROW = 128  # mosaic rows from here on form the scene the model is applied to
CLASSIFIERS = {"kernel": "Ours, Apply classifier: kernel ridge on the spectra (default)",
               "lola": "Ours, Apply classifier: LoLA-SpecViT on INTL embedding patches"}


def split_scenes(folder: str) -> dict:
    """{'north' | 'south': (image VRT, label VRT)} built from the tiles by their position in the mosaic."""
    from osgeo import gdal

    top = gdal.Open(os.path.join(DATA, "mosaic.vrt")).GetGeoTransform()[3]
    groups: dict = {"north": [], "south": []}
    for image in sorted(glob.glob(os.path.join(DATA, "images", "*.tif"))):
        row = round((top - gdal.Open(image).GetGeoTransform()[3]) / 30.0)
        groups["north" if row < SOUTH_FROM_ROW else "south"].append(image)
    scenes = {}
    for name, images in groups.items():
        labels = [path.replace(os.sep + "images" + os.sep, os.sep + "labels" + os.sep) for path in images]
        scenes[name] = (os.path.join(folder, f"{name}.vrt"), os.path.join(folder, f"{name}_labels.vrt"))
        gdal.BuildVRT(scenes[name][0], images)
        gdal.BuildVRT(scenes[name][1], labels)
    return scenes


def load(scene: tuple) -> tuple:
    """(reflectance of valid pixels (n, good bands), their labels (n,), valid mask, grid)."""
    from osgeo import gdal

    data, info = read_raster(scene[0])
    meta = info.metadata
    valid = valid_pixel_mask(data, meta.nodata, meta.bad_bands)
    labels = gdal.Open(scene[1]).ReadAsArray().astype(np.int64)[valid]
    return data[meta.good_bands][:, valid].T * 1e-4, labels, valid, info.grid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds, 5 labels per class")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--counts", type=int, nargs="+", default=[5, 20])
    parser.add_argument("--output", default=os.path.join(ROOT, "docs", "benchmarks", "classify_transfer.md"))
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.counts = 2, [5]
    import torch

    torch.set_num_threads(2)
    results: dict = {}
    with tempfile.TemporaryDirectory() as folder:
        scenes = split_scenes(folder)
        north_x, north_labels, north_valid, north_grid = load(scenes["north"])
        south_x, south_labels, south_valid, _ = load(scenes["south"])
        classes = int(north_labels.max())
        tested = south_labels > 0
        encoder = os.path.join(folder, "encoder.safetensors")
        start = time.perf_counter()
        pretrain_raster(scenes["north"][0], encoder, device="cpu")
        pretrain_seconds = time.perf_counter() - start
        for n in args.counts:
            for seed in range(args.seeds):
                train, _ = draw(north_labels, n, seed)
                drawn = np.zeros(len(north_labels), dtype=np.uint8)
                drawn[train] = north_labels[train]
                label_image = np.zeros(north_valid.shape, dtype=np.uint8)
                label_image[north_valid] = drawn
                label_path = os.path.join(folder, "train.tif")
                write_raster(label_path, label_image[np.newaxis], north_grid, nodata=0)
                model = os.path.join(folder, "model.safetensors")
                start = time.perf_counter()
                classify_raster(scenes["north"][0], label_path, os.path.join(folder, "north_map.tif"),
                                model_path=model, pretrained_path=encoder, device="cpu")
                train_seconds = time.perf_counter() - start
                predictions = {}
                for choice, name in CLASSIFIERS.items():
                    start = time.perf_counter()
                    class_map = apply_classifier(scenes["south"][0], model, os.path.join(folder, "south_map.tif"),
                                                 classifier=choice, device="cpu")
                    predictions[name] = (class_map[south_valid] - 1, train_seconds + time.perf_counter() - start)
                predictions.update(baselines(north_x[train], north_labels[train] - 1, south_x, seed))
                for name, (predicted, seconds) in predictions.items():
                    results.setdefault((name, n), []).append(
                        scores(south_labels[tested] - 1, predicted[tested], classes) + (seconds,))
                line = ", ".join(f"{name.split(':')[-1].strip()[:20]} {rows[-1][0]:.1f}"
                                 for (name, count), rows in results.items() if count == n)
                print(f"n={n} seed={seed}: {line}", flush=True)
    write_markdown(args, results, pretrain_seconds, south_labels[tested], north_labels)


def write_markdown(args, results: dict, pretrain_seconds: float, tested: np.ndarray, north: np.ndarray) -> None:
    counts = lambda labels: ", ".join(f"{c}: {int((labels == c).sum())}" for c in range(1, 7))  # noqa: E731
    lines = [
        "# Apply classifier on other tiles of the sensor (EnMAP Potsdam)", "",
        "Command: `" + " ".join(["flock /tmp/hsi-bench.lock .venv/bin/python bench/classify_transfer.py"]
                                 + sys.argv[1:]) + "`", "",
        f"Data: the 12 northern tiles of `../shared/data/enmap_potsdam` (mosaic rows 0-{SOUTH_FROM_ROW - 1}) train "
        f"(labelled pixels per class {counts(north)}); the 6 southern tiles are classified and scored on all "
        f"{len(tested)} of their labelled pixels ({counts(tested)}; the largest class alone is "
        f"{100 * np.bincount(tested).max() / len(tested):.1f} %).", "",
        f"Protocol: n labelled pixels per class drawn at random in the northern tiles ({args.seeds} seeds, the "
        "same draws for every method). Mean +- std over the seeds.", "",
        machine_line(), "",
        f"Self-supervised pretraining on the northern tiles (once): {pretrain_seconds:.1f} s. Times are per draw: "
        "for ours, *Classify with few labels* on the northern tiles (map and model file) plus *Apply classifier* "
        "on the southern tiles; for the baselines, fitting and predicting.", "",
    ]
    write_results(args.output, lines, results)


if __name__ == "__main__":
    main()
