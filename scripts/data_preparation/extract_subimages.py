r"""Crop large images into overlapping sub-images (e.g. DF2K HR: 480 px, step 240) so training loads small files.

Same output as BasicSR's script for the same arguments: windows every `step` pixels plus one flush with the bottom/right
border when more than `thresh_size` pixels would be left out, files `<name>_s001.png`, ... in row-major order, and the
DIV2K scale tags x2/x3/x4/x8 removed from names so LR and HR sub-images pair up. Images smaller than the crop give no
sub-images and are listed at the end.

    python scripts/data_preparation/extract_subimages.py --input datasets/DF2K/DF2K_HR \
        --output datasets/DF2K/DF2K_HR_sub --crop-size 480 --step 240 --thresh-size 0
"""

import argparse
import os
import sys
from collections.abc import Sequence
from multiprocessing import Pool
from os import path as osp
from typing import NamedTuple, Optional

import cv2
import numpy as np
from tqdm import tqdm

# this checkout's basicsr, also when another one is installed
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from basicsr.utils.arg_parser import ArgumentParser  # noqa: E402
from basicsr.utils.misc import scandir  # noqa: E402

SCALE_TAGS = ('x2', 'x3', 'x4', 'x8')


class CropJob(NamedTuple):
    path: str
    save_folder: str
    crop_size: int
    step: int
    thresh_size: int
    compression_level: int


class CropResult(NamedTuple):
    path: str
    num_sub_images: int
    skipped_because: Optional[str]


def crop_positions(length: int, crop_size: int, step: int, thresh_size: int) -> list[int]:
    """Window offsets along one axis: every `step`, plus one flush with the border if > `thresh_size` px remain."""
    if length < crop_size:
        return []
    positions = list(range(0, length - crop_size + 1, step))
    if length - (positions[-1] + crop_size) > thresh_size:
        positions.append(length - crop_size)
    return positions


def sub_image_stem(path: str) -> tuple[str, str]:
    """(name without DIV2K scale tags, extension): `0001x4.png` -> ('0001', '.png'), as BasicSR names sub-images."""
    stem, extension = osp.splitext(osp.basename(path))
    for tag in SCALE_TAGS:
        stem = stem.replace(tag, '')
    return stem, extension


def crop_one(job: CropJob) -> CropResult:
    """Write every sub-image of one image; returns how many were written or why none were."""
    img = cv2.imread(job.path, cv2.IMREAD_UNCHANGED)
    if img is None:
        return CropResult(job.path, 0, 'not a readable image')
    height, width = img.shape[:2]
    rows = crop_positions(height, job.crop_size, job.step, job.thresh_size)
    cols = crop_positions(width, job.crop_size, job.step, job.thresh_size)
    if not rows or not cols:
        return CropResult(job.path, 0, f'{height}x{width} is smaller than the crop {job.crop_size}')
    stem, extension = sub_image_stem(job.path)
    index = 0
    for top in rows:
        for left in cols:
            index += 1
            patch = np.ascontiguousarray(img[top : top + job.crop_size, left : left + job.crop_size, ...])
            cv2.imwrite(
                osp.join(job.save_folder, f'{stem}_s{index:03d}{extension}'),
                patch,
                [cv2.IMWRITE_PNG_COMPRESSION, job.compression_level],
            )
    return CropResult(job.path, index, None)


def extract_subimages(
    input_folder: str,
    save_folder: str,
    crop_size: int = 480,
    step: int = 240,
    thresh_size: int = 0,
    n_thread: int = 20,
    compression_level: int = 3,
) -> list[CropResult]:
    """Crop every image of `input_folder` into `save_folder` (which must not exist yet) with `n_thread` processes."""
    if not osp.isdir(input_folder):
        raise FileNotFoundError(f'--input {input_folder} is not a folder.')
    if osp.exists(save_folder):
        raise FileExistsError(f'--output {save_folder} already exists; delete it or choose another folder.')
    if step <= 0 or crop_size <= 0:
        raise ValueError(f'--crop-size ({crop_size}) and --step ({step}) must be positive.')
    img_list = list(scandir(input_folder, full_path=True))
    os.makedirs(save_folder)
    jobs = [CropJob(path, save_folder, crop_size, step, thresh_size, compression_level) for path in img_list]
    progress = dict(total=len(jobs), unit='image', desc='Extract')
    if n_thread <= 1:
        return [crop_one(job) for job in tqdm(jobs, **progress)]
    with Pool(n_thread) as pool:
        return list(tqdm(pool.imap(crop_one, jobs, chunksize=4), **progress))


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--input', required=True, help='folder of large images (not searched recursively)')
    parser.add_argument('--output', required=True, help='new folder for the sub-images')
    parser.add_argument('--crop-size', type=int, default=480, help='sub-image side in pixels (default 480)')
    parser.add_argument('--step', type=int, default=240, help='stride of the sliding window (default 240)')
    parser.add_argument(
        '--thresh-size',
        type=int,
        default=0,
        help='add a border-flush window only if more than this many pixels would be left out',
    )
    parser.add_argument('--n-thread', type=int, default=min(20, os.cpu_count() or 1), help='worker processes')
    parser.add_argument('--compression-level', type=int, default=3, help='PNG compression 0-9 (default 3)')
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        results = extract_subimages(
            args.input, args.output, args.crop_size, args.step, args.thresh_size, args.n_thread, args.compression_level
        )
    except (FileNotFoundError, FileExistsError, ValueError) as err:
        print(f'Error: {err}', file=sys.stderr)
        return 1
    skipped = [r for r in results if r.skipped_because]
    print(
        f'{sum(r.num_sub_images for r in results)} sub-images from {len(results) - len(skipped)} images '
        f'written to {args.output}.'
    )
    for result in skipped:
        print(f'Skipped {result.path}: {result.skipped_because}', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
