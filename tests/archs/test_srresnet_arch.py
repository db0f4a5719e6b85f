"""Specifications of MSRResNet: shapes per upscale, BasicSR key names, the bilinear base."""

import pytest
import torch
from torch.nn import functional as F

from basicsr.archs.srresnet_arch import MSRResNet


@pytest.mark.parametrize('upscale', [2, 3, 4])
def test_msrresnet_output_is_upscale_times_input(upscale):
    net = MSRResNet(num_feat=8, num_block=2, upscale=upscale)
    assert net(torch.rand(2, 3, 5, 6)).shape == (2, 3, 5 * upscale, 6 * upscale)


def test_msrresnet_x4_state_dict_has_basicsr_key_names():
    state = MSRResNet(num_feat=8, num_block=2, upscale=4).state_dict()
    assert state['upconv1.weight'].shape == (32, 8, 3, 3)
    assert state['upconv2.weight'].shape == (32, 8, 3, 3)
    for key in ['conv_first.weight', 'body.1.conv1.weight', 'body.1.conv2.bias', 'conv_hr.weight', 'conv_last.bias']:
        assert key in state
    assert len(state) == 2 * (1 + 2 * 2 + 4)


def test_msrresnet_x3_has_single_upconv_for_pixel_shuffle_3():
    state = MSRResNet(num_feat=8, num_block=1, upscale=3).state_dict()
    assert state['upconv1.weight'].shape == (72, 8, 3, 3)
    assert 'upconv2.weight' not in state


def test_msrresnet_adds_bilinear_upsampled_input():
    net = MSRResNet(num_feat=8, num_block=1, upscale=4)
    torch.nn.init.zeros_(net.conv_last.weight)
    torch.nn.init.zeros_(net.conv_last.bias)
    x = torch.rand(1, 3, 4, 4)
    assert torch.equal(net(x), F.interpolate(x, scale_factor=4, mode='bilinear', align_corners=False))


def test_msrresnet_rejects_unsupported_upscale():
    with pytest.raises(ValueError, match='got 8'):
        MSRResNet(upscale=8)
