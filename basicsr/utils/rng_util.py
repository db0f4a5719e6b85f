"""Random-number-generator states: captured into training states for exact resume, and shielded around validation."""

import contextlib
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch


def capture_rng_state() -> dict[str, Any]:
    """The states of Python's `random`, NumPy's global RNG, torch's CPU RNG and every CUDA RNG."""
    state = {'python': random.getstate(), 'numpy': np.random.get_state(), 'torch': torch.get_rng_state()}
    if torch.cuda.is_available():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Put back what `capture_rng_state` recorded (CUDA states only when this process has the same devices)."""
    random.setstate(state['python'])
    np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'].cpu())
    cuda_states = state.get('cuda')
    if cuda_states and torch.cuda.is_available() and len(cuda_states) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda_states])


@contextlib.contextmanager
def preserved_rng_state() -> Iterator[None]:
    """Run a block (e.g. validation) without changing the training run's random streams."""
    state = capture_rng_state()
    try:
        yield
    finally:
        restore_rng_state(state)
