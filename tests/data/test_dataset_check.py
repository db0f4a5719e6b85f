"""Dataset checks: each kind of broken data is named with its option key and a fix, good data passes."""

import importlib.util
import math
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from basicsr.data.dataset_check import (
    DatasetCheckError,
    check_datasets,
    format_report,
    inspect_datasets,
    raise_on_errors,
)
from basicsr.data.dataset_scan import read_image_size
from basicsr.utils.lmdb_util import folder_keys, make_lmdb_from_imgs

ROOT = Path(__file__).resolve().parents[2]


def _noise(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _pairs(folder, names, gt_hw=(32, 40), scale=4, lq_tmpl='{}', lq_hw=None):
    """Write GT/LQ pairs under folder/gt and folder/lq; LQ is GT resized to 1/scale unless lq_hw is given."""
    for sub in ('gt', 'lq'):
        os.makedirs(folder / sub, exist_ok=True)
    for i, name in enumerate(names):
        gt = _noise(*gt_hw, seed=i)
        h, w = lq_hw or (gt_hw[0] // scale, gt_hw[1] // scale)
        cv2.imwrite(str(folder / 'gt' / f'{name}.png'), gt)
        cv2.imwrite(str(folder / 'lq' / f'{lq_tmpl.format(name)}.png'), cv2.resize(gt, (w, h), cv2.INTER_AREA))
    return str(folder / 'gt'), str(folder / 'lq')


def _paired(gt, lq, **extra):
    return {'type': 'PairedImageDataset', 'dataroot_gt': gt, 'dataroot_lq': lq, 'io_backend': {'type': 'disk'}, **extra}


def _single(lq, **extra):
    return {'type': 'SingleImageDataset', 'dataroot_lq': lq, 'io_backend': {'type': 'disk'}, **extra}


def _problems(opt, **kwargs):
    return {(p.key, p.severity): p for p in check_datasets(opt, **kwargs)}


def test_good_paired_data_has_no_problems_and_counts_pairs(tmp_path):
    gt, lq = _pairs(tmp_path, ['a', 'b', 'c'])
    report = inspect_datasets({'scale': 4, 'datasets': {'train': _paired(gt, lq, gt_size=32)}})
    assert report.problems == []
    assert report.summaries[0].counts == {'gt': 3, 'lq': 3} and report.summaries[0].num_items == 3


def test_missing_folder_is_named_with_its_key_and_the_nearest_existing_folder(tmp_path):
    (tmp_path / 'DF2K').mkdir()
    opt = {
        'datasets': {
            'train_s': {
                'type': 'BlindPairedImageDataset',
                'io_backend': {'type': 'disk'},
                'dataroot_gt': str(tmp_path / 'DF2K' / 'DF2K_HR_sbu'),
            }
        }
    }
    problem = _problems(opt)[('datasets.train_s.dataroot_gt', 'error')]
    assert 'does not exist' in problem.message and str(tmp_path / 'DF2K') in problem.message
    assert 'datasets/README.md' in problem.fix


def test_name_mismatch_lists_the_first_names_and_suggests_a_filename_tmpl(tmp_path):
    gt, lq = _pairs(tmp_path, [f'{i:04d}' for i in range(8)], lq_tmpl='{}x4')
    problems = _problems({'scale': 4, 'datasets': {'val': _paired(gt, lq)}})
    no_lq = problems[('datasets.val.dataroot_lq', 'error')]
    assert '8 of 8 GT images have no LQ partner' in no_lq.message
    assert '0000.png -> 0000.png' in no_lq.message and '(+3 more)' in no_lq.message
    assert "filename_tmpl: '{}x4'" in no_lq.fix
    assert _problems({'scale': 4, 'datasets': {'val': _paired(gt, lq, filename_tmpl='{}x4')}}) == {}


def test_ratio_other_than_the_declared_scale_is_reported_with_the_data_scale(tmp_path):
    gt, lq = _pairs(tmp_path, ['a', 'b'], scale=2)
    problem = _problems({'scale': 4, 'datasets': {'train': _paired(gt, lq)}})[('datasets.train.dataroot_lq', 'error')]
    assert '2 of 2 pairs are not x4' in problem.message and 'a.png 32x40 vs a.png 16x20' in problem.message
    assert 'set scale: 2' in problem.fix


def test_same_folder_as_gt_and_lq_is_reported_as_a_ratio_of_one(tmp_path):
    gt, _ = _pairs(tmp_path, ['a'])
    problem = _problems({'scale': 4, 'datasets': {'val': _paired(gt, gt)}})[('datasets.val.dataroot_lq', 'error')]
    assert 'same size' in problem.fix


def test_evaluation_tolerates_gt_up_to_scale_minus_one_pixels_larger_but_training_does_not(tmp_path):
    gt, lq = _pairs(tmp_path, ['a'], gt_hw=(35, 43), lq_hw=(8, 10))
    assert _problems({'scale': 4, 'datasets': {'val': _paired(gt, lq)}}) == {}
    assert ('datasets.train.dataroot_lq', 'error') in _problems({'scale': 4, 'datasets': {'train': _paired(gt, lq)}})


def test_lmdb_without_meta_info_is_named_with_the_fix(tmp_path):
    gt, _ = _pairs(tmp_path, ['a', 'b'])
    lmdb_path = str(tmp_path / 'gt.lmdb')
    make_lmdb_from_imgs(gt, lmdb_path, ['a.png', 'b.png'], folder_keys(['a.png', 'b.png']))
    block = {'type': 'SingleImageDataset', 'dataroot_lq': lmdb_path, 'io_backend': {'type': 'lmdb'}}
    assert _problems({'datasets': {'val': block}}) == {}
    os.remove(os.path.join(lmdb_path, 'meta_info.txt'))
    problem = _problems({'datasets': {'val': block}})[('datasets.val.dataroot_lq', 'error')]
    assert 'no meta_info.txt' in problem.message and 'create_lmdb.py' in problem.fix


def test_lmdb_read_as_a_disk_folder_and_paired_lmdbs_with_different_keys_are_reported(tmp_path):
    gt, lq = _pairs(tmp_path, ['a', 'b'])
    os.remove(os.path.join(lq, 'b.png'))
    for folder in (gt, lq):
        names = sorted(os.listdir(folder))
        make_lmdb_from_imgs(folder, folder + '.lmdb', names, folder_keys(names))
    lmdb_pair = _paired(gt + '.lmdb', lq + '.lmdb', io_backend={'type': 'lmdb'})
    assert (
        'b -> b'
        in _problems({'scale': 4, 'datasets': {'val': lmdb_pair}})[('datasets.val.dataroot_lq', 'error')].message
    )
    as_disk = _problems({'scale': 4, 'datasets': {'val': _paired(gt + '.lmdb', lq + '.lmdb')}})
    assert 'io_backend' in as_disk[('datasets.val.dataroot_gt', 'error')].fix


@pytest.mark.parametrize('damage', ['text_as_png', 'truncated_png', 'truncated_jpeg', 'empty'])
def test_unreadable_files_are_listed_by_name(tmp_path, damage):
    folder = tmp_path / 'lq'
    folder.mkdir()
    cv2.imwrite(str(folder / 'good.png'), _noise(16, 16))
    cv2.imwrite(str(tmp_path / 'full.jpg'), _noise(64, 64))
    data = {
        'text_as_png': b'not an image',
        'truncated_png': (folder / 'good.png').read_bytes()[:-40],
        'truncated_jpeg': (tmp_path / 'full.jpg').read_bytes()[:-2000],
        'empty': b'',
    }[damage]
    (folder / 'bad.png').write_bytes(data)
    problem = _problems({'datasets': {'test_1': _single(str(folder))}})[('datasets.test_1.dataroot_lq', 'error')]
    assert '1 unreadable files' in problem.message and 'bad.png' in problem.message


def test_decode_mode_reads_other_formats_and_agrees_with_headers(tmp_path):
    for ext in ('png', 'jpg', 'bmp'):
        path = str(tmp_path / f'img.{ext}')
        cv2.imwrite(path, _noise(13, 29))
        assert read_image_size(path) == read_image_size(path, decode=True) == (13, 29)


def test_images_smaller_than_the_training_crop_are_reported_only_for_training(tmp_path):
    folder = tmp_path / 'lq'
    folder.mkdir()
    cv2.imwrite(str(folder / 'big.png'), _noise(60, 60))
    cv2.imwrite(str(folder / 'small.png'), _noise(40, 60))
    problem = _problems({'datasets': {'train_t': _single(str(folder), lq_size=48)}})[
        ('datasets.train_t.dataroot_lq', 'error')
    ]
    assert 'small.png (40x60)' in problem.message and 'big.png' not in problem.message and 'lq_size' in problem.fix
    assert _problems({'datasets': {'val': _single(str(folder), lq_size=48)}}) == {}


def test_fixed_crop_of_the_pipeline_is_the_crop_of_blind_paired_datasets(tmp_path):
    gt, _ = _pairs(tmp_path, ['a'], gt_hw=(100, 200))
    block = {
        'type': 'BlindPairedImageDataset',
        'dataroot_gt': gt,
        'dataroot_lq': gt,
        'io_backend': {'type': 'disk'},
        'gt_size': 64,
        'pipeline': [{'type': 'FixedCrop', 'keys': ['gt'], 'crop_size': [192, 192]}],
    }
    problem = _problems({'datasets': {'train_s': block}})[('datasets.train_s.dataroot_gt', 'error')]
    assert 'FixedCrop crop_size=192x192' in problem.message


def test_duplicates_and_validation_images_seen_in_training_are_warnings(tmp_path):
    train, val = tmp_path / 'train', tmp_path / 'val'
    train.mkdir(), val.mkdir()
    for i in range(3):
        cv2.imwrite(str(train / f'{i}.png'), _noise(16, 16, seed=i))
    shutil.copy(train / '0.png', train / 'copy.png')
    shutil.copy(train / '1.png', val / 'leaked.png')
    cv2.imwrite(str(val / 'fresh.png'), _noise(16, 16, seed=9))
    report = inspect_datasets({'datasets': {'train_t': _single(str(train)), 'val': _single(str(val))}})
    assert report.errors == []
    messages = {p.key: p.message for p in report.warnings}
    assert '0.png == copy.png' in messages['datasets.train_t.dataroot_lq']
    leak = messages['datasets.val.dataroot_lq']
    assert 'leaked.png' in leak and 'fresh.png' not in leak


def test_raw_realsr_folder_used_as_target_set_is_reported(tmp_path):
    for name in ('Canon_001_HR.png', 'Canon_001_LR4.png'):
        cv2.imwrite(str(tmp_path / name), _noise(64, 64))
    problem = _problems({'datasets': {'train_t': _single(str(tmp_path))}})[('datasets.train_t.dataroot_lq', 'error')]
    assert 'split_realsr.py' in problem.fix


def test_epoch_length_follows_basicsr_formula(tmp_path):
    gt, lq = _pairs(tmp_path, [str(i) for i in range(5)])
    block = _paired(gt, lq, batch_size_per_gpu=2, dataset_enlarge_ratio=3)
    opt = {'scale': 4, 'datasets': {'train': block}, 'train': {'total_iter': 100}}
    report = inspect_datasets(opt, world_size=2)
    assert report.summaries[0].iters_per_epoch == math.ceil(5 * 3 / (2 * 2))
    assert 'total_iter 100 = 25.00 epochs' in format_report(report)


@pytest.mark.parametrize('count, batch, ratio, world_size', [(6, 4, 1, 1), (5, 2, 3, 2), (7, 3, 1, 2), (9, 4, 2, 1)])
def test_epoch_length_is_what_the_training_loader_draws(tmp_path, count, batch, ratio, world_size):
    from basicsr.data import build_dataloader, build_dataset
    from basicsr.data.data_sampler import EnlargedSampler

    gt, lq = _pairs(tmp_path, [str(i) for i in range(count)])
    block = _paired(
        gt,
        lq,
        batch_size_per_gpu=batch,
        dataset_enlarge_ratio=ratio,
        gt_size=8,
        use_hflip=False,
        use_rot=False,
        num_worker_per_gpu=0,
        phase='train',
        scale=4,
        name='train',
    )
    report = inspect_datasets({'scale': 4, 'datasets': {'train': block}}, world_size=world_size)
    dataset = build_dataset(block)
    loader = build_dataloader(
        dataset, block, num_gpu=0, dist=world_size > 1, sampler=EnlargedSampler(dataset, world_size, 0, ratio)
    )
    assert report.summaries[0].iters_per_epoch == len(loader)


def test_check_dataset_script_takes_force_yml_like_training(tmp_path, monkeypatch, capsys):
    gt, lq = _pairs(tmp_path, ['a', 'b'], scale=2)
    opt_path = tmp_path / 'opt.yml'
    opt_path.write_text(yaml.safe_dump({'scale': 4, 'datasets': {'train': _paired('gt', 'lq', gt_size=8)}}))
    monkeypatch.chdir(tmp_path)
    script = _load_check_script()
    assert script.main(['--opt', str(opt_path), '--force-yml', 'scale=2']) == 0
    assert 'No data problems found.' in capsys.readouterr().out
    assert script.main(['-opt', str(tmp_path / 'absent.yml')]) == 2
    assert 'absent.yml does not exist' in capsys.readouterr().err


def test_quick_mode_samples_images_but_still_checks_names(tmp_path, monkeypatch):
    gt, lq = _pairs(tmp_path, [f'{i:02d}' for i in range(20)])
    os.remove(os.path.join(lq, '07.png'))
    measured = []
    import basicsr.data.dataset_scan as scan

    real = scan.read_image_size
    monkeypatch.setattr(scan, 'read_image_size', lambda path, decode=False: measured.append(path) or real(path))
    problems = _problems({'scale': 4, 'datasets': {'val': _paired(gt, lq)}}, max_images=4)
    assert ('datasets.val.dataroot_lq', 'error') in problems
    assert 0 < len(measured) <= 2 * 8


def test_report_and_raise_name_every_problem_with_its_fix(tmp_path):
    opt = {'datasets': {'train_t': _single(str(tmp_path / 'nope')), 'val': _single(str(tmp_path / 'nope2'))}}
    report = inspect_datasets(opt)
    text = format_report(report)
    assert '2 error(s)' in text and 'datasets.train_t.dataroot_lq' in text and 'datasets.val.dataroot_lq' in text
    assert text.count('fix:') == 2
    with pytest.raises(DatasetCheckError, match='nope2'):
        raise_on_errors(report)


def _load_check_script():
    spec = importlib.util.spec_from_file_location('check_dataset_script', ROOT / 'scripts' / 'check_dataset.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_check_dataset_script_exits_nonzero_and_prints_problems(tmp_path, monkeypatch, capsys):
    gt, lq = _pairs(tmp_path, ['a', 'b'], scale=2)
    opt_path = tmp_path / 'opt.yml'
    opt_path.write_text(yaml.safe_dump({'scale': 4, 'datasets': {'train': _paired('gt', 'lq', gt_size=8)}}))
    monkeypatch.chdir(tmp_path)  # dataroots are relative to the launch directory
    script = _load_check_script()
    assert script.main(['-opt', str(opt_path)]) == 1
    assert 'datasets.train.dataroot_lq' in capsys.readouterr().out
    opt_path.write_text(yaml.safe_dump({'scale': 2, 'datasets': {'train': _paired('gt', 'lq', gt_size=8)}}))
    assert script.main(['-opt', str(opt_path), '--decode']) == 0
    assert 'No data problems found.' in capsys.readouterr().out


def test_blind_paired_dataset_pairs_lq_names_but_decodes_only_gt(tmp_path):
    gt, lq = _pairs(tmp_path, ['a', 'b'], gt_hw=(200, 200))
    (Path(lq) / 'a.png').write_bytes(b'names only: never decoded')
    block = {
        'type': 'BlindPairedImageDataset',
        'dataroot_gt': gt,
        'dataroot_lq': lq,
        'io_backend': {'type': 'disk'},
        'pipeline': [{'type': 'FixedCrop', 'keys': ['gt'], 'crop_size': [192, 192]}],
    }
    assert _problems({'scale': 4, 'datasets': {'train_s': block}}) == {}
    os.rename(Path(lq) / 'b.png', Path(lq) / 'b_copy.png')
    assert (
        'b.png -> b.png'
        in _problems({'scale': 4, 'datasets': {'train_s': block}})[('datasets.train_s.dataroot_lq', 'error')].message
    )
    del block['dataroot_lq']
    unset = _problems({'scale': 4, 'datasets': {'train_s': block}})[('datasets.train_s.dataroot_lq', 'error')]
    assert 'same folder as dataroot_gt' in unset.fix


def test_on_bad_image_skip_turns_unreadable_files_into_a_warning(tmp_path):
    cv2.imwrite(str(tmp_path / 'good.png'), _noise(8, 8))
    (tmp_path / 'bad.png').write_bytes(b'broken')
    problem = _problems({'datasets': {'val': _single(str(tmp_path), on_bad_image='skip')}})[
        ('datasets.val.dataroot_lq', 'warning')
    ]
    assert 'bad.png' in problem.message and 'skips them' in problem.fix


def test_realesrgan_dataset_lists_images_of_the_whole_tree_and_pads_small_ones(tmp_path):
    for seed, (sub, name) in enumerate((('DF2K', 'a.png'), ('OST/sky', 'b.png'))):
        os.makedirs(tmp_path / sub, exist_ok=True)
        cv2.imwrite(str(tmp_path / sub / name), _noise(20, 20, seed))
    (tmp_path / 'README.txt').write_text('not listed: not an image')
    block = {
        'type': 'RealESRGANDataset',
        'dataroot_gt': str(tmp_path),
        'io_backend': {'type': 'disk'},
        'gt_size': 256,
        'batch_size_per_gpu': 1,
    }
    report = inspect_datasets({'datasets': {'train': block}})
    assert report.problems == [] and report.summaries[0].counts == {'gt': 2}
    meta = tmp_path / 'meta.txt'
    meta.write_text('DF2K/a.png\nOST/sky/missing.png\n')
    problem = _problems({'datasets': {'train': {**block, 'meta_info': str(meta)}}})[
        ('datasets.train.meta_info', 'error')
    ]
    assert 'OST/sky/missing.png' in problem.message


def test_what_the_check_rejects_the_real_loader_rejects_too(tmp_path):
    from basicsr.data import build_dataset

    gt, lq = _pairs(tmp_path, ['a', 'b'])
    good = _paired(gt, lq, phase='val', scale=4)
    assert check_datasets({'datasets': {'val': good}}) == []
    assert len(build_dataset(good)) == 2
    os.rename(Path(lq) / 'b.png', Path(lq) / 'bx4.png')
    assert ('datasets.val.dataroot_lq', 'error') in _problems({'datasets': {'val': good}})
    with pytest.raises(ValueError, match='do not pair up'):
        build_dataset(good)
