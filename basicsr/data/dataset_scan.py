"""What a dataset block will read: its image roots and file names, how LQ and GT pair up, and each image's size.

The reading rules follow BasicSR's path helpers (folder scan, meta-info file, lmdb `meta_info.txt`, `filename_tmpl`) so
that `basicsr.data.dataset_check` judges exactly the files a loader would open. Image sizes come from PNG/JPEG headers
(cheap enough for 100k files) or from a full decode.
"""

import os
import re
import struct
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from os import path as osp
from typing import Any, Optional

import cv2
import numpy as np
from tqdm import tqdm

from basicsr.utils.lmdb_util import META_INFO_NAME, read_meta_info
from basicsr.utils.misc import scandir

PAIRED_TYPES = {'PairedImageDataset', 'RealESRGANPairedDataset', 'BlindPairedImageDataset'}
GT_ONLY_TYPES = {'RealESRGANDataset'}
LQ_ONLY_TYPES = {'SingleImageDataset'}
NAMES_ONLY_LQ_TYPES = {'BlindPairedImageDataset'}  # pairs LQ names with GT names (as the authors' code), decodes GT
IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.tif', '.tiff', '.webp')
SHOW = 5  # how many offending names a message lists
_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
REALSR_RAW_NAME = re.compile(r'_(HR|LR\d)$')


@dataclass(frozen=True)
class DatasetProblem:
    """One thing wrong with the data: where (YAML key path), what, and how to fix it."""

    key: str
    message: str
    fix: str
    severity: str = 'error'

    def __str__(self) -> str:
        return f'[{self.severity}] {self.key}: {self.message}\n    fix: {self.fix}'


@dataclass
class ImageSource:
    """One image root a dataset reads: its option key, backend, the names it will load and their measured sizes."""

    option_key: str
    root: str
    backend: str
    names: list[str]
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)


def shown(items: Iterable[Any]) -> str:
    """The first SHOW items, comma-separated, and how many more there are: keeps messages one line long."""
    items = list(items)
    more = f' ... (+{len(items) - SHOW} more)' if len(items) > SHOW else ''
    return ', '.join(str(i) for i in items[:SHOW]) + more


def _png_size(f) -> tuple[int, int]:
    head = f.read(24)
    if head[12:16] != b'IHDR':
        raise ValueError('PNG without an IHDR header')
    width, height = struct.unpack('>II', head[16:24])
    f.seek(-12, os.SEEK_END)
    if f.read(12)[4:8] != b'IEND':
        raise ValueError('truncated PNG (no IEND chunk at the end)')
    return height, width


def _jpeg_size(f) -> tuple[int, int]:
    f.seek(2)
    while True:
        marker = f.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            raise ValueError('corrupt JPEG (bad segment marker before the frame header)')
        code = marker[1]
        if code == 0x01 or 0xD0 <= code <= 0xD8 or code == 0xFF:
            continue
        (length,) = struct.unpack('>H', f.read(2))
        if 0xC0 <= code <= 0xCF and code not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack('>HH', f.read(5)[1:5])
            size = f.seek(0, os.SEEK_END)
            f.seek(-min(size, 1024), os.SEEK_END)
            if b'\xff\xd9' not in f.read():
                raise ValueError('truncated JPEG (no end-of-image marker)')
            return height, width
        f.seek(length - 2, os.SEEK_CUR)


def read_image_size(path: str, decode: bool = False) -> tuple[int, int]:
    """(height, width) of an image file from its PNG/JPEG header, or by decoding (other formats, or `decode`)."""
    with open(path, 'rb') as f:
        magic = f.read(8)
        f.seek(0)
        if not decode and magic == _PNG_SIGNATURE:
            return _png_size(f)
        if not decode and magic[:2] == b'\xff\xd8':
            return _jpeg_size(f)
        data = f.read()
    return decoded_size(data)


def decoded_size(data: bytes) -> tuple[int, int]:
    """(height, width) of encoded image bytes after a full decode; raises ValueError if they do not decode."""
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) if data else None
    if img is None:
        raise ValueError('not a decodable image' if data else 'empty file')
    return img.shape[0], img.shape[1]


def sample_evenly(names: list[str], limit: Optional[int]) -> list[str]:
    """At most `limit` names spread evenly over the sorted list (all of them when `limit` is None)."""
    if limit is None or len(names) <= limit:
        return list(names)
    step = len(names) / limit
    return [names[int(i * step)] for i in range(limit)]


def base_type(block: dict) -> str:
    return str(block.get('type', '')).removesuffix('_basicsr')


def dataset_roles(block: dict) -> tuple[str, ...]:
    """Which roots the loader lists: both for paired datasets, GT or LQ alone for single-stream ones."""
    base = base_type(block)
    if base in PAIRED_TYPES:
        return 'gt', 'lq'
    if base in GT_ONLY_TYPES:
        return ('gt',)
    if base in LQ_ONLY_TYPES:
        return ('lq',)
    return tuple(role for role in ('gt', 'lq') if block.get(f'dataroot_{role}'))


def decoded_roles(block: dict) -> tuple[str, ...]:
    """The roots whose images the loader decodes (BlindPairedImageDataset only uses its LQ root's names)."""
    roles = dataset_roles(block)
    return ('gt',) if base_type(block) in NAMES_ONLY_LQ_TYPES else roles


def _pipeline_crop(block: dict) -> Optional[tuple[int, int]]:
    for step in block.get('pipeline') or []:
        if isinstance(step, dict) and step.get('type') == 'FixedCrop' and step.get('crop_size') is not None:
            size = step['crop_size']
            return (int(size), int(size)) if isinstance(size, (int, float)) else (int(size[0]), int(size[1]))
    return None


def train_crop(block: dict, role: str) -> Optional[tuple[tuple[int, int], str]]:
    """The (h, w) crop a training loader takes from each `role` image and the option that sets it; None if it does
    not crop (RealESRGANDataset pads small images instead)."""
    base = base_type(block)
    if role == 'lq':
        size, option = (block.get('lq_size') if base in LQ_ONLY_TYPES else None), 'lq_size'
    elif base == 'BlindPairedImageDataset' and _pipeline_crop(block):
        return _pipeline_crop(block), 'pipeline FixedCrop crop_size'
    else:
        size, option = (None if base == 'RealESRGANDataset' else block.get('gt_size')), 'gt_size'
    return ((int(size), int(size)), option) if size else None


def meta_info_key(block: dict) -> Optional[str]:
    """The option naming the dataset's meta-info file, if one is set: `meta_info_file`, or Real-ESRGAN's `meta_info`
    (BlindPairedImageDataset takes either)."""
    base = base_type(block)
    candidates = {
        'RealESRGANDataset': ('meta_info',),
        'RealESRGANPairedDataset': ('meta_info',),
        'BlindPairedImageDataset': ('meta_info_file', 'meta_info'),
    }.get(base, ('meta_info_file',))
    return next((key for key in candidates if block.get(key) is not None), None)


def _read_meta_lines(path: str) -> list[str]:
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def _missing_root_problem(key: str, root: str) -> DatasetProblem:
    parent = osp.dirname(osp.abspath(root))
    while parent and not osp.isdir(parent) and parent != osp.dirname(parent):
        parent = osp.dirname(parent)
    hint = f'; nearest existing folder {parent} holds: {shown(sorted(os.listdir(parent)))}' if osp.isdir(parent) else ''
    return DatasetProblem(
        key,
        f'{root} does not exist (relative paths are taken from the launch directory {os.getcwd()}){hint}',
        'prepare the data as datasets/README.md describes, or correct the path in the option file',
    )


def _list_lmdb(key: str, root: str) -> tuple[list[str], dict, list[DatasetProblem]]:
    if not root.endswith('.lmdb'):
        return (
            [],
            {},
            [
                DatasetProblem(
                    key,
                    f'io_backend is lmdb but {root} does not end with .lmdb',
                    'point the key at the .lmdb folder made by create_lmdb.py, or set '
                    'io_backend.type: disk for an image folder',
                )
            ],
        )
    if not osp.isfile(osp.join(root, META_INFO_NAME)):
        return (
            [],
            {},
            [
                DatasetProblem(
                    key,
                    f'lmdb {root} has no {META_INFO_NAME}, which lists its keys',
                    'recreate it with scripts/data_preparation/create_lmdb.py (it writes '
                    f'{META_INFO_NAME}), or write one with generate_meta_info.py',
                )
            ],
        )
    try:
        entries = read_meta_info(root)
    except ValueError as err:
        return (
            [],
            {},
            [
                DatasetProblem(
                    key,
                    f'{osp.join(root, META_INFO_NAME)}: {err}',
                    'recreate the lmdb with scripts/data_preparation/create_lmdb.py',
                )
            ],
        )
    return [e.key for e in entries], {e.key: e.shape[:2] for e in entries}, []


def _list_meta_file(key: str, block: dict, root: str, role: str) -> tuple[list[str], list[DatasetProblem]]:
    meta_key = meta_info_key(block)
    meta_path = block[meta_key]
    where = f'{key.rsplit(".", 1)[0]}.{meta_key}'
    if not osp.isfile(meta_path):
        return [], [
            DatasetProblem(
                where,
                f'{meta_path} does not exist',
                'write it with scripts/data_preparation/generate_meta_info.py or remove the key',
            )
        ]
    lines = _read_meta_lines(meta_path)
    if base_type(block) == 'RealESRGANPairedDataset':
        names = [line.split(', ')[0 if role == 'gt' else 1] for line in lines if ', ' in line]
    else:
        names = [line.split(' ')[0] for line in lines]
    missing = [n for n in names if not osp.isfile(osp.join(root, n))]
    if missing:
        return names, [
            DatasetProblem(
                where,
                f'{len(missing)} of {len(names)} files it lists are not in {root}: {shown(missing)}',
                f'regenerate {meta_path} with generate_meta_info.py from the folder you use',
            )
        ]
    return names, []


def _reads_meta_for(block: dict, role: str) -> bool:
    """A meta file lists the names of the first root a dataset reads (both roots for RealESRGANPairedDataset)."""
    return role == dataset_roles(block)[0] or base_type(block) == 'RealESRGANPairedDataset'


def _unset_root_problem(block: dict, role: str, key: str) -> DatasetProblem:
    if role == 'lq' and base_type(block) in NAMES_ONLY_LQ_TYPES:
        return DatasetProblem(
            key,
            f'{block.get("type")} pairs LQ and GT file names but the key is not set',
            'set dataroot_lq to the same folder as dataroot_gt (only its file names are used)',
        )
    return DatasetProblem(
        key,
        f'{block.get("type")} reads {role.upper()} images but the key is not set',
        f'set dataroot_{role} to the folder of {role.upper()} images',
    )


def _folder_names(block: dict, root: str) -> list[str]:
    """Files a loader takes from a folder: all non-hidden files of the folder itself, or, for RealESRGANDataset,
    the images of the whole tree."""
    if base_type(block) in GT_ONLY_TYPES:
        return sorted(p for p in scandir(root, recursive=True) if p.lower().endswith(IMG_EXTENSIONS))
    return sorted(e.name for e in os.scandir(root) if e.is_file() and not e.name.startswith('.'))


def list_source(block: dict, role: str, where: str) -> tuple[Optional[ImageSource], list[DatasetProblem]]:
    """Resolve `dataroot_<role>` to the names the loader will read, as BasicSR's path helpers would."""
    key = f'{where}.dataroot_{role}'
    root = block.get(f'dataroot_{role}')
    if not isinstance(root, str) or not root:
        return None, [_unset_root_problem(block, role, key)]
    root = osp.expanduser(root)
    if not osp.exists(root):
        return None, [_missing_root_problem(key, root)]
    backend = (block.get('io_backend') or {}).get('type', 'disk')
    sizes: dict = {}
    if backend == 'lmdb':
        names, sizes, problems = _list_lmdb(key, root)
        if problems:
            return None, problems
    elif root.endswith('.lmdb') or osp.isfile(osp.join(root, 'data.mdb')):
        return None, [
            DatasetProblem(
                key,
                f'{root} is an lmdb but io_backend.type is {backend}',
                'set io_backend: {type: lmdb} for this dataset',
            )
        ]
    elif meta_info_key(block) and _reads_meta_for(block, role):
        names, problems = _list_meta_file(key, block, root, role)
    else:
        names = _folder_names(block, root)
        problems = [] if names else [_empty_folder_problem(key, root)]
    return ImageSource(key, root, backend, names, sizes), problems


def _empty_folder_problem(key: str, root: str) -> DatasetProblem:
    subdirs = sorted(e.name for e in os.scandir(root) if e.is_dir())
    hint = f'; it has subfolders {shown(subdirs)}' if subdirs else ''
    return DatasetProblem(
        key,
        f'{root} holds no image files (sub-folders are not searched){hint}',
        'point the key at the folder that holds the images themselves',
    )


def _lq_name(gt_name: str, template: str) -> str:
    stem, ext = osp.splitext(osp.basename(gt_name))
    return f'{template.format(stem)}{ext}'


def _suggest_template(gt_names: list[str], lq_names: set[str]) -> str:
    """A filename_tmpl mapping most GT names onto LQ names, when they differ by a fixed prefix/suffix."""
    stem = osp.splitext(gt_names[0])[0]
    templates = {osp.splitext(lq)[0].replace(stem, '{}', 1) for lq in lq_names if stem in osp.splitext(lq)[0]}
    hits = {t: sum(_lq_name(g, t) in lq_names for g in gt_names) for t in templates if t != '{}'}
    best = max(hits, key=hits.get, default=None)
    if best is not None and hits[best] * 2 >= len(gt_names):
        return f"set filename_tmpl: '{best}' (it pairs {hits[best]} of {len(gt_names)} GT images)"
    if any(REALSR_RAW_NAME.search(osp.splitext(n)[0]) for n in gt_names):
        return 'RealSR/DRealSR files must first be split with scripts/data_preparation/split_realsr.py'
    return 'give each LQ file the name filename_tmpl.format(<GT stem>) + the GT extension'


def pair_sources(block: dict, gt: ImageSource, lq: ImageSource, where: str) -> tuple[list, list[DatasetProblem]]:
    """(gt_name, lq_name) pairs as the dataset builds them, and every name that has no partner."""
    if gt.backend == 'lmdb':
        lq_for = {name: name for name in gt.names}
        fix = 'rebuild both lmdbs from folders with identical file names (create_lmdb.py --paired)'
    elif base_type(block) == 'RealESRGANPairedDataset' and block.get('meta_info'):
        return list(zip(gt.names, lq.names)), []
    else:
        template = block.get('filename_tmpl') or '{}'
        lq_for = {name: _lq_name(name, template) for name in gt.names}
        fix = _suggest_template(gt.names, set(lq.names)) if gt.names and lq.names else 'fill both folders'
    lq_set = set(lq.names)
    pairs = [(g, lq_name) for g, lq_name in lq_for.items() if lq_name in lq_set]
    problems = []
    no_lq = [f'{g} -> {lq_for[g]}' for g in gt.names if lq_for[g] not in lq_set]
    names_must_match = gt.backend == 'lmdb' or not meta_info_key(block)
    no_gt = sorted(lq_set - set(lq_for.values())) if names_must_match else []
    if no_lq:
        problems.append(
            DatasetProblem(
                f'{where}.dataroot_lq',
                f'{len(no_lq)} of {len(gt.names)} GT images have no LQ partner in {lq.root}: {shown(no_lq)}',
                fix,
            )
        )
    if no_gt:
        problems.append(
            DatasetProblem(
                f'{where}.dataroot_gt',
                f'{len(no_gt)} LQ images in {lq.root} have no GT partner in {gt.root}: {shown(no_gt)}',
                fix,
            )
        )
    return pairs, problems


def _measure_file(source: ImageSource, name: str, decode: bool) -> tuple[Optional[tuple[int, int]], str]:
    try:
        return read_image_size(osp.join(source.root, name), decode), ''
    except (OSError, ValueError, struct.error) as err:
        return None, str(err) or type(err).__name__


def _measure_lmdb(source: ImageSource, names: list[str], decode: bool) -> None:
    """Check that every key is in the database; with `decode`, decode each value and take its real size."""
    import lmdb  # optional dependency, needed only when a dataset uses io_backend lmdb

    if not names:
        return
    try:
        env = lmdb.open(source.root, readonly=True, lock=False, readahead=False, meminit=False)
    except lmdb.Error as err:
        source.unreadable['(database)'] = f'not an lmdb database: {err}'
        return
    try:
        with env.begin(write=False, buffers=True) as txn:
            for name in names:
                value = txn.get(name.encode())
                if value is None:
                    source.unreadable[name] = f'listed in {META_INFO_NAME} but missing from the database'
                elif decode:
                    try:
                        source.sizes[name] = decoded_size(bytes(value))
                    except ValueError as err:
                        source.unreadable[name] = str(err)
    finally:
        env.close()


def measure_sources(
    jobs: list[tuple[ImageSource, list[str]]], decode: bool = False, n_thread: int = 8, progress: bool = False
) -> None:
    """Fill `sizes` / `unreadable` of each source for the given names (headers only unless `decode`)."""
    disk_jobs = [(src, name) for src, names in jobs if src.backend != 'lmdb' for name in names]
    with ThreadPoolExecutor(max(1, n_thread)) as pool:
        results = pool.map(lambda job: _measure_file(job[0], job[1], decode), disk_jobs)
        bar = tqdm(
            zip(disk_jobs, results), total=len(disk_jobs), unit='image', desc='Check images', disable=not progress
        )
        for (src, name), (size, error) in bar:
            if size is None:
                src.unreadable[name] = error
            else:
                src.sizes[name] = size
    for src, names in jobs:
        if src.backend == 'lmdb':
            _measure_lmdb(src, names, decode)
