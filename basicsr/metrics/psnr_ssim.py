"""PSNR and SSIM with BasicSR 1.4's conventions (border crop, optional BT.601 Y channel), numpy and torch versions."""

import cv2
import numpy as np
import torch
from torch.nn import functional as F

from basicsr.metrics.metric_util import better_is, crop_border_hwc, reorder_image, to_y_channel
from basicsr.utils.color_util import rgb2ycbcr_pt
from basicsr.utils.registry import METRIC_REGISTRY

# SSIM constants for 8-bit images (Wang et al., 2004, Eq. 7): C1 = (K1 L)^2, C2 = (K2 L)^2, K1 = 0.01, K2 = 0.03.
_SSIM_C1 = (0.01 * 255) ** 2
_SSIM_C2 = (0.03 * 255) ** 2
_SSIM_WINDOW_SIZE = 11
_SSIM_SIGMA = 1.5


def _prepare_numpy_pair(
    img: np.ndarray, img2: np.ndarray, crop_border: int, input_order: str, test_y_channel: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Check shapes, move to HWC, crop the border, optionally keep Y, and cast to float64."""
    if img.shape != img2.shape:
        raise ValueError(f'Image shapes are different: {img.shape}, {img2.shape}.')
    pair = []
    for image in (img, img2):
        image = crop_border_hwc(reorder_image(image, input_order=input_order), crop_border)
        if test_y_channel:
            image = to_y_channel(image)
        pair.append(image.astype(np.float64))
    return pair[0], pair[1]


def _prepare_tensor_pair(
    img: torch.Tensor, img2: torch.Tensor, crop_border: int, test_y_channel: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Check shapes, crop the border of (n, c, h, w) RGB tensors, optionally keep Y, and cast to float64."""
    if img.shape != img2.shape:
        raise ValueError(f'Image shapes are different: {tuple(img.shape)}, {tuple(img2.shape)}.')
    pair = []
    for image in (img, img2):
        if crop_border != 0:
            image = image[:, :, crop_border:-crop_border, crop_border:-crop_border]
        if test_y_channel:
            image = rgb2ycbcr_pt(image, y_only=True)
        pair.append(image.to(torch.float64))
    return pair[0], pair[1]


@METRIC_REGISTRY.register()
@better_is('higher')
def calculate_psnr(
    img: np.ndarray,
    img2: np.ndarray,
    crop_border: int,
    input_order: str = 'HWC',
    test_y_channel: bool = False,
    **kwargs,
) -> float:
    """PSNR in dB of two images in [0, 255] (BGR when `test_y_channel`); inf for identical images."""
    img, img2 = _prepare_numpy_pair(img, img2, crop_border, input_order, test_y_channel)
    mse = np.mean((img - img2) ** 2)
    if mse == 0:
        return float('inf')
    return float(10.0 * np.log10(255.0 * 255.0 / mse))


@METRIC_REGISTRY.register()
@better_is('higher')
def calculate_psnr_pt(
    img: torch.Tensor, img2: torch.Tensor, crop_border: int, test_y_channel: bool = False, **kwargs
) -> torch.Tensor:
    """PSNR in dB per image of RGB tensors (n, c, h, w) in [0, 1]; 1e-8 is added to the MSE as in BasicSR."""
    img, img2 = _prepare_tensor_pair(img, img2, crop_border, test_y_channel)
    mse = torch.mean((img - img2) ** 2, dim=[1, 2, 3])
    return 10.0 * torch.log10(1.0 / (mse + 1e-8))


def _gaussian_window() -> np.ndarray:
    """The 11x11 Gaussian window (sigma 1.5) of the reference SSIM implementation, as an outer product."""
    kernel = cv2.getGaussianKernel(_SSIM_WINDOW_SIZE, _SSIM_SIGMA)
    return np.outer(kernel, kernel.transpose())


def _ssim_from_moments(
    mu1: np.ndarray, mu2: np.ndarray, mean_sq1: np.ndarray, mean_sq2: np.ndarray, mean_cross: np.ndarray
) -> np.ndarray:
    """SSIM map from local means of x, y, x^2, y^2 and xy (Wang et al., 2004, Eq. 13); works on arrays and tensors."""
    mu1_sq, mu2_sq, mu1_mu2 = mu1**2, mu2**2, mu1 * mu2
    sigma1_sq = mean_sq1 - mu1_sq
    sigma2_sq = mean_sq2 - mu2_sq
    sigma12 = mean_cross - mu1_mu2
    return ((2 * mu1_mu2 + _SSIM_C1) * (2 * sigma12 + _SSIM_C2)) / (
        (mu1_sq + mu2_sq + _SSIM_C1) * (sigma1_sq + sigma2_sq + _SSIM_C2)
    )


def _ssim_single_channel(img: np.ndarray, img2: np.ndarray) -> float:
    """Mean SSIM of two (h, w) float64 images in [0, 255], windows fully inside the image ('valid')."""
    window = _gaussian_window()
    margin = _SSIM_WINDOW_SIZE // 2

    def local_mean(x: np.ndarray) -> np.ndarray:
        return cv2.filter2D(x, -1, window)[margin:-margin, margin:-margin]

    ssim_map = _ssim_from_moments(
        local_mean(img), local_mean(img2), local_mean(img**2), local_mean(img2**2), local_mean(img * img2)
    )
    return float(ssim_map.mean())


@METRIC_REGISTRY.register()
@better_is('higher')
def calculate_ssim(
    img: np.ndarray,
    img2: np.ndarray,
    crop_border: int,
    input_order: str = 'HWC',
    test_y_channel: bool = False,
    **kwargs,
) -> float:
    """SSIM (Wang et al., 2004) of two images in [0, 255], averaged over channels; matches the authors' MATLAB code."""
    img, img2 = _prepare_numpy_pair(img, img2, crop_border, input_order, test_y_channel)
    return float(np.mean([_ssim_single_channel(img[..., c], img2[..., c]) for c in range(img.shape[2])]))


@METRIC_REGISTRY.register()
@better_is('higher')
def calculate_ssim_pt(
    img: torch.Tensor, img2: torch.Tensor, crop_border: int, test_y_channel: bool = False, **kwargs
) -> torch.Tensor:
    """SSIM per image of RGB tensors (n, c, h, w) in [0, 1], averaged over channels; equals `calculate_ssim`."""
    img, img2 = _prepare_tensor_pair(img, img2, crop_border, test_y_channel)
    img, img2 = img * 255.0, img2 * 255.0
    channels = img.shape[1]
    window = torch.from_numpy(_gaussian_window()).to(img).expand(channels, 1, _SSIM_WINDOW_SIZE, _SSIM_WINDOW_SIZE)

    def local_mean(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, window, stride=1, padding=0, groups=channels)

    ssim_map = _ssim_from_moments(
        local_mean(img), local_mean(img2), local_mean(img * img), local_mean(img2 * img2), local_mean(img * img2)
    )
    return ssim_map.mean([1, 2, 3])
