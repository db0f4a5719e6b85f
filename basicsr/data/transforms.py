"""Geometric transforms for training pairs: mod crop, aligned random crops, flips and 90-degree rotations.

Random draws use Python's `random` in BasicSR 1.4's order, so a seeded run crops and flips as BasicSR does.
"""

import random
from typing import Optional, Union

import cv2
import numpy as np
import torch

Image = Union[np.ndarray, torch.Tensor]


def mod_crop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop the bottom/right so height and width are multiples of `scale` (used for test GTs)."""
    if img.ndim not in (2, 3):
        raise ValueError(f'mod_crop expects an HW or HWC image, got {img.ndim} dimensions.')
    h, w = img.shape[:2]
    return img[: h - h % scale, : w - w % scale, ...].copy()


def _spatial_size(img: Image) -> tuple[int, int]:
    """(height, width) of an HWC numpy image or a (..., H, W) tensor."""
    if torch.is_tensor(img):
        return tuple(img.shape[-2:])
    return tuple(img.shape[:2])


def _crop(img: Image, top: int, left: int, size: int) -> Image:
    if torch.is_tensor(img):
        return img[..., top : top + size, left : left + size]
    return img[top : top + size, left : left + size, ...]


def _as_list(imgs: Union[Image, list[Image]]) -> list[Image]:
    return imgs if isinstance(imgs, list) else [imgs]


def _unwrap(imgs: list[Image]) -> Union[Image, list[Image]]:
    return imgs[0] if len(imgs) == 1 else imgs


def paired_random_crop(
    img_gts: Union[Image, list[Image]],
    img_lqs: Union[Image, list[Image]],
    gt_patch_size: int,
    scale: int,
    gt_path: Optional[str] = None,
) -> tuple:
    """Crop GT patches of `gt_patch_size` and the LQ patches at the same place (`gt_patch_size // scale`).

    Accepts HWC numpy images or (B)CHW tensors; single images in give single images out.
    """
    img_gts, img_lqs = _as_list(img_gts), _as_list(img_lqs)
    h_lq, w_lq = _spatial_size(img_lqs[0])
    h_gt, w_gt = _spatial_size(img_gts[0])
    lq_patch_size = gt_patch_size // scale
    where = f' ({gt_path})' if gt_path else ''
    if h_gt != h_lq * scale or w_gt != w_lq * scale:
        raise ValueError(
            f'Scale mismatch{where}: GT ({h_gt}, {w_gt}) is not {scale}x LQ ({h_lq}, {w_lq}). '
            f'Check the dataset scale and that LQ/GT files pair up.'
        )
    if h_lq < lq_patch_size or w_lq < lq_patch_size:
        raise ValueError(
            f'LQ ({h_lq}, {w_lq}) is smaller than the patch size ({lq_patch_size}, {lq_patch_size})'
            f'{where}: remove the image or lower gt_size.'
        )
    top = random.randint(0, h_lq - lq_patch_size)
    left = random.randint(0, w_lq - lq_patch_size)
    img_lqs = [_crop(v, top, left, lq_patch_size) for v in img_lqs]
    img_gts = [_crop(v, top * scale, left * scale, gt_patch_size) for v in img_gts]
    return _unwrap(img_gts), _unwrap(img_lqs)


def random_crop(
    img: Union[Image, list[Image]], patch_size: int, path: Optional[str] = None
) -> Union[Image, list[Image]]:
    """Crop the same random `patch_size` square from one image or a list of equally sized images."""
    imgs = _as_list(img)
    h, w = _spatial_size(imgs[0])
    if h < patch_size or w < patch_size:
        where = f'{path} ' if path else 'Image '
        raise ValueError(
            f'{where}is smaller than the crop: image ({h}, {w}) vs patch ({patch_size}, {patch_size}). '
            f'Remove the image or lower the patch size.'
        )
    top = random.randint(0, h - patch_size)
    left = random.randint(0, w - patch_size)
    return _unwrap([_crop(v, top, left, patch_size) for v in imgs])


def _flip_and_transpose(img: np.ndarray, hflip: bool, vflip: bool, rot90: bool) -> np.ndarray:
    if hflip:
        img = img[:, ::-1, ...]
    if vflip:
        img = img[::-1, ...]
    if rot90:
        img = img.swapaxes(0, 1)
    return np.ascontiguousarray(img)


def _augment_flow(flow: np.ndarray, hflip: bool, vflip: bool, rot90: bool) -> np.ndarray:
    """Apply the image transform to an (h, w, 2) flow and fix the vector components to match."""
    flow = _flip_and_transpose(flow, hflip, vflip, rot90)
    if hflip:
        flow[:, :, 0] *= -1
    if vflip:
        flow[:, :, 1] *= -1
    if rot90:
        flow = np.ascontiguousarray(flow[:, :, [1, 0]])
    return flow


def augment(
    imgs: Union[np.ndarray, list[np.ndarray]],
    hflip: bool = True,
    rotation: bool = True,
    flows: Optional[Union[np.ndarray, list[np.ndarray]]] = None,
    return_status: bool = False,
):
    """Apply one random choice of horizontal flip, vertical flip and transpose to all images (and flows).

    Vertical flip plus transpose give the 8 dihedral variants, i.e. rotations by multiples of 90 degrees.
    Returns the images, then the flows when given, else the (hflip, vflip, rot90) status when `return_status`.
    """
    hflip = hflip and random.random() < 0.5
    vflip = rotation and random.random() < 0.5
    rot90 = rotation and random.random() < 0.5
    out_imgs = _unwrap([_flip_and_transpose(img, hflip, vflip, rot90) for img in _as_list(imgs)])
    if flows is not None:
        out_flows = _unwrap([_augment_flow(flow, hflip, vflip, rot90) for flow in _as_list(flows)])
        return out_imgs, out_flows
    if return_status:
        return out_imgs, (hflip, vflip, rot90)
    return out_imgs


def img_rotate(
    img: np.ndarray, angle: float, center: Optional[tuple[float, float]] = None, scale: float = 1.0
) -> np.ndarray:
    """Rotate by `angle` degrees (counter-clockwise) about `center` (default: the image centre), keeping the size."""
    h, w = img.shape[:2]
    if center is None:
        center = (w // 2, h // 2)
    matrix = cv2.getRotationMatrix2D(center, angle, scale)
    return cv2.warpAffine(img, matrix, (w, h))
