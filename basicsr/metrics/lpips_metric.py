"""LPIPS (Zhang et al., CVPR 2018) through the `lpips` package, with backbone weights from local files only.

The `lpips` package ships its learned linear layers; its AlexNet/VGG16 backbone would normally be downloaded by
torchvision. We build it with random weights (`pnet_rand=True`, no download) and load torchvision's ImageNet file
found by `resolve_weight_file`. Networks are cached per (backbone, device, weights) so validation builds one once.
"""

import re
import warnings
from typing import Callable, Optional

import lpips
import numpy as np
import torch
from torch import nn

from basicsr.metrics.metric_util import better_is, crop_border_hwc, reorder_image, to_y_channel
from basicsr.utils.logger import get_root_logger
from basicsr.utils.registry import METRIC_REGISTRY
from basicsr.utils.weights_util import load_weight_file, resolve_weight_file

BACKBONE_WEIGHT_FILES = {'alex': 'alexnet-owt-7be5be79.pth', 'vgg': 'vgg16-397923af.pth'}
_TORCHVISION_MODEL_NAMES = {'alex': 'alexnet', 'vgg': 'vgg16'}
_LPIPS_CACHE: dict[tuple[str, str, str], nn.Module] = {}


def _slice_key_map(lpips_backbone: nn.Module) -> Callable[[str], Optional[str]]:
    """Map torchvision's `features.{i}.{param}` keys to the lpips backbone's `slice{k}.{i}.{param}` names."""
    slice_of_index = {
        int(index): slice_name
        for slice_name, block in lpips_backbone.named_children()
        for index, _ in block.named_children()
    }

    def key_map(key: str) -> Optional[str]:
        match = re.fullmatch(r'features\.(\d+)\.(\w+)', key)
        if match is None or int(match.group(1)) not in slice_of_index:
            return None
        return f'{slice_of_index[int(match.group(1))]}.{match.group(1)}.{match.group(2)}'

    return key_map


def resolve_backbone_file(net: str, backbone_weights_path: Optional[str]) -> str:
    """Path of torchvision's ImageNet file for the backbone, found locally (never downloaded)."""
    filename = BACKBONE_WEIGHT_FILES[net]
    how_to_get = (
        f'run python -c "import torchvision; torchvision.models.{_TORCHVISION_MODEL_NAMES[net]}'
        f"(weights='IMAGENET1K_V1')\" (it fills the torch hub cache with {filename})"
    )
    return resolve_weight_file(
        filename, explicit_path=backbone_weights_path, purpose=f'the LPIPS {net} backbone', how_to_get=how_to_get
    )


def _build_lpips(net: str, pretrained_backbone: bool, backbone_weights_path: Optional[str]) -> nn.Module:
    """An LPIPS module in eval mode on the CPU, its backbone ImageNet-trained or (for tests) random."""
    if net not in BACKBONE_WEIGHT_FILES:
        raise ValueError(f"LPIPS net '{net}' is not supported; use one of: {', '.join(BACKBONE_WEIGHT_FILES)}.")
    path = resolve_backbone_file(net, backbone_weights_path) if pretrained_backbone else None
    with warnings.catch_warnings():  # torchvision's notice about the deprecated `pretrained` argument lpips uses
        warnings.simplefilter('ignore', UserWarning)
        model = lpips.LPIPS(net=net, pnet_rand=True, verbose=False)
    if path is None:
        get_root_logger().warning(
            f'LPIPS ({net}) built with pretrained_backbone=False: its backbone has RANDOM weights, so the scores are '
            'not LPIPS and must not be reported. Use this only for tests.'
        )
    else:
        load_weight_file(model.net, path, strict=True, key_map=_slice_key_map(model.net))
    return model.eval()


def get_lpips_model(
    net: str = 'alex',
    device: Optional[str] = None,
    pretrained_backbone: bool = True,
    backbone_weights_path: Optional[str] = None,
) -> nn.Module:
    """The cached LPIPS network for (net, device, backbone weights), built on first use."""
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    source = 'random' if not pretrained_backbone else (backbone_weights_path or 'search')
    key = (net, str(device), source)
    if key not in _LPIPS_CACHE:
        _LPIPS_CACHE[key] = _build_lpips(net, pretrained_backbone, backbone_weights_path).to(device)
    return _LPIPS_CACHE[key]


def _to_lpips_tensor(img: np.ndarray, channel_order: str, device: torch.device) -> torch.Tensor:
    """An (h, w, c) image in [0, 255] -> a (1, 3, h, w) RGB tensor in [-1, 1], as LPIPS expects."""
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    elif channel_order == 'BGR':
        img = img[..., ::-1]
    tensor = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32)).permute(2, 0, 1)[None]
    return (tensor / 127.5 - 1).to(device)


@METRIC_REGISTRY.register()
@better_is('lower')
def calculate_lpips(
    img: np.ndarray,
    img2: np.ndarray,
    crop_border: int = 0,
    input_order: str = 'HWC',
    test_y_channel: bool = False,
    net: str = 'alex',
    pretrained_backbone: bool = True,
    backbone_weights_path: Optional[str] = None,
    device: Optional[str] = None,
    channel_order: str = 'BGR',
    **kwargs,
) -> float:
    """LPIPS distance of two images in [0, 255] (uint8 or float); lower is more similar.

    Images are BGR by default (`channel_order='BGR'`), as BasicSR's `tensor2img` gives them, and converted to RGB
    for the network; the PDD authors' script fed BGR unchanged, which `channel_order='RGB'` reproduces.
    `test_y_channel` scores the Y channel repeated over three channels.
    """
    if img.shape != img2.shape:
        raise ValueError(f'Image shapes are different: {img.shape}, {img2.shape}.')
    if channel_order not in ('BGR', 'RGB'):
        raise ValueError(f"LPIPS channel_order must be 'BGR' or 'RGB', got '{channel_order}'.")
    model = get_lpips_model(net, device, pretrained_backbone, backbone_weights_path)
    model_device = next(model.parameters()).device
    tensors = []
    for image in (img, img2):
        image = crop_border_hwc(reorder_image(image, input_order=input_order), crop_border).astype(np.float64)
        if test_y_channel:
            image = to_y_channel(image)
        tensors.append(_to_lpips_tensor(image, channel_order, model_device))
    with torch.no_grad():
        return float(model(tensors[0], tensors[1]).item())
