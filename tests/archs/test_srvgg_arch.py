"""Specifications of SRVGGNetCompact: shapes, realesr-general-x4v3 key layout, the nearest-upsampled base."""

import pytest
import torch
from torch.nn import functional as F

from basicsr.archs.srvgg_arch import SRVGGNetCompact


@pytest.mark.parametrize('upscale', [2, 4])
def test_srvgg_output_is_upscale_times_input(upscale):
    net = SRVGGNetCompact(num_feat=8, num_conv=2, upscale=upscale)
    assert net(torch.rand(2, 3, 6, 7)).shape == (2, 3, 6 * upscale, 7 * upscale)


def test_srvgg_keys_follow_realesr_general_x4v3_layout():
    net = SRVGGNetCompact(num_feat=8, num_conv=32, upscale=4, act_type='prelu')
    state = net.state_dict()
    assert state['body.0.weight'].shape == (8, 3, 3, 3)
    assert state['body.1.weight'].shape == (8,)  # PReLU slope per channel
    assert state['body.66.weight'].shape == (3 * 4 * 4, 8, 3, 3)
    assert 'body.67.weight' not in state
    assert len(state) == 34 * 2 + 33  # 34 convs (weight, bias) and 33 PReLUs


@pytest.mark.parametrize('act_type', ['relu', 'leakyrelu'])
def test_srvgg_parameter_free_activations_keep_conv_indices(act_type):
    state = SRVGGNetCompact(num_feat=8, num_conv=2, act_type=act_type).state_dict()
    assert sorted(state) == sorted(f'body.{i}.{p}' for i in (0, 2, 4, 6) for p in ('weight', 'bias'))


def test_srvgg_adds_nearest_upsampled_input():
    net = SRVGGNetCompact(num_feat=8, num_conv=1, upscale=2)
    torch.nn.init.zeros_(net.body[-1].weight)
    torch.nn.init.zeros_(net.body[-1].bias)
    x = torch.rand(1, 3, 4, 4)
    assert torch.equal(net(x), F.interpolate(x, scale_factor=2, mode='nearest'))


def test_srvgg_rejects_unknown_activation():
    with pytest.raises(ValueError, match="'gelu'"):
        SRVGGNetCompact(act_type='gelu')
