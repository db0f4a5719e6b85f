"""Real-ESRGAN's training datasets (Wang et al., ICCVW 2021), kept as BasicSR 1.4 keeps them (`_basicsr` suffix).

RealESRGANDataset returns augmented GT crops plus, per sample, the blur kernels of the two degradation stages and the
final sinc filter; the model applies them to whole batches (see `RealESRGANModel`). RealESRGANPairedDataset reads
fixed LQ/GT pairs for fine-tuning. Registered as `<Name>_basicsr` so `import realesrgan` can register the plain names.
"""

import math
import os
import os.path as osp
import random
import time
from typing import Any

import cv2
import numpy as np
import torch

from basicsr.data.data_util import BadImageError, ImageFileDataset, images_to_tensors
from basicsr.data.degradations import (
    KernelSizeError,
    check_kernel_size,
    check_probabilities,
    circular_lowpass_kernel,
    random_mixed_kernels,
)
from basicsr.data.paired_image_dataset import PairedImageDataset
from basicsr.data.transforms import augment
from basicsr.utils.logger import get_root_logger
from basicsr.utils.misc import scandir
from basicsr.utils.registry import DATASET_REGISTRY

STAGE_KEYS = ('kernel_list', 'kernel_prob', 'blur_sigma', 'betag_range', 'betap_range', 'sinc_prob')
MIN_KERNEL_SIZE = 7
READ_RETRIES = 3
IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp')


def _gt_paths(opt: dict[str, Any], gt_folder: str, lmdb: bool) -> list[str]:
    """GT paths from lmdb's meta_info.txt, from a `meta_info` list of relative paths, or the folder's images."""
    if lmdb:
        if not gt_folder.endswith('.lmdb'):
            raise ValueError(f"dataroot_gt: '{gt_folder}' should end with '.lmdb' for io_backend type lmdb.")
        with open(osp.join(gt_folder, 'meta_info.txt')) as fin:
            return [line.split('.')[0] for line in fin]
    if opt.get('meta_info') is not None:
        with open(opt['meta_info']) as fin:
            return [osp.join(gt_folder, line.strip().split(' ')[0]) for line in fin if line.strip()]
    return sorted(p for p in scandir(gt_folder, recursive=True, full_path=True) if p.lower().endswith(IMAGE_EXTENSIONS))


def _crop_or_pad(img: np.ndarray, size: int) -> np.ndarray:
    """Reflect-pad to at least size x size, then take a random size x size crop (Real-ESRGAN's 400 px GT patches)."""
    h, w = img.shape[0:2]
    if h < size or w < size:
        img = cv2.copyMakeBorder(img, 0, max(0, size - h), 0, max(0, size - w), cv2.BORDER_REFLECT_101)
    if img.shape[0] > size or img.shape[1] > size:
        h, w = img.shape[0:2]
        top = random.randint(0, h - size)
        left = random.randint(0, w - size)
        img = img[top : top + size, left : left + size, ...]
    return img


def kernel_sizes(max_size: int = 21) -> list[int]:
    """Odd blur-kernel sizes from 7 to `max_size`, drawn uniformly per sample (Real-ESRGAN uses 7..21)."""
    return [2 * v + 1 for v in range(MIN_KERNEL_SIZE // 2, max_size // 2 + 1)]


def stage_kernel(opt: dict[str, Any], suffix: str = '', max_size: int = 21) -> np.ndarray:
    """One blur kernel of degradation stage `suffix` ('' or '2'), zero-padded to max_size; draws as Real-ESRGAN.

    With probability `sinc_prob<suffix>` a sinc (ringing) filter, else a `random_mixed_kernels` blur.
    """
    kernel_size = random.choice(kernel_sizes(max_size))
    if np.random.uniform() < opt[f'sinc_prob{suffix}']:
        # this cutoff range suits kernel sizes 7..21
        omega_c = np.random.uniform(np.pi / 3, np.pi) if kernel_size < 13 else np.random.uniform(np.pi / 5, np.pi)
        kernel = circular_lowpass_kernel(omega_c, kernel_size, pad_to=0)
    else:
        sigma = opt[f'blur_sigma{suffix}']
        kernel = random_mixed_kernels(
            opt[f'kernel_list{suffix}'],
            opt[f'kernel_prob{suffix}'],
            kernel_size,
            sigma,
            sigma,
            [-math.pi, math.pi],
            opt[f'betag_range{suffix}'],
            opt[f'betap_range{suffix}'],
            noise_range=None,
        )
    pad = (max_size - kernel_size) // 2
    return np.pad(kernel, ((pad, pad), (pad, pad)))


def final_sinc_kernel(opt: dict[str, Any], max_size: int = 21) -> torch.Tensor:
    """The last stage's sinc filter with probability `final_sinc_prob`, else an identity (pulse) kernel."""
    if np.random.uniform() < opt['final_sinc_prob']:
        kernel_size = random.choice(kernel_sizes(max_size))
        omega_c = np.random.uniform(np.pi / 3, np.pi)
        return torch.FloatTensor(circular_lowpass_kernel(omega_c, kernel_size, pad_to=max_size))
    pulse = torch.zeros(max_size, max_size)
    pulse[max_size // 2, max_size // 2] = 1
    return pulse


def draw_kernels(opt: dict[str, Any], max_size: int = 21) -> dict[str, torch.Tensor]:
    """'kernel1', 'kernel2', 'sinc_kernel' for one sample, in Real-ESRGAN's draw order."""
    kernel1 = stage_kernel(opt, '', max_size)
    kernel2 = stage_kernel(opt, '2', max_size)
    sinc_kernel = final_sinc_kernel(opt, max_size)
    return {'kernel1': torch.FloatTensor(kernel1), 'kernel2': torch.FloatTensor(kernel2), 'sinc_kernel': sinc_kernel}


@DATASET_REGISTRY.register(suffix='basicsr')
class RealESRGANDataset(ImageFileDataset):
    """GT crops of `crop_pad_size` (400) pixels with the random kernels of Real-ESRGAN's second-order degradation.

    Per stage (suffix '' and '2'): `kernel_list`, `kernel_prob`, `blur_sigma`, `betag_range`, `betap_range`,
    `sinc_prob`; plus `final_sinc_prob`. Kernel sizes are odd values from 7 to `blur_kernel_size` (21), and every
    kernel is zero-padded to that size so a batch stacks. Returns 'gt', 'kernel1', 'kernel2', 'sinc_kernel', 'gt_path'.
    """

    option_keys = frozenset(
        {
            'meta_info',
            'use_hflip',
            'use_rot',
            'blur_kernel_size',
            'blur_kernel_size2',
            'final_sinc_prob',
            'gt_size',
            'crop_pad_size',
            *STAGE_KEYS,
            *(f'{k}2' for k in STAGE_KEYS),
        }
    )

    def __init__(self, opt: dict[str, Any]) -> None:
        super().__init__(opt, lmdb_roots={'gt': opt.get('dataroot_gt')})
        self.gt_folder = opt['dataroot_gt']
        self.paths = _gt_paths(opt, self.gt_folder, self.io_backend_opt.get('type') == 'lmdb')
        self.kernel_size = opt.get('blur_kernel_size', 21)
        self.crop_pad_size = opt.get('crop_pad_size', 400)

    @classmethod
    def check_options(cls, opt: dict[str, Any]) -> list[str]:
        """Problems with `opt`, each starting with its key."""
        problems = super().check_options(opt)
        required = ['dataroot_gt', 'final_sinc_prob', *STAGE_KEYS, *(f'{k}2' for k in STAGE_KEYS)]
        problems += [f'{key}: required' for key in required if opt.get(key) is None]
        for key in ('kernel_prob', 'kernel_prob2'):
            if isinstance(opt.get(key), list):
                try:
                    check_probabilities(opt[key], key)
                except ValueError as err:
                    problems.append(str(err))
        size = opt.get('blur_kernel_size', 21)
        try:
            check_kernel_size(size, 'blur_kernel_size')
            if size < MIN_KERNEL_SIZE:
                raise KernelSizeError(f'blur_kernel_size must be at least {MIN_KERNEL_SIZE}, got {size}.')
        except KernelSizeError as err:
            problems.append(str(err))
        return problems

    def _read_gt(self, index: int) -> tuple[np.ndarray, str]:
        """Read GT `index`; on I/O errors retry with random other images (slow network storage), as Real-ESRGAN."""
        for retries_left in range(READ_RETRIES - 1, 0, -1):
            try:
                return self.read(self.paths[index], 'gt'), self.paths[index]
            except BadImageError as err:
                if self.opt.get('on_bad_image') == 'raise':
                    raise
                get_root_logger().warning(f'{err}; remaining retries: {retries_left}')
                index = random.randint(0, len(self) - 1)
                time.sleep(1)
        return self.read(self.paths[index], 'gt'), self.paths[index]

    def __getitem__(self, index: int) -> dict[str, Any]:
        img_gt, gt_path = self._read_gt(index)
        img_gt = augment(img_gt, self.opt.get('use_hflip', True), self.opt.get('use_rot', True))
        img_gt = _crop_or_pad(img_gt, self.crop_pad_size)
        kernels = draw_kernels(self.opt, self.kernel_size)
        return {'gt': images_to_tensors([img_gt], self.opt)[0], **kernels, 'gt_path': gt_path}


def _paired_meta_info(meta_info: str, gt_folder: str, lq_folder: str) -> list[dict]:
    """Pairs from a meta_info file whose lines read 'gt_relative_path, lq_relative_path' (Real-ESRGAN's format)."""
    pairs = []
    with open(meta_info) as fin:
        for line_no, line in enumerate((ln.strip() for ln in fin), start=1):
            if not line:
                continue
            if ', ' not in line:
                raise ValueError(f"meta_info: line {line_no} of '{meta_info}' should read 'gt_path, lq_path'.")
            gt_path, lq_path = line.split(', ')
            pairs.append({'gt_path': os.path.join(gt_folder, gt_path), 'lq_path': os.path.join(lq_folder, lq_path)})
    return pairs


@DATASET_REGISTRY.register(suffix='basicsr')
class RealESRGANPairedDataset(PairedImageDataset):
    """PairedImageDataset that also reads Real-ESRGAN's `meta_info` files ('gt_relative_path, lq_relative_path')."""

    option_keys = frozenset({'meta_info', 'gt_size', 'use_hflip', 'use_rot'})

    def list_pairs(self, opt: dict[str, Any]) -> list[dict]:
        if (opt.get('io_backend') or {}).get('type') != 'lmdb' and opt.get('meta_info') is not None:
            return _paired_meta_info(opt['meta_info'], opt['dataroot_gt'], opt['dataroot_lq'])
        return super().list_pairs(opt)
