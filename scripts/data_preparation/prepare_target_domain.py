r"""Turn any folder of real low-resolution photos into a target set for `datasets.train_t`, with a size report.

Every image is decoded as the loader will decode it (8-bit, 3 channels) and written as PNG, optionally centre-cropped
(to keep large photos cheap to load); images smaller than `--min-size` are left out and listed. Without `--output`
only the size report is printed, which tells whether `lq_size` crops fit.

    python scripts/data_preparation/prepare_target_domain.py --input datasets/NTIRE20/Corrupted-tr-x \
        --output datasets/NTIRE20/train_t --center-crop 512 --lq-size 48
    python scripts/data_preparation/prepare_target_domain.py --input datasets/RealSRV3/Canon/Train/4 \
        --pattern '*_LR4.png' --output datasets/RealSRV3/Canon/train_t
"""

import argparse
import fnmatch
import os
import statistics
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from os import path as osp
from typing import Optional

import cv2
from tqdm import tqdm

# this checkout's basicsr, also when another one is installed
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from basicsr.data.dataset_scan import IMG_EXTENSIONS  # noqa: E402
from basicsr.utils.arg_parser import ArgumentParser  # noqa: E402
from basicsr.utils.misc import scandir  # noqa: E402


@dataclass
class TargetSetReport:
    """Sizes (h, w) of the images kept, and the files left out with the reason."""

    lq_size: int
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)
    left_out: dict[str, str] = field(default_factory=dict)

    def format(self) -> str:
        lines = [f'{len(self.sizes)} images kept, {len(self.left_out)} left out.']
        if self.sizes:
            heights, widths = zip(*self.sizes.values())
            for axis, values in (('height', heights), ('width', widths)):
                lines.append(f'  {axis}: min {min(values)}, median {statistics.median(values):g}, max {max(values)}')
            small = [n for n, (h, w) in self.sizes.items() if min(h, w) < self.lq_size]
            lines.append(f'  smaller than lq_size {self.lq_size}: {len(small)}' + (f' ({small[:5]})' if small else ''))
            lines.append(f'  total {sum(h * w for h, w in self.sizes.values()) / 1e6:.1f} megapixels')
        lines += [f'  left out {name}: {why}' for name, why in sorted(self.left_out.items())[:20]]
        return '\n'.join(lines)


def find_images(folder: str, pattern: str = '*', recursive: bool = False) -> list[str]:
    """Image paths relative to `folder` whose file name matches the glob `pattern`, sorted."""
    if not osp.isdir(folder):
        raise FileNotFoundError(f'--input {folder} is not a folder.')
    return sorted(
        p
        for p in scandir(folder, recursive=recursive)
        if p.lower().endswith(IMG_EXTENSIONS) and fnmatch.fnmatch(osp.basename(p), pattern)
    )


def center_crop(img, size: int):
    """The central `size` x `size` region, or the whole side where the image is smaller."""
    height, width = img.shape[:2]
    top, left = max(0, (height - size) // 2), max(0, (width - size) // 2)
    return img[top : top + size, left : left + size]


def output_name(relative_path: str) -> str:
    """Flat PNG name for a possibly nested input path: `a/b/c.jpg` -> `a_b_c.png`."""
    return osp.splitext(relative_path)[0].replace('/', '_').replace(os.sep, '_') + '.png'


def _prepare_one(
    src: str, dst: Optional[str], crop: Optional[int], min_size: int, compression_level: int
) -> tuple[Optional[tuple[int, int]], str]:
    img = cv2.imread(src, cv2.IMREAD_COLOR)
    if img is None:
        return None, 'not a readable image'
    if crop:
        img = center_crop(img, crop)
    height, width = img.shape[:2]
    if min(height, width) < min_size:
        return None, f'{height}x{width} is below --min-size {min_size}'
    if dst is not None and not cv2.imwrite(dst, img, [cv2.IMWRITE_PNG_COMPRESSION, compression_level]):
        return None, f'could not write {dst}'
    return (height, width), ''


def prepare_target_domain(
    input_folder: str,
    output_folder: Optional[str] = None,
    pattern: str = '*',
    recursive: bool = False,
    crop: Optional[int] = None,
    min_size: int = 0,
    lq_size: int = 48,
    n_thread: int = 4,
    compression_level: int = 3,
) -> TargetSetReport:
    """Write the target set (when `output_folder` is given) and return the size report of what was kept."""
    names = find_images(input_folder, pattern, recursive)
    if not names:
        raise ValueError(f'no images matching {pattern!r} in {input_folder}.')
    if output_folder is not None:
        if osp.isdir(output_folder) and os.listdir(output_folder):
            raise FileExistsError(f'--output {output_folder} already holds files; delete it or choose another folder.')
        os.makedirs(output_folder, exist_ok=True)
    report = TargetSetReport(lq_size)

    def job(name: str) -> tuple[Optional[tuple[int, int]], str]:
        dst = osp.join(output_folder, output_name(name)) if output_folder else None
        return _prepare_one(osp.join(input_folder, name), dst, crop, min_size, compression_level)

    with ThreadPoolExecutor(max(1, n_thread)) as pool:
        for name, (size, why) in tqdm(zip(names, pool.map(job, names)), total=len(names), unit='image'):
            if size is None:
                report.left_out[name] = why
            else:
                report.sizes[name] = size
    return report


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--input', required=True, help='folder of real LR photos')
    parser.add_argument('--output', help='new folder for the target set (omit to only print the size report)')
    parser.add_argument('--pattern', default='*', help="file-name glob, e.g. '*_LR4.png' for RealSR (default '*')")
    parser.add_argument('--recursive', action='store_true', help='include sub-folders (names are flattened)')
    parser.add_argument('--center-crop', type=int, help='keep only the central N x N region of each image')
    parser.add_argument(
        '--min-size', type=int, help='leave out images whose shorter side is below this (default: --lq-size)'
    )
    parser.add_argument('--lq-size', type=int, default=48, help='train_t.lq_size the set is meant for (default 48)')
    parser.add_argument('--n-thread', type=int, default=4, help='threads (default 4)')
    parser.add_argument('--compression-level', type=int, default=3, help='PNG compression 0-9 (default 3)')
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    min_size = args.lq_size if args.min_size is None else args.min_size
    try:
        report = prepare_target_domain(
            args.input,
            args.output,
            args.pattern,
            args.recursive,
            args.center_crop,
            min_size,
            args.lq_size,
            args.n_thread,
            args.compression_level,
        )
    except (FileNotFoundError, FileExistsError, ValueError) as err:
        print(f'Error: {err}', file=sys.stderr)
        return 1
    print(report.format())
    if args.output:
        print(f'Target set written to {args.output}: use it as datasets.train_t.dataroot_lq')
    return 0


if __name__ == '__main__':
    sys.exit(main())
