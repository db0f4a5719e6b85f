"""Models, discovered from `*_model.py` files and built by `model_type`."""

import copy
import os

from basicsr.utils.logger import get_root_logger
from basicsr.utils.registry import MODEL_REGISTRY, import_modules_by_suffix

__all__ = ['build_model', 'model_class']

_model_modules = import_modules_by_suffix(__name__, os.path.dirname(os.path.abspath(__file__)), '_model')


def build_model(opt: dict):
    """Build the model named by `opt['model_type']`."""
    model = MODEL_REGISTRY.get(opt['model_type'])(copy.deepcopy(opt))
    get_root_logger().info(f'Model [{model.__class__.__name__}] is created.')
    return model


def model_class(opt: dict) -> type:
    """The registered class named by `opt['model_type']`, for what generic code asks of it before building."""
    return MODEL_REGISTRY.get(opt['model_type'])
