"""Losses, discovered from `*_loss.py` files and built by name from options."""

import os

from torch import nn

from basicsr.losses.gan_loss import g_path_regularize, gradient_penalty_loss, r1_penalty
from basicsr.utils.registry import LOSS_REGISTRY, build_from_options, import_modules_by_suffix

__all__ = ['build_loss', 'gradient_penalty_loss', 'r1_penalty', 'g_path_regularize']

_loss_modules = import_modules_by_suffix(__name__, os.path.dirname(os.path.abspath(__file__)), '_loss')


def build_loss(opt: dict) -> nn.Module:
    """Build the loss named by `opt['type']` with the remaining keys as constructor arguments."""
    return build_from_options(LOSS_REGISTRY, opt, 'Loss')
