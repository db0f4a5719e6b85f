"""ITU-R BT.601 RGB/BGR <-> YCbCr conversions with MATLAB's `rgb2ycbcr` conventions, as SR papers report Y-PSNR.

Unlike OpenCV's `cvtColor(..., YCrCb)` (the full-range JPEG variant), Y spans [16, 235] and Cb/Cr [16, 240] of 255.
Images are uint8 in [0, 255] or float32 in [0, 1]; results keep the input's type and range (uint8 results are
rounded), as MATLAB and BasicSR do.
"""

import numpy as np
import torch

# Rows: R, G, B input channels; columns: Y, Cb, Cr outputs, for RGB in [0, 1] and YCbCr in [0, 255].
_RGB_TO_YCBCR = np.array([[65.481, -37.797, 112.0], [128.553, -74.203, -93.786], [24.966, 112.0, -18.214]])
_YCBCR_OFFSET = np.array([16.0, 128.0, 128.0])
# Rows: Y, Cb, Cr inputs in [0, 255]; columns: R, G, B outputs in [0, 1] (MATLAB's rounded inverse).
_YCBCR_TO_RGB = np.array(
    [[0.00456621, 0.00456621, 0.00456621], [0, -0.00153632, 0.00791071], [0.00625893, -0.00318811, 0]]
)
_YCBCR_TO_RGB_OFFSET = np.array([-222.921, 135.576, -276.836])


def _to_unit_float(img: np.ndarray) -> np.ndarray:
    """uint8 [0, 255] or float32 [0, 1] -> float32 [0, 1]."""
    if img.dtype == np.uint8:
        return img.astype(np.float32) / 255.0
    if img.dtype == np.float32:
        return img.astype(np.float32)
    raise TypeError(f'The image type should be np.float32 in [0, 1] or np.uint8, but got {img.dtype}.')


def _from_255_scale(img: np.ndarray, dst_type: np.dtype) -> np.ndarray:
    """An image in [0, 255] back to the caller's type: rounded, saturated uint8 (as MATLAB; BasicSR wraps around
    out-of-gamut values instead), or float32 in [0, 1]."""
    if dst_type == np.uint8:
        return np.clip(img.round(), 0, 255).astype(np.uint8)
    return (img / 255.0).astype(np.float32)


def _to_ycbcr(img: np.ndarray, matrix: np.ndarray, y_only: bool) -> np.ndarray:
    unit = _to_unit_float(img)
    if y_only:
        out = np.dot(unit, matrix[:, 0]) + _YCBCR_OFFSET[0]
    else:
        out = np.matmul(unit, matrix) + _YCBCR_OFFSET
    return _from_255_scale(out, img.dtype)


def rgb2ycbcr(img: np.ndarray, y_only: bool = False) -> np.ndarray:
    """RGB (h, w, 3) -> YCbCr (h, w, 3), or Y only (h, w) with `y_only`; same results as MATLAB's rgb2ycbcr."""
    return _to_ycbcr(img, _RGB_TO_YCBCR, y_only)


def bgr2ycbcr(img: np.ndarray, y_only: bool = False) -> np.ndarray:
    """BGR (h, w, 3) -> YCbCr (h, w, 3), or Y only (h, w) with `y_only`: `rgb2ycbcr` for OpenCV channel order."""
    return _to_ycbcr(img, _RGB_TO_YCBCR[::-1], y_only)


def ycbcr2rgb(img: np.ndarray) -> np.ndarray:
    """YCbCr (h, w, 3) -> RGB (h, w, 3); same results as MATLAB's ycbcr2rgb."""
    ycbcr_255 = _to_unit_float(img) * 255.0
    out = np.matmul(ycbcr_255, _YCBCR_TO_RGB) * 255.0 + _YCBCR_TO_RGB_OFFSET
    return _from_255_scale(out, img.dtype)


def ycbcr2bgr(img: np.ndarray) -> np.ndarray:
    """YCbCr (h, w, 3) -> BGR (h, w, 3): `ycbcr2rgb` in OpenCV channel order."""
    return np.ascontiguousarray(ycbcr2rgb(img)[..., ::-1])


def rgb2ycbcr_pt(img: torch.Tensor, y_only: bool = False) -> torch.Tensor:
    """RGB tensors (n, 3, h, w) in [0, 1] -> YCbCr (n, 3, h, w), or Y (n, 1, h, w) with `y_only`, in [0, 1]."""
    weight = torch.from_numpy(_RGB_TO_YCBCR).to(img)
    offset = torch.from_numpy(_YCBCR_OFFSET).to(img)
    if y_only:
        weight, offset = weight[:, :1], offset[:1]
    out = torch.matmul(img.permute(0, 2, 3, 1), weight) + offset
    return out.permute(0, 3, 1, 2) / 255.0
