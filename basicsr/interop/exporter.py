"""`basicsr-export`'s work: one checkpoint of ours (or a training state) -> a bare `.safetensors`, a `.pth` in
Real-ESRGAN's layout and verified ONNX files (fp32, fp16), with a spandrel verdict said before anything is written.

A format that cannot be written (say, an architecture ONNX cannot trace) is reported and the others are still
written; the caller turns any problem into a failing exit status.
"""

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
import torch
from torch import nn

from basicsr.inference.network_loading import network_from_state
from basicsr.inference.upscaler import read_image
from basicsr.interop.onnx_export import OnnxExportError, export_verified
from basicsr.interop.spandrel_check import SpandrelVerdict, spandrel_verdict
from basicsr.utils.checkpoint_util import (
    CHECKPOINT_FORMATS,
    atomic_save_network,
    chosen_param_key,
    read_checkpoint,
    strip_module_prefix,
)

FORMATS = ('safetensors', 'pth', 'onnx')
ONNX_PRECISIONS = ('fp32', 'fp16')
VERIFY_SIZE = 64  # side of the real-image crop the ONNX and spandrel outputs are compared on


@dataclass
class ExportReport:
    """What was written (label -> path), the ONNX errors, the spandrel verdict and the formats that failed."""

    param_key: str
    arch_opt: dict
    spandrel: SpandrelVerdict
    files: dict[str, str] = field(default_factory=dict)
    onnx_errors: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def resolve_network_file(path: str) -> str:
    """A network file as given, or for a training state `<exp>/training_states/<iter>.state` its `net_g_<iter>` file."""
    if not path.endswith('.state'):
        return path
    iteration = os.path.splitext(os.path.basename(path))[0]
    models = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(path))), 'models')
    candidates = [os.path.join(models, f'net_g_{iteration}{ext}') for ext in CHECKPOINT_FORMATS.values()]
    for candidate in candidates:
        if os.path.isfile(candidate):
            return candidate
    raise FileNotFoundError(
        f'{path} is a training state (optimizer and scheduler only); its network file '
        f'{candidates[0]} (or .safetensors) does not exist. Pass the models/net_g_<iter> file.'
    )


def load_for_export(
    path: str, param_key: str = 'params_ema', overrides: Optional[dict] = None
) -> tuple[nn.Module, dict, dict, str]:
    """(network, its options, its state dict, the entry used: params_ema / params / 'raw state dict')."""
    checkpoint = read_checkpoint(path)
    key = chosen_param_key(checkpoint, param_key, path)
    state_dict = strip_module_prefix(checkpoint if key is None else checkpoint[key])
    net, arch_opt = network_from_state(state_dict, path, overrides=overrides)
    return net, arch_opt, state_dict, key or 'raw state dict'


def verification_image(path: Optional[str] = None, size: int = VERIFY_SIZE) -> torch.Tensor:
    """A real photo's central crop as (1, 3, size, size) in [0, 1]: `path`, or a photo bundled with scikit-image."""
    if path is not None:
        rgb = read_image(path).rgb
    else:
        import skimage.data

        rgb = skimage.data.astronaut().astype(np.float32) / 255.0
    top, left = max(0, (rgb.shape[0] - size) // 2), max(0, (rgb.shape[1] - size) // 2)
    crop = np.ascontiguousarray(rgb[top : top + size, left : left + size].transpose(2, 0, 1))
    return torch.from_numpy(crop).float().unsqueeze(0)


def check_spandrel(state_dict: dict, net: nn.Module, arch_opt: dict, image: torch.Tensor) -> SpandrelVerdict:
    """The spandrel verdict on the bare safetensors file this export writes (a temporary copy of it)."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, 'candidate.safetensors')
        atomic_save_network({'params': state_dict}, path)
        return spandrel_verdict(path, net, arch_opt, image)


def write_onnx(
    report: ExportReport, net: nn.Module, stem: str, image: torch.Tensor, log: Callable[[str], None]
) -> None:
    for precision in ONNX_PRECISIONS:
        path = f'{stem}_{precision}.onnx'
        try:
            error = export_verified(net, path, image, precision)
        except OnnxExportError as err:
            report.problems.append(f'ONNX {precision}: {err}')
            log(f'  ONNX {precision}: not written: {err}')
            continue
        report.files[f'onnx_{precision}'] = path
        report.onnx_errors[precision] = error
        log(f'  ONNX {precision}: {path} (onnxruntime vs PyTorch fp32 on a real image: max abs error {error:.2e})')


def export_checkpoint(
    checkpoint: str,
    out_dir: str,
    name: Optional[str] = None,
    param_key: str = 'params_ema',
    formats: Sequence[str] = FORMATS,
    image_path: Optional[str] = None,
    overrides: Optional[dict] = None,
    log: Callable[[str], None] = print,
) -> ExportReport:
    """Export `checkpoint` into `out_dir` as `<name>.safetensors`, `<name>.pth`, `<name>_fp32/fp16.onnx`."""
    path = resolve_network_file(checkpoint)
    net, arch_opt, state_dict, used_key = load_for_export(path, param_key, overrides)
    log(
        f'Exporting {path}: {used_key} weights'
        + (f' (no {param_key} in the file)' if used_key != param_key else '')
        + '.'
    )
    image = verification_image(image_path)
    report = ExportReport(used_key, arch_opt, check_spandrel(state_dict, net, arch_opt, image))
    log(report.spandrel.message())
    stem = os.path.join(out_dir, name or os.path.splitext(os.path.basename(path))[0])
    os.makedirs(out_dir, exist_ok=True)
    if 'safetensors' in formats:
        report.files['safetensors'] = f'{stem}.safetensors'
        atomic_save_network({'params': state_dict}, report.files['safetensors'])
        log(f'  safetensors (bare state dict): {report.files["safetensors"]}')
    if 'pth' in formats:
        report.files['pth'] = f'{stem}.pth'
        layout_key = 'params_ema' if used_key == 'params_ema' else 'params'
        atomic_save_network({layout_key: state_dict}, report.files['pth'])
        log(f"  pth (Real-ESRGAN layout, {{'{layout_key}': ...}}): {report.files['pth']}")
    if 'onnx' in formats:
        write_onnx(report, net, stem, image, log)
    return report
