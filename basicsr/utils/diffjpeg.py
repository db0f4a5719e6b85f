"""Differentiable JPEG (Shin & Song, "JPEG-resistant adversarial images", 2017) with a quality per sample.

Baseline JPEG on tensors: RGB -> YCbCr, 2x2 chroma averaging, 8x8 DCT, quantisation with the standard luminance /
chrominance tables scaled by the IJG quality factor, then the inverse. Rounding is either `torch.round` or the
differentiable x_r + (x - x_r)^3. Results are close to, not identical with, libjpeg's (which upsamples chroma smoothly).
Real-ESRGAN applies it to whole batches with `DiffJPEG(differentiable=False)(img, quality=per_sample_quality)`.
"""

import math
from typing import Callable, Union

import numpy as np
import torch
import torch.nn as nn
from torch.nn import functional as F

# ITU T.81 Annex K tables. They are applied transposed ([horizontal, vertical] frequency), as in BasicSR's DiffJPEG,
# so that results match it; the chrominance table is symmetric.
_Y_TABLE = np.array(
    [
        [16, 11, 10, 16, 24, 40, 51, 61],
        [12, 12, 14, 19, 26, 58, 60, 55],
        [14, 13, 16, 24, 40, 57, 69, 56],
        [14, 17, 22, 29, 51, 87, 80, 62],
        [18, 22, 37, 56, 68, 109, 103, 77],
        [24, 35, 55, 64, 81, 104, 113, 92],
        [49, 64, 78, 87, 103, 121, 120, 101],
        [72, 92, 95, 98, 112, 100, 103, 99],
    ],
    dtype=np.float32,
).T.copy()
_C_TABLE = np.full((8, 8), 99, dtype=np.float32)
_C_TABLE[:4, :4] = [[17, 18, 24, 47], [18, 21, 26, 66], [24, 26, 56, 99], [47, 66, 99, 99]]

# JFIF full-range RGB <-> YCbCr.
_RGB_TO_YCBCR = np.array(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], dtype=np.float32
)
_YCBCR_TO_RGB = np.array([[1.0, 0.0, 1.402], [1, -0.344136, -0.714136], [1, 1.772, 0]], dtype=np.float32)


def diff_round(x: torch.Tensor) -> torch.Tensor:
    """Rounding with a non-zero gradient: round(x) + (x - round(x))^3."""
    return torch.round(x) + (x - torch.round(x)) ** 3


def quality_to_factor(quality: float) -> float:
    """IJG scaling of the quantisation tables: 50/q below quality 50, 2 - q/50 above."""
    if quality < 50:
        quality = 5000.0 / quality
    else:
        quality = 200.0 - quality * 2
    return quality / 100.0


def _dct_basis() -> torch.Tensor:
    """(64, 64) matrix with entry [(x, y), (u, v)] = cos((2x + 1) u pi / 16) cos((2y + 1) v pi / 16).

    A flattened 8x8 block times it gives the unscaled 2D DCT; the transpose maps (scaled) coefficients back.
    """
    freq, pos = np.meshgrid(np.arange(8), np.arange(8), indexing='ij')
    cosines = np.cos((2 * pos + 1) * freq * math.pi / 16)
    return torch.from_numpy(np.einsum('ux,vy->xyuv', cosines, cosines).reshape(64, 64)).float()


def _split_blocks(channel: torch.Tensor) -> torch.Tensor:
    """(b, h, w) -> (b, h*w/64, 8, 8), blocks in raster order."""
    b, h, w = channel.shape
    return channel.view(b, h // 8, 8, w // 8, 8).permute(0, 1, 3, 2, 4).reshape(b, -1, 8, 8)


def _merge_blocks(blocks: torch.Tensor, h: int, w: int) -> torch.Tensor:
    b = blocks.shape[0]
    return blocks.view(b, h // 8, w // 8, 8, 8).permute(0, 1, 3, 2, 4).reshape(b, h, w)


class DiffJPEG(nn.Module):
    """JPEG compress-decompress of (b, 3, h, w) RGB batches in [0, 1]; any h, w (zero-padded to multiples of 16).

    Args:
        differentiable: use `diff_round` instead of `torch.round` so gradients flow through quantisation.
    """

    def __init__(self, differentiable: bool = True) -> None:
        super().__init__()
        self.rounding: Callable[[torch.Tensor], torch.Tensor] = diff_round if differentiable else torch.round
        alpha = np.array([1.0 / np.sqrt(2)] + [1] * 7)
        self.register_buffer('y_table', torch.from_numpy(_Y_TABLE), persistent=False)
        self.register_buffer('c_table', torch.from_numpy(_C_TABLE), persistent=False)
        self.register_buffer('dct_basis', _dct_basis(), persistent=False)
        self.register_buffer('dct_scale', torch.from_numpy(np.outer(alpha, alpha) * 0.25).float(), persistent=False)
        self.register_buffer('idct_alpha', torch.from_numpy(np.outer(alpha, alpha)).float(), persistent=False)
        self.register_buffer('rgb_to_ycbcr', torch.from_numpy(_RGB_TO_YCBCR), persistent=False)
        self.register_buffer('ycbcr_to_rgb', torch.from_numpy(_YCBCR_TO_RGB), persistent=False)

    @staticmethod
    def _factor(quality: Union[float, torch.Tensor], batch: int, like: torch.Tensor) -> torch.Tensor:
        """Quantisation-table multiplier per sample, shape (b, 1, 1, 1); tensor qualities are not modified."""
        if isinstance(quality, (int, float)):
            return like.new_full((batch, 1, 1, 1), quality_to_factor(quality))
        quality = quality.to(like.dtype).reshape(-1)
        if quality.numel() != batch:
            raise ValueError(f'DiffJPEG got {quality.numel()} qualities for a batch of {batch} images.')
        factor = torch.where(quality < 50, 5000.0 / quality, 200.0 - quality * 2) / 100.0
        return factor.view(batch, 1, 1, 1)

    def _code_channel(self, channel: torch.Tensor, table: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
        """Quantise the DCT of every 8x8 block of a (b, h, w) channel in [0, 255] and return the decoded channel."""
        h, w = channel.shape[-2:]
        blocks = _split_blocks(channel) - 128
        b, n = blocks.shape[:2]
        coeffs = self.dct_scale * (blocks.reshape(b, n, 64) @ self.dct_basis).view(b, n, 8, 8)
        step = table * factor
        coeffs = self.rounding(coeffs / step) * step
        coeffs = (coeffs * self.idct_alpha).reshape(b, n, 64)
        decoded = 0.25 * (coeffs @ self.dct_basis.T).view(b, n, 8, 8) + 128
        return _merge_blocks(decoded, h, w)

    def forward(self, x: torch.Tensor, quality: Union[float, torch.Tensor]) -> torch.Tensor:
        """Return the JPEG-decoded batch; `quality` (0-100) is one number or one value per sample."""
        b, _, h, w = x.shape
        factor = self._factor(quality, b, x)
        x = F.pad(x, (0, (16 - w % 16) % 16, 0, (16 - h % 16) % 16), mode='constant', value=0)
        shift = x.new_tensor([0.0, 128.0, 128.0])
        ycbcr = ((x * 255).permute(0, 2, 3, 1) @ self.rgb_to_ycbcr.T + shift).permute(0, 3, 1, 2)
        luma = self._code_channel(ycbcr[:, 0], self.y_table, factor)
        chroma = F.avg_pool2d(ycbcr[:, 1:], kernel_size=2, stride=2)
        chroma = torch.stack([self._code_channel(chroma[:, i], self.c_table, factor) for i in (0, 1)], dim=1)
        chroma = chroma.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
        ycbcr = torch.cat([luma.unsqueeze(1), chroma], dim=1).permute(0, 2, 3, 1)
        rgb = ((ycbcr - shift) @ self.ycbcr_to_rgb.T).permute(0, 3, 1, 2)
        return torch.clamp(rgb, 0, 255)[:, :, :h, :w] / 255
