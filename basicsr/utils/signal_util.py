"""Graceful stop on SIGTERM/SIGINT (pre-emption, Ctrl-C): finish the iteration, save, exit; a second signal exits
now."""

import os
import signal
from typing import Optional

import torch
import torch.distributed as dist

from basicsr.utils.logger import get_root_logger


class GracefulStop:
    """Installs handlers; `requested()` tells the training loop (agreed across DDP ranks) to save and stop."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.signal_name: Optional[str] = None
        self._previous = {}

    def __enter__(self) -> 'GracefulStop':
        for sig in self.SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, frame) -> None:
        if self.signal_name is not None:
            get_root_logger().error(f'Second {signal.Signals(signum).name}: exiting now without saving.')
            os._exit(128 + signum)
        self.signal_name = signal.Signals(signum).name
        get_root_logger().warning(
            f'{self.signal_name} received: saving a checkpoint at the end of this iteration '
            f'(send it again to exit at once).'
        )

    def requested(self) -> bool:
        """True on every rank as soon as any rank got a signal."""
        flag = self.signal_name is not None
        if dist.is_available() and dist.is_initialized():
            tensor = torch.tensor([int(flag)], dtype=torch.int32)
            if dist.get_backend() == 'nccl':
                tensor = tensor.cuda()
            dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
            flag = bool(tensor.item())
        return flag
