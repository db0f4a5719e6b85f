"""Networks, discovered from `*_arch.py` files and built by name from options."""
import copy
import os

from torch import nn

from basicsr.utils.logger import get_root_logger
from basicsr.utils.registry import ARCH_REGISTRY, import_modules_by_suffix

__all__ = ['build_network']

_arch_modules = import_modules_by_suffix(__name__, os.path.dirname(os.path.abspath(__file__)), '_arch')


def build_network(opt: dict) -> nn.Module:
    """Build the network named by `opt['type']` with the remaining keys as constructor arguments."""
    opt = copy.deepcopy(opt)
    network_type = opt.pop('type')
    net = ARCH_REGISTRY.get(network_type)(**opt)
    get_root_logger().info(f'Network [{net.__class__.__name__}] is created.')
    return net
