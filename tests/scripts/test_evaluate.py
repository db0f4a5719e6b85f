"""The evaluation CLI writes the comparison tables with the best values marked; the compare CLI writes crop grids."""

import csv
import os

import cv2
import numpy as np

from basicsr.metrics.psnr_ssim import calculate_psnr
from basicsr.utils.crop_grid import GAP, LABEL_HEIGHT, grid_size
from scripts.compare import main as compare_main
from scripts.evaluate import main as evaluate_main
from tests.conftest import write_paired_folders


def make_methods(tmp_path):
    """GT/LR folders (x2) and two methods: bicubic (close to GT) and a blurred, darker one (worse)."""
    gt_dir, lq_dir = write_paired_folders(tmp_path / 'data', count=3, gt_size=32, scale=2)
    for method in ('bicubic', 'dark'):
        os.makedirs(tmp_path / method)
    for name in sorted(os.listdir(lq_dir)):
        up = cv2.resize(cv2.imread(os.path.join(lq_dir, name)), (32, 32), interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(tmp_path / 'bicubic' / name.replace('.png', '_out.png')), up)
        cv2.imwrite(str(tmp_path / 'dark' / name), (cv2.GaussianBlur(up, (5, 5), 2) * 0.7).astype(np.uint8))
    return gt_dir, lq_dir


def test_comparison_tables_mark_the_best_method(tmp_path, capsys):
    gt_dir, _ = make_methods(tmp_path)
    out = tmp_path / 'eval'
    status = evaluate_main(
        [
            '--gt',
            f'toy={gt_dir}',
            '--method',
            f'bicubic={tmp_path / "bicubic"}',
            f'dark={tmp_path / "dark"}',
            '--metrics',
            'psnr',
            'ssim',
            '--crop-border',
            '2',
            '-o',
            str(out),
        ]
    )
    assert status == 0
    with open(out / 'comparison.csv') as f:
        rows = list(csv.DictReader(f))
    assert [(r['dataset'], r['method'], r['images'], r['best_in']) for r in rows] == [
        ('toy', 'bicubic', '3', 'psnr;ssim'),
        ('toy', 'dark', '3', ''),
    ]
    expected = np.mean(
        [
            calculate_psnr(cv2.imread(str(tmp_path / 'dark' / n)), cv2.imread(os.path.join(gt_dir, n)), crop_border=2)
            for n in sorted(os.listdir(gt_dir))
        ]
    )
    assert abs(float(rows[1]['psnr']) - expected) < 1e-9
    markdown = (out / 'comparison.md').read_text()
    assert markdown.startswith('| dataset | method | images | psnr ↑ | ssim ↑ |')
    bicubic_line = next(line for line in markdown.splitlines() if '| bicubic |' in line)
    assert bicubic_line.count('**') == 4
    with open(out / 'per_image.csv') as f:
        assert len(list(csv.reader(f))) == 1 + 2 * 3
    assert '| toy | dark | 3 |' in capsys.readouterr().out


def test_size_mismatch_is_reported_with_the_pair(tmp_path, capsys):
    gt_dir, lq_dir = make_methods(tmp_path)
    status = evaluate_main(['--gt', gt_dir, '--method', f'lr={lq_dir}', '-o', str(tmp_path / 'eval')])
    assert status == 2
    err = capsys.readouterr().err
    assert '3 problem(s)' in err and 'lq/img000.png is 16x16 but GT' in err and 'gt/img000.png is 32x32' in err
    assert not (tmp_path / 'eval').exists()


def test_several_datasets_read_one_sub_folder_per_dataset(tmp_path):
    gt_dir, _ = make_methods(tmp_path)
    os.makedirs(tmp_path / 'm')
    os.symlink(tmp_path / 'bicubic', tmp_path / 'm' / 'A')
    os.symlink(tmp_path / 'dark', tmp_path / 'm' / 'B')
    status = evaluate_main(
        ['--gt', f'A={gt_dir}', f'B={gt_dir}', '--method', f'm={tmp_path / "m"}', '-o', str(tmp_path / 'eval')]
    )
    assert status == 0
    with open(tmp_path / 'eval' / 'comparison.csv') as f:
        rows = list(csv.DictReader(f))
    assert [r['dataset'] for r in rows] == ['A', 'B'] and float(rows[0]['psnr']) > float(rows[1]['psnr'])


def test_grid_has_lr_methods_and_gt_columns(tmp_path, capsys):
    gt_dir, lq_dir = make_methods(tmp_path)
    output = tmp_path / 'grid.png'
    status = compare_main(
        [
            '--gt',
            gt_dir,
            '--lr',
            lq_dir,
            '--method',
            f'bicubic={tmp_path / "bicubic"}',
            f'dark={tmp_path / "dark"}',
            '--crop-size',
            '16',
            '--max-rows',
            '2',
            '--zoom',
            '2',
            '-o',
            str(output),
        ]
    )
    assert status == 0, capsys.readouterr().err
    grid = cv2.imread(str(output))
    assert grid.shape == (*grid_size(2, 4, 32), 3)
    gt_crop = cv2.imread(os.path.join(gt_dir, 'img001.png'))[8:24, 8:24]
    top, left = LABEL_HEIGHT + GAP + 32 + GAP, GAP + 3 * (32 + GAP)
    np.testing.assert_array_equal(grid[top : top + 32 : 2, left : left + 32 : 2], gt_crop)


def test_grid_rejects_lr_that_is_not_an_integer_downscale(tmp_path, capsys):
    gt_dir, _ = make_methods(tmp_path)
    odd = tmp_path / 'odd_lr'
    odd.mkdir()
    for name in os.listdir(gt_dir):
        cv2.imwrite(str(odd / name), np.zeros((13, 13, 3), np.uint8))
    status = compare_main(
        ['--gt', gt_dir, '--lr', str(odd), '--method', f'b={tmp_path / "bicubic"}', '-o', str(tmp_path / 'grid.png')]
    )
    assert status == 2 and 'not an integer downscale' in capsys.readouterr().err


def test_missing_lpips_backbone_is_named_before_scoring(tmp_path, capsys):
    gt_dir, _ = make_methods(tmp_path)
    status = evaluate_main(
        [
            '--gt',
            gt_dir,
            '--method',
            f'b={tmp_path / "bicubic"}',
            '--metrics',
            'psnr',
            'lpips',
            '-o',
            str(tmp_path / 'eval'),
        ]
    )
    assert status == 2 and 'alexnet-owt-7be5be79.pth' in capsys.readouterr().err
