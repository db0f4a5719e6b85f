"""Datasets, discovered from `*_dataset.py` files and built by name from options, and their data loaders."""

import copy
import os
import random
from functools import partial
from typing import Callable, Optional

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from basicsr.data.prefetch_dataloader import PrefetchDataLoader
from basicsr.utils.dist_util import get_dist_info
from basicsr.utils.logger import get_root_logger
from basicsr.utils.registry import DATASET_REGISTRY, import_modules_by_suffix

__all__ = ['build_dataset', 'build_dataloader']

_dataset_modules = import_modules_by_suffix(__name__, os.path.dirname(os.path.abspath(__file__)), '_dataset')


def build_dataset(dataset_opt: dict) -> Dataset:
    """Build the dataset named by `dataset_opt['type']` from a deep copy of its options."""
    dataset_opt = copy.deepcopy(dataset_opt)
    dataset = DATASET_REGISTRY.get(dataset_opt['type'])(dataset_opt)
    get_root_logger().info(f'Dataset [{dataset.__class__.__name__}] - {dataset_opt.get("name")} is built.')
    return dataset


def _train_loader_args(
    dataset: Dataset, dataset_opt: dict, num_gpu: int, dist: bool, sampler: Optional[Sampler], seed: Optional[int]
) -> dict:
    """Batch size and workers per GPU (times the GPU count in single-process multi-GPU), shuffling, worker seeding."""
    multiplier = 1 if dist else max(num_gpu, 1)
    batch_size = dataset_opt['batch_size_per_gpu'] * multiplier
    num_workers = dataset_opt['num_worker_per_gpu'] * multiplier
    rank, _ = get_dist_info()
    return dict(
        dataset=dataset,
        batch_size=batch_size,
        shuffle=sampler is None and bool(dataset_opt.get('use_shuffle', True)),
        num_workers=num_workers,
        sampler=sampler,
        drop_last=True,
        worker_init_fn=None if seed is None else partial(worker_init_fn, num_workers=num_workers, rank=rank, seed=seed),
    )


def build_dataloader(
    dataset: Dataset,
    dataset_opt: dict,
    num_gpu: int = 1,
    dist: bool = False,
    sampler: Optional[Sampler] = None,
    seed: Optional[int] = None,
    collate_fn: Optional[Callable] = None,
) -> DataLoader:
    """Build a loader with BasicSR's rules: training batches per GPU, val/test one image at a time in order.

    `num_gpu: 0` (CPU) counts as one device. `prefetch_mode: cpu` returns a PrefetchDataLoader with
    `num_prefetch_queue` batches buffered; `cuda` and ~ return a plain DataLoader (wrap it in CUDAPrefetcher for cuda).
    """
    phase = dataset_opt['phase']
    if phase == 'train':
        loader_args = _train_loader_args(dataset, dataset_opt, num_gpu, dist, sampler, seed)
    elif phase in ('val', 'test'):
        loader_args = dict(dataset=dataset, batch_size=1, shuffle=False, num_workers=0)
    else:
        raise ValueError(
            f"Dataset {dataset_opt.get('name')!r} has phase {phase!r}; use 'train', 'val' or 'test' "
            f'(the datasets key should start with one of them).'
        )
    loader_args['collate_fn'] = collate_fn
    loader_args['pin_memory'] = dataset_opt.get('pin_memory', False)
    loader_args['persistent_workers'] = dataset_opt.get('persistent_workers', False) and loader_args['num_workers'] > 0
    prefetch_mode = dataset_opt.get('prefetch_mode')
    if prefetch_mode == 'cpu':
        num_prefetch_queue = dataset_opt.get('num_prefetch_queue', 1)
        get_root_logger().info(f'Use cpu prefetch dataloader: num_prefetch_queue = {num_prefetch_queue}')
        return PrefetchDataLoader(num_prefetch_queue=num_prefetch_queue, **loader_args)
    if prefetch_mode not in (None, 'cuda'):
        raise ValueError(
            f"prefetch_mode {prefetch_mode!r} of dataset {dataset_opt.get('name')!r} is not one of ~, 'cpu', 'cuda'."
        )
    return DataLoader(**loader_args)


def worker_init_fn(worker_id: int, num_workers: int, rank: int, seed: int) -> None:
    """Seed numpy and `random` in each worker, distinct across workers, ranks and epochs.

    torch gives each worker `base_seed + worker_id`, with `base_seed` drawn from the (seeded) main process per epoch;
    adding it keeps runs reproducible while avoiding BasicSR's repetition of the same augmentations every epoch.
    """
    worker_seed = (torch.initial_seed() + num_workers * rank + worker_id + seed) % 2**32
    np.random.seed(worker_seed)
    random.seed(worker_seed)
