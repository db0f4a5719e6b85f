"""Unpaired LQ images: BasicSR's SingleImageDataset plus the PDD authors' training crop/flip options (train_t)."""

import os.path as osp
from typing import Any

from basicsr.data.data_util import (
    ImageFileDataset,
    images_to_tensors,
    paths_from_folder,
    paths_from_lmdb,
    read_meta_info_names,
    require_folder,
)
from basicsr.data.transforms import augment, random_crop
from basicsr.utils.registry import DATASET_REGISTRY


@DATASET_REGISTRY.register()
class SingleImageDataset(ImageFileDataset):
    """Read LQ images only; returns {'lq', 'lq_path'}.

    Path modes: lmdb, `meta_info_file` (names relative to `dataroot_lq`), else the sorted files of `dataroot_lq`.
    In phase 'train', `lq_size` crops a random square and `use_hflip`/`use_rot` flip and rotate it, as the real-LR
    target stream of PDD needs; without these keys images are returned whole, as in BasicSR.
    """

    option_keys = frozenset({'lq_size', 'use_hflip', 'use_rot'})

    def __init__(self, opt: dict[str, Any]) -> None:
        super().__init__(opt, lmdb_roots={'lq': opt.get('dataroot_lq')})
        lq_folder = opt['dataroot_lq']
        if self.io_backend_opt.get('type') == 'lmdb':
            self.paths = paths_from_lmdb(lq_folder, 'lq')
        elif opt.get('meta_info_file') is not None:
            require_folder(lq_folder, 'lq')
            names = read_meta_info_names(opt['meta_info_file'], 'meta_info_file')
            self.paths = [osp.join(lq_folder, name) for name in names]
        else:
            self.paths = paths_from_folder(lq_folder, 'lq')

    @classmethod
    def check_options(cls, opt: dict[str, Any]) -> list[str]:
        problems = super().check_options(opt)
        if opt.get('dataroot_lq') is None:
            problems.append('dataroot_lq: required')
        lq_size = opt.get('lq_size')
        if lq_size is not None and (not isinstance(lq_size, int) or lq_size <= 0):
            problems.append(f'lq_size: the training crop size must be a positive integer, got {lq_size!r}')
        return problems

    def load_sample(self, index: int) -> dict[str, Any]:
        lq_path = self.paths[index]
        img_lq = self.read(lq_path, 'lq')
        if self.opt.get('phase') == 'train':
            if self.opt.get('lq_size') is not None:
                img_lq = random_crop(img_lq, self.opt['lq_size'], lq_path)
            img_lq = augment(img_lq, self.opt.get('use_hflip', False), self.opt.get('use_rot', False))
        (img_lq,) = images_to_tensors([img_lq], self.opt)
        return {'lq': img_lq, 'lq_path': lq_path}
