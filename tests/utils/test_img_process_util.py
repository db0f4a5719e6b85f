import cv2
import numpy as np
import pytest
import torch
from scipy import ndimage

from basicsr.utils.img_process_util import KernelSizeError, USMSharp, filter2D, usm_sharp


def _random_kernels(n: int, k: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    kernels = torch.rand(n, k, k, generator=gen)
    return kernels / kernels.sum(dim=(1, 2), keepdim=True)


def test_filter2d_applies_each_sample_its_own_kernel_like_cv2_filter2d():
    imgs = torch.rand(3, 2, 20, 17, generator=torch.Generator().manual_seed(1))
    kernels = _random_kernels(3, 7)
    out = filter2D(imgs, kernels)
    for i in range(3):
        for c in range(2):
            expected = cv2.filter2D(imgs[i, c].numpy(), -1, kernels[i].numpy(), borderType=cv2.BORDER_REFLECT_101)
            np.testing.assert_allclose(out[i, c].numpy(), expected, atol=1e-5)


def test_filter2d_equals_scipy_correlation_with_mirror_borders():
    img = torch.rand(1, 1, 15, 16, generator=torch.Generator().manual_seed(2))
    kernel = torch.arange(25, dtype=torch.float32).view(1, 5, 5)  # asymmetric: convolution would differ
    expected = ndimage.correlate(img[0, 0].numpy(), kernel[0].numpy(), mode='mirror')
    np.testing.assert_allclose(filter2D(img, kernel)[0, 0].numpy(), expected, rtol=1e-5, atol=1e-4)


def test_filter2d_broadcasts_a_single_or_2d_kernel_over_the_batch():
    imgs = torch.rand(4, 3, 12, 12)
    kernel = _random_kernels(1, 5)
    shared = filter2D(imgs, kernel)
    torch.testing.assert_close(filter2D(imgs, kernel[0]), shared)
    torch.testing.assert_close(filter2D(imgs, kernel.expand(4, 5, 5).contiguous()), shared)


def test_filter2d_with_a_pulse_kernel_is_the_identity():
    imgs = torch.rand(2, 3, 30, 27)
    pulse = torch.zeros(1, 21, 21)
    pulse[0, 10, 10] = 1
    torch.testing.assert_close(filter2D(imgs, pulse), imgs)


def test_filter2d_rejects_even_and_too_large_kernels():
    imgs = torch.rand(1, 3, 8, 8)
    with pytest.raises(KernelSizeError, match='odd'):
        filter2D(imgs, torch.ones(1, 4, 4))
    with pytest.raises(KernelSizeError, match='too large'):
        filter2D(imgs, torch.ones(1, 17, 17))
    with pytest.raises(ValueError, match='batch of 1'):
        filter2D(imgs, torch.ones(2, 3, 3))


def test_usm_sharp_tensor_matches_numpy_version():
    img = np.random.default_rng(0).random((60, 64, 3)).astype(np.float32)
    img = cv2.GaussianBlur(img, (5, 5), 0)
    tensor = torch.from_numpy(img.transpose(2, 0, 1)).unsqueeze(0)
    out = USMSharp()(tensor)[0].numpy().transpose(1, 2, 0)
    diff = np.abs(out - usm_sharp(img))
    # cv2.GaussianBlur and filter2D differ by float rounding, which can flip the hard mask at the threshold
    assert diff.mean() < 1e-5 and diff.max() < 1e-3


def test_usm_kernel_is_cv2_gaussian_of_radius_51_and_sigma_8():
    sharpener = USMSharp(radius=50, sigma=0)
    assert sharpener.radius == 51 and sharpener.kernel.shape == (1, 51, 51)
    g = cv2.getGaussianKernel(51, 8.0)
    np.testing.assert_allclose(sharpener.kernel[0].numpy(), g @ g.T, atol=1e-7)
    assert abs(float(sharpener.kernel.sum()) - 1) < 1e-5


def test_usm_leaves_flat_images_alone_and_steepens_edges():
    flat = torch.full((1, 3, 64, 64), 0.4)
    torch.testing.assert_close(USMSharp()(flat), flat)
    edge = torch.zeros(1, 1, 64, 64)
    edge[..., 32:] = 0.5
    edge = filter2D(edge, torch.ones(1, 5, 5) / 25)  # a soft edge
    sharp = USMSharp()(edge)
    assert float(sharp[0, 0, 32, 33] - sharp[0, 0, 32, 30]) > float(edge[0, 0, 32, 33] - edge[0, 0, 32, 30])
    assert float(sharp.min()) >= 0 and float(sharp.max()) <= 1


def test_usm_threshold_of_255_disables_sharpening():
    img = torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(USMSharp()(img, weight=0.5, threshold=255), img)
