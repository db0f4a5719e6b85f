"""What every model does between its losses and its optimiser steps: autocast, fp16 loss scaling, gradient
accumulation over micro-batches, clipping by norm and the NaN guard, all per optimiser step.

A model's `optimize_parameters` runs once per micro-batch. Gradients of the `accum_iter` micro-batches of one
iteration add up (each loss divided by `accum_iter`, so the sum is the gradient of the mean loss); the optimisers step
on the last one. A non-finite loss in any micro-batch skips that network's step for the whole iteration.
"""

import contextlib
from collections import OrderedDict
from typing import Optional

import torch
from torch import nn

from basicsr.models.nan_guard import NanGuard
from basicsr.models.perf_options import AMP_DTYPES, PerfOptions

LABELS = {'net_g': 'G', 'net_d': 'D'}  # how the log names each network's step


class TrainingStep:
    """Per-iteration state of one model's optimisation: which micro-batch runs, skipped networks, summed losses."""

    def __init__(self, perf: PerfOptions, device: torch.device, nan_guard: NanGuard) -> None:
        self.perf = perf
        self.device = device
        self.nan_guard = nan_guard
        self.scaler = torch.amp.GradScaler(device.type) if perf.amp == 'fp16' else None
        self.micro_batch = 0
        self.skipped: set[str] = set()
        self.loss_sums: OrderedDict = OrderedDict()
        self.loss_counts: dict[str, int] = {}

    @property
    def first(self) -> bool:
        return self.micro_batch == 0

    @property
    def last(self) -> bool:
        return self.micro_batch == self.perf.accum_iter - 1

    def begin(self, micro_batch: int) -> None:
        """Start micro-batch `micro_batch` of the current iteration."""
        self.micro_batch = micro_batch

    def autocast(self) -> contextlib.AbstractContextManager:
        """The `amp` autocast for network forwards, or nothing; losses compute in fp32 inside it anyway."""
        if self.perf.amp is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=AMP_DTYPES[self.perf.amp])

    def zero_grad(self, optimizer: torch.optim.Optimizer) -> None:
        """Clear gradients at the start of an iteration; later micro-batches add to them."""
        if self.first:
            optimizer.zero_grad(set_to_none=self.perf.set_to_none)

    def backward(self, loss: torch.Tensor, net_name: str, loss_dict: OrderedDict, current_iter: int) -> bool:
        """Backpropagate this micro-batch's share of `loss`; a non-finite loss is logged and skips the step."""
        if not self.nan_guard.loss_ok(loss, loss_dict, current_iter, LABELS.get(net_name, net_name)):
            self.skipped.add(net_name)
            return False
        if self.perf.accum_iter > 1:
            loss = loss / self.perf.accum_iter
        (loss if self.scaler is None else self.scaler.scale(loss)).backward()
        return True

    def step(
        self, optimizer: torch.optim.Optimizer, net: nn.Module, net_name: str, loss_dict: OrderedDict, current_iter: int
    ) -> bool:
        """On the last micro-batch: unscale (fp16), clip (`grad_clip`, norm logged), check and step `optimizer`."""
        if not self.last:
            return False
        label = LABELS.get(net_name, net_name)
        if net_name in self.skipped:
            optimizer.zero_grad(set_to_none=True)
            return False
        max_norm = self.perf.grad_clip.get(net_name)
        if self.scaler is not None and max_norm is not None:
            self.scaler.unscale_(optimizer)
        if max_norm is not None:
            loss_dict[f'grad_norm_{net_name}'] = nn.utils.clip_grad_norm_(net.parameters(), max_norm)
        if self.scaler is not None:  # the scaler skips steps with inf gradients (normal while it finds its scale)
            self.scaler.step(optimizer)
            return True
        params = [p for group in optimizer.param_groups for p in group['params']]
        if not self.nan_guard.grads_ok(params, current_iter, label):
            optimizer.zero_grad(set_to_none=True)
            return False
        optimizer.step()
        return True

    def end_micro_batch(self, loss_dict: OrderedDict) -> Optional[OrderedDict]:
        """Add this micro-batch's logged values; after the last one, let the fp16 scaler adapt its scale, clear the
        iteration's records and return the means of its logged values."""
        for name, value in loss_dict.items():
            value = value.detach() if torch.is_tensor(value) else value
            self.loss_sums[name] = self.loss_sums[name] + value if name in self.loss_sums else value
            self.loss_counts[name] = self.loss_counts.get(name, 0) + 1
        if not self.last:
            return None
        means = OrderedDict((name, total / self.loss_counts[name]) for name, total in self.loss_sums.items())
        if self.scaler is not None:
            self.scaler.update()
        self.skipped.clear()
        self.loss_sums.clear()
        self.loss_counts.clear()
        return means
