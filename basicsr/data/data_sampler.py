"""A distributed sampler that also repeats the dataset, so one 'epoch' of a small dataset lasts many iterations."""

import math
from collections.abc import Iterator, Sized

import torch
from torch.utils.data.sampler import Sampler


def iterations_per_epoch(num_items: int, enlarge_ratio: float, batch_size: int, world_size: int = 1) -> int:
    """Batches one process draws per epoch: EnlargedSampler's ceil(items x ratio / world size) samples in batches of
    `batch_size`, the incomplete last batch dropped (training loaders use drop_last)."""
    return math.ceil(num_items * enlarge_ratio / world_size) // batch_size


class EnlargedSampler(Sampler):
    """Shard a `ratio`-times enlarged index set across `num_replicas` DDP ranks (BasicSR's EnlargedSampler).

    Each epoch draws one permutation of the enlarged set, seeded by the epoch, so all ranks agree on it; rank r takes
    every `num_replicas`-th position starting at r, and positions map back to dataset indices modulo its length.
    """

    def __init__(self, dataset: Sized, num_replicas: int, rank: int, ratio: int = 1) -> None:
        if len(dataset) == 0:
            raise ValueError('EnlargedSampler got an empty dataset; check the dataset folders.')
        if not 0 <= rank < num_replicas:
            raise ValueError(f'EnlargedSampler rank {rank} is outside [0, {num_replicas}).')
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.skip = 0
        self.num_samples = math.ceil(len(dataset) * ratio / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator()
        generator.manual_seed(self.epoch)
        positions = torch.randperm(self.total_size, generator=generator).tolist()
        dataset_size = len(self.dataset)
        own = positions[self.rank : self.total_size : self.num_replicas][self.skip :]
        self.skip = 0
        return iter([pos % dataset_size for pos in own])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Reshuffle for a new epoch (call on every rank with the same epoch)."""
        self.epoch = epoch

    def skip_next(self, num_samples: int) -> None:
        """Make the next pass start `num_samples` into this epoch's order (resuming mid-epoch)."""
        self.skip = num_samples
