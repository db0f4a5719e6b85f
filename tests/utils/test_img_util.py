import cv2
import numpy as np
import pytest
import torch

from basicsr.utils.img_util import (
    ImageDecodeError,
    crop_border,
    imfrombytes,
    img2tensor,
    imwrite,
    tensor2img,
    tensor2img_fast,
)


def _random_bgr(h=6, w=5, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _png_bytes(img):
    ok, buf = cv2.imencode('.png', img)
    assert ok
    return buf.tobytes()


def test_img2tensor_makes_rgb_chw_float_from_bgr_hwc():
    img = _random_bgr().astype(np.float32) / 255.0
    tensor = img2tensor(img)
    assert tensor.shape == (3, 6, 5) and tensor.dtype == torch.float32
    assert torch.equal(tensor[0], torch.from_numpy(img[..., 2]))
    assert torch.equal(tensor[2], torch.from_numpy(img[..., 0]))


def test_img2tensor_keeps_channel_order_and_dtype_when_asked():
    img = _random_bgr()
    tensor = img2tensor(img, bgr2rgb=False, float32=False)
    assert tensor.dtype == torch.uint8
    assert torch.equal(tensor, torch.from_numpy(img).permute(2, 0, 1))


def test_img2tensor_maps_lists_and_accepts_float64():
    imgs = [_random_bgr(seed=1).astype(np.float64) / 255.0, _random_bgr(seed=2).astype(np.float64) / 255.0]
    tensors = img2tensor(imgs)
    assert isinstance(tensors, list) and len(tensors) == 2
    assert tensors[1].dtype == torch.float32
    assert torch.allclose(tensors[1][1], torch.from_numpy(imgs[1][..., 1]).float())


def test_uint8_image_survives_img2tensor_tensor2img_round_trip():
    img = _random_bgr(8, 7, seed=3)
    tensor = img2tensor(img.astype(np.float32) / 255.0)
    assert np.array_equal(tensor2img(tensor), img)
    assert np.array_equal(tensor2img(tensor.unsqueeze(0)), img)


def test_tensor2img_maps_min_max_range_and_clamps():
    tensor = torch.tensor([[[-1.0, 0.0, 1.0, 3.0]]])
    img = tensor2img(tensor, min_max=(-1, 1))
    assert img.dtype == np.uint8
    assert img.tolist() == [[0, 128, 255, 255]]


def test_tensor2img_returns_float_without_rounding_when_asked():
    tensor = torch.rand(3, 4, 4)
    img = tensor2img(tensor, rgb2bgr=False, out_type=np.float32)
    assert img.dtype == np.float32
    assert np.allclose(img, tensor.permute(1, 2, 0).numpy())


def test_tensor2img_turns_a_batch_into_a_grid():
    batch = torch.rand(4, 3, 8, 8)
    grid = tensor2img(batch)
    padding = 2
    side = 2 * (8 + padding) + padding
    assert grid.shape == (side, side, 3)
    assert np.array_equal(grid[padding : padding + 8, padding : padding + 8], tensor2img(batch[0]))


def test_tensor2img_lists_and_gray_images():
    out = tensor2img([torch.rand(1, 5, 4), torch.rand(5, 4)])
    assert [o.shape for o in out] == [(5, 4), (5, 4)]


def test_tensor2img_rejects_non_tensors():
    with pytest.raises(TypeError, match='tensor'):
        tensor2img(np.zeros((3, 4, 4)))


def test_tensor2img_fast_truncates_and_leaves_input_untouched():
    tensor = torch.full((1, 3, 2, 2), 0.999)
    tensor[0, 0, 0, 0] = 2.0
    img = tensor2img_fast(tensor)
    assert img.dtype == np.uint8 and img.shape == (2, 2, 3)
    assert img[0, 0, 2] == 255 and img[1, 1, 0] == 254
    assert tensor[0, 0, 0, 0] == 2.0


def test_imfrombytes_decodes_color_gray_and_float():
    img = _random_bgr()
    content = _png_bytes(img)
    assert np.array_equal(imfrombytes(content), img)
    assert imfrombytes(content, flag='grayscale').shape == (6, 5)
    as_float = imfrombytes(content, float32=True)
    assert as_float.dtype == np.float32 and np.allclose(as_float * 255.0, img)


def test_imfrombytes_keeps_16_bit_png_with_unchanged_flag():
    img16 = np.random.default_rng(4).integers(0, 65536, (4, 4, 3), dtype=np.uint16)
    content = _png_bytes(img16)
    decoded = imfrombytes(content, flag='unchanged')
    assert decoded.dtype == np.uint16 and np.array_equal(decoded, img16)
    as_float = imfrombytes(content, flag='unchanged', float32=True)
    assert as_float.max() <= 1.0 and np.allclose(as_float * 65535.0, img16)


def test_imfrombytes_raises_a_clear_error_for_garbage_and_empty_content():
    with pytest.raises(ImageDecodeError, match='decodable'):
        imfrombytes(b'definitely not an image')
    with pytest.raises(ImageDecodeError, match='empty'):
        imfrombytes(b'')
    with pytest.raises(ValueError, match='flag'):
        imfrombytes(_png_bytes(_random_bgr()), flag='colour')


def test_imwrite_creates_missing_folders_and_round_trips(tmp_path):
    img = _random_bgr()
    path = tmp_path / 'a' / 'b' / 'img.png'
    imwrite(img, str(path))
    assert np.array_equal(cv2.imread(str(path)), img)


def test_imwrite_raises_ioerror_naming_the_path(tmp_path):
    bad_path = str(tmp_path / 'img.unknown_ext')
    with pytest.raises(IOError, match='img.unknown_ext'):
        imwrite(_random_bgr(), bad_path)


def test_crop_border_removes_pixels_on_every_side():
    img = np.arange(36).reshape(6, 6)
    assert np.array_equal(crop_border(img, 2), img[2:4, 2:4])
    cropped = crop_border([img, img + 1], 1)
    assert [c.shape for c in cropped] == [(4, 4), (4, 4)]
    assert crop_border(img, 0) is img
