"""Result tables mark the best value per column by each metric's direction, and test results land in CSV/JSON."""

import csv
import json
import math

import pytest

from basicsr.evaluation.result_table import (
    TableRow,
    best_rows,
    markdown_table,
    metric_columns,
    write_csv_table,
    write_test_results,
)

ROWS = [
    TableRow(('RealSR', 'bicubic'), {'psnr': 26.0, 'lpips': 0.40}),
    TableRow(('RealSR', 'pdd'), {'psnr': 25.5, 'lpips': 0.25}),
    TableRow(('DRealSR', 'bicubic'), {'psnr': 30.0, 'lpips': 0.45}),
    TableRow(('DRealSR', 'pdd'), {'psnr': 30.0, 'lpips': 0.30}),
]
DIRECTIONS = {'psnr': 'higher', 'lpips': 'lower'}


def test_best_follows_the_metric_direction_within_each_group():
    assert best_rows(ROWS, 'psnr', 'higher', group_column=0) == {0, 2, 3}  # a tie marks both
    assert best_rows(ROWS, 'lpips', 'lower', group_column=0) == {1, 3}
    assert best_rows(ROWS, 'lpips', 'lower') == {1}


def test_unknown_direction_is_rejected_with_the_metric_name():
    with pytest.raises(ValueError, match='lpips'):
        best_rows(ROWS, 'lpips', 'smaller')


def test_markdown_table_bolds_best_values_and_shows_directions():
    table = markdown_table(['dataset', 'method'], ROWS, ['psnr', 'lpips'], DIRECTIONS, mark_best=True, group_column=0)
    lines = table.splitlines()
    assert lines[0] == '| dataset | method | psnr ↑ | lpips ↓ |'
    assert lines[2] == '| RealSR | bicubic | **26.0000** | 0.4000 |'
    assert lines[3] == '| RealSR | pdd | 25.5000 | **0.2500** |'
    assert lines[5] == '| DRealSR | pdd | **30.0000** | **0.3000** |'


def test_missing_and_infinite_values_are_printed_readably():
    rows = [TableRow(('a',), {'psnr': math.inf}), TableRow(('b',), {})]
    table = markdown_table(['dataset'], rows, ['psnr'])
    assert '| a | inf |' in table and '| b | - |' in table


def test_csv_keeps_full_precision_and_lists_where_each_row_is_best(tmp_path):
    path = write_csv_table(
        str(tmp_path / 't.csv'),
        ['dataset', 'method'],
        ROWS,
        ['psnr', 'lpips'],
        best={1: ['lpips'], 3: ['psnr', 'lpips']},
    )
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert [r['best_in'] for r in rows] == ['', 'lpips', '', 'psnr;lpips']
    assert float(rows[1]['lpips']) == 0.25 and rows[0]['method'] == 'bicubic'


def test_metric_columns_follow_the_preferred_order():
    rows = [TableRow(('a',), {'ssim': 1.0, 'psnr': 2.0}), TableRow(('b',), {'niqe': 3.0})]
    assert metric_columns(rows, ['psnr', 'lpips']) == ['psnr', 'ssim', 'niqe']


def test_test_results_hold_every_image_and_the_dataset_means(tmp_path):
    records = [
        {
            'dataset': 'set5',
            'metrics': {'psnr': 30.0, 'ssim': 0.9},
            'per_image': [('baby', {'psnr': 31.0, 'ssim': 0.95}), ('bird', {'psnr': 29.0, 'ssim': 0.85})],
        },
        {
            'dataset': 'set14',
            'metrics': {'psnr': 27.0, 'ssim': 0.8},
            'per_image': [('zebra', {'psnr': 27.0, 'ssim': 0.8})],
        },
    ]
    csv_path, json_path = write_test_results(str(tmp_path), records, {'psnr': 'higher', 'ssim': 'higher'})
    with open(csv_path) as f:
        rows = list(csv.reader(f))
    assert rows[0] == ['dataset', 'image', 'psnr', 'ssim']
    assert [r[:2] for r in rows[1:]] == [
        ['set5', 'baby'],
        ['set5', 'bird'],
        ['set5', 'mean'],
        ['set14', 'zebra'],
        ['set14', 'mean'],
    ]
    assert float(rows[3][2]) == 30.0
    with open(json_path) as f:
        payload = json.load(f)
    assert payload['better'] == {'psnr': 'higher', 'ssim': 'higher'}
    assert payload['datasets'][0]['per_image'][1] == {'image': 'bird', 'psnr': 29.0, 'ssim': 0.85}
    assert payload['datasets'][1] == {
        'dataset': 'set14',
        'num_images': 1,
        'mean': {'psnr': 27.0, 'ssim': 0.8},
        'per_image': [{'image': 'zebra', 'psnr': 27.0, 'ssim': 0.8}],
    }
