"""Specifications of the discriminators: shapes, size checks, Real-ESRGAN checkpoint key names."""

import pytest
import torch

from basicsr.archs.discriminator_arch import UNetDiscriminatorSN, VGGStyleDiscriminator


@pytest.mark.parametrize('input_size', [128, 256])
def test_vgg_style_discriminator_gives_one_logit_per_image(input_size):
    net = VGGStyleDiscriminator(num_in_ch=3, num_feat=4, input_size=input_size)
    assert net(torch.rand(2, 3, input_size, input_size)).shape == (2, 1)
    assert ('conv5_0.weight' in net.state_dict()) == (input_size == 256)


def test_vgg_style_discriminator_rejects_unsupported_input_size():
    with pytest.raises(ValueError, match='192'):
        VGGStyleDiscriminator(num_in_ch=3, num_feat=4, input_size=192)


def test_vgg_style_discriminator_rejects_input_of_wrong_size():
    net = VGGStyleDiscriminator(num_in_ch=3, num_feat=4, input_size=128)
    with pytest.raises(ValueError, match=r'64x64.*128x128'):
        net(torch.rand(1, 3, 64, 64))


def test_unet_discriminator_gives_a_realness_map_at_input_resolution():
    net = UNetDiscriminatorSN(num_in_ch=3, num_feat=8)
    assert net(torch.rand(2, 3, 32, 24)).shape == (2, 1, 32, 24)


def test_unet_discriminator_without_skips_differs_from_with_skips():
    torch.manual_seed(0)
    with_skips = UNetDiscriminatorSN(3, num_feat=8).eval()
    without = UNetDiscriminatorSN(3, num_feat=8, skip_connection=False).eval()
    without.load_state_dict(with_skips.state_dict())
    x = torch.rand(1, 3, 16, 16)
    assert not torch.allclose(with_skips(x), without(x))


def test_unet_discriminator_rejects_size_not_divisible_by_8():
    with pytest.raises(ValueError, match='20x16'):
        UNetDiscriminatorSN(3, num_feat=8)(torch.rand(1, 3, 20, 16))


def _realesrgan_net_d_state(num_in_ch: int, nf: int) -> dict:
    """A state dict spelled as Real-ESRGAN's published net_d checkpoints are (spectral-norm hook keys)."""
    channels = {
        1: (nf, 2 * nf),
        2: (2 * nf, 4 * nf),
        3: (4 * nf, 8 * nf),
        4: (8 * nf, 4 * nf),
        5: (4 * nf, 2 * nf),
        6: (2 * nf, nf),
        7: (nf, nf),
        8: (nf, nf),
    }
    state = {
        'conv0.weight': torch.randn(nf, num_in_ch, 3, 3),
        'conv0.bias': torch.randn(nf),
        'conv9.weight': torch.randn(1, nf, 3, 3),
        'conv9.bias': torch.randn(1),
    }
    for index, (c_in, c_out) in channels.items():
        k = 4 if index <= 3 else 3  # conv1-3 are the 4x4 stride-2 downsampling convs
        state[f'conv{index}.weight_orig'] = torch.randn(c_out, c_in, k, k)
        state[f'conv{index}.weight_u'] = torch.randn(c_out)
        state[f'conv{index}.weight_v'] = torch.randn(c_in * k * k)
    return state


def test_unet_discriminator_loads_realesrgan_checkpoint_keys_strictly():
    state = _realesrgan_net_d_state(num_in_ch=3, nf=8)
    net = UNetDiscriminatorSN(3, num_feat=8)
    net.load_state_dict(state, strict=True)
    assert set(net.state_dict()) == set(state)
    assert torch.equal(net.conv4.weight_orig, state['conv4.weight_orig'])
    assert torch.equal(net.conv9.bias, state['conv9.bias'])
