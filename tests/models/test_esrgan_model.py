"""ESRGANModel: the relativistic average GAN losses (ESRGAN, Wang et al. 2018, Eq. 1-2), training and exact resume."""

import os
from collections import OrderedDict

import torch
from torch.nn.functional import binary_cross_entropy_with_logits as bce

from basicsr.archs import build_network
from basicsr.utils.options import load_option_file
from tests.models.test_srgan_model import (  # noqa: F401
    GAN_LOG_KEYS,
    REPO,
    assert_resume_is_exact,
    build,
    gan_options,
    one_torch_thread,
    params_changed,
    random_batch,
    snapshot,
)


def esrgan_model(tmp_path):
    """An ESRGANModel whose U-Net discriminator is in eval mode, so repeated calls give the same outputs."""
    model = build(gan_options('unused', 'unused', model_type='ESRGANModel'), tmp_path)
    model.net_d.eval()
    return model


def test_generator_gan_loss_is_the_relativistic_average_of_eq_2(tmp_path):
    model = esrgan_model(tmp_path)
    batch = random_batch(seed=1)
    output = torch.rand_like(batch['gt'])
    model.feed_data(batch)
    with torch.no_grad():
        real, fake = model.net_d(batch['gt']), model.net_d(output)
    ones, zeros = torch.ones_like(real), torch.zeros_like(real)
    expected = 0.1 * (bce(real - fake.mean(), zeros) + bce(fake - real.mean(), ones)) / 2
    assert torch.allclose(model.generator_gan_loss(output), expected, atol=1e-6)


def test_discriminator_losses_are_the_relativistic_average_of_eq_1(tmp_path):
    model = esrgan_model(tmp_path)
    batch = random_batch(seed=2)
    output = torch.rand_like(batch['gt'])
    with torch.no_grad():
        real, fake = model.net_d(batch['gt']), model.net_d(output)
    loss_dict = OrderedDict()
    list(model.discriminator_losses(batch['gt'], output, loss_dict))
    ones, zeros = torch.ones_like(real), torch.zeros_like(real)
    assert torch.allclose(loss_dict['l_d_real'], bce(real - fake.mean(), ones) / 2, atol=1e-6)
    assert torch.allclose(loss_dict['l_d_fake'], bce(fake - real.mean(), zeros) / 2, atol=1e-6)
    assert torch.allclose(loss_dict['out_d_real'], real.mean()) and torch.allclose(loss_dict['out_d_fake'], fake.mean())


def test_step_with_the_vgg_style_discriminator_updates_both_networks(tmp_path):
    opt = gan_options('unused', 'unused', model_type='ESRGANModel')
    opt['scale'] = 4
    opt['network_g']['upscale'] = 4
    opt['network_d'] = {'type': 'VGGStyleDiscriminator', 'num_in_ch': 3, 'num_feat': 4, 'input_size': 128}
    model = build(opt, tmp_path)
    g_before, d_before = snapshot(model.net_g), snapshot(model.net_d)
    model.feed_data(random_batch(scale=4, gt_size=128))
    model.optimize_parameters(1)
    assert params_changed(g_before, model.net_g) and params_changed(d_before, model.net_d)
    assert set(model.get_current_log()) == GAN_LOG_KEYS


def test_esrgan_resumed_mid_epoch_ends_bit_identical_to_an_uninterrupted_run(paired_folders, tmp_path):
    assert_resume_is_exact(tmp_path, paired_folders, 'ESRGANModel')


def test_paper_recipe_discriminator_judges_its_gt_crops():
    opt = load_option_file(os.path.join(REPO, 'options', 'train_esrgan_x4.yml'))
    net_d = build_network(opt['network_d']).eval()
    gt_size = opt['datasets']['train']['gt_size']
    with torch.no_grad():
        assert net_d(torch.rand(1, 3, gt_size, gt_size)).shape == (1, 1)
