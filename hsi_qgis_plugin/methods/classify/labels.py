"""Training and validation labels onto the image grid: vector points/polygons (any CRS, text or integer
class field, optional colour field) rasterised with GDAL/OGR, or a label raster (0/nodata = unlabelled).
"""
from __future__ import annotations

import colorsys
import os
import re
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import numpy as np
from osgeo import gdal, ogr, osr

from ...core.errors import HsiInputError
from ...core.raster import RasterGrid

gdal.UseExceptions()
ogr.UseExceptions()


@dataclass
class ClassInfo:
    """One class: its value in the class raster (1..K), its name and its RGB colour."""

    value: int
    name: str
    color: tuple


@dataclass
class LabelImage:
    """Labels on the image grid: ``classes`` (rows, cols) int32, 0 = unlabelled, else a ClassInfo value."""

    classes: np.ndarray
    info: List[ClassInfo]
    warnings: List[str] = field(default_factory=list)

    def counts(self) -> dict:
        return {c.name: int((self.classes == c.value).sum()) for c in self.info}


def default_color(index: int, count: int) -> tuple:
    """Distinct colours around the hue circle."""
    r, g, b = colorsys.hsv_to_rgb((index / max(count, 1) + 0.02) % 1.0, 0.75, 0.9)
    return int(r * 255), int(g * 255), int(b * 255)


def parse_color(text) -> Optional[tuple]:
    """'#rrggbb', 'r,g,b' or 'r g b' -> (r, g, b); None when unreadable."""
    if text is None:
        return None
    value = str(text).strip()
    match = re.fullmatch(r"#?([0-9a-fA-F]{6})", value)
    if match:
        h = match.group(1)
        return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)
    parts = [p for p in re.split(r"[,;\s]+", value) if p]
    if len(parts) >= 3 and all(re.fullmatch(r"\d+", p) for p in parts[:3]):
        return tuple(min(255, int(p)) for p in parts[:3])
    return None


def _class_sort_key(value) -> tuple:
    try:
        return (0, float(value), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(value))


def _name_of(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_vector_labels(
    path: str,
    grid: RasterGrid,
    class_field: str,
    color_field: Optional[str] = None,
    class_order: Optional[Sequence[str]] = None,
    role: str = "LABELS",
) -> LabelImage:
    """Rasterise points or polygons onto ``grid`` (pixel centres inside polygons; the pixel under each point).

    ``class_order`` fixes class names to values (to give validation labels the training classes' values).
    """
    layer_name = None
    if "|layername=" in path:
        path, layer_name = path.split("|layername=", 1)
        layer_name = layer_name.split("|")[0]
    try:
        source = ogr.Open(path)
    except RuntimeError as error:
        raise HsiInputError(f"{role}: OGR cannot read '{path}': {error}") from error
    if source is None or source.GetLayerCount() == 0:
        raise HsiInputError(f"{role}: '{path}' is not a vector layer OGR can read")
    layer = source.GetLayerByName(layer_name) if layer_name else source.GetLayer(0)
    definition = layer.GetLayerDefn()
    names = [definition.GetFieldDefn(i).GetName() for i in range(definition.GetFieldCount())]
    if not class_field:
        raise HsiInputError(f"{role}: no class field was given; choose one of: {', '.join(names)}")
    if class_field not in names:
        raise HsiInputError(f"{role}: the layer has no field '{class_field}'; its fields are: {', '.join(names)}")
    if color_field and color_field not in names:
        raise HsiInputError(f"{role}: the layer has no colour field '{color_field}'")
    target = osr.SpatialReference()
    transform = None
    layer_srs = layer.GetSpatialRef()
    if grid.crs_wkt and layer_srs is not None:
        target.ImportFromWkt(grid.crs_wkt)
        target.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
        layer_srs = layer_srs.Clone()
        layer_srs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
        if not layer_srs.IsSame(target):
            transform = osr.CoordinateTransformation(layer_srs, target)
    features = []
    for feature in layer:
        value = feature.GetField(class_field)
        geometry = feature.GetGeometryRef()
        if value is None or (isinstance(value, str) and not value.strip()) or geometry is None:
            continue
        geometry = geometry.Clone()
        if transform is not None:
            geometry.Transform(transform)
        color = parse_color(feature.GetField(color_field)) if color_field else None
        features.append((_name_of(value).strip(), geometry, color))
    if not features:
        raise HsiInputError(f"{role}: the layer has no feature with a geometry and a value in '{class_field}'")
    raw_values = {}
    for name, _, color in features:
        raw_values.setdefault(name, color)
    ordered = list(class_order) if class_order is not None else sorted(raw_values, key=_class_sort_key)
    value_of = {name: i + 1 for i, name in enumerate(ordered)}
    warnings = []
    unknown = sorted(set(raw_values) - set(value_of))
    if unknown:
        warnings.append(f"{role}: class(es) {', '.join(unknown)} are not among the training classes and are ignored")
    memory = ogr.GetDriverByName("Memory").CreateDataSource("labels")
    target_layer = memory.CreateLayer("labels", srs=target if grid.crs_wkt else None)
    target_layer.CreateField(ogr.FieldDefn("cls", ogr.OFTInteger))
    for name, geometry, _ in features:
        if name not in value_of:
            continue
        out = ogr.Feature(target_layer.GetLayerDefn())
        out.SetField("cls", value_of[name])
        out.SetGeometry(geometry)
        target_layer.CreateFeature(out)
    image = gdal.GetDriverByName("MEM").Create("", grid.width, grid.height, 1, gdal.GDT_Int32)
    image.SetGeoTransform(grid.geotransform)
    if grid.crs_wkt:
        image.SetProjection(grid.crs_wkt)
    gdal.RasterizeLayer(image, [1], target_layer, options=["ATTRIBUTE=cls"])
    classes = image.ReadAsArray().astype(np.int32)
    info = [
        ClassInfo(i + 1, name, raw_values.get(name) or default_color(i, len(ordered)))
        for i, name in enumerate(ordered)
    ]
    return LabelImage(classes, info, warnings)


def read_raster_labels(path: str, grid: RasterGrid, role: str = "LABELS") -> LabelImage:
    """A label raster on any grid (resampled by nearest neighbour onto ``grid``); 0 and nodata are unlabelled.

    Category names and the colour table of the label raster are kept when present.
    """
    try:
        source = gdal.Open(path)
    except RuntimeError as error:
        raise HsiInputError(f"{role}: GDAL cannot read '{path}': {error}") from error
    band = source.GetRasterBand(1)
    names = band.GetCategoryNames() or []
    table = band.GetColorTable()
    warped = gdal.Warp(
        "", source, format="MEM", outputBounds=_bounds(grid), width=grid.width, height=grid.height,
        dstSRS=grid.crs_wkt or None, resampleAlg="near", dstNodata=0, outputType=gdal.GDT_Int32,
    )
    values = warped.ReadAsArray().astype(np.int64)
    nodata = band.GetNoDataValue()
    if nodata is not None:
        values[values == int(nodata)] = 0
    values[values < 0] = 0
    present = [int(v) for v in np.unique(values) if v > 0]
    info = []
    for i, v in enumerate(present):
        name = names[v] if v < len(names) and names[v] else str(v)
        color = table.GetColorEntry(v)[:3] if table is not None and v < table.GetCount() else default_color(i, len(present))
        info.append(ClassInfo(v, name, tuple(int(c) for c in color)))
    return LabelImage(values.astype(np.int32), info, [])


def _bounds(grid: RasterGrid) -> tuple:
    gt = grid.geotransform
    xs = [gt[0], gt[0] + grid.width * gt[1]]
    ys = [gt[3], gt[3] + grid.height * gt[5]]
    return min(xs), min(ys), max(xs), max(ys)


def is_raster(path: str) -> bool:
    """True when GDAL opens ``path`` as a raster (and OGR does not need to)."""
    try:
        ds = gdal.OpenEx(path.split("|")[0], gdal.OF_RASTER)
    except RuntimeError:
        return False
    return ds is not None and ds.RasterCount > 0


def read_labels(
    path: str,
    grid: RasterGrid,
    class_field: Optional[str] = None,
    color_field: Optional[str] = None,
    valid: Optional[np.ndarray] = None,
    class_order: Optional[Sequence[str]] = None,
    role: str = "LABELS",
    minimum_classes: int = 2,
) -> LabelImage:
    """Labels from a vector or raster file, checked: pixels outside ``valid`` are dropped, classes without a
    pixel give a warning, fewer than ``minimum_classes`` classes with pixels an error."""
    if not path or not os.path.exists(path.split("|")[0]):
        raise HsiInputError(f"{role}: label file '{path}' does not exist")
    if is_raster(path):
        labels = read_raster_labels(path, grid, role)
    else:
        labels = read_vector_labels(path, grid, class_field, color_field, class_order, role)
    if valid is not None:
        labels.classes[~valid] = 0
    if not (labels.classes > 0).any():
        raise HsiInputError(
            f"{role}: no label falls on a valid pixel of the raster; check that the labels overlap the image "
            "(and its CRS) and do not lie only on nodata"
        )
    present = set(np.unique(labels.classes[labels.classes > 0]).tolist())
    for c in labels.info:
        if c.value not in present:
            labels.warnings.append(f"{role}: class '{c.name}' has no labelled pixel inside the raster")
    if len(present) < minimum_classes:
        raise HsiInputError(
            f"{role}: only {len(present)} class(es) have labelled pixels inside the raster; "
            f"at least {minimum_classes} are needed to train a classifier"
        )
    return labels
