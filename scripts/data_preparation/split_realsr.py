r"""Split RealSR / DRealSR pairs into LR/ and HR/ folders with shared names, holding out a seeded validation split.

RealSR V3 keeps both images of a pair side by side (`Canon/Train/4/Canon_001_LR4.png` next to `Canon_001_HR.png`);
DRealSR names them `<stem>_x1.png` / `<stem>_x4.png`, in one folder or in test_HR/ and test_LR/ (the larger image of
a pair is taken as HR). The script writes

    <output>/LR/<stem>.png, <output>/HR/<stem>.png        every pair not held out (train_t reads LR/)
    <output>/val/LR/<stem>.png, <output>/val/HR/...       --val-count pairs drawn with --seed (disjoint from the above)
    <output>/split.txt                                    which stem went where, and the seed

Both sides of a pair share one file name, so PairedImageDataset needs no filename_tmpl.

    python scripts/data_preparation/split_realsr.py --input datasets/RealSRV3/Canon/Train/4 --val-count 10
    python scripts/data_preparation/split_realsr.py --naming drealsr --scale 4 \
        --input datasets/DRealSR/x4/test_HR datasets/DRealSR/x4/test_LR --output datasets/DRealSR/x4/test
"""

import argparse
import os
import random
import re
import shutil
import struct
import sys
from collections import defaultdict
from collections.abc import Sequence
from os import path as osp
from typing import NamedTuple, Optional

# this checkout's basicsr, also when another one is installed
sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from basicsr.data.dataset_scan import read_image_size  # noqa: E402
from basicsr.utils.arg_parser import ArgumentParser  # noqa: E402

NAME_PATTERNS = {
    'realsr': re.compile(r'^(?P<stem>.+)_(?P<tag>HR|LR\d+)$'),
    'drealsr': re.compile(r'^(?P<stem>.+)_(?P<tag>x\d+)$'),
}
SPLIT_RECORD = 'split.txt'
EXAMPLE_NAMES = {
    'realsr': 'Canon_001_HR.png + Canon_001_LR{scale}.png',
    'drealsr': 'DSC_001_x1.png + DSC_001_x{scale}.png',
}


class Pair(NamedTuple):
    stem: str
    lr_path: str
    hr_path: str


class SplitResult(NamedTuple):
    train: list[str]
    val: list[str]
    ignored: list[str]


def _tagged_files(inputs: Sequence[str], naming: str) -> tuple[dict[str, dict[str, str]], list[str]]:
    """stem -> {tag: path} for files matching the naming scheme, and the names that do not match."""
    pattern = NAME_PATTERNS[naming]
    tagged: dict[str, dict[str, str]] = defaultdict(dict)
    ignored = []
    for folder in inputs:
        if not osp.isdir(folder):
            raise FileNotFoundError(f'--input {folder} is not a folder.')
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            match = pattern.match(osp.splitext(entry.name)[0]) if entry.is_file() else None
            if match is None:
                if entry.is_file() and not entry.name.startswith('.') and entry.name != SPLIT_RECORD:
                    ignored.append(entry.name)
                continue
            if match['tag'] in tagged[match['stem']]:
                raise ValueError(
                    f'{entry.path} and {tagged[match["stem"]][match["tag"]]} are both '
                    f'{match["stem"]} {match["tag"]}; keep one.'
                )
            tagged[match['stem']][match['tag']] = entry.path
    return tagged, ignored


def _image_size(path: str) -> tuple[int, int]:
    try:
        return read_image_size(path)
    except (OSError, ValueError, struct.error) as err:
        raise ValueError(f'{path} is not a readable image ({err}); replace or remove it.') from err


def _pair_of(stem: str, files: dict[str, str], naming: str, scale: int) -> Optional[Pair]:
    if naming == 'realsr':
        lr, hr = files.get(f'LR{scale}'), files.get('HR')
        return Pair(stem, lr, hr) if lr and hr else None
    if len(files) != 2:
        return None
    (small_size, small), (large_size, large) = sorted((_image_size(p), p) for p in files.values())
    if small_size == large_size:
        raise ValueError(f'{small} and {large} have the same size, so neither is the LR image of the pair.')
    return Pair(stem, small, large)


def find_pairs(inputs: Sequence[str], naming: str = 'realsr', scale: int = 4) -> tuple[list[Pair], list[str]]:
    """All LR/HR pairs in `inputs`, sorted by stem, and the file names that were ignored; unpaired files raise."""
    tagged, ignored = _tagged_files(inputs, naming)
    pairs, unpaired = [], []
    for stem in sorted(tagged):
        pair = _pair_of(stem, tagged[stem], naming, scale)
        if pair is None:
            unpaired.append(f'{stem} ({", ".join(sorted(tagged[stem]))})')
        else:
            pairs.append(pair)
    if unpaired:
        expected = f'_HR and _LR{scale}' if naming == 'realsr' else 'two _x<n> files'
        raise ValueError(
            f'{len(unpaired)} stems lack a partner ({expected} expected): {unpaired[:5]}; '
            'check --scale and --naming, or remove the stray files.'
        )
    if not pairs:
        example = EXAMPLE_NAMES[naming].format(scale=scale)
        raise ValueError(f'no {naming} pairs found in {list(inputs)}; expected names like {example}.')
    return pairs, ignored


def choose_validation(stems: Sequence[str], count: int, seed: int) -> list[str]:
    """`count` stems drawn with a fixed seed from the sorted stems: the same input always gives the same split."""
    if not 0 <= count <= len(stems):
        raise ValueError(f'--val-count {count} must be between 0 and the number of pairs ({len(stems)}).')
    return sorted(random.Random(seed).sample(sorted(stems), count))


def _place(src: str, dst: str, link: bool) -> None:
    if link:
        try:
            os.link(src, dst)
            return
        except OSError:
            pass
    shutil.copy2(src, dst)


def write_split(
    pairs: Sequence[Pair], output: str, val_stems: Sequence[str], val_dir: str, link: bool, seed: int
) -> None:
    """Copy (or hard-link) every pair into <output>/{LR,HR} or <val_dir>/{LR,HR}, and record the split."""
    targets = [osp.join(output, side) for side in ('LR', 'HR')] + [osp.join(val_dir, side) for side in ('LR', 'HR')]
    taken = [t for t in targets if osp.isdir(t) and os.listdir(t)]
    if taken:
        raise FileExistsError(f'{taken[0]} already holds files; delete the previous split first.')
    for target in targets[: 4 if val_stems else 2]:
        os.makedirs(target, exist_ok=True)
    held_out = set(val_stems)
    for pair in pairs:
        base = val_dir if pair.stem in held_out else output
        for side, src in (('LR', pair.lr_path), ('HR', pair.hr_path)):
            _place(src, osp.join(base, side, pair.stem + osp.splitext(src)[1]), link)
    with open(osp.join(output, SPLIT_RECORD), 'w') as f:
        f.write(f'# seed {seed}; val folder {val_dir}\n')
        f.writelines(f'{"val" if p.stem in held_out else "train"} {p.stem}\n' for p in pairs)


def split_realsr(
    inputs: Sequence[str],
    output: Optional[str] = None,
    naming: str = 'realsr',
    scale: int = 4,
    val_count: int = 0,
    seed: int = 0,
    val_dir: Optional[str] = None,
    link: bool = False,
) -> SplitResult:
    """Find the pairs in `inputs`, hold out `val_count` of them, and write the LR/HR folders."""
    pairs, ignored = find_pairs(inputs, naming, scale)
    output = output or inputs[0]
    val_stems = choose_validation([p.stem for p in pairs], val_count, seed)
    write_split(pairs, output, val_stems, val_dir or osp.join(output, 'val'), link, seed)
    held_out = set(val_stems)
    return SplitResult([p.stem for p in pairs if p.stem not in held_out], val_stems, ignored)


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--input', nargs='+', required=True, help='folder(s) holding the LR and HR files')
    parser.add_argument('--output', help='where LR/ and HR/ go (default: the first --input folder)')
    parser.add_argument(
        '--naming',
        choices=sorted(NAME_PATTERNS),
        default='realsr',
        help='realsr: <stem>_HR / <stem>_LR<scale>; drealsr: <stem>_x<n>, larger image = HR',
    )
    parser.add_argument('--scale', type=int, default=4, help='which _LR<scale> files to take (realsr naming)')
    parser.add_argument('--val-count', type=int, default=0, help='pairs to hold out for validation (default 0)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the validation draw (default 0)')
    parser.add_argument('--val-dir', help='folder for the held-out pairs (default: <output>/val)')
    parser.add_argument('--link', action='store_true', help='hard-link instead of copying where possible')
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = split_realsr(
            args.input, args.output, args.naming, args.scale, args.val_count, args.seed, args.val_dir, args.link
        )
    except (FileNotFoundError, FileExistsError, ValueError) as err:
        print(f'Error: {err}', file=sys.stderr)
        return 1
    output = args.output or args.input[0]
    held_out = f'; {len(result.val)} held out in {args.val_dir or osp.join(output, "val")} (seed {args.seed})'
    print(
        f'{len(result.train)} pairs in {osp.join(output, "LR")} and {osp.join(output, "HR")}'
        f'{held_out if result.val else ""}.'
    )
    if result.ignored:
        print(f'Ignored {len(result.ignored)} files that are not part of a pair: {result.ignored[:5]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
