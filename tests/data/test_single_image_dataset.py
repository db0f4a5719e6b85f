import os.path as osp
import random

import cv2
import numpy as np
import pytest
import torch

from basicsr.data.single_image_dataset import SingleImageDataset
from basicsr.utils.img_util import img2tensor


def _write_images(folder, names, size=(12, 10)):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in names:
        cv2.imwrite(str(folder / name), rng.integers(0, 256, (*size, 3), dtype=np.uint8))
    return str(folder)


def _opt(folder, phase='train', **extra):
    opt = dict(name='target', type='SingleImageDataset', dataroot_lq=folder, io_backend={'type': 'disk'}, phase=phase)
    opt.update(extra)
    return opt


def _whole(folder, name):
    return img2tensor(cv2.imread(osp.join(folder, name)).astype(np.float32) / 255.0)


def _dihedral_variants(tensor):
    variants = []
    for transposed in (tensor, tensor.transpose(1, 2)):
        for dims in ((), (1,), (2,), (1, 2)):
            variants.append(transposed.flip(dims) if dims else transposed)
    return variants


def test_without_pdd_keys_images_are_returned_whole_in_sorted_order(tmp_path):
    folder = _write_images(tmp_path / 'lr', ['b.png', 'a.png'])
    dataset = SingleImageDataset(_opt(folder))
    assert [dataset[i]['lq_path'] for i in range(2)] == [osp.join(folder, 'a.png'), osp.join(folder, 'b.png')]
    assert torch.equal(dataset[0]['lq'], _whole(folder, 'a.png'))
    assert set(dataset[0]) == {'lq', 'lq_path'}


def test_lq_size_crops_a_random_patch_in_training(tmp_path):
    folder = _write_images(tmp_path / 'lr', ['a.png'])
    dataset = SingleImageDataset(_opt(folder, lq_size=4))
    whole = _whole(folder, 'a.png')
    corners = set()
    for seed in range(10):
        random.seed(seed)
        patch = dataset[0]['lq']
        assert patch.shape == (3, 4, 4)
        matches = [
            (top, left)
            for top in range(9)
            for left in range(7)
            if torch.equal(whole[:, top : top + 4, left : left + 4], patch)
        ]
        assert matches
        corners.update(matches)
    assert len(corners) > 1


def test_lq_size_is_ignored_outside_training(tmp_path):
    folder = _write_images(tmp_path / 'lr', ['a.png'])
    assert SingleImageDataset(_opt(folder, phase='val', lq_size=4, use_hflip=True))[0]['lq'].shape == (3, 12, 10)


def test_use_hflip_flips_some_samples_horizontally(tmp_path):
    folder = _write_images(tmp_path / 'lr', ['a.png'], size=(6, 6))
    dataset = SingleImageDataset(_opt(folder, lq_size=6, use_hflip=True))
    whole = _whole(folder, 'a.png')
    outputs = []
    for seed in range(12):
        random.seed(seed)
        outputs.append(dataset[0]['lq'])
    assert all(torch.equal(o, whole) or torch.equal(o, whole.flip(2)) for o in outputs)
    assert any(torch.equal(o, whole.flip(2)) for o in outputs) and any(torch.equal(o, whole) for o in outputs)


def test_use_rot_yields_rotations_of_the_crop(tmp_path):
    folder = _write_images(tmp_path / 'lr', ['a.png'], size=(6, 6))
    dataset = SingleImageDataset(_opt(folder, lq_size=6, use_rot=True))
    variants = _dihedral_variants(_whole(folder, 'a.png'))
    seen = set()
    for seed in range(30):
        random.seed(seed)
        out = dataset[0]['lq']
        index = next(i for i, v in enumerate(variants) if torch.equal(out, v))
        seen.add(index)
    assert any(i >= 4 for i in seen), 'use_rot should transpose some samples'


def test_image_smaller_than_lq_size_names_the_file_and_both_sizes(tmp_path):
    folder = _write_images(tmp_path / 'lr', ['tiny.png'], size=(5, 7))
    dataset = SingleImageDataset(_opt(folder, lq_size=48))
    with pytest.raises(ValueError, match=r'tiny\.png.*\(5, 7\).*\(48, 48\)'):
        dataset[0]


def test_invalid_lq_size_fails_at_construction(tmp_path):
    folder = _write_images(tmp_path / 'lr', ['a.png'])
    with pytest.raises(ValueError, match=r'datasets\.target\.lq_size'):
        SingleImageDataset(_opt(folder, lq_size='48'))


def test_missing_or_empty_folder_names_dataroot_lq(tmp_path):
    with pytest.raises(FileNotFoundError, match='dataroot_lq'):
        SingleImageDataset(_opt(str(tmp_path / 'nowhere')))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ValueError, match='dataroot_lq'):
        SingleImageDataset(_opt(str(tmp_path / 'empty')))


def test_meta_info_file_selects_images(tmp_path):
    folder = _write_images(tmp_path / 'lr', ['a.png', 'b.png'])
    meta = tmp_path / 'meta.txt'
    meta.write_text('b.png (12,10,3) 1\n')
    dataset = SingleImageDataset(_opt(folder, phase='test', meta_info_file=str(meta)))
    assert len(dataset) == 1 and dataset[0]['lq_path'] == osp.join(folder, 'b.png')


def test_lmdb_mode_matches_disk_mode(tmp_path):
    lmdb = pytest.importorskip('lmdb')
    folder = _write_images(tmp_path / 'lr', ['a.png'])
    db_path = tmp_path / 'lr.lmdb'
    env = lmdb.open(str(db_path), map_size=1 << 20)
    with env.begin(write=True) as txn:
        txn.put(b'a', open(osp.join(folder, 'a.png'), 'rb').read())
    env.close()
    (db_path / 'meta_info.txt').write_text('a.png (12,10,3) 1\n')
    sample = SingleImageDataset(_opt(str(db_path), phase='test', io_backend={'type': 'lmdb'}))[0]
    assert sample['lq_path'] == 'a' and torch.equal(sample['lq'], _whole(folder, 'a.png'))
