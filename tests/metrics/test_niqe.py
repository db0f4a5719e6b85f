import math

import numpy as np
import pytest
from skimage import data

from basicsr.metrics.niqe import calculate_niqe, estimate_aggd_param


@pytest.fixture(scope='module')
def photo_bgr():
    """A real photograph (scikit-image's astronaut, shipped offline), 192x288, BGR uint8."""
    return np.ascontiguousarray(data.astronaut()[40:232, 100:388, ::-1])


def test_niqe_of_a_photo_is_finite_and_lower_than_with_strong_noise(photo_bgr, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the pristine model is found next to the module, not via the working directory
    clean = calculate_niqe(photo_bgr, crop_border=0)
    noisy_img = np.clip(photo_bgr + np.random.default_rng(0).normal(0, 30, photo_bgr.shape), 0, 255).astype(np.uint8)
    noisy = calculate_niqe(noisy_img, crop_border=0)
    assert math.isfinite(clean) and math.isfinite(noisy)
    assert clean < noisy


def test_niqe_accepts_chw_and_y_images_consistently(photo_bgr):
    hwc = calculate_niqe(photo_bgr, crop_border=0, better='lower')
    chw = calculate_niqe(photo_bgr.transpose(2, 0, 1), crop_border=0, input_order='CHW')
    y = 16 + (65.481 * photo_bgr[..., 2] + 128.553 * photo_bgr[..., 1] + 24.966 * photo_bgr[..., 0]) / 255
    from_y = calculate_niqe(y, crop_border=0, input_order='HW')
    assert chw == hwc
    assert from_y == pytest.approx(hwc, abs=1e-9)


def test_niqe_crop_border_drops_the_edges(photo_bgr):
    cropped = calculate_niqe(photo_bgr, crop_border=4)
    assert cropped == calculate_niqe(photo_bgr[4:-4, 4:-4], crop_border=0)


def test_niqe_rejects_images_smaller_than_two_blocks(photo_bgr):
    with pytest.raises(ValueError, match='two 96x96 blocks'):
        calculate_niqe(photo_bgr[:100, :100], crop_border=0)


def test_aggd_fit_of_gaussian_samples_has_shape_two_and_equal_sides():
    samples = np.random.default_rng(0).normal(0, 1.5, (200, 200))
    alpha, left, right = estimate_aggd_param(samples)
    assert alpha == pytest.approx(2.0, abs=0.1)
    assert left == pytest.approx(right, rel=0.05)
    assert left == pytest.approx(1.5 * math.sqrt(2), rel=0.05)  # beta = sigma * sqrt(Gamma(1/2) / Gamma(3/2))
