"""Compare SR methods on GT sets: one row per (dataset, method), one column per metric, the best value in bold.

    python scripts/evaluate.py --gt RealSR=datasets/RealSRV3/Canon/Test/4/HR \\
        --method bicubic=results/bicubic pdd=results/pdd_ema/visualization/RealSR --metrics psnr ssim lpips niqe \\
        --crop-border 4 -o results/comparison

With several --gt sets, each method folder holds one sub-folder per dataset name (test.py's visualization/ layout).
Results match GT images by name: `<stem>.png`, `<stem>_<suffix>.png`, or a common key from --key-regex.
Writes <out>/comparison.md, comparison.csv (means, a `best_in` column) and per_image.csv; prints the table.
"""

import argparse
import os
import sys
from collections.abc import Sequence
from os import path as osp
from typing import Optional

# this checkout's basicsr, also when another one is installed
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from tqdm import tqdm  # noqa: E402

from basicsr.evaluation.folders import (  # noqa: E402
    EvaluationError,
    MethodResult,
    evaluate_method,
    match_results,
    method_folder,
    metric_directions,
    metric_options,
    metrics_from_option_file,
    parse_named_path,
    prepare_metrics,
    size_problems,
)
from basicsr.evaluation.result_table import TableRow, best_marks, markdown_table, metric_columns, write_csv_table  # noqa: E402
from basicsr.utils.arg_parser import ArgumentParser  # noqa: E402
from basicsr.utils.errors import as_user_error, report_failure  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--gt', nargs='+', required=True, metavar='[NAME=]DIR', help='GT folder(s), one per dataset')
    parser.add_argument('--method', nargs='+', required=True, metavar='NAME=DIR', help='result folder of each method')
    parser.add_argument(
        '--metrics',
        nargs='+',
        default=['psnr', 'ssim'],
        help='psnr, ssim, haarpsi, lpips, niqe, pyiqa:<name> (default psnr ssim)',
    )
    parser.add_argument('--metrics-opt', help='option file whose val.metrics blocks are used instead of --metrics')
    parser.add_argument(
        '--crop-border',
        type=int,
        default=0,
        help='pixels cut from each edge before scoring (papers use the scale, e.g. 4)',
    )
    parser.add_argument('--test-y-channel', action='store_true', help='PSNR/SSIM on the Y channel (BT.601)')
    parser.add_argument('--key-regex', help='regex whose first group identifies an image in GT and result names')
    parser.add_argument('-o', '--output', default='results/evaluation', help='output folder')
    parser.add_argument('--debug', action='store_true', help='show the traceback of an error')
    return parser


def collect_pairs(
    gt_sets: list[tuple[str, str]], methods: list[tuple[str, str]], key_regex: Optional[str]
) -> dict[tuple[str, str], list]:
    """Pairs for each (dataset, method), after checking every result exists and has its GT's size."""
    jobs, problems = {}, []
    for dataset, gt_dir in gt_sets:
        for method, method_dir in methods:
            try:
                pairs = match_results(gt_dir, method_folder(method_dir, dataset, len(gt_sets)), key_regex)
            except EvaluationError as err:
                problems += err.problems
                continue
            except FileNotFoundError as err:
                problems.append(str(err))
                continue
            problems += size_problems(pairs, f'{dataset}/{method}')
            jobs[(dataset, method)] = pairs
    if problems:
        raise EvaluationError(problems)
    return jobs


def run_evaluation(jobs: dict, metrics_opt: dict) -> list[MethodResult]:
    total = sum(len(pairs) for pairs in jobs.values())
    results = []
    with tqdm(total=total * len(metrics_opt), unit='score', disable=True if total < 2 else None) as progress:
        for (dataset, method), pairs in jobs.items():
            progress.set_description(f'{dataset}/{method}')
            results.append(
                evaluate_method(
                    pairs, metrics_opt, dataset, method, on_image=lambda _: progress.update(len(metrics_opt))
                )
            )
    return results


def write_tables(results: list[MethodResult], metrics_opt: dict, output: str) -> str:
    """Write comparison.md/.csv and per_image.csv into `output`; returns the Markdown table."""
    directions = metric_directions(metrics_opt)
    rows = [TableRow((r.dataset, r.method, str(len(r.per_image))), r.means) for r in results]
    metrics = metric_columns(rows, list(metrics_opt))
    table = markdown_table(['dataset', 'method', 'images'], rows, metrics, directions, mark_best=True, group_column=0)
    with open(osp.join(output, 'comparison.md'), 'w') as f:
        f.write(table + '\n\nBest value per dataset in bold; ↑ higher is better, ↓ lower is better.\n')
    write_csv_table(
        osp.join(output, 'comparison.csv'),
        ['dataset', 'method', 'images'],
        rows,
        metrics,
        best=best_marks(rows, metrics, directions, group_column=0),
    )
    image_rows = [TableRow((r.dataset, r.method, name), values) for r in results for name, values in r.per_image]
    write_csv_table(osp.join(output, 'per_image.csv'), ['dataset', 'method', 'image'], image_rows, metrics)
    return table


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the CLI; returns the exit status (2 on bad input, 1 when an image could not be read)."""
    args = build_parser().parse_args(argv)
    try:
        if args.metrics_opt:
            metrics_opt = metrics_from_option_file(args.metrics_opt)
        else:
            metrics_opt = metric_options(args.metrics, args.crop_border, args.test_y_channel)
        prepare_metrics(metrics_opt)
        jobs = collect_pairs(
            [parse_named_path(g) for g in args.gt], [parse_named_path(m) for m in args.method], args.key_regex
        )
        results = run_evaluation(jobs, metrics_opt)
    except (EvaluationError, FileNotFoundError, KeyError, ValueError, RuntimeError) as err:
        return report_failure(as_user_error(err), debug=args.debug)
    os.makedirs(args.output, exist_ok=True)
    print(write_tables(results, metrics_opt, args.output))
    print(f'Tables written to {args.output}/comparison.md, comparison.csv and per_image.csv')
    failures = [f for r in results for f in r.failures]
    for path, reason in failures:
        print(f'unreadable, left out of the means: {path}: {reason}', file=sys.stderr)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
