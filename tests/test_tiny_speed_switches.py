"""The tiny CPU option files of the generalist (Real-ESRGAN) and of ESRGAN train with the speed switches every model
now has: bf16 autocast, two micro-batches per optimiser step and gradient clipping, from the command line."""

import os
import subprocess
import sys

import cv2
import pytest
import torch

from tests.conftest import write_images

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SWITCHES = [
    'train:perf:amp=bf16',
    'train:accum_iter=2',
    'train:grad_clip=1.0',
    'train:total_iter=2',
    'logger:print_freq=1',
    'logger:save_checkpoint_freq=2',
    'logger:use_tb_logger=false',
    'val:val_freq=2',
]


def write_hr_and_lr(root, count: int = 4, size: int = 96) -> tuple[str, str]:
    names = write_images(root / 'hr', count, size)
    (root / 'lr').mkdir()
    for name in names:
        img = cv2.imread(str(root / 'hr' / name))
        cv2.imwrite(str(root / 'lr' / name), cv2.resize(img, (size // 4, size // 4), interpolation=cv2.INTER_CUBIC))
    return str(root / 'hr'), str(root / 'lr')


@pytest.mark.parametrize(
    'option_file, extra',
    [
        ('options/tiny/esrgan_cpu.yml', ['datasets:train:batch_size_per_gpu=2']),
        (
            'options/tiny/realesrgan_cpu.yml',
            [
                'path:pretrain_network_g=~',
                'datasets:train:crop_pad_size=96',
                'datasets:train:batch_size_per_gpu=2',
                'queue_size=8',
            ],
        ),
    ],
)
def test_tiny_option_file_trains_with_bf16_accumulation_and_clipping(tmp_path, option_file, extra):
    hr, lr = write_hr_and_lr(tmp_path)
    paths = [f'datasets:{phase}:dataroot_gt={hr}' for phase in ('train', 'val')]
    paths += [f'datasets:{phase}:dataroot_lq={lr}' for phase in ('train', 'val')]
    if 'realesrgan' in option_file:
        paths.remove(f'datasets:train:dataroot_lq={lr}')
    cmd = [
        sys.executable,
        os.path.join(REPO, 'basicsr', 'train.py'),
        '-opt',
        os.path.join(REPO, option_file),
        '--force_yml',
        *SWITCHES,
        *extra,
        *paths,
        f'path:experiments_root={tmp_path / "exp"}',
    ]
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    log = ''.join(p.read_text() for p in (tmp_path / 'exp').glob('train_*.log'))
    assert 'amp=bf16' in log and 'accum_iter=2' in log and "grad_clip={'net_g': 1.0, 'net_d': 1.0}" in log
    assert 'Gradient accumulation: 2 micro-batches per optimiser step' in log
    assert 'grad_norm_net_g' in log and 'grad_norm_net_d' in log
    weights = torch.load(tmp_path / 'exp' / 'models' / 'net_g_2.pth', weights_only=True)['params']
    assert all(torch.isfinite(value).all() for value in weights.values())
