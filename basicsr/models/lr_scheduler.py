"""Learning-rate schedulers with BasicSR's restart semantics (MultiStepRestartLR, CosineAnnealingRestartLR)."""

import math
from collections import Counter
from collections.abc import Sequence

from torch.optim.lr_scheduler import _LRScheduler


class MultiStepRestartLR(_LRScheduler):
    """Multiply the lr by `gamma` at each milestone; at a restart, reset to the initial lr times its weight."""

    def __init__(
        self,
        optimizer,
        milestones: Sequence[int],
        gamma: float = 0.1,
        restarts: Sequence[int] = (0,),
        restart_weights: Sequence[float] = (1,),
        last_epoch: int = -1,
    ) -> None:
        self.milestones = Counter(milestones)
        self.gamma = gamma
        self.restarts = list(restarts)
        self.restart_weights = list(restart_weights)
        if len(self.restarts) != len(self.restart_weights):
            raise ValueError('scheduler.restarts and scheduler.restart_weights must have the same length.')
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch in self.restarts:
            weight = self.restart_weights[self.restarts.index(self.last_epoch)]
            return [group['initial_lr'] * weight for group in self.optimizer.param_groups]
        if self.last_epoch not in self.milestones:
            return [group['lr'] for group in self.optimizer.param_groups]
        return [group['lr'] * self.gamma ** self.milestones[self.last_epoch] for group in self.optimizer.param_groups]


def get_position_from_periods(iteration: int, cumulative_period: Sequence[int]) -> int:
    """Index of the first period whose cumulative end is >= `iteration`."""
    for i, period in enumerate(cumulative_period):
        if iteration <= period:
            return i
    return len(cumulative_period) - 1


class CosineAnnealingRestartLR(_LRScheduler):
    """Cosine annealing from the initial lr to `eta_min` within each period, restarting with `restart_weights`."""

    def __init__(
        self,
        optimizer,
        periods: Sequence[int],
        restart_weights: Sequence[float] = (1,),
        eta_min: float = 0,
        last_epoch: int = -1,
    ) -> None:
        self.periods = list(periods)
        self.restart_weights = list(restart_weights)
        self.eta_min = eta_min
        if len(self.periods) != len(self.restart_weights):
            raise ValueError('scheduler.periods and scheduler.restart_weights must have the same length.')
        self.cumulative_period = [sum(self.periods[0 : i + 1]) for i in range(len(self.periods))]
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        idx = get_position_from_periods(self.last_epoch, self.cumulative_period)
        current_weight = self.restart_weights[idx]
        nearest_restart = 0 if idx == 0 else self.cumulative_period[idx - 1]
        current_period = self.periods[idx]
        progress = (self.last_epoch - nearest_restart) / current_period
        return [
            self.eta_min + current_weight * 0.5 * (base_lr - self.eta_min) * (1 + math.cos(math.pi * progress))
            for base_lr in self.base_lrs
        ]
