"""Shared fixtures: tiny image folders and option dicts made on the fly (no data is shipped for tests)."""

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

# One intra-op thread per test process: `make test` runs two pytest workers on two cores, and oversubscribed
# threads made CPU tests several times slower.
torch.set_num_threads(1)


def write_images(folder: Path, count: int, size: int, seed: int = 0, suffix: str = '.png') -> list[str]:
    """Write `count` smooth random colour images of `size` x `size` to `folder`; returns their names."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    names = []
    for i in range(count):
        small = rng.integers(0, 256, size=(max(size // 8, 2), max(size // 8, 2), 3), dtype=np.uint8)
        img = cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)
        name = f'img{i:03d}{suffix}'
        cv2.imwrite(str(folder / name), img)
        names.append(name)
    return names


def write_paired_folders(root: Path, count: int, gt_size: int, scale: int, seed: int = 0) -> tuple[str, str]:
    """GT folder plus an LQ folder made by INTER_AREA downscaling with the same file names."""
    gt_dir, lq_dir = root / 'gt', root / 'lq'
    names = write_images(gt_dir, count, gt_size, seed)
    lq_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        img = cv2.imread(str(gt_dir / name))
        cv2.imwrite(
            str(lq_dir / name), cv2.resize(img, (gt_size // scale, gt_size // scale), interpolation=cv2.INTER_AREA)
        )
    return str(gt_dir), str(lq_dir)


@pytest.fixture
def paired_folders(tmp_path):
    return write_paired_folders(tmp_path / 'pairs', count=6, gt_size=32, scale=2)


def tiny_sr_options(gt_dir: str, lq_dir: str, name: str = 'tiny_sr', total_iter: int = 4) -> dict:
    """A complete SRModel option dict for a x2 SRVGGNetCompact on CPU."""
    return {
        'name': name,
        'model_type': 'SRModel',
        'scale': 2,
        'num_gpu': 0,
        'manual_seed': 0,
        'datasets': {
            'train': {
                'name': 'tiny',
                'type': 'PairedImageDataset',
                'dataroot_gt': gt_dir,
                'dataroot_lq': lq_dir,
                'io_backend': {'type': 'disk'},
                'gt_size': 16,
                'use_hflip': True,
                'use_rot': True,
                'num_worker_per_gpu': 0,
                'batch_size_per_gpu': 2,
                'dataset_enlarge_ratio': 1,
                'prefetch_mode': None,
            },
            'val': {
                'name': 'tiny_val',
                'type': 'PairedImageDataset',
                'dataroot_gt': gt_dir,
                'dataroot_lq': lq_dir,
                'io_backend': {'type': 'disk'},
            },
        },
        'network_g': {
            'type': 'SRVGGNetCompact',
            'num_in_ch': 3,
            'num_out_ch': 3,
            'num_feat': 8,
            'num_conv': 2,
            'upscale': 2,
            'act_type': 'prelu',
        },
        'path': {'pretrain_network_g': None, 'strict_load_g': True, 'resume_state': None},
        'train': {
            'ema_decay': 0.9,
            'optim_g': {'type': 'Adam', 'lr': 1e-3, 'betas': [0.9, 0.99]},
            'scheduler': {'type': 'MultiStepLR', 'milestones': [100], 'gamma': 0.5},
            'total_iter': total_iter,
            'warmup_iter': -1,
            'pixel_opt': {'type': 'L1Loss', 'loss_weight': 1.0, 'reduction': 'mean'},
        },
        'val': {
            'val_freq': 2,
            'save_img': False,
            'metrics': {'psnr': {'type': 'calculate_psnr', 'crop_border': 2, 'test_y_channel': False}},
        },
        'logger': {'print_freq': 1, 'save_checkpoint_freq': 2, 'use_tb_logger': False},
    }


@pytest.fixture(autouse=True)
def _no_network_weights(monkeypatch, tmp_path_factory):
    """Point the torch hub cache at an empty folder so no test can find (or fetch) real weights by accident."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path_factory.mktemp('torch_home')))
    monkeypatch.delenv('BASICSR_WEIGHTS_DIR', raising=False)
