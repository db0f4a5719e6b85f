import math

import numpy as np
import pytest
import torch

from basicsr.utils import color_util
from basicsr.utils.matlab_functions import bgr2ycbcr, cubic, imresize, resize_weights, rgb2ycbcr, ycbcr2rgb


def _keys_cubic(x: float) -> float:
    """Keys' cubic kernel, a = -0.5, written out from its definition."""
    x = abs(x)
    if x <= 1:
        return 1.5 * x**3 - 2.5 * x**2 + 1
    if x <= 2:
        return -0.5 * x**3 + 2.5 * x**2 - 4 * x + 2
    return 0.0


def _matlab_resize_1d(signal: list[float], scale: float, antialiasing: bool = True) -> list[float]:
    """MATLAB's 1-D bicubic resize, one output pixel at a time, with mirrored ('symmetric') borders."""
    n = len(signal)
    stretch = scale if (scale < 1 and antialiasing) else 1.0
    support = 2 / stretch
    out = []
    for x in range(1, math.ceil(n * scale) + 1):
        u = x / scale + 0.5 * (1 - 1 / scale)  # 1-based input coordinate of output pixel x
        taps = range(math.floor(u - support), math.ceil(u + support) + 1)
        weights = [stretch * _keys_cubic((u - j) * stretch) for j in taps]
        total = sum(weights)
        value = 0.0
        for j, w in zip(taps, weights):
            i = j - 1
            while not 0 <= i < n:
                i = -i - 1 if i < 0 else 2 * n - 1 - i
            value += w / total * signal[i]
        out.append(value)
    return out


def test_halving_1x4_image_gives_matlab_values():
    # weights 0.43359375, 0.11328125, -0.03515625, -0.01171875 at distances 0.5 .. 3.5, computed by hand
    out = imresize(np.array([[1.0, 2.0, 4.0, 8.0]], dtype=np.float32), 0.5)
    np.testing.assert_allclose(out, [[1.375, 6.125]], atol=1e-6)


def test_doubling_1x4_image_gives_matlab_values():
    # first two outputs: 1.09375 f0 - 0.09375 f1 and 0.796875 f0 + 0.2265625 f1 - 0.0234375 f2
    out = imresize(np.array([[1.0, 2.0, 4.0, 8.0]], dtype=np.float32), 2)
    assert out.shape == (2, 8)
    np.testing.assert_allclose(out[0, :2], [0.90625, 1.15625], atol=1e-6)
    np.testing.assert_allclose(out[0], _matlab_resize_1d([1, 2, 4, 8], 2), atol=1e-6)


@pytest.mark.parametrize('scale', [0.25, 0.5, 1 / 3, 0.6, 1.5, 3])
@pytest.mark.parametrize('antialiasing', [True, False])
def test_imresize_equals_separable_hand_computation(scale, antialiasing):
    img = np.random.default_rng(0).random((9, 7)).astype(np.float32)
    rows = np.array([_matlab_resize_1d(list(r), scale, antialiasing) for r in img.astype(np.float64)])
    expected = np.array([_matlab_resize_1d(list(c), scale, antialiasing) for c in rows.T]).T
    np.testing.assert_allclose(imresize(img, scale, antialiasing), expected, atol=2e-6)


def test_resize_weight_rows_sum_to_one_and_are_mirror_symmetric():
    weights = resize_weights(40, 10, 0.25)
    torch.testing.assert_close(weights.sum(1), torch.ones(10))
    torch.testing.assert_close(weights, weights.flip(0).flip(1))


def test_cubic_kernel_values():
    x = torch.tensor([0.0, 0.5, 1.0, 1.5, 2.0, 2.5])
    torch.testing.assert_close(cubic(x), torch.tensor([1.0, 0.5625, 0.0, -0.0625, 0.0, 0.0]))


def test_constant_image_stays_constant_and_linear_ramp_stays_linear_inside():
    np.testing.assert_allclose(imresize(np.full((16, 12, 3), 0.3, np.float32), 0.25), 0.3, atol=1e-6)
    ramp = np.tile(np.arange(16, dtype=np.float32), (4, 1))
    up = imresize(ramp, 2)
    # the cubic kernel reproduces linear functions exactly away from the mirrored borders
    np.testing.assert_allclose(np.diff(up[0, 4:-4]), 0.5, atol=1e-5)


def test_numpy_hwc_and_tensor_chw_inputs_agree():
    img = np.random.default_rng(1).random((20, 24, 3)).astype(np.float32)
    out_np = imresize(img, 0.5)
    out_pt = imresize(torch.from_numpy(img.transpose(2, 0, 1).copy()), 0.5)
    assert out_np.shape == (10, 12, 3) and isinstance(out_np, np.ndarray)
    assert out_pt.shape == (3, 10, 12) and isinstance(out_pt, torch.Tensor)
    np.testing.assert_allclose(out_np, out_pt.numpy().transpose(1, 2, 0), atol=1e-6)


def test_uint8_input_gives_unrounded_float32_and_2d_stays_2d():
    img = np.arange(64, dtype=np.uint8).reshape(8, 8)
    out = imresize(img, 0.5)
    assert out.dtype == np.float32 and out.shape == (4, 4)
    assert not np.allclose(out, out.round())


def test_output_shape_resizes_each_axis_by_its_own_factor():
    img = np.random.default_rng(2).random((12, 20)).astype(np.float32)
    out = imresize(img, None, output_shape=(6, 5))
    rows = np.array([_matlab_resize_1d(list(r), 0.25) for r in img.astype(np.float64)])
    expected = np.array([_matlab_resize_1d(list(c), 0.5) for c in rows.T]).T
    np.testing.assert_allclose(out, expected, atol=2e-6)


def test_bad_scale_or_shape_is_reported():
    img = np.zeros((4, 4), np.float32)
    with pytest.raises(ValueError, match='scale must be positive'):
        imresize(img, 0)
    with pytest.raises(ValueError, match='output_shape'):
        imresize(img, None, output_shape=(0, 3))


def test_colour_conversions_are_reexported_from_color_util():
    assert rgb2ycbcr is color_util.rgb2ycbcr and bgr2ycbcr is color_util.bgr2ycbcr
    assert ycbcr2rgb is color_util.ycbcr2rgb
