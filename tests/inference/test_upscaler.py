"""Inference building blocks: seam-free tiling, colour correction, and image files with alpha, 16 bits and gray."""

import cv2
import numpy as np
import pytest
import torch

from basicsr.archs.rrdbnet_arch import RRDBNet
from basicsr.archs.srvgg_arch import SRVGGNetCompact
from basicsr.inference.upscaler import (
    LoadedImage,
    Upscaler,
    color_correction,
    output_extension,
    read_image,
    tiled_forward,
    to_file_array,
    write_image,
)
from basicsr.utils.img_util import ImageDecodeError
from basicsr.utils.misc import list_images


def tiny_srvgg(upscale: int = 2) -> SRVGGNetCompact:
    torch.manual_seed(0)
    return SRVGGNetCompact(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2, upscale=upscale).eval()


def smooth_image(height: int, width: int, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    small = rng.random((max(height // 4, 2), max(width // 4, 2), 3)).astype(np.float32)
    img = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC).clip(0, 1)
    return torch.from_numpy(img.transpose(2, 0, 1)).unsqueeze(0)


def test_tiled_output_equals_whole_image_output_when_pad_covers_receptive_field():
    net = tiny_srvgg()
    lq = smooth_image(37, 29)  # sizes that are not multiples of the tile
    with torch.no_grad():
        whole = net(lq)
    tiled = tiled_forward(net, lq, scale=2, tile=8, tile_pad=5)  # 4 stacked 3x3 convs: radius 4
    assert tiled.shape == whole.shape == (1, 3, 74, 58)
    assert (tiled - whole).abs().max().item() < 1e-4


def test_tiles_without_context_differ_from_whole_image_output():
    net = tiny_srvgg()
    lq = smooth_image(37, 29)
    with torch.no_grad():
        whole = net(lq)
    assert (tiled_forward(net, lq, scale=2, tile=8, tile_pad=0) - whole).abs().max().item() > 1e-3


def test_tiles_stay_on_the_pixel_unshuffle_grid_of_rrdbnet_x2():
    torch.manual_seed(0)
    net = RRDBNet(3, 3, scale=2, num_feat=8, num_block=1, num_grow_ch=4).eval()
    lq = smooth_image(96, 20)  # tile 15 and pad 39 would start tiles on odd rows, which pixel-unshuffle rejects
    with torch.no_grad():
        whole = net(lq)
    tiled = tiled_forward(net, lq, scale=2, tile=15, tile_pad=39, alignment=net.unshuffle_factor)
    assert (tiled - whole).abs().max().item() < 1e-4


def test_upscaler_pads_odd_sizes_for_pixel_unshuffle_and_crops_back():
    torch.manual_seed(0)
    net = RRDBNet(3, 3, scale=2, num_feat=8, num_block=1, num_grow_ch=4)
    out = Upscaler(net, scale=2, device='cpu').upscale_array(np.full((15, 13, 3), 0.5, np.float32))
    assert out.shape == (30, 26, 3)


def test_color_correction_gives_each_channel_the_input_mean_and_std():
    torch.manual_seed(0)
    output = torch.rand(2, 3, 32, 24) * 0.5 + 0.3
    lq = torch.rand(2, 3, 8, 6) * torch.tensor([0.2, 0.6, 1.0]).view(1, 3, 1, 1)
    corrected = color_correction(output, lq)
    assert torch.allclose(corrected.mean(dim=(2, 3)), lq.mean(dim=(2, 3)), atol=1e-5)
    assert torch.allclose(corrected.std(dim=(2, 3), unbiased=False), lq.std(dim=(2, 3), unbiased=False), atol=1e-5)


def test_color_correction_is_the_per_channel_affine_transfer():
    rng = np.random.default_rng(1)
    out, lr = rng.random((16, 16)), rng.random((4, 4)) * 0.3 + 0.2
    expected = (out - out.mean()) / out.std() * lr.std() + lr.mean()
    got = color_correction(torch.from_numpy(out)[None, None], torch.from_numpy(lr)[None, None])[0, 0].numpy()
    np.testing.assert_allclose(got, expected, atol=1e-9)


def test_upscaler_color_correction_moves_output_statistics_to_the_input():
    lq = np.stack([np.full((12, 12), v, np.float32) for v in (0.2, 0.5, 0.7)], axis=2)
    lq += np.random.default_rng(0).normal(0, 0.05, lq.shape).astype(np.float32)
    out = Upscaler(tiny_srvgg(), scale=2, device='cpu', color_correct=True).upscale_array(lq)
    np.testing.assert_allclose(out.mean(axis=(0, 1)), lq.mean(axis=(0, 1)), atol=2e-3)


def test_sixteen_bit_bgra_png_round_trips_exactly(tmp_path):
    rng = np.random.default_rng(0)
    original = rng.integers(0, 65536, (9, 7, 4), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / 'a.png'), original)
    image = read_image(str(tmp_path / 'a.png'))
    assert image.bit_depth == 16 and image.alpha is not None and not image.gray
    np.testing.assert_array_equal(to_file_array(image), original)


def test_gray_image_is_fed_as_three_channels_and_written_back_gray(tmp_path):
    original = np.arange(60, dtype=np.uint8).reshape(6, 10) * 4
    cv2.imwrite(str(tmp_path / 'g.png'), original)
    image = read_image(str(tmp_path / 'g.png'))
    assert image.gray and image.rgb.shape == (6, 10, 3)
    np.testing.assert_array_equal(to_file_array(image), original)


def test_upscaler_keeps_alpha_bit_depth_and_grayness(tmp_path):
    rng = np.random.default_rng(0)
    cv2.imwrite(str(tmp_path / 'rgba16.png'), rng.integers(0, 65536, (10, 8, 4), dtype=np.uint16))
    cv2.imwrite(str(tmp_path / 'gray.png'), rng.integers(0, 256, (10, 8), dtype=np.uint8))
    upscaler = Upscaler(tiny_srvgg(), scale=2, device='cpu', tile=4, tile_pad=5)
    for name, channels, dtype in (('rgba16.png', 4, np.uint16), ('gray.png', None, np.uint8)):
        write_image(str(tmp_path / f'out_{name}'), upscaler.upscale(read_image(str(tmp_path / name))))
        written = cv2.imread(str(tmp_path / f'out_{name}'), cv2.IMREAD_UNCHANGED)
        assert written.dtype == dtype and written.shape[:2] == (20, 16)
        assert (written.shape[2] if written.ndim == 3 else None) == channels


def test_alpha_upscaled_by_the_model_is_the_network_output_on_the_alpha_plane():
    net = tiny_srvgg()
    alpha = np.random.default_rng(0).random((8, 6)).astype(np.float32)
    image = LoadedImage(np.full((8, 6, 3), 0.5, np.float32), alpha)
    out = Upscaler(net, scale=2, device='cpu', alpha_upsampler='model').upscale(image)
    with torch.no_grad():
        expected = net(torch.from_numpy(alpha)[None, None].repeat(1, 3, 1, 1)).clamp(0, 1).mean(dim=1)[0].numpy()
    np.testing.assert_allclose(out.alpha, expected, atol=1e-6)


def test_undecodable_file_is_named(tmp_path):
    (tmp_path / 'broken.png').write_bytes(b'not an image')
    with pytest.raises(ImageDecodeError, match='broken.png'):
        read_image(str(tmp_path / 'broken.png'))


def test_folder_without_images_is_an_error_naming_it(tmp_path):
    (tmp_path / 'notes.txt').write_text('x')
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        list_images(str(tmp_path))


def test_auto_extension_switches_to_png_only_when_jpeg_cannot_hold_the_image():
    plain = LoadedImage(np.zeros((2, 2, 3), np.float32))
    with_alpha = LoadedImage(np.zeros((2, 2, 3), np.float32), np.ones((2, 2), np.float32))
    assert output_extension('a.jpg', plain) == '.jpg'
    assert output_extension('a.jpg', with_alpha) == '.png'
    assert output_extension('a.tif', LoadedImage(np.zeros((2, 2, 3), np.float32), bit_depth=16)) == '.tif'
    assert output_extension('a.png', plain, 'jpg') == '.jpg'


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU refusal of reduced precision')
def test_reduced_precision_on_cpu_is_refused():
    with pytest.raises(ValueError, match='CUDA'):
        Upscaler(tiny_srvgg(), scale=2, device='cpu', precision='fp16')


@pytest.mark.skipif(not torch.cuda.is_available(), reason='fp16/bf16 inference needs CUDA')
@pytest.mark.parametrize('precision', ['fp16', 'bf16'])
def test_reduced_precision_on_cuda_stays_close_to_fp32(precision):
    lq = smooth_image(24, 20)[0].numpy().transpose(1, 2, 0)
    reference = Upscaler(tiny_srvgg(), scale=2, device='cuda').upscale_array(lq)
    reduced = Upscaler(tiny_srvgg(), scale=2, device='cuda', precision=precision, tile=8).upscale_array(lq)
    assert np.abs(reduced - reference).max() < 0.05
