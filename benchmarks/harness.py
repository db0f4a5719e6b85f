"""Presets, models, timing, memory and data-loading measurements of scripts/benchmark.py (the PDD step benchmark)."""

import os
import statistics
import time
from dataclasses import dataclass, field
from os import path as osp
from typing import Optional

import cv2
import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.flop_counter import FlopCounterMode

from basicsr.archs.vgg_arch import NAMES, TORCHVISION_WEIGHT_FILES, VGGFeatureExtractor
from basicsr.data import build_dataloader, build_dataset
from basicsr.data.data_sampler import EnlargedSampler
from basicsr.models import build_model
from basicsr.utils.options import setup_options
from basicsr.utils.weights_util import resolve_weight_file
from benchmarks.reference_step import REFERENCE_PERF, authors_optimize_parameters

PAPER_PERCEPTUAL = {'conv1_2': 0.1, 'conv2_2': 0.1, 'conv3_4': 1.0, 'conv4_4': 1.0, 'conv5_4': 1.0}
PAPER_INTER = {'conv2_1': 0.25, 'conv3_1': 0.25, 'conv4_1': 0.25, 'conv5_1': 0.25}
PAPER_INTRA = {'conv2_2': 0.1, 'conv3_4': 0.3, 'conv4_4': 1.0, 'conv5_4': 1.0}
FIRST_ITERATION = 100  # past every warm-up: G, D, distillation and EMA all active
SCALE = 4


@dataclass(frozen=True)
class Preset:
    """One benchmarked set-up: networks, batch (synthetic + real), LR crop size, VGG layers and run lengths."""

    device: str
    batch: tuple[int, int]
    lq_size: int
    rrdb: dict
    srvgg: dict
    d_feat: int
    steps: int
    warmup: int
    perceptual_layers: dict = field(default_factory=lambda: dict(PAPER_PERCEPTUAL))
    inter_layers: dict = field(default_factory=lambda: dict(PAPER_INTER))
    intra_layers: dict = field(default_factory=lambda: dict(PAPER_INTRA))

    def generator_opt(self, kind: str) -> dict:
        if kind == 'srvgg':
            return {'type': 'SRVGGNetCompact', 'num_in_ch': 3, 'num_out_ch': 3, 'upscale': SCALE, **self.srvgg}
        return {'type': 'RRDBNet', 'num_in_ch': 3, 'num_out_ch': 3, 'scale': SCALE, **self.rrdb}


PRESETS = {
    # The paper's configs: RRDBNet-23 specialist/generalist, U-Net D (64), batch 8 + 8 of 48 px LR, VGG19 layers.
    'paper': Preset(
        'cuda',
        (8, 8),
        48,
        rrdb={'num_feat': 64, 'num_block': 23, 'num_grow_ch': 32},
        srvgg={'num_feat': 64, 'num_conv': 32},
        d_feat=64,
        steps=30,
        warmup=5,
    ),
    # The same step sized for a CPU: small RRDBNet, U-Net D (32), batch 2 + 2 of 32 px LR, the real VGG19 layers.
    'cpu-small': Preset(
        'cpu',
        (2, 2),
        32,
        rrdb={'num_feat': 32, 'num_block': 2, 'num_grow_ch': 16},
        srvgg={'num_feat': 32, 'num_conv': 8},
        d_feat=32,
        steps=10,
        warmup=2,
    ),
    # Seconds-long smoke set-up for tests: tiny networks, shallow layers.
    'tiny': Preset(
        'cpu',
        (1, 1),
        8,
        rrdb={'num_feat': 4, 'num_block': 1, 'num_grow_ch': 4},
        srvgg={'num_feat': 4, 'num_conv': 1},
        d_feat=4,
        steps=1,
        warmup=0,
        perceptual_layers={'conv1_2': 0.1, 'conv2_2': 1.0},
        inter_layers={'conv1_2': 0.5, 'conv2_1': 0.5},
        intra_layers={'conv1_2': 0.5, 'conv2_2': 1.0},
    ),
}


def random_vgg_file(path: str, deepest: str = 'conv5_4', seed: int = 19) -> str:
    """Write seeded random VGG19 weights up to `deepest` in torchvision's key layout (`features.{i}.weight`)."""
    torch.manual_seed(seed)
    extractor = VGGFeatureExtractor([deepest], 'vgg19', use_input_norm=False, pretrained=False)
    index = {name: i for i, name in enumerate(NAMES['vgg19'])}
    state = {
        f'features.{index[key.split(".")[1]]}.{key.split(".")[2]}': value
        for key, value in extractor.state_dict().items()
    }
    torch.save(state, path)
    return path


def vgg_weight_file(root: str) -> tuple[Optional[str], str]:
    """The ImageNet VGG19 file if it is on this machine, else a seeded random file of the same layout in `root`.

    Both losses load the same file, as they would load ImageNet weights, so they can share VGG passes; the
    timing does not depend on the weight values.
    """
    try:
        resolve_weight_file(TORCHVISION_WEIGHT_FILES['vgg19'])
        return None, 'imagenet'
    except FileNotFoundError:
        path = random_vgg_file(osp.join(root, 'vgg19-random.pth'))
        return path, 'random (no ImageNet vgg19 file on this machine; same layers and widths, same timing)'


def pdd_options(preset: Preset, generator: str, device: torch.device, vgg_path: Optional[str], perf: dict) -> dict:
    """SRGANRefModel in the paper's EMA configuration, with `preset`'s sizes."""
    vgg = {'pretrained': True, **({'vgg_weights_path': vgg_path} if vgg_path else {})}
    adam = {'type': 'Adam', 'lr': 1e-4, 'weight_decay': 0, 'betas': [0.9, 0.99]}
    return {
        'name': 'pdd_benchmark',
        'model_type': 'SRGANRefModel',
        'scale': SCALE,
        'manual_seed': 0,
        'datasets': {},
        'num_gpu': 1 if device.type == 'cuda' else 0,
        'path': {},
        'network_g': preset.generator_opt(generator),
        'network_d': {
            'type': 'UNetDiscriminatorSN',
            'num_in_ch': 3,
            'num_feat': preset.d_feat,
            'skip_connection': True,
        },
        'train': {
            'use_net_g_ema': True,
            'ema_decay': 0.999,
            'optim_g': dict(adam),
            'optim_d': dict(adam),
            'pixel_opt': {'type': 'WeightedWvtLoss', 'loss_weight': 0.5, 'weights': [1, 0.1, 0.01]},
            'perceptual_opt': {
                'type': 'PerceptualLoss',
                'layer_weights': dict(preset.perceptual_layers),
                'vgg_type': 'vgg19',
                'perceptual_weight': 1.0,
                'style_weight': 0,
                'criterion': 'l1',
                **vgg,
            },
            'domain_opt': {
                'type': 'DistillationLoss',
                'layer_weights_inter': dict(preset.inter_layers),
                'layer_weights_intra': dict(preset.intra_layers),
                'model_type': 'vgg19',
                'delta_inter_type': 'gram_change',
                'cri_inter': 'fro',
                'delta_intra_type': 'l1',
                'cri_intra': 'ce',
                **vgg,
            },
            'gan_opt': {'type': 'GANLoss', 'gan_type': 'vanilla', 'loss_weight': 1e-2},
            'net_d_iters': 1,
            'net_d_init_iters': 0,
            'domain_opt_warmup_iters': 1,
            'domain_opt_detach': False,
            'domain_opt_wogan': False,
            'perf': perf,
        },
    }


class StepRunner:
    """One model in one mode, stepping on a fixed batch at iterations where every loss is active."""

    def __init__(self, mode: str, model, batch: dict) -> None:
        self.mode, self.model, self.batch = mode, model, batch
        self.iteration = FIRST_ITERATION

    def step(self) -> None:
        self.model.feed_data(self.batch)
        self.iteration += 1
        if self.mode == 'reference':
            authors_optimize_parameters(self.model, self.iteration)
        else:
            self.model.optimize_parameters(self.iteration)


def synthetic_batch(preset: Preset, device: torch.device) -> dict:
    """GT crops with their bicubic x4 LR and unrelated real-LR crops, seeded."""
    generator = torch.Generator().manual_seed(0)
    gt = torch.rand(preset.batch[0], 3, preset.lq_size * SCALE, preset.lq_size * SCALE, generator=generator)
    lq_s = F.interpolate(gt, scale_factor=1 / SCALE, mode='bicubic', antialias=True).clamp(0, 1)
    lq_t = torch.rand(preset.batch[1], 3, preset.lq_size, preset.lq_size, generator=generator)
    return {'lq_s': lq_s.to(device), 'gt_s': gt.to(device), 'lq_t': lq_t.to(device)}


def perturb_generalist(model) -> None:
    """Move net_g_ema slightly away from net_g (as after some training), so the distillation terms are not zero."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for param in model.net_g_ema.parameters():
            noise = torch.randn(param.shape, generator=generator).to(param)
            param.add_(noise * 0.1 * param.abs().mean())


def build_runner(
    config: dict, mode: str, vgg_path: Optional[str], root: str, copy_from: Optional[StepRunner] = None
) -> StepRunner:
    """A model for `mode` ('reference': the authors' step, every switch off; 'fast': ours), weights from `copy_from`."""
    perf = REFERENCE_PERF if mode == 'reference' else config['perf']
    opt = pdd_options(config['preset'], config['generator'], config['device'], vgg_path, perf)
    torch.manual_seed(0)
    model = build_model(setup_options(opt, root, is_train=True))
    if copy_from is None:
        perturb_generalist(model)
    else:
        for label in ('net_g', 'net_g_ema', 'net_d'):
            source = copy_from.model.get_bare_model(getattr(copy_from.model, label))
            model.get_bare_model(getattr(model, label)).load_state_dict(source.state_dict())
    return StepRunner(mode, model, synthetic_batch(config['preset'], config['device']))


def to_float64(runner: StepRunner) -> StepRunner:
    """The runner's networks, VGGs and batch in float64, where rounding cannot hide or fake a difference in the math."""
    model = runner.model
    for module in (model.net_g, model.generalist, model.net_d, model.cri_domain, model.cri_nd, model.cri_perceptual):
        if module is not None:
            module.double()
    runner.batch = {key: value.double() for key, value in runner.batch.items()}
    return runner


def synchronize(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_one_step(runner: StepRunner, device: torch.device) -> float:
    synchronize(device)
    start = time.perf_counter()
    runner.step()
    synchronize(device)
    return (time.perf_counter() - start) * 1000


def summary(samples: list[float]) -> dict:
    """Median, quartiles, extremes and the samples themselves, in ms."""
    quartiles = statistics.quantiles(samples, n=4) if len(samples) > 1 else samples * 3
    return dict(
        median_ms=statistics.median(samples),
        q1_ms=quartiles[0],
        q3_ms=quartiles[2],
        min_ms=min(samples),
        max_ms=max(samples),
        samples_ms=samples,
    )


def timed_steps(runners: dict[str, StepRunner], device: torch.device, steps: int, warmup: int) -> dict:
    """`warmup` untimed then `steps` timed steps per mode, the modes alternating (and swapping order) step by step."""
    for _ in range(warmup):
        for runner in runners.values():
            runner.step()
    samples: dict[str, list[float]] = {mode: [] for mode in runners}
    order = list(runners)
    for index in range(steps):
        for mode in order if index % 2 == 0 else order[::-1]:
            samples[mode].append(time_one_step(runners[mode], device))
    return {mode: summary(values) for mode, values in samples.items()}


def step_gflops(runners: dict[str, StepRunner]) -> dict[str, float]:
    """Floating-point operations of one step per mode (torch.utils.flop_counter: convolutions, matmuls), in GFLOP."""
    flops = {}
    for mode, runner in runners.items():
        with FlopCounterMode(display=False) as counter:
            runner.step()
        flops[mode] = counter.get_total_flops() / 1e9
    return flops


def _rss_mib(field_name: str) -> float:
    """VmRSS / VmHWM of this process from /proc, in MiB."""
    with open('/proc/self/status') as status:
        for line in status:
            if line.startswith(field_name + ':'):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f'/proc/self/status has no {field_name}; the CPU memory probe needs Linux.')


def memory_probe(runner: StepRunner, steps: int) -> dict:
    """Peak memory of `steps` steps: CUDA max allocated, or the process's peak RSS; `step_mib` is the rise over
    what was held before the first step (weights, optimiser state, batch)."""
    device = runner.model.device
    if device.type == 'cuda':
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device) / 2**20
        for _ in range(steps):
            runner.step()
        synchronize(device)
        peak = torch.cuda.max_memory_allocated(device) / 2**20
        return dict(kind='cuda max allocated', before_mib=before, peak_mib=peak, step_mib=peak - before)
    before = _rss_mib('VmRSS')
    for _ in range(steps):
        runner.step()
    peak = _rss_mib('VmHWM')
    return dict(kind='process peak RSS', before_mib=before, peak_mib=peak, step_mib=peak - before)


def write_loader_images(root: str, preset: Preset) -> tuple[str, str]:
    """16 HR images (DF2K sub-image size, 480 px) and 16 real-LR images (240 px), smooth random content."""
    rng = np.random.default_rng(0)
    folders = (osp.join(root, 'loader_hr'), osp.join(root, 'loader_lr'))
    for folder, size in zip(folders, (max(480, preset.lq_size * SCALE), max(240, preset.lq_size))):
        os.makedirs(folder, exist_ok=True)
        for index in range(16):
            small = rng.integers(0, 256, size=(size // 8, size // 8, 3), dtype=np.uint8)
            cv2.imwrite(osp.join(folder, f'{index:03d}.png'), cv2.resize(small, (size, size), cv2.INTER_CUBIC))
    return folders


def stream_options(preset: Preset, hr: str, lr: str, pin_memory: bool) -> dict:
    """train_s (the paper's synthetic pipeline) and train_t (real LR crops with flips/rotations) dataset blocks."""
    crop = preset.lq_size * SCALE
    pipeline = [
        {'type': 'FixedCrop', 'keys': ['gt'], 'crop_size': [crop, crop]},
        {'type': 'Flip', 'keys': ['gt'], 'flip_ratio': 0.5, 'direction': 'horizontal'},
        {'type': 'Flip', 'keys': ['gt'], 'flip_ratio': 0.5, 'direction': 'vertical'},
        {'type': 'RandomTransposeHW', 'keys': ['gt'], 'transpose_ratio': 0.5},
        {'type': 'CopyValues', 'src_keys': ['gt'], 'dst_keys': ['lq']},
        {
            'type': 'RandomResize',
            'keys': ['lq'],
            'params': {
                'target_size': [preset.lq_size, preset.lq_size],
                'resize_opt': ['bicubic', 'bilinear', 'area'],
                'resize_prob': ['1/3', '1/3', '1/3'],
            },
        },
        {'type': 'Quantize', 'keys': ['lq']},
        {'type': 'Collect', 'keys': ['lq', 'gt']},
    ]
    common = {'phase': 'train', 'io_backend': {'type': 'disk'}, 'use_shuffle': True, 'pin_memory': pin_memory}
    return {
        'train_s': {
            'name': 'source',
            'type': 'BlindPairedImageDataset',
            'dataroot_gt': hr,
            'dataroot_lq': hr,
            'pipeline': pipeline,
            'batch_size_per_gpu': preset.batch[0],
            **common,
        },
        'train_t': {
            'name': 'target',
            'type': 'SingleImageDataset',
            'dataroot_lq': lr,
            'lq_size': preset.lq_size,
            'use_hflip': True,
            'use_rot': True,
            'batch_size_per_gpu': preset.batch[1],
            **common,
        },
    }


def loader_throughput(preset: Preset, workers: list[int], root: str, device: torch.device, batches: int = 20) -> dict:
    """Samples/s of each training stream's loader for each worker count (after 2 warm-up batches)."""
    hr, lr = write_loader_images(root, preset)
    results: dict = {}
    for key, dataset_opt in stream_options(preset, hr, lr, pin_memory=device.type == 'cuda').items():
        dataset = build_dataset(dataset_opt)
        results[key] = {}
        for count in workers:
            sampler = EnlargedSampler(dataset, 1, 0, ratio=1000)
            loader = build_dataloader(
                dataset, {**dataset_opt, 'num_worker_per_gpu': count}, num_gpu=0, sampler=sampler, seed=0
            )
            iterator = iter(loader)
            for _ in range(2):
                next(iterator)
            start = time.perf_counter()
            for _ in range(batches):
                next(iterator)
            results[key][str(count)] = batches * dataset_opt['batch_size_per_gpu'] / (time.perf_counter() - start)
            del iterator
    return results
