import torch

import basicsr.losses as losses_package
from basicsr.losses import basic_loss, build_loss, gan_loss, losses


def test_build_loss_creates_registered_loss_from_options_without_changing_them():
    opt = {'type': 'WeightedWvtLoss', 'loss_weight': 0.5, 'reduction': 'mean', 'weights': [1, 0.1, 0.01]}
    loss = build_loss(opt)
    assert isinstance(loss, basic_loss.WeightedWvtLoss)
    assert loss.loss_weight == 0.5 and loss.weights == [1, 0.1, 0.01]
    assert opt['type'] == 'WeightedWvtLoss'


def test_build_loss_builds_gan_loss_from_pdd_options():
    loss = build_loss(
        {'type': 'GANLoss', 'gan_type': 'vanilla', 'real_label_val': 1.0, 'fake_label_val': 0.0, 'loss_weight': 1e-2}
    )
    assert isinstance(loss, gan_loss.GANLoss)
    assert torch.allclose(loss(torch.zeros(1), True), torch.tensor(0.01 * 0.6931472))


def test_old_losses_module_exports_the_same_classes():
    assert losses.L1Loss is basic_loss.L1Loss
    assert losses.PerceptualLoss is basic_loss.PerceptualLoss
    assert losses.WeightedWvtLoss is basic_loss.WeightedWvtLoss
    assert losses.GANLoss is gan_loss.GANLoss
    assert losses.r1_penalty is gan_loss.r1_penalty


def test_package_exposes_gan_regularisers_like_basicsr():
    for name in ('build_loss', 'g_path_regularize', 'gradient_penalty_loss', 'r1_penalty'):
        assert name in losses_package.__all__ and callable(getattr(losses_package, name))
