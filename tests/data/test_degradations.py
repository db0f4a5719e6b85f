import math
import random

import cv2
import numpy as np
import pytest
import torch
from scipy import special

from basicsr.data import degradations as deg
from basicsr.data.degradations import KernelSizeError, ProbabilityError

ALL_TYPES = ['iso', 'aniso', 'generalized_iso', 'generalized_aniso', 'plateau_iso', 'plateau_aniso']


def _seed(value: int) -> None:
    random.seed(value)
    np.random.seed(value)
    torch.manual_seed(value)


def _second_moments(kernel: np.ndarray) -> tuple[float, float, float]:
    _, xx, yy = deg.mesh_grid(kernel.shape[0])
    return float((kernel * xx**2).sum()), float((kernel * yy**2).sum()), float((kernel * xx * yy).sum())


# ------------------------------------------------------------------------------------------------ kernels


def test_mesh_grid_is_centred_on_the_middle_pixel():
    xy, xx, yy = deg.mesh_grid(5)
    assert xy.shape == (5, 5, 2)
    np.testing.assert_array_equal(xx[0], [-2, -1, 0, 1, 2])
    np.testing.assert_array_equal(yy[:, 0], [-2, -1, 0, 1, 2])
    np.testing.assert_array_equal(xy[..., 0], xx)


def test_sigma_matrix2_is_the_rotated_covariance():
    sigma = deg.sigma_matrix2(2.0, 0.5, math.pi / 6)
    np.testing.assert_allclose(np.sort(np.linalg.eigvalsh(sigma)), [0.25, 4.0])
    np.testing.assert_allclose(deg.sigma_matrix2(2.0, 0.5, math.pi / 2), np.diag([0.25, 4.0]), atol=1e-12)


def test_pdf2_is_the_unnormalised_gaussian():
    grid, xx, yy = deg.mesh_grid(7)
    np.testing.assert_allclose(deg.pdf2(np.diag([4.0, 1.0]), grid), np.exp(-0.5 * (xx**2 / 4 + yy**2)))


def test_isotropic_gaussian_matches_closed_form_and_known_sigma():
    kernel = deg.bivariate_Gaussian(21, 1.5, 99, 1.0, isotropic=True)  # sig_y and theta are ignored
    _, xx, yy = deg.mesh_grid(21)
    expected = np.exp(-(xx**2 + yy**2) / (2 * 1.5**2))
    np.testing.assert_allclose(kernel, expected / expected.sum())
    assert kernel.sum() == pytest.approx(1)
    var_x, var_y, cov = _second_moments(kernel)
    assert var_x == pytest.approx(2.25, rel=1e-4) and var_y == pytest.approx(2.25, rel=1e-4)
    assert cov == pytest.approx(0, abs=1e-12)
    np.testing.assert_allclose(kernel, kernel.T)
    np.testing.assert_allclose(kernel, kernel[::-1, ::-1])


def test_anisotropic_gaussian_has_the_requested_covariance():
    kernel = deg.bivariate_Gaussian(31, 3.0, 1.0, math.pi / 4, isotropic=False)
    var_x, var_y, cov = _second_moments(kernel)
    np.testing.assert_allclose([[var_x, cov], [cov, var_y]], deg.sigma_matrix2(3.0, 1.0, math.pi / 4), rtol=1e-3)
    turned = deg.bivariate_Gaussian(31, 1.0, 3.0, math.pi / 2, isotropic=False)
    np.testing.assert_allclose(turned, deg.bivariate_Gaussian(31, 1.0, 3.0, 0, isotropic=False).T, atol=1e-12)


def test_generalized_gaussian_and_plateau_closed_forms():
    _, xx, yy = deg.mesh_grid(11)
    r2 = (xx**2 + yy**2) / 2.0**2
    np.testing.assert_allclose(
        deg.bivariate_generalized_Gaussian(11, 2.0, 0, 0, beta=1), deg.bivariate_Gaussian(11, 2.0, 0, 0)
    )
    generalized = np.exp(-0.5 * r2**2.5)
    np.testing.assert_allclose(
        deg.bivariate_generalized_Gaussian(11, 2.0, 0, 0, beta=2.5), generalized / generalized.sum()
    )
    plateau = 1 / (1 + r2**1.5)
    np.testing.assert_allclose(deg.bivariate_plateau(11, 2.0, 0, 0, beta=1.5), plateau / plateau.sum())


def test_circular_lowpass_kernel_is_a_normalised_symmetric_2d_sinc():
    cutoff, size = 1.2, 13
    kernel = deg.circular_lowpass_kernel(cutoff, size)
    assert kernel.sum() == pytest.approx(1)
    np.testing.assert_allclose(kernel, kernel.T)
    np.testing.assert_allclose(kernel, kernel[::-1, :])
    raw_centre = cutoff**2 / (4 * np.pi)
    raw_offset = cutoff * special.j1(cutoff * 3) / (2 * np.pi * 3)  # three pixels right of the centre
    assert kernel[6, 9] / kernel[6, 6] == pytest.approx(raw_offset / raw_centre)
    padded = deg.circular_lowpass_kernel(cutoff, size, pad_to=21)
    assert padded.shape == (21, 21)
    np.testing.assert_allclose(padded[4:17, 4:17], kernel)
    assert padded[:4].sum() == 0 and padded[:, 17:].sum() == 0


@pytest.mark.parametrize('kernel_type', ALL_TYPES)
def test_random_mixed_kernels_are_normalised_and_centred(kernel_type):
    _seed(3)
    kernel = deg.random_mixed_kernels([kernel_type], [1], 21, [0.2, 3], [0.2, 3], [-math.pi, math.pi], [0.5, 4], [1, 2])
    assert kernel.shape == (21, 21) and kernel.sum() == pytest.approx(1)
    np.testing.assert_allclose(kernel, kernel[::-1, ::-1], atol=1e-12)  # point-symmetric about the centre


def test_random_mixed_kernels_draws_in_basicsr_order():
    _seed(7)
    kernel = deg.random_mixed_kernels(['iso', 'aniso'], [0.3, 0.7], 15, [0.6, 5], [0.6, 5], [-1, 1])
    _seed(7)
    picked = random.choices(['iso', 'aniso'], [0.3, 0.7])[0]  # one draw from Python's generator picks the family
    sig_x = np.random.uniform(0.6, 5)
    if picked == 'iso':
        expected = deg.bivariate_Gaussian(15, sig_x, sig_x, 0)
    else:
        sig_y, theta = np.random.uniform(0.6, 5), np.random.uniform(-1, 1)
        expected = deg.bivariate_Gaussian(15, sig_x, sig_y, theta, isotropic=False)
    np.testing.assert_allclose(kernel, expected)


def test_random_kernels_are_deterministic_under_a_seed():
    draws = []
    for _ in range(2):
        _seed(11)
        draws.append([deg.random_mixed_kernels(ALL_TYPES, [1 / 6] * 6, 9, noise_range=[0.75, 1.25]) for _ in range(5)])
    for first, second in zip(*draws):
        np.testing.assert_array_equal(first, second)


def test_even_or_oversized_kernels_raise_kernel_size_error():
    with pytest.raises(KernelSizeError, match='odd'):
        deg.bivariate_Gaussian(20, 1, 1, 0)
    with pytest.raises(KernelSizeError, match='odd'):
        deg.random_mixed_kernels(['iso'], [1], kernel_size=4)
    with pytest.raises(KernelSizeError, match='odd'):
        deg.circular_lowpass_kernel(1.0, 12)
    with pytest.raises(KernelSizeError, match='too large'):
        deg.circular_lowpass_kernel(1.0, 23, pad_to=21)


def test_kernel_probabilities_must_sum_to_one_and_types_must_be_known():
    with pytest.raises(ProbabilityError, match='sum to 1'):
        deg.random_mixed_kernels(['iso', 'aniso'], [0.5, 0.4])
    with pytest.raises(ProbabilityError, match='2 kernel types'):
        deg.random_mixed_kernels(['iso', 'aniso'], [1.0])
    with pytest.raises(ValueError, match="unknown kernel type.*'skew'"):
        deg.random_mixed_kernels(['iso', 'skew'], [0.5, 0.5])
    with pytest.raises(ValueError, match='sigma_x_range'):
        deg.random_bivariate_Gaussian(7, [3, 1], [1, 2], [0, 1])


# ------------------------------------------------------------------------------------------------ noise


def test_gaussian_noise_has_the_requested_std_and_gray_noise_is_shared():
    img = np.full((200, 200, 3), 0.5, np.float32)
    np.random.seed(0)
    noise = deg.generate_gaussian_noise(img, sigma=10)
    assert noise.dtype == np.float32 and noise.std() == pytest.approx(10 / 255, rel=0.02)
    gray = deg.generate_gaussian_noise(img, sigma=10, gray_noise=True)
    np.testing.assert_array_equal(gray[..., 0], gray[..., 2])
    noisy = deg.add_gaussian_noise(img, sigma=200, clip=True, rounds=True)
    assert noisy.min() >= 0 and noisy.max() <= 1
    np.testing.assert_allclose(noisy * 255, (noisy * 255).round(), atol=1e-4)


def test_random_gaussian_noise_draws_sigma_then_gray_flag():
    img = np.full((8, 8, 3), 0.5, np.float32)
    np.random.seed(5)
    out = deg.random_add_gaussian_noise(img, sigma_range=(1, 30), gray_prob=0.5, clip=False)
    np.random.seed(5)
    sigma = np.random.uniform(1, 30)
    gray = np.random.uniform() < 0.5
    np.testing.assert_array_equal(out, img + deg.generate_gaussian_noise(img, sigma, gray))


def test_batched_gaussian_noise_uses_each_samples_sigma_and_gray_flag():
    img = torch.full((3, 3, 128, 128), 0.5)
    sigma = torch.tensor([5.0, 20.0, 0.0])
    gray = torch.tensor([0.0, 1.0, 0.0])
    noise = deg.generate_gaussian_noise_pt(img, sigma, gray)
    assert float(noise[0].std()) == pytest.approx(5 / 255, rel=0.05)
    assert float(noise[1].std()) == pytest.approx(20 / 255, rel=0.05)
    assert float(noise[2].abs().max()) == 0
    torch.testing.assert_close(noise[1, 0], noise[1, 2])
    assert not torch.equal(noise[0, 0], noise[0, 2])


def test_poisson_noise_on_a_flat_image_has_the_shot_noise_variance():
    value = 128 / 255  # one distinct level, so counts are Poisson(value) and the variance equals `value`
    img = np.full((256, 256, 3), value, np.float32)
    np.random.seed(1)
    noise = deg.generate_poisson_noise(img, scale=1.0)
    assert noise.var() == pytest.approx(value, rel=0.02)
    assert abs(noise.mean()) < 0.01
    half = deg.generate_poisson_noise(img, scale=0.5)
    assert half.var() == pytest.approx(value / 4, rel=0.02)


def test_batched_poisson_noise_per_sample_scale_and_gray_flag():
    torch.manual_seed(0)
    img = torch.rand(3, 3, 64, 64)
    noise = deg.generate_poisson_noise_pt(
        img, scale=torch.tensor([1.0, 0.0, 2.0]), gray_noise=torch.tensor([0.0, 0.0, 1.0])
    )
    assert float(noise[1].abs().max()) == 0
    torch.testing.assert_close(noise[2, 0], noise[2, 1])
    assert float(noise[0].abs().mean()) > 0
    torch.manual_seed(4)
    first = deg.random_add_poisson_noise_pt(img, scale_range=(0.05, 3), gray_prob=0.4)
    torch.manual_seed(4)
    second = deg.random_add_poisson_noise_pt(img, scale_range=(0.05, 3), gray_prob=0.4)
    torch.testing.assert_close(first, second)
    assert float(first.min()) >= 0 and float(first.max()) <= 1


def test_random_batched_noise_draws_level_then_gray_flag_with_torch_rand():
    img = torch.full((4, 3, 16, 16), 0.5)
    torch.manual_seed(9)
    out = deg.random_add_gaussian_noise_pt(img, sigma_range=(1, 30), gray_prob=0.4, clip=False)
    torch.manual_seed(9)
    sigma = torch.rand(4) * 29 + 1
    gray = (torch.rand(4) < 0.4).float()
    torch.testing.assert_close(out, img + deg.generate_gaussian_noise_pt(img, sigma, gray))


# ------------------------------------------------------------------------------------------------ JPEG


def test_add_jpg_compression_equals_an_opencv_round_trip():
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.random((40, 48, 3)).astype(np.float32), (0, 0), 1.5)
    out = deg.add_jpg_compression(img, quality=40)
    _, enc = cv2.imencode('.jpg', (img * 255).round().astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 40])
    np.testing.assert_array_equal(out, cv2.imdecode(enc, cv2.IMREAD_COLOR).astype(np.float32) / 255)
    assert out.dtype == np.float32
    assert np.abs(deg.add_jpg_compression(img, 95) - img).mean() < np.abs(out - img).mean()


def test_random_jpg_compression_truncates_the_drawn_quality():
    img = np.random.default_rng(1).random((16, 16, 3)).astype(np.float32)
    np.random.seed(2)
    out = deg.random_add_jpg_compression(img, quality_range=(30, 95))
    np.random.seed(2)
    np.testing.assert_array_equal(out, deg.add_jpg_compression(img, int(np.random.uniform(30, 95))))
    with pytest.raises(ValueError, match='quality'):
        deg.add_jpg_compression(img, 120)
