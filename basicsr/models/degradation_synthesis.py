"""Real-ESRGAN's training-time degradation (Wang et al., ICCVW 2021, Sec. 3): LQ images synthesised on the model's
device from GT crops and per-sample kernels, plus the training-pair pool that mixes degradations across batches.

Random draws follow Real-ESRGAN 0.3's order, so the same seeds give the same LQ images.
"""

import random
from typing import Optional

import numpy as np
import torch
from torch.nn import functional as F

from basicsr.data.degradations import random_add_gaussian_noise_pt, random_add_poisson_noise_pt
from basicsr.data.transforms import paired_random_crop
from basicsr.utils.diffjpeg import DiffJPEG
from basicsr.utils.img_process_util import USMSharp, filter2D

RESIZE_MODES = ['area', 'bilinear', 'bicubic']


class SecondOrderDegradation:
    """blur -> resize -> noise -> JPEG, twice, then [resize back + sinc] and JPEG in random order."""

    def __init__(self, opt: dict, device: torch.device) -> None:
        self.opt = opt
        self.jpeger = DiffJPEG(differentiable=False).to(device)

    def _random_scale(self, probs: list, scale_range: list) -> float:
        updown = random.choices(['up', 'down', 'keep'], probs)[0]
        if updown == 'up':
            return np.random.uniform(1, scale_range[1])
        if updown == 'down':
            return np.random.uniform(scale_range[0], 1)
        return 1

    def _noise(self, out: torch.Tensor, suffix: str) -> torch.Tensor:
        gray_prob = self.opt[f'gray_noise_prob{suffix}']
        if np.random.uniform() < self.opt[f'gaussian_noise_prob{suffix}']:
            return random_add_gaussian_noise_pt(
                out, sigma_range=self.opt[f'noise_range{suffix}'], clip=True, rounds=False, gray_prob=gray_prob
            )
        return random_add_poisson_noise_pt(
            out, scale_range=self.opt[f'poisson_scale_range{suffix}'], gray_prob=gray_prob, clip=True, rounds=False
        )

    def _jpeg(self, out: torch.Tensor, suffix: str) -> torch.Tensor:
        quality = out.new_zeros(out.size(0)).uniform_(*self.opt[f'jpeg_range{suffix}'])
        return self.jpeger(torch.clamp(out, 0, 1), quality=quality)

    def _resize_back_and_sinc(self, out: torch.Tensor, size: tuple[int, int], sinc_kernel: torch.Tensor):
        out = F.interpolate(out, size=size, mode=random.choice(RESIZE_MODES))
        return filter2D(out, sinc_kernel)

    @torch.no_grad()
    def __call__(
        self, gt: torch.Tensor, kernel1: torch.Tensor, kernel2: torch.Tensor, sinc_kernel: torch.Tensor
    ) -> torch.Tensor:
        """The LQ image (quantised to 8 bit) for the GT batch `gt` (USM-sharpened unless `gt_usm: false`)."""
        scale = self.opt['scale']
        ori_h, ori_w = gt.shape[2:4]
        out = filter2D(gt, kernel1)
        out = F.interpolate(
            out,
            scale_factor=self._random_scale(self.opt['resize_prob'], self.opt['resize_range']),
            mode=random.choice(RESIZE_MODES),
        )
        out = self._jpeg(self._noise(out, ''), '')
        if np.random.uniform() < self.opt['second_blur_prob']:
            out = filter2D(out, kernel2)
        factor = self._random_scale(self.opt['resize_prob2'], self.opt['resize_range2'])
        out = F.interpolate(
            out, size=(int(ori_h / scale * factor), int(ori_w / scale * factor)), mode=random.choice(RESIZE_MODES)
        )
        out = self._noise(out, '2')
        lr_size = (ori_h // scale, ori_w // scale)
        if np.random.uniform() < 0.5:
            out = self._jpeg(self._resize_back_and_sinc(out, lr_size, sinc_kernel), '2')
        else:
            out = self._resize_back_and_sinc(self._jpeg(out, '2'), lr_size, sinc_kernel)
        return torch.clamp((out * 255.0).round(), 0, 255) / 255.0


class TrainingPairPool:
    """A shuffled queue of (lq, gt) pairs so one batch mixes degradations drawn for different batches."""

    def __init__(self, queue_size: int) -> None:
        self.queue_size = queue_size
        self.queue_lr: Optional[torch.Tensor] = None
        self.queue_gt: Optional[torch.Tensor] = None
        self.ptr = 0

    @torch.no_grad()
    def __call__(self, lq: torch.Tensor, gt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b = lq.size(0)
        if self.queue_lr is None:
            if self.queue_size % b:
                raise ValueError(f'queue_size {self.queue_size} must be divisible by the batch size {b}.')
            self.queue_lr = lq.new_zeros((self.queue_size, *lq.shape[1:]))
            self.queue_gt = gt.new_zeros((self.queue_size, *gt.shape[1:]))
        if self.ptr < self.queue_size:
            self.queue_lr[self.ptr : self.ptr + b] = lq
            self.queue_gt[self.ptr : self.ptr + b] = gt
            self.ptr += b
            return lq, gt
        idx = torch.randperm(self.queue_size)
        self.queue_lr, self.queue_gt = self.queue_lr[idx], self.queue_gt[idx]
        lq_out, gt_out = self.queue_lr[:b].clone(), self.queue_gt[:b].clone()
        self.queue_lr[:b] = lq
        self.queue_gt[:b] = gt
        return lq_out, gt_out


class DegradationSynthesisMixin:
    """For models whose training LQ is synthesised: feed_data, USM targets and validation on given pairs."""

    def setup_synthesis(self) -> None:
        self.usm_sharpener = USMSharp().to(self.device)
        self.degrader = SecondOrderDegradation(self.opt, self.device)
        self.pair_pool = TrainingPairPool(self.opt.get('queue_size', 180))

    @torch.no_grad()
    def feed_data(self, data: dict) -> None:
        if not (self.is_train and self.opt.get('high_order_degradation', True)):
            self.lq = data['lq'].to(self.device)
            if 'gt' in data:
                self.gt = data['gt'].to(self.device)
                self.gt_usm = self.usm_sharpener(self.gt)
            return
        self.gt = data['gt'].to(self.device)
        self.gt_usm = self.usm_sharpener(self.gt)
        kernels = [data[k].to(self.device) for k in ('kernel1', 'kernel2', 'sinc_kernel')]
        source = self.gt_usm if self.opt.get('gt_usm', True) else self.gt
        self.lq = self.degrader(source, *kernels)
        (self.gt, self.gt_usm), self.lq = paired_random_crop(
            [self.gt, self.gt_usm], self.lq, self.opt['gt_size'], self.opt['scale']
        )
        self.lq, self.gt = self.pair_pool(self.lq, self.gt)
        self.gt_usm = self.usm_sharpener(self.gt)
        self.lq = self.lq.contiguous()

    def nondist_validation(self, dataloader, current_iter: int, tb_logger, save_img: bool) -> None:
        """Validate on the dataset's own LQ images, never on synthesised ones."""
        is_train, self.is_train = self.is_train, False
        super().nondist_validation(dataloader, current_iter, tb_logger, save_img)
        self.is_train = is_train

    def usm_target(self, switch: str) -> torch.Tensor:
        """`gt_usm` unless `<switch>: false` in the options (l1_gt_usm, percep_gt_usm, gan_gt_usm)."""
        return self.gt if self.opt.get(switch, True) is False else self.gt_usm
