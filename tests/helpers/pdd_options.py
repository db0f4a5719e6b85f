"""Tiny PDD (SRGANRefModel) data, option dicts and generalist checkpoints for the PDD tests, all made in tmp_path."""

import copy
import os
from pathlib import Path
from typing import Optional

import cv2
import torch
import yaml

from basicsr.archs import build_network
from basicsr.models import build_model
from basicsr.utils.options import setup_options
from tests.conftest import write_images
from tests.models.test_srgan_model import assert_state_dicts_equal, one_torch_thread, params_changed, snapshot  # noqa: F401

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY_RRDB = {'type': 'RRDBNet', 'num_in_ch': 3, 'num_out_ch': 3, 'num_feat': 4, 'num_block': 1, 'num_grow_ch': 4}
SHALLOW_INTER = {'conv1_2': 0.5, 'conv2_1': 0.5}
SHALLOW_INTRA = {'conv1_2': 0.5, 'conv2_2': 1.0}
D_LOG_KEYS = {'l_d_real', 'out_d_real', 'l_d_fake', 'out_d_fake'}
G_LOG_KEYS = {'l_g_pix', 'l_g_percep', 'l_g_gan'}


def write_pdd_data(
    root: Path, hr_size: int = 32, scale: int = 4, hr_count: int = 2, target_count: int = 2, val_size: int = 64
) -> dict:
    """Folders for train_s (HR), train_t (unpaired LR) and a x`scale` validation pair; returns their paths.

    The validation image is larger than the crops: LPIPS's AlexNet needs about 56 px after the border crop.
    """
    write_images(root / 'hr', hr_count, hr_size, seed=1)
    write_images(root / 'target', target_count, hr_size // scale, seed=2)
    (root / 'val_lq').mkdir(parents=True, exist_ok=True)
    for name in write_images(root / 'val_gt', 1, val_size, seed=3):
        img = cv2.imread(str(root / 'val_gt' / name))
        lq = cv2.resize(img, (val_size // scale,) * 2, interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(root / 'val_lq' / name), lq)
    return {
        'hr': str(root / 'hr'),
        'target': str(root / 'target'),
        'val_gt': str(root / 'val_gt'),
        'val_lq': str(root / 'val_lq'),
    }


def synthetic_pipeline(crop: int, lr_size: int, flips: bool = True) -> list:
    """The paper's train_s pipeline (crop, flips, transpose, bicubic/bilinear/area resize at 1/3 each, 8-bit)."""
    ratio = 0.5 if flips else 0
    return [
        {'type': 'FixedCrop', 'keys': ['gt'], 'crop_size': [crop, crop]},
        {'type': 'Flip', 'keys': ['gt'], 'flip_ratio': ratio, 'direction': 'horizontal'},
        {'type': 'Flip', 'keys': ['gt'], 'flip_ratio': ratio, 'direction': 'vertical'},
        {'type': 'RandomTransposeHW', 'keys': ['gt'], 'transpose_ratio': ratio},
        {'type': 'CopyValues', 'src_keys': ['gt'], 'dst_keys': ['lq']},
        {
            'type': 'RandomResize',
            'keys': ['lq'],
            'params': {
                'target_size': [lr_size, lr_size],
                'resize_opt': ['bicubic', 'bilinear', 'area'],
                'resize_prob': ['1/3', '1/3', '1/3'],
            },
        },
        {'type': 'Quantize', 'keys': ['lq']},
        {'type': 'Collect', 'keys': ['lq', 'gt']},
    ]


def loader_options(batch: int) -> dict:
    return {
        'use_shuffle': True,
        'num_worker_per_gpu': 0,
        'batch_size_per_gpu': batch,
        'dataset_enlarge_ratio': 1,
        'prefetch_mode': None,
    }


def tiny_pdd_options(
    data: Optional[dict] = None,
    name: str = 'tiny_pdd',
    ema: bool = True,
    total_iter: int = 4,
    crop: int = 32,
    scale: int = 4,
    batch: int = 1,
) -> dict:
    """A complete SRGANRefModel option dict: tiny RRDBNet / U-Net D, shallow random-VGG losses, CPU."""
    data = data or {'hr': 'unused', 'target': 'unused', 'val_gt': 'unused', 'val_lq': 'unused'}
    opt = {
        'name': name,
        'model_type': 'SRGANRefModel',
        'scale': scale,
        'num_gpu': 0,
        'manual_seed': 0,
        'datasets': {
            'train_s': {
                'name': 'source',
                'type': 'BlindPairedImageDataset',
                'dataroot_gt': data['hr'],
                'dataroot_lq': data['hr'],
                'io_backend': {'type': 'disk'},
                'pipeline': synthetic_pipeline(crop, crop // scale),
                **loader_options(batch),
            },
            'train_t': {
                'name': 'target',
                'type': 'SingleImageDataset',
                'dataroot_lq': data['target'],
                'io_backend': {'type': 'disk'},
                'lq_size': crop // scale,
                'use_hflip': True,
                'use_rot': True,
                **loader_options(batch),
            },
            'val': {
                'name': 'val',
                'type': 'PairedImageDataset',
                'dataroot_gt': data['val_gt'],
                'dataroot_lq': data['val_lq'],
                'io_backend': {'type': 'disk'},
            },
        },
        'network_g': dict(TINY_RRDB),
        'network_d': {'type': 'UNetDiscriminatorSN', 'num_in_ch': 3, 'num_feat': 4, 'skip_connection': True},
        'path': {'pretrain_network_g': None, 'strict_load_g': True, 'resume_state': None},
        'train': {
            'use_net_g_ema': ema,
            'ema_decay': 0.9,
            'optim_g': {'type': 'Adam', 'lr': 1e-3, 'betas': [0.9, 0.99]},
            'optim_d': {'type': 'Adam', 'lr': 1e-3, 'betas': [0.9, 0.99]},
            'scheduler': {'type': 'MultiStepLR', 'milestones': [100], 'gamma': 0.5},
            'total_iter': total_iter,
            'warmup_iter': -1,
            'pixel_opt': {'type': 'WeightedWvtLoss', 'loss_weight': 0.5, 'weights': [1, 0.1, 0.01]},
            'perceptual_opt': {
                'type': 'PerceptualLoss',
                'layer_weights': {'conv1_2': 0.1, 'conv2_2': 1.0},
                'perceptual_weight': 1.0,
                'style_weight': 0,
                'pretrained': False,
            },
            'domain_opt': {
                'type': 'DistillationLoss',
                'layer_weights_inter': dict(SHALLOW_INTER),
                'layer_weights_intra': dict(SHALLOW_INTRA),
                'pretrained': False,
            },
            'gan_opt': {'type': 'GANLoss', 'gan_type': 'vanilla', 'loss_weight': 0.01},
            'net_d_iters': 1,
            'net_d_init_iters': 1,
            'domain_opt_warmup_iters': 1,
            'domain_opt_detach': not ema,
            'domain_opt_wogan': False,
        },
        'val': {
            'val_freq': total_iter,
            'save_img': False,
            'metrics': {'psnr': {'type': 'calculate_psnr', 'crop_border': 4, 'test_y_channel': False}},
        },
        'logger': {'print_freq': 1, 'save_checkpoint_freq': total_iter, 'use_tb_logger': False},
        'find_unused_parameters': True,
    }
    if not ema:
        opt['network_g_fix'] = dict(TINY_RRDB)
    return opt


def save_generalist(path: Path, seed: int = 7, keys: tuple[str, ...] = ('params',)) -> dict:
    """Save tiny randomly initialised RRDBNets as a BasicSR checkpoint, one (different) network per key; returns it."""
    saved = {}
    for offset, key in enumerate(keys):
        torch.manual_seed(seed + offset)
        saved[key] = build_network(copy.deepcopy(TINY_RRDB)).state_dict()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(saved, path)
    return saved


def build_pdd_model(opt: dict, root) -> object:
    """Fill derived options as the training pipeline does and build the model."""
    return build_model(setup_options(copy.deepcopy(opt), str(root), is_train=True))


def random_pdd_batch(batch: int = 1, hr_size: int = 32, scale: int = 4, seed: int = 0) -> dict:
    generator = torch.Generator().manual_seed(seed)
    gt = torch.rand(batch, 3, hr_size, hr_size, generator=generator)
    lq_t = torch.rand(batch, 3, hr_size // scale, hr_size // scale, generator=generator)
    return {'lq_s': torch.nn.functional.avg_pool2d(gt, scale), 'gt_s': gt, 'lq_t': lq_t}


def write_options(folder: Path, opt: dict) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f'{opt["name"]}.yml'
    path.write_text(yaml.safe_dump(opt))
    return str(path)
