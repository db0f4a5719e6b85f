"""Skip optimisation steps whose loss or gradients are not finite; stop the run after too many in a row."""

from collections.abc import Iterable

import torch

from basicsr.utils.logger import get_root_logger


class NonFiniteLossError(RuntimeError):
    """Raised after `max_consecutive` iterations in a row had a non-finite loss or gradient."""


class NanGuard:
    """Per-step checks (`loss_ok`, `grads_ok`) and a per-iteration verdict (`end_iteration`)."""

    def __init__(self, enabled: bool = True, max_consecutive: int = 5, check_grads: bool = True) -> None:
        self.enabled = enabled
        self.max_consecutive = max_consecutive
        self.check_grads = check_grads
        self.consecutive = 0
        self.skipped_this_iter = False

    def loss_ok(self, loss: torch.Tensor, loss_dict: dict, current_iter: int, label: str) -> bool:
        if not self.enabled or bool(torch.isfinite(loss)):
            return True
        bad = [
            name
            for name, value in loss_dict.items()
            if torch.is_tensor(value) and not bool(torch.isfinite(value).all())
        ]
        get_root_logger().warning(
            f'iter {current_iter}: non-finite {label} loss (from {", ".join(bad) or "total"}); '
            f'the {label} step is skipped.'
        )
        self.skipped_this_iter = True
        return False

    def grads_ok(self, params: Iterable[torch.Tensor], current_iter: int, label: str) -> bool:
        if not (self.enabled and self.check_grads):
            return True
        grads = [p.grad for p in params if p.grad is not None]
        if not grads or bool(torch.isfinite(torch.stack(torch._foreach_norm([g.detach() for g in grads]))).all()):
            return True
        get_root_logger().warning(f'iter {current_iter}: non-finite {label} gradient; the {label} step is skipped.')
        self.skipped_this_iter = True
        return False

    def end_iteration(self, current_iter: int) -> None:
        """Count iterations with a skipped step; raise after `max_consecutive` in a row."""
        self.consecutive = self.consecutive + 1 if self.skipped_this_iter else 0
        self.skipped_this_iter = False
        if self.enabled and self.consecutive >= self.max_consecutive:
            raise NonFiniteLossError(
                f'{self.consecutive} consecutive iterations up to iter {current_iter} had non-finite losses or '
                'gradients; stopping. Lower the learning rate, check the data, or raise '
                'train.nan_guard.max_consecutive.'
            )
