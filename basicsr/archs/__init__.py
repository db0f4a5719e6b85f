"""Networks, discovered from `*_arch.py` files and built by name from options."""

import os

from torch import nn

from basicsr.utils.registry import ARCH_REGISTRY, build_from_options, import_modules_by_suffix

__all__ = ['build_network']

_arch_modules = import_modules_by_suffix(__name__, os.path.dirname(os.path.abspath(__file__)), '_arch')


def build_network(opt: dict) -> nn.Module:
    """Build the network named by `opt['type']` with the remaining keys as constructor arguments."""
    return build_from_options(ARCH_REGISTRY, opt, 'Network')
