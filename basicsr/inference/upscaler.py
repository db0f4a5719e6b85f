"""Inference building blocks: image files (alpha, 16-bit, grayscale), seam-free tiled forward passes, colour
correction, and `Upscaler`, which puts them together for one network on one device.

Networks see RGB float tensors in [0, 1], as in training (`img2tensor(bgr2rgb=True)` / `tensor2img`).
"""

import os
from dataclasses import dataclass, replace
from typing import Optional

import cv2
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from basicsr.utils.img_util import ImageDecodeError

LOSSLESS_DEEP_EXTENSIONS = ('.png', '.tif', '.tiff')  # formats that keep both 16 bits and alpha
PRECISIONS = {'fp32': torch.float32, 'fp16': torch.float16, 'bf16': torch.bfloat16}
ALPHA_UPSAMPLERS = ('resize', 'model')


@dataclass
class LoadedImage:
    """An image split for the network: RGB float32 (h, w, 3) in [0, 1], optional alpha (h, w), source format."""

    rgb: np.ndarray
    alpha: Optional[np.ndarray] = None
    bit_depth: int = 8
    gray: bool = False


def read_image(path: str) -> LoadedImage:
    """Read an image file as it is stored: 8/16-bit, gray, BGR or BGRA; raises ImageDecodeError naming the file."""
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ImageDecodeError(f'Cannot decode {path}: the file is corrupt, empty or not an image.')
    if img.dtype == np.uint16:
        bit_depth, scale = 16, 65535.0
    elif img.dtype == np.uint8:
        bit_depth, scale = 8, 255.0
    else:
        raise ImageDecodeError(f'{path}: unsupported sample type {img.dtype}; use 8- or 16-bit images.')
    img = img.astype(np.float32) / scale
    if img.ndim == 2 or img.shape[2] == 1:
        gray = img.reshape(img.shape[0], img.shape[1])
        return LoadedImage(np.repeat(gray[..., None], 3, axis=2), None, bit_depth, gray=True)
    alpha = img[..., 3] if img.shape[2] == 4 else None
    return LoadedImage(cv2.cvtColor(img[..., :3], cv2.COLOR_BGR2RGB), alpha, bit_depth, gray=False)


def to_file_array(image: LoadedImage) -> np.ndarray:
    """The array cv2 writes for `image`: gray, BGR or BGRA, rounded to its original bit depth."""
    if image.gray:
        out = cv2.cvtColor(np.ascontiguousarray(image.rgb), cv2.COLOR_RGB2GRAY)
    else:
        out = cv2.cvtColor(np.ascontiguousarray(image.rgb), cv2.COLOR_RGB2BGR)
        if image.alpha is not None:
            out = np.concatenate([out, image.alpha[..., None]], axis=2)
    scale, dtype = (65535.0, np.uint16) if image.bit_depth == 16 else (255.0, np.uint8)
    return (np.clip(out, 0, 1) * scale).round().astype(dtype)


def write_image(path: str, image: LoadedImage) -> None:
    """Write `image` to `path` (folder created); raises IOError naming the path when cv2 cannot encode it."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if not cv2.imwrite(path, to_file_array(image)):
        raise OSError(f'Failed to write {path}: check the folder is writable and the extension is an image format.')


def output_extension(input_path: str, image: LoadedImage, requested: str = 'auto') -> str:
    """The output extension: `requested`, or for 'auto' the input's, switched to .png when alpha/16 bits need it."""
    if requested != 'auto':
        return requested if requested.startswith('.') else f'.{requested}'
    ext = os.path.splitext(input_path)[1].lower()
    needs_deep_format = image.alpha is not None or image.bit_depth == 16
    return '.png' if needs_deep_format and ext not in LOSSLESS_DEEP_EXTENSIONS else ext


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Replicate-pad the bottom/right of an NCHW tensor so height and width divide by `multiple`."""
    pad_h, pad_w = (-x.shape[2]) % multiple, (-x.shape[3]) % multiple
    return F.pad(x, (0, pad_w, 0, pad_h), mode='replicate') if pad_h or pad_w else x


def _run(net: nn.Module, x: torch.Tensor, device: torch.device, dtype: torch.dtype, scale: int) -> torch.Tensor:
    """One forward pass on `device` in `dtype`; returns float32 on the CPU after checking the output size."""
    with torch.no_grad():
        out = net(x.to(device=device, dtype=dtype)).float().cpu()
    expected = (x.shape[2] * scale, x.shape[3] * scale)
    if tuple(out.shape[2:]) != expected:
        raise ValueError(
            f'The network turned a {tuple(x.shape[2:])} input into {tuple(out.shape[2:])}, not '
            f'{expected}: its scale is not x{scale} (check the arch options / --scale).'
        )
    return out


def tiled_forward(
    net: nn.Module,
    lq: torch.Tensor,
    scale: int,
    tile: int,
    tile_pad: int,
    device: Optional[torch.device] = None,
    dtype: torch.dtype = torch.float32,
    alignment: int = 1,
) -> torch.Tensor:
    """Upscale a (1, c, h, w) CPU tensor tile by tile; returns the (1, c', h*scale, w*scale) float32 CPU output.

    Each `tile` x `tile` block is run with `tile_pad` pixels of real context on every side, and only the block's own
    part of the output is kept. When `tile_pad` covers the network's receptive-field radius the result equals the
    whole-image pass (no seams); `alignment` keeps tile corners on the pixel-unshuffle grid (RRDBNet x2/x1).
    """
    device = device or torch.device('cpu')
    if tile <= 0:
        return _run(net, lq, device, dtype, scale)
    tile = -(-tile // alignment) * alignment
    tile_pad = -(-tile_pad // alignment) * alignment
    height, width = lq.shape[2:]
    output = None
    for top in range(0, height, tile):
        for left in range(0, width, tile):
            bottom, right = min(top + tile, height), min(left + tile, width)
            in_top, in_left = max(top - tile_pad, 0), max(left - tile_pad, 0)
            in_bottom, in_right = min(bottom + tile_pad, height), min(right + tile_pad, width)
            out_tile = _run(net, lq[:, :, in_top:in_bottom, in_left:in_right], device, dtype, scale)
            if output is None:
                output = out_tile.new_zeros(1, out_tile.shape[1], height * scale, width * scale)
            rows = slice((top - in_top) * scale, (bottom - in_top) * scale)
            cols = slice((left - in_left) * scale, (right - in_left) * scale)
            output[:, :, top * scale : bottom * scale, left * scale : right * scale] = out_tile[:, :, rows, cols]
    return output


def color_correction(output: torch.Tensor, lq: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Match each output channel's mean and std to the LR input's, per image (the PDD authors' colour correction).

    out' = (out - mu_out) / sigma_out * sigma_lr + mu_lr, statistics over the spatial positions of each channel.
    """
    if output.shape[:2] != lq.shape[:2]:
        raise ValueError(
            f'Colour correction needs the same batch and channels: output {tuple(output.shape[:2])}, '
            f'input {tuple(lq.shape[:2])}.'
        )
    mu_out = output.mean(dim=(2, 3), keepdim=True)
    sigma_out = output.std(dim=(2, 3), keepdim=True, unbiased=False)
    mu_lr = lq.mean(dim=(2, 3), keepdim=True)
    sigma_lr = lq.std(dim=(2, 3), keepdim=True, unbiased=False)
    return (output - mu_out) / sigma_out.clamp_min(eps) * sigma_lr + mu_lr


def resolve_device(device: str = 'auto') -> torch.device:
    """'auto' (CUDA when present), 'cpu' or 'cuda[:i]'; asking for CUDA without it is an error, not a fallback."""
    if device == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    resolved = torch.device(device)
    if resolved.type == 'cuda' and not torch.cuda.is_available():
        raise RuntimeError('--device cuda was asked for but CUDA is not available; use --device cpu.')
    return resolved


class Upscaler:
    """Run one SR network over whole images: device and precision, tiling, colour correction, alpha and gray."""

    def __init__(
        self,
        net: nn.Module,
        scale: int,
        device: str = 'auto',
        precision: str = 'fp32',
        tile: int = 0,
        tile_pad: int = 10,
        color_correct: bool = False,
        alpha_upsampler: str = 'resize',
    ) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got '{precision}'.")
        if alpha_upsampler not in ALPHA_UPSAMPLERS:
            raise ValueError(f"alpha_upsampler must be one of {', '.join(ALPHA_UPSAMPLERS)}, got '{alpha_upsampler}'.")
        if tile < 0 or tile_pad < 0:
            raise ValueError(f'tile ({tile}) and tile_pad ({tile_pad}) must not be negative.')
        self.device = resolve_device(device)
        if precision != 'fp32' and self.device.type != 'cuda':
            raise ValueError(f'{precision} inference needs a CUDA device (got {self.device}); on CPU use fp32.')
        self.dtype = PRECISIONS[precision]
        self.net = net.eval().to(device=self.device, dtype=self.dtype)
        self.scale = scale
        self.tile, self.tile_pad = tile, tile_pad
        self.color_correct = color_correct
        self.alpha_upsampler = alpha_upsampler
        self.alignment = int(getattr(net, 'unshuffle_factor', 1))

    def upscale_tensor(self, lq: torch.Tensor) -> torch.Tensor:
        """(1, 3, h, w) RGB in [0, 1] -> (1, 3, h*scale, w*scale) float32 CPU in [0, 1]."""
        height, width = lq.shape[2:]
        padded = pad_to_multiple(lq.float().cpu(), self.alignment)
        output = tiled_forward(
            self.net, padded, self.scale, self.tile, self.tile_pad, self.device, self.dtype, self.alignment
        )[:, :, : height * self.scale, : width * self.scale]
        if self.color_correct:
            output = color_correction(output, lq.float().cpu())
        return output.clamp_(0, 1)

    def upscale_array(self, rgb: np.ndarray) -> np.ndarray:
        """(h, w, 3) float RGB -> (h*scale, w*scale, 3) float32 RGB."""
        lq = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))).unsqueeze(0)
        return self.upscale_tensor(lq)[0].numpy().transpose(1, 2, 0)

    def upscale(self, image: LoadedImage) -> LoadedImage:
        """Upscale the colour of `image`, and its alpha by resizing or by the network (`alpha_upsampler`)."""
        rgb = self.upscale_array(image.rgb)
        alpha = None
        if image.alpha is not None:
            if self.alpha_upsampler == 'model':
                alpha = self.upscale_array(np.repeat(image.alpha[..., None], 3, axis=2)).mean(axis=2)
            else:
                alpha = cv2.resize(image.alpha, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
        return replace(image, rgb=rgb, alpha=alpha)
