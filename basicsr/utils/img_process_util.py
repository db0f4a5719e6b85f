"""Batched image filtering on tensors (cv2.filter2D semantics) and unsharp-mask sharpening, as in BasicSR 1.4."""

from typing import Union

import cv2
import numpy as np
import torch
from torch.nn import functional as F


class KernelSizeError(ValueError):
    """A blur kernel whose size is even, non-positive, or too large for the image or padding it is used with."""


def filter2D(img: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Correlate each image of a (b, c, h, w) batch with its own (b, k, k) kernel, or one shared (1, k, k) or (k, k).

    Borders are reflected without repeating the edge pixel (cv2.BORDER_REFLECT_101), so for a single image and kernel
    the result equals `cv2.filter2D(img, -1, kernel)`. Real-ESRGAN blurs every sample with a different kernel this way.
    """
    if kernel.dim() == 2:
        kernel = kernel.unsqueeze(0)
    k = kernel.size(-1)
    b, c, h, w = img.size()
    if k % 2 == 0 or kernel.size(-2) != k:
        raise KernelSizeError(f'filter2D needs square kernels of odd size, got {tuple(kernel.shape[-2:])}.')
    if k // 2 >= min(h, w):
        raise KernelSizeError(
            f'filter2D: kernel size {k} is too large for a {h}x{w} image (reflect padding needs '
            f'kernel_size // 2 < min(h, w)); use a smaller kernel or a larger image.'
        )
    if kernel.size(0) not in (1, b):
        raise ValueError(f'filter2D: got {kernel.size(0)} kernels for a batch of {b} images; give 1 or {b}.')
    kernel = kernel.to(dtype=img.dtype, device=img.device)
    padded = F.pad(img, (k // 2, k // 2, k // 2, k // 2), mode='reflect')
    ph, pw = padded.shape[-2:]
    # One depthwise convolution over all b * c planes; for a shared kernel this is several times faster on CPU than
    # convolving a batch of single-channel images, with identical results.
    per_plane = kernel.view(-1, 1, k, k).expand(b, c, k, k).reshape(b * c, 1, k, k)
    return F.conv2d(padded.reshape(1, b * c, ph, pw), per_plane, groups=b * c).view(b, c, h, w)


def _odd(radius: int) -> int:
    return radius + 1 if radius % 2 == 0 else radius


def usm_sharp(img: np.ndarray, weight: float = 0.5, radius: int = 50, threshold: float = 10) -> np.ndarray:
    """Unsharp masking of an HWC float image in [0, 1]: sharpen where |img - blur| * 255 > threshold.

    The hard mask is itself Gaussian-blurred so sharpened and untouched regions blend smoothly (Real-ESRGAN's USM).
    """
    radius = _odd(radius)
    blur = cv2.GaussianBlur(img, (radius, radius), 0)
    residual = img - blur
    mask = (np.abs(residual) * 255 > threshold).astype(np.float32)
    soft_mask = cv2.GaussianBlur(mask, (radius, radius), 0)
    sharp = np.clip(img + weight * residual, 0, 1)
    return soft_mask * sharp + (1 - soft_mask) * img


class USMSharp(torch.nn.Module):
    """Tensor version of `usm_sharp` for (b, c, h, w) batches; the Gaussian kernel is cv2's for (radius, sigma)."""

    def __init__(self, radius: int = 50, sigma: float = 0) -> None:
        super().__init__()
        self.radius = _odd(radius)
        kernel_1d = cv2.getGaussianKernel(self.radius, sigma)
        kernel = torch.FloatTensor(np.dot(kernel_1d, kernel_1d.transpose())).unsqueeze_(0)
        self.register_buffer('kernel', kernel)

    def forward(self, img: torch.Tensor, weight: float = 0.5, threshold: Union[int, float] = 10) -> torch.Tensor:
        blur = filter2D(img, self.kernel)
        residual = img - blur
        mask = (torch.abs(residual) * 255 > threshold).to(img.dtype)
        soft_mask = filter2D(mask, self.kernel)
        sharp = torch.clip(img + weight * residual, 0, 1)
        return soft_mask * sharp + (1 - soft_mask) * img
