"""RRDBNet, the ESRGAN / Real-ESRGAN generator (Wang et al., ECCV-W 2018), with the official weights' key names."""

import torch
from torch import nn
from torch.nn import functional as F

from basicsr.archs.arch_util import default_init_weights, make_layer, pixel_unshuffle
from basicsr.utils.registry import ARCH_REGISTRY

RESIDUAL_SCALE = 0.2  # ESRGAN's residual scaling of each dense block and each RRDB
UNSHUFFLE_FACTOR = {1: 4, 2: 2, 4: 1}  # the trunk always upsamples x4; smaller scales fold the input first


class ResidualDenseBlock(nn.Module):
    """Five densely connected 3x3 convs; the last one's output, scaled by 0.2, is added to the input."""

    def __init__(self, num_feat: int = 64, num_grow_ch: int = 32) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_grow_ch, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat + num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv3 = nn.Conv2d(num_feat + 2 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv4 = nn.Conv2d(num_feat + 3 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv5 = nn.Conv2d(num_feat + 4 * num_grow_ch, num_feat, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)
        default_init_weights([self.conv1, self.conv2, self.conv3, self.conv4, self.conv5], 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x + x5 * RESIDUAL_SCALE


class RRDB(nn.Module):
    """Residual-in-residual dense block: three dense blocks, then a 0.2-scaled residual connection."""

    def __init__(self, num_feat: int, num_grow_ch: int = 32) -> None:
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.rdb3(self.rdb2(self.rdb1(x))) * RESIDUAL_SCALE


@ARCH_REGISTRY.register()
class RRDBNet(nn.Module):
    """ESRGAN generator: RRDB trunk, then two nearest-neighbour x2 upsampling convs.

    For scale 2 and 1 the input is pixel-unshuffled by 2 and 4 (so `conv_first` takes 4x / 16x channels), matching
    Real-ESRGAN's x2 weights; the trunk's x4 upsampling then restores the requested scale.
    """

    def __init__(
        self,
        num_in_ch: int,
        num_out_ch: int,
        scale: int = 4,
        num_feat: int = 64,
        num_block: int = 23,
        num_grow_ch: int = 32,
    ) -> None:
        super().__init__()
        if scale not in UNSHUFFLE_FACTOR:
            raise ValueError(
                f'RRDBNet scale must be one of {sorted(UNSHUFFLE_FACTOR)}, got {scale} '
                '(check network_g.scale in the options).'
            )
        self.scale = scale
        self.unshuffle_factor = UNSHUFFLE_FACTOR[scale]
        self.conv_first = nn.Conv2d(num_in_ch * self.unshuffle_factor**2, num_feat, 3, 1, 1)
        self.body = make_layer(RRDB, num_block, num_feat=num_feat, num_grow_ch=num_grow_ch)
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.unshuffle_factor > 1:
            x = pixel_unshuffle(x, self.unshuffle_factor)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        feat = self.lrelu(self.conv_up1(F.interpolate(feat, scale_factor=2, mode='nearest')))
        feat = self.lrelu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode='nearest')))
        return self.conv_last(self.lrelu(self.conv_hr(feat)))
