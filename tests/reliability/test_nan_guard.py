"""A non-finite loss skips the step (logged with iteration and loss name); K in a row stop the run with a checkpoint."""

import math

import pytest
import torch
import yaml
from torch import nn

from basicsr.models.nan_guard import NanGuard, NonFiniteLossError
from basicsr.train import train_pipeline
from basicsr.utils.registry import LOSS_REGISTRY
from tests.conftest import tiny_sr_options


class NaNFromCallLoss(nn.Module):
    """L1 loss that turns NaN from its `start`-th call on (calls counted per class)."""

    calls = 0

    def __init__(self, start: int = 3, stop: int = 10**9) -> None:
        super().__init__()
        self.start, self.stop = start, stop

    def forward(self, x, y):
        type(self).calls += 1
        loss = (x - y).abs().mean()
        return loss * math.nan if self.start <= type(self).calls < self.stop else loss


if 'NaNFromCallLoss' not in LOSS_REGISTRY:
    LOSS_REGISTRY.register(NaNFromCallLoss)


def run(tmp_path, paired_folders, start: int, stop: int, total_iter: int, max_consecutive: int):
    NaNFromCallLoss.calls = 0
    opt = tiny_sr_options(*paired_folders, total_iter=total_iter)
    opt['train']['pixel_opt'] = {'type': 'NaNFromCallLoss', 'start': start, 'stop': stop}
    opt['train']['nan_guard'] = {'max_consecutive': max_consecutive}
    opt['train']['ema_decay'] = 0
    opt['val'] = None
    opt['logger']['save_checkpoint_freq'] = 1000
    path = tmp_path / 'nan.yml'
    path.write_text(yaml.safe_dump(opt))
    return train_pipeline(str(tmp_path), ['-opt', str(path)])


def test_isolated_nan_steps_are_skipped_and_training_goes_on(paired_folders, tmp_path):
    model = run(tmp_path, paired_folders, start=3, stop=5, total_iter=6, max_consecutive=3)
    log = ''.join(p.read_text() for p in (tmp_path / 'experiments' / 'tiny_sr').glob('train_*.log'))
    assert 'iter 3: non-finite G loss (from l_pix); the G step is skipped.' in log
    assert 'iter 4: non-finite G loss' in log and 'iter 5: non-finite' not in log
    assert all(torch.isfinite(p).all() for p in model.net_g.parameters())


def test_consecutive_nan_steps_stop_with_a_checkpoint(paired_folders, tmp_path):
    with pytest.raises(NonFiniteLossError, match='3 consecutive iterations up to iter 5'):
        run(tmp_path, paired_folders, start=3, stop=10**9, total_iter=20, max_consecutive=3)
    ckpt = torch.load(tmp_path / 'experiments' / 'tiny_sr' / 'models' / 'net_g_5.pth', weights_only=True)
    assert all(torch.isfinite(v).all() for v in ckpt['params'].values())
    assert (tmp_path / 'experiments' / 'tiny_sr' / 'training_states' / '5.state').is_file()


def test_non_finite_gradient_is_detected():
    guard = NanGuard(max_consecutive=1)
    param = nn.Parameter(torch.ones(2))
    param.grad = torch.tensor([1.0, math.inf])
    assert not guard.grads_ok([param], current_iter=7, label='D')
    with pytest.raises(NonFiniteLossError):
        guard.end_iteration(7)


def test_guard_can_be_disabled():
    guard = NanGuard(enabled=False)
    assert guard.loss_ok(torch.tensor(math.nan), {}, 1, 'G')
    guard.end_iteration(1)
