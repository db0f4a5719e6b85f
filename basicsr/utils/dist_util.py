"""Distributed set-up in one place: process-group init for torchrun/slurm and rank queries."""

import functools
import os
import subprocess
from datetime import timedelta
from typing import Callable, Optional

import torch
import torch.distributed as dist


def init_dist(launcher: str, backend: Optional[str] = None, timeout_s: float = 1800, **kwargs) -> None:
    """Initialise the default process group; NCCL when CUDA is available, gloo otherwise."""
    if backend is None:
        backend = 'nccl' if torch.cuda.is_available() else 'gloo'
    if launcher == 'pytorch':
        _init_dist_pytorch(backend, timeout_s, **kwargs)
    elif launcher == 'slurm':
        _init_dist_slurm(backend, timeout_s, **kwargs)
    else:
        raise ValueError(f"Invalid launcher '{launcher}': use none, pytorch or slurm.")


def _set_device(rank: int) -> None:
    if torch.cuda.is_available():
        torch.cuda.set_device(rank % torch.cuda.device_count())


def _init_dist_pytorch(backend: str, timeout_s: float, **kwargs) -> None:
    _set_device(int(os.environ.get('LOCAL_RANK', os.environ.get('RANK', 0))))
    dist.init_process_group(backend=backend, timeout=timedelta(seconds=timeout_s), **kwargs)


def _init_dist_slurm(backend: str, timeout_s: float, port: Optional[int] = None) -> None:
    """Translate SLURM variables into the env-var rendezvous that torch.distributed reads."""
    proc_id = int(os.environ['SLURM_PROCID'])
    ntasks = int(os.environ['SLURM_NTASKS'])
    node_list = os.environ['SLURM_NODELIST']
    addr = subprocess.getoutput(f'scontrol show hostname {node_list} | head -n1')
    os.environ.setdefault('MASTER_PORT', str(port or 29500))
    os.environ.setdefault('MASTER_ADDR', addr)
    os.environ['WORLD_SIZE'] = str(ntasks)
    os.environ['RANK'] = str(proc_id)
    local_rank = proc_id % max(torch.cuda.device_count(), 1)
    os.environ['LOCAL_RANK'] = str(local_rank)
    _set_device(local_rank)
    dist.init_process_group(backend=backend, timeout=timedelta(seconds=timeout_s))


def get_dist_info() -> tuple[int, int]:
    """Return (rank, world_size); (0, 1) when not distributed."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def master_only(func: Callable) -> Callable:
    """Run `func` on rank 0 only (returns None elsewhere)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        rank, _ = get_dist_info()
        if rank == 0:
            return func(*args, **kwargs)
        return None

    return wrapper
