import numpy as np
import pytest
import torch
from skimage import data

from basicsr.metrics import lpips_metric
from basicsr.metrics.lpips_metric import calculate_lpips, get_lpips_model


@pytest.fixture(scope='module')
def photo_bgr():
    return np.ascontiguousarray(data.chelsea()[:64, :64, ::-1])


@pytest.fixture(scope='module')
def random_alex():
    """One random-backbone AlexNet LPIPS for the whole module (building one takes seconds)."""
    torch.manual_seed(0)
    return get_lpips_model('alex', 'cpu', pretrained_backbone=False)


def _noisy(img, sigma, seed=0):
    noise = np.random.default_rng(seed).normal(0, sigma, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def _lpips(img, img2, **kwargs):
    return calculate_lpips(img, img2, pretrained_backbone=False, device='cpu', **kwargs)


def test_lpips_is_zero_for_identical_images(random_alex, photo_bgr):
    assert _lpips(photo_bgr, photo_bgr.copy()) == pytest.approx(0.0, abs=1e-7)


def test_lpips_grows_with_noise_strength(random_alex, photo_bgr):
    scores = [_lpips(photo_bgr, _noisy(photo_bgr, sigma)) for sigma in (5, 20, 60)]
    assert 0 < scores[0] < scores[1] < scores[2]


def test_lpips_network_is_built_once_per_backbone_and_device(random_alex, photo_bgr):
    _lpips(photo_bgr, _noisy(photo_bgr, 10), crop_border=4, better='lower')
    assert get_lpips_model('alex', 'cpu', pretrained_backbone=False) is random_alex


def test_lpips_feeds_the_network_rgb_in_minus_one_to_one(random_alex, photo_bgr):
    noisy = _noisy(photo_bgr, 20)
    rgb = torch.from_numpy(photo_bgr[..., ::-1].copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    rgb2 = torch.from_numpy(noisy[..., ::-1].copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    with torch.no_grad():
        expected = random_alex(rgb, rgb2).item()
    assert _lpips(photo_bgr, noisy) == pytest.approx(expected, rel=1e-5)
    swapped = _lpips(photo_bgr[..., ::-1].copy(), noisy[..., ::-1].copy(), channel_order='RGB')
    assert swapped == pytest.approx(expected, rel=1e-5)


def test_lpips_crop_border_and_float_input_match_cropped_uint8(random_alex, photo_bgr):
    noisy = _noisy(photo_bgr, 20)
    cropped = _lpips(photo_bgr[4:-4, 4:-4], noisy[4:-4, 4:-4])
    assert _lpips(photo_bgr.astype(np.float32), noisy.astype(np.float64), crop_border=4) == pytest.approx(cropped)


def test_lpips_backbone_weights_come_from_the_given_file(tmp_path, random_alex, monkeypatch):
    monkeypatch.setattr(lpips_metric, '_LPIPS_CACHE', {})
    generator = torch.Generator().manual_seed(1)
    state = {}
    for key, value in random_alex.net.state_dict().items():
        slice_name, index, param = key.split('.')
        state[f'features.{index}.{param}'] = torch.randn(value.shape, generator=generator)
    path = tmp_path / 'alexnet-owt-7be5be79.pth'
    torch.save(state, path)
    model = get_lpips_model('alex', 'cpu', backbone_weights_path=str(path))
    for key, value in model.net.state_dict().items():
        _, index, param = key.split('.')
        assert torch.equal(value, state[f'features.{index}.{param}'])


def test_missing_backbone_weights_raise_instead_of_downloading(tmp_path, monkeypatch, photo_bgr):
    monkeypatch.setattr(lpips_metric, '_LPIPS_CACHE', {})
    monkeypatch.setenv('BASICSR_WEIGHTS_DIR', str(tmp_path))
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match='alexnet-owt-7be5be79.pth'):
        calculate_lpips(photo_bgr, photo_bgr, device='cpu')


def test_lpips_rejects_unknown_backbone_and_channel_order(photo_bgr):
    with pytest.raises(ValueError, match='squeeze'):
        get_lpips_model('squeeze', 'cpu', pretrained_backbone=False)
    with pytest.raises(ValueError, match='channel_order'):
        _lpips(photo_bgr, photo_bgr, channel_order='GBR')
