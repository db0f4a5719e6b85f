"""Data prefetching: a background-thread DataLoader wrapper and CPU/CUDA batch prefetchers (BasicSR's interfaces)."""

import queue
import threading
from collections.abc import Iterator
from typing import Any, Optional

import torch
from torch.utils.data import DataLoader

_END = object()


class _PrefetchError:
    """Carries an exception from the producer thread to the consumer, which re-raises it."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class PrefetchGenerator(threading.Thread):
    """Run `generator` in a daemon thread, keeping up to `num_prefetch_queue` items ready."""

    def __init__(self, generator: Iterator, num_prefetch_queue: int) -> None:
        super().__init__(daemon=True)
        self.queue: queue.Queue = queue.Queue(num_prefetch_queue)
        self.generator = generator
        self.start()

    def run(self) -> None:
        try:
            for item in self.generator:
                self.queue.put(item)
        except BaseException as error:  # re-raised in the consumer thread by __next__
            self.queue.put(_PrefetchError(error))
            return
        self.queue.put(_END)

    def __next__(self) -> Any:
        item = self.queue.get()
        if item is _END:
            raise StopIteration
        if isinstance(item, _PrefetchError):
            raise item.error
        return item

    def __iter__(self) -> 'PrefetchGenerator':
        return self


class PrefetchDataLoader(DataLoader):
    """A DataLoader whose iterator is fed by a background thread (`prefetch_mode: cpu`)."""

    def __init__(self, num_prefetch_queue: int, **kwargs) -> None:
        self.num_prefetch_queue = num_prefetch_queue
        super().__init__(**kwargs)

    def __iter__(self) -> PrefetchGenerator:
        return PrefetchGenerator(super().__iter__(), self.num_prefetch_queue)


class CPUPrefetcher:
    """Iterate a loader with `next()` returning None at the end and `reset()` starting a new pass."""

    def __init__(self, loader: DataLoader) -> None:
        self.ori_loader = loader
        self.loader = iter(loader)

    def next(self) -> Optional[Any]:
        try:
            return next(self.loader)
        except StopIteration:
            return None

    def reset(self) -> None:
        self.loader = iter(self.ori_loader)


class CUDAPrefetcher:
    """Copy the next batch to the GPU on a side stream while the current one is used (`prefetch_mode: cuda`)."""

    def __init__(self, loader: DataLoader, opt: dict) -> None:
        if not torch.cuda.is_available() or opt.get('num_gpu', 1) == 0:
            raise RuntimeError(
                "prefetch_mode 'cuda' needs a CUDA device and num_gpu > 0; "
                "set prefetch_mode to 'cpu' or ~ for CPU training."
            )
        self.ori_loader = loader
        self.loader = iter(loader)
        self.opt = opt
        self.stream = torch.cuda.Stream()
        self.device = torch.device('cuda')
        self.batch: Optional[dict] = None
        self.preload()

    def preload(self) -> None:
        """Fetch the next batch and start its non-blocking host-to-device copy on the side stream."""
        try:
            self.batch = next(self.loader)
        except StopIteration:
            self.batch = None
            return
        with torch.cuda.stream(self.stream):
            for key, value in self.batch.items():
                if torch.is_tensor(value):
                    self.batch[key] = value.to(device=self.device, non_blocking=True)

    def next(self) -> Optional[dict]:
        """Return the prefetched batch (None at the end) once its copy is done, and start prefetching the next."""
        torch.cuda.current_stream().wait_stream(self.stream)
        batch = self.batch
        if batch is not None:
            for value in batch.values():
                if torch.is_tensor(value):
                    value.record_stream(torch.cuda.current_stream())
        self.preload()
        return batch

    def reset(self) -> None:
        self.loader = iter(self.ori_loader)
        self.preload()
