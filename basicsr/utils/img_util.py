"""Image <-> tensor conversion and image file I/O with BasicSR 1.4's conventions (BGR HWC numpy, RGB CHW tensors)."""

import math
import os
from collections.abc import Sequence
from typing import Optional, Union

import cv2
import numpy as np
import torch
from torchvision.utils import make_grid

from basicsr.utils.errors import UserError

_IMREAD_FLAGS = {
    'color': cv2.IMREAD_COLOR,
    'grayscale': cv2.IMREAD_GRAYSCALE,
    'unchanged': cv2.IMREAD_UNCHANGED,
}


class ImageDecodeError(UserError, ValueError):
    """Raised when bytes cannot be decoded as an image; callers re-raise it with the file path."""

    same_on_every_rank = False


def _one_img2tensor(img: np.ndarray, bgr2rgb: bool, float32: bool) -> torch.Tensor:
    if img.ndim == 2:
        img = img[..., None]
    if img.shape[2] == 3 and bgr2rgb:
        if img.dtype == np.float64:
            img = img.astype(np.float32)
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    tensor = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
    return tensor.float() if float32 else tensor


def img2tensor(
    imgs: Union[np.ndarray, list[np.ndarray]], bgr2rgb: bool = True, float32: bool = True
) -> Union[torch.Tensor, list[torch.Tensor]]:
    """Convert HWC (BGR) numpy images to CHW (RGB) tensors; a list in gives a list out."""
    if isinstance(imgs, list):
        return [_one_img2tensor(img, bgr2rgb, float32) for img in imgs]
    return _one_img2tensor(imgs, bgr2rgb, float32)


def _one_tensor2img(tensor: torch.Tensor, rgb2bgr: bool, out_type: type, min_max: tuple) -> np.ndarray:
    low, high = min_max
    tensor = tensor.squeeze(0).float().detach().cpu().clamp_(low, high)
    tensor = (tensor - low) / (high - low)
    if tensor.dim() == 4:
        img = make_grid(tensor, nrow=int(math.sqrt(tensor.size(0))), normalize=False).numpy().transpose(1, 2, 0)
        if rgb2bgr:
            img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    elif tensor.dim() == 3:
        img = tensor.numpy().transpose(1, 2, 0)
        if img.shape[2] == 1:
            img = np.squeeze(img, axis=2)
        elif rgb2bgr:
            img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    elif tensor.dim() == 2:
        img = tensor.numpy()
    else:
        raise TypeError(f'tensor2img supports 4D, 3D or 2D tensors, got {tensor.dim()}D.')
    if out_type == np.uint8:
        img = (img * 255.0).round()
    return img.astype(out_type)


def tensor2img(
    tensor: Union[torch.Tensor, list[torch.Tensor]],
    rgb2bgr: bool = True,
    out_type: type = np.uint8,
    min_max: tuple = (0, 1),
) -> Union[np.ndarray, list[np.ndarray]]:
    """Convert (B)CHW RGB tensors in `min_max` to HWC BGR images; a 4D batch becomes one grid image."""
    is_tensor_list = isinstance(tensor, list) and all(torch.is_tensor(t) for t in tensor)
    if not (torch.is_tensor(tensor) or is_tensor_list):
        raise TypeError(f'tensor2img expects a tensor or a list of tensors, got {type(tensor).__name__}.')
    tensors = [tensor] if torch.is_tensor(tensor) else tensor
    result = [_one_tensor2img(t, rgb2bgr, out_type, min_max) for t in tensors]
    return result[0] if len(result) == 1 else result


def tensor2img_fast(tensor: torch.Tensor, rgb2bgr: bool = True, min_max: tuple = (0, 1)) -> np.ndarray:
    """Faster `tensor2img` for one (1,)CHW tensor: truncates to uint8 on the tensor's device, as BasicSR does."""
    low, high = min_max
    output = tensor.squeeze(0).detach().clamp(low, high).permute(1, 2, 0)
    output = (output - low) / (high - low) * 255
    output = output.type(torch.uint8).cpu().numpy()
    if rgb2bgr:
        output = cv2.cvtColor(output, cv2.COLOR_RGB2BGR)
    return output


def imfrombytes(content: bytes, flag: str = 'color', float32: bool = False) -> np.ndarray:
    """Decode image bytes to a BGR/gray numpy array; 'unchanged' keeps 16-bit PNGs and alpha.

    With `float32`, 8-bit images are scaled by 1/255 (as BasicSR) and 16-bit images by 1/65535, so both land in [0, 1].
    """
    if flag not in _IMREAD_FLAGS:
        raise ValueError(f"Unknown imread flag '{flag}': use one of {', '.join(_IMREAD_FLAGS)}.")
    if content is None or len(content) == 0:
        raise ImageDecodeError('No image data: the file or database entry is empty.')
    img = cv2.imdecode(np.frombuffer(content, np.uint8), _IMREAD_FLAGS[flag])
    if img is None:
        raise ImageDecodeError(f'Nothing decodable as an image in {len(content)} bytes (corrupt file or not an image).')
    if float32:
        scale = 65535.0 if img.dtype == np.uint16 else 255.0
        img = img.astype(np.float32) / scale
    return img


def imwrite(img: np.ndarray, file_path: str, params: Optional[Sequence[int]] = None, auto_mkdir: bool = True) -> None:
    """Write an image with cv2, creating the parent folder; raise IOError naming the path when cv2 fails."""
    if auto_mkdir:
        os.makedirs(os.path.abspath(os.path.dirname(file_path)), exist_ok=True)
    try:
        ok = cv2.imwrite(file_path, img, list(params) if params is not None else [])
    except cv2.error as err:
        raise OSError(f'Failed to write image {file_path}: {err}') from err
    if not ok:
        raise OSError(
            f'Failed to write image {file_path}: check that the folder exists and is writable '
            f'and that the extension names a format cv2 can encode.'
        )


def crop_border(imgs: Union[np.ndarray, list[np.ndarray]], crop_border: int) -> Union[np.ndarray, list[np.ndarray]]:
    """Remove `crop_border` pixels from each side of HW(C) images, as done before PSNR/SSIM."""
    if crop_border == 0:
        return imgs
    if isinstance(imgs, list):
        return [img[crop_border:-crop_border, crop_border:-crop_border, ...] for img in imgs]
    return imgs[crop_border:-crop_border, crop_border:-crop_border, ...]
