"""The OutputSet transaction: commit, rollback on any exception, refusal of outputs that name inputs, and every
method that writes files going through it (an exception inside a method leaves nothing behind)."""
from __future__ import annotations

import os

import numpy as np
import pytest

from hsi_qgis_plugin.core import raster as raster_module
from hsi_qgis_plugin.core.errors import HsiInputError
from hsi_qgis_plugin.core.outputs import OutputSet
from hsi_qgis_plugin.core.raster import RasterGrid, raster_info, write_raster

INTERRUPTS = [RuntimeError("simulated failure"), MemoryError(), KeyboardInterrupt(), SystemExit(1)]


def write_text(path, text: str) -> str:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return str(path)


def read_text(path) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def listing(folder) -> list:
    return sorted(os.listdir(folder))


def test_commit_moves_every_file_into_place_and_leaves_no_temporary(tmp_path):
    raster, report = str(tmp_path / "out.tif"), str(tmp_path / "report.html")
    with OutputSet([raster, report]) as outputs:
        write_raster(outputs.path(raster), np.ones((2, 3, 4), np.float32), RasterGrid(4, 3, (0, 1, 0, 0, 0, -1), ""))
        write_text(outputs.path(report), "<html>new</html>")
        assert os.path.basename(outputs.path(raster)).startswith(".out.tif.")
        assert outputs.path(raster).endswith(".tif")  # extension kept: writers pick formats by suffix
        assert not os.path.exists(raster)  # nothing at a destination before the commit
    assert listing(tmp_path) == ["out.tif", "report.html"]
    assert raster_info(raster).band_count == 2
    assert read_text(report) == "<html>new</html>"


@pytest.mark.parametrize("interrupt", INTERRUPTS, ids=lambda e: type(e).__name__)
def test_rollback_on_any_exception_keeps_the_files_that_were_there(tmp_path, interrupt):
    old = write_text(tmp_path / "result.json", "earlier result")
    write_text(tmp_path / "result.json.aux.xml", "earlier sidecar")
    new = str(tmp_path / "other.png")
    with pytest.raises(type(interrupt)):
        with OutputSet([old, new]) as outputs:
            write_text(outputs.path(old), "half-written")
            write_text(outputs.path(old) + ".aux.xml", "half-written sidecar")
            write_text(outputs.path(new), "half-written")
            scratch = write_text(outputs.scratch(new, ".x2.tif"), "intermediate")
            raise interrupt
    assert listing(tmp_path) == ["result.json", "result.json.aux.xml"]
    assert read_text(old) == "earlier result" and read_text(old + ".aux.xml") == "earlier sidecar"
    assert not os.path.exists(scratch)


def test_a_stale_aux_xml_of_an_earlier_file_is_replaced_or_removed(tmp_path):
    with_sidecar, without = str(tmp_path / "a.tif"), str(tmp_path / "b.tif")
    for path in (with_sidecar, without):
        write_text(path, "earlier raster")
        write_text(path + ".aux.xml", "<PAMDataset>categories of the earlier raster</PAMDataset>")
    with OutputSet([with_sidecar, without]) as outputs:
        write_text(outputs.path(with_sidecar), "new raster")
        write_text(outputs.path(with_sidecar) + ".aux.xml", "<PAMDataset>new</PAMDataset>")
        write_text(outputs.path(without), "new raster")
    assert read_text(with_sidecar + ".aux.xml") == "<PAMDataset>new</PAMDataset>"
    assert not os.path.exists(without + ".aux.xml")
    assert listing(tmp_path) == ["a.tif", "a.tif.aux.xml", "b.tif"]


def test_scratch_files_are_removed_after_a_successful_run(tmp_path):
    final = str(tmp_path / "x4.tif")
    with OutputSet([final]) as outputs:
        scratch = write_text(outputs.scratch(final, ".x2.tif"), "intermediate")
        write_text(scratch + ".aux.xml", "its statistics")
        write_text(outputs.path(final), "result")
    assert listing(tmp_path) == ["x4.tif"]


def test_a_failed_commit_restores_every_earlier_destination(tmp_path, monkeypatch):
    first, second = write_text(tmp_path / "first.txt", "old 1"), write_text(tmp_path / "second.txt", "old 2")
    real_replace = os.replace

    def failing_replace(source, target):
        if target == second and ".partial" in source:
            raise OSError("disk went away")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk went away"):
        with OutputSet([first, second]) as outputs:
            write_text(outputs.path(first), "new 1")
            write_text(outputs.path(second), "new 2")
    assert (read_text(first), read_text(second)) == ("old 1", "old 2")
    assert listing(tmp_path) == ["first.txt", "second.txt"]


def test_output_naming_an_input_is_refused_however_it_is_spelt(tmp_path, monkeypatch):
    source = write_text(tmp_path / "scene.tif", "input")
    os.symlink(source, tmp_path / "link.tif")
    os.link(source, tmp_path / "hard.tif")
    monkeypatch.chdir(tmp_path)
    for spelling in (source, "scene.tif", "./sub/../scene.tif", str(tmp_path / "link.tif"), "hard.tif"):
        with pytest.raises(HsiInputError, match="also an input"):
            OutputSet([spelling], inputs=[source])
    with pytest.raises(HsiInputError, match="also an input"):  # an input given through a link
        OutputSet([source], inputs=[str(tmp_path / "link.tif")])
    with pytest.raises(HsiInputError, match="also an input"):  # a vector source with its layer name
        OutputSet([str(tmp_path / "labels.gpkg")], inputs=[f"{tmp_path / 'labels.gpkg'}|layername=labels"])
    outputs = OutputSet([str(tmp_path / "out.tif")], inputs=[source])
    with pytest.raises(HsiInputError, match="also an input"):  # a sidecar declared later is checked too
        outputs.path("scene.tif")
    assert read_text(source) == "input"


def test_bad_destinations_are_refused_before_anything_runs(tmp_path):
    with pytest.raises(HsiInputError, match="same file"):
        OutputSet([str(tmp_path / "a.tif"), str(tmp_path / "." / "a.tif")])
    with pytest.raises(HsiInputError, match="does not exist"):
        OutputSet([str(tmp_path / "missing" / "a.tif")])
    with pytest.raises(HsiInputError, match="is a folder"):
        OutputSet([str(tmp_path)])
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if not os.access(locked, os.W_OK):  # root may write anywhere
            with pytest.raises(HsiInputError, match="not writable"):
                OutputSet([str(locked / "a.tif")])
    finally:
        locked.chmod(0o700)
    assert OutputSet([None, "", str(tmp_path / "ok.tif")], inputs=[None, ""])  # optional entries skipped


# --- every method that writes files goes through its OutputSet ----------------------------------------------


def _methods(tmp_path, scene_tif):
    """(name, run(output folder) -> declared outputs) for each file-writing method, on the small sample scene."""
    from hsi_qgis_plugin.methods.denoise.lowrank import lowrank_denoise
    from hsi_qgis_plugin.methods.denoise.workflow import denoise_raster
    from hsi_qgis_plugin.methods.quality.workflow import assess_quality
    from hsi_qgis_plugin.methods.simulate.workflow import simulate_degradation
    from hsi_qgis_plugin.methods.superres.workflow import superresolve

    out = str(tmp_path / "out.tif")
    return {
        "lowrank": lambda: lowrank_denoise(scene_tif, out, tile_size=16),
        "subspace": lambda: denoise_raster(scene_tif, out, method="subspace", tile_size=32),
        "superres": lambda: superresolve(scene_tif, out, factor=2, method="bicubic"),
        "simulate": lambda: simulate_degradation(scene_tif, out, ratio=2,
                                                 pan_output_path=str(tmp_path / "pan.tif")),
        "quality": lambda: assess_quality(scene_tif, scene_tif, html_path=str(tmp_path / "report.html"),
                                          json_path=str(tmp_path / "report.json")),
    }


@pytest.mark.parametrize("interrupt", INTERRUPTS[:3], ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("method", ["lowrank", "subspace", "superres", "simulate", "quality"])
def test_an_exception_inside_a_method_leaves_nothing_and_keeps_an_earlier_output(
    tmp_path, scene_tif, monkeypatch, method, interrupt
):
    earlier = write_text(tmp_path / "out.tif", "an earlier result the user keeps")
    writes = []

    def failing(original):
        def wrapper(*args, **kwargs):
            result = original(*args, **kwargs)  # the temporary file exists when the failure strikes
            writes.append(args)
            raise interrupt
        return wrapper

    from hsi_qgis_plugin.methods.quality import workflow as quality

    monkeypatch.setattr(raster_module.GeoTiffWriter, "write_array", failing(raster_module.GeoTiffWriter.write_array))
    monkeypatch.setattr(quality, "write_html", failing(quality.write_html))
    with pytest.raises(type(interrupt)):
        _methods(tmp_path, scene_tif)[method]()
    assert writes, "the failure was injected after a file was written"
    assert listing(tmp_path) == ["out.tif"]
    assert read_text(earlier) == "an earlier result the user keeps"


@pytest.mark.parametrize("method", ["lowrank", "subspace", "superres", "simulate", "quality"])
def test_every_method_refuses_to_write_over_its_input(tmp_path, scene_tif, method):
    import shutil

    source = str(tmp_path / "out.tif")
    shutil.copy(scene_tif, source)
    before = (tmp_path / "out.tif").read_bytes()
    runs = _methods(tmp_path, source)
    if method == "quality":
        from hsi_qgis_plugin.methods.quality.workflow import assess_quality

        runs[method] = lambda: assess_quality(source, source, html_path=source)
    with pytest.raises(HsiInputError, match="also an input"):
        runs[method]()
    assert (tmp_path / "out.tif").read_bytes() == before
    assert listing(tmp_path) == ["out.tif"]
