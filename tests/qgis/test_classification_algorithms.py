"""Processing algorithms hsi:pretrainencoder, hsi:classifyfewlabels and hsi:applyclassifier."""
from __future__ import annotations

import os

import numpy as np
import pytest
from osgeo import gdal, ogr, osr

FAST = {"ENCODER_STEPS": 3, "BACKBONE_STEPS": 2, "FINETUNE_STEPS": 3, "DEVICE": "cpu"}


def _points(path, scene, per_class=4, integer=False):
    ds = ogr.GetDriverByName("GPKG").CreateDataSource(path)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(scene.crs_epsg)
    layer = ds.CreateLayer("labels", srs=srs, geom_type=ogr.wkbPoint)
    layer.CreateField(ogr.FieldDefn("landcover", ogr.OFTInteger if integer else ogr.OFTString))
    rng = np.random.default_rng(0)
    gt = scene.geotransform
    for value, name in enumerate(scene.class_names, start=1):
        rows, cols = np.nonzero(scene.class_map == value)
        for i in rng.choice(len(rows), min(per_class, len(rows)), replace=False):
            feature = ogr.Feature(layer.GetLayerDefn())
            feature.SetField("landcover", value if integer else name)
            point = ogr.Geometry(ogr.wkbPoint)
            point.AddPoint_2D(gt[0] + (cols[i] + 0.5) * gt[1], gt[3] + (rows[i] + 0.5) * gt[5])
            feature.SetGeometry(point)
            layer.CreateFeature(feature)
    ds = None
    return path


def test_algorithms_are_registered(hsi_processing):
    from qgis.core import QgsApplication

    registry = QgsApplication.processingRegistry()
    for name in ("pretrainencoder", "classifyfewlabels", "applyclassifier"):
        algorithm = registry.algorithmById(f"hsi:{name}")
        assert algorithm is not None and algorithm.shortHelpString()


def test_pretrain_classify_and_apply(run_algorithm, tmp_path, scene_tif, sample_scene):
    model = str(tmp_path / "encoder.safetensors")
    result = run_algorithm("hsi:pretrainencoder", {"INPUT": scene_tif, "OUTPUT_MODEL": model, **FAST})
    assert os.path.exists(result["OUTPUT_MODEL"]) and os.path.exists(str(tmp_path / "encoder.json"))
    labels = _points(str(tmp_path / "labels.gpkg"), sample_scene, integer=True)
    outputs = {name: str(tmp_path / f"{name.lower()}.tif") for name in ("OUTPUT", "CONFIDENCE")}
    result = run_algorithm("hsi:classifyfewlabels", {
        "INPUT": scene_tif, "LABELS": labels, "CLASS_FIELD": "landcover", "VALIDATION": labels,
        "PRETRAINED": model, "REPORT": str(tmp_path / "report.html"),
        "OUTPUT_MODEL": str(tmp_path / "classifier.safetensors"), **outputs, **FAST,
    })
    class_map = gdal.Open(result["OUTPUT"]).ReadAsArray()
    assert class_map.shape == sample_scene.class_map.shape
    assert set(np.unique(class_map).tolist()) <= set(range(1, 7))
    # the labelled pixels themselves are validation pixels here: label spreading keeps them
    assert result["OA"] == pytest.approx(1.0)
    assert os.path.exists(str(tmp_path / "output.qml")) and os.path.exists(str(tmp_path / "report.json"))
    applied = run_algorithm("hsi:applyclassifier", {
        "INPUT": scene_tif, "MODEL_FILE": result["OUTPUT_MODEL"], "OUTPUT": str(tmp_path / "applied.tif"),
        "DEVICE": "cpu",
    })
    assert gdal.Open(applied["OUTPUT"]).GetRasterBand(1).GetColorTable() is not None
    lola = run_algorithm("hsi:applyclassifier", {
        "INPUT": scene_tif, "MODEL_FILE": result["OUTPUT_MODEL"], "CLASSIFIER": 1,
        "OUTPUT": str(tmp_path / "applied_lola.tif"), "DEVICE": "cpu",
    })
    # CLASSIFIER picks which of the model file's two classifiers runs
    assert (gdal.Open(lola["OUTPUT"]).ReadAsArray() != gdal.Open(applied["OUTPUT"]).ReadAsArray()).any()


def test_one_class_labels_fail_without_output(run_algorithm, tmp_path, scene_tif, sample_scene):
    from qgis.core import QgsProcessingException

    one = sample_scene.class_map.copy()
    one[one != 1] = 0
    label_raster = str(tmp_path / "one.tif")
    ds = gdal.GetDriverByName("GTiff").Create(label_raster, one.shape[1], one.shape[0], 1, gdal.GDT_Byte)
    ds.SetGeoTransform(sample_scene.geotransform)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(sample_scene.crs_epsg)
    ds.SetProjection(srs.ExportToWkt())
    ds.GetRasterBand(1).WriteArray(one)
    ds = None
    output = str(tmp_path / "map.tif")
    with pytest.raises(QgsProcessingException, match="at least 2"):
        run_algorithm("hsi:classifyfewlabels", {"INPUT": scene_tif, "LABELS": label_raster, "OUTPUT": output,
                                                **FAST})
    assert not os.path.exists(output)
