r"""Write a meta-info file listing the images of one or more folders, for `meta_info_file` / `meta_info` options.

Default lines are BasicSR's `0001_s001.png (480,480,3)`: the path relative to `--root` (the single input folder by
default) and the image shape. `--no-shape` writes paths only (Real-ESRGAN's RealESRGANDataset format, which also
accepts the shape). `--lq` adds LQ folders paired by file name and writes Real-ESRGAN's paired format `gt, lq`.

    python scripts/data_preparation/generate_meta_info.py --input datasets/DF2K/DF2K_HR_sub \
        --meta-info datasets/DF2K/meta_info_DF2K_HR_sub.txt
    python scripts/data_preparation/generate_meta_info.py --input datasets/DF2K/DF2K_HR_sub datasets/OST/OST_sub \
        --root datasets --no-shape --meta-info datasets/meta_info_DF2K_OST.txt
"""

import argparse
import os
import sys
from collections.abc import Sequence
from os import path as osp
from typing import Optional

from PIL import Image

# this checkout's basicsr, also when another one is installed
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from basicsr.data.dataset_scan import IMG_EXTENSIONS  # noqa: E402
from basicsr.utils.arg_parser import ArgumentParser  # noqa: E402
from basicsr.utils.misc import scandir  # noqa: E402


def image_shape(path: str) -> tuple[int, int, int]:
    """(h, w, c) read from the file header, with c as OpenCV will load it (palette images become 3 channels)."""
    with Image.open(path) as img:
        width, height = img.size
        channels = 3 if img.mode == 'P' else len(img.getbands())
    return height, width, channels


def list_images(folders: Sequence[str], root: str) -> list[str]:
    """Image paths under `folders` (recursively, sorted), relative to `root`, with '/' separators."""
    paths = []
    for folder in folders:
        if not osp.isdir(folder):
            raise FileNotFoundError(f'--input {folder} is not a folder.')
        found = sorted(p for p in scandir(folder, recursive=True, full_path=True) if p.lower().endswith(IMG_EXTENSIONS))
        if not found:
            raise ValueError(f'{folder} holds no images.')
        paths += [osp.relpath(p, root).replace(os.sep, '/') for p in found]
    return paths


def meta_info_lines(
    gt_folders: Sequence[str],
    root: str,
    with_shape: bool = True,
    lq_folders: Sequence[str] = (),
    lq_root: Optional[str] = None,
) -> list[str]:
    """Lines of the meta-info file: `path (h,w,c)`, `path`, or `gt_path, lq_path` when LQ folders are given."""
    gt_paths = list_images(gt_folders, root)
    if not lq_folders:
        if not with_shape:
            return gt_paths
        return [f'{p} ({",".join(str(v) for v in image_shape(osp.join(root, p)))})' for p in gt_paths]
    lq_root = lq_root or root
    lq_by_name = {osp.basename(p): p for p in list_images(lq_folders, lq_root)}
    missing = [p for p in gt_paths if osp.basename(p) not in lq_by_name]
    if missing:
        raise ValueError(
            f'{len(missing)} GT images have no LQ file of the same name in {list(lq_folders)}: '
            f'{missing[:5]}; LQ and GT files must share their names.'
        )
    return [f'{p}, {lq_by_name[osp.basename(p)]}' for p in gt_paths]


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--input', nargs='+', required=True, help='GT (or single-image) folders, searched recursively')
    parser.add_argument('--meta-info', required=True, help='output text file')
    parser.add_argument('--root', help='paths are written relative to this (default: the single --input folder)')
    parser.add_argument('--no-shape', action='store_true', help='write paths only')
    parser.add_argument('--lq', nargs='+', default=[], help='LQ folders: write `gt, lq` lines (Real-ESRGAN paired)')
    parser.add_argument('--lq-root', help='LQ paths are written relative to this (default: --root)')
    return parser


def _roots(args: argparse.Namespace) -> tuple[str, Optional[str]]:
    """GT and LQ roots: --root for both if given, else the single GT and the single LQ folder."""
    if args.root is None and (len(args.input) > 1 or len(args.lq) > 1):
        raise ValueError('several --input or --lq folders need --root, the folder their paths are relative to.')
    root = args.root or args.input[0]
    return root, args.lq_root or args.root or (args.lq[0] if args.lq else None)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        root, lq_root = _roots(args)
        lines = meta_info_lines(args.input, root, not args.no_shape, args.lq, lq_root)
    except (FileNotFoundError, ValueError, OSError) as err:
        print(f'Error: {err}', file=sys.stderr)
        return 1
    os.makedirs(osp.dirname(osp.abspath(args.meta_info)), exist_ok=True)
    with open(args.meta_info, 'w') as f:
        f.writelines(f'{line}\n' for line in lines)
    print(f'{len(lines)} lines written to {args.meta_info}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
