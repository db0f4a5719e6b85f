"""Building the compiled Winograd tile transforms: once, for this CPU's instruction set, or a logged fallback."""
import logging

import pytest
import torch
import torch.nn.functional as F
import torch.utils.cpp_extension

from basicsr.utils import winograd_conv, winograd_kernels
from basicsr.utils.logger import get_root_logger
from basicsr.utils.winograd_kernels import DISABLE_VARIABLE, compiled_transforms


@pytest.fixture
def fresh_build_state():
    """Forget the process-wide build result before and after the test."""
    compiled_transforms.cache_clear()
    yield
    compiled_transforms.cache_clear()


@pytest.fixture
def log_records() -> list:
    """Records of the `basicsr` logger (it does not propagate to pytest's caplog)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append
    logger = get_root_logger()
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def test_the_variable_set_to_0_skips_the_build(fresh_build_state, monkeypatch, log_records):
    monkeypatch.setenv(DISABLE_VARIABLE, '0')
    monkeypatch.setattr(torch.utils.cpp_extension, 'load', lambda **kwargs: pytest.fail('built despite the switch'))
    assert compiled_transforms() is None
    assert DISABLE_VARIABLE in ' '.join(record.getMessage() for record in log_records)


def test_a_failed_build_falls_back_to_pytorch_ops_with_a_warning(fresh_build_state, monkeypatch, log_records):
    def no_compiler(**kwargs):
        raise RuntimeError('Ninja is required to load C++ extensions')

    monkeypatch.delenv(DISABLE_VARIABLE, raising=False)
    monkeypatch.setattr(torch.utils.cpp_extension, 'load', no_compiler)
    assert compiled_transforms() is None
    warnings = [record.getMessage() for record in log_records if record.levelno == logging.WARNING]
    assert len(warnings) == 1 and 'Ninja is required' in warnings[0] and 'ninja' in warnings[0]
    conv = torch.nn.Conv2d(128, 256, 3, padding=1).requires_grad_(False)
    x = torch.randn(1, 128, 8, 8)
    assert winograd_conv.min_channel_product(x) == winograd_conv.MIN_CHANNEL_PRODUCT_TORCH_OPS
    assert torch.allclose(winograd_conv.WinogradConvs()(conv, x), conv(x), atol=1e-4)


def test_the_build_targets_the_instruction_set_pytorch_uses_here(fresh_build_state, monkeypatch):
    calls = []
    monkeypatch.delenv(DISABLE_VARIABLE, raising=False)
    monkeypatch.setattr(winograd_kernels, 'cpu_capability', lambda: 'AVX2')
    monkeypatch.setattr(torch.utils.cpp_extension, 'load', lambda **kwargs: calls.append(kwargs) or 'module')
    assert compiled_transforms() == 'module' and compiled_transforms() == 'module'
    assert len(calls) == 1 and calls[0]['name'].endswith('_avx2') and '-mavx2' in calls[0]['extra_cflags']


def test_compiled_transforms_take_float64_and_ragged_maps_and_crop_them():
    kernels = compiled_transforms()
    if kernels is None:
        pytest.skip('the compiled Winograd transforms could not be built on this machine (see the logged reason)')
    x = torch.randn(2, 3, 5, 7, dtype=torch.float64).contiguous(memory_format=torch.channels_last)
    weight, bias = torch.randn(4, 3, 3, 3, dtype=torch.float64), torch.randn(4, dtype=torch.float64)
    products = torch.bmm(kernels.input_transform(x.permute(0, 2, 3, 1).contiguous()),
                         winograd_conv.transform_weight(weight))
    out = kernels.output_transform(products, bias, 2, 5, 7)
    assert out.shape == (2, 4, 5, 7) and out.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(out, F.conv2d(x, weight, bias, padding=1), rtol=1e-12, atol=1e-12)
