"""Wall-clock time per named part of a training step, for the benchmark's breakdown (off in training)."""
import contextlib
import time
from collections import defaultdict
from typing import Iterator, Optional

import torch


class PartTimer:
    """Accumulates seconds per part; on CUDA it synchronises at part boundaries so kernels are charged to their part.

    The synchronisation itself costs time, so steps timed for the breakdown are not the steps timed for the total.
    """

    def __init__(self, device: Optional[torch.device] = None) -> None:
        self.sync = device is not None and device.type == 'cuda'
        self.seconds: dict[str, float] = defaultdict(float)
        self.part_start = 0.0

    def now(self) -> float:
        if self.sync:
            torch.cuda.synchronize()
        return time.perf_counter()

    @contextlib.contextmanager
    def part(self, name: str) -> Iterator[None]:
        self.part_start = self.now()
        yield
        self.seconds[name] += self.now() - self.part_start

    def split_at_grad(self, tensor: torch.Tensor, first: str) -> None:
        """Within an open part, charge the time until `tensor`'s gradient is computed to `first` (splits a backward)."""

        def charge(grad: torch.Tensor) -> None:
            now = self.now()
            self.seconds[first] += now - self.part_start
            self.part_start = now

        tensor.register_hook(charge)

    def reset(self) -> None:
        self.seconds.clear()


class NoTimer:
    """The timer used in training: every part is a no-op."""

    @staticmethod
    def part(name: str) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()

    @staticmethod
    def split_at_grad(tensor: torch.Tensor, first: str) -> None:
        return None


NO_TIMER = NoTimer()
