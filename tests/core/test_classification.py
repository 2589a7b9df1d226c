"""Few-label classification: metrics, INTL loss, label rasterisation, styled outputs, train/apply workflow."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from osgeo import gdal, ogr, osr

from hsi_qgis_plugin.core.classification_metrics import accuracy_summary, confusion_matrix
from hsi_qgis_plugin.core.errors import HsiInputError
from hsi_qgis_plugin.core.model_file import load_model, save_model
from hsi_qgis_plugin.core.outputs import OutputSet
from hsi_qgis_plugin.core.progress import Monitor
from hsi_qgis_plugin.core.raster import raster_info, write_raster
from hsi_qgis_plugin.core.sample_scene import scene_grid
from hsi_qgis_plugin.methods.classify.workflow import ClassifyOptions, apply_classifier, classify_raster, refine_with_graph
from hsi_qgis_plugin.methods.classify import model as classify_model
from hsi_qgis_plugin.methods.classify.model import (
    KernelRidgeClassifier,
    PatchSampler,
    finetune_classifier,
    propagate_labels,
    scene_pixels,
    spatial_graph,
)
from hsi_qgis_plugin.methods.classify.training import intl_loss, iternorm_whiten, trace_loss
from hsi_qgis_plugin.methods.classify.labels import read_labels
from hsi_qgis_plugin.models.lola_specvit import LolaSpecViT

FAST = ClassifyOptions(encoder_steps=4, backbone_steps=2, finetune_steps=4)


# --- metrics ------------------------------------------------------------------------------------------------
def test_accuracy_summary_matches_hand_computed_confusion_matrix():
    reference = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2, 2])
    predicted = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 0])
    matrix = confusion_matrix(reference, predicted, 3)
    assert matrix.tolist() == [[3, 1, 0], [0, 2, 1], [1, 0, 2]]
    summary = accuracy_summary(matrix, ["a", "b", "c"])
    assert summary["overall_accuracy"] == pytest.approx(0.7)
    assert summary["average_accuracy"] == pytest.approx((3 / 4 + 2 / 3 + 2 / 3) / 3)
    p_e = (4 * 4 + 3 * 3 + 3 * 3) / 100
    assert summary["kappa"] == pytest.approx((0.7 - p_e) / (1 - p_e))
    assert summary["per_class"]["a"]["precision"] == pytest.approx(3 / 4)
    assert summary["per_class"]["b"]["recall"] == pytest.approx(2 / 3)
    assert summary["per_class"]["c"]["f1"] == pytest.approx(2 / 3)
    assert summary["per_class"]["a"]["support"] == 4


# --- INTL ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("axis", [0, 1])
def test_iternorm_whitening_brings_covariance_to_identity(axis):
    generator = torch.Generator().manual_seed(0)
    mixing = torch.randn(6, 6, generator=generator, dtype=torch.float64) + 3 * torch.eye(6, dtype=torch.float64)
    correlated = torch.randn(40, 6, generator=generator, dtype=torch.float64) @ mixing
    # axis 1 whitens the 6 features over 40 samples; axis 0 the 6 samples (rows of z) over 40 features
    z = correlated if axis == 1 else correlated.t()

    def covariance(w):
        w = w if axis == 1 else w.t()
        w = w - w.mean(dim=0, keepdim=True)
        return w.t() @ w / (w.shape[0] - 1)

    identity = torch.eye(6, dtype=torch.float64)
    start = covariance(z)
    start = start / torch.diagonal(start).mean()
    few = covariance(iternorm_whiten(z, iters=4, axis=axis))
    # the uncoupled Newton-Schulz iteration converges within ~10 steps here (and diverges in float64 past ~20)
    many = covariance(iternorm_whiten(z, iters=12, axis=axis))
    assert torch.linalg.norm(few - identity) < torch.linalg.norm(start - identity)
    assert torch.allclose(many, identity, atol=1e-3)


def test_trace_loss_and_intl_loss_follow_their_definition():
    generator = torch.Generator().manual_seed(1)
    z0 = torch.randn(16, 8, generator=generator, dtype=torch.float64)
    z1 = z0 + 0.1 * torch.randn(16, 8, generator=generator, dtype=torch.float64)
    centred = z0 - z0.mean(dim=0)
    diagonal = (centred ** 2).sum(dim=0) / 15
    assert trace_loss(z0, axis=1) == pytest.approx(float(((diagonal - 1) ** 2).sum()))
    w0, w1 = iternorm_whiten(z0, 4, 0), iternorm_whiten(z1, 4, 0)
    n0 = w0 / w0.norm(dim=1, keepdim=True)
    n1 = w1 / w1.norm(dim=1, keepdim=True)
    beta = (np.log2(16) - 3) * 0.01
    expected = ((n1 - n0) ** 2).sum(dim=1).mean() + beta * (trace_loss(w1, 0) + trace_loss(w0, 0))
    assert float(intl_loss([z0, z1])) == pytest.approx(float(expected))
    assert float(intl_loss([z0, z0])) < float(intl_loss([z0, torch.flip(z0, dims=[0])]))


# --- labels -------------------------------------------------------------------------------------------------
def _vector_labels(path, features, epsg=32633, field_type=ogr.OFTString, color=True):
    """features: list of (wkt, class value, colour)."""
    driver = ogr.GetDriverByName("GPKG")
    ds = driver.CreateDataSource(path)
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(epsg)
    layer = ds.CreateLayer("labels", srs=srs)
    layer.CreateField(ogr.FieldDefn("cls", field_type))
    layer.CreateField(ogr.FieldDefn("colour", ogr.OFTString))
    for wkt, value, colour in features:
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetField("cls", value)
        if color and colour:
            feature.SetField("colour", colour)
        feature.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
        layer.CreateFeature(feature)
    ds = None
    return path


def _centre(scene, row, col):
    gt = scene.geotransform
    return gt[0] + (col + 0.5) * gt[1], gt[3] + (row + 0.5) * gt[5]


def _point(scene, row, col):
    x, y = _centre(scene, row, col)
    return f"POINT ({x} {y})"


def _box(scene, row0, col0, row1, col1):
    gt = scene.geotransform
    x0, y0 = gt[0] + col0 * gt[1], gt[3] + row0 * gt[5]
    x1, y1 = gt[0] + col1 * gt[1], gt[3] + row1 * gt[5]
    return f"POLYGON (({x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0}))"


def _points_of_classes(scene, per_class=5, seed=0):
    rng = np.random.default_rng(seed)
    features = []
    for value, name in enumerate(scene.class_names, start=1):
        rows, cols = np.nonzero(scene.class_map == value)
        for i in rng.choice(len(rows), min(per_class, len(rows)), replace=False):
            features.append((_point(scene, rows[i], cols[i]), name, None))
    return features


def test_text_points_and_polygons_rasterise_on_the_grid(tmp_path, sample_scene):
    grid = scene_grid(sample_scene)
    features = [
        (_point(sample_scene, 3, 4), "water", "#0000ff"),
        (_point(sample_scene, 10, 20), "roof", "255,0,0"),
        (_box(sample_scene, 20, 5, 23, 9), "water", "#0000ff"),  # 3 rows x 4 cols of pixel centres
    ]
    labels = read_labels(_vector_labels(str(tmp_path / "l.gpkg"), features), grid, "cls", "colour")
    names = {c.name: c for c in labels.info}
    assert sorted(names) == ["roof", "water"]
    assert names["water"].color == (0, 0, 255) and names["roof"].color == (255, 0, 0)
    assert labels.classes[3, 4] == names["water"].value
    assert labels.classes[10, 20] == names["roof"].value
    assert (labels.classes[20:23, 5:9] == names["water"].value).all()
    assert (labels.classes > 0).sum() == 2 + 12


def test_integer_field_in_another_crs_is_reprojected(tmp_path, sample_scene):
    grid = scene_grid(sample_scene)
    utm = osr.SpatialReference()
    utm.ImportFromEPSG(32633)
    wgs = osr.SpatialReference()
    wgs.ImportFromEPSG(4326)
    wgs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    utm.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    to_wgs = osr.CoordinateTransformation(utm, wgs)
    features = []
    for (row, col), value in (((5, 6), 7), ((30, 30), 2)):
        lon, lat, _ = to_wgs.TransformPoint(*_centre(sample_scene, row, col))
        features.append((f"POINT ({lon} {lat})", value, None))
    path = _vector_labels(str(tmp_path / "w.gpkg"), features, epsg=4326, field_type=ogr.OFTInteger)
    labels = read_labels(path, grid, "cls")
    assert [c.name for c in labels.info] == ["2", "7"]  # numeric order
    assert labels.classes[5, 6] == 2 and labels.classes[30, 30] == 1


def test_label_errors_and_warnings(tmp_path, sample_scene):
    grid = scene_grid(sample_scene)
    one_class = _vector_labels(str(tmp_path / "one.gpkg"), [(_point(sample_scene, 1, 1), "a", None),
                                                             (_point(sample_scene, 2, 2), "a", None)])
    with pytest.raises(HsiInputError, match="at least 2"):
        read_labels(one_class, grid, "cls")
    far = _vector_labels(str(tmp_path / "far.gpkg"), [("POINT (0 0)", "a", None), ("POINT (10 10)", "b", None)])
    with pytest.raises(HsiInputError, match="no label falls"):
        read_labels(far, grid, "cls")
    partly = _vector_labels(str(tmp_path / "partly.gpkg"), [
        (_point(sample_scene, 1, 1), "a", None), (_point(sample_scene, 2, 2), "b", None), ("POINT (0 0)", "c", None)])
    labels = read_labels(partly, grid, "cls")
    assert any("'c' has no labelled pixel" in w for w in labels.warnings)
    with pytest.raises(HsiInputError, match="no field 'klass'"):
        read_labels(partly, grid, "klass")


# --- graph --------------------------------------------------------------------------------------------------
def test_label_spreading_follows_the_graph():
    valid = np.ones((1, 6), dtype=bool)
    pixels = scene_pixels(np.array([[[0, 0.1, 0.2, 5, 5.1, 5.2]]], dtype=np.float32), valid, np.array([True]))
    graph = spatial_graph(pixels.spectra, pixels.neighbours())
    seeds = np.zeros((6, 2))
    seeds[0, 0] = seeds[5, 1] = 1
    assert propagate_labels(graph, seeds).argmax(axis=1).tolist() == [0, 0, 0, 1, 1, 1]


def test_graph_and_prior_each_decide_where_the_other_is_unsure():
    # a chain 0..6 labelled at both ends: the middle pixel is a tie for the graph (0.57 at the ends), so the prior
    # decides it; a mild prior for class 1 everywhere does not override the graph next to the class 0 label
    valid = np.ones((1, 7), dtype=bool)
    pixels = scene_pixels(np.arange(7, dtype=np.float32)[None, None], valid, np.array([True]))
    options = ClassifyOptions(graph_components=1, graph_neighbours=2)
    train, train_class = np.array([0, 6]), np.array([0, 1])
    labels_only = refine_with_graph(pixels, train, train_class, 2, options)
    np.testing.assert_allclose(labels_only[3], [0.5, 0.5], atol=1e-6)
    prior = np.tile(np.float32([0.48, 0.52]), (7, 1))
    refined = refine_with_graph(pixels, train, train_class, 2, options, prior)
    np.testing.assert_allclose(refined.sum(axis=1), 1.0, atol=1e-9)
    assert refined.argmax(axis=1).tolist() == [0, 0, 0, 1, 1, 1, 1]


def test_kernel_ridge_classifier_separates_spectral_classes(monkeypatch):
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, 600)
    features = (3 * rng.normal(size=(3, 20))[truth] + rng.normal(size=(600, 20))).astype(np.float32)
    train = np.concatenate([np.flatnonzero(truth == c)[:5] for c in range(3)])
    probabilities = KernelRidgeClassifier.fit(features, train, truth[train], 3).predict(features)
    assert probabilities.shape == (600, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert (probabilities.argmax(axis=1) == truth).mean() > 0.95
    # polygons can label thousands of pixels: the fit is capped but keeps every class
    monkeypatch.setattr(classify_model, "KERNEL_PRIOR_MAX_LABELS", 6)
    capped = KernelRidgeClassifier.fit(features, np.arange(600), truth, 3)
    assert len(capped.anchors) == 6 and (capped.predict(features).argmax(axis=1) == truth).mean() > 0.9


def test_many_labelled_pixels_train_in_minibatches():
    rng = np.random.default_rng(0)
    pixels = scene_pixels(rng.normal(size=(8, 40, 50)).astype(np.float32), np.ones((40, 50), bool), np.ones(8, bool))
    model = LolaSpecViT(8, 2, patch=3)
    sizes = []
    model.register_forward_hook(lambda module, args, output: sizes.append(len(args[0])))
    labelled = np.arange(0, 2000, 2)  # a polygon-sized training set: 1000 pixels
    finetune_classifier(model, PatchSampler(pixels.spectra, pixels, 3), labelled, labelled % 3, 3, steps=3, batch=64)
    assert sizes == [64, 64, 64]
    sizes.clear()
    finetune_classifier(model, PatchSampler(pixels.spectra, pixels, 3), labelled[:20], labelled[:20] % 3, 3, steps=2)
    assert sizes == [20, 20]


# --- workflow -----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory, sample_scene, scene_tif):
    folder = tmp_path_factory.mktemp("classify")
    labels = _vector_labels(str(folder / "train.gpkg"), _points_of_classes(sample_scene, 5, seed=0))
    validation = str(folder / "validation.tif")
    write_raster(validation, sample_scene.class_map[np.newaxis].astype(np.uint8), scene_grid(sample_scene), nodata=0)
    paths = {name: str(folder / name) for name in ("map.tif", "conf.tif", "prob.tif", "report.html", "model.safetensors")}
    result = classify_raster(
        scene_tif, labels, paths["map.tif"], class_field="cls", confidence_path=paths["conf.tif"],
        report_path=paths["report.html"], validation_path=validation, model_path=paths["model.safetensors"],
        probabilities_path=paths["prob.tif"], options=FAST, device="cpu",
    )
    return result, paths, folder


def test_class_raster_has_colour_table_names_and_qml(trained, sample_scene):
    result, paths, _ = trained
    ds = gdal.Open(paths["map.tif"])
    band = ds.GetRasterBand(1)
    assert band.DataType == gdal.GDT_Byte and band.GetNoDataValue() == 0
    assert ds.GetGeoTransform() == sample_scene.geotransform
    ds.GetMetadata()  # GDAL 3.6's GTiff loads the .aux.xml (category names) on the first metadata call
    names = band.GetCategoryNames()
    table = band.GetColorTable()
    for c in result.classes:
        assert names[c.value] == c.name
        assert table.GetColorEntry(c.value)[:3] == tuple(c.color)
    qml = Path(os.path.splitext(paths["map.tif"])[0] + ".qml").read_text(encoding="utf-8")
    assert 'type="paletted"' in qml
    assert all(f'label="{c.name}"' in qml for c in result.classes)
    values = np.unique(band.ReadAsArray())
    assert set(values.tolist()) <= {c.value for c in result.classes}


def test_report_confidence_and_probabilities(trained, sample_scene):
    result, paths, folder = trained
    assert result.summary is not None and 0 <= result.summary["overall_accuracy"] <= 1
    assert result.label_counts == {name: 5 for name in sample_scene.class_names}
    report = Path(paths["report.html"]).read_text(encoding="utf-8")
    assert "Overall accuracy" in report and os.path.exists(folder / "report_confusion.png")
    assert os.path.exists(folder / "report.json")
    probabilities = gdal.Open(paths["prob.tif"]).ReadAsArray()
    assert probabilities.shape == (6,) + sample_scene.class_map.shape
    np.testing.assert_allclose(probabilities.sum(axis=0), 1.0, atol=1e-4)
    confidence = gdal.Open(paths["conf.tif"]).ReadAsArray()
    np.testing.assert_allclose(confidence, probabilities.max(axis=0), atol=1e-6)


def test_apply_classifier_on_a_second_raster_and_band_mismatch(trained, tmp_path, sample_scene):
    result, paths, _ = trained
    second = str(tmp_path / "second.tif")
    info = raster_info(paths["map.tif"])
    data = sample_scene.data[:, ::-1].copy()  # another scene of the same sensor: the image flipped
    from hsi_qgis_plugin.core.metadata import BandMetadata

    meta = BandMetadata(data.shape[0], sample_scene.wavelengths_nm, sample_scene.fwhm_nm, sample_scene.bad_bands)
    write_raster(second, data.astype(np.float32), info.grid, meta)
    out = str(tmp_path / "applied.tif")
    class_map = apply_classifier(second, paths["model.safetensors"], out, device="cpu")
    applied = gdal.Open(out)
    assert applied.GetRasterBand(1).GetColorTable() is not None and applied.GetGeoTransform() == info.grid.geotransform
    assert class_map.shape == sample_scene.class_map.shape and (class_map > 0).all()
    value_of = {c.name: c.value for c in result.classes}
    truth = np.array([value_of[name] for name in sample_scene.class_names])[sample_scene.class_map[::-1] - 1]
    assert (class_map == truth).mean() > 0.8  # the default: the kernel classifier on the spectra
    lola_map = apply_classifier(second, paths["model.safetensors"], str(tmp_path / "lola.tif"), classifier="lola",
                                device="cpu")
    assert (lola_map != class_map).any() and (lola_map > 0).all()
    fewer = str(tmp_path / "fewer.tif")
    write_raster(fewer, data[:20].astype(np.float32), info.grid)
    with pytest.raises(HsiInputError, match="trained on 24 bands but the raster has 20"):
        apply_classifier(fewer, paths["model.safetensors"], str(tmp_path / "never.tif"), device="cpu")
    assert not os.path.exists(tmp_path / "never.tif")


def test_apply_classifier_choices_and_older_model_files(trained, tmp_path, scene_tif):
    _, paths, _ = trained
    with pytest.raises(HsiInputError, match="Unknown classifier 'svm'"):
        apply_classifier(scene_tif, paths["model.safetensors"], str(tmp_path / "never.tif"), classifier="svm")
    assert not os.path.exists(tmp_path / "never.tif")
    state, card = load_model(paths["model.safetensors"])
    older = str(tmp_path / "older.safetensors")  # written before the kernel classifier was saved
    del card["kernel_classifier"]
    with OutputSet([older]) as outputs:
        save_model(outputs, older, {k: v for k, v in state.items() if not k.startswith("kernel.")}, card)
    messages = []
    fallback = apply_classifier(scene_tif, older, str(tmp_path / "fallback.tif"), device="cpu",
                                monitor=Monitor(log=messages.append))
    lola = apply_classifier(scene_tif, paths["model.safetensors"], str(tmp_path / "lola.tif"), classifier="lola",
                            device="cpu")
    assert any("no kernel classifier" in m for m in messages)
    np.testing.assert_array_equal(fallback, lola)


def test_one_class_labels_leave_no_output(tmp_path, sample_scene, scene_tif):
    labels = _vector_labels(str(tmp_path / "one.gpkg"), [(_point(sample_scene, 1, 1), "a", None)])
    out = str(tmp_path / "map.tif")
    with pytest.raises(HsiInputError, match="at least 2"):
        classify_raster(scene_tif, labels, out, class_field="cls", options=FAST, device="cpu")
    assert os.listdir(tmp_path) == ["one.gpkg"]
