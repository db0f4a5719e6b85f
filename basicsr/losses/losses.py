"""The older single-module layout (`basicsr.losses.losses`) that Real-ESRGAN's and the PDD authors' code import."""

from basicsr.losses.basic_loss import (
    CharbonnierLoss,
    L1Loss,
    MSELoss,
    PerceptualLoss,
    WeightedTVLoss,
    WeightedWvtLoss,
    charbonnier_loss,
    gram_matrix,
    haar_wavelet_split,
    l1_loss,
    mse_loss,
)
from basicsr.losses.distillation_loss import DistillationLoss
from basicsr.losses.gan_loss import GANLoss, MultiScaleGANLoss, g_path_regularize, gradient_penalty_loss, r1_penalty
from basicsr.losses.naive_distillation_loss import NaiveDistillationLoss

__all__ = [
    'DistillationLoss',
    'NaiveDistillationLoss',
    'CharbonnierLoss',
    'GANLoss',
    'L1Loss',
    'MSELoss',
    'MultiScaleGANLoss',
    'PerceptualLoss',
    'WeightedTVLoss',
    'WeightedWvtLoss',
    'charbonnier_loss',
    'g_path_regularize',
    'gradient_penalty_loss',
    'gram_matrix',
    'haar_wavelet_split',
    'l1_loss',
    'mse_loss',
    'r1_penalty',
]
