"""An endless stream of training batches over one loader: it restarts the loader (new epoch) when exhausted.

PDD trains on two loaders (synthetic pairs `train_s` and real LR `train_t`) whose epochs differ; each gets a stream.
A stream records its epoch and how many batches of it were consumed, so a resume continues mid-epoch at the same batch.
"""

from typing import Optional

from torch.utils.data import DataLoader

from basicsr.data.prefetch_dataloader import CPUPrefetcher, CUDAPrefetcher


class TrainStream:
    """Batches from `loader` forever; `epoch` counts completed passes, samplers are re-seeded per epoch."""

    def __init__(
        self,
        loader: DataLoader,
        sampler=None,
        prefetch_mode: Optional[str] = None,
        opt: Optional[dict] = None,
        start_epoch: int = 0,
    ) -> None:
        self.loader = loader
        self.sampler = sampler
        self.epoch = start_epoch
        self.batches_in_epoch = 0
        if sampler is not None:
            sampler.set_epoch(start_epoch)
        self.prefetcher = CUDAPrefetcher(loader, opt) if prefetch_mode == 'cuda' else CPUPrefetcher(loader)

    def _start_epoch(self, skip_batches: int = 0) -> None:
        if self.sampler is not None:
            self.sampler.set_epoch(self.epoch)
            if skip_batches:
                self.sampler.skip_next(skip_batches * self.loader.batch_size)
        self.batches_in_epoch = skip_batches
        self.prefetcher.reset()

    def next(self) -> dict:
        batch = self.prefetcher.next()
        if batch is None:
            self.epoch += 1
            self._start_epoch()
            batch = self.prefetcher.next()
            if batch is None:
                raise RuntimeError(
                    'The training loader yields no batch: the dataset is smaller than one batch '
                    '(drop_last is on); use fewer images per batch or more images.'
                )
        self.batches_in_epoch += 1
        return batch

    def state_dict(self) -> dict:
        return {'epoch': self.epoch, 'batches_in_epoch': self.batches_in_epoch}

    def load_state_dict(self, state: dict) -> None:
        """Continue at batch `batches_in_epoch` of epoch `epoch` (exact when the sampler can skip)."""
        self.epoch = state['epoch']
        self._start_epoch(state['batches_in_epoch'] if self.sampler is not None else 0)
