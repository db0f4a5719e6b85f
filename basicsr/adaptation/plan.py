"""The option file `basicsr-adapt` writes: the paper's PDD settings (options/pdd_ema.yml, options/pdd_static.yml)
with the user's networks and folders, scaled down by `--quick` to run on a CPU in minutes.

The paper's loss settings are copied from options/pdd_ema.yml (a test keeps them equal); sizes, iterations and the
discriminator width are what `--quick` changes.
"""

import math
from dataclasses import dataclass, replace
from typing import Optional

from basicsr.utils.errors import UserError

PAPER_LOSSES = {
    'pixel_opt': {'type': 'WeightedWvtLoss', 'loss_weight': 0.5, 'reduction': 'mean', 'weights': [1, 0.1, 0.01]},
    'perceptual_opt': {
        'type': 'PerceptualLoss',
        'vgg_type': 'vgg19',
        'use_input_norm': True,
        'range_norm': False,
        'layer_weights': {'conv1_2': 0.1, 'conv2_2': 0.1, 'conv3_4': 1, 'conv4_4': 1, 'conv5_4': 1},
        'perceptual_weight': 1.0,
        'style_weight': 0,
        'criterion': 'l1',
    },
    'domain_opt': {
        'type': 'DistillationLoss',
        'model_type': 'vgg19',
        'use_input_norm': True,
        'range_norm': False,
        'layer_weights_inter': {'conv2_1': 0.25, 'conv3_1': 0.25, 'conv4_1': 0.25, 'conv5_1': 0.25},
        'layer_weights_intra': {'conv2_2': 0.1, 'conv3_4': 0.3, 'conv4_4': 1, 'conv5_4': 1},
        'rinter_weight': 1.0,
        'rintra_weight': 1.0,
        'delta_inter_type': 'gram_change',
        'cri_inter': 'fro',
        'delta_intra_type': 'l1',
        'cri_intra': 'ce',
    },
    'gan_opt': {
        'type': 'GANLoss',
        'gan_type': 'vanilla',
        'real_label_val': 1.0,
        'fake_label_val': 0.0,
        'loss_weight': 0.01,
    },
}
SYNTHETIC_RESIZE = {'resize_opt': ['bicubic', 'bilinear', 'area'], 'resize_prob': ['1/3', '1/3', '1/3']}


class StepsError(UserError, ValueError):
    """A training length that cannot run."""


@dataclass(frozen=True)
class AdaptSize:
    """Sizes and counts of one adaptation run; PAPER is options/pdd_ema.yml, QUICK a CPU run of minutes."""

    steps: int
    batch: int  # per stream (synthetic + real)
    gt_crop: int  # HR crop of the synthetic stream; the real LR crop is gt_crop / scale
    d_feat: int
    d_init_iters: int
    milestones: tuple[int, ...]
    print_freq: int
    save_freq: int
    workers: int
    tile: int  # side of the training tiles cut from the photos (LR px)
    max_tiles: int  # per photo
    holdout_side: int  # held-out photos are centre-cropped to this many LR px for the report


PAPER = AdaptSize(
    steps=100_000,
    batch=8,
    gt_crop=192,
    d_feat=64,
    d_init_iters=300,
    milestones=(25_000, 100_000, 200_000, 300_000),
    print_freq=100,
    save_freq=5000,
    workers=4,
    tile=128,
    max_tiles=64,
    holdout_side=512,
)
QUICK = AdaptSize(
    steps=100,
    batch=4,
    gt_crop=64,
    d_feat=16,
    d_init_iters=10,
    milestones=(100_000,),
    print_freq=10,
    save_freq=50,
    workers=0,
    tile=64,
    max_tiles=16,
    holdout_side=128,
)


def adapt_size(quick: bool, steps: Optional[int]) -> AdaptSize:
    """PAPER or QUICK; `steps` replaces the length; the discriminator-only warm-up stays under a tenth of it and the
    log keeps about ten loss lines."""
    size = QUICK if quick else PAPER
    if steps is None:
        return size
    if steps < 1:
        raise StepsError(
            f'--steps {steps}: give a positive number of training steps (paper: 100000; --quick: {QUICK.steps}).'
        )
    return replace(
        size,
        steps=steps,
        d_init_iters=min(size.d_init_iters, steps // 10),
        save_freq=min(size.save_freq, steps),
        print_freq=max(1, min(size.print_freq, steps // 10)),
    )


def enlarge_ratio(images: int) -> int:
    """Repeat a small image set in each epoch so that an epoch holds at least a couple of hundred samples."""
    return max(1, math.ceil(200 / max(images, 1)))


def synthetic_stream(source: str, images: int, size: AdaptSize, scale: int) -> dict:
    """`datasets.train_s`: HR crops of `source`, LR made on the fly by bicubic / bilinear / area (1/3 each)."""
    lr = size.gt_crop // scale
    return {
        'name': 'source',
        'type': 'BlindPairedImageDataset',
        'dataroot_gt': source,
        'dataroot_lq': source,
        'filename_tmpl': '{}',
        'io_backend': {'type': 'disk'},
        'pipeline': [
            {'type': 'FixedCrop', 'keys': ['gt'], 'crop_size': [size.gt_crop, size.gt_crop]},
            {'type': 'Flip', 'keys': ['gt'], 'flip_ratio': 0.5, 'direction': 'horizontal'},
            {'type': 'Flip', 'keys': ['gt'], 'flip_ratio': 0.5, 'direction': 'vertical'},
            {'type': 'RandomTransposeHW', 'keys': ['gt'], 'transpose_ratio': 0.5},
            {'type': 'CopyValues', 'src_keys': ['gt'], 'dst_keys': ['lq']},
            {'type': 'RandomResize', 'keys': ['lq'], 'params': {'target_size': [lr, lr], **SYNTHETIC_RESIZE}},
            {'type': 'Quantize', 'keys': ['lq']},
            {'type': 'Collect', 'keys': ['lq', 'gt']},
        ],
        'use_shuffle': True,
        'num_worker_per_gpu': size.workers,
        'batch_size_per_gpu': size.batch,
        'dataset_enlarge_ratio': enlarge_ratio(images),
        'prefetch_mode': None,
    }


def real_stream(target_dir: str, tiles: int, size: AdaptSize, scale: int) -> dict:
    """`datasets.train_t`: LR crops of the photo tiles with flips and rotations; the small set is enlarged."""
    return {
        'name': 'photos',
        'type': 'SingleImageDataset',
        'dataroot_lq': target_dir,
        'filename_tmpl': '{}',
        'io_backend': {'type': 'disk'},
        'lq_size': size.gt_crop // scale,
        'use_hflip': True,
        'use_rot': True,
        'use_shuffle': True,
        'num_worker_per_gpu': size.workers,
        'batch_size_per_gpu': size.batch,
        'dataset_enlarge_ratio': enlarge_ratio(tiles),
        'prefetch_mode': None,
    }


def training_section(size: AdaptSize, ema: bool, vgg_path: str) -> dict:
    """`train`: the paper's optimisers, losses and schedule logic (EMA: warm-up 5, both outputs distilled)."""
    losses = {key: dict(block) for key, block in PAPER_LOSSES.items()}
    for key in ('perceptual_opt', 'domain_opt'):
        losses[key].update(pretrained=True, vgg_weights_path=vgg_path)
    adam = {'type': 'Adam', 'lr': 1e-4, 'weight_decay': 0, 'betas': [0.9, 0.99]}
    return {
        'use_net_g_ema': ema,
        'ema_decay': 0.999,
        'optim_g': dict(adam),
        'optim_d': dict(adam),
        'scheduler': {'type': 'MultiStepLR', 'milestones': list(size.milestones), 'gamma': 0.5},
        'total_iter': size.steps,
        'warmup_iter': -1,
        **losses,
        'net_d_iters': 1,
        'net_d_init_iters': size.d_init_iters,
        'domain_opt_warmup_iters': 5 if ema else 0,
        'domain_opt_detach': not ema,
        'domain_opt_wogan': False,
    }


def adapt_options(
    name: str,
    run_dir: str,
    generalist: dict,
    specialist: Optional[dict],
    streams: dict,
    size: AdaptSize,
    scale: int,
    vgg_path: str,
    num_gpu: int,
) -> dict:
    """The complete SRGANRefModel option dict. `generalist` / `specialist` are {'network', 'path'} (+ 'param_key');
    EMA mode (no specialist): net_g and its EMA both start from the generalist."""
    ema = specialist is None
    start = generalist if ema else specialist
    opt = {
        'name': name,
        'model_type': 'SRGANRefModel',
        'scale': scale,
        'num_gpu': num_gpu,
        'manual_seed': 0,
        'datasets': streams,
        'network_g': dict(start['network']),
        'network_d': {'type': 'UNetDiscriminatorSN', 'num_in_ch': 3, 'num_feat': size.d_feat, 'skip_connection': True},
        'path': {
            'experiments_root': run_dir,
            'pretrain_network_g': start['path'],
            'param_key_g': 'params_ema',
            'strict_load_g': True,
            'resume_state': None,
        },
        'train': training_section(size, ema, vgg_path),
        'logger': {
            'print_freq': size.print_freq,
            'save_checkpoint_freq': size.save_freq,
            'use_tb_logger': False,
            'keep_last': 2,
        },
        'dist_params': {'backend': 'nccl' if num_gpu else 'gloo', 'port': 29500},
        'find_unused_parameters': True,
    }
    if not ema:
        opt['network_g_fix'] = dict(generalist['network'])
        if 'path' not in generalist['network']:  # a SpandrelNet block reads its own file
            opt['path'].update(
                pretrain_network_g_fix=generalist['path'], param_key_g_fix='params_ema', strict_load_g_fix=True
            )
    return opt
