"""Content checks of every dataset in an option dict, run before any model is built.

For each dataset under `opt['datasets']` this counts the images its loader will read, verifies LQ/GT pairing and the
scale ratio of every pair, finds images smaller than the training crop, unreadable files and duplicates, and estimates
each training loader's epoch length. Every problem names its YAML key and the fix. `scripts/check_dataset.py` and
`train.py --check-data` print `format_report(inspect_datasets(opt))`.
"""

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from os import path as osp
from typing import Optional

from basicsr.data.data_sampler import iterations_per_epoch
from basicsr.data.dataset_scan import (
    REALSR_RAW_NAME,
    DatasetProblem,
    ImageSource,
    dataset_roles,
    decoded_roles,
    list_source,
    measure_sources,
    pair_sources,
    sample_evenly,
    shown,
    train_crop,
)
from basicsr.utils.errors import UserError

__all__ = [
    'DatasetProblem',
    'DatasetSummary',
    'DataCheckReport',
    'DatasetCheckError',
    'inspect_datasets',
    'check_datasets',
    'format_report',
    'raise_on_errors',
]


@dataclass
class DatasetSummary:
    """What one dataset block will load: image count and root per role, training crop, epoch length."""

    key: str
    type: str
    counts: dict[str, int] = field(default_factory=dict)
    roots: dict[str, str] = field(default_factory=dict)
    num_items: int = 0
    crop: Optional[tuple[int, int]] = None
    iters_per_epoch: Optional[int] = None
    epoch_formula: str = ''


@dataclass
class DataCheckReport:
    """Summaries of all datasets and every problem found, with the world size the epoch estimates assume."""

    summaries: list[DatasetSummary]
    problems: list[DatasetProblem]
    world_size: int = 1
    total_iter: Optional[int] = None

    @property
    def errors(self) -> list[DatasetProblem]:
        return [p for p in self.problems if p.severity == 'error']

    @property
    def warnings(self) -> list[DatasetProblem]:
        return [p for p in self.problems if p.severity != 'error']


class DatasetCheckError(UserError, RuntimeError):
    """The data cannot be trained on as configured; the message is the formatted report."""


@dataclass(frozen=True)
class _Settings:
    decode: bool
    max_images: Optional[int]
    n_thread: int
    progress: bool
    world_size: int


def _ratio_problem(
    where: str, pairs: list, gt: ImageSource, lq: ImageSource, scale: int, exact: bool
) -> list[DatasetProblem]:
    """Pairs whose GT is not `scale` times the LQ (exactly in training; up to scale-1 extra pixels when evaluating)."""
    bad, ratios = [], set()
    for g, q in pairs:
        if g not in gt.sizes or q not in lq.sizes:
            continue
        (gh, gw), (qh, qw) = gt.sizes[g], lq.sizes[q]
        fits = all(q_ * scale <= g_ < q_ * scale + (1 if exact else scale) for g_, q_ in ((gh, qh), (gw, qw)))
        if not fits:
            bad.append(f'{g} {gh}x{gw} vs {q} {qh}x{qw}')
            ratios.add((round(gh / max(qh, 1), 2), round(gw / max(qw, 1), 2)))
    if not bad:
        return []
    ratio_h, ratio_w = next(iter(ratios)) if len(ratios) == 1 else (None, None)
    if ratio_h == ratio_w == 1:
        fix = 'LQ and GT have the same size: dataroot_lq must point at the low-resolution images, not the GT folder'
    elif ratio_h is not None and ratio_h == ratio_w and float(ratio_h).is_integer():
        fix = f'the data is x{int(ratio_h)}: set scale: {int(ratio_h)}, or point dataroot_lq at the x{scale} LR images'
    else:
        fix = f'regenerate the LQ images at exactly 1/{scale} of the GT size (crop GT to a multiple of {scale} first)'
    message = f'{len(bad)} of {len(pairs)} pairs are not x{scale} (scale: {scale}): {shown(bad)}'
    return [DatasetProblem(f'{where}.dataroot_lq', message, fix)]


def _crop_problem(source: ImageSource, crop: tuple[int, int], crop_key: str) -> list[DatasetProblem]:
    small = [f'{n} ({h}x{w})' for n, (h, w) in source.sizes.items() if h < crop[0] or w < crop[1]]
    if not small:
        return []
    return [
        DatasetProblem(
            source.option_key,
            f'{len(small)} images are smaller than the training crop {crop_key}={crop[0]}x{crop[1]}: {shown(small)}',
            f'remove them, lower {crop_key}, or re-extract sub-images with extract_subimages.py '
            f'--crop-size {max(crop)} or more',
        )
    ]


def _unreadable_problem(source: ImageSource, skipped_by_loader: bool) -> list[DatasetProblem]:
    """Files that do not decode: an error, or a warning when `on_bad_image: skip` makes the loader step over them."""
    if not source.unreadable:
        return []
    bad = [f'{n} ({why})' for n, why in sorted(source.unreadable.items())]
    effect = 'the loader skips them (on_bad_image: skip)' if skipped_by_loader else 'training stops when one is drawn'
    return [
        DatasetProblem(
            source.option_key,
            f'{len(bad)} unreadable files in {source.root}: {shown(bad)}',
            f'delete or replace them; {effect}',
            'warning' if skipped_by_loader else 'error',
        )
    ]


def _mixed_realsr_problem(source: ImageSource) -> list[DatasetProblem]:
    kinds = {m.group(1)[:2] for m in (REALSR_RAW_NAME.search(osp.splitext(n)[0]) for n in source.names) if m}
    if kinds != {'HR', 'LR'}:
        return []
    return [
        DatasetProblem(
            source.option_key,
            f'{source.root} mixes *_HR and *_LR* files (raw RealSR layout), so the loader would read HR images as LR',
            f'run scripts/data_preparation/split_realsr.py --input {source.root} and point the key at its LR/ folder',
        )
    ]


def _epoch_length(block: dict, num_items: int, world_size: int, gpus_per_process: int = 1) -> tuple[Optional[int], str]:
    """Iterations per epoch as the training loader counts them (`iterations_per_epoch`); one process driving several
    GPUs (num_gpu > 1 without a launcher) draws batch_size_per_gpu x num_gpu per iteration."""
    batch = block.get('batch_size_per_gpu')
    if not isinstance(batch, int) or batch < 1 or not num_items:
        return None, ''
    enlarge = block.get('dataset_enlarge_ratio', 1) or 1
    batch *= gpus_per_process if world_size == 1 else 1
    iters = iterations_per_epoch(num_items, enlarge, batch, world_size)
    return iters, f'floor(ceil({num_items} x {enlarge} / {world_size}) / {batch})'


def _phase_is_train(dataset_key: str) -> bool:
    """Keys train, train_s, train_t, ... are training loaders (crops, epochs); val*, test* are evaluated whole."""
    return dataset_key.startswith('train')


def _content_digest(path: str, head_only: bool) -> str:
    digest = hashlib.sha1()
    with open(path, 'rb') as f:
        if head_only:
            digest.update(f.read(65536))
        else:
            for chunk in iter(lambda: f.read(1 << 20), b''):
                digest.update(chunk)
    return digest.hexdigest()


def _identical_file_groups(paths: list[str]) -> list[list[str]]:
    """Groups of byte-identical files; only files of equal size and equal first 64 KiB are read in full."""
    groups = [paths]
    for key in (osp.getsize, lambda p: _content_digest(p, True), lambda p: _content_digest(p, False)):
        refined = []
        for group in groups:
            buckets = defaultdict(list)
            for path in group:
                buckets[key(path)].append(path)
            refined += [b for b in buckets.values() if len(b) > 1]
        groups = refined
    return groups


def _duplicate_problems(sources: list[tuple[str, ImageSource]]) -> list[DatasetProblem]:
    """Identical files inside one root, and files that a training set shares with a validation/test set."""
    readers = defaultdict(list)  # real path -> [(dataset key, source, name)]
    first_key = {}  # real root -> option key of the first dataset that reads it (duplicates are reported there once)
    for dataset_key, src in sources:
        first_key.setdefault(osp.realpath(src.root), src.option_key)
        if src.backend == 'disk':
            for name in src.names:
                readers[osp.realpath(osp.join(src.root, name))].append((dataset_key, src, name))
    groups = [[p] for p, users in readers.items() if len(users) > 1]
    groups += _identical_file_groups([p for p in readers if osp.isfile(p)])
    same_root, leaks = defaultdict(list), defaultdict(set)
    for group in groups:
        users = [user for path in group for user in readers[path]]
        by_root = defaultdict(set)
        for _, src, name in users:
            by_root[(osp.realpath(src.root), first_key[osp.realpath(src.root)])].add(name)
        for (_, option_key), names in by_root.items():
            if len(names) > 1:
                same_root[option_key].append(' == '.join(sorted(names)))
        train_keys = {k for k, _, _ in users if _phase_is_train(k)}
        for key, src, name in users:
            if train_keys and not _phase_is_train(key):
                leaks[src.option_key].add((name, ', '.join(sorted(train_keys))))
    problems = [
        DatasetProblem(
            k,
            f'identical files ({len(v)} groups): {shown(v)}',
            'delete the copies; duplicates weight those images twice',
            'warning',
        )
        for k, v in same_root.items()
    ]
    problems += [
        DatasetProblem(
            k,
            f'{len(v)} images are also training images of {sorted(v)[0][1]}: {shown(sorted(n for n, _ in v))}',
            'evaluate on held-out images (split_realsr.py --val-count writes a disjoint split)',
            'warning',
        )
        for k, v in leaks.items()
    ]
    return problems


def _sampled_jobs(
    sources: dict[str, ImageSource], pairs: Optional[list], max_images: Optional[int]
) -> list[tuple[ImageSource, list[str]]]:
    """Names to measure per source: a sample of each root, plus both sides of a sample of the pairs."""
    chosen = sample_evenly(pairs or [], max_images) if len(sources) == 2 else []
    paired = {'gt': [g for g, _ in chosen], 'lq': [q for _, q in chosen]}
    return [
        (src, sorted(set(sample_evenly(src.names, max_images)) | set(paired[role]))) for role, src in sources.items()
    ]


def _judge(
    where: str,
    block: dict,
    sources: dict[str, ImageSource],
    pairs: Optional[list],
    scale: Optional[int],
    is_train: bool,
) -> list[DatasetProblem]:
    """Problems visible once sizes are measured: unreadable files, wrong ratios, images below the crop."""
    skipped = block.get('on_bad_image') == 'skip'
    problems = [p for src in sources.values() for p in _unreadable_problem(src, skipped)]
    if pairs is not None and len(sources) == 2 and isinstance(scale, int):
        problems += _ratio_problem(where, pairs, sources['gt'], sources['lq'], scale, exact=is_train)
    for role, src in sources.items():
        crop = train_crop(block, role) if is_train else None
        if crop:
            problems += _crop_problem(src, *crop)
    if 'gt' not in sources and 'lq' in sources:
        problems += _mixed_realsr_problem(sources['lq'])
    return problems


def _inspect_dataset(
    dataset_key: str, block: dict, opt: dict, settings: _Settings
) -> tuple[DatasetSummary, list[DatasetProblem], dict[str, ImageSource]]:
    """Summary, problems and the decoded image sources of one dataset block."""
    where = f'datasets.{dataset_key}'
    summary = DatasetSummary(where, str(block.get('type', '?')))
    roles = dataset_roles(block)
    if not roles:
        return (
            summary,
            [
                DatasetProblem(
                    where, 'neither dataroot_gt nor dataroot_lq is set', 'set the image folder(s) this dataset reads'
                )
            ],
            {},
        )
    sources, problems = {}, []
    for role in roles:
        src, found = list_source(block, role, where)
        problems += found
        if src is not None:
            sources[role] = src
            summary.counts[role], summary.roots[role] = len(src.names), f'{src.backend} {src.root}'
    pairs = None
    if len(sources) == 2:
        pairs, found = pair_sources(block, sources['gt'], sources['lq'], where)
        problems += found
    decoded = {role: src for role, src in sources.items() if role in decoded_roles(block)}
    measure_sources(
        _sampled_jobs(decoded, pairs, settings.max_images), settings.decode, settings.n_thread, settings.progress
    )
    is_train = _phase_is_train(dataset_key)
    problems += _judge(where, block, decoded, pairs, block.get('scale', opt.get('scale')), is_train)
    summary.num_items = len(pairs) if pairs is not None else max(summary.counts.values(), default=0)
    if is_train:
        summary.crop = (train_crop(block, decoded_roles(block)[0]) or (None,))[0]
        num_gpu = opt.get('num_gpu')
        gpus = num_gpu if isinstance(num_gpu, int) and not isinstance(num_gpu, bool) and num_gpu > 1 else 1
        summary.iters_per_epoch, summary.epoch_formula = _epoch_length(
            block, summary.num_items, settings.world_size, gpus
        )
    return summary, problems, decoded


def inspect_datasets(
    opt: dict,
    decode: bool = False,
    max_images: Optional[int] = None,
    find_duplicates: Optional[bool] = None,
    n_thread: int = 8,
    world_size: Optional[int] = None,
    progress: bool = False,
) -> DataCheckReport:
    """Check every dataset in `opt['datasets']`; `max_images` measures only that many images per root (quick mode).

    Duplicates are searched (reading only files of equal size in full) unless `find_duplicates` is False; by default
    only when every image is measured. `world_size` defaults to `opt['world_size']`, else 1.
    """
    settings = _Settings(decode, max_images, n_thread, progress, int(world_size or opt.get('world_size') or 1))
    find_duplicates = max_images is None if find_duplicates is None else find_duplicates
    summaries, problems, all_sources = [], [], []
    datasets = opt.get('datasets') or {}
    if not datasets:
        problems.append(DatasetProblem('datasets', 'the options define no datasets', 'add a datasets: section'))
    for dataset_key, block in datasets.items():
        if not isinstance(block, dict):
            problems.append(
                DatasetProblem(
                    f'datasets.{dataset_key}',
                    'expected a mapping of dataset options',
                    'indent the dataset options under the key',
                )
            )
            continue
        summary, found, sources = _inspect_dataset(dataset_key, block, opt, settings)
        summaries.append(summary)
        problems += found
        all_sources += [(dataset_key, src) for src in sources.values()]
    if find_duplicates:
        problems += _duplicate_problems(all_sources)
    total_iter = (opt.get('train') or {}).get('total_iter')
    return DataCheckReport(summaries, problems, settings.world_size, int(total_iter) if total_iter else None)


def check_datasets(opt: dict, **kwargs) -> list[DatasetProblem]:
    """Every data problem of `opt` (keyword arguments as for `inspect_datasets`)."""
    return inspect_datasets(opt, **kwargs).problems


def _format_summary(summary: DatasetSummary, total_iter: Optional[int]) -> list[str]:
    roots = '; '.join(f'{role.upper()} {summary.counts[role]} images ({summary.roots[role]})' for role in summary.roots)
    lines = [f'  {summary.key} [{summary.type}]: {roots or "no readable root"}']
    if summary.crop:
        lines.append(f'      training crop {summary.crop[0]}x{summary.crop[1]}')
    if summary.iters_per_epoch:
        epochs = f'; total_iter {total_iter} = {total_iter / summary.iters_per_epoch:.2f} epochs' if total_iter else ''
        lines.append(f'      {summary.iters_per_epoch} iterations per epoch = {summary.epoch_formula}{epochs}')
    return lines


def format_report(report: DataCheckReport) -> str:
    """Human-readable report: one block per dataset, then every problem with its fix."""
    lines = [f'Datasets (epoch lengths assume world size {report.world_size}):']
    for summary in report.summaries:
        lines += _format_summary(summary, report.total_iter)
    if not report.problems:
        lines.append('No data problems found.')
        return '\n'.join(lines)
    lines.append(f'{len(report.errors)} error(s), {len(report.warnings)} warning(s):')
    lines += [f'  {p}'.replace('\n', '\n  ') for p in report.errors + report.warnings]
    return '\n'.join(lines)


def raise_on_errors(report: DataCheckReport) -> None:
    """Raise DatasetCheckError with the formatted report if any problem is an error (warnings pass)."""
    if report.errors:
        raise DatasetCheckError(format_report(report))
