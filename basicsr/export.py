"""Export CLI: hand a trained checkpoint to the tools people upscale with (chaiNNer / ComfyUI through spandrel,
ONNX runtimes, Real-ESRGAN's scripts).

    basicsr-export experiments/my_run/models/net_g_latest.pth --out exported/
    python scripts/export.py experiments/my_run/training_states/5000.state --param-key params --formats onnx

Writes <name>.safetensors (bare state dict), <name>.pth (Real-ESRGAN layout) and <name>_fp32.onnx / <name>_fp16.onnx
(dynamic batch, height and width, opset 17), each ONNX file verified with onnxruntime against PyTorch on a real
image. Exit status 2 when the input is wrong, 1 when a format could not be written (the others still are).
"""

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Optional

if __package__ in (None, ''):  # run as a script: make the repository root importable
    sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir)))

from basicsr.infer import parse_key_values  # noqa: E402
from basicsr.interop.exporter import FORMATS, export_checkpoint  # noqa: E402
from basicsr.utils.errors import as_user_error, run_command  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('checkpoint', help='network file (.pth / .safetensors) or a training state (.state)')
    parser.add_argument('--out', default='exported', help='output folder (default exported/)')
    parser.add_argument('--name', default=None, help='output file stem (default: the checkpoint name)')
    parser.add_argument(
        '--param-key',
        default='params_ema',
        help='weights to export: params_ema (default; falls back to params) or params',
    )
    parser.add_argument('--formats', nargs='+', choices=FORMATS, default=list(FORMATS))
    parser.add_argument(
        '--image',
        default=None,
        help='real image to verify ONNX and spandrel outputs on (default: a photo bundled with scikit-image)',
    )
    parser.add_argument(
        '--arch-opt',
        nargs='+',
        default=[],
        metavar='KEY=VALUE',
        help='network options the weights cannot tell (e.g. act_type=relu for a ReLU Compact)',
    )
    return parser


def export(args: argparse.Namespace) -> int:
    """Write the asked formats; 1 when a format could not be written (the others are)."""
    try:
        report = export_checkpoint(
            args.checkpoint,
            args.out,
            args.name,
            args.param_key,
            args.formats,
            args.image,
            parse_key_values(args.arch_opt),
        )
    except (KeyError, ValueError, TypeError, RuntimeError, ImportError) as err:  # the input file, arch or key
        raise as_user_error(err) from err
    if report.problems:
        print(f'{len(report.problems)} format(s) not written:', file=sys.stderr)
        for problem in report.problems:
            print(f'  {problem}', file=sys.stderr)
        return 1
    print(f'Done: {len(report.files)} file(s) in {args.out}.')
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the export; a wrong input is one message and exit status 2, a format that failed exit status 1."""
    args = build_parser().parse_args(argv)
    return run_command(lambda: export(args), argv, what='export')


if __name__ == '__main__':
    sys.exit(main())
