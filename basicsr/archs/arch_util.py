"""Building blocks shared by the SR networks: initialisation, stacking, residual blocks, pixel (un)shuffle."""

import math
from typing import Any, Union

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn import init
from torch.nn.modules.batchnorm import _BatchNorm


@torch.no_grad()
def default_init_weights(
    module_list: Union[nn.Module, list[nn.Module]], scale: float = 1, bias_fill: float = 0, **kwargs: Any
) -> None:
    """Kaiming-normal init of conv/linear weights scaled by `scale` (ESRGAN uses 0.1 to stabilise deep residual nets).

    `kwargs` go to `nn.init.kaiming_normal_` (e.g. `mode`, `nonlinearity`); batch norms get weight 1 and bias
    `bias_fill`.
    """
    if not isinstance(module_list, list):
        module_list = [module_list]
    for module in module_list:
        for m in module.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                init.kaiming_normal_(m.weight, **kwargs)
                m.weight.mul_(scale)
                if m.bias is not None:
                    m.bias.fill_(bias_fill)
            elif isinstance(m, _BatchNorm):
                init.constant_(m.weight, 1)
                if m.bias is not None:
                    m.bias.fill_(bias_fill)


def make_layer(basic_block: type, num_basic_block: int, **kwarg: Any) -> nn.Sequential:
    """Stack `num_basic_block` instances of `basic_block(**kwarg)`; indices become the `body.{i}` state-dict keys."""
    return nn.Sequential(*[basic_block(**kwarg) for _ in range(num_basic_block)])


class ResidualBlockNoBN(nn.Module):
    """conv-ReLU-conv residual block without batch norm (EDSR / MSRResNet): x + res_scale * body(x)."""

    def __init__(self, num_feat: int = 64, res_scale: float = 1, pytorch_init: bool = False) -> None:
        super().__init__()
        self.res_scale = res_scale
        self.conv1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=True)
        self.conv2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=True)
        self.relu = nn.ReLU(inplace=True)
        if not pytorch_init:
            default_init_weights([self.conv1, self.conv2], 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.relu(self.conv1(x))) * self.res_scale


class Upsample(nn.Sequential):
    """Sub-pixel upsampler: conv + PixelShuffle(2) per factor of 2, or one conv + PixelShuffle(3) for scale 3."""

    def __init__(self, scale: int, num_feat: int) -> None:
        layers: list[nn.Module] = []
        if scale > 0 and scale & (scale - 1) == 0:
            for _ in range(int(math.log2(scale))):
                layers += [nn.Conv2d(num_feat, 4 * num_feat, 3, 1, 1), nn.PixelShuffle(2)]
        elif scale == 3:
            layers += [nn.Conv2d(num_feat, 9 * num_feat, 3, 1, 1), nn.PixelShuffle(3)]
        else:
            raise ValueError(f'Upsample scale {scale} is not supported: use a power of 2 or 3.')
        super().__init__(*layers)


def pixel_unshuffle(x: torch.Tensor, scale: int) -> torch.Tensor:
    """Fold each `scale` x `scale` patch into channels, (b, c, h, w) -> (b, c*scale^2, h/scale, w/scale).

    Channel order is c-major then patch row then patch column, the order Real-ESRGAN's x2/x1 RRDBNet weights expect.
    """
    height, width = x.shape[-2:]
    if height % scale or width % scale:
        raise ValueError(
            f'pixel_unshuffle needs height and width divisible by {scale}, got {height}x{width}; '
            f'pad or crop the input to a multiple of {scale}.'
        )
    return F.pixel_unshuffle(x, scale)
