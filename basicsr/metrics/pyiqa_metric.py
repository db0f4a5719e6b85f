"""Adapter to IQA-PyTorch (`pyiqa`), the toolbox the PDD paper's tables use (NRQM, NIQE family, LPIPS, ...).

`pyiqa` is optional and not installed with this package; it fetches its own model weights on first use, so run a
metric once on a connected machine (or copy pyiqa's cache) before using it offline.
"""

from typing import Optional

import numpy as np
import torch

from basicsr.metrics.metric_util import crop_border_hwc, reorder_image
from basicsr.utils.registry import METRIC_REGISTRY

# pyiqa metrics (by name family) whose lower scores are better; all others are higher-is-better.
LOWER_IS_BETTER_FAMILIES = frozenset(
    {'lpips', 'dists', 'niqe', 'ilniqe', 'brisque', 'pi', 'piqe', 'nlpd', 'mad', 'fid', 'pieapp', 'gmsd', 'msswd'}
)
_PYIQA_CACHE: dict[tuple[str, str], torch.nn.Module] = {}


def _import_pyiqa():
    try:
        import pyiqa
    except ImportError as err:
        raise ImportError(
            'The metric type calculate_pyiqa needs the optional package IQA-PyTorch: '
            '`pip install pyiqa`. Or use the built-in calculate_niqe / calculate_lpips.'
        ) from err
    return pyiqa


def pyiqa_better(metric: str = 'niqe', **kwargs) -> str:
    """'lower' or 'higher' for a pyiqa metric name (e.g. 'niqe', 'lpips-vgg', 'musiq'), from its name family."""
    family = metric.lower().replace('-', '_').split('_')[0]
    return 'lower' if family in LOWER_IS_BETTER_FAMILIES else 'higher'


def _to_pyiqa_tensor(
    img: np.ndarray, crop_border: int, input_order: str, channel_order: str, device: torch.device
) -> torch.Tensor:
    """An image in [0, 255] -> a (1, 3, h, w) RGB tensor in [0, 1], as pyiqa expects."""
    img = crop_border_hwc(reorder_image(img, input_order=input_order), crop_border)
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    elif channel_order == 'BGR':
        img = img[..., ::-1]
    tensor = torch.from_numpy(np.ascontiguousarray(img, dtype=np.float32)).permute(2, 0, 1)[None] / 255.0
    return tensor.to(device)


@METRIC_REGISTRY.register()
def calculate_pyiqa(
    img: np.ndarray,
    img2: Optional[np.ndarray] = None,
    metric: str = 'niqe',
    crop_border: int = 0,
    input_order: str = 'HWC',
    channel_order: str = 'BGR',
    device: Optional[str] = None,
    **kwargs,
) -> float:
    """Score `img` (against reference `img2` for full-reference metrics) with pyiqa metric `metric`.

    Images are in [0, 255], BGR by default as BasicSR's validation passes them. The metric network is cached per
    (metric, device).
    """
    if channel_order not in ('BGR', 'RGB'):
        raise ValueError(f"calculate_pyiqa channel_order must be 'BGR' or 'RGB', got '{channel_order}'.")
    pyiqa = _import_pyiqa()
    device = device or ('cuda' if torch.cuda.is_available() else 'cpu')
    key = (metric, str(device))
    if key not in _PYIQA_CACHE:
        _PYIQA_CACHE[key] = pyiqa.create_metric(metric, device=torch.device(device))
    scorer = _PYIQA_CACHE[key]
    images = [
        _to_pyiqa_tensor(image, crop_border, input_order, channel_order, torch.device(device))
        for image in (img, img2)
        if image is not None
    ]
    with torch.no_grad():
        return float(scorer(*images).item())


calculate_pyiqa.better = pyiqa_better
