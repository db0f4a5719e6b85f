"""An endless stream of training batches over one loader: it restarts the loader (new epoch) when exhausted.

PDD trains on two loaders (synthetic pairs `train_s` and real LR `train_t`) whose epochs differ; each gets a stream.
"""
import math
from typing import Optional

from torch.utils.data import DataLoader

from basicsr.data.prefetch_dataloader import CPUPrefetcher, CUDAPrefetcher


class TrainStream:
    """Batches from `loader` forever; `epoch` counts completed passes, samplers are re-seeded per epoch."""

    def __init__(self, loader: DataLoader, sampler=None, prefetch_mode: Optional[str] = None, opt: Optional[dict] = None,
                 start_epoch: int = 0) -> None:
        self.loader = loader
        self.sampler = sampler
        if prefetch_mode == 'cuda':
            self.prefetcher = CUDAPrefetcher(loader, opt)
        else:
            self.prefetcher = CPUPrefetcher(loader)
        self.epoch = start_epoch
        self._start_epoch()

    def _start_epoch(self) -> None:
        if self.sampler is not None:
            self.sampler.set_epoch(self.epoch)
        self.prefetcher.reset()

    def next(self) -> dict:
        batch = self.prefetcher.next()
        if batch is None:
            self.epoch += 1
            self._start_epoch()
            batch = self.prefetcher.next()
            if batch is None:
                raise RuntimeError('The training loader yields no batch: the dataset is smaller than one batch '
                                   '(drop_last is on); use fewer images per batch or more images.')
        return batch

    def iters_per_epoch(self) -> int:
        return max(len(self.loader), 1)


def epochs_for(total_iters: int, iters_per_epoch: int) -> int:
    return math.ceil(total_iters / max(iters_per_epoch, 1))
