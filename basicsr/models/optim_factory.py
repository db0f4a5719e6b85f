"""Optimizers and schedulers selectable by name from `train.optim_*` and `train.scheduler`."""

import inspect
from collections.abc import Iterable

import torch

from basicsr.models.lr_scheduler import CosineAnnealingRestartLR, MultiStepRestartLR

OPTIMIZERS = {
    'Adam': torch.optim.Adam,
    'AdamW': torch.optim.AdamW,
    'SGD': torch.optim.SGD,
    'RMSprop': torch.optim.RMSprop,
    'Adamax': torch.optim.Adamax,
}
SCHEDULERS = {
    'MultiStepLR': MultiStepRestartLR,
    'MultiStepRestartLR': MultiStepRestartLR,
    'CosineAnnealingRestartLR': CosineAnnealingRestartLR,
}


def build_optimizer(optim_type: str, params: Iterable, lr: float, **kwargs) -> torch.optim.Optimizer:
    """Build an optimizer; `betas` lists from YAML become tuples."""
    if optim_type not in OPTIMIZERS:
        raise NotImplementedError(f'optimizer {optim_type} is not supported; use one of {", ".join(OPTIMIZERS)}')
    if 'betas' in kwargs:
        kwargs['betas'] = tuple(kwargs['betas'])
    return OPTIMIZERS[optim_type](params, lr, **kwargs)


def speed_kwargs(optim_class: type) -> dict:
    """`fused=True` where `optim_class` has a fused kernel, else `foreach=True` (multi-tensor), else nothing."""
    parameters = inspect.signature(optim_class).parameters
    if 'fused' in parameters:
        return {'fused': True}
    return {'foreach': True} if 'foreach' in parameters else {}


def build_scheduler(optimizer: torch.optim.Optimizer, scheduler_opt: dict):
    """Build the scheduler named by `scheduler_opt['type']`."""
    opts = dict(scheduler_opt)
    scheduler_type = opts.pop('type')
    if scheduler_type not in SCHEDULERS:
        raise NotImplementedError(f'scheduler {scheduler_type} is not supported; use one of {", ".join(SCHEDULERS)}')
    return SCHEDULERS[scheduler_type](optimizer, **opts)
