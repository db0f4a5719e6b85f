"""Folder evaluation pairs results with GT by name, names every problem up front, and scores like the metrics."""

import cv2
import numpy as np
import pytest

from basicsr.evaluation.folders import (
    EvaluationError,
    evaluate_method,
    match_key,
    match_results,
    method_folder,
    metric_options,
    size_problems,
)
from basicsr.metrics.psnr_ssim import calculate_psnr


def write(folder, names, size=(16, 12), seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in names:
        cv2.imwrite(str(folder / name), rng.integers(0, 256, (size[0], size[1], 3), dtype=np.uint8))
    return str(folder)


def test_results_match_by_stem_or_by_stem_plus_suffix(tmp_path):
    gt = write(tmp_path / 'gt', ['a.png', 'b.png'])
    res = write(tmp_path / 'res', ['a_pdd.png', 'b.png'])
    pairs = match_results(gt, res)
    assert [(p.name, p.result_path.split('/')[-1]) for p in pairs] == [('a', 'a_pdd.png'), ('b', 'b.png')]


def test_key_regex_pairs_realsr_style_names(tmp_path):
    gt = write(tmp_path / 'gt', ['Canon_001_HR.png', 'Canon_002_HR.png'])
    res = write(tmp_path / 'res', ['Canon_001_LR4_out.png', 'Canon_002_LR4_out.png'])
    assert match_key('Canon_001_HR', r'^(Canon_\d+)') == 'Canon_001'
    pairs = match_results(gt, res, key_regex=r'^([A-Za-z]+_\d+)')
    assert [p.result_path.split('/')[-1] for p in pairs] == ['Canon_001_LR4_out.png', 'Canon_002_LR4_out.png']


def test_missing_and_ambiguous_results_are_all_named(tmp_path):
    gt = write(tmp_path / 'gt', ['a.png', 'b.png'])
    res = write(tmp_path / 'res', ['a_x.png', 'a_y.png'])
    with pytest.raises(EvaluationError) as err:
        match_results(gt, res)
    assert len(err.value.problems) == 2
    assert 'several results match GT' in err.value.problems[0] and 'a_x.png' in err.value.problems[0]
    assert 'no result for GT' in err.value.problems[1] and 'b.png' in err.value.problems[1]


def test_size_mismatch_names_the_pair(tmp_path):
    gt = write(tmp_path / 'gt', ['a.png'], size=(16, 12))
    res = write(tmp_path / 'res', ['a.png'], size=(16, 8))
    (problem,) = size_problems(match_results(gt, res), 'pdd')
    assert 'pdd' in problem and 'res/a.png is 8x16' in problem and 'gt/a.png is 12x16' in problem


def test_several_datasets_need_a_sub_folder_per_dataset(tmp_path):
    (tmp_path / 'method' / 'RealSR').mkdir(parents=True)
    assert method_folder(str(tmp_path / 'method'), 'RealSR', 2).endswith('method/RealSR')
    assert method_folder(str(tmp_path / 'method'), 'DRealSR', 1) == str(tmp_path / 'method')
    with pytest.raises(FileNotFoundError, match='DRealSR'):
        method_folder(str(tmp_path / 'method'), 'DRealSR', 2)


def test_scores_equal_the_metric_functions_and_unreadable_images_are_recorded(tmp_path):
    gt = write(tmp_path / 'gt', ['a.png', 'b.png', 'c.png'], seed=1)
    res = write(tmp_path / 'res', ['a.png', 'b.png', 'c.png'], seed=2)
    (tmp_path / 'res' / 'c.png').write_bytes(b'broken')
    result = evaluate_method(match_results(gt, res), metric_options(['psnr'], crop_border=2), 'set', 'm')
    expected = [calculate_psnr(cv2.imread(f'{res}/{n}.png'), cv2.imread(f'{gt}/{n}.png'), crop_border=2) for n in 'ab']
    assert [name for name, _ in result.per_image] == ['a', 'b']
    assert result.means['psnr'] == pytest.approx(np.mean(expected))
    assert len(result.failures) == 1 and result.failures[0][0].endswith('c.png')


def test_metric_names_become_option_blocks():
    opts = metric_options(['psnr', 'haarpsi', 'lpips', 'pyiqa:musiq'], crop_border=4, test_y_channel=True)
    assert opts['psnr'] == {'type': 'calculate_psnr', 'crop_border': 4, 'test_y_channel': True}
    assert opts['haarpsi'] == {'type': 'calculate_haarpsi', 'crop_border': 4}
    assert opts['lpips'] == {'type': 'calculate_lpips', 'crop_border': 4}
    assert opts['pyiqa:musiq'] == {'type': 'calculate_pyiqa', 'metric': 'musiq', 'crop_border': 4}
    with pytest.raises(ValueError, match='psnrr'):
        metric_options(['psnrr'])
