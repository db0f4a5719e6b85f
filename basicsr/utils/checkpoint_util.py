"""Checkpoint files: atomic writes, `.pth` or `.safetensors` network files, and network loading with BasicSR's
`param_key` conventions. Every loader reads network files through `read_network_file`, so both formats load everywhere.
"""

import os
import tempfile
from collections import OrderedDict
from typing import Any, Callable, Optional

import torch
from torch import nn

from basicsr.utils.errors import UserError


class CheckpointError(UserError, RuntimeError):
    """A network file that cannot be read, or does not fit the network it is loaded into."""


def _atomic_write(path: str, write: Callable[[Any], None]) -> None:
    """Write through `write(file)` to a temp file in the same folder, fsync, then rename over `path`."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(prefix=f'.{os.path.basename(path)}.', suffix='.tmp', dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
        raise
    _fsync_dir(folder)


def atomic_torch_save(obj: Any, path: str) -> None:
    """`torch.save` that never leaves a truncated `path`, whatever kills the process."""
    _atomic_write(path, lambda f: torch.save(obj, f))


def atomic_write_text(path: str, text: str) -> None:
    _atomic_write(path, lambda f: f.write(text.encode()))


CHECKPOINT_FORMATS = {'pth': '.pth', 'safetensors': '.safetensors'}
PARAM_KEYS_METADATA = 'basicsr_param_keys'  # safetensors metadata: the param keys a file holds, comma-separated


def checkpoint_extension(opt: dict) -> str:
    """The network-file extension that `logger.save_checkpoint_format` (pth, the default, or safetensors) selects."""
    return CHECKPOINT_FORMATS[(opt.get('logger') or {}).get('save_checkpoint_format') or 'pth']


def _safetensors_torch():
    try:
        import safetensors.torch
    except ImportError as err:
        raise ImportError(
            ".safetensors files need the safetensors package: pip install safetensors (or pip install -e '.[export]')."
        ) from err
    return safetensors.torch


def safetensors_bytes(save_dict: dict[str, dict]) -> bytes:
    """`{param_key: state_dict}` as safetensors bytes: one key is stored bare (what spandrel and traiNNer read);
    several are stored as `<param_key>.<name>`. The keys are named in the metadata either way."""
    if len(save_dict) == 1:
        flat = next(iter(save_dict.values()))
    else:
        flat = {f'{key}.{name}': tensor for key, state in save_dict.items() for name, tensor in state.items()}
    tensors = {name: tensor.detach().cpu().contiguous().clone() for name, tensor in flat.items()}
    return _safetensors_torch().save(tensors, metadata={PARAM_KEYS_METADATA: ','.join(save_dict)})


def atomic_save_network(save_dict: dict[str, dict], path: str) -> None:
    """Atomically write `{param_key: state_dict}` as safetensors or torch.save, chosen by the file extension."""
    if path.endswith(CHECKPOINT_FORMATS['safetensors']):
        data = safetensors_bytes(save_dict)
        _atomic_write(path, lambda f: f.write(data))
    else:
        atomic_torch_save(save_dict, path)


def read_safetensors(path: str) -> dict:
    """A `.safetensors` file as `{param_key: state_dict}` when written by us, else its bare state dict."""
    from safetensors import safe_open

    with safe_open(path, framework='pt') as handle:
        metadata = handle.metadata() or {}
    tensors = _safetensors_torch().load_file(path)
    keys = [key for key in metadata.get(PARAM_KEYS_METADATA, '').split(',') if key]
    if len(keys) == 1:
        return {keys[0]: tensors}
    if len(keys) > 1:
        return {
            key: OrderedDict(
                (name[len(key) + 1 :], tensor) for name, tensor in tensors.items() if name.startswith(f'{key}.')
            )
            for key in keys
        }
    return tensors


def remove_stale_temp_files(folder: str) -> list[str]:
    """Delete temp files an interrupted atomic write left in `folder` (never a finished checkpoint)."""
    if not os.path.isdir(folder):
        return []
    stale = [name for name in os.listdir(folder) if name.startswith('.') and name.endswith('.tmp')]
    for name in stale:
        os.remove(os.path.join(folder, name))
    return stale


def list_training_states(state_folder: str) -> list[int]:
    """Iterations that have a `<iter>.state` file, newest first."""
    if not os.path.isdir(state_folder):
        return []
    iters = []
    for name in os.listdir(state_folder):
        stem, ext = os.path.splitext(name)
        if ext == '.state' and stem.isdigit():
            iters.append(int(stem))
    return sorted(iters, reverse=True)


def prune_checkpoints(path_opt: dict, keep_last: int) -> None:
    """Delete all but the newest `keep_last` training states and their network files (`latest` files stay)."""
    states_dir, models_dir = path_opt['training_states'], path_opt['models']
    for old_iter in list_training_states(states_dir)[keep_last:]:
        os.remove(os.path.join(states_dir, f'{old_iter}.state'))
        for name in os.listdir(models_dir):
            if name.endswith(tuple(f'_{old_iter}{ext}' for ext in CHECKPOINT_FORMATS.values())):
                os.remove(os.path.join(models_dir, name))


def _fsync_dir(folder: str) -> None:
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def strip_module_prefix(state_dict: dict) -> OrderedDict:
    """Remove the `module.` prefix that DataParallel/DDP checkpoints carry."""
    return OrderedDict((k[7:] if k.startswith('module.') else k, v) for k, v in state_dict.items())


PARAM_KEY_FALLBACKS = ('params_ema', 'params', 'state_dict', 'model')


def chosen_param_key(checkpoint: Any, param_key: Optional[str], path: str = '') -> Optional[str]:
    """The entry `select_param_key` takes: `param_key`, else the first fallback present; None for a raw state dict."""
    if not isinstance(checkpoint, dict):
        raise ValueError(f'Checkpoint {path} does not hold a state dict (got {type(checkpoint).__name__}).')
    if param_key is not None and param_key in checkpoint:
        return param_key
    for fallback in PARAM_KEY_FALLBACKS:
        if fallback in checkpoint and isinstance(checkpoint[fallback], dict):
            return fallback
    if checkpoint and all(isinstance(v, torch.Tensor) for v in checkpoint.values()):
        return None
    raise KeyError(
        f"Checkpoint {path} has no '{param_key}' entry and is no state dict; it holds: "
        f'{", ".join(map(str, checkpoint)) or "nothing"}'
    )


def select_param_key(checkpoint: Any, param_key: Optional[str], path: str = '') -> dict:
    """Pick the state dict under `param_key`; fall back to `params_ema`, `params`, or a raw state dict."""
    key = chosen_param_key(checkpoint, param_key, path)
    return checkpoint if key is None else checkpoint[key]


def read_checkpoint(path: str) -> Any:
    """The whole content of a `.pth` / `.safetensors` network file, on CPU, without running pickled code."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'Network weights {path} do not exist.')
    try:
        if path.endswith(CHECKPOINT_FORMATS['safetensors']):
            return read_safetensors(path)
        return torch.load(path, map_location='cpu', weights_only=True)
    except ImportError:
        raise
    except Exception as err:  # truncated, corrupt or pickled-code files: name the file, keep the cause
        raise CheckpointError(f'Network weights {path} cannot be read ({type(err).__name__}: {err}).') from err


def read_network_file(path: str, param_key: Optional[str] = 'params') -> OrderedDict:
    """Load a `.pth` or `.safetensors` network file on CPU and return its (prefix-stripped) state dict."""
    return strip_module_prefix(select_param_key(read_checkpoint(path), param_key, path))


def key_mismatch_report(net: nn.Module, state_dict: dict) -> list[str]:
    """Describe missing, unexpected and shape-mismatched keys between `net` and `state_dict`."""
    own = net.state_dict()
    lines = []
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    if missing:
        lines.append(f'missing keys ({len(missing)}): {", ".join(missing[:10])}{" ..." if len(missing) > 10 else ""}')
    if unexpected:
        lines.append(
            f'unexpected keys ({len(unexpected)}): {", ".join(unexpected[:10])}{" ..." if len(unexpected) > 10 else ""}'
        )
    for k in sorted(set(own) & set(state_dict)):
        if own[k].shape != state_dict[k].shape:
            lines.append(f'size mismatch for {k}: network {tuple(own[k].shape)} vs file {tuple(state_dict[k].shape)}')
    return lines


def load_state_into(net: nn.Module, state_dict: dict, strict: bool = True, source: str = '') -> list[str]:
    """Load `state_dict` into `net`; strict loading fails with the full key report, non-strict skips bad shapes."""
    report = key_mismatch_report(net, state_dict)
    if strict and report:
        raise CheckpointError(f'Cannot load {source} into {net.__class__.__name__} strictly:\n  ' + '\n  '.join(report))
    own = net.state_dict()
    usable = {k: v for k, v in state_dict.items() if k in own and own[k].shape == v.shape}
    net.load_state_dict(usable, strict=False)
    return report
