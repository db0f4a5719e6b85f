"""N iterations in one run equal N/2 + `--auto_resume` to N, bit for bit, in deterministic CPU mode."""

import copy
import os

import torch
import yaml

from basicsr.train import train_pipeline
from tests.conftest import tiny_sr_options


def train(tmp_path, opt: dict, *extra: str):
    path = tmp_path / f'{opt["name"]}_{len(extra)}.yml'
    path.write_text(yaml.safe_dump(opt))
    return train_pipeline(str(tmp_path), ['-opt', str(path), *extra])


def final_weights(tmp_path, name: str) -> dict:
    return torch.load(os.path.join(tmp_path, 'experiments', name, 'models', 'net_g_latest.pth'), weights_only=True)


def assert_same(a: dict, b: dict) -> None:
    for key in ('params', 'params_ema'):
        for name in a[key]:
            assert torch.equal(a[key][name], b[key][name]), f'{key}.{name}'


def test_sr_model_resume_is_bit_exact(paired_folders, tmp_path):
    opt = tiny_sr_options(*paired_folders, total_iter=8)
    opt['datasets']['train']['batch_size_per_gpu'] = 2  # 6 images -> 3 iterations per epoch: resume mid-epoch
    opt['logger']['save_checkpoint_freq'] = 5
    full = copy.deepcopy(opt)
    full['name'] = 'full'
    train(tmp_path, full)
    half = copy.deepcopy(opt)
    half['name'] = 'halves'
    half['train']['total_iter'] = 5
    train(tmp_path, half)
    half['train']['total_iter'] = 8
    train(tmp_path, half, '--auto_resume')
    assert_same(final_weights(tmp_path, 'full'), final_weights(tmp_path, 'halves'))
