"""Finding and applying a training state to resume from (`path.resume_state` or `--auto_resume`)."""
from os import path as osp
from typing import Iterable, Optional

import torch

from basicsr.utils.checkpoint_util import checkpoint_extension, list_training_states, remove_stale_temp_files
from basicsr.utils.logger import get_root_logger


def network_files_for(opt: dict, resume_iter: int, unsaved: Iterable[str] = ()) -> dict[str, str]:
    """The network files a state at `resume_iter` needs: `net_<name>_<iter>.pth` (or `.safetensors`, as
    `logger.save_checkpoint_format` says) per `network_<name>` block, except
    `path.ignore_resume_networks` and the `unsaved` blocks (inputs such as a frozen generalist, never checkpointed:
    the model class names them, `BaseModel.unsaved_networks`)."""
    ignored = (opt.get('path') or {}).get('ignore_resume_networks') or []
    ignored = {ignored} if isinstance(ignored, str) else set(ignored)
    ignored |= set(unsaved)
    files, ext = {}, checkpoint_extension(opt)
    for key in opt:
        if key.startswith('network_') and key not in ignored and opt[key] is not None:
            files[key] = osp.join(opt['path']['models'], f'net_{key[len("network_"):]}_{resume_iter}{ext}')
    return files


def _try_load_state(path: str, device) -> Optional[dict]:
    try:
        state = torch.load(path, map_location=device, weights_only=False)
    except Exception as err:  # a truncated or corrupt file must not stop the search for an older good one
        get_root_logger().warning(f'Training state {path} is unreadable ({type(err).__name__}: {err}); skipping it.')
        return None
    if not isinstance(state, dict) or 'iter' not in state:
        get_root_logger().warning(f'Training state {path} has no iteration record; skipping it.')
        return None
    return state


def find_resume_state(opt: dict, device, unsaved: Iterable[str] = ()) -> Optional[dict]:
    """Newest loadable state whose network files exist (auto-resume), or `path.resume_state`."""
    logger = get_root_logger()
    if not opt.get('auto_resume'):
        path = (opt.get('path') or {}).get('resume_state')
        return None if path is None else _try_load_state(path, device) or _raise_unreadable(path)
    folder = opt['path']['training_states']
    for stale_dir in (folder, opt['path']['models']):
        for name in remove_stale_temp_files(stale_dir):
            logger.warning(f'Removed {name}, left in {stale_dir} by an interrupted checkpoint write.')
    for resume_iter in list_training_states(folder):
        missing = [f for f in network_files_for(opt, resume_iter, unsaved).values() if not osp.isfile(f)]
        if missing:
            logger.warning(f'Training state {resume_iter}.state lacks network files {missing}; trying an older one.')
            continue
        state = _try_load_state(osp.join(folder, f'{resume_iter}.state'), device)
        if state is not None:
            logger.info(f'Auto-resume from {folder}/{resume_iter}.state')
            return state
    return None


def _raise_unreadable(path: str) -> dict:
    raise RuntimeError(f'path.resume_state: {path} cannot be loaded; point it at a valid .state file or use --auto_resume.')


def apply_resume(opt: dict, resume_iter: int, unsaved: Iterable[str] = ()) -> None:
    """Point every resumed `path.pretrain_network_<x>` at the checkpoint of `resume_iter` (BasicSR's check_resume).

    Their `param_key_<x>` becomes `params` (the EMA is restored separately); frozen or ignored networks keep both
    their path and their key, so a static PDD generalist is reloaded exactly as it was first loaded.
    """
    for key, file_path in network_files_for(opt, resume_iter, unsaved).items():
        opt['path'][f'pretrain_{key}'] = file_path
        param_key = f'param_key_{key[len("network_"):]}'
        if opt['path'].get(param_key) == 'params_ema':
            opt['path'][param_key] = 'params'
