import cv2
import numpy as np
import pytest
import torch
from numpy.lib.stride_tricks import sliding_window_view

from basicsr.metrics.psnr_ssim import calculate_psnr, calculate_psnr_pt, calculate_ssim, calculate_ssim_pt


def plain_psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0**2 / mse)


def plain_y(bgr_uint8):
    """BT.601 luma of a BGR image in [0, 255], studio range."""
    b, g, r = (bgr_uint8[..., i].astype(np.float64) for i in range(3))
    return 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255


def plain_ssim_channel(a, b):
    """SSIM by the formula of Wang et al. (2004): 11x11 Gaussian windows (sigma 1.5) fully inside the image."""
    coords = np.arange(11) - 5
    g = np.exp(-(coords**2) / (2 * 1.5**2))
    window = np.outer(g, g) / np.outer(g, g).sum()
    pa, pb = sliding_window_view(a, (11, 11)), sliding_window_view(b, (11, 11))

    def weighted_mean(x):
        return (x * window).sum(axis=(-1, -2))

    mu_a, mu_b = weighted_mean(pa), weighted_mean(pb)
    var_a = weighted_mean(pa**2) - mu_a**2
    var_b = weighted_mean(pb**2) - mu_b**2
    cov = weighted_mean(pa * pb) - mu_a * mu_b
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    ssim_map = (2 * mu_a * mu_b + c1) * (2 * cov + c2) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return ssim_map.mean()


def plain_ssim(a, b):
    a, b = a.astype(np.float64), b.astype(np.float64)
    if a.ndim == 2:
        return plain_ssim_channel(a, b)
    return np.mean([plain_ssim_channel(a[..., c], b[..., c]) for c in range(a.shape[2])])


@pytest.fixture
def bgr_pair():
    rng = np.random.default_rng(0)
    clean = cv2.GaussianBlur(rng.integers(0, 256, (28, 30, 3)).astype(np.uint8), (5, 5), 2)
    noisy = np.clip(clean + rng.normal(0, 12, clean.shape), 0, 255).astype(np.uint8)
    return clean, noisy


def test_psnr_matches_plain_formula(bgr_pair):
    clean, noisy = bgr_pair
    assert calculate_psnr(clean, noisy, crop_border=0) == pytest.approx(plain_psnr(clean, noisy), abs=1e-10)


def test_psnr_ignores_the_cropped_border(bgr_pair):
    clean, noisy = bgr_pair
    corrupted = noisy.copy()
    corrupted[:4] = 255 - corrupted[:4]
    expected = plain_psnr(clean[4:-4, 4:-4], noisy[4:-4, 4:-4])
    assert calculate_psnr(clean, corrupted, crop_border=4) == pytest.approx(expected, abs=1e-10)


def test_psnr_on_y_channel_uses_bt601_luma_of_bgr(bgr_pair):
    clean, noisy = bgr_pair
    expected = plain_psnr(plain_y(clean[2:-2, 2:-2]), plain_y(noisy[2:-2, 2:-2]))
    assert calculate_psnr(clean, noisy, crop_border=2, test_y_channel=True) == pytest.approx(expected, abs=1e-4)


def test_psnr_of_identical_images_is_infinite(bgr_pair):
    assert calculate_psnr(bgr_pair[0], bgr_pair[0].copy(), crop_border=0) == float('inf')


def test_psnr_accepts_chw_order_and_ignores_better(bgr_pair):
    clean, noisy = bgr_pair
    chw = calculate_psnr(clean.transpose(2, 0, 1), noisy.transpose(2, 0, 1), 0, input_order='CHW', better='higher')
    assert chw == pytest.approx(calculate_psnr(clean, noisy, 0))


def test_metrics_reject_different_shapes(bgr_pair):
    with pytest.raises(ValueError, match='shapes'):
        calculate_psnr(bgr_pair[0], bgr_pair[1][:-1], 0)
    with pytest.raises(ValueError, match='input_order'):
        calculate_ssim(bgr_pair[0], bgr_pair[1], 0, input_order='WHC')


def test_ssim_matches_direct_formula_per_channel_mean(bgr_pair):
    clean, noisy = bgr_pair
    assert calculate_ssim(clean, noisy, crop_border=0) == pytest.approx(plain_ssim(clean, noisy), abs=1e-10)


def test_ssim_with_crop_and_y_channel_matches_direct_formula(bgr_pair):
    clean, noisy = bgr_pair
    expected = plain_ssim(plain_y(clean[3:-3, 3:-3]), plain_y(noisy[3:-3, 3:-3]))
    assert calculate_ssim(clean, noisy, crop_border=3, test_y_channel=True) == pytest.approx(expected, abs=1e-6)


def test_ssim_is_one_for_identical_images_and_drops_with_noise(bgr_pair):
    clean, noisy = bgr_pair
    assert calculate_ssim(clean, clean.copy(), 0) == pytest.approx(1.0)
    assert calculate_ssim(clean, noisy, 0) < 0.95


def _to_rgb_tensor(*bgr_images):
    return torch.stack([torch.from_numpy(img[..., ::-1].copy()).permute(2, 0, 1) for img in bgr_images]).double() / 255


@pytest.mark.parametrize('crop_border, test_y_channel', [(0, False), (4, False), (2, True)])
def test_tensor_versions_equal_numpy_versions_per_image(bgr_pair, crop_border, test_y_channel):
    clean, noisy = bgr_pair
    other = np.clip(clean.astype(int) + 20, 0, 255).astype(np.uint8)
    batch, batch2 = _to_rgb_tensor(clean, clean), _to_rgb_tensor(noisy, other)
    psnr = calculate_psnr_pt(batch, batch2, crop_border, test_y_channel=test_y_channel)
    ssim = calculate_ssim_pt(batch, batch2, crop_border, test_y_channel=test_y_channel)
    assert psnr.shape == (2,) and ssim.shape == (2,)
    for i, img2 in enumerate((noisy, other)):
        assert psnr[i].item() == pytest.approx(
            calculate_psnr(clean, img2, crop_border, test_y_channel=test_y_channel), abs=1e-4
        )
        assert ssim[i].item() == pytest.approx(
            calculate_ssim(clean, img2, crop_border, test_y_channel=test_y_channel), abs=1e-6
        )
