import numpy as np
import pytest

from hsi_qgis_plugin.core.degradation import (
    add_deadlines,
    add_gaussian_noise,
    add_impulse,
    add_mixture,
    add_noniid_gaussian_noise,
    add_stripes,
    degrade,
    mtf_gaussian_kernel,
    simulate_pan,
    wald_degrade,
)
from hsi_qgis_plugin.core.errors import HsiInputError


@pytest.fixture
def image():
    """Smooth image with values in [0, 2] (range 2), float32."""
    bands, rows, cols = 12, 64, 64
    r, c = np.meshgrid(np.linspace(0, 1, rows), np.linspace(0, 1, cols), indexing="ij")
    data = np.stack([(r + c * (b + 1) / bands) for b in range(bands)])
    data[0, 0, 0], data[0, -1, -1] = 0.0, 2.0
    return data.astype(np.float32)


def rng(seed=0):
    return np.random.default_rng(seed)


def changed_bands(before, after):
    return np.flatnonzero(np.any(before != after, axis=(1, 2)))


# --- Gaussian noise ---


def test_gaussian_noise_std_is_sigma_times_range(image):
    noise = add_gaussian_noise(image, 0.1, rng()) - image
    assert noise.dtype == np.float32
    assert noise.std() == pytest.approx(0.1 * 2.0, rel=0.02)
    assert abs(noise.mean()) < 0.01


def test_noniid_noise_std_per_band_lies_in_the_interval(image):
    noise = add_noniid_gaussian_noise(image, 0.02, 0.2, rng()) - image
    stds = noise.std(axis=(1, 2)) / 2.0
    assert np.all(stds > 0.02 * 0.95) and np.all(stds < 0.2 * 1.05)
    assert stds.max() - stds.min() > 0.05


def test_noise_is_reproducible_and_leaves_the_input_alone(image):
    before = image.copy()
    first = degrade(image, rng(7), noise="mixture")
    np.testing.assert_array_equal(first, degrade(image, rng(7), noise="mixture"))
    assert not np.array_equal(first, degrade(image, rng(8), noise="mixture"))
    np.testing.assert_array_equal(image, before)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"noise": "gaussian", "sigma": 0}, "SIGMA must be > 0"),
        ({"noise": "gaussian", "sigma": -0.1}, "SIGMA must be > 0"),
        ({"noise": "noniid", "sigma_min": 0.3, "sigma_max": 0.1}, "SIGMA_MIN .* must not exceed SIGMA_MAX"),
        ({"noise": "noniid", "sigma_min": 0, "sigma_max": 0.1}, "SIGMA_MIN must be > 0"),
        ({"noise": "stripes", "band_fraction": 0}, "BAND_FRACTION"),
        ({"noise": "impulse", "band_fraction": 1.5}, "BAND_FRACTION"),
        ({"noise": "mixture", "band_fraction": 0.5}, "BAND_FRACTION must be <= 1/3"),
        ({"noise": "speckle"}, "unknown NOISE"),
    ],
)
def test_degrade_validates_parameters(image, kwargs, message):
    with pytest.raises(HsiInputError, match=message):
        degrade(image, rng(), **kwargs)


def test_degrade_rejects_constant_and_non_finite_images(image):
    with pytest.raises(HsiInputError, match="constant"):
        add_gaussian_noise(np.ones((2, 4, 4)), 0.1, rng())
    image[0, 0, 0] = np.nan
    with pytest.raises(HsiInputError, match="NaN"):
        add_gaussian_noise(image, 0.1, rng())


def test_degrade_dispatches(image):
    np.testing.assert_array_equal(degrade(image, rng(), noise="none"), image)
    np.testing.assert_array_equal(degrade(image, rng(3), sigma=0.1), add_gaussian_noise(image, 0.1, rng(3)))
    noniid = add_noniid_gaussian_noise(image, 0.05, 0.1, rng(3))
    np.testing.assert_array_equal(degrade(image, rng(3), "noniid", sigma_min=0.05, sigma_max=0.1), noniid)
    # structured cases add their noise to a third of the bands on top of the non-i.i.d. noise
    stripes = degrade(image, rng(3), "stripes", sigma_min=0.05, sigma_max=0.1)
    assert changed_bands(noniid, stripes).size == 4


# --- structured noise ---


def test_stripes_are_constant_column_offsets(image):
    out = add_stripes(image, rng(), band_fraction=0.5)
    bands = changed_bands(image, out)
    assert bands.size == 6
    for band in bands:
        offset = (out[band] - image[band]).astype(np.float64)
        # the same offset all the way down each column
        np.testing.assert_allclose(offset, np.broadcast_to(offset[0], offset.shape), atol=1e-6)
        striped = np.count_nonzero(offset[0])
        assert round(0.05 * 64) <= striped <= round(0.15 * 64)
        assert np.abs(offset).max() <= 0.25 * 2.0 + 1e-6


def test_deadlines_set_whole_columns_to_the_minimum(image):
    out = add_deadlines(image, rng(), band_fraction=1 / 3)
    bands = changed_bands(image, out)
    assert bands.size == 4
    for band in bands:
        dead = np.all(out[band] == image.min(), axis=0)
        assert 1 <= dead.sum() <= 10 * 3
        np.testing.assert_array_equal(out[band][:, ~dead], image[band][:, ~dead])


def test_impulse_uses_one_of_the_amounts(image):
    out = add_impulse(image, rng(), band_fraction=1.0, amounts=(0.2,))
    hit = out != image
    assert hit.mean() == pytest.approx(0.2, abs=0.02)
    assert set(np.unique(out[hit])) <= {image.min(), image.max()}
    salt = (out[hit] == image.max()).mean()
    assert salt == pytest.approx(0.5, abs=0.05)
    with pytest.raises(HsiInputError, match="AMOUNTS"):
        add_impulse(image, rng(), amounts=(0.0,))


def test_mixture_puts_each_structured_noise_on_its_own_third(image):
    mixed = add_mixture(image, rng(5))
    gaussian_only = add_noniid_gaussian_noise(image, 10 / 255, 70 / 255, rng(5))
    touched = changed_bands(gaussian_only, mixed)
    assert touched.size == 3 * 4
    impulse = [b for b in range(12) if np.any(mixed[b] == image.max())]
    dead = [b for b in range(12) if np.any(np.all(mixed[b] == image.min(), axis=0)) and b not in impulse]
    assert len(impulse) == 4 and len(dead) == 4
    assert set(impulse) | set(dead) <= set(touched)
    with pytest.raises(HsiInputError, match="at least 3 bands"):
        add_mixture(image[:2], rng())


# --- MTF and Wald protocol ---


@pytest.mark.parametrize("ratio", [2, 3, 4, 6])
@pytest.mark.parametrize("gain", [0.2, 0.3, 0.45])
def test_mtf_kernel_response_at_nyquist(ratio, gain):
    kernel = mtf_gaussian_kernel(ratio, gain)
    assert kernel.shape[0] == kernel.shape[1] and kernel.shape[0] % 2 == 1 and kernel.shape[0] >= 41
    assert kernel.sum() == pytest.approx(1.0)
    size = 480  # multiple of 2 * ratio, so f = 1 / (2 ratio) is an FFT bin
    response = np.abs(np.fft.fft2(kernel, s=(size, size)))
    assert response[0, size // (2 * ratio)] == pytest.approx(gain, abs=1e-2)
    assert response[size // (2 * ratio), 0] == pytest.approx(gain, abs=1e-2)


def test_mtf_kernel_validation():
    with pytest.raises(HsiInputError, match="GAIN_AT_NYQUIST"):
        mtf_gaussian_kernel(4, 1.0)
    with pytest.raises(HsiInputError, match="odd"):
        mtf_gaussian_kernel(4, 0.3, size=40)
    assert mtf_gaussian_kernel(4, 0.3, size=11).shape == (11, 11)


def test_wald_degrade_shape_and_constant_image():
    image = np.full((3, 50, 47), 0.4, dtype=np.float32)
    out = wald_degrade(image, 4)
    assert out.shape == (3, 12, 11) and out.dtype == np.float32
    np.testing.assert_allclose(out, 0.4, rtol=1e-6)
    np.testing.assert_array_equal(wald_degrade(image, 1), image)


def test_wald_degrade_samples_the_low_resolution_pixel_centre():
    image = np.zeros((1, 16, 16))
    image[0, 2 + 4, 2 + 8] = 1.0  # centre of low-resolution pixel (1, 2) for ratio 4
    out = wald_degrade(image, 4)
    assert np.unravel_index(np.argmax(out[0]), out[0].shape) == (1, 2)


def test_wald_degrade_per_band_gains(image):
    sharp, soft = wald_degrade(image[:2], 4, gain_at_nyquist=[0.45, 0.1])
    assert sharp.shape == soft.shape == (16, 16)
    with pytest.raises(HsiInputError, match="one per band"):
        wald_degrade(image, 4, gain_at_nyquist=[0.3, 0.3])


@pytest.mark.parametrize(
    "ratio, message", [(2.5, "RATIO must be an integer"), (0, "RATIO"), (100, "smaller than RATIO")]
)
def test_wald_degrade_rejects_bad_ratio(image, ratio, message):
    with pytest.raises(HsiInputError, match=message):
        wald_degrade(image, ratio)


# --- panchromatic simulation ---


def test_simulate_pan_averages_bands_in_range(image):
    wavelengths = np.linspace(400, 2500, image.shape[0])
    inside = wavelengths <= 900
    np.testing.assert_allclose(simulate_pan(image, wavelengths), image[inside].mean(axis=0), rtol=1e-6)


def test_simulate_pan_errors(image):
    with pytest.raises(HsiInputError, match=r"400-900 nm; the image covers 1000-2500 nm"):
        simulate_pan(image, np.linspace(1000, 2500, image.shape[0]))
    with pytest.raises(HsiInputError, match="12 bands"):
        simulate_pan(image, np.linspace(400, 900, 5))
