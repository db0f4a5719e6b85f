"""GAN discriminators: BasicSR's VGG-style patch classifier and Real-ESRGAN's U-Net with spectral norm."""

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import spectral_norm

from basicsr.utils.registry import ARCH_REGISTRY

VGG_STYLE_INPUT_SIZES = (128, 256)


@ARCH_REGISTRY.register()
class VGGStyleDiscriminator(nn.Module):
    """ESRGAN's discriminator: stride-2 conv/BN stages down to 4x4, then two linear layers to one logit per image.

    Each stage `k` is conv{k}_0 (3x3) and conv{k}_1 (4x4, stride 2) with batch norms bn{k}_*; 128 px inputs use
    stages 0-4, 256 px inputs add stage 5.
    """

    def __init__(self, num_in_ch: int, num_feat: int, input_size: int = 128) -> None:
        super().__init__()
        if input_size not in VGG_STYLE_INPUT_SIZES:
            raise ValueError(
                f'VGGStyleDiscriminator input_size must be one of {VGG_STYLE_INPUT_SIZES}, got '
                f'{input_size} (set network_d.input_size to the training gt_size).'
            )
        self.input_size = input_size
        stage_out = [num_feat, num_feat * 2, num_feat * 4, num_feat * 8, num_feat * 8, num_feat * 8]
        num_stages = 5 if input_size == 128 else 6
        self.conv0_0 = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1, bias=True)
        self.conv0_1 = nn.Conv2d(num_feat, num_feat, 4, 2, 1, bias=False)
        self.bn0_1 = nn.BatchNorm2d(num_feat, affine=True)
        for stage in range(1, num_stages):
            in_ch, out_ch = stage_out[stage - 1], stage_out[stage]
            setattr(self, f'conv{stage}_0', nn.Conv2d(in_ch, out_ch, 3, 1, 1, bias=False))
            setattr(self, f'bn{stage}_0', nn.BatchNorm2d(out_ch, affine=True))
            setattr(self, f'conv{stage}_1', nn.Conv2d(out_ch, out_ch, 4, 2, 1, bias=False))
            setattr(self, f'bn{stage}_1', nn.BatchNorm2d(out_ch, affine=True))
        self.num_stages = num_stages
        self.linear1 = nn.Linear(num_feat * 8 * 4 * 4, 100)
        self.linear2 = nn.Linear(100, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        if (height, width) != (self.input_size, self.input_size):
            raise ValueError(
                f'VGGStyleDiscriminator(input_size={self.input_size}) got an input of size '
                f'{height}x{width}; it needs {self.input_size}x{self.input_size} '
                '(make network_d.input_size equal to the gt crop size).'
            )
        feat = self.lrelu(self.conv0_0(x))
        feat = self.lrelu(self.bn0_1(self.conv0_1(feat)))
        for stage in range(1, self.num_stages):
            feat = self.lrelu(getattr(self, f'bn{stage}_0')(getattr(self, f'conv{stage}_0')(feat)))
            feat = self.lrelu(getattr(self, f'bn{stage}_1')(getattr(self, f'conv{stage}_1')(feat)))
        feat = self.lrelu(self.linear1(feat.flatten(1)))
        return self.linear2(feat)


@ARCH_REGISTRY.register(suffix='basicsr')
class UNetDiscriminatorSN(nn.Module):
    """Real-ESRGAN's U-Net discriminator with spectral norm: a per-pixel realness map at input resolution.

    Three stride-2 downsampling convs (conv1-3), three bilinear-upsampling convs (conv4-6) with skip connections
    (added, not concatenated), two refining convs (conv7-8) and a 1-channel head (conv9). conv1-8 use the classic
    `torch.nn.utils.spectral_norm` hook, whose `weight_orig` / `weight_u` / `weight_v` keys the published net_d
    checkpoints hold. Registered as `UNetDiscriminatorSN_basicsr` (the `realesrgan` package owns the plain name) and
    as `UNetDiscriminatorWithSpectralNorm`, the name the PDD authors' YAML files use.
    """

    def __init__(self, num_in_ch: int, num_feat: int = 64, skip_connection: bool = True) -> None:
        super().__init__()
        self.skip_connection = skip_connection
        self.conv0 = nn.Conv2d(num_in_ch, num_feat, kernel_size=3, stride=1, padding=1)
        self.conv1 = spectral_norm(nn.Conv2d(num_feat, num_feat * 2, 4, 2, 1, bias=False))
        self.conv2 = spectral_norm(nn.Conv2d(num_feat * 2, num_feat * 4, 4, 2, 1, bias=False))
        self.conv3 = spectral_norm(nn.Conv2d(num_feat * 4, num_feat * 8, 4, 2, 1, bias=False))
        self.conv4 = spectral_norm(nn.Conv2d(num_feat * 8, num_feat * 4, 3, 1, 1, bias=False))
        self.conv5 = spectral_norm(nn.Conv2d(num_feat * 4, num_feat * 2, 3, 1, 1, bias=False))
        self.conv6 = spectral_norm(nn.Conv2d(num_feat * 2, num_feat, 3, 1, 1, bias=False))
        self.conv7 = spectral_norm(nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=False))
        self.conv8 = spectral_norm(nn.Conv2d(num_feat, num_feat, 3, 1, 1, bias=False))
        self.conv9 = nn.Conv2d(num_feat, 1, 3, 1, 1)

    def _up_block(self, conv: nn.Module, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """Bilinear x2, conv, LeakyReLU, then add the encoder feature of the same resolution."""
        x = F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=False)
        x = F.leaky_relu(conv(x), negative_slope=0.2, inplace=True)
        return x + skip if self.skip_connection else x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        if height % 8 or width % 8:
            raise ValueError(
                f'UNetDiscriminatorSN needs height and width divisible by 8 (three stride-2 levels), '
                f'got {height}x{width}; crop the discriminator input to a multiple of 8.'
            )
        x0 = F.leaky_relu(self.conv0(x), negative_slope=0.2, inplace=True)
        x1 = F.leaky_relu(self.conv1(x0), negative_slope=0.2, inplace=True)
        x2 = F.leaky_relu(self.conv2(x1), negative_slope=0.2, inplace=True)
        x3 = F.leaky_relu(self.conv3(x2), negative_slope=0.2, inplace=True)
        x4 = self._up_block(self.conv4, x3, x2)
        x5 = self._up_block(self.conv5, x4, x1)
        x6 = self._up_block(self.conv6, x5, x0)
        out = F.leaky_relu(self.conv7(x6), negative_slope=0.2, inplace=True)
        out = F.leaky_relu(self.conv8(out), negative_slope=0.2, inplace=True)
        return self.conv9(out)


ARCH_REGISTRY.register(UNetDiscriminatorSN, name='UNetDiscriminatorWithSpectralNorm')
