"""Images too small for a metric, found before the first training iteration or the first test image.

NIQE needs two whole 96x96 blocks of the network output after `crop_border`; an evaluation set with smaller images
would otherwise fail at the first validation, hours into a run, without naming the image.
"""

from collections.abc import Iterator

from basicsr.data.dataset_check import DatasetCheckError
from basicsr.data.dataset_scan import list_source, measure_sources, shown
from basicsr.metrics.niqe import BLOCK_SIZE, niqe_fits


def evaluated_sets(opt: dict) -> Iterator[tuple[str, dict]]:
    """(key, block) of every dataset scored with `val.metrics`: validation sets when training, all sets in a test."""
    for key, block in (opt.get('datasets') or {}).items():
        if isinstance(block, dict) and not key.startswith('train'):
            yield key, block


def output_sizes(block: dict, where: str, scale: int) -> dict[str, tuple[int, int]]:
    """{image name: (h, w) of the network output}: the LQ size times the scale, or the GT size without LQ images."""
    role, factor = ('lq', scale) if block.get('dataroot_lq') else ('gt', 1)
    source, _ = list_source(block, role, where)
    if source is None:
        return {}  # a missing folder is reported by the option and data checks
    measure_sources([(source, source.names)])
    return {name: (h * factor, w * factor) for name, (h, w) in source.sizes.items()}


def niqe_size_problems(opt: dict) -> list[str]:
    """One problem per (NIQE metric, evaluation set) with outputs too small for NIQE, naming the images."""
    metrics = {
        name: block
        for name, block in ((opt.get('val') or {}).get('metrics') or {}).items()
        if isinstance(block, dict) and block.get('type') == 'calculate_niqe'
    }
    problems = []
    for key, block in evaluated_sets(opt) if metrics else ():
        sizes = output_sizes(block, f'datasets.{key}', int(block.get('scale') or opt.get('scale') or 1))
        for name, metric in metrics.items():
            crop = int(metric.get('crop_border') or 0)
            small = [f'{image} ({h}x{w})' for image, (h, w) in sorted(sizes.items()) if not niqe_fits(h, w, crop)]
            if small:
                problems.append(
                    f'val.metrics.{name}: NIQE needs two {BLOCK_SIZE}x{BLOCK_SIZE} blocks of the output '
                    f'after crop_border {crop}, but {len(small)} output(s) of datasets.{key} are smaller: '
                    f'{shown(small)}; use larger images there or score that set without NIQE'
                )
    return problems


def check_metric_sizes(opt: dict) -> None:
    """Raise DatasetCheckError listing every evaluation image too small for its metrics."""
    problems = niqe_size_problems(opt)
    if problems:
        raise DatasetCheckError(
            f'{len(problems)} problem(s) in {opt.get("opt_path", "the options")}:\n'
            + '\n'.join(f'  - {p}' for p in problems)
        )
