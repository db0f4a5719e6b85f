"""The one place that decides the compute device from the options."""

import torch

from basicsr.utils.logger import get_root_logger


def select_device(opt: dict) -> torch.device:
    """CPU when `num_gpu` is 0 or CUDA is absent (warning if GPUs were asked for), else the current CUDA device."""
    requested = opt.get('requested_num_gpu', opt.get('num_gpu', 0))
    if requested == 'auto':
        requested = torch.cuda.device_count()
    if requested and not torch.cuda.is_available():
        get_root_logger().warning(f'num_gpu: {requested} requested but CUDA is not available; running on CPU.')
        return torch.device('cpu')
    if not requested or not torch.cuda.is_available():
        return torch.device('cpu')
    return torch.device('cuda', torch.cuda.current_device())
