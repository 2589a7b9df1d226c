"""Outputs of a classification: class raster with GDAL colour table, category names and a QGIS ``.qml``
paletted style; confidence and probability rasters; the HTML + JSON accuracy report with a confusion-matrix
picture."""
from __future__ import annotations

import html
import os
from typing import Optional, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from osgeo import gdal

from ...core.outputs import OutputSet
from ...core.raster import GeoTiffWriter, RasterGrid, write_raster
from ...core.report import write_html, write_json
from .labels import ClassInfo

CLASS_NODATA = 0


def qml_path(raster_path: str) -> str:
    return os.path.splitext(raster_path)[0] + ".qml"


def write_qml(path: str, classes: Sequence[ClassInfo]) -> str:
    """A QGIS paletted-renderer style: one entry per class with its colour and name."""
    entries = "\n".join(
        f'        <paletteEntry value="{c.value}" color="#{c.color[0]:02x}{c.color[1]:02x}{c.color[2]:02x}" '
        f'alpha="255" label="{html.escape(c.name, quote=True)}"/>'
        for c in classes
    )
    text = (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        '<qgis version="3.22" styleCategories="AllStyleCategories">\n'
        "  <pipe>\n"
        '    <rasterrenderer type="paletted" band="1" opacity="1" alphaBand="-1" nodataColor="">\n'
        "      <rasterTransparency/>\n"
        "      <colorPalette>\n"
        f"{entries}\n"
        "      </colorPalette>\n"
        "    </rasterrenderer>\n"
        '    <brightnesscontrast brightness="0" contrast="0" gamma="1"/>\n'
        "  </pipe>\n"
        "  <blendMode>0</blendMode>\n"
        "</qgis>\n"
    )
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def write_class_raster(outputs: OutputSet, destination: str, class_map: np.ndarray, grid: RasterGrid,
                       classes: Sequence[ClassInfo]) -> str:
    """UInt8 (UInt16 above 255 classes) GeoTIFF, 0 = no class (nodata), with colour table, category names
    and a ``.qml`` beside it, written through ``outputs``."""
    path = outputs.path(destination)
    top = max([c.value for c in classes] + [int(class_map.max(initial=0))])
    dtype = np.uint8 if top <= 255 else np.uint16
    table = gdal.ColorTable()
    table.SetColorEntry(CLASS_NODATA, (0, 0, 0, 0))
    names = [""] * (top + 1)
    for c in classes:
        table.SetColorEntry(c.value, tuple(int(v) for v in c.color) + (255,))
        names[c.value] = c.name
    with GeoTiffWriter(path, grid, 1, dtype=dtype, nodata=CLASS_NODATA) as writer:
        band = writer.dataset.GetRasterBand(1)
        band.SetRasterColorTable(table)
        band.SetRasterColorInterpretation(gdal.GCI_PaletteIndex)
        writer.write_array(class_map[np.newaxis].astype(dtype), 0, 0)
    # category names live in the .aux.xml, so they are set on the final file (a band description set in the
    # same session stops GDAL 3.6's GTiff driver from writing them)
    ds = gdal.Open(path, gdal.GA_Update)
    band = ds.GetRasterBand(1)
    band.SetCategoryNames(names)
    del band
    ds = None
    write_qml(outputs.path(qml_path(destination)), classes)
    return destination


def write_float_raster(path: str, values: np.ndarray, grid: RasterGrid, names: Sequence[str]) -> str:
    """Float32 raster (bands, rows, cols) with nodata -1 and named bands."""
    write_raster(path, values.astype(np.float32), grid, nodata=-1.0)
    ds = gdal.Open(path, gdal.GA_Update)
    for i, name in enumerate(names):
        ds.GetRasterBand(i + 1).SetDescription(name)
    ds = None
    return path


def plot_confusion(path: str, matrix: np.ndarray, names: Sequence[str]) -> str:
    """Row-normalised confusion matrix with counts, reference in rows."""
    matrix = np.asarray(matrix, dtype=float)
    share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    size = 1.2 + 0.6 * len(names)
    figure = Figure(figsize=(size + 1.5, size))
    axis = figure.add_subplot(1, 1, 1)
    image = axis.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(names)):
        for j in range(len(names)):
            axis.text(j, i, f"{int(matrix[i, j])}", ha="center", va="center",
                      color="white" if share[i, j] > 0.5 else "black", fontsize=8)
    axis.set_xticks(range(len(names)))
    axis.set_xticklabels(names, rotation=45, ha="right")
    axis.set_yticks(range(len(names)))
    axis.set_yticklabels(names)
    axis.set_xlabel("Predicted")
    axis.set_ylabel("Reference")
    figure.colorbar(image, ax=axis, label="share of reference pixels")
    FigureCanvasAgg(figure)
    figure.savefig(path, dpi=110, bbox_inches="tight")
    return path


def write_report(
    outputs: OutputSet,
    html_path: str,
    summary: Optional[dict],
    label_counts: dict,
    run: dict,
    json_path: Optional[str] = None,
) -> str:
    """HTML report (and JSON beside it unless ``json_path`` is given), written through ``outputs``: accuracy
    when validation data was given, label counts and run information."""
    json_path = json_path or os.path.splitext(html_path)[0] + ".json"
    sections = [("Run", run), ("Training labels (pixels per class)", label_counts)]
    images = []
    if summary is not None:
        sections.insert(0, ("Accuracy on the validation labels", {
            "Overall accuracy (OA)": summary["overall_accuracy"],
            "Average accuracy (AA)": summary["average_accuracy"],
            "Cohen's kappa": summary["kappa"],
            "Validation pixels": int(np.sum(summary["confusion_matrix"])),
        }))
        for name, row in summary["per_class"].items():
            sections.append((f"Class '{name}'", row))
        picture = os.path.splitext(html_path)[0] + "_confusion.png"
        plot_confusion(outputs.path(picture), np.array(summary["confusion_matrix"]), summary["class_names"])
        images.append(picture)
    write_html(outputs.path(html_path), "Few-label classification", sections, images)
    write_json(outputs.path(json_path), {"accuracy": summary, "label_counts": label_counts, "run": run})
    return html_path
