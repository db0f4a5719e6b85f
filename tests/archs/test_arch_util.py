"""Specifications of the shared network building blocks."""

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from basicsr.archs.arch_util import ResidualBlockNoBN, Upsample, default_init_weights, make_layer, pixel_unshuffle


def test_default_init_weights_scales_kaiming_weights_and_fills_bias():
    conv, reference = nn.Conv2d(4, 8, 3), nn.Conv2d(4, 8, 3)
    torch.manual_seed(3)
    default_init_weights(conv, scale=0.1, bias_fill=0.5)
    torch.manual_seed(3)
    nn.init.kaiming_normal_(reference.weight)
    assert torch.allclose(conv.weight, 0.1 * reference.weight)
    assert torch.all(conv.bias == 0.5)


def test_default_init_weights_passes_kaiming_options_and_resets_batch_norm():
    block = nn.Sequential(nn.Conv2d(4, 64, 3), nn.BatchNorm2d(64), nn.Linear(3, 2))
    nn.init.constant_(block[1].weight, 7)
    torch.manual_seed(0)
    default_init_weights([block], mode='fan_out', nonlinearity='relu')
    expected_std = (2 / (64 * 9)) ** 0.5
    assert block[0].weight.std().item() == pytest.approx(expected_std, rel=0.1)
    assert torch.all(block[1].weight == 1) and torch.all(block[1].bias == 0)
    assert torch.all(block[2].bias == 0)


def test_make_layer_stacks_independent_blocks():
    body = make_layer(ResidualBlockNoBN, 3, num_feat=8)
    assert len(body) == 3
    assert body[0].conv1.weight.data_ptr() != body[1].conv1.weight.data_ptr()
    assert 'body.2.conv2.weight' in {f'body.{key}' for key in body.state_dict()}


def test_residual_block_without_residual_scale_is_identity():
    block = ResidualBlockNoBN(num_feat=8, res_scale=0)
    x = torch.randn(1, 8, 5, 5)
    assert torch.equal(block(x), x)


def test_residual_block_default_init_is_ten_times_smaller_than_pytorch_init():
    torch.manual_seed(0)
    small = ResidualBlockNoBN(num_feat=32)
    torch.manual_seed(0)
    default = ResidualBlockNoBN(num_feat=32, pytorch_init=True)
    ratio = (small.conv1.weight.std() / default.conv1.weight.std()).item()
    # 0.1 * kaiming std sqrt(2 / fan_in) against PyTorch's uniform(+-1/sqrt(fan_in)), std 1/sqrt(3 fan_in)
    assert ratio == pytest.approx(0.1 * 6**0.5, rel=0.05)


@pytest.mark.parametrize('scale', [2, 3, 4, 8])
def test_upsample_multiplies_spatial_size(scale):
    out = Upsample(scale, num_feat=4)(torch.randn(1, 4, 3, 5))
    assert out.shape == (1, 4, 3 * scale, 5 * scale)


def test_upsample_rejects_unsupported_scale():
    with pytest.raises(ValueError, match='scale 5'):
        Upsample(5, num_feat=4)


def test_pixel_unshuffle_channel_order_is_channel_then_row_then_column():
    x = torch.arange(2 * 2 * 4 * 6, dtype=torch.float32).view(2, 2, 4, 6)
    out = pixel_unshuffle(x, 2)
    assert out.shape == (2, 8, 2, 3)
    assert torch.equal(out[:, 0], x[:, 0, 0::2, 0::2])
    assert torch.equal(out[:, 1], x[:, 0, 0::2, 1::2])
    assert torch.equal(out[:, 2], x[:, 0, 1::2, 0::2])
    assert torch.equal(out[:, 4], x[:, 1, 0::2, 0::2])
    assert torch.equal(F.pixel_shuffle(out, 2), x)


def test_pixel_unshuffle_rejects_sizes_not_divisible_by_scale():
    with pytest.raises(ValueError, match='5x8'):
        pixel_unshuffle(torch.zeros(1, 1, 5, 8), 2)
