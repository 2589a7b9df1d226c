import numpy as np
import pytest

from hsi_qgis_plugin.core.errors import HsiInputError
from hsi_qgis_plugin.core.metrics import (
    assess,
    ergas,
    hypercomplex_conjugate,
    hypercomplex_multiply,
    psnr_per_band,
    q2n,
    sam_degrees,
    sam_map_degrees,
    ssim_per_band,
)


@pytest.fixture
def image():
    rng = np.random.default_rng(1)
    return rng.random((6, 40, 40))


def noisy(image, sigma, seed=2):
    return image + sigma * np.random.default_rng(seed).standard_normal(image.shape)


# --- PSNR ---


def test_psnr_of_a_known_mse():
    ref = np.zeros((2, 4, 4))
    ref[:, :, 2:] = 2.0  # data range 2
    est = ref + 0.1  # MSE 0.01 in every band
    np.testing.assert_allclose(psnr_per_band(ref, est, data_range=1.0), [20.0, 20.0])
    np.testing.assert_allclose(psnr_per_band(ref, est), 10 * np.log10(4 / 0.01))


def test_psnr_identical_band_is_inf_and_mpsnr_averages_finite_values(image):
    est = image.copy()
    est[1:] += 0.1
    per_band = psnr_per_band(image, est, data_range=1.0)
    assert per_band[0] == np.inf
    np.testing.assert_allclose(per_band[1:], 20.0)
    assert assess(image, est, data_range=1.0)["MPSNR"] == pytest.approx(20.0)
    assert assess(image, image)["MPSNR"] == np.inf


def test_psnr_rejects_bad_data_range(image):
    with pytest.raises(HsiInputError, match="DATA_RANGE"):
        psnr_per_band(image, image, data_range=0)
    with pytest.raises(HsiInputError, match="constant"):
        psnr_per_band(np.ones((2, 5, 5)), np.ones((2, 5, 5)))


# --- SSIM ---


def test_ssim_identical_is_one_and_drops_with_noise(image):
    np.testing.assert_allclose(ssim_per_band(image, image), 1.0)
    low = ssim_per_band(image, noisy(image, 0.05))
    high = ssim_per_band(image, noisy(image, 0.2))
    assert np.all(high < low) and np.all(low < 1)


def test_ssim_needs_the_window_size():
    with pytest.raises(HsiInputError, match="11 x 11"):
        ssim_per_band(np.ones((2, 10, 30)), np.ones((2, 10, 30)), data_range=1)


# --- SAM ---


def test_sam_of_known_vectors():
    ref = np.zeros((2, 1, 3))
    est = np.zeros((2, 1, 3))
    ref[:, 0, 0], est[:, 0, 0] = [1, 0], [0, 1]  # orthogonal: 90 degrees
    ref[:, 0, 1], est[:, 0, 1] = [1, 2], [3, 6]  # scaled spectrum: 0 degrees
    ref[:, 0, 2], est[:, 0, 2] = [1, 0], [1, 1]  # 45 degrees
    np.testing.assert_allclose(sam_map_degrees(ref, est)[0], [90, 0, 45], atol=1e-6)
    assert sam_degrees(ref, est) == pytest.approx(45.0)


def test_sam_skips_zero_spectra():
    ref = np.ones((3, 1, 2))
    est = np.ones((3, 1, 2))
    est[:, 0, 1] = 0
    assert np.isnan(sam_map_degrees(ref, est)[0, 1])
    assert sam_degrees(ref, est) == pytest.approx(0.0, abs=1e-6)


# --- ERGAS ---


def test_ergas_of_a_constant_offset_by_hand():
    ref = np.stack([np.full((4, 4), 2.0), np.full((4, 4), 4.0)])
    est = ref + 0.2
    # (100 / 4) * sqrt((0.2^2 / 2^2 + 0.2^2 / 4^2) / 2) = 25 * sqrt(0.00625)
    assert ergas(ref, est, ratio=4) == pytest.approx(25 * np.sqrt(0.00625))
    assert ergas(ref, ref) == 0.0


def test_ergas_skips_zero_mean_bands():
    ref = np.stack([np.full((4, 4), 2.0), np.zeros((4, 4))])
    est = ref + 0.2
    assert ergas(ref, est) == pytest.approx(100 * 0.2 / 2)
    with pytest.raises(HsiInputError, match="RATIO"):
        ergas(ref, est, ratio=0)


# --- hypercomplex algebra ---


def test_hypercomplex_product_matches_complex_numbers():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2, 2, 7))
    product = hypercomplex_multiply(x, y)
    expected = (x[0] + 1j * x[1]) * (y[0] + 1j * y[1])
    np.testing.assert_allclose(product[0] + 1j * product[1], expected)


@pytest.mark.parametrize("components", [2, 4, 8, 16, 32])
def test_hypercomplex_times_conjugate_is_squared_modulus(components):
    x = np.random.default_rng(components).standard_normal((components, 9))
    product = hypercomplex_multiply(x, hypercomplex_conjugate(x))
    np.testing.assert_allclose(product[0], np.sum(x * x, axis=0))
    np.testing.assert_allclose(product[1:], 0, atol=1e-12)


@pytest.mark.parametrize("components", [4, 8])  # quaternions and octonions are normed algebras
def test_hypercomplex_modulus_is_multiplicative(components):
    x, y = np.random.default_rng(5).standard_normal((2, components, 9))
    np.testing.assert_allclose(
        np.linalg.norm(hypercomplex_multiply(x, y), axis=0), np.linalg.norm(x, axis=0) * np.linalg.norm(y, axis=0)
    )


# --- Q2n ---


def _normalised(ref_band, est_band):
    """Both bands mapped with the reference z-score plus one, as Q2n does."""
    mean, std = ref_band.mean(), ref_band.std()
    return (ref_band - mean) / std + 1, (est_band - mean) / std + 1


def _q2n_one_block_by_pixel_products(ref, est):
    """Reference Q2n of a single block with explicit per-pixel hypercomplex products."""
    bands = ref.shape[0]
    components = 1 << (bands - 1).bit_length()
    x = np.zeros((components, ref[0].size))
    y = np.zeros_like(x)
    x[:bands], y[:bands] = ref.reshape(bands, -1), est.reshape(bands, -1)
    mean = x.mean(axis=1, keepdims=True)
    std = np.where(x.std(axis=1) > 0, x.std(axis=1), 1.0)[:, None]
    x, y = (x - mean) / std + 1, (y - mean) / std + 1
    dx, dy = x - x.mean(axis=1, keepdims=True), y - y.mean(axis=1, keepdims=True)
    sigma_xy = np.linalg.norm(hypercomplex_multiply(dx, hypercomplex_conjugate(dy)).mean(axis=1))
    var_x, var_y = np.mean(np.sum(dx * dx, axis=0)), np.mean(np.sum(dy * dy, axis=0))
    mx, my = np.linalg.norm(x.mean(axis=1)), np.linalg.norm(y.mean(axis=1))
    return 4 * sigma_xy * mx * my / ((var_x + var_y) * (mx**2 + my**2))


def test_q2n_identical_is_one(image):
    assert q2n(image, image) == pytest.approx(1.0, abs=1e-12)
    single = image.astype(np.float32)
    assert q2n(single, single, block_size=16, shift=8) == pytest.approx(1.0, abs=1e-12)


def test_q2n_decreases_with_noise(image):
    values = [q2n(image, noisy(image, sigma)) for sigma in (0.01, 0.05, 0.2, 0.5)]
    assert all(0 <= v <= 1 for v in values)
    assert values == sorted(values, reverse=True)


def test_q2n_matches_explicit_hypercomplex_products():
    rng = np.random.default_rng(3)
    ref = rng.random((5, 20, 20))
    est = ref + 0.1 * rng.standard_normal(ref.shape)
    assert q2n(ref, est) == pytest.approx(_q2n_one_block_by_pixel_products(ref, est), rel=1e-10)


def test_q2n_of_one_block_does_not_depend_on_block_size():
    rng = np.random.default_rng(4)
    ref = rng.random((3, 32, 32))
    est = ref + 0.1 * rng.standard_normal(ref.shape)
    values = [q2n(ref, est, block_size=size, shift=size) for size in (32, 64, 200)]
    np.testing.assert_allclose(values, values[0], rtol=1e-12)


def test_q2n_of_one_band_is_the_uiqi_of_the_normalised_bands():
    rng = np.random.default_rng(6)
    ref = rng.random((1, 16, 16))
    est = 0.8 * ref + 0.3 + 0.05 * rng.standard_normal(ref.shape)
    x, y = _normalised(ref[0], est[0])
    cov = np.mean((x - x.mean()) * (y - y.mean()))
    uiqi = 4 * cov * x.mean() * y.mean() / ((x.var() + y.var()) * (x.mean() ** 2 + y.mean() ** 2))
    assert q2n(ref, est) == pytest.approx(uiqi, rel=1e-10)


def test_q2n_constant_blocks():
    ref = np.ones((3, 8, 8))
    assert q2n(ref, ref) == 1.0
    assert q2n(ref, 2 * ref) == 0.0


def test_q2n_rejects_bad_block_size(image):
    with pytest.raises(HsiInputError, match="BLOCK_SIZE"):
        q2n(image, image, block_size=1)


# --- masks and validation ---


def test_mask_excludes_pixels_from_every_metric(image):
    est = image.copy()
    est[:, :5, :] = 10.0
    est[:, 0, 0] = np.nan  # NaN outside the valid area is accepted
    mask = np.ones(image.shape[1:], bool)
    mask[:5, :] = False
    result = assess(image, est, mask=mask)
    assert result["MPSNR"] == np.inf
    assert result["MSSIM"] == pytest.approx(1.0)
    assert result["SAM"] == pytest.approx(0.0, abs=1e-5)
    assert result["ERGAS"] == 0.0
    assert result["Q2N"] == pytest.approx(1.0)


def test_nan_in_valid_pixels_is_rejected(image):
    est = image.copy()
    est[2, 3, 3] = np.nan
    with pytest.raises(HsiInputError, match="ESTIMATE contains NaN.*band 3"):
        assess(image, est)


def test_band_mask_excludes_bands_from_every_metric(image):
    est = noisy(image, 0.05)
    est[4] = 100.0  # a broken band
    keep = np.ones(image.shape[0], bool)
    keep[4] = False
    masked = assess(image, est, band_mask=keep)
    subset = assess(image[keep], est[keep])
    for key in ("MPSNR", "MSSIM", "SAM", "ERGAS", "Q2N", "data_range"):
        assert masked[key] == pytest.approx(subset[key])
    assert np.isnan(masked["PSNR_PER_BAND"][4]) and np.isnan(masked["SSIM_PER_BAND"][4])
    np.testing.assert_allclose(np.delete(masked["PSNR_PER_BAND"], 4), subset["PSNR_PER_BAND"])


def test_assess_returns_python_floats(image):
    result = assess(image, noisy(image, 0.05), ratio=2.0)
    assert set(result) == {"MPSNR", "MSSIM", "SAM", "ERGAS", "Q2N", "PSNR_PER_BAND", "SSIM_PER_BAND", "data_range"}
    assert all(type(result[k]) is float for k in ("MPSNR", "MSSIM", "SAM", "ERGAS", "Q2N", "data_range"))
    assert len(result["PSNR_PER_BAND"]) == len(result["SSIM_PER_BAND"]) == image.shape[0]


def test_inputs_are_not_modified(image):
    est = noisy(image, 0.05)
    mask = np.ones(image.shape[1:], bool)
    mask[0] = False
    before = image.copy(), est.copy()
    assess(image, est, mask=mask)
    np.testing.assert_array_equal(image, before[0])
    np.testing.assert_array_equal(est, before[1])


@pytest.mark.parametrize(
    "reference, estimate, kwargs, message",
    [
        (np.zeros((31, 8, 8)), np.zeros((30, 8, 8)), {}, r"different shapes: \(31, 8, 8\) vs \(30, 8, 8\)"),
        (np.zeros((8, 8)), np.zeros((8, 8)), {}, "3-D"),
        (np.zeros((2, 8, 8)), np.zeros((2, 8, 8)), {"mask": np.ones((4, 4), bool)}, "MASK must have shape"),
        (np.zeros((2, 8, 8)), np.zeros((2, 8, 8)), {"mask": np.zeros((8, 8), bool)}, "every pixel"),
        (np.zeros((2, 8, 8)), np.zeros((2, 8, 8)), {"band_mask": [False, False]}, "every band"),
        (np.zeros((2, 8, 8)), np.zeros((2, 8, 8)), {"band_mask": [True]}, "one entry per band"),
    ],
)
def test_invalid_inputs_raise(reference, estimate, kwargs, message):
    with pytest.raises(HsiInputError, match=message):
        sam_degrees(reference, estimate, **kwargs)
