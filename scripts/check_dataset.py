"""Check every dataset of an option file before booking a GPU: counts, LQ/GT pairing, scale ratios, crop sizes,
unreadable files, duplicates and epoch lengths (counted as the training loader counts them). Exits with 1 when any
data error is found, with 2 when the option file itself cannot be read.

    python scripts/check_dataset.py -opt options/pdd_ema.yml
    python scripts/check_dataset.py -opt options/pdd_ema.yml --decode        # also decode every image (slower)
    python scripts/check_dataset.py -opt options/pdd_ema.yml --max-images 50 # quick look at a sample
    python scripts/check_dataset.py -opt options/pdd_ema.yml --force_yml datasets:train_t:dataroot_lq=my/LR
"""

import argparse
import sys
from collections.abc import Sequence
from os import path as osp
from typing import Optional

# this checkout's basicsr, also when another one is installed
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from basicsr.data.dataset_check import format_report, inspect_datasets  # noqa: E402
from basicsr.utils.arg_parser import ArgumentParser  # noqa: E402
from basicsr.utils.errors import report_failure  # noqa: E402
from basicsr.utils.options import OptionFileError, apply_force_yml, load_option_file  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        '-opt', '--opt', dest='opt', required=True, help='option YAML file (paths are taken from the current directory)'
    )
    parser.add_argument(
        '--force_yml',
        '--force-yml',
        dest='force_yml',
        nargs='+',
        default=[],
        help='override options as train.py does: key:subkey=value',
    )
    parser.add_argument('--decode', action='store_true', help='decode every image instead of reading headers')
    parser.add_argument('--max-images', type=int, help='measure only this many images per folder (quick check)')
    parser.add_argument('--no-duplicates', action='store_true', help='skip the duplicate-file search')
    parser.add_argument(
        '--world-size',
        type=int,
        default=1,
        help='number of training processes (GPUs) for the epoch estimate (default 1)',
    )
    parser.add_argument('--n-thread', type=int, default=8, help='threads reading images (default 8)')
    parser.add_argument('--debug', action='store_true', help='show the traceback of an error')
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        opt = load_option_file(args.opt)
        apply_force_yml(opt, args.force_yml)
    except OptionFileError as err:
        return report_failure(err, debug=args.debug)
    report = inspect_datasets(
        opt,
        decode=args.decode,
        max_images=args.max_images,
        find_duplicates=False if args.no_duplicates else None,
        n_thread=args.n_thread,
        world_size=args.world_size,
        progress=sys.stderr.isatty(),
    )
    print(format_report(report))
    return 1 if report.errors else 0


if __name__ == '__main__':
    sys.exit(main())
