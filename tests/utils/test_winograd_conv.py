"""Winograd F(4x4, 3x3): the direct convolution's result and input gradient, used only where it applies and pays."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from basicsr.utils import winograd_conv
from basicsr.utils.winograd_conv import MIN_SIZE, WinogradConvs, min_channel_product, winograd_pays
from basicsr.utils.winograd_kernels import compiled_transforms


def wide() -> tuple[int, int]:
    """(C_in, C_out) of the narrowest convolution that takes the Winograd path with the transforms in use."""
    return 128, min_channel_product(torch.empty(0)) // 128


@pytest.fixture(params=['compiled', 'pytorch ops'])
def transforms(request, monkeypatch) -> str:
    """Run a test with the compiled tile transforms and again with the PyTorch-op ones."""
    if request.param == 'pytorch ops':
        monkeypatch.setattr(winograd_conv, 'compiled_transforms', lambda: None)
    elif compiled_transforms() is None:
        pytest.skip('the compiled Winograd transforms could not be built on this machine (see the logged reason)')
    return request.param


@pytest.fixture
def winograd_calls(monkeypatch) -> list:
    """Shapes of the inputs the Winograd kernel ran on (forward and backward)."""
    calls = []
    convolve = winograd_conv._convolve

    def counting(x, weight_t, bias):
        calls.append(tuple(x.shape))
        return convolve(x, weight_t, bias)

    monkeypatch.setattr(winograd_conv, '_convolve', counting)
    return calls


@pytest.fixture
def small_thresholds(monkeypatch) -> None:
    """Let narrow convolutions on small maps take the Winograd path, so float64 checks stay fast."""
    monkeypatch.setattr(winograd_conv, 'MIN_CHANNEL_PRODUCT', 1)
    monkeypatch.setattr(winograd_conv, 'MIN_CHANNEL_PRODUCT_TORCH_OPS', 1)
    monkeypatch.setattr(winograd_conv, 'MIN_SIZE', 1)


def frozen_conv(in_channels: int, out_channels: int, bias: bool = True, **kwargs) -> nn.Conv2d:
    torch.manual_seed(0)
    conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=bias, **kwargs)
    with torch.no_grad():
        if bias:
            conv.bias.normal_()
    return conv.requires_grad_(False)


def relative_error(value: torch.Tensor, reference: torch.Tensor) -> float:
    return ((value - reference).norm() / reference.norm()).item()


@pytest.mark.parametrize('size', [(16, 16), (17, 23), (1, 5)], ids=['tiled', 'ragged', 'thin'])
@pytest.mark.parametrize('bias', [True, False], ids=['bias', 'no-bias'])
def test_output_and_input_gradient_equal_the_direct_convolution_in_float64(small_thresholds, winograd_calls, size,
                                                                             bias, transforms):
    conv = frozen_conv(6, 5, bias=bias).double()
    x = torch.randn(2, 6, *size, dtype=torch.float64, requires_grad=True)
    direct_x = x.detach().clone().requires_grad_()
    upstream = torch.randn(2, 5, *size, dtype=torch.float64)
    out = WinogradConvs()(conv, x)
    out.backward(upstream)
    direct = F.conv2d(direct_x, conv.weight, conv.bias, padding=1)
    direct.backward(upstream)
    assert winograd_calls == [(2, 6, *size), (2, 5, *size)]  # forward, then the input gradient
    assert out.shape == direct.shape and out.is_contiguous(memory_format=torch.channels_last)
    assert relative_error(out, direct) < 1e-13
    assert relative_error(x.grad, direct_x.grad) < 1e-13


def test_fp32_error_on_a_vgg_layer_and_its_input_gradient_is_a_few_millionths(transforms):
    in_channels, out_channels = wide()
    conv = frozen_conv(in_channels, out_channels)
    x = torch.randn(1, in_channels, MIN_SIZE, MIN_SIZE + 3).contiguous(memory_format=torch.channels_last)
    x.requires_grad_()
    upstream = torch.randn(1, out_channels, MIN_SIZE, MIN_SIZE + 3)
    exact_x = x.detach().double().requires_grad_()
    exact = F.conv2d(exact_x, conv.weight.double(), conv.bias.double(), padding=1)
    exact.backward(upstream.double())
    assert winograd_pays(conv, x)
    out = WinogradConvs()(conv, x)
    out.backward(upstream)
    assert relative_error(out.double(), exact) < 1e-5
    assert relative_error(x.grad.double(), exact_x.grad) < 1e-5


@pytest.mark.parametrize('case', ['trained', 'trained bias', 'stride 2', 'narrow', 'small map', '5x5'])
def test_convolutions_where_it_does_not_apply_or_pay_run_directly(winograd_calls, case):
    (channels, out_channels), size, kwargs = wide(), MIN_SIZE, {}
    if case == 'narrow':
        out_channels //= 2
    if case == 'small map':
        size = MIN_SIZE // 2
    if case == 'stride 2':
        kwargs = {'stride': 2}
    conv = frozen_conv(channels, out_channels, **kwargs)
    if case == 'trained':
        conv.requires_grad_(True)
    if case == 'trained bias':
        conv.bias.requires_grad_(True)
    if case == '5x5':
        conv = nn.Conv2d(channels, out_channels, 5, padding=2).requires_grad_(False)
    x = torch.randn(1, channels, size, size)
    assert torch.equal(WinogradConvs()(conv, x), conv(x))
    assert winograd_calls == []


def test_cached_weights_follow_changes_of_the_weight_tensor(small_thresholds):
    conv = frozen_conv(4, 3).double()
    convs = WinogradConvs()
    x = torch.randn(1, 4, 8, 8, dtype=torch.float64)
    before = convs(conv, x)
    with torch.no_grad():
        conv.weight.mul_(2)
    after = convs(conv, x)
    assert relative_error(after, conv(x)) < 1e-13
    assert relative_error(after - conv.bias.view(1, -1, 1, 1), 2 * (before - conv.bias.view(1, -1, 1, 1))) < 1e-13
    conv.float()
    assert convs(conv, x.float()).dtype == torch.float32


def test_weights_first_transformed_under_inference_mode_serve_a_pass_with_gradients(small_thresholds):
    conv = frozen_conv(4, 3)
    convs = WinogradConvs()
    with torch.inference_mode():
        convs(conv, torch.randn(1, 4, 8, 8))
    x = torch.randn(1, 4, 8, 8, requires_grad=True)
    convs(conv, x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')
def test_forced_winograd_on_cuda_matches_the_direct_convolution(small_thresholds):
    conv = frozen_conv(8, 5).cuda()
    x = torch.randn(2, 8, 19, 21, device='cuda', requires_grad=True)
    direct_x = x.detach().clone().requires_grad_()
    upstream = torch.randn(2, 5, 19, 21, device='cuda')
    WinogradConvs()(conv, x).backward(upstream)
    with torch.backends.cudnn.flags(allow_tf32=False):
        F.conv2d(direct_x, conv.weight, conv.bias, padding=1).backward(upstream)
        direct = F.conv2d(x.detach(), conv.weight, conv.bias, padding=1)
    assert relative_error(WinogradConvs()(conv, x.detach()), direct) < 1e-5
    assert relative_error(x.grad, direct_x.grad) < 1e-5
