"""SRVGGNetCompact, Real-ESRGAN's compact VGG-style SR network (realesr-general-x4v3, realesr-animevideov3)."""

import torch
from torch import nn
from torch.nn import functional as F

from basicsr.utils.registry import ARCH_REGISTRY

ACTIVATIONS = ('prelu', 'relu', 'leakyrelu')


def _make_activation(act_type: str, num_feat: int) -> nn.Module:
    """One activation layer; PReLU has a learned slope per channel (the `body.{odd}.weight` keys)."""
    if act_type == 'prelu':
        return nn.PReLU(num_parameters=num_feat)
    if act_type == 'relu':
        return nn.ReLU(inplace=True)
    if act_type == 'leakyrelu':
        return nn.LeakyReLU(negative_slope=0.1, inplace=True)
    raise ValueError(f"SRVGGNetCompact act_type must be one of {', '.join(ACTIVATIONS)}, got '{act_type}'.")


@ARCH_REGISTRY.register(suffix='basicsr')
class SRVGGNetCompact(nn.Module):
    """Plain conv/activation stack in LR space, one pixel shuffle at the end, plus the nearest-upsampled input.

    `body` is conv, act, (conv, act) x num_conv, then a conv to num_out_ch*upscale^2 channels, so its indices match
    the official weights.
    Registered as `SRVGGNetCompact_basicsr` so the `realesrgan` package can register the plain name itself.
    """

    def __init__(
        self,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        num_feat: int = 64,
        num_conv: int = 16,
        upscale: int = 4,
        act_type: str = 'prelu',
    ) -> None:
        super().__init__()
        self.upscale = upscale
        self.body = nn.ModuleList([nn.Conv2d(num_in_ch, num_feat, 3, 1, 1), _make_activation(act_type, num_feat)])
        for _ in range(num_conv):
            self.body.append(nn.Conv2d(num_feat, num_feat, 3, 1, 1))
            self.body.append(_make_activation(act_type, num_feat))
        self.body.append(nn.Conv2d(num_feat, num_out_ch * upscale * upscale, 3, 1, 1))
        self.upsampler = nn.PixelShuffle(upscale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for layer in self.body:
            out = layer(out)
        return self.upsampler(out) + F.interpolate(x, scale_factor=self.upscale, mode='nearest')
