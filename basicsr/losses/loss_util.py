"""Element-wise weighting and reduction shared by the pixel losses (BasicSR semantics)."""
import functools
from typing import Callable, Optional

import torch

REDUCTION_MODES = ('none', 'mean', 'sum')


def check_reduction(reduction: str, allowed: tuple = REDUCTION_MODES) -> None:
    """Fail early, at construction, on a reduction name the loss cannot apply."""
    if reduction not in allowed:
        raise ValueError(f"Unsupported reduction mode: '{reduction}'. Supported ones are: {', '.join(allowed)}.")


def reduce_loss(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    """Reduce an element-wise loss with 'none' | 'mean' | 'sum'."""
    check_reduction(reduction)
    if reduction == 'mean':
        return loss.mean()
    if reduction == 'sum':
        return loss.sum()
    return loss


def weight_reduce_loss(loss: torch.Tensor, weight: Optional[torch.Tensor] = None,
                       reduction: str = 'mean') -> torch.Tensor:
    """Multiply an element-wise loss by `weight` and reduce it.

    As in BasicSR, a weighted 'mean' averages over the weighted region: sum(loss * weight) / sum(weight), where a
    one-channel weight counts once per loss channel.
    """
    if weight is None:
        return reduce_loss(loss, reduction)
    loss_channels = loss.size(1) if loss.dim() > 1 else 1
    weight_channels = weight.size(1) if weight.dim() > 1 else 1
    if weight.dim() != loss.dim() or weight_channels not in (1, loss_channels):
        raise ValueError(f'Loss weight of shape {tuple(weight.shape)} does not match the loss of shape '
                         f'{tuple(loss.shape)}: it needs the same rank and 1 or {loss_channels} channels.')
    loss = loss * weight
    if reduction != 'mean':
        return reduce_loss(loss, reduction)
    channels_per_weight = loss_channels if weight_channels == 1 else 1
    return loss.sum() / (weight.sum() * channels_per_weight)


def weighted_loss(loss_func: Callable) -> Callable:
    """Turn `loss_func(pred, target, **kwargs)` returning an element-wise loss into
    `loss_func(pred, target, weight=None, reduction='mean', **kwargs)`."""

    @functools.wraps(loss_func)
    def wrapper(pred: torch.Tensor, target: torch.Tensor, weight: Optional[torch.Tensor] = None,
                reduction: str = 'mean', **kwargs) -> torch.Tensor:
        return weight_reduce_loss(loss_func(pred, target, **kwargs), weight, reduction)

    return wrapper
