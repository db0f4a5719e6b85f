"""Folder evaluation: match each method's result images to the GT images, check sizes up front, compute metrics.

A result matches a GT image when their stems are equal, when the result stem is the GT stem plus `_<suffix>` (as
`test.py` and the inference CLI name outputs), or when a `key_regex` extracts the same key from both stems.
"""

import os
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Callable, Optional

import cv2
import numpy as np

from basicsr.data.dataset_scan import read_image_size
from basicsr.metrics import calculate_metric, metric_better
from basicsr.metrics.lpips_metric import get_lpips_model
from basicsr.utils.errors import UserError
from basicsr.utils.img_util import ImageDecodeError
from basicsr.utils.misc import list_images
from basicsr.utils.options import load_option_file

METRIC_TYPES = {
    'psnr': 'calculate_psnr',
    'ssim': 'calculate_ssim',
    'lpips': 'calculate_lpips',
    'niqe': 'calculate_niqe',
    'haarpsi': 'calculate_haarpsi',
}
REFERENCE_FREE = {'calculate_niqe'}


class EvaluationError(UserError, ValueError):
    """Problems found before any metric is computed (missing results, size mismatches), one per line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f'{len(problems)} problem(s):\n' + '\n'.join(f'  - {p}' for p in problems))


@dataclass
class ImagePair:
    """One GT image and the method's result for it."""

    name: str
    gt_path: str
    result_path: str


@dataclass
class MethodResult:
    """Mean and per-image metric values of one method on one dataset, and the images that could not be read."""

    dataset: str
    method: str
    means: dict[str, float] = field(default_factory=dict)
    per_image: list[tuple[str, dict[str, float]]] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)


def parse_named_path(text: str) -> tuple[str, str]:
    """'name=path' -> (name, path); a bare path is named after its last folder."""
    if '=' in text:
        name, path = text.split('=', 1)
        return name.strip(), path
    return os.path.basename(os.path.normpath(text)), text


def metric_options(names: Sequence[str], crop_border: int = 0, test_y_channel: bool = False) -> dict[str, dict]:
    """Metric option blocks (as in `val.metrics`) for names like psnr, ssim, haarpsi, lpips, niqe or pyiqa:<metric>."""
    options = {}
    for name in names:
        if name.startswith('pyiqa:'):
            options[name] = {'type': 'calculate_pyiqa', 'metric': name.split(':', 1)[1], 'crop_border': crop_border}
        elif name in METRIC_TYPES:
            options[name] = {'type': METRIC_TYPES[name], 'crop_border': crop_border}
            if name in ('psnr', 'ssim'):
                options[name]['test_y_channel'] = test_y_channel
        else:
            raise ValueError(
                f"Unknown metric '{name}': use {', '.join(METRIC_TYPES)} or pyiqa:<name>, "
                'or give the metric blocks in an option file (--metrics-opt).'
            )
    return options


def metrics_from_option_file(path: str) -> dict[str, dict]:
    """The `val.metrics` block of an option file (or a top-level `metrics` block)."""
    opt = load_option_file(path)
    metrics = (opt.get('val') or {}).get('metrics') or opt.get('metrics')
    if not isinstance(metrics, dict) or not metrics:
        raise KeyError(f'{path}: no val.metrics (or metrics) block with metric options.')
    return metrics


def metric_directions(metrics_opt: dict[str, dict]) -> dict[str, str]:
    """'higher' or 'lower' for each metric block, as the option or the metric function declares it."""
    return {name: metric_better(opt) for name, opt in metrics_opt.items()}


def prepare_metrics(metrics_opt: dict[str, dict]) -> None:
    """Load what the metrics need (LPIPS backbone weights) now, so a missing file fails before any image is run."""
    for opt in metrics_opt.values():
        if opt.get('type') == 'calculate_lpips':
            get_lpips_model(
                opt.get('net', 'alex'),
                opt.get('device'),
                opt.get('pretrained_backbone', True),
                opt.get('backbone_weights_path'),
            )


def match_key(stem: str, key_regex: Optional[str]) -> str:
    """The part of a file stem that identifies the image: the regex's first group (or match), else the stem."""
    if key_regex is None:
        return stem
    match = re.search(key_regex, stem)
    if match is None:
        return stem
    return match.group(1) if match.groups() else match.group(0)


def _stems(folder: str) -> dict[str, str]:
    return {os.path.splitext(os.path.basename(p))[0]: p for p in list_images(folder)}


def _find_result(gt_stem: str, results: dict[str, str], key_regex: Optional[str]) -> list[str]:
    key = match_key(gt_stem, key_regex)
    exact = [p for stem, p in results.items() if match_key(stem, key_regex) == key]
    if exact or key_regex is not None:
        return exact
    return [p for stem, p in results.items() if stem.startswith(f'{gt_stem}_')]


def match_results(gt_dir: str, result_dir: str, key_regex: Optional[str] = None) -> list[ImagePair]:
    """Pair every GT image with exactly one result image; raises EvaluationError naming unmatched or ambiguous ones."""
    gts, results = _stems(gt_dir), _stems(result_dir)
    pairs, problems = [], []
    for stem, gt_path in gts.items():
        found = _find_result(stem, results, key_regex)
        if len(found) == 1:
            pairs.append(ImagePair(stem, gt_path, found[0]))
        elif not found:
            problems.append(f'{result_dir}: no result for GT {gt_path}')
        else:
            problems.append(
                f'{result_dir}: several results match GT {gt_path}: {", ".join(sorted(found))} '
                '(use --key-regex to say which part of the name identifies an image)'
            )
    if problems:
        raise EvaluationError(problems)
    return pairs


def method_folder(method_dir: str, dataset: str, num_datasets: int) -> str:
    """The folder with a method's results for `dataset`: `<method_dir>/<dataset>` if it exists (test.py's layout),
    else `method_dir` itself when only one dataset is evaluated."""
    nested = os.path.join(method_dir, dataset)
    if os.path.isdir(nested):
        return nested
    if num_datasets == 1:
        return method_dir
    raise FileNotFoundError(
        f'{nested} does not exist: with several GT sets, each method folder needs one sub-folder '
        f'per dataset name (as test.py writes visualization/<dataset>/).'
    )


def size_problems(pairs: Sequence[ImagePair], method: str) -> list[str]:
    """One line per pair whose result and GT sizes differ (read from file headers)."""
    problems = []
    for pair in pairs:
        try:
            gt_size, result_size = read_image_size(pair.gt_path), read_image_size(pair.result_path)
        except (ValueError, OSError, struct.error):
            continue  # undecodable files are reported, by name, when they are read for the metrics
        if gt_size != result_size:
            problems.append(
                f'{method}: result {pair.result_path} is {result_size[1]}x{result_size[0]} but GT '
                f'{pair.gt_path} is {gt_size[1]}x{gt_size[0]} (width x height)'
            )
    return problems


def read_uint8(path: str) -> np.ndarray:
    """An image as 8-bit BGR, as metrics expect; raises ImageDecodeError naming the file."""
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise ImageDecodeError(f'Cannot decode {path}: the file is corrupt, empty or not an image.')
    return img


def evaluate_method(
    pairs: Sequence[ImagePair],
    metrics_opt: dict[str, dict],
    dataset: str,
    method: str,
    on_image: Optional[Callable[[str], None]] = None,
) -> MethodResult:
    """Metric values of every pair and their means; undecodable images are recorded and skipped."""
    result = MethodResult(dataset, method)
    for pair in pairs:
        try:
            sr, gt = read_uint8(pair.result_path), read_uint8(pair.gt_path)
        except ImageDecodeError as err:
            result.failures.append((pair.result_path, str(err)))
            continue
        values = {}
        for name, opt in metrics_opt.items():
            data = {'img': sr} if opt['type'] in REFERENCE_FREE else {'img': sr, 'img2': gt}
            values[name] = float(calculate_metric(data, opt))
        result.per_image.append((pair.name, values))
        if on_image is not None:
            on_image(pair.name)
    if result.per_image:
        result.means = {name: float(np.mean([v[name] for _, v in result.per_image])) for name in metrics_opt}
    return result
