"""Linear warm-up hands over to the scheduler's own values (BasicSR 1.4 kept the last warm-up lr until a milestone)."""

import warnings

import pytest
import torch

from basicsr.models.base_model import BaseModel
from basicsr.models.optim_factory import build_scheduler


@pytest.mark.filterwarnings('ignore::UserWarning')
def test_multistep_lr_returns_to_the_base_lr_after_warm_up_and_halves_at_the_milestone():
    model = BaseModel({'train': {}, 'num_gpu': 0})
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    model.optimizers = [optimizer]
    model.schedulers = [build_scheduler(optimizer, {'type': 'MultiStepLR', 'milestones': [6], 'gamma': 0.5})]
    lrs = []
    for current_iter in range(1, 9):
        model.update_learning_rate(current_iter, warmup_iter=4)
        lrs.append(model.get_current_learning_rate()[0])
    assert lrs == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0, 0.5, 0.5]


def test_schedule_advances_silently_while_an_optimiser_waits_for_its_first_step():
    """G idles during a D-only warm-up; its schedule still advances (BasicSR order) without PyTorch's order warning."""
    model = BaseModel({'train': {}, 'num_gpu': 0})
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    model.optimizers = [optimizer]
    model.schedulers = [build_scheduler(optimizer, {'type': 'MultiStepLR', 'milestones': [2], 'gamma': 0.5})]
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        for current_iter in range(1, 4):
            model.update_learning_rate(current_iter)
    assert model.get_current_learning_rate() == [0.5]
