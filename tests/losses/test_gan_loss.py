import pytest
import torch
from torch import nn
from torch.nn import functional as F

from basicsr.losses.gan_loss import GANLoss, MultiScaleGANLoss, gradient_penalty_loss, r1_penalty

LOGITS = torch.tensor([[-1.5, 0.0], [0.5, 2.0]])


def test_vanilla_gan_targets_are_label_values():
    gan = GANLoss('vanilla', real_label_val=0.9, fake_label_val=0.1)
    assert torch.equal(gan.get_target_label(LOGITS, True), torch.full_like(LOGITS, 0.9))
    assert torch.equal(gan.get_target_label(LOGITS, False), torch.full_like(LOGITS, 0.1))


def test_vanilla_gan_is_binary_cross_entropy_on_logits():
    gan = GANLoss('vanilla')
    expected_real = -torch.log(torch.sigmoid(LOGITS)).mean()
    expected_fake = -torch.log(1 - torch.sigmoid(LOGITS)).mean()
    assert torch.allclose(gan(LOGITS, True, is_disc=True), expected_real)
    assert torch.allclose(gan(LOGITS, False, is_disc=True), expected_fake)


def test_lsgan_is_squared_distance_to_label():
    gan = GANLoss('lsgan')
    assert torch.allclose(gan(LOGITS, True, is_disc=True), ((LOGITS - 1) ** 2).mean())
    assert torch.allclose(gan(LOGITS, False, is_disc=True), (LOGITS**2).mean())


def test_wgan_variants_use_the_raw_critic_output():
    wgan = GANLoss('wgan')
    assert wgan.get_target_label(LOGITS, True) is True
    assert torch.allclose(wgan(LOGITS, True, is_disc=True), -LOGITS.mean())
    assert torch.allclose(wgan(LOGITS, False, is_disc=True), LOGITS.mean())
    softplus = GANLoss('wgan_softplus')
    assert torch.allclose(softplus(LOGITS, True, is_disc=True), F.softplus(-LOGITS).mean())
    assert torch.allclose(softplus(LOGITS, False, is_disc=True), F.softplus(LOGITS).mean())


def test_hinge_loss_differs_for_discriminator_and_generator():
    gan = GANLoss('hinge', loss_weight=0.5)
    assert torch.allclose(gan(LOGITS, True, is_disc=True), torch.clamp(1 - LOGITS, min=0).mean())
    assert torch.allclose(gan(LOGITS, False, is_disc=True), torch.clamp(1 + LOGITS, min=0).mean())
    assert torch.allclose(gan(LOGITS, True, is_disc=False), 0.5 * -LOGITS.mean())


@pytest.mark.parametrize('gan_type', ['vanilla', 'lsgan', 'wgan', 'wgan_softplus', 'hinge'])
def test_loss_weight_scales_the_generator_loss_only(gan_type):
    unit, weighted = GANLoss(gan_type), GANLoss(gan_type, loss_weight=0.01)
    assert torch.allclose(weighted(LOGITS, True, is_disc=False), 0.01 * unit(LOGITS, True, is_disc=False))
    assert torch.allclose(weighted(LOGITS, False, is_disc=True), unit(LOGITS, False, is_disc=True))


def test_unknown_gan_type_is_rejected():
    with pytest.raises(ValueError, match='not implemented'):
        GANLoss('relativistic')


def test_multiscale_gan_loss_averages_scales_and_uses_last_feature():
    gan, multi = GANLoss('lsgan'), MultiScaleGANLoss('lsgan')
    coarse, fine = torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 4, 4) * 3
    expected = (gan(coarse, True) + gan(fine, True)) / 2
    assert torch.allclose(multi([coarse, [torch.full((1, 1, 4, 4), 99.0), fine]], True), expected)
    assert torch.allclose(multi(fine, False), gan(fine, False))


def test_r1_penalty_is_squared_input_gradient_norm():
    image = torch.rand(2, 3, 4, 4, requires_grad=True)
    prediction = (image * 2).sum(dim=(1, 2, 3))  # gradient 2 everywhere: 48 pixels * 4
    assert r1_penalty(prediction, image).item() == pytest.approx(48 * 4)


def test_gradient_penalty_vanishes_for_unit_gradient_critic():
    critic = nn.Conv2d(1, 1, kernel_size=1, bias=False)
    nn.init.constant_(critic.weight, 1.0)  # d critic / d x = 1 per pixel, per-pixel channel norm = 1
    real, fake = torch.rand(2, 1, 3, 3), torch.rand(2, 1, 3, 3)
    assert gradient_penalty_loss(critic, real, fake).item() == pytest.approx(0.0, abs=1e-6)
    nn.init.constant_(critic.weight, 3.0)
    assert gradient_penalty_loss(critic, real, fake).item() == pytest.approx(4.0)
