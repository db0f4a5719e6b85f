"""LQ/GT image pairs from folders, a meta-info file or lmdb databases (BasicSR's PairedImageDataset)."""

from typing import Any

from basicsr.data.data_util import ImageFileDataset, images_to_tensors, paired_paths_from_options
from basicsr.data.transforms import augment, paired_random_crop
from basicsr.utils.registry import DATASET_REGISTRY


@DATASET_REGISTRY.register()
class PairedImageDataset(ImageFileDataset):
    """Read LQ and GT images; in phase 'train' crop aligned `gt_size` patches and flip/rotate them together.

    Path modes: lmdb (`io_backend.type: lmdb`), `meta_info_file` (GT names listed in a file), else folder scanning with
    `filename_tmpl` mapping a GT basename to its LQ basename. Returns {'lq', 'gt', 'lq_path', 'gt_path'}.
    """

    option_keys = frozenset({'gt_size', 'use_hflip', 'use_rot'})

    def __init__(self, opt: dict[str, Any]) -> None:
        super().__init__(opt, lmdb_roots={'lq': opt.get('dataroot_lq'), 'gt': opt.get('dataroot_gt')})
        self.paths = self.list_pairs(opt)

    def list_pairs(self, opt: dict[str, Any]) -> list[dict]:
        """{'lq_path', 'gt_path'} pairs from lmdb, `meta_info_file` or the two folders."""
        return paired_paths_from_options(opt, opt.get('meta_info_file'))

    @classmethod
    def check_options(cls, opt: dict[str, Any]) -> list[str]:
        problems = super().check_options(opt)
        problems += [f'{key}: required' for key in ('dataroot_gt', 'dataroot_lq', 'scale') if opt.get(key) is None]
        if opt.get('phase') == 'train' and not isinstance(opt.get('gt_size'), int):
            problems.append(f'gt_size: training crops GT patches; give an integer, got {opt.get("gt_size")!r}')
        return problems

    def load_sample(self, index: int) -> dict[str, Any]:
        scale = self.opt['scale']
        gt_path, lq_path = self.paths[index]['gt_path'], self.paths[index]['lq_path']
        img_gt, img_lq = self.read(gt_path, 'gt'), self.read(lq_path, 'lq')
        if self.opt.get('phase') == 'train':
            img_gt, img_lq = paired_random_crop(img_gt, img_lq, self.opt['gt_size'], scale, gt_path)
            img_gt, img_lq = augment([img_gt, img_lq], self.opt.get('use_hflip', False), self.opt.get('use_rot', False))
        else:
            img_gt = img_gt[0 : img_lq.shape[0] * scale, 0 : img_lq.shape[1] * scale, ...]
        img_gt, img_lq = images_to_tensors([img_gt, img_lq], self.opt)
        return {'lq': img_lq, 'gt': img_gt, 'lq_path': lq_path, 'gt_path': gt_path}
