import random

import cv2
import numpy as np
import pytest
import torch

from basicsr.data import build_dataset
from basicsr.data.dataset_options import unknown_dataset_keys
from basicsr.data.degradations import circular_lowpass_kernel, random_mixed_kernels
from basicsr.data.realesrgan_dataset import RealESRGANDataset, RealESRGANPairedDataset
from basicsr.utils.misc import set_random_seed
from basicsr.utils.registry import DATASET_REGISTRY

KERNELS = ['iso', 'aniso', 'generalized_iso', 'generalized_aniso', 'plateau_iso', 'plateau_aniso']


def _write_images(folder, sizes, seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    names = []
    for i, (h, w) in enumerate(sizes):
        names.append(f'{i:03d}.png')
        cv2.imwrite(str(folder / names[-1]), (rng.random((h, w, 3)) * 255).astype(np.uint8))
    return names


@pytest.fixture
def gt_folder(tmp_path):
    names = _write_images(tmp_path / 'gt', [(80, 70), (64, 64), (50, 90)])
    (tmp_path / 'meta_info.txt').write_text(''.join(f'{n}\n' for n in names))
    return tmp_path


def _realesrgan_opt(root, **overrides) -> dict:
    """Real-ESRGAN's train_realesrgan_x4plus.yml dataset block (crop_pad_size lowered to keep the test fast)."""
    opt = {
        'name': 'DF2K+OST',
        'type': 'RealESRGANDataset',
        'dataroot_gt': str(root / 'gt'),
        'meta_info': str(root / 'meta_info.txt'),
        'io_backend': {'type': 'disk'},
        'blur_kernel_size': 21,
        'kernel_list': KERNELS,
        'kernel_prob': [0.45, 0.25, 0.12, 0.03, 0.12, 0.03],
        'sinc_prob': 0.1,
        'blur_sigma': [0.2, 3],
        'betag_range': [0.5, 4],
        'betap_range': [1, 2],
        'blur_kernel_size2': 21,
        'kernel_list2': KERNELS,
        'kernel_prob2': [0.45, 0.25, 0.12, 0.03, 0.12, 0.03],
        'sinc_prob2': 0.1,
        'blur_sigma2': [0.2, 1.5],
        'betag_range2': [0.5, 4],
        'betap_range2': [1, 2],
        'final_sinc_prob': 0.8,
        'gt_size': 256,
        'use_hflip': True,
        'use_rot': False,
        'use_shuffle': True,
        'num_worker_per_gpu': 5,
        'batch_size_per_gpu': 12,
        'dataset_enlarge_ratio': 1,
        'prefetch_mode': None,
        'phase': 'train',
        'scale': 4,
        'crop_pad_size': 64,
    }
    opt.update(overrides)
    return opt


def test_registered_with_basicsr_suffix_so_realesrgan_can_register_plain_names():
    assert 'RealESRGANDataset' not in DATASET_REGISTRY.keys()
    assert DATASET_REGISTRY.get('RealESRGANDataset') is RealESRGANDataset
    assert DATASET_REGISTRY.get('RealESRGANPairedDataset') is RealESRGANPairedDataset


def test_every_key_of_the_realesrgan_block_is_declared(gt_folder):
    opt = _realesrgan_opt(gt_folder)
    assert unknown_dataset_keys(RealESRGANDataset, opt) == []


def test_sample_holds_a_gt_crop_and_normalised_kernels(gt_folder):
    set_random_seed(0)
    dataset = build_dataset(_realesrgan_opt(gt_folder))
    assert len(dataset) == 3
    for item in (dataset[0], dataset[2]):
        assert item['gt'].shape == (3, 64, 64) and item['gt'].dtype == torch.float32
        for key in ('kernel1', 'kernel2', 'sinc_kernel'):
            assert item[key].shape == (21, 21)
            assert float(item[key].sum()) == pytest.approx(1, abs=1e-5)
    assert item['gt_path'].endswith('002.png')


def test_kernels_are_drawn_in_realesrgan_order(gt_folder):
    opt = _realesrgan_opt(gt_folder, use_hflip=False, sinc_prob=0, sinc_prob2=1, final_sinc_prob=0)
    dataset = build_dataset(opt)
    set_random_seed(3)
    item = dataset[1]  # 64x64: neither padded nor cropped, so no draws before the kernels
    set_random_seed(3)
    size1 = random.choice(range(7, 22, 2))
    np.random.uniform()  # sinc or not
    kernel1 = random_mixed_kernels(
        KERNELS, opt['kernel_prob'], size1, [0.2, 3], [0.2, 3], [-np.pi, np.pi], [0.5, 4], [1, 2]
    )
    size2 = random.choice(range(7, 22, 2))
    np.random.uniform()
    omega = np.random.uniform(np.pi / 3, np.pi) if size2 < 13 else np.random.uniform(np.pi / 5, np.pi)
    kernel2 = circular_lowpass_kernel(omega, size2)
    pad1, pad2 = (21 - size1) // 2, (21 - size2) // 2
    np.testing.assert_allclose(item['kernel1'].numpy(), np.pad(kernel1, pad1), atol=1e-7)
    np.testing.assert_allclose(item['kernel2'].numpy(), np.pad(kernel2, pad2), atol=1e-7)
    pulse = torch.zeros(21, 21)
    pulse[10, 10] = 1
    torch.testing.assert_close(item['sinc_kernel'], pulse)


def test_same_seed_gives_the_same_sample(gt_folder):
    dataset = build_dataset(_realesrgan_opt(gt_folder, use_rot=True))
    samples = []
    for _ in range(2):
        set_random_seed(8)
        samples.append(dataset[0])
    for key in ('gt', 'kernel1', 'kernel2', 'sinc_kernel'):
        torch.testing.assert_close(samples[0][key], samples[1][key])


def test_small_images_are_reflect_padded_to_the_default_400_pixels(tmp_path):
    _write_images(tmp_path / 'gt', [(100, 120)])
    opt = _realesrgan_opt(tmp_path, use_hflip=False)
    del opt['meta_info'], opt['crop_pad_size']
    item = build_dataset(opt)[0]
    assert item['gt'].shape == (3, 400, 400)
    bgr = cv2.imread(str(tmp_path / 'gt' / '000.png')).astype(np.float32) / 255
    expected = cv2.copyMakeBorder(bgr, 0, 300, 0, 280, cv2.BORDER_REFLECT_101)[..., ::-1].transpose(2, 0, 1)
    np.testing.assert_array_equal(item['gt'].numpy(), expected)


def test_bad_kernel_options_are_reported(gt_folder):
    problems = RealESRGANDataset.check_options(_realesrgan_opt(gt_folder, blur_kernel_size=20, kernel_prob=[0.5] * 6))
    assert any(p.startswith('kernel_prob:') and 'sum to 1' in p for p in problems)
    assert any('blur_kernel_size must be a positive odd integer' in p for p in problems)
    without_sinc_prob = {k: v for k, v in _realesrgan_opt(gt_folder).items() if k != 'sinc_prob'}
    problems = RealESRGANDataset.check_options(without_sinc_prob)
    assert 'sinc_prob: required' in problems
    with pytest.raises(ValueError, match='blur_kernel_size'):
        build_dataset(_realesrgan_opt(gt_folder, blur_kernel_size=5))


def test_paired_dataset_reads_gt_lq_meta_info_and_crops_in_training(tmp_path):
    _write_images(tmp_path / 'hr', [(64, 64), (64, 48)])
    _write_images(tmp_path / 'lr', [(16, 16), (16, 12)], seed=1)
    (tmp_path / 'meta.txt').write_text('000.png, 000.png\n001.png, 001.png\n')
    opt = {
        'name': 'pairs',
        'type': 'RealESRGANPairedDataset',
        'dataroot_gt': str(tmp_path / 'hr'),
        'dataroot_lq': str(tmp_path / 'lr'),
        'meta_info': str(tmp_path / 'meta.txt'),
        'io_backend': {'type': 'disk'},
        'gt_size': 32,
        'use_hflip': True,
        'use_rot': True,
        'phase': 'train',
        'scale': 4,
    }
    item = build_dataset(opt)[1]
    assert item['gt'].shape == (3, 32, 32) and item['lq'].shape == (3, 8, 8)
    assert item['lq_path'] == str(tmp_path / 'lr' / '001.png')
    val_item = build_dataset({**opt, 'phase': 'val'})[1]
    assert val_item['gt'].shape == (3, 64, 48) and val_item['lq'].shape == (3, 16, 12)
    (tmp_path / 'bad.txt').write_text('000.png 000.png\n')
    with pytest.raises(ValueError, match="line 1 .* 'gt_path, lq_path'"):
        build_dataset({**opt, 'meta_info': str(tmp_path / 'bad.txt')})
