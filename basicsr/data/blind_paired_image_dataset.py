"""Synthetic LR/HR pairs made on the fly from HR images by a configurable pipeline (PDD's `train_s` source domain).

The PDD authors' option files describe the degradation as a list of named steps (see `pipeline_steps`), e.g.
FixedCrop 192 -> Flip -> Flip -> RandomTransposeHW -> CopyValues gt->lq -> RandomResize to 48 (bicubic / bilinear /
area, 1/3 each) -> Quantize -> Collect. Only the GT image is read; `dataroot_lq` must hold the same file names
(the authors' code pairs the two folders), and is usually the same folder.
"""

from typing import Any

from basicsr.data.data_util import ImageFileDataset, images_to_tensors, paired_paths_from_options
from basicsr.data.pipeline_steps import Pipeline, PipelineError
from basicsr.utils.registry import DATASET_REGISTRY


@DATASET_REGISTRY.register()
class BlindPairedImageDataset(ImageFileDataset):
    """Read a GT image, run `pipeline` on {'gt', 'gt_path'} and return tensors 'lq', 'gt' (RGB, [0, 1]) with paths.

    Path modes as PairedImageDataset: lmdb, a meta-info file (`meta_info_file`, or `meta_info` as in the authors'
    files), or folder scanning. `gt_size`, `use_hflip` and `use_rot` are accepted for compatibility and ignored:
    cropping and augmentation are pipeline steps. 'lq_path' equals 'gt_path' since the LQ image is synthesised.
    """

    option_keys = frozenset({'pipeline', 'meta_info', 'gt_size', 'use_hflip', 'use_rot'})

    def __init__(self, opt: dict[str, Any]) -> None:
        super().__init__(opt, lmdb_roots={'lq': opt.get('dataroot_lq'), 'gt': opt.get('dataroot_gt')})
        self.paths = paired_paths_from_options(opt, opt.get('meta_info_file') or opt.get('meta_info'))
        self.pipeline = Pipeline(opt['pipeline'])

    @classmethod
    def check_options(cls, opt: dict[str, Any]) -> list[str]:
        """Problems with `opt`, each starting with its key; the pipeline is built once to validate every step."""
        problems = super().check_options(opt)
        problems += [f'{key}: required' for key in ('dataroot_gt', 'dataroot_lq', 'pipeline') if opt.get(key) is None]
        if opt.get('pipeline') is not None:
            try:
                Pipeline(opt['pipeline'])
            except ValueError as err:
                problems.append(str(err))
            problems += _collect_problems(opt['pipeline'])
        return problems

    def load_sample(self, index: int) -> dict[str, Any]:
        gt_path = self.paths[index]['gt_path']
        results = self.pipeline({'gt': self.read(gt_path, 'gt'), 'gt_path': gt_path})
        missing = [key for key in ('lq', 'gt') if key not in results]
        if missing:
            raise PipelineError(
                f'pipeline: the steps must leave {missing} in the results (e.g. CopyValues gt -> lq, '
                f'then Collect keys [lq, gt]); they left {sorted(results)}.'
            )
        results['lq'], results['gt'] = images_to_tensors([results['lq'], results['gt']], self.opt)
        results['gt_path'] = results['lq_path'] = gt_path
        return results


def _collect_problems(step_opts: Any) -> list[str]:
    """A Collect step that would drop 'lq' or 'gt', found before any image is read."""
    problems = []
    for index, step in enumerate(step_opts if isinstance(step_opts, list) else []):
        if isinstance(step, dict) and step.get('type') == 'Collect' and isinstance(step.get('keys'), list):
            dropped = [key for key in ('lq', 'gt') if key not in step['keys']]
            if dropped:
                problems.append(
                    f'pipeline[{index}] (Collect): keys must include {dropped}; the dataset returns lq and gt.'
                )
    return problems
