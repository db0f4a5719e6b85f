"""keep_last retention, the `latest` pointer, atomic writes and the up-front (preflight) checks."""

import os

import pytest
import torch
import yaml

from basicsr.train import train_pipeline
from basicsr.utils.checkpoint_util import atomic_torch_save
from basicsr.utils.preflight import PreflightError
from tests.conftest import tiny_sr_options


def train(tmp_path, opt):
    path = tmp_path / 'opt.yml'
    path.write_text(yaml.safe_dump(opt))
    return train_pipeline(str(tmp_path), ['-opt', str(path)])


def test_keep_last_keeps_the_newest_states_and_their_networks(paired_folders, tmp_path):
    opt = tiny_sr_options(*paired_folders, total_iter=5)
    opt['logger'].update(save_checkpoint_freq=1, keep_last=2)
    opt['val'] = None
    train(tmp_path, opt)
    exp = tmp_path / 'experiments' / 'tiny_sr'
    assert sorted(os.listdir(exp / 'training_states')) == ['4.state', '5.state', 'latest']
    assert sorted(os.listdir(exp / 'models')) == ['net_g_4.pth', 'net_g_5.pth', 'net_g_latest.pth']
    assert (exp / 'training_states' / 'latest').read_text().strip() == '5'


def test_atomic_save_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / 'ckpt.pth'
    atomic_torch_save({'params': {'w': torch.ones(1)}}, str(path))

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError('disk full')

    with pytest.raises(RuntimeError, match='disk full'):
        atomic_torch_save({'params': Unpicklable()}, str(path))
    assert torch.equal(torch.load(path, weights_only=True)['params']['w'], torch.ones(1))
    assert os.listdir(tmp_path) == ['ckpt.pth']


def test_too_little_disk_space_fails_before_the_first_iteration(paired_folders, tmp_path, monkeypatch):
    import shutil

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr('basicsr.utils.preflight.shutil.disk_usage', lambda _: usage._replace(free=10))
    with pytest.raises(PreflightError, match='free under'):
        train(tmp_path, tiny_sr_options(*paired_folders))
    assert not (tmp_path / 'experiments' / 'tiny_sr').exists()  # nothing is created before the checks pass
