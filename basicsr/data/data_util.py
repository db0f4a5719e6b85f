"""Dataset plumbing: path listing (folder, meta-info file, lmdb), image reading with path-naming errors, the bad-image
policy, and ImageFileDataset, the base class that puts these together for file-backed datasets.

Folder keys follow BasicSR: `keys=['lq', 'gt']` means the folders come from the options `dataroot_lq` and `dataroot_gt`.
"""

import os.path as osp
from typing import Any, Callable, Optional, Union

import numpy as np
import torch
from torch.utils import data
from torchvision.transforms.functional import normalize

from basicsr.data.dataset_options import check_common_dataset_options, validate_dataset_options
from basicsr.data.transforms import mod_crop
from basicsr.utils.color_util import bgr2ycbcr
from basicsr.utils.errors import UserError
from basicsr.utils.file_client import FileClient
from basicsr.utils.img_util import ImageDecodeError, imfrombytes, img2tensor
from basicsr.utils.logger import get_root_logger
from basicsr.utils.misc import scandir

_SHOWN_NAMES = 5


class BadImageError(UserError, OSError):
    """An image file or lmdb entry that cannot be read or decoded; the message names it."""

    same_on_every_rank = False


def read_image(
    file_client: FileClient, path: str, client_key: str = 'default', float32: bool = True, flag: str = 'color'
) -> np.ndarray:
    """Read and decode one image through `file_client`; any failure becomes a BadImageError naming `path`."""
    try:
        return imfrombytes(file_client.get(path, client_key), flag=flag, float32=float32)
    except (OSError, KeyError, ImageDecodeError) as err:
        detail = err.args[0] if isinstance(err, KeyError) and err.args else err
        raise BadImageError(f"Cannot read image '{path}': {detail}") from err


def load_with_bad_image_policy(
    load_item: Callable[[int], dict],
    index: int,
    length: int,
    policy: Optional[str],
    known_bad: Optional[torch.Tensor] = None,
) -> dict:
    """Load sample `index`; with `on_bad_image: skip` an unreadable image is logged and the next sample used instead.

    `known_bad` (one flag per sample, in shared memory so loader workers see each other's findings) marks samples
    already found unreadable: they are passed over without another read, so each is logged once.
    """
    if policy != 'skip':
        return load_item(index)
    for offset in range(length):
        candidate = (index + offset) % length
        if known_bad is not None and bool(known_bad[candidate]):
            continue
        try:
            return load_item(candidate)
        except BadImageError as err:
            if known_bad is not None:
                known_bad[candidate] = True
            get_root_logger().warning(f'{err} Skipped (on_bad_image: skip); it is not read again.')
    raise BadImageError(f'None of the {length} samples could be read (on_bad_image: skip); check the dataset folders.')


def make_file_client(io_backend_opt: dict, db_paths: list[str], client_keys: list[str]) -> FileClient:
    """Create the dataset's FileClient from its `io_backend` options (lmdb gets one database per client key)."""
    kwargs = dict(io_backend_opt)
    backend = kwargs.pop('type', 'disk')
    if backend == 'lmdb':
        kwargs.update(db_paths=db_paths, client_keys=client_keys)
    return FileClient(backend, **kwargs)


def images_to_tensors(imgs: list[np.ndarray], opt: dict) -> list[torch.Tensor]:
    """Apply the dataset options `color: y`, then BGR HWC -> RGB CHW float tensors, then `mean`/`std` normalisation."""
    if opt.get('color') == 'y':
        imgs = [bgr2ycbcr(img, y_only=True)[..., None] for img in imgs]
    tensors = img2tensor(imgs, bgr2rgb=True, float32=True)
    if opt.get('mean') is not None or opt.get('std') is not None:
        for tensor in tensors:
            normalize(tensor, opt.get('mean'), opt.get('std'), inplace=True)
    return tensors


def read_img_seq(
    path: Union[str, list[str]], require_mod_crop: bool = False, scale: int = 1, return_imgname: bool = False
):
    """Read a folder (sorted) or a list of images into a (T, C, H, W) RGB float tensor in [0, 1]."""
    img_paths = path if isinstance(path, list) else sorted(scandir(path, full_path=True))
    disk = FileClient('disk')
    imgs = [read_image(disk, p) for p in img_paths]
    if require_mod_crop:
        imgs = [mod_crop(img, scale) for img in imgs]
    stacked = torch.stack(img2tensor(imgs, bgr2rgb=True, float32=True), dim=0)
    if return_imgname:
        return stacked, [osp.splitext(osp.basename(p))[0] for p in img_paths]
    return stacked


def require_folder(folder: str, key: str) -> None:
    """Fail with the option key (`dataroot_<key>`) when a dataset folder is missing."""
    if not folder or not osp.isdir(folder):
        raise FileNotFoundError(
            f"dataroot_{key}: folder '{folder}' does not exist; fix the path in the dataset options."
        )


def _listed_files(folder: str, key: str) -> list[str]:
    require_folder(folder, key)
    names = list(scandir(folder))
    if not names:
        raise ValueError(f"dataroot_{key}: folder '{folder}' contains no files.")
    return names


def _lq_name(gt_name: str, filename_tmpl: str) -> str:
    basename, ext = osp.splitext(osp.basename(gt_name))
    return f'{filename_tmpl.format(basename)}{ext}'


def _pair_error(
    keys: list[str],
    folders: list[str],
    counts: tuple[int, int],
    filename_tmpl: str,
    gt_unpaired: list[str],
    input_unpaired: list[str],
) -> ValueError:
    (input_key, gt_key), (input_folder, gt_folder) = keys, folders
    return ValueError(
        f"{input_key} and {gt_key} images do not pair up: {counts[0]} in dataroot_{input_key} '{input_folder}', "
        f"{counts[1]} in dataroot_{gt_key} '{gt_folder}' (filename_tmpl '{filename_tmpl}'). "
        f'{gt_key} without {input_key}: {gt_unpaired[:_SHOWN_NAMES] or "none"}; '
        f'{input_key} without {gt_key}: {input_unpaired[:_SHOWN_NAMES] or "none"}. '
        f'Make the names match (input name = filename_tmpl.format(gt basename) + ext) or remove the extra files.'
    )


def paired_paths_from_folder(folders: list[str], keys: list[str], filename_tmpl: str) -> list[dict]:
    """Pair every GT file with the input file named `filename_tmpl.format(gt_basename) + ext` (BasicSR folder mode)."""
    (input_folder, gt_folder), (input_key, gt_key) = folders, keys
    input_names = _listed_files(input_folder, input_key)
    gt_names = _listed_files(gt_folder, gt_key)
    expected = {gt_name: _lq_name(gt_name, filename_tmpl) for gt_name in gt_names}
    input_set = set(input_names)
    gt_unpaired = [gt for gt, lq in expected.items() if lq not in input_set]
    input_unpaired = sorted(input_set - set(expected.values()))
    if gt_unpaired or len(input_names) != len(gt_names):
        raise _pair_error(keys, folders, (len(input_names), len(gt_names)), filename_tmpl, gt_unpaired, input_unpaired)
    return [
        {f'{input_key}_path': osp.join(input_folder, lq_name), f'{gt_key}_path': osp.join(gt_folder, gt_name)}
        for gt_name, lq_name in expected.items()
    ]


def read_meta_info_names(meta_info_file: str, option: str) -> list[str]:
    """First whitespace-separated token of each non-empty line (BasicSR meta-info format: 'name.png (h,w,c) level')."""
    if not osp.isfile(meta_info_file):
        raise FileNotFoundError(f"{option}: meta info file '{meta_info_file}' does not exist.")
    with open(meta_info_file) as fin:
        names = [line.strip().split(' ')[0] for line in fin if line.strip()]
    if not names:
        raise ValueError(f"{option}: meta info file '{meta_info_file}' lists no images.")
    return names


def paired_paths_from_meta_info_file(
    folders: list[str], keys: list[str], meta_info_file: str, filename_tmpl: str
) -> list[dict]:
    """Pair the GT names listed in `meta_info_file` with input names from `filename_tmpl` (files are not stat-ed)."""
    (input_folder, gt_folder), (input_key, gt_key) = folders, keys
    require_folder(input_folder, input_key)
    require_folder(gt_folder, gt_key)
    gt_names = read_meta_info_names(meta_info_file, 'meta_info_file')
    return [
        {
            f'{input_key}_path': osp.join(input_folder, _lq_name(gt_name, filename_tmpl)),
            f'{gt_key}_path': osp.join(gt_folder, gt_name),
        }
        for gt_name in gt_names
    ]


def _lmdb_keys(folder: str, key: str) -> list[str]:
    """Keys of an lmdb database: the names in its meta_info.txt without extension."""
    if not str(folder).endswith('.lmdb'):
        raise ValueError(
            f"dataroot_{key}: '{folder}' is not an lmdb folder (name must end with .lmdb) but io_backend type is lmdb."
        )
    require_folder(folder, key)
    meta_path = osp.join(folder, 'meta_info.txt')
    if not osp.isfile(meta_path):
        raise FileNotFoundError(
            f"dataroot_{key}: lmdb '{folder}' has no meta_info.txt; "
            f'create it with scripts/data_preparation/create_lmdb.py.'
        )
    return [osp.splitext(name)[0] for name in read_meta_info_names(meta_path, f'dataroot_{key}')]


def paired_paths_from_lmdb(folders: list[str], keys: list[str]) -> list[dict]:
    """Pair input and GT lmdb keys (from each database's meta_info.txt); both databases must hold the same keys."""
    (input_folder, gt_folder), (input_key, gt_key) = folders, keys
    input_keys = set(_lmdb_keys(input_folder, input_key))
    gt_keys = set(_lmdb_keys(gt_folder, gt_key))
    if input_keys != gt_keys:
        raise _pair_error(
            keys,
            folders,
            (len(input_keys), len(gt_keys)),
            '{}',
            sorted(gt_keys - input_keys),
            sorted(input_keys - gt_keys),
        )
    return [{f'{input_key}_path': lmdb_key, f'{gt_key}_path': lmdb_key} for lmdb_key in sorted(input_keys)]


def paths_from_folder(folder: str, key: str = 'lq') -> list[str]:
    """Full paths of the files in `folder` (sorted, not recursive)."""
    return [osp.join(folder, name) for name in _listed_files(folder, key)]


def paths_from_lmdb(folder: str, key: str = 'lq') -> list[str]:
    """Keys of the lmdb database `folder`, from its meta_info.txt."""
    return _lmdb_keys(folder, key)


def paired_paths_from_options(opt: dict, meta_info_file: Optional[str] = None) -> list[dict]:
    """List {'lq_path', 'gt_path'} pairs as BasicSR does: lmdb backend, else `meta_info_file`, else both folders."""
    folders, keys = [opt['dataroot_lq'], opt['dataroot_gt']], ['lq', 'gt']
    filename_tmpl = opt.get('filename_tmpl') or '{}'
    if (opt.get('io_backend') or {}).get('type') == 'lmdb':
        return paired_paths_from_lmdb(folders, keys)
    if meta_info_file is not None:
        return paired_paths_from_meta_info_file(folders, keys, meta_info_file, filename_tmpl)
    return paired_paths_from_folder(folders, keys, filename_tmpl)


class ImageFileDataset(data.Dataset):
    """Base of file-backed datasets: option validation, one lazily opened FileClient per worker, `on_bad_image`.

    Subclasses set `option_keys`, fill `self.paths` and implement `load_sample(index)`; `lmdb_roots` maps lmdb client
    keys ('lq', 'gt') to the folders opened when `io_backend.type` is lmdb.
    """

    option_keys: frozenset[str] = frozenset()

    def __init__(self, opt: dict[str, Any], lmdb_roots: dict[str, str]) -> None:
        super().__init__()
        validate_dataset_options(type(self), opt)
        self.opt = opt
        self.io_backend_opt = dict(opt.get('io_backend') or {'type': 'disk'})
        self.lmdb_roots = lmdb_roots
        self.file_client: Optional[FileClient] = None
        self.paths = []

    @property
    def paths(self) -> list:
        return self._paths

    @paths.setter
    def paths(self, value: list) -> None:
        """Set the samples, and one shared 'unreadable' flag per sample for `on_bad_image: skip`."""
        self._paths = value
        self.known_bad = torch.zeros(len(value), dtype=torch.bool)
        if self.opt.get('on_bad_image') == 'skip' and len(value):
            self.known_bad.share_memory_()

    @classmethod
    def check_options(cls, opt: dict[str, Any]) -> list[str]:
        """Problems with `opt`, each starting with its key (used by the option checker and at construction)."""
        return check_common_dataset_options(opt)

    def read(self, path: str, client_key: str) -> np.ndarray:
        """Read one image as float32 BGR in [0, 1], opening the FileClient in the worker process on first use."""
        if self.file_client is None:
            self.file_client = make_file_client(
                self.io_backend_opt, list(self.lmdb_roots.values()), list(self.lmdb_roots)
            )
        return read_image(self.file_client, path, client_key)

    def load_sample(self, index: int) -> dict[str, Any]:
        raise NotImplementedError(f'{type(self).__name__} must implement load_sample(index).')

    def __getitem__(self, index: int) -> dict[str, Any]:
        return load_with_bad_image_policy(
            self.load_sample, index, len(self), self.opt.get('on_bad_image'), self.known_bad
        )

    def __len__(self) -> int:
        return len(self.paths)
