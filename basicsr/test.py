"""Testing entry point: `python basicsr/test.py -opt options/x.yml` evaluates every dataset of the option file.

Per-image and mean metrics go to `results/<name>/metrics.csv` and `metrics.json`; a Markdown table (one row per
dataset, one column per metric) is logged at the end.
"""

import logging
import os
import sys
from os import path as osp
from typing import Optional

if __package__ in (None, ''):  # run as a script: make the repository root importable
    sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), osp.pardir)))

import torch  # noqa: E402

from basicsr.data import build_dataloader, build_dataset  # noqa: E402
from basicsr.evaluation.folders import metric_directions, prepare_metrics  # noqa: E402
from basicsr.evaluation.metric_sizes import check_metric_sizes  # noqa: E402
from basicsr.evaluation.result_table import dataset_summary_rows, markdown_table, metric_columns, write_test_results  # noqa: E402
from basicsr.models import build_model  # noqa: E402
from basicsr.option_check import validate_options  # noqa: E402
from basicsr.utils.errors import run_command  # noqa: E402
from basicsr.utils.logger import FILE_ONLY, get_env_info, get_root_logger, hold_records_for_log_file  # noqa: E402
from basicsr.utils.misc import get_time_str, make_exp_dirs  # noqa: E402
from basicsr.utils.options import dict2str, parse_options  # noqa: E402


def build_test_loaders(opt: dict) -> list:
    """One loader per dataset block, in the order of the option file."""
    loaders = []
    for _, dataset_opt in opt['datasets'].items():
        test_set = build_dataset(dataset_opt)
        loaders.append(
            build_dataloader(
                test_set, dataset_opt, num_gpu=opt['num_gpu'], dist=opt['dist'], sampler=None, seed=opt['manual_seed']
            )
        )
        get_root_logger().info(f'Number of test images in {dataset_opt["name"]}: {len(test_set)}')
    return loaders


def report_results(opt: dict, records: list[dict]) -> str:
    """Write metrics.csv/metrics.json into `path.results_root` and log the Markdown summary table; returns it."""
    logger = get_root_logger()
    directions = metric_directions((opt.get('val') or {}).get('metrics') or {})
    rows = dataset_summary_rows(records)
    metrics = metric_columns(rows, list(directions))
    csv_path, json_path = write_test_results(opt['path']['results_root'], records, directions, list(directions))
    if metrics:
        table = markdown_table(['dataset'], rows, metrics, directions)
    else:
        table = '(no metrics configured under val.metrics: only images were produced)'
    logger.info(
        f'Results of {opt["name"]}:\n{table}\nPer-image values: {shown_path(csv_path)} and {shown_path(json_path)}'
    )
    return table


def shown_path(path: str) -> str:
    """`path` relative to the launch directory when it lies below it (shorter, and the same on every machine)."""
    relative = osp.relpath(path)
    return path if relative.startswith(os.pardir) else relative


def test_pipeline(root_path: str, argv: Optional[list[str]] = None) -> list[dict]:
    """Run the model over every test set; returns one record per set with its mean and per-image metrics."""
    opt, _ = parse_options(root_path, is_train=False, argv=argv, validate=validate_options)
    hold_records_for_log_file()
    check_metric_sizes(opt)
    torch.backends.cudnn.benchmark = True
    val_opt = opt['val'] = opt.get('val') or {}
    val_opt.setdefault('pbar', True)
    prepare_metrics(val_opt.get('metrics') or {})
    test_loaders = build_test_loaders(opt)
    model = build_model(opt)
    make_exp_dirs(opt)
    log_file = osp.join(opt['path']['log'], f'test_{opt["name"]}_{get_time_str()}.log')
    logger = get_root_logger(logger_name='basicsr', log_level=logging.INFO, log_file=log_file)
    logger.info(get_env_info(), extra=FILE_ONLY)
    logger.info(dict2str(opt), extra=FILE_ONLY)
    records = []
    for test_loader in test_loaders:
        test_set_name = test_loader.dataset.opt['name']
        logger.info(f'Testing {test_set_name}...')
        model.validation(test_loader, current_iter=opt['name'], tb_logger=None, save_img=val_opt.get('save_img', True))
        records.append(
            {
                'dataset': test_set_name,
                'metrics': dict(getattr(model, 'metric_results', {}) or {}),
                'per_image': list(getattr(model, 'per_image_metrics', [])),
            }
        )
    if opt.get('rank', 0) == 0:
        report_results(opt, records)
    return records


def test_command() -> int:
    """Test with results under the launch directory (`results/<name>`) unless `path.results_root` is set."""
    test_pipeline(os.getcwd())
    return 0


def main() -> None:
    """Command-line entry: a user error is one plain message (exit 2), a bug a traceback (exit 1)."""
    sys.exit(run_command(test_command, what='testing'))


if __name__ == '__main__':
    main()
