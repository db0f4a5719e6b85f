import math

import pytest
import torch

from basicsr.archs.vgg_arch import VGGFeatureExtractor
from basicsr.losses.basic_loss import (
    CharbonnierLoss,
    L1Loss,
    MSELoss,
    PerceptualLoss,
    WeightedTVLoss,
    WeightedWvtLoss,
    gram_matrix,
    haar_wavelet_split,
)


@pytest.fixture
def pair():
    generator = torch.Generator().manual_seed(0)
    pred = torch.rand(2, 3, 4, 4, generator=generator)
    target = torch.rand(2, 3, 4, 4, generator=generator)
    weight = (torch.rand(2, 1, 4, 4, generator=generator) > 0.5).float()
    return pred, target, weight


def test_l1_loss_is_weighted_mean_absolute_error(pair):
    pred, target, weight = pair
    diff = (pred - target).abs()
    assert torch.allclose(L1Loss(loss_weight=0.5)(pred, target), 0.5 * diff.mean())
    assert torch.allclose(L1Loss(reduction='sum')(pred, target), diff.sum())
    assert torch.allclose(L1Loss(reduction='none')(pred, target), diff)
    assert torch.allclose(L1Loss()(pred, target, weight), (diff * weight).sum() / (weight.sum() * 3))


def test_mse_loss_is_weighted_mean_squared_error(pair):
    pred, target, weight = pair
    squared = (pred - target) ** 2
    assert torch.allclose(MSELoss(loss_weight=2.0)(pred, target), 2.0 * squared.mean())
    assert torch.allclose(MSELoss(reduction='sum')(pred, target, weight), (squared * weight).sum())


def test_charbonnier_loss_is_smoothed_absolute_error(pair):
    pred, target, weight = pair
    eps = 1e-3
    expected = torch.sqrt((pred - target) ** 2 + eps)
    assert torch.allclose(CharbonnierLoss(eps=eps)(pred, target), expected.mean())
    assert torch.allclose(CharbonnierLoss(eps=eps, reduction='none')(pred, target, weight), expected * weight)


def test_pixel_losses_reject_unknown_reduction():
    with pytest.raises(ValueError, match='reduction'):
        L1Loss(reduction='avg')


def test_tv_loss_sums_mean_vertical_and_horizontal_differences():
    image = torch.tensor([[[[0.0, 1.0, 3.0], [2.0, 2.0, 2.0]]]])
    vertical = torch.tensor([2.0, 1.0, 1.0]).mean()
    horizontal = torch.tensor([1.0, 2.0, 0.0, 0.0]).mean()
    assert torch.allclose(WeightedTVLoss(loss_weight=3.0)(image), 3.0 * (vertical + horizontal))


def test_haar_split_of_a_constant_image_has_only_low_band():
    low, middle, high = haar_wavelet_split(torch.full((1, 2, 4, 6), 3.0))
    assert low.shape == (1, 2, 2, 3) and middle.shape == (1, 4, 2, 3) and high.shape == (1, 2, 2, 3)
    assert torch.allclose(low, torch.full_like(low, 6.0))  # orthonormal: (4 * 3) / 2
    assert middle.abs().max() == 0 and high.abs().max() == 0


def test_haar_split_of_a_checkerboard_has_only_high_band():
    rows, cols = torch.meshgrid(torch.arange(4), torch.arange(4), indexing='ij')
    checkerboard = ((-1.0) ** (rows + cols)).view(1, 1, 4, 4)
    low, middle, high = haar_wavelet_split(checkerboard)
    assert low.abs().max() == 0 and middle.abs().max() == 0
    assert torch.allclose(high, torch.full_like(high, 2.0))


def test_haar_split_middle_band_holds_horizontal_then_vertical_detail():
    columns = torch.tensor([0.0, 1.0]).repeat(2, 1).view(1, 1, 2, 2)  # changes left to right only
    _, middle, _ = haar_wavelet_split(columns)
    assert middle[0, 0].item() == pytest.approx(1.0) and middle[0, 1].item() == 0


def test_haar_split_rejects_odd_sizes():
    with pytest.raises(ValueError, match='even'):
        haar_wavelet_split(torch.zeros(1, 1, 3, 4))


def test_wavelet_loss_on_constant_offset_sees_only_the_low_band():
    target = torch.rand(1, 3, 4, 4, generator=torch.Generator().manual_seed(1))
    loss = WeightedWvtLoss(loss_weight=0.5, weights=[1, 0.1, 0.01])(target + 0.25, target)
    assert loss.item() == pytest.approx(0.5 * 1 * (2 * 0.25), rel=1e-5)


def test_wavelet_loss_on_checkerboard_sees_only_the_high_band():
    rows, cols = torch.meshgrid(torch.arange(4), torch.arange(4), indexing='ij')
    checkerboard = (0.1 * (-1.0) ** (rows + cols)).expand(1, 3, 4, 4)
    target = torch.full((1, 3, 4, 4), 0.5)
    loss = WeightedWvtLoss(loss_weight=2.0, weights=[1, 0.1, 0.01])(target + checkerboard, target)
    assert loss.item() == pytest.approx(2.0 * 0.01 * (4 * 0.1 / 2), rel=1e-5)


def test_wavelet_loss_weights_band_means_separately():
    generator = torch.Generator().manual_seed(2)
    pred, target = torch.rand(2, 3, 6, 4, generator=generator), torch.rand(2, 3, 6, 4, generator=generator)
    bands = [(p - t).abs().mean() for p, t in zip(haar_wavelet_split(pred), haar_wavelet_split(target))]
    expected = 0.5 * (1 * bands[0] + 0.1 * bands[1] + 0.01 * bands[2])
    assert torch.allclose(WeightedWvtLoss(loss_weight=0.5, weights=[1, 0.1, 0.01])(pred, target), expected)


def test_wavelet_loss_rejects_elementwise_reduction():
    with pytest.raises(ValueError, match='reduction'):
        WeightedWvtLoss(reduction='none')


def test_gram_matrix_is_normalised_by_channels_times_pixels():
    features = torch.arange(12, dtype=torch.float32).view(1, 2, 2, 3)
    flat = features.view(2, 6)
    assert torch.allclose(gram_matrix(features)[0], flat @ flat.T / 12)


LAYERS = {'conv1_2': 0.1, 'conv2_2': 1.0, 'relu3_1': 0.5}


def _random_perceptual(**kwargs):
    torch.manual_seed(0)
    loss = PerceptualLoss(LAYERS, pretrained=False, **kwargs)
    reference = VGGFeatureExtractor(list(LAYERS), pretrained=False)
    reference.load_state_dict(loss.vgg.state_dict())
    return loss, reference


def _images():
    generator = torch.Generator().manual_seed(3)
    return torch.rand(2, 3, 16, 16, generator=generator), torch.rand(2, 3, 16, 16, generator=generator)


@pytest.mark.parametrize(
    'criterion, distance',
    [
        ('l1', lambda a, b: (a - b).abs().mean()),
        ('l2', lambda a, b: ((a - b) ** 2).mean()),
        ('fro', lambda a, b: torch.sqrt(((a - b) ** 2).sum())),
    ],
)
def test_perceptual_loss_is_weighted_feature_distance(criterion, distance):
    loss, reference = _random_perceptual(perceptual_weight=2.0, criterion=criterion)
    x, gt = _images()
    fx, fgt = reference(x), reference(gt)
    expected = 2.0 * sum(w * distance(fx[k], fgt[k]) for k, w in LAYERS.items())
    percep, style = loss(x, gt)
    assert style is None
    assert torch.allclose(percep, expected, rtol=1e-5)


def test_style_loss_compares_gram_matrices():
    loss, reference = _random_perceptual(perceptual_weight=0.0, style_weight=3.0)
    x, gt = _images()
    fx, fgt = reference(x), reference(gt)
    expected = 3.0 * sum(w * (gram_matrix(fx[k]) - gram_matrix(fgt[k])).abs().mean() for k, w in LAYERS.items())
    percep, style = loss(x, gt)
    assert percep is None
    assert torch.allclose(style, expected, rtol=1e-5)


def test_perceptual_loss_from_precomputed_features_equals_forward():
    loss, reference = _random_perceptual(style_weight=1.0)
    x, gt = _images()
    extra = {'conv1_1': torch.zeros(1)}
    from_features = loss.forward_features({**reference(x), **extra}, {**reference(gt), **extra})
    direct = loss(x, gt)
    assert all(torch.allclose(a, b) for a, b in zip(from_features, direct))


def test_perceptual_loss_names_missing_feature_layers():
    loss, reference = _random_perceptual()
    features = reference(_images()[0])
    del features['conv2_2']
    with pytest.raises(KeyError, match='conv2_2'):
        loss.forward_features(features, features)


def test_perceptual_loss_gradient_reaches_the_prediction_only():
    loss, _ = _random_perceptual()
    x, gt = _images()
    x.requires_grad_(True)
    gt.requires_grad_(True)
    loss(x, gt)[0].backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert gt.grad is None


def test_perceptual_loss_rejects_unknown_criterion():
    with pytest.raises(ValueError, match='criterion'):
        PerceptualLoss(LAYERS, criterion='l3', pretrained=False)


def test_perceptual_loss_of_identical_images_is_zero():
    loss, _ = _random_perceptual(criterion='fro')
    x, _ = _images()
    assert math.isclose(loss(x, x.clone())[0].item(), 0.0, abs_tol=1e-6)
