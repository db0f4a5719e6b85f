import sys
import types

import numpy as np
import pytest
import torch

from basicsr.metrics import pyiqa_metric
from basicsr.metrics.pyiqa_metric import calculate_pyiqa, pyiqa_better


class RecordingMetric(torch.nn.Module):
    """Stands in for a pyiqa metric: remembers its inputs and returns their mean."""

    def __init__(self):
        super().__init__()
        self.inputs = []

    def forward(self, *images):
        self.inputs.append(images)
        return torch.stack([img.mean() for img in images]).mean().view(1)


@pytest.fixture
def fake_pyiqa(monkeypatch):
    created = []

    def create_metric(name, device=None):
        created.append((name, device))
        return RecordingMetric()

    monkeypatch.setitem(sys.modules, 'pyiqa', types.SimpleNamespace(create_metric=create_metric))
    monkeypatch.setattr(pyiqa_metric, '_PYIQA_CACHE', {})
    return created


def test_missing_pyiqa_gives_install_instructions(monkeypatch):
    monkeypatch.setitem(sys.modules, 'pyiqa', None)
    with pytest.raises(ImportError, match='pip install pyiqa'):
        calculate_pyiqa(np.zeros((8, 8, 3), dtype=np.uint8))


def test_pyiqa_receives_cropped_rgb_tensors_in_unit_range(fake_pyiqa):
    img = np.zeros((10, 12, 3), dtype=np.uint8)
    img[..., 0] = 255  # blue in BGR
    calculate_pyiqa(img, metric='niqe', crop_border=1, device='cpu', better='lower')
    scorer = pyiqa_metric._PYIQA_CACHE[('niqe', 'cpu')]
    (tensor,) = scorer.inputs[0]
    assert tensor.shape == (1, 3, 8, 10)
    assert torch.equal(tensor[0, 2], torch.ones(8, 10)) and tensor[0, :2].abs().max() == 0


def test_pyiqa_full_reference_metric_gets_both_images_and_is_cached(fake_pyiqa):
    img, ref = np.full((8, 8, 3), 51, np.uint8), np.full((8, 8, 3), 102, np.uint8)
    score = calculate_pyiqa(img, ref, metric='lpips', device='cpu')
    calculate_pyiqa(img, ref, metric='lpips', device='cpu')
    assert score == pytest.approx((0.2 + 0.4) / 2)
    assert fake_pyiqa == [('lpips', torch.device('cpu'))]


@pytest.mark.parametrize(
    'metric, direction',
    [
        ('niqe', 'lower'),
        ('lpips-vgg', 'lower'),
        ('brisque_matlab', 'lower'),
        ('musiq', 'higher'),
        ('nrqm', 'higher'),
        ('psnr', 'higher'),
    ],
)
def test_pyiqa_direction_follows_the_metric_family(metric, direction):
    assert pyiqa_better(metric=metric) == direction
