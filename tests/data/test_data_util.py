import os.path as osp

import cv2
import numpy as np
import pytest
import torch

from basicsr.data.data_util import (
    BadImageError,
    load_with_bad_image_policy,
    paired_paths_from_folder,
    paired_paths_from_lmdb,
    paired_paths_from_meta_info_file,
    paths_from_folder,
    paths_from_lmdb,
    read_image,
    read_img_seq,
)
from basicsr.utils.file_client import FileClient


def _write_images(folder, names, size=(4, 4), seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in names:
        cv2.imwrite(str(folder / name), rng.integers(0, 256, (*size, 3), dtype=np.uint8))
    return str(folder)


def _write_lmdb_meta(folder, names):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / 'meta_info.txt').write_text(''.join(f'{name} (4,4,3) 1\n' for name in names))
    return str(folder)


def test_paired_paths_from_folder_pairs_gt_with_templated_lq_names(tmp_path):
    lq = _write_images(tmp_path / 'lq', ['0001x4.png', '0002x4.png'])
    gt = _write_images(tmp_path / 'gt', ['0001.png', '0002.png'])
    paths = paired_paths_from_folder([lq, gt], ['lq', 'gt'], '{}x4')
    assert paths == [
        {'lq_path': osp.join(lq, '0001x4.png'), 'gt_path': osp.join(gt, '0001.png')},
        {'lq_path': osp.join(lq, '0002x4.png'), 'gt_path': osp.join(gt, '0002.png')},
    ]


def test_paired_paths_from_folder_count_mismatch_gives_counts_and_unpaired_names(tmp_path):
    lq = _write_images(tmp_path / 'lq', ['0001.png'])
    gt = _write_images(tmp_path / 'gt', ['0001.png', '0002.png', '0003.png'])
    with pytest.raises(ValueError) as info:
        paired_paths_from_folder([lq, gt], ['lq', 'gt'], '{}')
    message = str(info.value)
    assert '1 in dataroot_lq' in message and '3 in dataroot_gt' in message
    assert '0002.png' in message and '0003.png' in message


def test_paired_paths_from_folder_same_count_but_wrong_names_lists_both_sides(tmp_path):
    lq = _write_images(tmp_path / 'lq', ['a.png', 'b.png'])
    gt = _write_images(tmp_path / 'gt', ['a.png', 'c.png'])
    with pytest.raises(ValueError, match=r"gt without lq: \['c.png'\].*lq without gt: \['b.png'\]"):
        paired_paths_from_folder([lq, gt], ['lq', 'gt'], '{}')


def test_paired_paths_from_folder_names_the_option_of_a_missing_folder(tmp_path):
    gt = _write_images(tmp_path / 'gt', ['0001.png'])
    with pytest.raises(FileNotFoundError, match=r'dataroot_lq.*nowhere'):
        paired_paths_from_folder([str(tmp_path / 'nowhere'), gt], ['lq', 'gt'], '{}')


def test_paired_paths_from_folder_rejects_an_empty_folder(tmp_path):
    lq = _write_images(tmp_path / 'lq', ['0001.png'])
    (tmp_path / 'gt').mkdir()
    with pytest.raises(ValueError, match=r'dataroot_gt.*no files'):
        paired_paths_from_folder([lq, str(tmp_path / 'gt')], ['lq', 'gt'], '{}')


def test_paired_paths_from_meta_info_file_uses_listed_gt_names(tmp_path):
    lq = _write_images(tmp_path / 'lq', ['b_lr.png', 'a_lr.png'])
    gt = _write_images(tmp_path / 'gt', ['a.png', 'b.png'])
    meta = tmp_path / 'meta.txt'
    meta.write_text('b.png (4,4,3)\n\na.png (4,4,3)\n')
    paths = paired_paths_from_meta_info_file([lq, gt], ['lq', 'gt'], str(meta), '{}_lr')
    assert [p['gt_path'] for p in paths] == [osp.join(gt, 'b.png'), osp.join(gt, 'a.png')]
    assert [p['lq_path'] for p in paths] == [osp.join(lq, 'b_lr.png'), osp.join(lq, 'a_lr.png')]


def test_paired_paths_from_meta_info_file_reports_a_missing_file(tmp_path):
    lq = _write_images(tmp_path / 'lq', ['a.png'])
    with pytest.raises(FileNotFoundError, match=r'meta_info_file.*missing\.txt'):
        paired_paths_from_meta_info_file([lq, lq], ['lq', 'gt'], str(tmp_path / 'missing.txt'), '{}')


def test_paired_paths_from_lmdb_uses_meta_info_keys(tmp_path):
    lq = _write_lmdb_meta(tmp_path / 'lq.lmdb', ['0002.png', '0001.png'])
    gt = _write_lmdb_meta(tmp_path / 'gt.lmdb', ['0001.png', '0002.png'])
    paths = paired_paths_from_lmdb([lq, gt], ['lq', 'gt'])
    assert paths == [{'lq_path': '0001', 'gt_path': '0001'}, {'lq_path': '0002', 'gt_path': '0002'}]


def test_paired_paths_from_lmdb_without_meta_info_says_how_to_create_it(tmp_path):
    lq = _write_lmdb_meta(tmp_path / 'lq.lmdb', ['0001.png'])
    (tmp_path / 'gt.lmdb').mkdir()
    with pytest.raises(FileNotFoundError, match=r'dataroot_gt.*meta_info\.txt.*create_lmdb\.py'):
        paired_paths_from_lmdb([lq, str(tmp_path / 'gt.lmdb')], ['lq', 'gt'])


def test_paired_paths_from_lmdb_rejects_different_key_sets_and_non_lmdb_folders(tmp_path):
    lq = _write_lmdb_meta(tmp_path / 'lq.lmdb', ['0001.png', '0003.png'])
    gt = _write_lmdb_meta(tmp_path / 'gt.lmdb', ['0001.png', '0002.png'])
    with pytest.raises(ValueError, match=r"\['0002'\].*\['0003'\]"):
        paired_paths_from_lmdb([lq, gt], ['lq', 'gt'])
    with pytest.raises(ValueError, match=r'dataroot_lq.*\.lmdb'):
        paired_paths_from_lmdb([str(tmp_path), gt], ['lq', 'gt'])


def test_paths_from_folder_and_lmdb(tmp_path):
    folder = _write_images(tmp_path / 'imgs', ['b.png', 'a.png'])
    assert paths_from_folder(folder) == [osp.join(folder, 'a.png'), osp.join(folder, 'b.png')]
    db = _write_lmdb_meta(tmp_path / 'x.lmdb', ['img_1.png', 'img_2.png'])
    assert paths_from_lmdb(db) == ['img_1', 'img_2']


def test_read_img_seq_stacks_rgb_frames_and_returns_names(tmp_path):
    folder = _write_images(tmp_path / 'seq', ['f0.png', 'f1.png'], size=(5, 6))
    frames, names = read_img_seq(folder, require_mod_crop=True, scale=2, return_imgname=True)
    assert frames.shape == (2, 3, 4, 6) and names == ['f0', 'f1']
    first = cv2.imread(osp.join(folder, 'f0.png'))[:4, :6, ::-1].astype(np.float32) / 255.0
    assert torch.allclose(frames[0], torch.from_numpy(first.copy()).permute(2, 0, 1))


def test_read_image_failure_names_the_path(tmp_path):
    broken = tmp_path / 'broken.png'
    broken.write_bytes(b'not a png')
    with pytest.raises(BadImageError, match='broken.png'):
        read_image(FileClient('disk'), str(broken))
    with pytest.raises(BadImageError, match='absent.png'):
        read_image(FileClient('disk'), str(tmp_path / 'absent.png'))


def test_bad_image_policy_skip_moves_to_the_next_readable_sample():
    def load(index):
        if index == 1:
            raise BadImageError('Cannot read image x')
        return {'index': index}

    assert load_with_bad_image_policy(load, 1, 3, 'skip') == {'index': 2}
    with pytest.raises(BadImageError):
        load_with_bad_image_policy(load, 1, 3, 'raise')
    with pytest.raises(BadImageError, match='None of the 2'):
        load_with_bad_image_policy(lambda index: load(1), 0, 2, 'skip')
