"""Small helpers shared across the package: seeding, experiment folders, directory scanning."""

import os
import random
import time
from collections.abc import Iterator
from os import path as osp
from typing import Optional, Union

import numpy as np
import torch

from basicsr.utils.dist_util import master_only
from basicsr.utils.logger import get_root_logger

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp', '.ppm', '.pgm')


def set_random_seed(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and all CUDA devices)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def get_time_str() -> str:
    return time.strftime('%Y%m%d_%H%M%S', time.localtime())


def mkdir_and_rename(path: str) -> None:
    """Create `path`; an existing one is first archived as `<path>_archived_<time>` so nothing is overwritten
    (`--auto_resume` still finds its training states there)."""
    if osp.exists(path):
        new_name = f'{path}_archived_{get_time_str()}'
        get_root_logger().warning(f'{path} already exists: it is archived as {new_name}.')
        os.rename(path, new_name)
    os.makedirs(path, exist_ok=True)


@master_only
def make_exp_dirs(opt: dict) -> None:
    """Create the experiment (train) or results (test) folders named in `opt['path']`."""
    path_opt = opt['path'].copy()
    if opt['is_train']:
        mkdir_and_rename(path_opt.pop('experiments_root'))
    else:
        mkdir_and_rename(path_opt.pop('results_root'))
    for key, path in path_opt.items():
        if ('strict_load' in key) or ('pretrain_network' in key) or ('resume' in key) or ('param_key' in key):
            continue
        if isinstance(path, str) and key != 'root' and not key.startswith('ignore'):
            os.makedirs(path, exist_ok=True)


def scandir(
    dir_path: str, suffix: Optional[Union[str, tuple]] = None, recursive: bool = False, full_path: bool = False
) -> Iterator[str]:
    """Yield file paths under `dir_path` (relative unless `full_path`), sorted within each folder, hidden files
    skipped."""
    if (suffix is not None) and not isinstance(suffix, (str, tuple)):
        raise TypeError('"suffix" must be a string or tuple of strings')
    root = dir_path

    def _scandir(path: str) -> Iterator[str]:
        for entry in sorted(os.scandir(path), key=lambda e: e.name):
            if entry.name.startswith('.'):
                continue
            if entry.is_file():
                return_path = entry.path if full_path else osp.relpath(entry.path, root)
                if suffix is None or return_path.endswith(suffix):
                    yield return_path
            elif recursive and entry.is_dir():
                yield from _scandir(entry.path)

    return _scandir(dir_path)


def list_images(path: str) -> list[str]:
    """The image file `path`, or the sorted image files directly inside folder `path`; raises when there are none."""
    if os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        raise FileNotFoundError(f'Input {path} does not exist: give an image file or a folder of images.')
    files = sorted(
        os.path.join(path, name)
        for name in os.listdir(path)
        if name.lower().endswith(IMAGE_EXTENSIONS) and os.path.isfile(os.path.join(path, name))
    )
    if not files:
        raise FileNotFoundError(f'Folder {path} holds no images (looked for {", ".join(IMAGE_EXTENSIONS)}).')
    return files


def sizeof_fmt(size: float, suffix: str = 'B') -> str:
    """Human-readable byte size, e.g. 1.5 GiB."""
    for unit in ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi']:
        if abs(size) < 1024.0:
            return f'{size:3.1f} {unit}{suffix}'
        size /= 1024.0
    return f'{size:3.1f} Ei{suffix}'


def check_resume(opt: dict, resume_iter: int) -> None:
    """Point `path.pretrain_network_*` at the checkpoints of `resume_iter` (BasicSR 1.4 name and place)."""
    from basicsr.utils.resume_util import apply_resume

    apply_resume(opt, resume_iter)
