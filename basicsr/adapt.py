"""Adapt a generalist SR model to your own photos with Pairwise Distance Distillation, then report and export.

    basicsr-adapt --photos my_phone_photos/ --generalist RealESRGAN_x4plus.pth --source datasets/DF2K/DF2K_HR_sub
    basicsr-adapt --photos scans/ --generalist 4xHAT.pth --mode static --specialist ESRGAN_x4.pth --source DF2K/ --quick
    python scripts/adapt.py ...                                   (the same command from a source checkout)

No high-resolution originals of your photos are needed: PDD learns from your low-resolution photos (unpaired) and
from synthetic pairs made from --source HR images. <out> receives adapt.yml (repeat or edit the run with
`python basicsr/train.py -opt <out>/adapt.yml`), the training run, report.md/.html (held-out photos, generalist vs
adapted) and the exported model (safetensors, .pth, ONNX).
"""

import argparse
import json
import os
import shlex
import shutil
import sys
import time
from collections.abc import Sequence
from typing import Optional

if __package__ in (None, ''):  # run as a script: make the repository root importable
    sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir)))

import yaml  # noqa: E402

from basicsr.adaptation.finish import finish_adaptation  # noqa: E402
from basicsr.adaptation.networks import starting_networks  # noqa: E402
from basicsr.adaptation.photos import prepare_folders, scan_photos, split_holdout  # noqa: E402
from basicsr.adaptation.plan import adapt_options, adapt_size, real_stream, synthetic_stream  # noqa: E402
from basicsr.adaptation.setup import check_out_dir, check_source, default_holdout, resolve_vgg  # noqa: E402
from basicsr.option_check import validate_options  # noqa: E402
from basicsr.utils.errors import UserError, run_command  # noqa: E402
from basicsr.utils.options import load_option_file, setup_options  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--photos', required=True, help='folder of your low-resolution photos (JPEG/PNG/WebP/TIFF)')
    parser.add_argument(
        '--generalist',
        required=True,
        help='blind SR checkpoint (.pth/.safetensors), e.g. RealESRGAN_x4plus.pth; static mode: any spandrel arch',
    )
    parser.add_argument('--source', required=True, help='HR images for the synthetic stream (DF2K for real runs)')
    parser.add_argument(
        '--mode',
        choices=['ema', 'static'],
        default='ema',
        help="ema (default, the paper's recommendation) or static (needs --specialist)",
    )
    parser.add_argument('--specialist', help='static mode: the network to adapt (e.g. a bicubic-trained ESRGAN)')
    parser.add_argument('--steps', type=int, default=None, help='training steps (default: paper 100000, --quick 100)')
    parser.add_argument('--holdout', type=int, default=None, help='photos held out for the report (default: a few)')
    parser.add_argument('--out', default='experiments/adapt', help='output folder (default experiments/adapt)')
    parser.add_argument('--device', choices=['cpu', 'cuda'], default=None, help='default: cuda when available')
    parser.add_argument('--quick', action='store_true', help='small crops, batches and step count for a CPU')
    parser.add_argument(
        '--vgg',
        default=None,
        help='VGG19 weights for the losses (default: vgg19-dcbb9e9d.pth from the torch hub cache)',
    )
    parser.add_argument(
        '--pyiqa',
        nargs='+',
        default=[],
        metavar='METRIC',
        help='also score with these pyiqa metrics (e.g. musiq nrqm; needs pyiqa and its weights)',
    )
    again = parser.add_mutually_exclusive_group()
    again.add_argument('--resume', action='store_true', help='continue the adaptation already in --out')
    again.add_argument('--archive', action='store_true', help='move an earlier adaptation in --out aside, start anew')
    return parser


def device_of(args: argparse.Namespace) -> str:
    import torch

    if args.device == 'cuda' and not torch.cuda.is_available():
        raise UserError('--device cuda was asked for but CUDA is not available; use --device cpu.')
    return args.device or ('cuda' if torch.cuda.is_available() else 'cpu')


def prepare(args: argparse.Namespace, out: str, device: str) -> dict:
    """Check the inputs, prepare the photo folders, write and validate <out>/adapt.yml; returns the run record."""
    size = adapt_size(args.quick, args.steps)
    generalist, specialist = starting_networks(args.mode, args.generalist, args.specialist)
    scale = generalist['scale']
    source, source_images = check_source(args.source, size.gt_crop)
    vgg_path, vgg_note = resolve_vgg(args.vgg, args.quick)
    scan = scan_photos(args.photos, min_side=size.gt_crop // scale)
    train_names, held = split_holdout(list(scan.photos), args.holdout or default_holdout(len(scan.photos)))
    data = {'target': os.path.join(out, 'data', 'target'), 'holdout': os.path.join(out, 'data', 'holdout')}
    tiles = prepare_folders(
        scan, train_names, held, data['target'], data['holdout'], size.tile, size.max_tiles, size.holdout_side
    )
    streams = {
        'train_s': synthetic_stream(source, source_images, size, scale),
        'train_t': real_stream(data['target'], tiles, size, scale),
    }
    name = 'adapt_' + os.path.basename(os.path.normpath(args.photos))
    opt = adapt_options(
        name,
        os.path.join(out, 'run'),
        generalist,
        specialist,
        streams,
        size,
        scale,
        vgg_path,
        num_gpu=1 if device == 'cuda' else 0,
    )
    write_option_file(os.path.join(out, 'adapt.yml'), opt, args)
    record = {
        'mode': args.mode,
        'generalist': generalist,
        'specialist': specialist,
        'scale': scale,
        'quick': args.quick,
        'steps': size.steps,
        'photos': os.path.abspath(args.photos),
        'trained_on': train_names,
        'held_out': held,
        'skipped': scan.skipped,
        'tiles': tiles,
        'holdout_dir': data['holdout'],
        'holdout_side': size.holdout_side,
        'vgg': vgg_note,
        'device': device,
        'run_dir': os.path.join(out, 'run'),
    }
    with open(os.path.join(out, 'adapt.json'), 'w') as f:
        json.dump(record, f, indent=1)
    return record


def prepare_or_clean_up(args: argparse.Namespace, out: str, device: str) -> dict:
    """`prepare`; when it fails, a folder it created is removed so that the corrected command can run again."""
    created = not os.path.isdir(out)
    try:
        return prepare(args, out, device)
    except BaseException:
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise


def write_option_file(path: str, opt: dict, args: argparse.Namespace) -> None:
    """Write the option file with a comment on how it was made and how to rerun it, then validate it as train.py
    would (all paths absolute, so it runs from any folder)."""
    header = [
        "# Written by basicsr-adapt: PDD (Zhang, Lee, Yao, ECCV 2024) with the paper's settings "
        '(options/pdd_ema.yml)' + (', scaled down by --quick.' if args.quick else '.'),
        f'# Command: {args.command}',
        f'# Repeat or edit:  python basicsr/train.py -opt {path}      (add --auto_resume to continue)',
        '',
    ]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write('\n'.join(header) + yaml.safe_dump(opt, sort_keys=False))
    written = load_option_file(path)
    written['opt_path'] = path
    validate_options(setup_options(written, os.path.dirname(path), is_train=True))


def train(out: str, resume: bool, steps: Optional[int]) -> None:
    """Run basicsr's own training pipeline on <out>/adapt.yml (progress bar and ETA on a terminal)."""
    from basicsr.train import train_pipeline

    argv = ['-opt', os.path.join(out, 'adapt.yml')] + (['--auto_resume'] if resume else [])
    if resume and steps is not None:
        argv += ['--force_yml', f'train:total_iter={steps}']
    model = train_pipeline(out, argv)
    if model.stopped_by is not None:
        raise KeyboardInterrupt(f'stopped by {model.stopped_by}; continue with --resume')


def run(args: argparse.Namespace) -> int:
    """Prepare (or resume), train, then evaluate on the held-out photos, export and write the report."""
    start = time.time()
    adapt_size(args.quick, args.steps)  # --steps 0 fails here, before anything is written
    out = os.path.abspath(args.out)
    resume = check_out_dir(out, args.resume, args.archive)
    device = device_of(args)
    if resume:
        with open(os.path.join(out, 'adapt.json')) as f:
            record = json.load(f)
        record['steps'] = args.steps or record['steps']
    else:
        record = prepare_or_clean_up(args, out, device)
    print(
        f'Adapting ({record["mode"]} mode, x{record["scale"]}) on {len(record["trained_on"])} photo(s) '
        f'({record["tiles"]} tiles), {len(record["held_out"])} held out: {", ".join(record["held_out"])}. '
        f'Skipped: {record["skipped"] or "none"}. Output: {out}',
        flush=True,
    )
    train(out, resume, args.steps)
    report = finish_adaptation(out, record, args.pyiqa, time.time() - start, args.command)
    print(
        f'\n{report.summary}\nReport: {os.path.join(out, "report.md")} (and report.html). '
        f'Wall time {(time.time() - start) / 60:.1f} min.'
    )
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the CLI; a user error is one plain message and exit status 2 (the traceback with --debug)."""
    args = build_parser().parse_args(argv)
    args.command = 'basicsr-adapt ' + shlex.join(sys.argv[1:] if argv is None else argv)

    def body() -> int:
        try:
            return run(args)
        except KeyboardInterrupt as err:
            print(f'interrupted: {err or "Ctrl-C"}; continue with the same command and --resume.', file=sys.stderr)
            return 130

    return run_command(body, argv, what='adaptation')


if __name__ == '__main__':
    sys.exit(main())
