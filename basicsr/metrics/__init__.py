"""Image quality metrics, registered in METRIC_REGISTRY and called by name from the validation options."""

import copy

from basicsr.metrics.haarpsi import calculate_haarpsi
from basicsr.metrics.lpips_metric import calculate_lpips
from basicsr.metrics.metric_util import DIRECTIONS
from basicsr.metrics.niqe import calculate_niqe
from basicsr.metrics.psnr_ssim import calculate_psnr, calculate_psnr_pt, calculate_ssim, calculate_ssim_pt
from basicsr.metrics.pyiqa_metric import calculate_pyiqa
from basicsr.utils.registry import METRIC_REGISTRY

__all__ = [
    'calculate_metric',
    'metric_better',
    'calculate_psnr',
    'calculate_ssim',
    'calculate_psnr_pt',
    'calculate_ssim_pt',
    'calculate_niqe',
    'calculate_lpips',
    'calculate_pyiqa',
    'calculate_haarpsi',
]


def calculate_metric(data: dict, opt: dict):
    """Call the metric named by `opt['type']` with the images in `data` and the other option keys."""
    opt = copy.deepcopy(opt)
    metric_type = opt.pop('type')
    return METRIC_REGISTRY.get(metric_type)(**data, **opt)


def metric_better(opt: dict) -> str:
    """'higher' or 'lower': the option's `better` if set, otherwise the direction the metric function declares.

    A metric without a declaration counts as higher-is-better, BasicSR's default.
    """
    if opt.get('better') is not None:
        direction = opt['better']
    else:
        declared = getattr(METRIC_REGISTRY.get(opt['type']), 'better', 'higher')
        direction = declared(**{k: v for k, v in opt.items() if k != 'type'}) if callable(declared) else declared
    if direction not in DIRECTIONS:
        raise ValueError(
            f"Metric option 'better' must be 'higher' or 'lower', got '{direction}' (metric type {opt.get('type')})."
        )
    return direction
