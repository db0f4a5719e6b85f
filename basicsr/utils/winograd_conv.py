"""Winograd F(4x4, 3x3) convolution: the same 3x3 convolution with 4x fewer multiplications.

A 3x3 convolution (stride 1, padding 1) computes each 4x4 output tile from a 6x6 input tile. Winograd's minimal
filtering algorithm (Lavin & Gray, CVPR 2016) transforms input tiles and weights into 36 "frequencies" where the
convolution becomes 36 independent matrix products over channels, then transforms back: 36 multiply-adds per
channel pair and tile instead of 144. In exact arithmetic the result is identical to the direct convolution; in
fp32 its rounding error is a few 1e-6 relative (direct: below 1e-6), in float64 1e-15.

On a CPU that already runs direct convolutions near its FMA peak this is the only way to do less work for the same
result. It pays off for wide layers, where the channel products dominate the tile transforms (VGG19 from conv3_2
on); narrow layers at large resolution lose. On CUDA, cuDNN picks Winograd itself where it helps.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

TILE = 4  # output tile side
SPAN = TILE + 2  # input tile side for a 3x3 kernel
# The F(4, 3) matrices in Lavin & Gray's form: output = A^T [(G g G^T) * (B^T d B)] A.
_INPUT = ((4, 0, -5, 0, 1, 0), (0, -4, -4, 1, 1, 0), (0, 4, -4, -1, 1, 0),
          (0, -2, -1, 2, 1, 0), (0, 2, -1, -2, 1, 0), (0, 4, 0, -5, 0, 1))
_KERNEL = ((1 / 4, 0, 0), (-1 / 6, -1 / 6, -1 / 6), (-1 / 6, 1 / 6, -1 / 6),
           (1 / 24, 1 / 12, 1 / 6), (1 / 24, -1 / 12, 1 / 6), (0, 0, 1))
_OUTPUT = ((1, 1, 1, 1, 1, 0), (0, 1, -1, 2, -2, 0), (0, 1, 1, 4, 4, 0), (0, 1, -1, 8, -8, 1))
# Measured crossovers on 2 Zen 4 cores at VGG19's shapes (docs/performance.md): narrower layers lose to the tile
# transforms; on 8x8 maps the channel products are too small to gain much for 4x the weight memory.
MIN_IN_CHANNELS = 256
MIN_SIZE = 16


def _kron_square(rows: tuple) -> Tensor:
    matrix = torch.tensor(rows, dtype=torch.float64)
    return torch.kron(matrix, matrix)


# The 2-D transforms as Kronecker products of the 1-D ones: input 36 x 36 on flattened 6x6 tiles, output 16 x 36.
INPUT_2D, OUTPUT_2D = _kron_square(_INPUT), _kron_square(_OUTPUT)


def transform_weight(weight: Tensor) -> Tensor:
    """[C_out, C_in, 3, 3] -> [36, C_in, C_out], the kernel in the Winograd domain."""
    kernel = torch.tensor(_KERNEL, dtype=torch.float64).to(weight)
    transformed = torch.einsum('ak,oikl,bl->abio', kernel, weight, kernel)
    return transformed.reshape(SPAN * SPAN, weight.shape[1], weight.shape[0]).contiguous()


def _frequencies(x: Tensor, rows: int, cols: int) -> Tensor:
    """Overlapping 6x6 tiles (stride 4) of the zero-padded NCHW input in the Winograd domain: [36, tiles, C_in]."""
    batch, channels, height, width = x.shape
    padded = F.pad(x.permute(0, 2, 3, 1), (0, 0, 1, 1 + TILE * cols - width, 1, 1 + TILE * rows - height))
    tiles = padded.unfold(1, SPAN, TILE).unfold(2, SPAN, TILE)  # [N, rows, cols, C, 6, 6]
    tiles = tiles.reshape(batch * rows * cols * channels, SPAN * SPAN)
    return (INPUT_2D.to(x) @ tiles.T).view(SPAN * SPAN, batch * rows * cols, channels)


def _convolve(x: Tensor, weight_t: Tensor, bias: Optional[Tensor]) -> Tensor:
    """The Winograd convolution itself, outside autograd; NCHW in, NCHW out in channels_last memory."""
    batch, _, height, width = x.shape
    rows, cols = -(-height // TILE), -(-width // TILE)
    products = torch.bmm(_frequencies(x, rows, cols), weight_t)  # [36, tiles, C_out]
    out_channels = products.shape[2]
    tiles = (OUTPUT_2D.to(x) @ products.view(SPAN * SPAN, -1)).view(TILE, TILE, batch, rows, cols, out_channels)
    tiles = tiles.permute(2, 3, 0, 4, 1, 5)  # [N, rows, 4, cols, 4, C_out]
    out = torch.empty((batch, out_channels, TILE * rows, TILE * cols), dtype=x.dtype, device=x.device,
                      memory_format=torch.channels_last)
    out_tiles = out.permute(0, 2, 3, 1).view(tiles.shape)
    if bias is None:
        out_tiles.copy_(tiles)
    else:
        torch.add(tiles, bias, out=out_tiles)
    if out.shape[2:] == x.shape[2:]:
        return out
    return out[:, :, :height, :width].contiguous(memory_format=torch.channels_last)


class _WinogradConv3x3(torch.autograd.Function):
    """Gradient to the input only (frozen weight and bias): the transposed convolution, i.e. Winograd with the
    flipped, transposed kernel. No intermediate is kept for the backward pass; first-order gradients only."""

    @staticmethod
    def forward(ctx, x: Tensor, weight_t: Tensor, bias: Optional[Tensor], transposed_t: Tensor) -> Tensor:
        ctx.save_for_backward(transposed_t)
        return _convolve(x, weight_t, bias)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None, None]:
        (transposed_t,) = ctx.saved_tensors
        return _convolve(grad, transposed_t, None), None, None, None


def transposed_kernel(weight: Tensor) -> Tensor:
    """The kernel whose stride-1 convolution is the transposed convolution with `weight` (the input gradient)."""
    return weight.transpose(0, 1).flip(2, 3)


def winograd_pays(conv: nn.Conv2d, x: Tensor) -> bool:
    """A frozen plain 3x3, stride-1, padding-1 convolution, wide enough (and on a large enough map) for Winograd to
    beat the direct one."""
    return (conv.kernel_size == (3, 3) and conv.stride == (1, 1) and conv.padding == (1, 1)
            and conv.dilation == (1, 1) and conv.groups == 1 and conv.padding_mode == 'zeros'
            and not any(param.requires_grad for param in conv.parameters())
            and conv.in_channels >= MIN_IN_CHANNELS and min(x.shape[2:]) >= MIN_SIZE)


class WinogradConvs:
    """Runs the convolutions of frozen networks (a loss network's) by Winograd F(4x4, 3x3) where that pays, others
    directly. Transformed weights are cached and recomputed when the weight tensor changes (e.g. a loaded file)."""

    def __init__(self) -> None:
        self.cache: dict[int, tuple[tuple, tuple[Tensor, Tensor]]] = {}

    @torch.compiler.disable  # its guards (weight versions, map sizes) would recompile the VGG runner per layer
    def __call__(self, conv: nn.Conv2d, x: Tensor) -> Tensor:
        if not winograd_pays(conv, x):
            return conv(x)
        kernel_t, transposed_t = self.transformed(conv)
        return _WinogradConv3x3.apply(x, kernel_t, conv.bias, transposed_t)

    def transformed(self, conv: nn.Conv2d) -> tuple[Tensor, Tensor]:
        """The kernel and the transposed kernel in the Winograd domain, transformed once per weight tensor version."""
        weight = conv.weight
        key = (weight._version, weight.data_ptr(), weight.dtype)
        cached = self.cache.get(id(conv))
        if cached is None or cached[0] != key:
            with torch.inference_mode(False), torch.no_grad():  # a cached inference tensor could not enter a graph
                cached = (key, (transform_weight(weight), transform_weight(transposed_kernel(weight))))
            self.cache[id(conv)] = cached
        return cached[1]
