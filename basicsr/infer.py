"""Inference CLI: upscale an image or a folder with a trained checkpoint, offline, on CPU or GPU.

    python scripts/inference.py -i photos/ -o results/photos --model net_g_latest.pth --tile 64 --color-correction
    python scripts/inference.py -i img.png -o out/ --model RealESRGAN_x4plus.pth --arch RRDBNet --half
    python scripts/inference.py -i lr/ -o out/ --model net.pth --opt options/test/x.yml   # network_g from YAML

Images that cannot be decoded are named, skipped and listed at the end (exit status 1); a wrong set-up (input,
checkpoint, arch, device) is one message naming it (exit status 2, the traceback with --debug).
"""

import argparse
import os
import sys
import time
from collections.abc import Sequence
from typing import Optional

if __package__ in (None, ''):  # run as a script: make the repository root importable
    sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir)))

import yaml  # noqa: E402
from tqdm import tqdm  # noqa: E402

from basicsr.inference.network_loading import load_inference_network, network_block, network_scale  # noqa: E402
from basicsr.inference.upscaler import (  # noqa: E402
    ALPHA_UPSAMPLERS,
    LoadedImage,
    Upscaler,
    output_extension,
    read_image,
    write_image,
)
from basicsr.utils.arg_parser import ArgumentParser  # noqa: E402
from basicsr.utils.errors import as_user_error, report_failure  # noqa: E402
from basicsr.utils.img_util import ImageDecodeError  # noqa: E402
from basicsr.utils.misc import list_images  # noqa: E402


def parse_key_values(items: Sequence[str]) -> dict:
    """`key=value` strings -> dict, values read as YAML (numbers, booleans, strings)."""
    options = {}
    for item in items:
        if '=' not in item:
            raise ValueError(f"--arch-opt '{item}' must look like key=value (e.g. num_block=6).")
        key, value = item.split('=', 1)
        options[key.strip()] = yaml.safe_load(value)
    return options


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-i', '--input', required=True, help='an image file or a folder of images')
    parser.add_argument('-o', '--output', default='results/inference', help='output folder (default results/inference)')
    parser.add_argument(
        '--model', required=True, help='checkpoint (.pth or .safetensors) with params_ema / params / a raw state dict'
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        '--arch',
        help='network name (RRDBNet, SRVGGNetCompact, MSRResNet, ...); default: read the '
        'arch and its sizes from the checkpoint',
    )
    which.add_argument('--opt', help='option YAML file whose network block (--network-key) describes the network')
    parser.add_argument('--network-key', default='network_g', help='network block of --opt (default network_g)')
    parser.add_argument(
        '--arch-opt',
        nargs='+',
        default=[],
        metavar='KEY=VALUE',
        help='network constructor options that override the ones read (e.g. act_type=relu)',
    )
    parser.add_argument(
        '--param-key',
        default='params_ema',
        help='checkpoint entry to load (default params_ema, falling back to params / raw)',
    )
    parser.add_argument('--tile', type=int, default=0, help='tile size in input pixels; 0 = whole image (default)')
    parser.add_argument('--tile-pad', type=int, default=10, help='context pixels around each tile (default 10)')
    parser.add_argument(
        '--color-correction',
        action='store_true',
        help="match each output channel's mean/std to the input's (the PDD authors' correction)",
    )
    precision = parser.add_mutually_exclusive_group()
    precision.add_argument('--half', action='store_true', help='fp16 inference (CUDA only)')
    precision.add_argument('--bf16', action='store_true', help='bfloat16 inference (CUDA only)')
    parser.add_argument('--device', default='auto', help='auto (default), cpu, cuda or cuda:<index>')
    parser.add_argument('--suffix', default='out', help="output name <stem>_<suffix>; '' keeps the input name")
    parser.add_argument(
        '--ext',
        default='auto',
        help='output extension; auto keeps the input one (png for alpha or '
        '16-bit images stored in formats that cannot hold them)',
    )
    parser.add_argument(
        '--alpha-upsampler',
        choices=ALPHA_UPSAMPLERS,
        default='resize',
        help='upscale alpha channels by bilinear resizing (default) or with the network',
    )
    parser.add_argument('--debug', action='store_true', help='show the traceback of an error')
    return parser


def build_upscaler(args: argparse.Namespace) -> tuple[Upscaler, str]:
    """The network from the checkpoint (and arch / option file) wrapped for inference; also a one-line summary."""
    overrides = parse_key_values(args.arch_opt)
    network_opt = network_block(args.opt, args.network_key) if args.opt else None
    net, opt = load_inference_network(
        args.model, arch=args.arch, network_opt=network_opt, param_key=args.param_key, overrides=overrides
    )
    precision = 'fp16' if args.half else 'bf16' if args.bf16 else 'fp32'
    upscaler = Upscaler(
        net,
        network_scale(opt),
        device=args.device,
        precision=precision,
        tile=args.tile,
        tile_pad=args.tile_pad,
        color_correct=args.color_correction,
        alpha_upsampler=args.alpha_upsampler,
    )
    sizes = ', '.join(f'{k}={v}' for k, v in opt.items() if k != 'type')
    tiling = f'tile {args.tile} pad {args.tile_pad}' if args.tile else 'whole images'
    summary = (
        f'{opt["type"]}({sizes}) x{upscaler.scale} from {args.model} on {upscaler.device}, {precision}, '
        f'{tiling}{", colour correction" if args.color_correction else ""}'
    )
    return upscaler, summary


def output_path(args: argparse.Namespace, input_path: str, image: LoadedImage) -> str:
    """`<output>/<stem>_<suffix><ext>` for one input file."""
    stem = os.path.splitext(os.path.basename(input_path))[0]
    name = f'{stem}_{args.suffix}' if args.suffix else stem
    return os.path.join(args.output, name + output_extension(input_path, image, args.ext))


def upscale_files(upscaler: Upscaler, files: list[str], args: argparse.Namespace) -> list[tuple[str, str]]:
    """Upscale each file with a progress bar and a per-image time line; returns (file, reason) of the failures."""
    failures = []
    progress = tqdm(files, unit='image', file=sys.stdout, disable=True if len(files) < 2 else None)  # None: TTY only
    for index, path in enumerate(progress, start=1):
        start = time.perf_counter()
        try:
            image = read_image(path)
            result = upscaler.upscale(image)
            target = output_path(args, path, image)
            write_image(target, result)
        except (ImageDecodeError, OSError, ValueError, RuntimeError) as err:
            failures.append((path, str(err)))
            progress.write(f'[{index}/{len(files)}] FAILED {path}: {err}')
            continue
        seconds = time.perf_counter() - start
        progress.set_postfix_str(f'{seconds:.2f} s/image')
        progress.write(
            f'[{index}/{len(files)}] {os.path.basename(path)} {image.rgb.shape[1]}x{image.rgb.shape[0]} -> '
            f'{result.rgb.shape[1]}x{result.rgb.shape[0]} in {seconds:.2f} s: {target}'
        )
    return failures


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the CLI; returns the exit status (2 when the set-up was wrong, 1 when any image failed)."""
    args = build_parser().parse_args(argv)
    try:
        files = list_images(args.input)
        upscaler, summary = build_upscaler(args)
    except (FileNotFoundError, KeyError, ValueError, TypeError, RuntimeError) as err:
        return report_failure(as_user_error(err), debug=args.debug)
    print(f'Model: {summary}\nInput: {len(files)} image(s) from {args.input}; output: {args.output}')
    start = time.perf_counter()
    failures = upscale_files(upscaler, files, args)
    done = len(files) - len(failures)
    print(f'Upscaled {done}/{len(files)} image(s) in {time.perf_counter() - start:.1f} s into {args.output}.')
    if failures:
        print(f'{len(failures)} image(s) failed:', file=sys.stderr)
        for path, reason in failures:
            print(f'  {path}: {reason}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
