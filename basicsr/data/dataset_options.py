"""Declared dataset option keys, so YAML typos (`use_filp`) are caught up front instead of being silently ignored.

Each dataset class lists the keys it reads beyond the shared ones in a class attribute `option_keys`; classes without
it (e.g. those registered by the `realesrgan` package) are not checked.
"""

from typing import Any

DATAROOT_PREFIX = 'dataroot_'
BAD_IMAGE_POLICIES = ('raise', 'skip')

COMMON_DATASET_KEYS: frozenset[str] = frozenset(
    {
        # identity and phase, filled by the option parser
        'name',
        'type',
        'phase',
        'scale',
        # storage and file listing
        'io_backend',
        'meta_info_file',
        'filename_tmpl',
        'on_bad_image',
        # tensor post-processing
        'mean',
        'std',
        'color',
        # data loader (build_dataloader and the training pipeline's sampler)
        'use_shuffle',
        'num_worker_per_gpu',
        'batch_size_per_gpu',
        'dataset_enlarge_ratio',
        'prefetch_mode',
        'num_prefetch_queue',
        'pin_memory',
        'persistent_workers',
    }
)


def is_common_dataset_key(key: str) -> bool:
    """True for keys every dataset accepts: COMMON_DATASET_KEYS and any `dataroot_*` folder."""
    return key in COMMON_DATASET_KEYS or key.startswith(DATAROOT_PREFIX)


def unknown_dataset_keys(dataset_cls: type, opt: dict[str, Any]) -> list[str]:
    """Keys of `opt` that neither the shared set nor `dataset_cls.option_keys` declares (empty if undeclared)."""
    declared = getattr(dataset_cls, 'option_keys', None)
    if declared is None:
        return []
    return sorted(key for key in opt if not is_common_dataset_key(key) and key not in declared)


def check_common_dataset_options(opt: dict[str, Any]) -> list[str]:
    """Problems with the shared keys, each starting with its key: mean/std pairing, `color`, `on_bad_image`."""
    problems = []
    if (opt.get('mean') is None) != (opt.get('std') is None):
        problems.append('mean/std: give both (one value per channel) or neither')
    if opt.get('color') not in (None, 'y'):
        problems.append(f"color: {opt['color']!r} is not supported; use 'y' or leave it out for BGR->RGB")
    if (opt.get('on_bad_image') or 'raise') not in BAD_IMAGE_POLICIES:
        problems.append(f'on_bad_image: {opt["on_bad_image"]!r} is not one of {", ".join(BAD_IMAGE_POLICIES)}')
    return problems


def validate_dataset_options(dataset_cls: type, opt: dict[str, Any]) -> None:
    """Raise ValueError listing `dataset_cls.check_options(opt)` problems, for datasets built without option checks."""
    problems = dataset_cls.check_options(opt)
    if problems:
        where = f'datasets.{opt["name"]}' if 'name' in opt else dataset_cls.__name__
        raise ValueError(f'Invalid options for {dataset_cls.__name__}: ' + '; '.join(f'{where}.{p}' for p in problems))
