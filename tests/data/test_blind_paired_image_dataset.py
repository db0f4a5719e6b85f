import copy

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from basicsr.data import build_dataset
from basicsr.data.blind_paired_image_dataset import BlindPairedImageDataset
from basicsr.data.dataset_options import unknown_dataset_keys
from basicsr.data.pipeline_steps import ImageTooSmallError
from basicsr.utils.matlab_functions import imresize
from basicsr.utils.misc import set_random_seed

RANDOM_RESIZE = {
    'type': 'RandomResize',
    'keys': ['lq'],
    'params': {
        'target_size': [48, 48],
        'resize_opt': ['bicubic', 'bilinear', 'area'],
        'resize_prob': ['1/3', '1/3', '1/3'],
    },
}
MATLAB_RESIZE = {'type': 'MATLABLikeResize', 'output_shape': [48, 48], 'keys': ['lq']}


def _pipeline(resize_step: dict) -> list[dict]:
    return [
        {'type': 'FixedCrop', 'keys': ['gt'], 'crop_size': [192, 192]},
        {'type': 'Flip', 'keys': ['gt'], 'flip_ratio': 0.5, 'direction': 'horizontal'},
        {'type': 'Flip', 'keys': ['gt'], 'flip_ratio': 0.5, 'direction': 'vertical'},
        {'type': 'RandomTransposeHW', 'keys': ['gt'], 'transpose_ratio': 0.5},
        {'type': 'CopyValues', 'src_keys': ['gt'], 'dst_keys': ['lq']},
        copy.deepcopy(resize_step),
        {'type': 'Quantize', 'keys': ['lq']},
        {'type': 'Collect', 'keys': ['lq', 'gt'], 'meta_keys': ['gt_path']},
    ]


@pytest.fixture(scope='module')
def hr_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp('DF2K')
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate([(200, 230), (196, 260), (240, 200)]):
        img = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 3) * 255
        cv2.imwrite(str(folder / f'{i:04d}.png'), img.round().astype(np.uint8))
    return folder


def _authors_opt(folder, resize_step: dict = RANDOM_RESIZE) -> dict:
    """The authors' train_s block (plus what the option parser adds: phase, scale)."""
    return {
        'name': 'DF2K',
        'type': 'BlindPairedImageDataset',
        'dataroot_gt': str(folder),
        'dataroot_lq': str(folder),
        'filename_tmpl': '{}',
        'io_backend': {'type': 'disk'},
        'gt_size': 192,
        'use_hflip': True,
        'use_rot': True,
        'pipeline': _pipeline(resize_step),
        'use_shuffle': True,
        'num_worker_per_gpu': 0,
        'batch_size_per_gpu': 2,
        'dataset_enlarge_ratio': 100,
        'prefetch_mode': None,
        'phase': 'train',
        'scale': 4,
    }


def test_every_key_of_the_authors_block_is_declared(hr_folder):
    opt = _authors_opt(hr_folder)
    opt['meta_info'] = None
    assert unknown_dataset_keys(BlindPairedImageDataset, opt) == []
    assert unknown_dataset_keys(BlindPairedImageDataset, {**opt, 'pipline': []}) == ['pipline']


def test_dataset_returns_48px_lq_and_192px_gt_rgb_tensors(hr_folder):
    set_random_seed(0)
    dataset = build_dataset(_authors_opt(hr_folder))
    assert len(dataset) == 3
    item = dataset[1]
    assert item['lq'].shape == (3, 48, 48) and item['gt'].shape == (3, 192, 192)
    assert item['lq'].dtype == torch.float32 and item['gt'].dtype == torch.float32
    assert 0 <= float(item['lq'].min()) and float(item['gt'].max()) <= 1
    assert item['gt_path'] == item['lq_path'] == str(hr_folder / '0001.png')
    assert item['meta'] == {'gt_path': item['gt_path']}
    torch.testing.assert_close(item['lq'] * 255, (item['lq'] * 255).round(), atol=1e-4, rtol=0)


def test_gt_is_an_rgb_crop_of_the_file_and_lq_its_matlab_downscale(hr_folder):
    opt = _authors_opt(hr_folder, MATLAB_RESIZE)
    opt['pipeline'][0]['crop_pos'] = [10, 4]
    for flip_step in opt['pipeline'][1:3]:
        flip_step['flip_ratio'] = 0
    opt['pipeline'][3]['transpose_ratio'] = '0'
    item = build_dataset(opt)[0]
    bgr = cv2.imread(str(hr_folder / '0000.png')).astype(np.float32) / 255
    np.testing.assert_array_equal(item['gt'].numpy(), bgr[4:196, 10:202, ::-1].transpose(2, 0, 1))
    expected_lq = np.clip(np.round(imresize(item['gt'], 0.25).numpy() * 255), 0, 255) / 255
    np.testing.assert_allclose(item['lq'].numpy(), expected_lq, atol=1e-6)


def test_same_seed_gives_the_same_pair_and_another_seed_another(hr_folder):
    dataset = build_dataset(_authors_opt(hr_folder))
    set_random_seed(5)
    first = dataset[2]
    set_random_seed(5)
    again = dataset[2]
    set_random_seed(6)
    other = dataset[2]
    torch.testing.assert_close(first['lq'], again['lq'])
    torch.testing.assert_close(first['gt'], again['gt'])
    assert not torch.equal(first['gt'], other['gt'])


def test_batches_collate_through_a_data_loader(hr_folder):
    loader = DataLoader(build_dataset(_authors_opt(hr_folder)), batch_size=2, shuffle=False)
    batch = next(iter(loader))
    assert batch['lq'].shape == (2, 3, 48, 48) and batch['gt'].shape == (2, 3, 192, 192)
    assert len(batch['gt_path']) == 2


def test_meta_info_selects_images_and_color_y_gives_one_channel(hr_folder, tmp_path):
    meta = tmp_path / 'meta.txt'
    meta.write_text('0002.png (240,200,3)\n')
    opt = {**_authors_opt(hr_folder), 'meta_info': str(meta), 'color': 'y'}
    dataset = build_dataset(opt)
    assert len(dataset) == 1
    item = dataset[0]
    assert item['gt'].shape == (1, 192, 192) and item['lq'].shape == (1, 48, 48)


def test_bad_pipeline_is_reported_with_step_index_before_reading_images(hr_folder):
    opt = _authors_opt(hr_folder)
    opt['pipeline'][5]['params']['resize_prob'] = ['1/3', '1/3', '1/2']
    problems = BlindPairedImageDataset.check_options(opt)
    assert any(p.startswith('pipeline[5] (RandomResize): params.resize_prob') for p in problems)
    with pytest.raises(ValueError, match=r'pipeline\[5\] \(RandomResize\)'):
        build_dataset(opt)
    opt = _authors_opt(hr_folder)
    opt['pipeline'][5]['params']['resize_opt'][2] = 'nearest'
    with pytest.raises(ValueError, match=r"pipeline\[5\] \(RandomResize\).*'nearest'"):
        build_dataset(opt)
    opt = _authors_opt(hr_folder)
    opt['pipeline'][7]['keys'] = ['lq']
    assert any('pipeline[7] (Collect)' in p and "['gt']" in p for p in BlindPairedImageDataset.check_options(opt))
    assert 'pipeline: required' in BlindPairedImageDataset.check_options({**opt, 'pipeline': None})


def test_images_smaller_than_the_crop_name_the_file(tmp_path):
    cv2.imwrite(str(tmp_path / 'small.png'), np.zeros((100, 150, 3), np.uint8))
    dataset = build_dataset(_authors_opt(tmp_path))
    with pytest.raises(ImageTooSmallError, match=r'pipeline\[0\] \(FixedCrop\).*small\.png.*100x150'):
        dataset[0]
