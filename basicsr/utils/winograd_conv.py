"""Winograd F(4x4, 3x3) convolution: the same 3x3 convolution with 4x fewer multiplications.

A 3x3 convolution (stride 1, padding 1) computes each 4x4 output tile from a 6x6 input tile. Winograd's minimal
filtering algorithm (Lavin & Gray, CVPR 2016) transforms input tiles and weights into 36 "frequencies" where the
convolution becomes 36 independent matrix products over channels, then transforms back: 36 multiply-adds per
channel pair and tile instead of 144. In exact arithmetic the result is identical to the direct convolution; in
fp32 its rounding error is a few 1e-6 relative (direct: below 1e-6), in float64 1e-15.

On a CPU that already runs direct convolutions near its FMA peak this is the only way to do less work for the same
result. It pays off for wide layers, where the channel products dominate the tile transforms; narrow layers at large
resolution lose. The transforms are memory traffic: the compiled ones (`winograd_kernels`, built on first use) read
and write each tile once, the PyTorch-op fallback takes ~12 passes, so the crossover depends on which is available.
On CUDA, cuDNN picks Winograd itself where it helps.
"""
from types import ModuleType
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from basicsr.utils.winograd_kernels import compiled_transforms

TILE = 4  # output tile side
SPAN = TILE + 2  # input tile side for a 3x3 kernel
# The kernel transform G of F(4, 3) in Lavin & Gray's form: output = A^T [(G g G^T) * (B^T d B)] A. B^T and A^T are
# applied separably, one tile axis at a time, by `_input_transform_1d` and `_output_transform_1d`.
_KERNEL = ((1 / 4, 0, 0), (-1 / 6, -1 / 6, -1 / 6), (-1 / 6, 1 / 6, -1 / 6),
           (1 / 24, 1 / 12, 1 / 6), (1 / 24, -1 / 12, 1 / 6), (0, 0, 1))
# Measured crossovers on 2 Zen 4 cores at VGG19's shapes (docs/performance.md): the channel products grow with
# C_in * C_out per pixel, the tile transforms with C_in + C_out, so narrow layers lose: with the compiled transforms
# from conv2_1 (64 -> 128 channels) on, with the slower PyTorch-op transforms from conv3_1 (128 -> 256) on.
MIN_CHANNEL_PRODUCT = 64 * 128
MIN_CHANNEL_PRODUCT_TORCH_OPS = 128 * 256
MIN_SIZE = 8
KERNEL_DTYPES = (torch.float32, torch.float64)


def transform_weight(weight: Tensor) -> Tensor:
    """[C_out, C_in, 3, 3] -> [36, C_in, C_out], the kernel in the Winograd domain."""
    kernel = torch.tensor(_KERNEL, dtype=torch.float64).to(weight)
    transformed = torch.einsum('ak,oikl,bl->abio', kernel, weight, kernel)
    return transformed.reshape(SPAN * SPAN, weight.shape[1], weight.shape[0]).contiguous()


def _input_transform_1d(taps: list[Tensor], out: Tensor) -> None:
    """out[a] = sum_k B^T[a, k] taps[k] for the six taps of one tile axis, B^T = [[4, 0, -5, 0, 1, 0],
    [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]];
    rows 1-4 share their partial sums. Elementwise passes over whole tensors: no tile gather, no dense 36 x 36."""
    d0, d1, d2, d3, d4, d5 = taps
    even, odd = torch.add(d4, d2, alpha=-4), torch.add(d3, d1, alpha=-4)
    torch.add(even, odd, out=out[1])
    torch.sub(even, odd, out=out[2])
    even, odd = torch.sub(d4, d2), torch.sub(d3, d1)
    torch.add(even, odd, alpha=2, out=out[3])
    torch.add(even, odd, alpha=-2, out=out[4])
    torch.add(d4, d0, alpha=4, out=out[0]).add_(d2, alpha=-5)
    torch.add(d5, d1, alpha=4, out=out[5]).add_(d3, alpha=-5)


def _output_transform_1d(products: Tensor, out: Tensor) -> None:
    """out[i] = sum_a A^T[i, a] products[a] along one tile axis, A^T = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0],
    [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]], sharing the sums and differences of frequencies 1, 2 and 3, 4."""
    m0, m1, m2, m3, m4, m5 = products
    sum12, diff12, sum34, diff34 = torch.add(m1, m2), torch.sub(m1, m2), torch.add(m3, m4), torch.sub(m3, m4)
    torch.add(sum12, sum34, out=out[0]).add_(m0)
    torch.add(diff12, diff34, alpha=2, out=out[1])
    torch.add(sum12, sum34, alpha=4, out=out[2])
    torch.add(diff12, diff34, alpha=8, out=out[3]).add_(m5)


def _frequencies(x: Tensor, rows: int, cols: int) -> Tensor:
    """Overlapping 6x6 tiles (stride 4) of the zero-padded NCHW input in the Winograd domain: [36, tiles, C_in].
    The taps of one tile axis are stride-4 views of the padded map, so each pass reads whole channel rows."""
    batch, channels, height, width = x.shape
    padded = F.pad(x.permute(0, 2, 3, 1), (0, 0, 1, 1 + TILE * cols - width, 1, 1 + TILE * rows - height))
    along_rows = padded.new_empty(SPAN, batch, rows, padded.shape[2], channels)
    _input_transform_1d([padded[:, k:k + TILE * rows:TILE] for k in range(SPAN)], along_rows)
    frequencies = padded.new_empty(SPAN, SPAN, batch, rows, cols, channels)
    _input_transform_1d([along_rows[:, :, :, k:k + TILE * cols:TILE] for k in range(SPAN)],
                        frequencies.transpose(0, 1))
    return frequencies.view(SPAN * SPAN, batch * rows * cols, channels)


def _pixels(products: Tensor, batch: int, height: int, width: int) -> Tensor:
    """Products [36, tiles, C_out] back to the NCHW output (channels_last memory), ragged tiles cropped."""
    rows, cols, out_channels = -(-height // TILE), -(-width // TILE), products.shape[2]
    products = products.view(SPAN, SPAN, batch, rows, cols, out_channels)
    along_cols = products.new_empty(SPAN, TILE, batch, rows, cols, out_channels)
    _output_transform_1d(products.transpose(0, 1), along_cols.transpose(0, 1))
    out = torch.empty((batch, out_channels, TILE * rows, TILE * cols), dtype=products.dtype, device=products.device,
                      memory_format=torch.channels_last)
    tiles = out.permute(0, 2, 3, 1).view(batch, rows, TILE, cols, TILE, out_channels)
    _output_transform_1d(along_cols, tiles.permute(2, 4, 0, 1, 3, 5))  # [row in tile, col in tile, N, r, c, C]
    if out.shape[2:] == (height, width):
        return out
    return out[:, :, :height, :width].contiguous(memory_format=torch.channels_last)


def _convolve_with_torch_ops(x: Tensor, weight_t: Tensor, bias: Optional[Tensor]) -> Tensor:
    """`_convolve` with the tile transforms as PyTorch ops (any device and dtype)."""
    batch, _, height, width = x.shape
    products = torch.bmm(_frequencies(x, -(-height // TILE), -(-width // TILE)), weight_t)  # [36, tiles, C_out]
    if bias is not None:  # A^T's column 1 is all ones, so frequency (1, 1) reaches every output pixel with weight 1
        products[SPAN + 1].add_(bias)
    return _pixels(products, batch, height, width)


def _convolve(x: Tensor, weight_t: Tensor, bias: Optional[Tensor]) -> Tensor:
    """The Winograd convolution itself, outside autograd; NCHW in, NCHW out in channels_last memory."""
    kernels = _kernels_for(x)
    if kernels is None:
        return _convolve_with_torch_ops(x, weight_t, bias)
    products = torch.bmm(kernels.input_transform(x.permute(0, 2, 3, 1).contiguous()), weight_t)
    return kernels.output_transform(products, bias, x.shape[0], x.shape[2], x.shape[3])


class _WinogradConv3x3(torch.autograd.Function):
    """Gradient to the input only (frozen weight and bias): the transposed convolution, i.e. the correlation with
    the flipped kernel, channels swapped, computed as the flipped correlation of the flipped gradient. It reuses the
    forward's transformed kernel (channels swapped by a view) and keeps no intermediate; first-order only."""

    @staticmethod
    def forward(ctx, x: Tensor, weight_t: Tensor, bias: Optional[Tensor]) -> Tensor:
        ctx.save_for_backward(weight_t)
        return _convolve(x, weight_t, bias)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None]:
        (weight_t,) = ctx.saved_tensors
        return _convolve(grad.flip(2, 3), weight_t.transpose(1, 2), None).flip(2, 3), None, None


def _kernels_for(x: Tensor) -> Optional[ModuleType]:
    """The compiled transforms when they can take `x` (a float32/float64 CPU tensor) and were built."""
    if x.device.type != 'cpu' or x.dtype not in KERNEL_DTYPES:
        return None
    return compiled_transforms()


def winograd_pays(conv: nn.Conv2d, x: Tensor) -> bool:
    """A frozen plain 3x3, stride-1, padding-1 convolution, wide enough (and on a large enough map) for Winograd to
    beat the direct one."""
    return (conv.kernel_size == (3, 3) and conv.stride == (1, 1) and conv.padding == (1, 1)
            and conv.dilation == (1, 1) and conv.groups == 1 and conv.padding_mode == 'zeros'
            and not any(param.requires_grad for param in conv.parameters())
            and conv.in_channels * conv.out_channels >= min_channel_product(x) and min(x.shape[2:]) >= MIN_SIZE)


def min_channel_product(x: Tensor) -> int:
    """The narrowest layer (C_in * C_out) where Winograd beats the direct convolution for inputs like `x`."""
    return MIN_CHANNEL_PRODUCT if _kernels_for(x) is not None else MIN_CHANNEL_PRODUCT_TORCH_OPS


class WinogradConvs:
    """Runs the convolutions of frozen networks (a loss network's) by Winograd F(4x4, 3x3) where that pays, others
    directly. Transformed weights are cached and recomputed when the weight tensor changes (e.g. a loaded file)."""

    def __init__(self) -> None:
        self.cache: dict[int, tuple[tuple, Tensor]] = {}

    @torch.compiler.disable  # its guards (weight versions, map sizes) would recompile the VGG runner per layer
    def __call__(self, conv: nn.Conv2d, x: Tensor) -> Tensor:
        if not winograd_pays(conv, x):
            return conv(x)
        return _WinogradConv3x3.apply(x, self.transformed(conv), conv.bias)

    def transformed(self, conv: nn.Conv2d) -> Tensor:
        """The kernel in the Winograd domain, transformed once per weight tensor version."""
        weight = conv.weight
        key = (weight._version, weight.data_ptr(), weight.dtype)
        cached = self.cache.get(id(conv))
        if cached is None or cached[0] != key:
            with torch.inference_mode(False), torch.no_grad():  # a cached inference tensor could not enter a graph
                cached = (key, transform_weight(weight))
            self.cache[id(conv)] = cached
        return cached[1]
