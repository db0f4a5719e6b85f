"""Data-preparation scripts on generated folders: sub-images, lmdb and meta-info files, RealSR split, target sets."""

import filecmp
import os
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from basicsr.data.dataset_check import check_datasets
from basicsr.utils.lmdb_util import read_lmdb_image, read_meta_info

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'scripts' / 'data_preparation'))
import create_lmdb  # noqa: E402
import extract_subimages  # noqa: E402
import generate_meta_info  # noqa: E402
import prepare_target_domain  # noqa: E402
import split_realsr  # noqa: E402


def _noise(h, w, seed=0, channels=3):
    shape = (h, w, channels) if channels > 1 else (h, w)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _write(path, img):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert cv2.imwrite(str(path), img)
    return img


def _realsr_v3_folder(root, count=12, scale=4):
    """A folder shaped like RealSR V3 Canon/Train/4: Canon_001_HR.png next to Canon_001_LR4.png."""
    folder = root / 'RealSRV3' / 'Canon' / 'Train' / str(scale)
    for i in range(1, count + 1):
        hr = _write(folder / f'Canon_{i:03d}_HR.png', _noise(256, 224, seed=i))  # LR 64x56 >= lq_size 48
        _write(folder / f'Canon_{i:03d}_LR{scale}.png', cv2.resize(hr, (hr.shape[1] // scale, hr.shape[0] // scale)))
    return folder


@pytest.mark.parametrize(
    'length, crop, step, thresh, expected',
    [
        (100, 48, 24, 0, [0, 24, 48, 52]),
        (100, 48, 24, 4, [0, 24, 48]),
        (96, 48, 24, 0, [0, 24, 48]),
        (47, 48, 24, 0, []),
    ],
)
def test_crop_positions_add_a_border_window_only_beyond_the_threshold(length, crop, step, thresh, expected):
    assert extract_subimages.crop_positions(length, crop, step, thresh) == expected


def test_extract_subimages_counts_names_and_border_crops(tmp_path):
    img = _write(tmp_path / 'in' / '0001x4.png', _noise(100, 130))
    out = tmp_path / 'out'
    assert (
        extract_subimages.main(
            [
                '--input',
                str(tmp_path / 'in'),
                '--output',
                str(out),
                '--crop-size',
                '48',
                '--step',
                '24',
                '--n-thread',
                '1',
            ]
        )
        == 0
    )
    names = sorted(os.listdir(out))
    assert len(names) == 4 * 5 and names[0] == '0001_s001.png' and names[-1] == '0001_s020.png'
    np.testing.assert_array_equal(cv2.imread(str(out / '0001_s020.png')), img[52:100, 82:130])
    np.testing.assert_array_equal(cv2.imread(str(out / '0001_s002.png')), img[0:48, 24:72])


def test_extract_subimages_threshold_drops_thin_borders(tmp_path):
    _write(tmp_path / 'in' / 'a.png', _noise(100, 130))
    results = extract_subimages.extract_subimages(str(tmp_path / 'in'), str(tmp_path / 'out'), 48, 24, 10, 1)
    assert results[0].num_sub_images == 3 * 4 == len(os.listdir(tmp_path / 'out'))


def test_extract_subimages_with_processes_matches_one_process_and_skips_small_images(tmp_path):
    for i in range(3):
        _write(tmp_path / 'in' / f'{i}.png', _noise(70 + i, 90, seed=i))
    _write(tmp_path / 'in' / 'tiny.png', _noise(20, 90))
    serial = extract_subimages.extract_subimages(str(tmp_path / 'in'), str(tmp_path / 'a'), 32, 16, 0, 1)
    parallel = extract_subimages.extract_subimages(str(tmp_path / 'in'), str(tmp_path / 'b'), 32, 16, 0, 2)
    assert serial == parallel
    assert [r.skipped_because is not None for r in serial] == [False, False, False, True]
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / 'a', tmp_path / 'b', os.listdir(tmp_path / 'a'), False)
    assert len(match) == sum(r.num_sub_images for r in serial) and not mismatch and not errors


def test_extract_subimages_refuses_an_existing_output_folder(tmp_path, capsys):
    _write(tmp_path / 'in' / 'a.png', _noise(50, 50))
    (tmp_path / 'out').mkdir()
    assert extract_subimages.main(['--input', str(tmp_path / 'in'), '--output', str(tmp_path / 'out')]) == 1
    assert 'already exists' in capsys.readouterr().err


def test_create_lmdb_round_trip_and_paired_key_check(tmp_path, capsys):
    gt = {f'{i:04d}': _write(tmp_path / 'gt' / f'{i:04d}.png', _noise(16, 12, seed=i)) for i in range(3)}
    for i in range(3):
        _write(tmp_path / 'lq' / f'{i:04d}.png', _noise(4, 3, seed=i))
    assert create_lmdb.main(['--paired', '--input', str(tmp_path / 'gt'), str(tmp_path / 'lq')]) == 0
    for key, img in gt.items():
        np.testing.assert_array_equal(read_lmdb_image(str(tmp_path / 'gt.lmdb'), key), img)
    assert [e.shape for e in read_meta_info(str(tmp_path / 'lq.lmdb'))] == [(4, 3, 3)] * 3
    os.rename(tmp_path / 'lq' / '0002.png', tmp_path / 'lq' / '0002x4.png')
    assert (
        create_lmdb.main(
            [
                '--paired',
                '--input',
                str(tmp_path / 'gt'),
                str(tmp_path / 'lq'),
                '--lmdb',
                str(tmp_path / 'g2.lmdb'),
                str(tmp_path / 'l2.lmdb'),
            ]
        )
        == 1
    )
    assert "only in LQ: ['0002x4']" in capsys.readouterr().err
    assert not (tmp_path / 'g2.lmdb').exists()


def test_generate_meta_info_writes_basicsr_and_realesrgan_formats(tmp_path):
    _write(tmp_path / 'DF2K' / 'b.png', _noise(10, 20))
    _write(tmp_path / 'DF2K' / 'a.png', _noise(7, 5, channels=1))
    _write(tmp_path / 'OST' / 'sky' / 'c.png', _noise(3, 4))
    meta = tmp_path / 'meta.txt'
    assert generate_meta_info.main(['--input', str(tmp_path / 'DF2K'), '--meta-info', str(meta)]) == 0
    assert meta.read_text().splitlines() == ['a.png (7,5,1)', 'b.png (10,20,3)']
    assert (
        generate_meta_info.main(
            [
                '--input',
                str(tmp_path / 'DF2K'),
                str(tmp_path / 'OST'),
                '--root',
                str(tmp_path),
                '--no-shape',
                '--meta-info',
                str(meta),
            ]
        )
        == 0
    )
    assert meta.read_text().splitlines() == ['DF2K/a.png', 'DF2K/b.png', 'OST/sky/c.png']
    _write(tmp_path / 'LQ' / 'a.png', _noise(2, 2))
    _write(tmp_path / 'LQ' / 'b.png', _noise(2, 2))
    assert (
        generate_meta_info.main(
            ['--input', str(tmp_path / 'DF2K'), '--lq', str(tmp_path / 'LQ'), '--meta-info', str(meta)]
        )
        == 0
    )
    assert meta.read_text().splitlines() == ['a.png, a.png', 'b.png, b.png']


def test_realsr_split_is_deterministic_disjoint_and_keeps_pairs_together(tmp_path):
    folder = _realsr_v3_folder(tmp_path)
    first = split_realsr.split_realsr([str(folder)], str(tmp_path / 'a'), val_count=4, seed=0)
    again = split_realsr.split_realsr([str(folder)], str(tmp_path / 'b'), val_count=4, seed=0)
    other = split_realsr.split_realsr([str(folder)], str(tmp_path / 'c'), val_count=4, seed=1)
    assert first == again and first.val != other.val
    assert not set(first.train) & set(first.val)
    assert sorted(first.train + first.val) == [f'Canon_{i:03d}' for i in range(1, 13)]
    for base, stems in ((tmp_path / 'a', first.train), (tmp_path / 'a' / 'val', first.val)):
        for side, suffix in (('LR', '_LR4'), ('HR', '_HR')):
            assert sorted(os.listdir(base / side)) == [f'{s}.png' for s in stems]
            assert filecmp.cmp(base / side / f'{stems[0]}.png', folder / f'{stems[0]}{suffix}.png', shallow=False)
    assert (tmp_path / 'a' / 'split.txt').read_text().count('\nval ') == 4


def test_realsr_split_rejects_unpaired_files_and_reruns(tmp_path, capsys):
    folder = _realsr_v3_folder(tmp_path, count=3)
    os.remove(folder / 'Canon_002_LR4.png')
    assert split_realsr.main(['--input', str(folder)]) == 1
    assert 'Canon_002 (HR)' in capsys.readouterr().err
    _write(folder / 'Canon_002_LR4.png', _noise(16, 14))
    assert split_realsr.main(['--input', str(folder)]) == 0
    assert split_realsr.main(['--input', str(folder)]) == 1
    assert 'delete the previous split' in capsys.readouterr().err


def test_drealsr_naming_takes_the_larger_image_of_a_pair_as_hr(tmp_path):
    hr = _write(tmp_path / 'test_HR' / 'DSC_0001_x1.png', _noise(32, 48))
    _write(tmp_path / 'test_LR' / 'DSC_0001_x4.png', _noise(8, 12))
    split_realsr.split_realsr(
        [str(tmp_path / 'test_HR'), str(tmp_path / 'test_LR')], str(tmp_path / 'out'), naming='drealsr'
    )
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / 'out' / 'HR' / 'DSC_0001.png')), hr)
    assert cv2.imread(str(tmp_path / 'out' / 'LR' / 'DSC_0001.png')).shape == (8, 12, 3)


def test_prepare_target_domain_crops_filters_and_reports_sizes(tmp_path):
    src = tmp_path / 'photos'
    _write(src / 'big.jpg', _noise(120, 200))
    _write(src / 'gray.png', _noise(60, 50, channels=1))
    _write(src / 'tiny.png', _noise(30, 90))
    (src / 'notes.txt').write_text('not a photo')
    report = prepare_target_domain.prepare_target_domain(
        str(src), str(tmp_path / 't'), crop=64, min_size=48, lq_size=48, n_thread=2
    )
    assert report.sizes == {'big.jpg': (64, 64), 'gray.png': (60, 50)}
    assert 'tiny.png' in report.left_out and 'notes.txt' not in report.left_out
    written = cv2.imread(str(tmp_path / 't' / 'gray.png'), cv2.IMREAD_UNCHANGED)
    assert written.shape == (60, 50, 3) and written.dtype == np.uint8
    text = report.format()
    assert '2 images kept, 1 left out' in text and 'height: min 60, median 62, max 64' in text


def test_realsr_v3_folder_becomes_a_train_t_that_pdd_options_accept(tmp_path, monkeypatch):
    """The datasets/README.md recipe: split RealSR V3 Train/4, then PDD-style options pass check_datasets."""
    monkeypatch.chdir(tmp_path)
    folder = _realsr_v3_folder(tmp_path)
    for i in range(2):
        _write(tmp_path / 'DF2K' / 'DF2K_HR' / f'{i:04d}.png', _noise(300, 260, seed=i))
    assert (
        extract_subimages.main(
            [
                '--input',
                'DF2K/DF2K_HR',
                '--output',
                'DF2K/DF2K_HR_sub',
                '--crop-size',
                '192',
                '--step',
                '96',
                '--n-thread',
                '1',
            ]
        )
        == 0
    )
    assert split_realsr.main(['--input', str(folder.relative_to(tmp_path)), '--val-count', '3']) == 0
    opt = {
        'scale': 4,
        'datasets': {
            'train_s': {
                'type': 'BlindPairedImageDataset',
                'dataroot_gt': 'DF2K/DF2K_HR_sub',
                'dataroot_lq': 'DF2K/DF2K_HR_sub',
                'io_backend': {'type': 'disk'},
                'gt_size': 192,
                'pipeline': [{'type': 'FixedCrop', 'keys': ['gt'], 'crop_size': [192, 192]}],
                'batch_size_per_gpu': 8,
                'dataset_enlarge_ratio': 100,
            },
            'train_t': {
                'type': 'SingleImageDataset',
                'dataroot_lq': 'RealSRV3/Canon/Train/4/LR',
                'lq_size': 48,
                'io_backend': {'type': 'disk'},
                'use_hflip': True,
                'use_rot': True,
                'batch_size_per_gpu': 8,
            },
            'val': {
                'type': 'PairedImageDataset',
                'dataroot_gt': 'RealSRV3/Canon/Train/4/val/HR',
                'dataroot_lq': 'RealSRV3/Canon/Train/4/val/LR',
                'io_backend': {'type': 'disk'},
            },
        },
    }
    assert check_datasets(opt, decode=True) == []
    from basicsr.data import build_dataset

    train_t = build_dataset({**opt['datasets']['train_t'], 'phase': 'train', 'scale': 4})
    assert len(train_t) == 9 and tuple(train_t[0]['lq'].shape) == (3, 48, 48)
    opt['datasets']['train_t']['dataroot_lq'] = 'RealSRV3/Canon/Train/4'
    problems = check_datasets(opt)
    errors = [p for p in problems if p.severity == 'error']
    assert {p.key for p in errors} == {'datasets.train_t.dataroot_lq'}
    assert any('mixes *_HR and *_LR*' in p.message for p in errors)
    warned = {p.key for p in problems if p.severity == 'warning'}
    assert warned == {'datasets.val.dataroot_gt', 'datasets.val.dataroot_lq'}  # val images now also in train_t


def test_drealsr_split_names_an_unreadable_file(tmp_path, capsys):
    _write(tmp_path / 'DSC_0001_x1.png', _noise(32, 48))
    (tmp_path / 'DSC_0001_x4.png').write_bytes(b'truncated download')
    assert split_realsr.main(['--naming', 'drealsr', '--input', str(tmp_path)]) == 1
    assert 'DSC_0001_x4.png is not a readable image' in capsys.readouterr().err
