"""Raster engine: ENVI/GeoTIFF reading with band metadata, writing, georeferencing round trips."""
from __future__ import annotations

import os

import numpy as np
import pytest
from osgeo import gdal, osr

from hsi_qgis_plugin.core.errors import HsiInputError
from hsi_qgis_plugin.core.metadata import BandMetadata
from hsi_qgis_plugin.core.outputs import OutputSet
from hsi_qgis_plugin.core.raster import (
    GeoTiffWriter,
    RasterGrid,
    open_raster,
    raster_info,
    read_raster,
    read_window,
    valid_pixel_mask,
    write_raster,
)
from hsi_qgis_plugin.core.tiling import run_tiled
from tests.conftest import shared_file

BANDS, ROWS, COLS = 7, 9, 11
WAVELENGTHS_UM = [0.45, 0.55, 0.65, 0.75, 0.85, 1.4, 2.2]


def utm33_wkt() -> str:
    reference = osr.SpatialReference()
    reference.ImportFromEPSG(32633)
    return reference.ExportToWkt()


def cube() -> np.ndarray:
    return (np.arange(BANDS * ROWS * COLS, dtype=np.float32).reshape(BANDS, ROWS, COLS) * 0.5) - 3.0


def write_envi(folder, interleave: str) -> str:
    """A hand-written ENVI file (raw binary + .hdr), as ENVI itself writes them."""
    data = cube()
    layout = {"bsq": data, "bil": data.transpose(1, 0, 2), "bip": data.transpose(1, 2, 0)}[interleave]
    path = os.path.join(folder, f"scene_{interleave}.img")
    np.ascontiguousarray(layout).astype("<f4").tofile(path)
    header = [
        "ENVI",
        f"samples = {COLS}",
        f"lines = {ROWS}",
        f"bands = {BANDS}",
        "header offset = 0",
        "file type = ENVI Standard",
        "data type = 4",
        f"interleave = {interleave}",
        "byte order = 0",
        "map info = {UTM, 1.000, 1.000, 368000.000, 5810000.000, 30.000, 30.000, 33, North, WGS-84, units=Meters}",
        "wavelength units = Micrometers",
        "wavelength = {" + ", ".join(str(w) for w in WAVELENGTHS_UM) + "}",
        "fwhm = {" + ", ".join("0.01" for _ in WAVELENGTHS_UM) + "}",
        "bbl = {1, 1, 1, 1, 1, 0, 1}",
        "data ignore value = -9999",
    ]
    with open(os.path.join(folder, f"scene_{interleave}.hdr"), "w") as handle:
        handle.write("\n".join(header) + "\n")
    return path


@pytest.mark.parametrize("interleave", ["bsq", "bil", "bip"])
def test_envi_round_trip_keeps_values_wavelengths_and_georeferencing(tmp_path, interleave):
    source = write_envi(str(tmp_path), interleave)
    info = raster_info(source)
    assert info.band_count == BANDS
    np.testing.assert_allclose(info.metadata.wavelengths_nm, np.array(WAVELENGTHS_UM) * 1000)
    np.testing.assert_allclose(info.metadata.fwhm_nm, 10.0)
    assert info.metadata.bad_bands.tolist() == [False] * 5 + [True, False]
    assert info.metadata.nodata == -9999
    np.testing.assert_array_equal(read_window(open_raster(source), 0, 0, COLS, ROWS), cube())

    output = str(tmp_path / f"copy_{interleave}.tif")
    run_tiled(open_raster(source), output, lambda tile, window: tile, BANDS, info.metadata, tile_size=16, overlap=4)
    data, copied = read_raster(output)
    np.testing.assert_array_equal(data, cube())
    np.testing.assert_allclose(copied.metadata.wavelengths_nm, info.metadata.wavelengths_nm)
    np.testing.assert_allclose(copied.metadata.fwhm_nm, 10.0)
    np.testing.assert_array_equal(copied.metadata.bad_bands, info.metadata.bad_bands)
    assert copied.grid.geotransform == pytest.approx((368000.0, 30.0, 0.0, 5810000.0, 0.0, -30.0))
    assert osr.SpatialReference(wkt=copied.grid.crs_wkt).GetUTMZone() == 33
    assert copied.metadata.descriptions == info.metadata.descriptions  # band names are kept


def test_geotiff_output_is_tiled_compressed_and_readable_by_envi_tools(tmp_path):
    grid = RasterGrid(COLS, ROWS, (500000.0, 10.0, 0.0, 100.0, 0.0, -10.0), utm33_wkt())
    meta = BandMetadata(BANDS, wavelengths_nm=np.array(WAVELENGTHS_UM) * 1000)
    path = write_raster(str(tmp_path / "out.tif"), cube(), grid, meta, nodata=-9999)
    ds = gdal.Open(path)
    structure = ds.GetMetadata("IMAGE_STRUCTURE")
    assert structure["COMPRESSION"] == "DEFLATE" and structure["INTERLEAVE"] == "BAND"
    assert ds.GetRasterBand(1).GetBlockSize() == [256, 256]
    envi_domain = ds.GetMetadata("ENVI")
    assert envi_domain["wavelength_units"] == "Nanometers"
    assert envi_domain["wavelength"].startswith("{450, 550")
    assert ds.GetRasterBand(2).GetMetadataItem("wavelength") == "550"
    assert ds.GetRasterBand(1).GetNoDataValue() == -9999
    assert grid.same_as(raster_info(path).grid)


def test_micrometre_band_metadata_without_units_is_converted_to_nanometres(tmp_path):
    path = write_raster(str(tmp_path / "um.tif"), cube(), RasterGrid(COLS, ROWS, (0, 1, 0, 0, 0, -1), ""))
    ds = gdal.Open(path, gdal.GA_Update)
    for i, wavelength in enumerate(WAVELENGTHS_UM):
        ds.GetRasterBand(i + 1).SetMetadataItem("wavelength", str(wavelength))
    ds = None
    np.testing.assert_allclose(raster_info(path).metadata.wavelengths_nm, np.array(WAVELENGTHS_UM) * 1000)


def test_failed_write_through_an_output_set_leaves_no_file(tmp_path):
    grid = RasterGrid(COLS, ROWS, (0, 1, 0, 0, 0, -1), "")
    path = str(tmp_path / "never.tif")
    with pytest.raises(RuntimeError):
        with OutputSet([path]) as outputs, GeoTiffWriter(outputs.path(path), grid, BANDS) as writer:
            writer.write_rows(0, cube()[:, :4])
            raise RuntimeError("simulated failure mid-run")
    assert os.listdir(tmp_path) == []


def test_missing_file_and_missing_folder_give_clear_errors(tmp_path):
    with pytest.raises(HsiInputError, match="does not exist"):
        raster_info(str(tmp_path / "nope.tif"))
    with pytest.raises(HsiInputError, match="Output folder"):
        OutputSet([str(tmp_path / "no" / "dir.tif")])
    with pytest.raises(HsiInputError, match="outside"):
        read_window(open_raster(write_envi(str(tmp_path), "bsq")), 5, 5, 20, 2)


def test_valid_pixel_mask_ignores_bad_bands():
    data = np.ones((3, 2, 2), dtype=np.float32)
    data[0, 0, 0] = -1  # nodata in a good band
    data[2] = -1  # a bad band full of nodata
    mask = valid_pixel_mask(data, -1, np.array([False, False, True]))
    assert mask.tolist() == [[False, True], [True, True]]


def test_enmap_tile_metadata_from_band_items():
    info = raster_info(shared_file("enmap_potsdam", "images", "enmap_potsdam_tile_128_0.tif"))
    assert info.band_count == 224
    assert info.metadata.wavelengths_nm[0] == pytest.approx(418.24)
    assert info.metadata.nodata == -32768
    assert info.metadata.scales[0] == pytest.approx(1e-4)
    assert 0 < info.metadata.bad_bands.sum() < 224


def test_vrt_mosaic_inherits_wavelengths_from_its_tiles():
    info = raster_info(shared_file("enmap_potsdam", "mosaic.vrt"))
    assert info.metadata.wavelengths_nm is not None
    assert info.metadata.wavelengths_nm[-1] == pytest.approx(2445.0, abs=5)


def test_envi_bip_with_bad_band_list_from_shared_data():
    path = shared_file("aviris_ng", "ang20140912t192359_corr_v1c_img_400-410_10-20.img")
    info = raster_info(path)
    assert info.band_count == 432
    assert info.metadata.bad_bands[:7].all() and not info.metadata.bad_bands[7]
    assert info.metadata.wavelengths_nm[0] == pytest.approx(346.2995778)


def test_envi_bsq_from_shared_data_round_trips(tmp_path):
    path = shared_file("gamsberg", "cubus_gamsberg_subset")
    data, info = read_raster(path)
    output = str(tmp_path / "gamsberg.tif")
    run_tiled(open_raster(path), output, lambda tile, window: tile, info.band_count, info.metadata, tile_size=16, overlap=2)
    copy, copied = read_raster(output)
    np.testing.assert_array_equal(copy, data)
    np.testing.assert_allclose(copied.metadata.wavelengths_nm, info.metadata.wavelengths_nm)
    assert copied.grid.same_as(info.grid)
