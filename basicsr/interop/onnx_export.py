"""ONNX export of an SR network (dynamic batch, height and width), verified with onnxruntime against PyTorch.

A file is only kept when onnxruntime reproduces PyTorch's fp32 output on a real image within the tolerance; fp16
files are compared with the same fp32 reference, so their error includes the half-precision rounding.
"""

import copy
import inspect
import os
import warnings
from typing import Optional

import numpy as np
import torch
from torch import nn

from basicsr.interop.spandrel_check import first_line

ONNX_OPSET = 17
TOLERANCES = {'fp32': 1e-3, 'fp16': 2e-2}  # max abs error on [0, 1] images; fp16 keeps ~3 decimal digits
DTYPES = {'fp32': torch.float32, 'fp16': torch.float16}


class OnnxExportError(RuntimeError):
    """The network could not be exported, or its ONNX output does not match PyTorch's."""


def _import_onnx_runtime():
    try:
        import onnx  # noqa: F401
        import onnxruntime
    except ImportError as err:
        raise OnnxExportError(
            'ONNX export needs the onnx and onnxruntime packages: pip install onnx onnxruntime '
            "(or pip install -e '.[export]')."
        ) from err
    return onnxruntime


def _legacy_exporter_kwargs() -> dict:
    """The TorchScript-based exporter handles dynamic axes without onnxscript; newer torch needs `dynamo=False`."""
    return {'dynamo': False} if 'dynamo' in inspect.signature(torch.onnx.export).parameters else {}


def export_onnx(
    net: nn.Module, path: str, precision: str = 'fp32', opset: int = ONNX_OPSET, sample_size: int = 32
) -> None:
    """Write `net` as ONNX with input `input` / output `output`, NCHW, dynamic batch, height and width."""
    _import_onnx_runtime()
    model = copy.deepcopy(net).eval().to(device='cpu', dtype=DTYPES[precision])
    sample = torch.rand(1, 3, sample_size, sample_size, dtype=DTYPES[precision])
    axes = {0: 'batch', 2: 'height', 3: 'width'}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # the legacy exporter's deprecation notice, and tracer notes on shape checks that only raise errors
            warnings.simplefilter('ignore', (DeprecationWarning, torch.jit.TracerWarning))
            torch.onnx.export(
                model,
                (sample,),
                path,
                input_names=['input'],
                output_names=['output'],
                dynamic_axes={'input': axes, 'output': axes},
                opset_version=opset,
                **_legacy_exporter_kwargs(),
            )
    except Exception as err:  # any tracer/exporter failure: the architecture (or this torch) cannot go to ONNX
        if os.path.exists(path):
            os.remove(path)
        raise OnnxExportError(
            f'{type(net).__name__} cannot be exported to ONNX {precision} with torch '
            f'{torch.__version__} ({first_line(err)}).'
        ) from err


def onnx_max_abs_error(path: str, net: nn.Module, image: torch.Tensor, precision: str = 'fp32') -> float:
    """Max |onnxruntime(image) - net(image)| with the fp32 PyTorch output as the reference; image is (1, 3, h, w)."""
    onnxruntime = _import_onnx_runtime()
    with torch.no_grad():
        reference = copy.deepcopy(net).float().eval()(image.float()).numpy()
    session = onnxruntime.InferenceSession(path, providers=['CPUExecutionProvider'])
    feed = image.to(DTYPES[precision]).numpy()
    output = session.run(None, {'input': feed})[0].astype(np.float32)
    if output.shape != reference.shape:
        return float('inf')
    return float(np.abs(output - reference).max())


def export_verified(
    net: nn.Module,
    path: str,
    image: torch.Tensor,
    precision: str = 'fp32',
    tolerance: Optional[float] = None,
    opset: int = ONNX_OPSET,
) -> float:
    """Export, then verify on `image`; returns the max abs error, or removes the file and raises above tolerance."""
    tolerance = TOLERANCES[precision] if tolerance is None else tolerance
    export_onnx(net, path, precision, opset)
    error = onnx_max_abs_error(path, net, image, precision)
    if not error <= tolerance:
        os.remove(path)
        raise OnnxExportError(
            f'ONNX {precision} output differs from PyTorch by {error:.2e} (max abs, image in '
            f'[0, 1]), above the tolerance {tolerance:.0e}; the file was not kept.'
        )
    return error
