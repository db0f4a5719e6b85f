"""Specification of the naive feature distillation baseline ('ND' in the PDD paper's ablation)."""

import pytest
import torch

from basicsr.losses.naive_distillation_loss import NaiveDistillationLoss
from basicsr.utils.registry import LOSS_REGISTRY

LAYER_WEIGHTS = {'conv1_2': 0.1, 'conv2_2': 1.0, 'conv3_1': 0.5}


def make_loss(**options) -> NaiveDistillationLoss:
    kwargs = {'layer_weights': LAYER_WEIGHTS, 'pretrained': False}
    kwargs.update(options)
    return NaiveDistillationLoss(**kwargs)


def make_pair(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    specialist = torch.rand(2, 3, 32, 32, generator=generator)
    generalist = (specialist + 0.1 * torch.randn(specialist.shape, generator=generator)).clamp(0, 1)
    return specialist, generalist


def test_naive_distillation_loss_is_registered_under_its_plain_name():
    assert LOSS_REGISTRY.get('NaiveDistillationLoss') is NaiveDistillationLoss


def test_naive_distillation_loss_is_zero_when_models_agree():
    specialist, _ = make_pair()
    assert make_loss()(specialist, specialist.clone()).item() == pytest.approx(0, abs=1e-7)


def test_naive_distillation_loss_is_weighted_mean_absolute_feature_difference():
    loss = make_loss(loss_weight=0.3)
    specialist, generalist = make_pair(seed=1)
    with torch.no_grad():
        f_specialist, f_generalist = loss.vgg(specialist), loss.vgg(generalist)
    expected = 0.3 * sum(
        weight * torch.abs(f_specialist[k].double() - f_generalist[k].double()).mean()
        for k, weight in LAYER_WEIGHTS.items()
    )
    value = loss(specialist, generalist)
    assert value > 0
    torch.testing.assert_close(value.double(), expected, rtol=1e-4, atol=1e-8)
    torch.testing.assert_close(loss.forward_features(f_specialist, f_generalist), value, rtol=1e-5, atol=1e-8)


def test_gradient_reaches_specialist_output_but_not_generalist_output():
    specialist, generalist = (image.requires_grad_() for image in make_pair())
    make_loss()(specialist, generalist).backward()
    assert specialist.grad.abs().sum() > 0
    assert generalist.grad is None


def test_empty_layer_weights_are_rejected():
    with pytest.raises(ValueError, match='layer_weights'):
        make_loss(layer_weights={})
