"""Pixel losses (L1, MSE, Charbonnier, total variation, Haar-wavelet L1) and the VGG perceptual/style loss."""

from typing import Callable, Optional

import torch
from torch import nn
from torch.nn import functional as F

from basicsr.archs.vgg_arch import VGGFeatureExtractor
from basicsr.losses.loss_util import check_reduction, fp32_loss, weighted_loss
from basicsr.utils.registry import LOSS_REGISTRY

FeatureDict = dict[str, torch.Tensor]


@weighted_loss
def l1_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.l1_loss(pred, target, reduction='none')


@weighted_loss
def mse_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(pred, target, reduction='none')


@weighted_loss
def charbonnier_loss(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    return torch.sqrt((pred - target) ** 2 + eps)


class _ElementwiseLoss(nn.Module):
    """loss_weight * reduce(weight * f(pred, target)); subclasses set the element-wise f as `elementwise`."""

    elementwise: Callable[..., torch.Tensor]

    def __init__(self, loss_weight: float = 1.0, reduction: str = 'mean') -> None:
        super().__init__()
        check_reduction(reduction)
        self.loss_weight = loss_weight
        self.reduction = reduction

    @fp32_loss
    def forward(
        self, pred: torch.Tensor, target: torch.Tensor, weight: Optional[torch.Tensor] = None, **kwargs
    ) -> torch.Tensor:
        return self.loss_weight * self.elementwise(pred, target, weight, reduction=self.reduction)


@LOSS_REGISTRY.register()
class L1Loss(_ElementwiseLoss):
    """Mean absolute error, optionally weighted per element; the usual SR fidelity loss."""

    elementwise = staticmethod(l1_loss)


@LOSS_REGISTRY.register()
class MSELoss(_ElementwiseLoss):
    """Mean squared error, optionally weighted per element."""

    elementwise = staticmethod(mse_loss)


@LOSS_REGISTRY.register()
class CharbonnierLoss(_ElementwiseLoss):
    """sqrt((pred - target)^2 + eps): a differentiable L1 (Lai et al., "Deep Laplacian Pyramid Networks", 2017)."""

    def __init__(self, loss_weight: float = 1.0, reduction: str = 'mean', eps: float = 1e-12) -> None:
        super().__init__(loss_weight, reduction)
        self.eps = eps

    def elementwise(
        self, pred: torch.Tensor, target: torch.Tensor, weight: Optional[torch.Tensor], reduction: str
    ) -> torch.Tensor:
        return charbonnier_loss(pred, target, weight, eps=self.eps, reduction=reduction)


@LOSS_REGISTRY.register()
class WeightedTVLoss(nn.Module):
    """Total variation: L1 between vertical and between horizontal neighbours, each optionally weighted."""

    def __init__(self, loss_weight: float = 1.0, reduction: str = 'mean') -> None:
        super().__init__()
        check_reduction(reduction, ('mean', 'sum'))
        self.loss_weight = loss_weight
        self.reduction = reduction

    @fp32_loss
    def forward(self, pred: torch.Tensor, weight: Optional[torch.Tensor] = None) -> torch.Tensor:
        vertical_weight = None if weight is None else weight[:, :, :-1, :]
        horizontal_weight = None if weight is None else weight[:, :, :, :-1]
        vertical = l1_loss(pred[:, :, :-1, :], pred[:, :, 1:, :], vertical_weight, reduction=self.reduction)
        horizontal = l1_loss(pred[:, :, :, :-1], pred[:, :, :, 1:], horizontal_weight, reduction=self.reduction)
        return self.loss_weight * (vertical + horizontal)


def haar_wavelet_split(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One-level orthonormal 2-D Haar transform of (n, c, h, w), grouped into (low, middle, high) bands as in PDD.

    Each 2x2 block (a b / c d) gives LL = (a+b+c+d)/2, HL = (-a+b-c+d)/2 (left-right change), LH = (-a-b+c+d)/2
    (top-bottom change) and HH = (a-b-c+d)/2 (diagonal). low = LL (n, c, h/2, w/2); middle = [HL, LH] concatenated
    along channels (n, 2c, h/2, w/2); high = HH (n, c, h/2, w/2). This is the grouping and the 1/2 normalisation of
    the PDD authors' `DWT_Haar_split`.
    """
    height, width = x.shape[-2:]
    if height % 2 or width % 2:
        raise ValueError(
            f'The Haar wavelet split needs even height and width, got {height}x{width}; crop the images to even sizes.'
        )
    top_left = x[:, :, 0::2, 0::2] / 2
    top_right = x[:, :, 0::2, 1::2] / 2
    bottom_left = x[:, :, 1::2, 0::2] / 2
    bottom_right = x[:, :, 1::2, 1::2] / 2
    low = top_left + top_right + bottom_left + bottom_right
    horizontal_detail = -top_left + top_right - bottom_left + bottom_right
    vertical_detail = -top_left - top_right + bottom_left + bottom_right
    high = top_left - top_right - bottom_left + bottom_right
    return low, torch.cat([horizontal_detail, vertical_detail], dim=1), high


@LOSS_REGISTRY.register()
class WeightedWvtLoss(nn.Module):
    """L1 loss per Haar wavelet band, weighted low/middle/high: the PDD authors' pixel loss (Zhang et al., ECCV 2024).

    loss = loss_weight * (w_low * L1(LL) + w_mid * L1([HL, LH]) + w_high * L1(HH)), see `haar_wavelet_split`; each
    band's L1 is reduced on its own ('mean' averages over that band's elements). The PDD configs set
    `weights: [1, 0.1, 0.01]`; the default is the authors' class default. 'none' is not supported because the bands
    have different shapes.
    """

    def __init__(
        self, loss_weight: float = 1.0, reduction: str = 'mean', weights: tuple[float, float, float] = (1.0, 0.5, 0.1)
    ) -> None:
        super().__init__()
        check_reduction(reduction, ('mean', 'sum'))
        if len(weights) != 3:
            raise ValueError(f'WeightedWvtLoss needs 3 band weights [low, middle, high], got {list(weights)}.')
        self.loss_weight = loss_weight
        self.reduction = reduction
        self.weights = [float(w) for w in weights]

    @fp32_loss
    def forward(self, pred: torch.Tensor, target: torch.Tensor, **kwargs) -> torch.Tensor:
        band_losses = [
            l1_loss(p, t, reduction=self.reduction)
            for p, t in zip(haar_wavelet_split(pred), haar_wavelet_split(target))
        ]
        return self.loss_weight * sum(w * band for w, band in zip(self.weights, band_losses))


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Gram matrix of (n, c, h, w) features, (n, c, c), normalised by c*h*w as in BasicSR's style loss.

    Channels-last features are read as (n, h*w, c) views, so neither they nor their gradient are copied to NCHW.
    """
    n, c, h, w = features.shape
    if features.is_contiguous(memory_format=torch.channels_last):
        pixels = features.permute(0, 2, 3, 1).reshape(n, h * w, c)
        return pixels.transpose(1, 2).bmm(pixels) / (c * h * w)
    flat = features.reshape(n, c, h * w)
    return flat.bmm(flat.transpose(1, 2)) / (c * h * w)


def _frobenius_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm(a - b)


_CRITERIA = {'l1': F.l1_loss, 'l2': F.mse_loss, 'fro': _frobenius_distance}


@LOSS_REGISTRY.register()
class PerceptualLoss(nn.Module):
    """VGG feature loss (Johnson et al., 2016) with an optional Gram-matrix style loss (Gatys et al., 2016).

    `layer_weights` maps VGG layer names (e.g. 'conv5_4', taken before its ReLU) to weights. `criterion` is 'l1'
    (mean absolute), 'l2' (mean squared; BasicSR 1.4's 'l2' crashes, ours works) or 'fro' (Frobenius norm of the
    difference over the whole batch). `pretrained` and `vgg_weights_path` go to the VGG: ImageNet weights come from
    a local file, never a download. Returns (perceptual, style), None for a term whose weight is 0.
    """

    def __init__(
        self,
        layer_weights: dict[str, float],
        vgg_type: str = 'vgg19',
        use_input_norm: bool = True,
        range_norm: bool = False,
        perceptual_weight: float = 1.0,
        style_weight: float = 0.0,
        criterion: str = 'l1',
        pretrained: bool = True,
        vgg_weights_path: Optional[str] = None,
    ) -> None:
        super().__init__()
        if criterion not in _CRITERIA:
            raise ValueError(
                f"PerceptualLoss criterion '{criterion}' is not supported; use one of: {', '.join(_CRITERIA)}."
            )
        self.layer_weights = dict(layer_weights)
        self.perceptual_weight = perceptual_weight
        self.style_weight = style_weight
        self.criterion_type = criterion
        self.criterion = _CRITERIA[criterion]
        self.vgg = VGGFeatureExtractor(
            layer_name_list=list(self.layer_weights),
            vgg_type=vgg_type,
            use_input_norm=use_input_norm,
            range_norm=range_norm,
            pretrained=pretrained,
            weights_path=vgg_weights_path,
        )

    def forward(self, x: torch.Tensor, gt: torch.Tensor) -> tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
        return self.forward_features(self.vgg(x), self.vgg(gt.detach()))

    @fp32_loss
    def forward_features(
        self, x_features: FeatureDict, gt_features: FeatureDict
    ) -> tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
        """The losses from precomputed VGG features, so a model can share one batched VGG pass.

        Both dicts must hold every layer of `layer_weights`; extra layers are ignored.
        """
        missing = [k for k in self.layer_weights if k not in x_features or k not in gt_features]
        if missing:
            raise KeyError(
                f'PerceptualLoss needs VGG features for layers {missing}; '
                f'got {sorted(x_features)} and {sorted(gt_features)}.'
            )
        percep_loss = None
        if self.perceptual_weight > 0:
            percep_loss = self.perceptual_weight * sum(
                weight * self.criterion(x_features[k], gt_features[k]) for k, weight in self.layer_weights.items()
            )
        style_loss = None
        if self.style_weight > 0:
            style_loss = self.style_weight * sum(
                weight * self.criterion(gram_matrix(x_features[k]), gram_matrix(gt_features[k]))
                for k, weight in self.layer_weights.items()
            )
        return percep_loss, style_loss
