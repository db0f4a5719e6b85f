"""`test.py` on generated folders: every test set in file order, per-image and mean metrics in CSV/JSON, a Markdown
table in the log, and the saved images."""

import csv
import glob
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
import yaml

from basicsr.archs import build_network
from basicsr.metrics.psnr_ssim import calculate_psnr
from basicsr.option_check import OptionError
from basicsr.test import test_pipeline as run_test_pipeline
from tests.conftest import tiny_sr_options, write_paired_folders

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_test_options(tmp_path, save_img: bool = True) -> str:
    """An option file with two test sets (second listed first) and a tiny saved checkpoint."""
    gt_a, lq_a = write_paired_folders(tmp_path / 'a', count=2, gt_size=32, scale=2, seed=1)
    gt_b, lq_b = write_paired_folders(tmp_path / 'b', count=3, gt_size=32, scale=2, seed=2)
    opt = tiny_sr_options(gt_a, lq_a, name='tiny_eval')
    torch.manual_seed(0)
    torch.save({'params': build_network(opt['network_g']).state_dict()}, tmp_path / 'net_g.pth')
    del opt['train']
    val_block = opt['datasets'].pop('val')
    opt['datasets'] = {
        'test_2': dict(val_block, name='zeta', dataroot_gt=gt_b, dataroot_lq=lq_b),
        'test_1': dict(val_block, name='alpha'),
    }
    opt['path'] = {'pretrain_network_g': str(tmp_path / 'net_g.pth'), 'param_key_g': 'params', 'strict_load_g': True}
    opt['val'] = {
        'save_img': save_img,
        'suffix': 'tiny',
        'metrics': {
            'psnr': {'type': 'calculate_psnr', 'crop_border': 2, 'test_y_channel': False},
            'ssim': {'type': 'calculate_ssim', 'crop_border': 2, 'test_y_channel': True},
        },
    }
    path = tmp_path / 'test_tiny.yml'
    path.write_text(yaml.safe_dump(opt, sort_keys=False))
    return str(path)


@pytest.fixture
def finished_run(tmp_path):
    records = run_test_pipeline(str(tmp_path), ['-opt', write_test_options(tmp_path)])
    return tmp_path / 'results' / 'tiny_eval', records


def test_every_test_set_is_run_in_file_order(finished_run):
    _, records = finished_run
    assert [r['dataset'] for r in records] == ['zeta', 'alpha']
    assert [len(r['per_image']) for r in records] == [3, 2]


def test_metrics_csv_holds_each_image_and_each_mean(finished_run):
    results, records = finished_run
    with open(results / 'metrics.csv') as f:
        rows = list(csv.reader(f))
    assert rows[0] == ['dataset', 'image', 'psnr', 'ssim']
    assert [r[:2] for r in rows[1:]] == [
        ['zeta', 'img000'],
        ['zeta', 'img001'],
        ['zeta', 'img002'],
        ['zeta', 'mean'],
        ['alpha', 'img000'],
        ['alpha', 'img001'],
        ['alpha', 'mean'],
    ]
    zeta_psnr = [float(r[2]) for r in rows[1:4]]
    assert float(rows[4][2]) == pytest.approx(np.mean(zeta_psnr))
    assert float(rows[4][2]) == pytest.approx(records[0]['metrics']['psnr'])


def test_metrics_json_matches_the_saved_images(finished_run):
    results, _ = finished_run
    payload = json.loads((results / 'metrics.json').read_text())
    assert payload['metrics'] == ['psnr', 'ssim'] and payload['better'] == {'psnr': 'higher', 'ssim': 'higher'}
    zeta = payload['datasets'][0]
    assert zeta['dataset'] == 'zeta' and zeta['num_images'] == 3
    for entry in zeta['per_image']:
        sr = cv2.imread(str(results / 'visualization' / 'zeta' / f'{entry["image"]}_tiny.png'))
        gt = cv2.imread(str(results.parents[1] / 'b' / 'gt' / f'{entry["image"]}.png'))
        assert entry['psnr'] == pytest.approx(calculate_psnr(sr, gt, crop_border=2), abs=1e-9)
    assert zeta['mean']['ssim'] == pytest.approx(np.mean([e['ssim'] for e in zeta['per_image']]))


def test_log_ends_with_a_markdown_table_of_the_means(finished_run):
    results, records = finished_run
    (log_file,) = glob.glob(str(results / 'test_tiny_eval_*.log'))
    log = open(log_file).read()
    assert '| dataset | psnr ↑ | ssim ↑ |' in log
    zeta = records[0]['metrics']
    assert f'| zeta | {zeta["psnr"]:.4f} | {zeta["ssim"]:.4f} |' in log
    assert log.index('| zeta |') < log.index('| alpha |')


def test_images_are_not_saved_when_save_img_is_off(tmp_path):
    run_test_pipeline(str(tmp_path), ['-opt', write_test_options(tmp_path, save_img=False)])
    results = tmp_path / 'results' / 'tiny_eval'
    assert (results / 'metrics.csv').is_file()
    assert not glob.glob(str(results / 'visualization' / '*' / '*.png'))


def test_test_py_runs_as_a_script_and_prints_the_table(tmp_path):
    option_file = write_test_options(tmp_path, save_img=False)
    opt = yaml.safe_load(open(option_file))
    opt['path']['results_root'] = str(tmp_path / 'script_results')
    with open(option_file, 'w') as f:
        yaml.safe_dump(opt, f)
    done = subprocess.run(
        [sys.executable, os.path.join(REPO, 'basicsr', 'test.py'), '-opt', option_file],
        capture_output=True,
        text=True,
        cwd=str(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    assert '| dataset | psnr ↑ | ssim ↑ |' in done.stdout + done.stderr
    assert (tmp_path / 'script_results' / 'metrics.json').is_file()


def test_missing_lpips_backbone_stops_the_run_before_any_image_naming_the_file(tmp_path):
    option_file = write_test_options(tmp_path)
    opt = yaml.safe_load(open(option_file))
    opt['val']['metrics']['lpips'] = {'type': 'calculate_lpips', 'crop_border': 2, 'better': 'lower'}
    with open(option_file, 'w') as f:
        yaml.safe_dump(opt, f)
    with pytest.raises(OptionError, match='val.metrics.lpips: .*alexnet-owt-7be5be79.pth'):
        run_test_pipeline(str(tmp_path), ['-opt', option_file])
    assert not glob.glob(str(tmp_path / 'results' / 'tiny_eval' / 'visualization' / '*' / '*.png'))
