import time

import numpy as np
import pytest

from hsi_qgis_plugin.core.errors import HsiInputError
from hsi_qgis_plugin.core.sample_scene import make_sample_scene


@pytest.fixture(scope="module")
def scene():
    return make_sample_scene()


def test_shapes_types_and_range(scene):
    assert scene.data.shape == (120, 128, 128) and scene.data.dtype == np.float32
    assert 0.0 <= scene.data.min() and scene.data.max() <= 1.0
    assert scene.wavelengths_nm.shape == scene.fwhm_nm.shape == scene.bad_bands.shape == (120,)
    assert scene.wavelengths_nm[0] == 400 and scene.wavelengths_nm[-1] == 2500
    assert np.all(np.diff(scene.wavelengths_nm) > 0) and np.all(scene.fwhm_nm > 0)
    k = len(scene.class_names)
    assert scene.endmembers.shape == (k, 120) and len(scene.class_colors) == k
    assert scene.class_map.shape == (128, 128) and scene.class_map.dtype == np.uint8
    assert scene.crs_epsg == 32633
    assert scene.geotransform == (368000.0, 30.0, 0.0, 5810000.0, 0.0, -30.0)


def test_deterministic_for_a_seed(scene):
    again = make_sample_scene()
    np.testing.assert_array_equal(scene.data, again.data)
    np.testing.assert_array_equal(scene.class_map, again.class_map)
    assert not np.array_equal(scene.data, make_sample_scene(seed=1).data)


def test_every_class_is_present(scene):
    assert set(np.unique(scene.class_map)) == set(range(1, len(scene.class_names) + 1))
    for seed in range(3):
        small = make_sample_scene(rows=16, cols=24, n_bands=5, seed=seed)
        assert set(np.unique(small.class_map)) == set(range(1, 7))


def test_bad_bands_are_the_water_vapour_windows(scene):
    wl = scene.wavelengths_nm
    expected = ((wl >= 1340) & (wl <= 1450)) | ((wl >= 1790) & (wl <= 1960))
    np.testing.assert_array_equal(scene.bad_bands, expected)
    good_mean = scene.data[~scene.bad_bands & (wl > 1000)].mean()
    assert scene.data[scene.bad_bands].mean() < 0.3 * good_mean


def test_vegetation_has_a_red_edge(scene):
    wl = scene.wavelengths_nm
    vegetation = scene.endmembers[scene.class_names.index("vegetation")]
    red, nir = vegetation[np.argmin(np.abs(wl - 670))], vegetation[np.argmin(np.abs(wl - 850))]
    assert nir / red > 4
    assert 0.4 < nir < 0.55
    # also in the image: mean vegetation pixel
    pixels = scene.data[:, scene.class_map == 1]
    assert pixels[np.argmin(np.abs(wl - 850))].mean() / pixels[np.argmin(np.abs(wl - 670))].mean() > 4


def test_water_is_dark_beyond_900_nm(scene):
    water = scene.endmembers[scene.class_names.index("water")]
    assert water[scene.wavelengths_nm > 900].max() < 0.01
    assert 0.03 < water[np.argmin(np.abs(scene.wavelengths_nm - 520))] < 0.07


def test_any_band_count_down_to_three():
    small = make_sample_scene(rows=8, cols=8, n_bands=3)
    assert small.data.shape == (3, 8, 8)
    with pytest.raises(HsiInputError, match="N_BANDS"):
        make_sample_scene(n_bands=2)


def test_fast_enough():
    start = time.perf_counter()
    make_sample_scene(seed=3)
    assert time.perf_counter() - start < 1.0
