import numpy as np
import pytest
import torch

from basicsr.utils.color_util import bgr2ycbcr, rgb2ycbcr, rgb2ycbcr_pt, ycbcr2bgr, ycbcr2rgb


@pytest.fixture
def rgb_float():
    return np.random.default_rng(0).random((5, 7, 3)).astype(np.float32)


@pytest.mark.parametrize(
    'rgb, ycbcr',
    [
        ((255, 255, 255), (235, 128, 128)),
        ((0, 0, 0), (16, 128, 128)),
        ((255, 0, 0), (81, 90, 240)),  # Y = 16 + 65.481, Cb = 128 - 37.797, Cr = 128 + 112
        ((0, 0, 255), (41, 240, 110)),  # Y = 16 + 24.966, Cb = 128 + 112, Cr = 128 - 18.214
    ],
)
def test_rgb2ycbcr_gives_bt601_studio_range_values(rgb, ycbcr):
    pixel = np.array(rgb, dtype=np.uint8).reshape(1, 1, 3)
    out = rgb2ycbcr(pixel)
    assert out.dtype == np.uint8
    assert tuple(out[0, 0]) == ycbcr
    assert rgb2ycbcr(pixel, y_only=True)[0, 0] == ycbcr[0]


def test_float_input_gives_float_output_in_unit_range(rgb_float):
    out = rgb2ycbcr(rgb_float)
    assert out.dtype == np.float32
    y = 16 / 255 + rgb_float @ np.array([65.481, 128.553, 24.966]) / 255
    assert np.allclose(out[..., 0], y, atol=1e-6)
    assert np.allclose(rgb2ycbcr(rgb_float, y_only=True), y, atol=1e-6)


def test_bgr_versions_equal_rgb_versions_on_flipped_channels(rgb_float):
    bgr = rgb_float[..., ::-1].copy()
    assert np.allclose(bgr2ycbcr(bgr), rgb2ycbcr(rgb_float), atol=1e-7)
    assert np.allclose(bgr2ycbcr(bgr, y_only=True), rgb2ycbcr(rgb_float, y_only=True), atol=1e-7)
    ycbcr = rgb2ycbcr(rgb_float)
    assert np.allclose(ycbcr2bgr(ycbcr), ycbcr2rgb(ycbcr)[..., ::-1], atol=1e-7)


def test_float_round_trip_recovers_the_image(rgb_float):
    assert np.allclose(ycbcr2rgb(rgb2ycbcr(rgb_float)), rgb_float, atol=1e-4)
    bgr = rgb_float[..., ::-1].copy()
    assert np.allclose(ycbcr2bgr(bgr2ycbcr(bgr)), bgr, atol=1e-4)


def test_uint8_round_trip_is_within_rounding_error_and_saturates():
    rgb = np.random.default_rng(1).integers(0, 256, (6, 6, 3), dtype=np.uint8)
    restored = ycbcr2rgb(rgb2ycbcr(rgb))
    assert restored.dtype == np.uint8
    assert np.abs(restored.astype(int) - rgb.astype(int)).max() <= 2


def test_out_of_gamut_uint8_values_saturate_instead_of_wrapping():
    ycbcr = np.array([[[255, 128, 255], [0, 128, 0]]], dtype=np.uint8)
    rgb = ycbcr2rgb(ycbcr)
    assert rgb[0, 0, 0] == 255 and rgb[0, 1, 0] == 0


def test_unsupported_dtype_is_rejected():
    with pytest.raises(TypeError, match='float32'):
        rgb2ycbcr(np.zeros((2, 2, 3), dtype=np.float64))


def test_torch_version_equals_numpy_version(rgb_float):
    tensor = torch.from_numpy(rgb_float).permute(2, 0, 1)[None]
    full = rgb2ycbcr_pt(tensor)
    y_only = rgb2ycbcr_pt(tensor, y_only=True)
    assert full.shape == (1, 3, 5, 7) and y_only.shape == (1, 1, 5, 7)
    assert np.allclose(full[0].permute(1, 2, 0).numpy(), rgb2ycbcr(rgb_float), atol=1e-6)
    assert np.allclose(y_only[0, 0].numpy(), rgb2ycbcr(rgb_float, y_only=True), atol=1e-6)
