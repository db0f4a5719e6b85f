"""Pack image folders into lmdb databases (with `meta_info.txt`) for `io_backend: {type: lmdb}`.

Each image is stored PNG-encoded under its path without extension (`0001_s001.png` -> key `0001_s001`), as BasicSR's
create_lmdb.py does. `--paired` takes a GT and an LQ folder and refuses to write unless their keys are identical,
because BasicSR's paired lmdb loader pairs by key.

    python scripts/data_preparation/create_lmdb.py --input datasets/DF2K/DF2K_HR_sub
    python scripts/data_preparation/create_lmdb.py --paired --input datasets/DIV2K/HR_sub datasets/DIV2K/X4_sub
"""

import argparse
import sys
from collections.abc import Sequence
from os import path as osp
from typing import Optional

# this checkout's basicsr, also when another one is installed
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from basicsr.data.dataset_scan import IMG_EXTENSIONS  # noqa: E402
from basicsr.utils.arg_parser import ArgumentParser  # noqa: E402
from basicsr.utils.lmdb_util import check_lmdb_key, folder_keys, make_lmdb_from_imgs  # noqa: E402
from basicsr.utils.misc import scandir  # noqa: E402


def folder_images_and_keys(folder: str, recursive: bool = False) -> tuple[list[str], list[str]]:
    """Sorted relative image paths of `folder` and their lmdb keys; two files with one key are an error."""
    if not osp.isdir(folder):
        raise FileNotFoundError(f'--input {folder} is not a folder.')
    paths = sorted(p for p in scandir(folder, recursive=recursive) if p.lower().endswith(IMG_EXTENSIONS))
    if not paths:
        raise ValueError(f'{folder} holds no images ({", ".join(IMG_EXTENSIONS)}); is it the right folder?')
    keys = folder_keys(paths)
    seen: dict[str, str] = {}
    for path, key in zip(paths, keys):
        check_lmdb_key(key)
        if key in seen:
            raise ValueError(f'{seen[key]} and {path} in {folder} would share the lmdb key {key!r}; keep one of them.')
        seen[key] = path
    return paths, keys


def check_paired_keys(gt_keys: Sequence[str], lq_keys: Sequence[str], gt_folder: str, lq_folder: str) -> None:
    """Raise if the GT and LQ folders do not hold exactly the same keys, listing the first few differences."""
    only_gt = sorted(set(gt_keys) - set(lq_keys))
    only_lq = sorted(set(lq_keys) - set(gt_keys))
    if only_gt or only_lq:
        raise ValueError(
            f'GT {gt_folder} and LQ {lq_folder} must hold the same file names for a paired lmdb; '
            f'only in GT: {only_gt[:5]} ({len(only_gt)}), only in LQ: {only_lq[:5]} ({len(only_lq)}). '
            'Rename the files (extract_subimages.py already strips x2/x3/x4 from DIV2K names).'
        )


def create_lmdbs(
    inputs: Sequence[str],
    lmdb_paths: Sequence[str],
    paired: bool = False,
    recursive: bool = False,
    compress_level: int = 1,
    batch: int = 5000,
    n_thread: int = 1,
) -> None:
    """Write one lmdb per input folder; with `paired`, check first that both folders share their keys."""
    if paired and len(inputs) != 2:
        raise ValueError(f'--paired needs exactly two --input folders (GT then LQ), got {len(inputs)}.')
    if len(lmdb_paths) != len(inputs):
        raise ValueError(f'give one --lmdb path per --input folder ({len(inputs)}), got {len(lmdb_paths)}.')
    listings = [folder_images_and_keys(folder, recursive) for folder in inputs]
    if paired:
        check_paired_keys(listings[0][1], listings[1][1], inputs[0], inputs[1])
    for folder, lmdb_path, (paths, keys) in zip(inputs, lmdb_paths, listings):
        make_lmdb_from_imgs(
            folder,
            lmdb_path,
            paths,
            keys,
            batch=batch,
            compress_level=compress_level,
            multiprocessing_read=n_thread > 1,
            n_thread=n_thread,
        )


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--input', nargs='+', required=True, help='image folder(s); with --paired: GT then LQ')
    parser.add_argument('--lmdb', nargs='+', help='output .lmdb path per input (default: <input>.lmdb)')
    parser.add_argument('--paired', action='store_true', help='GT and LQ folders that must share their file names')
    parser.add_argument('--recursive', action='store_true', help='include sub-folders (keys keep the sub-path)')
    parser.add_argument('--compress-level', type=int, default=1, help='PNG compression 0-9 of the values (default 1)')
    parser.add_argument('--batch', type=int, default=5000, help='images per lmdb transaction (default 5000)')
    parser.add_argument('--n-thread', type=int, default=1, help='processes reading images (default 1)')
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    lmdb_paths = args.lmdb or [folder.rstrip('/\\') + '.lmdb' for folder in args.input]
    try:
        create_lmdbs(
            args.input, lmdb_paths, args.paired, args.recursive, args.compress_level, args.batch, args.n_thread
        )
    except (FileNotFoundError, FileExistsError, ValueError, OSError) as err:
        print(f'Error: {err}', file=sys.stderr)
        return 1
    print('Written: ' + ', '.join(lmdb_paths))
    return 0


if __name__ == '__main__':
    sys.exit(main())
