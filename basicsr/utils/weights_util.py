"""Offline pretrained-weight policy: where weight files are looked for, and how they are read into modules.

Every user of pretrained weights (VGG features, LPIPS backbones, generalist checkpoints) goes through
`resolve_weight_file`, so the search order and the "how to get it" advice are the same everywhere. Nothing here
downloads: a missing file is an error that names the file, every place looked at, and how to obtain it.
"""

import os
import pickle
from collections.abc import Sequence
from typing import Callable, Optional

import torch
from torch import nn

from basicsr.utils.errors import UserError

WEIGHTS_DIR_ENV = 'BASICSR_WEIGHTS_DIR'
BASICSR_PRETRAINED_DIR = os.path.join('experiments', 'pretrained_models')  # BasicSR's conventional place, cwd-relative


class WeightFileError(UserError, RuntimeError):
    """A weight file that exists but cannot be read (truncated, not a state dict)."""


class WeightMismatchError(UserError, ValueError):
    """A weight file whose keys or shapes do not fit the module it is loaded into."""


def hub_checkpoint_dir() -> str:
    """torch hub's checkpoint folder (`$TORCH_HOME/hub/checkpoints`), where torchvision caches its downloads."""
    return os.path.join(torch.hub.get_dir(), 'checkpoints')


def weight_search_dirs() -> list[str]:
    """Folders searched for a weight file by name: $BASICSR_WEIGHTS_DIR, the torch hub cache, BasicSR's folder."""
    dirs = [os.environ[WEIGHTS_DIR_ENV]] if os.environ.get(WEIGHTS_DIR_ENV) else []
    return [os.path.abspath(os.path.expanduser(d)) for d in (*dirs, hub_checkpoint_dir(), BASICSR_PRETRAINED_DIR)]


def resolve_weight_file(
    filename: str,
    explicit_path: Optional[str] = None,
    purpose: str = '',
    search_dirs: Sequence[str] = (),
    how_to_get: str = '',
) -> str:
    """Return the absolute path of weight file `filename`, never downloading.

    Order: `explicit_path` (a file, or a folder holding `filename`; an error if it does not exist, so a typo is
    not silently replaced by another file), then `search_dirs`, then `weight_search_dirs()`.
    `purpose` and `how_to_get` only enrich the error message.
    """
    what = f"Pretrained weights '{filename}'" + (f' (for {purpose})' if purpose else '')
    if explicit_path:
        path = os.path.abspath(os.path.expanduser(explicit_path))
        if os.path.isdir(path):
            path = os.path.join(path, filename)
        if os.path.isfile(path):
            return path
        raise FileNotFoundError(
            f'{what}: the given path {path} does not exist. Fix the path, or leave it unset '
            f'to search {", ".join(weight_search_dirs())} for {filename}.'
        )
    candidates = [
        os.path.join(os.path.abspath(os.path.expanduser(d)), filename) for d in (*search_dirs, *weight_search_dirs())
    ]
    for path in candidates:
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(_missing_file_message(what, filename, candidates, how_to_get))


def _missing_file_message(what: str, filename: str, candidates: list[str], how_to_get: str) -> str:
    """Explain a missing weight file: each path tried, and how to bring the file to this machine."""
    tried = '\n'.join(f'    {path}' for path in candidates)
    fetch = how_to_get or f'obtain {filename} from its publisher'
    return (
        f'{what} not found. Looked at:\n{tried}\n'
        f'This project never downloads weights. On a machine with internet access, {fetch}; then copy '
        f"'{filename}' into {hub_checkpoint_dir()} on this machine (or into a folder named by "
        f'${WEIGHTS_DIR_ENV}, or give its path in the options).'
    )


def read_weight_file(path: str) -> dict:
    """Load a checkpoint onto the CPU with `weights_only=True` (tensors and plain containers only, no code)."""
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, ValueError) as err:
        raise WeightFileError(
            f'Could not read weight file {path}: {err}. The file may be truncated or not a PyTorch '
            'state dict; copy it again from its source.'
        ) from err


def _abbreviate(items: list[str], limit: int = 8) -> str:
    """The first `limit` items and how many more, so a wrong file gives a readable error."""
    more = f' ... and {len(items) - limit} more' if len(items) > limit else ''
    return ', '.join(items[:limit]) + more


def load_weight_file(
    module: nn.Module, path: str, strict: bool = True, key_map: Optional[Callable[[str], Optional[str]]] = None
) -> None:
    """Load the state dict stored at `path` into `module`, reporting every key problem before failing.

    `key_map` renames each file key to the module's key (None drops it), e.g. torchvision's `features.{i}` names.
    Shape mismatches always fail; missing/unexpected keys fail when `strict`.
    """
    state = read_weight_file(path)
    if key_map is not None:
        renamed = ((key_map(key), value) for key, value in state.items())
        state = {key: value for key, value in renamed if key is not None}
    own = module.state_dict()
    for key in own:  # files older than BatchNorm's step counter lack it; keep the module's own
        if key.endswith('num_batches_tracked') and key not in state:
            state[key] = own[key]
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mismatched = [
        f'{key}: file {tuple(state[key].shape)} vs model {tuple(own[key].shape)}'
        for key in own
        if key in state and state[key].shape != own[key].shape
    ]
    problems = [f'shape mismatch {_abbreviate(mismatched)}'] if mismatched else []
    if strict and missing:
        problems.append(f'missing keys {_abbreviate(missing)}')
    if strict and unexpected:
        problems.append(f'unexpected keys {_abbreviate(unexpected)}')
    if problems:
        raise WeightMismatchError(
            f'Weight file {path} does not fit {module.__class__.__name__}: {"; ".join(problems)}.'
        )
    module.load_state_dict(state, strict=strict)
