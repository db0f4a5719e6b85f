"""MSRResNet, the modified SRResNet of BasicSR (no batch norm), with BasicSR's key names."""

import torch
from torch import nn
from torch.nn import functional as F

from basicsr.archs.arch_util import ResidualBlockNoBN, default_init_weights, make_layer
from basicsr.utils.registry import ARCH_REGISTRY


@ARCH_REGISTRY.register()
class MSRResNet(nn.Module):
    """Residual blocks without BN, pixel-shuffle upsampling (one x2/x3 step, or two x2 steps for x4), plus the
    bilinearly upsampled input so the network learns the residual."""

    def __init__(
        self, num_in_ch: int = 3, num_out_ch: int = 3, num_feat: int = 64, num_block: int = 16, upscale: int = 4
    ) -> None:
        super().__init__()
        if upscale not in (2, 3, 4):
            raise ValueError(f'MSRResNet upscale must be 2, 3 or 4, got {upscale} (check network_g.upscale).')
        self.upscale = upscale
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1)
        self.body = make_layer(ResidualBlockNoBN, num_block, num_feat=num_feat)
        shuffle_factor = 2 if upscale == 4 else upscale
        self.upconv1 = nn.Conv2d(num_feat, num_feat * shuffle_factor**2, 3, 1, 1)
        if upscale == 4:
            self.upconv2 = nn.Conv2d(num_feat, num_feat * 4, 3, 1, 1)
        self.pixel_shuffle = nn.PixelShuffle(shuffle_factor)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.1, inplace=True)
        default_init_weights([self.conv_first, self.upconv1, self.conv_hr, self.conv_last], 0.1)
        if upscale == 4:
            default_init_weights(self.upconv2, 0.1)  # after the others, so a seed gives BasicSR's initial weights

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(self.lrelu(self.conv_first(x)))
        out = self.lrelu(self.pixel_shuffle(self.upconv1(out)))
        if self.upscale == 4:
            out = self.lrelu(self.pixel_shuffle(self.upconv2(out)))
        out = self.conv_last(self.lrelu(self.conv_hr(out)))
        return out + F.interpolate(x, scale_factor=self.upscale, mode='bilinear', align_corners=False)
