"""Time Real-ESRGAN's second-order degradation of one training batch (default: 12 GT images of 256 px, x4) on CPU.

Kernels are drawn per sample with `basicsr.data.degradations` (as RealESRGANDataset does); the batch then goes through
USM sharpening and `SecondOrderDegradation` (blur, random resize, Gaussian/Poisson noise and DiffJPEG twice, the final
sinc filter and resize), as RealESRGANModel.feed_data does, with the settings of Real-ESRGAN's
train_realesrgan_x4plus.yml.

    python scripts/benchmark_degradation.py                 # 12 x 256 px on CPU
    python scripts/benchmark_degradation.py --threads 1 --runs 5
    python scripts/benchmark_degradation.py --device cuda
"""

import argparse
import random
import statistics
import sys
import time
from os import path as osp

import numpy as np
import torch
from torch.nn import functional as F

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from basicsr.data.realesrgan_dataset import draw_kernels  # noqa: E402
from basicsr.models.degradation_synthesis import SecondOrderDegradation  # noqa: E402
from basicsr.utils.img_process_util import USMSharp  # noqa: E402

KERNELS = ['iso', 'aniso', 'generalized_iso', 'generalized_aniso', 'plateau_iso', 'plateau_aniso']
KERNEL_PROB = [0.45, 0.25, 0.12, 0.03, 0.12, 0.03]
# train_realesrgan_x4plus.yml: dataset kernel settings, then the model's degradation settings.
X4PLUS = {
    'kernel_list': KERNELS,
    'kernel_prob': KERNEL_PROB,
    'sinc_prob': 0.1,
    'blur_sigma': [0.2, 3],
    'betag_range': [0.5, 4],
    'betap_range': [1, 2],
    'kernel_list2': KERNELS,
    'kernel_prob2': KERNEL_PROB,
    'sinc_prob2': 0.1,
    'blur_sigma2': [0.2, 1.5],
    'betag_range2': [0.5, 4],
    'betap_range2': [1, 2],
    'final_sinc_prob': 0.8,
    'scale': 4,
    'resize_prob': [0.2, 0.7, 0.1],
    'resize_range': [0.15, 1.5],
    'gaussian_noise_prob': 0.5,
    'noise_range': [1, 30],
    'poisson_scale_range': [0.05, 3],
    'gray_noise_prob': 0.4,
    'jpeg_range': [30, 95],
    'second_blur_prob': 0.8,
    'resize_prob2': [0.3, 0.4, 0.3],
    'resize_range2': [0.3, 1.2],
    'gaussian_noise_prob2': 0.5,
    'noise_range2': [1, 25],
    'poisson_scale_range2': [0.05, 2.5],
    'gray_noise_prob2': 0.4,
    'jpeg_range2': [30, 95],
}


def smooth_gt(batch: int, gt_size: int, device: torch.device) -> torch.Tensor:
    """Smooth random RGB images in [0, 1], standing in for GT crops."""
    gt = F.interpolate(torch.rand(batch, 3, gt_size // 8, gt_size // 8), size=(gt_size, gt_size), mode='bicubic')
    return gt.clamp(0, 1).to(device)


def batch_kernels(batch: int, opt: dict, device: torch.device) -> dict[str, torch.Tensor]:
    """Per-sample kernels drawn as RealESRGANDataset does, stacked as the data loader would."""
    samples = [draw_kernels(opt) for _ in range(batch)]
    return {key: torch.stack([s[key] for s in samples]).to(device) for key in samples[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--batch', type=int, default=12)
    parser.add_argument('--gt-size', type=int, default=256)
    parser.add_argument('--runs', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--threads', type=int, help='torch CPU threads (default: torch chooses)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    usm, degrade = USMSharp().to(device), SecondOrderDegradation(X4PLUS, device)

    gt = smooth_gt(args.batch, args.gt_size, device)
    start = time.perf_counter()
    kernels = batch_kernels(args.batch, X4PLUS, device)
    draw_ms = (time.perf_counter() - start) * 1000
    timings = []
    for run in range(args.warmup + args.runs):
        start = time.perf_counter()
        with torch.no_grad():
            lq = degrade(usm(gt), kernels['kernel1'], kernels['kernel2'], kernels['sinc_kernel'])
        if device.type == 'cuda':
            torch.cuda.synchronize()
        if run >= args.warmup:
            timings.append((time.perf_counter() - start) * 1000)
    print(
        f'device {device}, torch threads {torch.get_num_threads()}, batch {args.batch} x {args.gt_size} px '
        f'-> LQ {tuple(lq.shape)}'
    )
    print(f'kernel drawing (numpy, {args.batch} samples): {draw_ms:.1f} ms')
    print(
        f'degradation: median {statistics.median(timings):.1f} ms per batch, mean {statistics.mean(timings):.1f}, '
        f'min {min(timings):.1f}, max {max(timings):.1f} over {args.runs} runs'
    )


if __name__ == '__main__':
    main()
