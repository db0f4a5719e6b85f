"""Element-wise weighting and reduction shared by the pixel losses (BasicSR semantics), and the fp32 rule of every
loss under AMP."""

import functools
from typing import Any, Callable, Optional

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


def weight_reduce_loss(
    loss: torch.Tensor, weight: Optional[torch.Tensor] = None, reduction: str = 'mean'
) -> torch.Tensor:
    """Multiply an element-wise loss by `weight` and reduce it.

    As in BasicSR, a weighted 'mean' averages over the weighted region: sum(loss * weight) / sum(weight), where a
    one-channel weight counts once per loss channel.
    """
    if weight is None:
        return reduce_loss(loss, reduction)
    loss_channels = loss.size(1) if loss.dim() > 1 else 1
    weight_channels = weight.size(1) if weight.dim() > 1 else 1
    if weight.dim() != loss.dim() or weight_channels not in (1, loss_channels):
        raise ValueError(
            f'Loss weight of shape {tuple(weight.shape)} does not match the loss of shape '
            f'{tuple(loss.shape)}: it needs the same rank and 1 or {loss_channels} channels.'
        )
    loss = loss * weight
    if reduction != 'mean':
        return reduce_loss(loss, reduction)
    channels_per_weight = loss_channels if weight_channels == 1 else 1
    return loss.sum() / (weight.sum() * channels_per_weight)


def weighted_loss(loss_func: Callable) -> Callable:
    """Turn `loss_func(pred, target, **kwargs)` returning an element-wise loss into
    `loss_func(pred, target, weight=None, reduction='mean', **kwargs)`."""

    @functools.wraps(loss_func)
    def wrapper(
        pred: torch.Tensor,
        target: torch.Tensor,
        weight: Optional[torch.Tensor] = None,
        reduction: str = 'mean',
        **kwargs,
    ) -> torch.Tensor:
        return weight_reduce_loss(loss_func(pred, target, **kwargs), weight, reduction)

    return wrapper


def full_precision(value: Any) -> Any:
    """A half-precision tensor (or a dict of them, e.g. VGG features) cast to fp32; anything else unchanged."""
    if isinstance(value, dict):
        return {key: full_precision(item) for key, item in value.items()}
    if torch.is_tensor(value) and value.dtype in (torch.float16, torch.bfloat16):
        return value.float()
    return value


def _device_type(values: tuple) -> str:
    for value in values:
        if isinstance(value, dict):
            value = next(iter(value.values()), None)
        if torch.is_tensor(value):
            return value.device.type
    return 'cpu'


def fp32_loss(forward: Callable) -> Callable:
    """Compute a loss module's `forward` in fp32 whatever AMP does around it: half-precision inputs are cast up and
    autocast is off inside (Gram matrices, softmax, norms and reductions lose too much in bf16/fp16). A no-op in
    fp32 and float64."""

    @functools.wraps(forward)
    def wrapper(self, *args, **kwargs):
        args = tuple(full_precision(arg) for arg in args)
        kwargs = {key: full_precision(value) for key, value in kwargs.items()}
        with torch.autocast(_device_type(args + tuple(kwargs.values())), enabled=False):
            return forward(self, *args, **kwargs)

    return wrapper
