"""HaarPSI checked against piq's implementation on real photo pairs, and its defining properties."""

import cv2
import numpy as np
import pytest
import skimage.data

from basicsr.metrics import calculate_metric, metric_better
from basicsr.metrics import haarpsi as haarpsi_module
from basicsr.metrics.haarpsi import calculate_haarpsi

# piq's RGB -> YIQ rows carry one more digit than the authors' code (0.5959 vs 0.596, ...)
PIQ_YIQ = np.array([[0.299, 0.587, 0.114], [0.5959, -0.2746, -0.3213], [0.2115, -0.5227, 0.3112]])


def photo(name: str) -> np.ndarray:
    """A BGR scikit-image photo, cut to an odd size so that the subsampling pads an edge."""
    img = getattr(skimage.data, name)()
    img = np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img[..., ::-1]
    return np.ascontiguousarray(img[:201, :263])


def degraded_versions(gt: np.ndarray) -> dict[str, np.ndarray]:
    h, w = gt.shape[:2]
    small = cv2.resize(gt, (w // 4, h // 4), interpolation=cv2.INTER_AREA)
    _, jpeg = cv2.imencode('.jpg', gt, [cv2.IMWRITE_JPEG_QUALITY, 20])
    noise = np.random.default_rng(0).normal(0, 10, gt.shape)
    return {
        'blur': cv2.GaussianBlur(gt, (0, 0), 1.5),
        'bicubic_x4': cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC),
        'jpeg_q20': cv2.imdecode(jpeg, cv2.IMREAD_COLOR),
        'noise': np.clip(gt + noise, 0, 255).astype(np.uint8),
    }


def piq_haarpsi(img: np.ndarray, ref: np.ndarray) -> float:
    """piq's HaarPSI in float64 on BGR (h, w, 3) or grey (h, w, 1) uint8 images."""
    piq = pytest.importorskip('piq', reason='piq is the reference implementation (pip install -e .[dev])')
    import torch

    def tensor(x: np.ndarray) -> torch.Tensor:
        x = x[..., ::-1] if x.shape[2] == 3 else x
        return torch.from_numpy(np.ascontiguousarray(x)).permute(2, 0, 1)[None].double() / 255.0

    return piq.haarpsi(tensor(img), tensor(ref), data_range=1.0).item()


PAIRS = [
    (name, kind) for name in ('chelsea', 'coffee', 'camera') for kind in ('blur', 'bicubic_x4', 'jpeg_q20', 'noise')
]


@pytest.mark.parametrize('name, kind', PAIRS)
def test_haarpsi_matches_piq_on_photo_pairs(name, kind, monkeypatch):
    gt = photo(name)
    img = degraded_versions(gt)[kind]
    grey, grey_gt = (cv2.cvtColor(x, cv2.COLOR_BGR2GRAY)[..., None] for x in (img, gt))
    assert calculate_haarpsi(grey, grey_gt) == pytest.approx(piq_haarpsi(grey, grey_gt), abs=1e-10)
    # colour: the authors' YIQ rows move the score by at most 1.1e-4 (coffee, JPEG q20); with piq's rows, exactly
    assert calculate_haarpsi(img, gt) == pytest.approx(piq_haarpsi(img, gt), abs=2e-4)
    monkeypatch.setattr(haarpsi_module, '_YIQ', PIQ_YIQ)
    assert calculate_haarpsi(img, gt) == pytest.approx(piq_haarpsi(img, gt), abs=1e-10)


def test_haarpsi_is_one_for_identical_images_and_falls_with_stronger_blur():
    gt = photo('coffee')
    scores = [calculate_haarpsi(cv2.GaussianBlur(gt, (0, 0), sigma), gt) for sigma in (0.5, 1.0, 2.0, 4.0)]
    assert calculate_haarpsi(gt, gt) == pytest.approx(1.0, abs=1e-12)
    assert all(a > b for a, b in zip(scores, scores[1:])) and 0 < scores[-1] < 1


def test_haarpsi_is_a_registered_higher_is_better_metric_with_border_crop_and_luminance_option():
    gt = photo('chelsea')
    img = degraded_versions(gt)['jpeg_q20']
    opt = {'type': 'calculate_haarpsi', 'crop_border': 4}
    assert metric_better(opt) == 'higher'
    assert calculate_metric({'img': img, 'img2': gt}, opt) == calculate_haarpsi(img[4:-4, 4:-4], gt[4:-4, 4:-4])
    grey = [cv2.cvtColor(x, cv2.COLOR_BGR2GRAY)[..., None] for x in (img, gt)]
    assert calculate_haarpsi(img, gt, test_y_channel=True) == pytest.approx(calculate_haarpsi(*grey), abs=2e-3)
    with pytest.raises(ValueError, match='at least 16 px'):
        calculate_haarpsi(gt[:20, :20], gt[:20, :20], crop_border=4)
