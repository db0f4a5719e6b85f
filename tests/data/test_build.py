import logging
import random

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from basicsr.data import build_dataloader, build_dataset, worker_init_fn
from basicsr.data.data_sampler import EnlargedSampler
from basicsr.data.dataset_options import COMMON_DATASET_KEYS, unknown_dataset_keys
from basicsr.data.paired_image_dataset import PairedImageDataset
from basicsr.data.prefetch_dataloader import PrefetchDataLoader
from basicsr.data.single_image_dataset import SingleImageDataset
from basicsr.utils.logger import get_root_logger
from basicsr.utils.misc import set_random_seed


class _RandomDrawDataset(Dataset):
    """Returns its index with one draw from `random` and numpy, to observe per-worker seeding."""

    def __len__(self):
        return 8

    def __getitem__(self, index):
        return {'index': index, 'py': random.random(), 'np': float(np.random.rand())}


def _write_pairs(root, count=4):
    for sub in ('lq', 'gt'):
        (root / sub).mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        lq = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        cv2.imwrite(str(root / 'lq' / f'{i:04d}.png'), lq)
        cv2.imwrite(str(root / 'gt' / f'{i:04d}.png'), lq.repeat(2, 0).repeat(2, 1))
    return str(root / 'lq'), str(root / 'gt')


def _train_opt(lq, gt, **extra):
    opt = dict(
        name='pairs',
        type='PairedImageDataset',
        dataroot_lq=lq,
        dataroot_gt=gt,
        io_backend={'type': 'disk'},
        phase='train',
        scale=2,
        gt_size=8,
        use_hflip=True,
        use_rot=True,
        batch_size_per_gpu=2,
        num_worker_per_gpu=0,
    )
    opt.update(extra)
    return opt


def test_build_dataset_uses_the_registry_and_leaves_options_untouched(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    lq, gt = _write_pairs(tmp_path)
    opt = _train_opt(lq, gt)
    logger = get_root_logger()
    logger.addHandler(caplog.handler)
    try:
        dataset = build_dataset(opt)
    finally:
        logger.removeHandler(caplog.handler)
    assert isinstance(dataset, PairedImageDataset) and len(dataset) == 4
    assert 'Dataset [PairedImageDataset] - pairs is built.' in caplog.text
    assert opt['io_backend'] == {'type': 'disk'}
    with pytest.raises(KeyError, match='PairedImageDataset'):
        build_dataset(dict(opt, type='PairedImageDatset'))


@pytest.mark.parametrize('num_gpu, dist, expected_batch', [(1, False, 2), (0, False, 2), (2, False, 4), (2, True, 2)])
def test_train_loader_batch_follows_gpu_count(tmp_path, num_gpu, dist, expected_batch):
    lq, gt = _write_pairs(tmp_path, count=5)
    dataset = build_dataset(_train_opt(lq, gt))
    loader = build_dataloader(dataset, _train_opt(lq, gt), num_gpu=num_gpu, dist=dist)
    batches = list(loader)
    assert batches[0]['gt'].shape == (expected_batch, 3, 8, 8) and batches[0]['lq'].shape == (expected_batch, 3, 4, 4)
    assert len(batches) == 5 // expected_batch, 'incomplete last batches are dropped in training'


def test_val_loader_gives_one_image_at_a_time_in_order(tmp_path):
    lq, gt = _write_pairs(tmp_path, count=3)
    opt = dict(_train_opt(lq, gt), phase='val', persistent_workers=True)
    loader = build_dataloader(build_dataset(opt), opt, num_gpu=2)
    paths = [batch['gt_path'][0] for batch in loader]
    assert paths == sorted(paths) and len(paths) == 3
    assert loader.batch_size == 1


def test_seeded_train_loader_is_reproducible_and_seed_dependent(tmp_path):
    lq, gt = _write_pairs(tmp_path, count=4)
    opt = _train_opt(lq, gt, num_worker_per_gpu=1)
    dataset = build_dataset(opt)

    def first_epoch(seed):
        set_random_seed(0)
        return [batch['lq'] for batch in build_dataloader(dataset, opt, num_gpu=1, seed=seed)]

    run_a, run_b, other_seed = first_epoch(10), first_epoch(10), first_epoch(11)
    assert all(torch.equal(a, b) for a, b in zip(run_a, run_b))
    assert not all(torch.equal(a, c) for a, c in zip(run_a, other_seed))


def test_worker_init_fn_seeds_each_worker_distinctly_per_rank():
    worker_init_fn(1, num_workers=2, rank=1, seed=100)
    first = (random.random(), np.random.rand())
    worker_init_fn(0, num_workers=2, rank=1, seed=101)
    assert (random.random(), np.random.rand()) == first, 'seed = num_workers * rank + worker_id + seed'
    opt = dict(phase='train', batch_size_per_gpu=8, num_worker_per_gpu=2)
    draws = [batch['py'] for batch in build_dataloader(_RandomDrawDataset(), opt, num_gpu=1, seed=3)][0]
    assert len(set(draws.tolist())) == 8


def test_loader_uses_the_given_sampler_and_prefetch_mode(tmp_path):
    dataset = _RandomDrawDataset()
    sampler = EnlargedSampler(dataset, num_replicas=1, rank=0, ratio=2)
    opt = dict(phase='train', batch_size_per_gpu=4, num_worker_per_gpu=0, prefetch_mode='cpu', num_prefetch_queue=2)
    loader = build_dataloader(dataset, opt, sampler=sampler)
    assert isinstance(loader, PrefetchDataLoader) and loader.sampler is sampler
    assert sorted(i for batch in loader for i in batch['index'].tolist()) == sorted(list(range(8)) * 2)
    with pytest.raises(ValueError, match='prefetch_mode'):
        build_dataloader(dataset, dict(opt, prefetch_mode='gpu'))
    with pytest.raises(ValueError, match='phase'):
        build_dataloader(dataset, dict(opt, phase='training'))
    assert type(build_dataloader(dataset, dict(opt, prefetch_mode=None))) is DataLoader


def test_enlarged_sampler_shards_the_enlarged_indices_disjointly_across_ranks():
    dataset = list(range(5))
    shards = [list(EnlargedSampler(dataset, num_replicas=2, rank=rank, ratio=4)) for rank in range(2)]
    assert [len(s) for s in shards] == [10, 10]
    assert sorted(shards[0] + shards[1]) == sorted(dataset * 4)


def test_enlarged_sampler_reshuffles_per_epoch_identically_on_all_ranks():
    sampler = EnlargedSampler(list(range(10)), num_replicas=2, rank=1)
    twin = EnlargedSampler(list(range(10)), num_replicas=2, rank=1)
    epoch0 = list(sampler)
    sampler.set_epoch(1)
    assert list(sampler) != epoch0
    twin.set_epoch(1)
    assert list(twin) == list(sampler)


def test_enlarged_sampler_pads_uneven_shards_to_equal_length():
    shards = [list(EnlargedSampler(list(range(3)), num_replicas=2, rank=rank)) for rank in range(2)]
    assert [len(s) for s in shards] == [2, 2]
    assert set(shards[0] + shards[1]) == {0, 1, 2}


def test_unknown_dataset_keys_reports_typos_but_not_shared_or_undeclared_keys():
    opt = dict(
        name='x',
        type='SingleImageDataset',
        dataroot_lq='lr',
        dataroot_ref='ref',
        lq_size=48,
        use_filp=True,
        batch_size_per_gpu=8,
        on_bad_image='skip',
    )
    assert unknown_dataset_keys(SingleImageDataset, opt) == ['use_filp']
    assert unknown_dataset_keys(PairedImageDataset, opt) == ['lq_size', 'use_filp']
    assert unknown_dataset_keys(_RandomDrawDataset, opt) == []
    assert {'prefetch_mode', 'dataset_enlarge_ratio', 'filename_tmpl'} <= COMMON_DATASET_KEYS
