"""Result tables: per-dataset or per-method metric means as Markdown, CSV and JSON, with the best value marked.

Which value is best follows each metric's direction ('higher' or 'lower', from `basicsr.metrics.metric_better`),
compared within a group of rows (e.g. the methods evaluated on one dataset). Ties are all marked.
"""

import csv
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional

ARROWS = {'higher': '↑', 'lower': '↓'}
MEAN_ROW = 'mean'


@dataclass
class TableRow:
    """One table row: its label cells (e.g. dataset, method) and its metric values."""

    labels: tuple[str, ...]
    values: dict[str, float] = field(default_factory=dict)


def metric_columns(rows: Sequence[TableRow], preferred: Sequence[str] = ()) -> list[str]:
    """Metric names in `preferred` order first, then any others in the order the rows first show them."""
    columns = [m for m in preferred if any(m in row.values for row in rows)]
    for row in rows:
        columns += [m for m in row.values if m not in columns]
    return columns


def best_rows(rows: Sequence[TableRow], metric: str, direction: str, group_column: Optional[int] = None) -> set[int]:
    """Indices of the rows holding the best finite `metric` value within their group (all rows when no group)."""
    if direction not in ARROWS:
        raise ValueError(f"Metric '{metric}': direction must be 'higher' or 'lower', got '{direction}'.")
    groups: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        key = row.labels[group_column] if group_column is not None else ''
        groups.setdefault(key, []).append(index)
    best = set()
    for members in groups.values():
        scored = [
            (rows[i].values[metric], i)
            for i in members
            if metric in rows[i].values and not math.isnan(rows[i].values[metric])
        ]
        if len(scored) < 2:
            continue
        target = max(v for v, _ in scored) if direction == 'higher' else min(v for v, _ in scored)
        best.update(i for v, i in scored if v == target)
    return best


def best_marks(
    rows: Sequence[TableRow], metrics: Sequence[str], directions: dict[str, str], group_column: Optional[int] = None
) -> dict[int, list[str]]:
    """For each row index, the metrics (among those with a known direction) in which it is best."""
    marks: dict[int, list[str]] = {}
    for metric in metrics:
        if metric in directions:
            for index in best_rows(rows, metric, directions[metric], group_column):
                marks.setdefault(index, []).append(metric)
    return marks


def format_value(value: Optional[float], digits: int = 4) -> str:
    """A fixed-point number, '-' for a missing value, 'inf' for PSNR of identical images."""
    if value is None:
        return '-'
    if math.isinf(value):
        return 'inf' if value > 0 else '-inf'
    return f'{value:.{digits}f}'


def markdown_table(
    label_names: Sequence[str],
    rows: Sequence[TableRow],
    metrics: Sequence[str],
    directions: Optional[dict[str, str]] = None,
    mark_best: bool = False,
    group_column: Optional[int] = None,
    digits: int = 4,
) -> str:
    """A Markdown table: label columns, then one column per metric (headed with its ↑/↓ direction).

    With `mark_best`, the best value of each column (within each group of `group_column`) is set in bold.
    """
    directions = directions or {}
    marks = best_marks(rows, metrics, directions, group_column) if mark_best else {}
    header = list(label_names) + [f'{m} {ARROWS[directions[m]]}' if m in directions else m for m in metrics]
    lines = [
        '| ' + ' | '.join(header) + ' |',
        '|' + '|'.join([':---'] * len(label_names) + ['---:'] * len(metrics)) + '|',
    ]
    for index, row in enumerate(rows):
        cells = list(row.labels)
        for metric in metrics:
            text = format_value(row.values.get(metric), digits)
            cells.append(f'**{text}**' if metric in marks.get(index, []) else text)
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def write_csv_table(
    path: str,
    label_names: Sequence[str],
    rows: Sequence[TableRow],
    metrics: Sequence[str],
    best: Optional[dict[int, list[str]]] = None,
) -> str:
    """Write rows as CSV (full precision); with `best`, a last column `best_in` lists the metrics a row wins."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(list(label_names) + list(metrics) + (['best_in'] if best is not None else []))
        for index, row in enumerate(rows):
            values = [repr(float(row.values[m])) if m in row.values else '' for m in metrics]
            extra = [';'.join(best.get(index, []))] if best is not None else []
            writer.writerow(list(row.labels) + values + extra)
    return path


def write_json(path: str, payload: dict) -> str:
    """Write `payload` as indented JSON (PSNR of identical images is written as Infinity, which Python reads)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(payload, f, indent=2)
        f.write('\n')
    return path


def dataset_summary_rows(records: Sequence[dict]) -> list[TableRow]:
    """One row per dataset record of `basicsr.test.test_pipeline`, holding its mean metrics."""
    return [TableRow((record['dataset'],), dict(record['metrics'])) for record in records]


def per_image_rows(records: Sequence[dict]) -> list[TableRow]:
    """Rows (dataset, image) for every image, each dataset closed by a (dataset, 'mean') row."""
    rows = []
    for record in records:
        rows += [TableRow((record['dataset'], name), dict(values)) for name, values in record['per_image']]
        rows.append(TableRow((record['dataset'], MEAN_ROW), dict(record['metrics'])))
    return rows


def write_test_results(
    results_root: str, records: Sequence[dict], directions: dict[str, str], metric_order: Sequence[str] = ()
) -> tuple[str, str]:
    """Write `metrics.csv` (per image + mean per dataset) and `metrics.json` under `results_root`."""
    rows = per_image_rows(records)
    metrics = metric_columns(rows, metric_order)
    csv_path = write_csv_table(os.path.join(results_root, 'metrics.csv'), ('dataset', 'image'), rows, metrics)
    payload = {
        'metrics': metrics,
        'better': {m: directions[m] for m in metrics if m in directions},
        'datasets': [
            {
                'dataset': r['dataset'],
                'num_images': len(r['per_image']),
                'mean': dict(r['metrics']),
                'per_image': [{'image': name, **values} for name, values in r['per_image']],
            }
            for r in records
        ],
    }
    json_path = write_json(os.path.join(results_root, 'metrics.json'), payload)
    return csv_path, json_path
