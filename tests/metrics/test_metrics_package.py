import numpy as np
import pytest

from basicsr.metrics import calculate_metric, metric_better
from basicsr.metrics.psnr_ssim import calculate_psnr
from basicsr.utils.registry import METRIC_REGISTRY


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
    return img, np.clip(img.astype(int) + rng.integers(-10, 11, img.shape), 0, 255).astype(np.uint8)


def test_calculate_metric_calls_registered_function_with_options(pair):
    opt = {'type': 'calculate_psnr', 'crop_border': 4, 'test_y_channel': True}
    result = calculate_metric({'img': pair[0], 'img2': pair[1]}, opt)
    assert result == calculate_psnr(pair[0], pair[1], crop_border=4, test_y_channel=True)
    assert opt['type'] == 'calculate_psnr'


def test_calculate_metric_accepts_pdd_lpips_options_with_better(pair):
    opt = {
        'type': 'calculate_lpips',
        'crop_border': 4,
        'test_y_channel': False,
        'better': 'lower',
        'pretrained_backbone': False,
        'device': 'cpu',
    }
    assert calculate_metric({'img': pair[0], 'img2': pair[1]}, opt) > 0


@pytest.mark.parametrize(
    'metric_type, direction',
    [
        ('calculate_psnr', 'higher'),
        ('calculate_ssim', 'higher'),
        ('calculate_psnr_pt', 'higher'),
        ('calculate_ssim_pt', 'higher'),
        ('calculate_niqe', 'lower'),
        ('calculate_lpips', 'lower'),
        ('calculate_haarpsi', 'higher'),
    ],
)
def test_metric_better_uses_the_declared_direction(metric_type, direction):
    assert metric_better({'type': metric_type, 'crop_border': 4}) == direction


def test_metric_better_prefers_the_option_and_validates_it():
    assert metric_better({'type': 'calculate_psnr', 'better': 'lower'}) == 'lower'
    assert metric_better({'type': 'calculate_pyiqa', 'metric': 'niqe'}) == 'lower'
    assert metric_better({'type': 'calculate_pyiqa', 'metric': 'musiq'}) == 'higher'
    with pytest.raises(ValueError, match='better'):
        metric_better({'type': 'calculate_psnr', 'better': 'up'})


def test_every_builtin_metric_declares_its_direction():
    for name in (
        'calculate_psnr',
        'calculate_ssim',
        'calculate_psnr_pt',
        'calculate_ssim_pt',
        'calculate_niqe',
        'calculate_lpips',
        'calculate_pyiqa',
        'calculate_haarpsi',
    ):
        assert hasattr(METRIC_REGISTRY.get(name), 'better')
