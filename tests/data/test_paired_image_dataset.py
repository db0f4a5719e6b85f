import os.path as osp
import random

import cv2
import numpy as np
import pytest
import torch

from basicsr.data.data_util import BadImageError
from basicsr.data.paired_image_dataset import PairedImageDataset

SCALE = 2


def _write_pairs(root, names, lq_size=(8, 10), tmpl='{}', gt_extra=0):
    """GT images whose SCALE x SCALE blocks repeat the LQ pixels, so any aligned crop satisfies gt == repeat(lq)."""
    (root / 'lq').mkdir(parents=True, exist_ok=True)
    (root / 'gt').mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in names:
        lq = rng.integers(0, 256, (*lq_size, 3), dtype=np.uint8)
        gt = lq.repeat(SCALE, axis=0).repeat(SCALE, axis=1)
        gt = np.pad(gt, ((0, gt_extra), (0, gt_extra), (0, 0)))
        base, ext = osp.splitext(name)
        cv2.imwrite(str(root / 'lq' / f'{tmpl.format(base)}{ext}'), lq)
        cv2.imwrite(str(root / 'gt' / name), gt)
    return str(root / 'lq'), str(root / 'gt')


def _opt(lq, gt, phase='train', **extra):
    opt = dict(
        name='pairs',
        type='PairedImageDataset',
        dataroot_lq=lq,
        dataroot_gt=gt,
        io_backend={'type': 'disk'},
        phase=phase,
        scale=SCALE,
    )
    if phase == 'train':
        opt.update(gt_size=8, use_hflip=True, use_rot=True)
    opt.update(extra)
    return opt


def _assert_aligned(sample):
    expected_gt = sample['lq'].repeat_interleave(SCALE, dim=1).repeat_interleave(SCALE, dim=2)
    assert torch.equal(sample['gt'], expected_gt)


def test_train_sample_is_an_aligned_augmented_crop(tmp_path):
    lq, gt = _write_pairs(tmp_path, ['0001.png', '0002.png'])
    dataset = PairedImageDataset(_opt(lq, gt))
    assert len(dataset) == 2
    for seed in range(8):
        random.seed(seed)
        sample = dataset[seed % 2]
        assert sample['gt'].shape == (3, 8, 8) and sample['lq'].shape == (3, 4, 4)
        assert sample['lq'].dtype == torch.float32 and 0 <= sample['lq'].min() and sample['lq'].max() <= 1
        _assert_aligned(sample)
    assert sample['gt_path'] == osp.join(gt, '0002.png') and sample['lq_path'] == osp.join(lq, '0002.png')


def test_val_sample_is_whole_and_gt_is_trimmed_to_lq_times_scale(tmp_path):
    lq, gt = _write_pairs(tmp_path, ['0001.png'], gt_extra=1)
    sample = PairedImageDataset(_opt(lq, gt, phase='val'))[0]
    assert sample['lq'].shape == (3, 8, 10) and sample['gt'].shape == (3, 16, 20)
    _assert_aligned(sample)
    lq_bgr = cv2.imread(osp.join(lq, '0001.png'))
    assert torch.allclose(sample['lq'][0], torch.from_numpy(lq_bgr[..., 2] / 255.0).float())


def test_filename_tmpl_and_meta_info_file_modes(tmp_path):
    lq, gt = _write_pairs(tmp_path, ['a.png', 'b.png'], tmpl='{}x2')
    meta = tmp_path / 'meta.txt'
    meta.write_text('b.png (16,20,3)\n')
    dataset = PairedImageDataset(_opt(lq, gt, phase='val', filename_tmpl='{}x2', meta_info_file=str(meta)))
    assert len(dataset) == 1 and dataset[0]['lq_path'] == osp.join(lq, 'bx2.png')
    assert len(PairedImageDataset(_opt(lq, gt, phase='val', filename_tmpl='{}x2'))) == 2


def test_lmdb_mode_reads_images_by_meta_info_keys(tmp_path):
    lmdb = pytest.importorskip('lmdb')
    lq_dir, gt_dir = _write_pairs(tmp_path / 'png', ['0001.png', '0002.png'])
    roots = {}
    for key, folder in (('lq', lq_dir), ('gt', gt_dir)):
        db_path = tmp_path / f'{key}.lmdb'
        env = lmdb.open(str(db_path), map_size=1 << 22)
        lines = []
        with env.begin(write=True) as txn:
            for name in ('0001.png', '0002.png'):
                img = cv2.imread(osp.join(folder, name))
                txn.put(name[:-4].encode('ascii'), cv2.imencode('.png', img)[1].tobytes())
                lines.append(f'{name} ({img.shape[0]},{img.shape[1]},3) 1\n')
        env.close()
        (db_path / 'meta_info.txt').write_text(''.join(lines))
        roots[key] = str(db_path)
    opt = _opt(roots['lq'], roots['gt'], phase='val', io_backend={'type': 'lmdb'})
    dataset = PairedImageDataset(opt)
    sample = dataset[1]
    assert sample['lq_path'] == '0002' and sample['gt_path'] == '0002'
    disk_sample = PairedImageDataset(_opt(lq_dir, gt_dir, phase='val'))[1]
    assert torch.equal(sample['lq'], disk_sample['lq']) and torch.equal(sample['gt'], disk_sample['gt'])
    assert opt['io_backend'] == {'type': 'lmdb'}, 'the options passed in must not be modified'


def test_color_y_returns_one_channel_and_mean_std_normalise(tmp_path):
    lq, gt = _write_pairs(tmp_path, ['0001.png'])
    y_sample = PairedImageDataset(_opt(lq, gt, phase='val', color='y'))[0]
    assert y_sample['lq'].shape == (1, 8, 10) and y_sample['gt'].shape == (1, 16, 20)
    plain = PairedImageDataset(_opt(lq, gt, phase='val'))[0]
    normed = PairedImageDataset(_opt(lq, gt, phase='val', mean=[0.5, 0.5, 0.5], std=[0.25, 0.25, 0.25]))[0]
    assert torch.allclose(normed['lq'], (plain['lq'] - 0.5) / 0.25)


def test_unreadable_image_raises_naming_its_path_or_is_skipped_on_request(tmp_path):
    lq, gt = _write_pairs(tmp_path, ['0001.png', '0002.png'])
    with open(osp.join(gt, '0001.png'), 'wb') as f:
        f.write(b'corrupt')
    with pytest.raises(BadImageError, match=r'gt.0001\.png'):
        PairedImageDataset(_opt(lq, gt, phase='val'))[0]
    skipped = PairedImageDataset(_opt(lq, gt, phase='val', on_bad_image='skip'))[0]
    assert skipped['gt_path'].endswith('0002.png')


def test_a_skipped_bad_image_is_logged_once_however_often_it_is_drawn(tmp_path, caplog):
    from torch.utils.data import DataLoader

    lq, gt = _write_pairs(tmp_path, ['0001.png', '0002.png', '0003.png'])
    with open(osp.join(gt, '0002.png'), 'wb') as f:
        f.write(b'corrupt')
    dataset = PairedImageDataset(_opt(lq, gt, phase='val', on_bad_image='skip'))
    for _ in range(3):
        assert dataset[1]['gt_path'].endswith('0003.png')
    assert len([r for r in caplog.records if '0002.png' in r.getMessage()]) == 1
    in_workers = PairedImageDataset(_opt(lq, gt, phase='val', on_bad_image='skip'))
    assert len(list(DataLoader(in_workers, batch_size=1, num_workers=2))) == 3
    assert in_workers.known_bad.tolist() == [False, True, False]  # a worker's finding reaches every process


def test_invalid_options_fail_at_construction_with_the_key(tmp_path):
    lq, gt = _write_pairs(tmp_path, ['0001.png'])
    opt = _opt(lq, gt)
    del opt['gt_size']
    with pytest.raises(ValueError, match=r'datasets\.pairs\.gt_size'):
        PairedImageDataset(opt)
    with pytest.raises(ValueError, match=r'mean/std'):
        PairedImageDataset(_opt(lq, gt, phase='val', mean=[0.5, 0.5, 0.5]))
    with pytest.raises(ValueError, match=r'on_bad_image'):
        PairedImageDataset(_opt(lq, gt, phase='val', on_bad_image='ignore'))


def test_lq_smaller_than_patch_names_the_gt_file(tmp_path):
    lq, gt = _write_pairs(tmp_path, ['0001.png'], lq_size=(3, 3))
    with pytest.raises(ValueError, match=r'0001\.png'):
        PairedImageDataset(_opt(lq, gt))[0]
