"""Specifications of RRDBNet: shapes per scale, the official key names, ESRGAN's residual scaling."""

import pytest
import torch

from basicsr.archs.arch_util import pixel_unshuffle
from basicsr.archs.rrdbnet_arch import RRDB, ResidualDenseBlock, RRDBNet

TINY = dict(num_feat=8, num_block=2, num_grow_ch=4)


@pytest.mark.parametrize('scale', [1, 2, 4])
def test_rrdbnet_output_is_scale_times_input(scale):
    net = RRDBNet(3, 3, scale=scale, **TINY)
    assert net(torch.rand(2, 3, 8, 12)).shape == (2, 3, 8 * scale, 12 * scale)


@pytest.mark.parametrize('scale, in_channels', [(4, 3), (2, 12), (1, 48)])
def test_rrdbnet_conv_first_takes_unshuffled_channels(scale, in_channels):
    assert RRDBNet(3, 3, scale=scale, **TINY).conv_first.in_channels == in_channels


def test_rrdbnet_state_dict_has_official_key_names():
    keys = set(RRDBNet(3, 3, **TINY).state_dict())
    for key in [
        'conv_first.weight',
        'body.0.rdb1.conv1.weight',
        'body.1.rdb3.conv5.weight',
        'body.1.rdb3.conv5.bias',
        'conv_body.weight',
        'conv_up1.weight',
        'conv_up2.weight',
        'conv_hr.bias',
        'conv_last.weight',
    ]:
        assert key in keys
    assert not any(key.startswith('body.2.') for key in keys)
    assert len(keys) == 2 * (1 + 2 * 3 * 5 + 5)  # weight+bias of conv_first, 2 blocks x 3 RDBs x 5 convs, 5 tail convs


def test_rrdbnet_x2_takes_pixel_unshuffled_input():
    net_x2 = RRDBNet(3, 3, scale=2, **TINY)
    net_x4 = RRDBNet(12, 3, scale=4, **TINY)
    net_x4.load_state_dict(net_x2.state_dict())
    x = torch.rand(1, 3, 8, 8)
    assert torch.allclose(net_x2(x), net_x4(pixel_unshuffle(x, 2)), atol=1e-6)


def test_rrdbnet_rejects_unsupported_scale():
    with pytest.raises(ValueError, match='got 3'):
        RRDBNet(3, 3, scale=3, **TINY)


def test_rrdbnet_rejects_input_not_divisible_by_unshuffle_factor():
    with pytest.raises(ValueError, match='divisible by 4'):
        RRDBNet(3, 3, scale=1, **TINY)(torch.rand(1, 3, 6, 8))


def test_dense_block_adds_last_conv_scaled_by_0_2():
    block = ResidualDenseBlock(num_feat=4, num_grow_ch=2)
    torch.nn.init.zeros_(block.conv5.weight)
    torch.nn.init.constant_(block.conv5.bias, 1.0)
    x = torch.randn(1, 4, 5, 5)
    assert torch.allclose(block(x), x + 0.2)


def test_rrdb_adds_dense_chain_scaled_by_0_2():
    rrdb = RRDB(num_feat=4, num_grow_ch=2)
    x = torch.randn(1, 4, 5, 5)
    chain = rrdb.rdb3(rrdb.rdb2(rrdb.rdb1(x)))
    assert torch.allclose(rrdb(x), x + 0.2 * chain, atol=1e-6)
