"""VGG feature extractor for perceptual and distillation losses, with BasicSR's layer names and torchvision weights."""

import re
from collections import OrderedDict
from typing import Optional

import torch
from torch import nn

from basicsr.archs.arch_util import default_init_weights
from basicsr.utils.logger import get_root_logger
from basicsr.utils.registry import ARCH_REGISTRY
from basicsr.utils.weights_util import load_weight_file, read_weight_file, resolve_weight_file

VGG_BLOCK_DEPTHS = {
    'vgg11': (1, 1, 2, 2, 2),
    'vgg13': (2, 2, 2, 2, 2),
    'vgg16': (2, 2, 3, 3, 3),
    'vgg19': (2, 2, 4, 4, 4),
}  # convs per block, torchvision configs A, B, D, E
VGG_BLOCK_CHANNELS = (64, 128, 256, 512, 512)
TORCHVISION_WEIGHT_FILES = {
    'vgg11': 'vgg11-8a719046.pth',
    'vgg13': 'vgg13-19584684.pth',
    'vgg16': 'vgg16-397923af.pth',
    'vgg19': 'vgg19-dcbb9e9d.pth',
    'vgg11_bn': 'vgg11_bn-6002323d.pth',
    'vgg13_bn': 'vgg13_bn-abd245e5.pth',
    'vgg16_bn': 'vgg16_bn-6c64b313.pth',
    'vgg19_bn': 'vgg19_bn-c79401a0.pth',
}
BLOCK_CHANNELS_KEY = 'block_channels'  # optional entry of a feature file with its own widths (e.g. the demo's slim VGG)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def vgg_layer_names(vgg_type: str) -> list[str]:
    """BasicSR's names of torchvision's `features` layers in order: convX_Y, [bnX_Y], reluX_Y, ..., poolX."""
    if vgg_type not in TORCHVISION_WEIGHT_FILES:
        raise ValueError(f"Unknown vgg_type '{vgg_type}'; choose one of {', '.join(TORCHVISION_WEIGHT_FILES)}.")
    with_bn = vgg_type.endswith('_bn')
    names = []
    for block, depth in enumerate(VGG_BLOCK_DEPTHS[vgg_type.removesuffix('_bn')], start=1):
        for index in range(1, depth + 1):
            names.append(f'conv{block}_{index}')
            if with_bn:
                names.append(f'bn{block}_{index}')
            names.append(f'relu{block}_{index}')
        names.append(f'pool{block}')
    return names


NAMES = {vgg_type: vgg_layer_names(vgg_type) for vgg_type in TORCHVISION_WEIGHT_FILES}


def declared_block_channels(path: str) -> tuple[int, ...]:
    """The per-block widths a feature file declares under `block_channels` (torchvision's when it declares none).

    Lets a VGG-layout extractor narrower than torchvision's (same layer names, fewer channels) be selected by its
    weight file alone, e.g. the self-supervised one `make demo-pretrain` trains.
    """
    channels = read_weight_file(path).get(BLOCK_CHANNELS_KEY, VGG_BLOCK_CHANNELS)
    if len(channels) != len(VGG_BLOCK_CHANNELS) or not all(isinstance(c, int) and c > 0 for c in channels):
        raise ValueError(
            f"Weight file {path}: '{BLOCK_CHANNELS_KEY}' must list 5 positive channel counts, one per "
            f'VGG block, got {channels!r}.'
        )
    return tuple(channels)


def _make_layer(
    name: str,
    in_channels: int,
    pooling_stride: int,
    inplace: bool,
    block_channels: tuple[int, ...] = VGG_BLOCK_CHANNELS,
) -> tuple[nn.Module, int]:
    """The module for layer `name` and the channel count it outputs."""
    kind, block = re.match(r'([a-z]+)(\d)', name).groups()
    out_channels = block_channels[int(block) - 1]
    if kind == 'conv':
        return nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1), out_channels
    if kind == 'bn':
        return nn.BatchNorm2d(out_channels), out_channels
    if kind == 'relu':
        return nn.ReLU(inplace=inplace), in_channels
    return nn.MaxPool2d(kernel_size=pooling_stride, stride=pooling_stride), in_channels


def vgg_weight_file(vgg_type: str, weights_path: Optional[str] = None) -> str:
    """The feature file: `weights_path`, else torchvision's ImageNet file found offline (never downloaded); the
    option checker calls this too, so a missing file stops a run before anything is built."""
    filename = TORCHVISION_WEIGHT_FILES[vgg_type]
    how_to_get = (
        f'run python -c "import torchvision; torchvision.models.{vgg_type}'
        f"(weights='IMAGENET1K_V1')\" (it fills the torch hub cache with {filename})"
    )
    return resolve_weight_file(
        filename,
        explicit_path=weights_path,
        purpose=f'VGGFeatureExtractor ({vgg_type}, ImageNet features)',
        how_to_get=how_to_get,
    )


@ARCH_REGISTRY.register()
class VGGFeatureExtractor(nn.Module):
    """VGG `features` up to the deepest requested layer; `forward` returns {layer_name: feature}.

    A `convX_Y` feature is the convolution output before its ReLU. Weights are torchvision's ImageNet files, found
    offline by `resolve_weight_file` (`weights_path`, $BASICSR_WEIGHTS_DIR, the torch hub cache). `pretrained=False`
    gives random Kaiming fan-in weights, for tests and demos only. A file given as `weights_path` may declare narrower
    block widths (`declared_block_channels`); the layers are then built to its widths.
    """

    def __init__(
        self,
        layer_name_list: list[str],
        vgg_type: str = 'vgg19',
        use_input_norm: bool = True,
        range_norm: bool = False,
        requires_grad: bool = False,
        remove_pooling: bool = False,
        pooling_stride: int = 2,
        pretrained: bool = True,
        weights_path: Optional[str] = None,
    ) -> None:
        super().__init__()
        self.layer_name_list = list(layer_name_list)
        self.vgg_type = vgg_type
        self.use_input_norm = use_input_norm
        self.range_norm = range_norm
        self.requires_grad = requires_grad
        self.torchvision_names = vgg_layer_names(vgg_type)
        self._check_layer_names(remove_pooling)
        path = self._weight_file(weights_path) if pretrained else None
        self.block_channels = declared_block_channels(path) if weights_path and path else VGG_BLOCK_CHANNELS
        self.vgg_net = self._build_features(remove_pooling, pooling_stride)
        if path:
            load_weight_file(self.vgg_net, path, strict=True, key_map=self._torchvision_key_to_ours)
            get_root_logger().info(
                f'VGGFeatureExtractor({self.vgg_type}, block widths {self.block_channels}) loaded weights from {path}.'
            )
        elif weights_path:
            raise ValueError(
                f'VGGFeatureExtractor got weights_path={weights_path} with pretrained=False; set '
                'pretrained to true to load that file, or drop weights_path for random features.'
            )
        else:
            self._init_random_weights()
        if use_input_norm:
            self.register_buffer('mean', torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
            self.register_buffer('std', torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.vgg_net.requires_grad_(requires_grad)
        self.train(requires_grad)

    def _check_layer_names(self, remove_pooling: bool) -> None:
        """Reject an empty list and names this VGG type does not have, listing the valid ones."""
        if not self.layer_name_list:
            raise ValueError('VGGFeatureExtractor needs at least one layer name in layer_name_list (e.g. conv5_4).')
        unknown = [name for name in self.layer_name_list if name not in self.torchvision_names]
        if unknown:
            raise ValueError(
                f'VGGFeatureExtractor({self.vgg_type}) has no layer(s) {unknown}; valid names: '
                f'{" ".join(self.torchvision_names)}.'
            )
        pools = [name for name in self.layer_name_list if name.startswith('pool')]
        if remove_pooling and pools:
            raise ValueError(f'VGGFeatureExtractor: layer(s) {pools} requested but remove_pooling=True removes them.')

    def _build_features(self, remove_pooling: bool, pooling_stride: int) -> nn.Sequential:
        """Layers up to the deepest requested one; a ReLU runs in place unless the layer before it is returned."""
        requested = set(self.layer_name_list)
        deepest = max(self.torchvision_names.index(name) for name in requested)
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        channels, previous = 3, None
        for name in self.torchvision_names[: deepest + 1]:
            if remove_pooling and name.startswith('pool'):
                continue
            layers[name], channels = _make_layer(
                name, channels, pooling_stride, inplace=previous not in requested, block_channels=self.block_channels
            )
            previous = name
        return nn.Sequential(layers)

    def _weight_file(self, weights_path: Optional[str]) -> str:
        return vgg_weight_file(self.vgg_type, weights_path)

    def _torchvision_key_to_ours(self, key: str) -> Optional[str]:
        """`features.{i}.weight` -> `{layer name}.weight` for built layers; other keys (classifier, deeper) -> None."""
        match = re.fullmatch(r'features\.(\d+)\.(\w+)', key)
        if match is None or int(match.group(1)) >= len(self.torchvision_names):
            return None
        name = self.torchvision_names[int(match.group(1))]
        return f'{name}.{match.group(2)}' if name in self.vgg_net._modules else None

    def _init_random_weights(self) -> None:
        """Kaiming fan-in init with zero bias, so activations keep their scale through depth.

        torchvision's fan-out default shrinks activations ~8x by conv5, which would starve losses built on deep
        features of gradient; fan-in keeps them comparable to the input.
        """
        default_init_weights(self.vgg_net, scale=1, bias_fill=0, mode='fan_in', nonlinearity='relu')
        get_root_logger().warning(
            f'VGGFeatureExtractor({self.vgg_type}) built with pretrained=False: its features come from RANDOM weights, '
            'not ImageNet, so perceptual/distillation losses on them carry no learned image statistics. Use this only '
            'for tests and demos; for training, provide the ImageNet file (see basicsr.utils.weights_util).'
        )

    def train(self, mode: bool = True) -> 'VGGFeatureExtractor':
        """Switch modes, except that a frozen extractor stays in eval (its batch norms must not update)."""
        return super().train(mode and self.requires_grad)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.range_norm:
            x = (x + 1) / 2
        if self.use_input_norm:
            x = (x - self.mean) / self.std
        features = {}
        for name, layer in self.vgg_net.named_children():
            x = layer(x)
            if name in self.layer_name_list:
                features[name] = x
        return features
