import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from basicsr.data.prefetch_dataloader import CPUPrefetcher, CUDAPrefetcher, PrefetchDataLoader, PrefetchGenerator


class _IndexDataset(Dataset):
    def __init__(self, length=6, fail_at=None):
        self.length = length
        self.fail_at = fail_at

    def __len__(self):
        return self.length

    def __getitem__(self, index):
        if index == self.fail_at:
            raise RuntimeError(f'sample {index} is broken')
        return {'lq': torch.full((1, 2, 2), float(index)), 'lq_path': f'{index}.png'}


def _indices(batches):
    return [batch['lq'][:, 0, 0, 0].tolist() for batch in batches]


def test_prefetch_dataloader_yields_the_same_batches_as_a_dataloader():
    plain = DataLoader(_IndexDataset(), batch_size=2)
    prefetched = PrefetchDataLoader(num_prefetch_queue=2, dataset=_IndexDataset(), batch_size=2)
    assert _indices(prefetched) == _indices(plain) == [[0, 1], [2, 3], [4, 5]]
    assert _indices(prefetched) == _indices(plain), 'a second pass restarts the data'


def test_prefetch_generator_reraises_errors_from_the_producer_thread():
    loader = PrefetchDataLoader(num_prefetch_queue=1, dataset=_IndexDataset(fail_at=3), batch_size=2)
    iterator = iter(loader)
    assert next(iterator)['lq'].shape == (2, 1, 2, 2)
    with pytest.raises(RuntimeError, match='sample 3 is broken'):
        next(iterator)


def test_prefetch_generator_wraps_any_iterable():
    assert list(PrefetchGenerator(iter(range(5)), num_prefetch_queue=1)) == [0, 1, 2, 3, 4]


def test_cpu_prefetcher_returns_none_at_the_end_and_restarts_on_reset():
    prefetcher = CPUPrefetcher(DataLoader(_IndexDataset(length=4), batch_size=2))
    first = [prefetcher.next(), prefetcher.next()]
    assert _indices(first) == [[0, 1], [2, 3]]
    assert prefetcher.next() is None
    prefetcher.reset()
    assert _indices([prefetcher.next()]) == [[0, 1]]


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU-only error')
def test_cuda_prefetcher_refuses_to_start_without_cuda():
    with pytest.raises(RuntimeError, match="prefetch_mode 'cuda'"):
        CUDAPrefetcher(DataLoader(_IndexDataset()), {'num_gpu': 1})


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')
def test_cuda_prefetcher_moves_tensors_to_the_gpu_and_keeps_other_values():
    prefetcher = CUDAPrefetcher(DataLoader(_IndexDataset(length=4), batch_size=2), {'num_gpu': 1})
    batch = prefetcher.next()
    assert batch['lq'].is_cuda and batch['lq_path'] == ['0.png', '1.png']
    assert prefetcher.next()['lq'][:, 0, 0, 0].tolist() == [2, 3]
    assert prefetcher.next() is None
    prefetcher.reset()
    assert prefetcher.next()['lq'][:, 0, 0, 0].tolist() == [0, 1]
