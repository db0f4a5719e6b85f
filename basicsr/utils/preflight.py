"""Checks run after the model is built and before the first iteration: disk space, a writable folder, GPU count."""

import os
import shutil
import tempfile

import torch
from torch import nn

from basicsr.utils.errors import UserError
from basicsr.utils.misc import sizeof_fmt


class PreflightError(UserError, RuntimeError):
    """A condition that would make the run fail later (e.g. at its first checkpoint) is already known."""


def checkpoint_bytes(nets: list[nn.Module], optimizer_slots: int = 2) -> int:
    """Estimated size of one checkpoint: network files plus optimizer moments (Adam keeps two per parameter)."""
    param_bytes = sum(p.numel() * p.element_size() for net in nets for p in net.parameters())
    trainable = sum(p.numel() * p.element_size() for net in nets for p in net.parameters() if p.requires_grad)
    return param_bytes + optimizer_slots * trainable


def nearest_existing(folder: str) -> str:
    """`folder`, or its closest existing parent: checks must not create the run's folder before the run starts."""
    folder = os.path.abspath(folder)
    while not os.path.isdir(folder) and os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
    return folder


def check_writable(folder: str) -> None:
    try:
        with tempfile.NamedTemporaryFile(dir=nearest_existing(folder)):
            pass
    except OSError as err:
        raise PreflightError(f'Experiment folder {folder} is not writable ({err}); choose another path.') from err


def check_disk_space(folder: str, needed: int) -> None:
    free = shutil.disk_usage(nearest_existing(folder)).free
    if free < needed:
        raise PreflightError(
            f'Only {sizeof_fmt(free)} free under {folder}, but two checkpoints need about '
            f'{sizeof_fmt(needed)}; free some space or move path.experiments_root.'
        )


def check_gpus(opt: dict) -> None:
    wanted = opt.get('num_gpu', 0)
    if (
        torch.cuda.is_available()
        and not opt.get('dist')
        and isinstance(wanted, int)
        and wanted > torch.cuda.device_count()
    ):
        raise PreflightError(
            f'num_gpu: {wanted} but only {torch.cuda.device_count()} CUDA device(s) are visible; '
            f'lower num_gpu or use `auto`.'
        )


def run_preflight(opt: dict, model) -> None:
    """All checks for a training run; raises PreflightError with what to do. Only rank 0 writes checkpoints, so
    only it checks the folder (and a failure is reported once)."""
    check_gpus(opt)
    if opt.get('rank', 0) != 0:
        return
    folder = opt['path']['experiments_root']
    check_writable(folder)
    nets = [getattr(model, name) for name in ('net_g', 'net_g_ema', 'net_d') if hasattr(model, name)]
    check_disk_space(folder, 2 * checkpoint_bytes(nets))
