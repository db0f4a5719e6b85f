"""The compiled Winograd tile transforms (winograd_kernels.cpp), built once per machine on first use.

The transforms are pure memory traffic; written as PyTorch ops they take ~12 passes over the tiles, the C++ loops one.
They are built with torch's JIT extension loader (g++ and ninja, both needed only here) into torch's extension cache
(`TORCH_EXTENSIONS_DIR`, default ~/.cache/torch_extensions), for the vector instruction set PyTorch itself uses on
this CPU, so a cache shared between different machines never runs code a CPU lacks. When the build is impossible, or
`BASICSR_WINOGRAD_KERNELS=0`, `winograd_conv` keeps its PyTorch-op transforms: same results, slower.
"""
import os
from functools import lru_cache
from os import path as osp
from types import ModuleType
from typing import Optional

import torch

from basicsr.utils.logger import get_root_logger

SOURCE = osp.join(osp.dirname(osp.abspath(__file__)), 'winograd_kernels.cpp')
DISABLE_VARIABLE = 'BASICSR_WINOGRAD_KERNELS'
# Compiler flags per torch.backends.cpu.get_cpu_capability(); anything else builds for the baseline ISA.
ISA_FLAGS = {'AVX512': ['-mavx512f', '-mavx512vl', '-mavx512bw', '-mavx512dq', '-mfma'], 'AVX2': ['-mavx2', '-mfma']}


def cpu_capability() -> str:
    """The vector instruction set PyTorch dispatches to on this CPU ('AVX512', 'AVX2', 'DEFAULT', ...)."""
    return torch.backends.cpu.get_cpu_capability()


@lru_cache(maxsize=None)
def compiled_transforms() -> Optional[ModuleType]:
    """The built extension (`input_transform`, `output_transform`), or None with a logged reason."""
    logger = get_root_logger()
    if os.environ.get(DISABLE_VARIABLE, '1') == '0':
        logger.info(f'Winograd: compiled tile transforms disabled by {DISABLE_VARIABLE}=0; using PyTorch ops.')
        return None
    capability = cpu_capability()
    flags = ISA_FLAGS.get(capability, [])
    try:
        from torch.utils.cpp_extension import load
        module = load(name=f'basicsr_winograd_kernels_{capability.lower()}', sources=[SOURCE],
                      extra_cflags=['-O3', '-fopenmp', *flags], extra_ldflags=['-fopenmp'], verbose=False)
    except Exception as error:  # no compiler, no ninja, a failed build: the PyTorch-op transforms still work
        logger.warning(f'Winograd: could not build the compiled tile transforms ({type(error).__name__}: '
                       f'{str(error).strip()[:300]}); using the slower PyTorch-op transforms. They need g++ and '
                       f'ninja (pip install ninja); set {DISABLE_VARIABLE}=0 to skip the build.')
        return None
    logger.info(f'Winograd: compiled tile transforms loaded ({capability}).')
    return module
