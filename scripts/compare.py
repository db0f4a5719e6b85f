"""Write a PNG grid of side-by-side crops: LR | method 1 | ... | GT, one row per image.

    python scripts/compare.py --gt datasets/RealSRV3/Canon/Test/4/HR --lr datasets/RealSRV3/Canon/Test/4/LR \\
        --method bicubic=results/bicubic pdd=results/pdd --crop-size 128 --max-rows 4 -o results/compare.png

The crop is centred unless --crop X Y gives its top-left corner in GT pixels; --zoom enlarges every cell.
"""

import argparse
import sys
from collections.abc import Sequence
from os import path as osp
from typing import Optional

# this checkout's basicsr, also when another one is installed
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from basicsr.data.dataset_scan import read_image_size  # noqa: E402
from basicsr.evaluation.folders import (  # noqa: E402
    EvaluationError,
    ImagePair,
    match_results,
    parse_named_path,
    read_uint8,
    size_problems,
)
from basicsr.utils.arg_parser import ArgumentParser  # noqa: E402
from basicsr.utils.crop_grid import crop, crop_box, make_grid, zoom  # noqa: E402
from basicsr.utils.errors import as_user_error, report_failure  # noqa: E402
from basicsr.utils.img_util import ImageDecodeError, imwrite  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--gt', required=True, help='GT folder')
    parser.add_argument('--lr', help='LR folder (adds the LR column)')
    parser.add_argument('--method', nargs='+', required=True, metavar='NAME=DIR', help='result folder of each method')
    parser.add_argument('--images', nargs='+', help='GT image stems to show (default: the first --max-rows)')
    parser.add_argument('--max-rows', type=int, default=4, help='images shown when --images is not given')
    parser.add_argument('--crop-size', type=int, default=128, help='crop side in GT pixels (default 128)')
    parser.add_argument('--crop', type=int, nargs=2, metavar=('X', 'Y'), help='top-left corner in GT pixels')
    parser.add_argument('--zoom', type=int, default=1, help='integer nearest-neighbour enlargement of every cell')
    parser.add_argument('--key-regex', help='regex whose first group identifies an image in all folder names')
    parser.add_argument('-o', '--output', default='results/compare.png', help='output PNG file')
    parser.add_argument('--debug', action='store_true', help='show the traceback of an error')
    return parser


def lr_scale(lr_pair: ImagePair) -> int:
    """The integer GT/LR size ratio of a pair; raises naming the pair when it is not one."""
    gt_h, gt_w = read_image_size(lr_pair.gt_path)
    lr_h, lr_w = read_image_size(lr_pair.result_path)
    if gt_h % lr_h or gt_w % lr_w or gt_h // lr_h != gt_w // lr_w:
        raise EvaluationError(
            [
                f'LR {lr_pair.result_path} ({lr_w}x{lr_h}) is not an integer downscale of GT '
                f'{lr_pair.gt_path} ({gt_w}x{gt_h})'
            ]
        )
    return gt_h // lr_h


def select(pairs: list[ImagePair], images: Optional[Sequence[str]], max_rows: int) -> list[ImagePair]:
    if images is None:
        return pairs[:max_rows]
    by_name = {p.name: p for p in pairs}
    missing = [name for name in images if name not in by_name]
    if missing:
        raise EvaluationError([f'--images {name}: no such GT image' for name in missing])
    return [by_name[name] for name in images]


def grid_rows(
    args: argparse.Namespace, methods: list[tuple[str, list[ImagePair]]], lr_pairs: Optional[dict[str, ImagePair]]
) -> list[list]:
    """One row of cells per selected image: LR (if given), each method, GT."""
    rows = []
    for pair in select(methods[0][1], args.images, args.max_rows):
        gt = read_uint8(pair.gt_path)
        scale = lr_scale(lr_pairs[pair.name]) if lr_pairs else 1
        box = crop_box(
            gt.shape[0],
            gt.shape[1],
            args.crop_size,
            (args.crop[1], args.crop[0]) if args.crop else None,
            multiple=scale,
        )
        cells = [crop(read_uint8(lr_pairs[pair.name].result_path), box, scale)] if lr_pairs else []
        results = {name: {p.name: p for p in pairs}[pair.name] for name, pairs in methods}
        cells += [crop(read_uint8(results[name].result_path), box) for name, _ in methods]
        cells.append(crop(gt, box))
        rows.append([zoom(cell, args.zoom) for cell in cells])
        print(f'row {len(rows)}: {pair.name} (box x={box[1]} y={box[0]} size={box[2]})')
    return rows


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the CLI; returns the exit status (2 on bad input)."""
    args = build_parser().parse_args(argv)
    try:
        methods, problems = [], []
        for name, folder in (parse_named_path(m) for m in args.method):
            pairs = match_results(args.gt, folder, args.key_regex)
            problems += size_problems(pairs, name)
            methods.append((name, pairs))
        if problems:
            raise EvaluationError(problems)
        lr_pairs = {p.name: p for p in match_results(args.gt, args.lr, args.key_regex)} if args.lr else None
        rows = grid_rows(args, methods, lr_pairs)
    except (EvaluationError, FileNotFoundError, ImageDecodeError, ValueError) as err:
        return report_failure(as_user_error(err), debug=args.debug)
    labels = (['LR'] if args.lr else []) + [name for name, _ in methods] + ['GT']
    imwrite(make_grid(rows, labels), args.output)
    print(f'Wrote {args.output}: {len(rows)} row(s) x {len(labels)} column(s) ({" | ".join(labels)})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
