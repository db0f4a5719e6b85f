"""MATLAB-compatible bicubic `imresize` (with antialiasing), for numpy HWC and tensor CHW images, as BasicSR 1.4.

MATLAB resizes one axis at a time with Keys' cubic kernel (a = -0.5); when shrinking, the kernel is stretched by
1/scale so that it also low-passes (antialiasing). Out-of-range taps read the image mirrored with its edge repeated.
The colour conversions are re-exported from `color_util` because older BasicSR code imports them from here.
"""

import math
from collections.abc import Sequence
from typing import Optional, Union

import numpy as np
import torch

from basicsr.utils.color_util import bgr2ycbcr, rgb2ycbcr, ycbcr2bgr, ycbcr2rgb  # noqa: F401  (re-exported)

Image = Union[np.ndarray, torch.Tensor]
KERNEL_WIDTH = 4  # support of the bicubic kernel, in input pixels


def cubic(x: torch.Tensor) -> torch.Tensor:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's 'bicubic')."""
    absx = torch.abs(x)
    absx2 = absx**2
    absx3 = absx**3
    near = (absx <= 1).type_as(absx)
    far = ((absx > 1) * (absx <= 2)).type_as(absx)
    return (1.5 * absx3 - 2.5 * absx2 + 1) * near + (-0.5 * absx3 + 2.5 * absx2 - 4 * absx + 2) * far


def resize_weights(in_length: int, out_length: int, scale: float, antialiasing: bool = True) -> torch.Tensor:
    """Dense (out_length, in_length) float32 matrix whose row i holds the input weights of output pixel i.

    Output pixel x (1-based) samples the input at u = x / scale + (1 - 1 / scale) / 2 and weighs the ceil(width) + 2
    nearest input pixels, weights normalised to sum 1 (the outermost two always get weight 0; MATLAB and BasicSR
    drop them, which changes nothing in this dense form).
    """
    kernel_width = KERNEL_WIDTH / scale if (scale < 1 and antialiasing) else KERNEL_WIDTH
    x = torch.linspace(1, out_length, out_length)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = torch.floor(u - kernel_width / 2)
    taps = math.ceil(kernel_width) + 2
    indices = left.view(out_length, 1) + torch.linspace(0, taps - 1, taps).view(1, taps)
    distance = u.view(out_length, 1) - indices
    if scale < 1 and antialiasing:
        weights = scale * cubic(distance * scale)
    else:
        weights = cubic(distance)
    weights = weights / torch.sum(weights, 1).view(out_length, 1)
    # 1-based index i reads pixel i - 1, mirrored at both ends with the edge repeated (MATLAB 'symmetric').
    period = torch.remainder(indices.long() - 1, 2 * in_length)
    source = torch.where(period < in_length, period, 2 * in_length - 1 - period)
    matrix = torch.zeros(out_length, in_length)
    matrix.scatter_add_(1, source, weights)
    return matrix


def _resize_chw(
    img: torch.Tensor, out_size: Sequence[int], scales: Sequence[float], antialiasing: bool, axis_order: Sequence[int]
) -> torch.Tensor:
    """Resize a float32 (c, h, w) tensor one spatial axis at a time, in `axis_order` (0 = height, 1 = width)."""
    out = img
    for axis in axis_order:
        matrix = resize_weights(img.shape[1 + axis], out_size[axis], scales[axis], antialiasing).to(img.device)
        out = torch.matmul(matrix, out) if axis == 0 else torch.matmul(out, matrix.T)
    return out


def _to_chw(img: Image) -> tuple[torch.Tensor, bool, bool]:
    """(c, h, w) float32 tensor plus flags (was numpy, was 2-D) to restore the caller's layout."""
    is_numpy = isinstance(img, np.ndarray)
    if img.ndim not in (2, 3):
        raise ValueError(f'imresize expects an (h, w), (h, w, c) array or (c, h, w) tensor, got shape {img.shape}.')
    squeeze = img.ndim == 2
    if is_numpy:
        arr = img[:, :, None] if squeeze else img
        return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1))).float(), True, squeeze
    tensor = img.unsqueeze(0) if squeeze else img
    return tensor.float(), False, squeeze


def _from_chw(out: torch.Tensor, is_numpy: bool, squeeze: bool) -> Image:
    if squeeze:
        out = out.squeeze(0)
    if not is_numpy:
        return out
    out = out.numpy()
    return out if squeeze else out.transpose(1, 2, 0)


@torch.no_grad()
def imresize(
    img: Image, scale: Optional[float], antialiasing: bool = True, output_shape: Optional[Sequence[int]] = None
) -> Image:
    """Resize like MATLAB's `imresize(img, scale, 'bicubic')`; numpy (h, w[, c]) or tensor ([c,] h, w) input.

    The output has ceil(scale * size) pixels per axis (or `output_shape` = (h, w), each axis then scaled by
    out / in, smaller scale first, as MATLAB) and is float32 in the input's range, not rounded or clipped.
    """
    chw, is_numpy, squeeze = _to_chw(img)
    in_h, in_w = chw.shape[1:]
    if output_shape is None:
        if scale <= 0:
            raise ValueError(f'imresize scale must be positive, got {scale}.')
        out_size, scales = (math.ceil(in_h * scale), math.ceil(in_w * scale)), (scale, scale)
    else:
        if len(output_shape) != 2 or min(output_shape) < 1:
            raise ValueError(f'imresize output_shape must be two positive sizes (h, w), got {output_shape}.')
        out_size = (int(output_shape[0]), int(output_shape[1]))
        scales = (out_size[0] / in_h, out_size[1] / in_w)
    axis_order = (1, 0) if scales[1] < scales[0] else (0, 1)
    return _from_chw(_resize_chw(chw, out_size, scales, antialiasing, axis_order), is_numpy, squeeze)
