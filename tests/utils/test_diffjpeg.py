import cv2
import numpy as np
import pytest
import torch

from basicsr.utils.diffjpeg import DiffJPEG, diff_round, quality_to_factor


def _smooth_batch(b: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    """Natural-ish content: blurred noise plus gradients, RGB in [0, 1]."""
    rng = np.random.default_rng(seed)
    imgs = []
    for _ in range(b):
        noise = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 2)
        ramp = np.linspace(0, 1, w, dtype=np.float32)[None, :, None]
        imgs.append(np.clip(0.5 * noise + 0.5 * ramp, 0, 1))
    return torch.from_numpy(np.stack(imgs).transpose(0, 3, 1, 2).copy())


def _cv2_jpeg_rgb(img: torch.Tensor, quality: int) -> torch.Tensor:
    bgr = (img.numpy().transpose(1, 2, 0)[..., ::-1] * 255).round().astype(np.uint8)
    _, enc = cv2.imencode('.jpg', bgr, [int(cv2.IMWRITE_JPEG_QUALITY), quality])
    dec = cv2.imdecode(enc, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32) / 255
    return torch.from_numpy(dec.transpose(2, 0, 1).copy())


def test_quality_to_factor_follows_the_ijg_scaling():
    assert quality_to_factor(10) == pytest.approx(5.0)
    assert quality_to_factor(25) == pytest.approx(2.0)
    assert quality_to_factor(50) == pytest.approx(1.0)
    assert quality_to_factor(90) == pytest.approx(0.2)


def test_diff_round_equals_round_and_has_gradient():
    x = torch.tensor([0.2, 1.4, -2.6, 3.5], requires_grad=True)
    y = diff_round(x)
    torch.testing.assert_close(y.detach().round(), torch.round(x.detach()))
    y.sum().backward()
    assert torch.all(x.grad > 0)


def test_high_quality_round_trip_is_nearly_lossless_and_error_grows_as_quality_drops():
    imgs = _smooth_batch(2, 48, 64)
    jpeger = DiffJPEG(differentiable=False)
    errors = [float((jpeger(imgs, quality=q) - imgs).abs().mean()) for q in (95, 70, 40, 10)]
    assert errors[0] < 0.01
    assert errors == sorted(errors)


def test_output_keeps_shape_and_range_for_sizes_not_divisible_by_16():
    imgs = _smooth_batch(3, 37, 50)
    out = DiffJPEG(differentiable=False)(imgs, quality=30)
    assert out.shape == imgs.shape
    assert float(out.min()) >= 0 and float(out.max()) <= 1


def test_per_sample_quality_equals_separate_calls_and_leaves_quality_tensor_unchanged():
    imgs = _smooth_batch(3, 32, 48)
    quality = torch.tensor([20.0, 55.5, 90.0])
    jpeger = DiffJPEG(differentiable=False)
    batched = jpeger(imgs, quality=quality)
    torch.testing.assert_close(quality, torch.tensor([20.0, 55.5, 90.0]))
    for i in range(3):
        single = jpeger(imgs[i : i + 1], quality=quality[i : i + 1])
        torch.testing.assert_close(batched[i : i + 1], single)


def test_result_is_close_to_opencv_jpeg():
    imgs = _smooth_batch(1, 64, 64, seed=3)
    ours = DiffJPEG(differentiable=False)(imgs, quality=20)[0]
    reference = _cv2_jpeg_rgb(imgs[0], 20)
    # libjpeg upsamples chroma smoothly and rounds in integers, so the two differ slightly, but by much less than
    # either differs from the uncompressed image
    assert float((ours - reference).abs().mean()) < 0.5 * float((imgs[0] - reference).abs().mean())


def test_differentiable_mode_passes_gradients_to_the_input():
    imgs = _smooth_batch(1, 16, 16).requires_grad_(True)
    DiffJPEG(differentiable=True)(imgs, quality=50).sum().backward()
    assert imgs.grad is not None and float(imgs.grad.abs().sum()) > 0


def test_wrong_number_of_qualities_is_reported():
    with pytest.raises(ValueError, match='2 qualities for a batch of 3'):
        DiffJPEG()(_smooth_batch(3, 16, 16), quality=torch.tensor([10.0, 20.0]))
