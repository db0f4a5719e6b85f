"""Finding and applying a training state to resume from (`path.resume_state` or `--auto_resume`).

`--auto_resume` looks in the run's folder first, then in the folders earlier launches of the same name were
archived to (`<experiments_root>_archived_<time>`, newest first): a run that crashed after archiving a good one
must not make the next `--auto_resume` start from iteration 0.
"""

import glob
from collections.abc import Iterable
from os import path as osp
from typing import Optional

import torch

from basicsr.utils.checkpoint_util import checkpoint_extension, list_training_states, remove_stale_temp_files
from basicsr.utils.errors import UserError
from basicsr.utils.logger import get_root_logger


class ResumeError(UserError, RuntimeError):
    """A training state that cannot be used as asked (unreadable, or beyond `train.total_iter`)."""


def network_files_for(
    opt: dict, resume_iter: int, unsaved: Iterable[str] = (), models_dir: Optional[str] = None
) -> dict[str, str]:
    """The network files a state at `resume_iter` needs: `net_<name>_<iter>.pth` (or `.safetensors`, as
    `logger.save_checkpoint_format` says) per `network_<name>` block in `models_dir` (default `path.models`), except
    `path.ignore_resume_networks` and the `unsaved` blocks (inputs such as a frozen generalist, never checkpointed:
    the model class names them, `BaseModel.unsaved_networks`)."""
    ignored = (opt.get('path') or {}).get('ignore_resume_networks') or []
    ignored = {ignored} if isinstance(ignored, str) else set(ignored)
    ignored |= set(unsaved)
    models_dir = models_dir or opt['path']['models']
    files, ext = {}, checkpoint_extension(opt)
    for key in opt:
        if key.startswith('network_') and key not in ignored and opt[key] is not None:
            files[key] = osp.join(models_dir, f'net_{key[len("network_") :]}_{resume_iter}{ext}')
    return files


def models_dir_of(state_path: str, default: str) -> str:
    """The `models` folder beside a state's `training_states` folder, where its network files are."""
    candidate = osp.join(osp.dirname(osp.dirname(osp.abspath(state_path))), 'models')
    return candidate if osp.isdir(candidate) else default


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


def run_folders(experiments_root: str) -> list[str]:
    """The run's folder, then the archived folders of earlier launches with the same name, newest first."""
    archived = sorted(glob.glob(glob.escape(experiments_root.rstrip('/')) + '_archived_*'), reverse=True)
    return [experiments_root] + [folder for folder in archived if osp.isdir(folder)]


def _newest_valid_state(opt: dict, run_folder: str, device, unsaved: Iterable[str]) -> Optional[tuple[dict, str]]:
    """(state, its path) of the newest loadable state in `run_folder` whose network files exist."""
    logger = get_root_logger()
    states_dir, models_dir = osp.join(run_folder, 'training_states'), osp.join(run_folder, 'models')
    for stale_dir in (states_dir, models_dir):
        for name in remove_stale_temp_files(stale_dir):
            logger.warning(f'Removed {name}, left in {stale_dir} by an interrupted checkpoint write.')
    for resume_iter in list_training_states(states_dir):
        files = network_files_for(opt, resume_iter, unsaved, models_dir)
        missing = [f for f in files.values() if not osp.isfile(f)]
        if missing:
            logger.warning(f'Training state {resume_iter}.state lacks network files {missing}; trying an older one.')
            continue
        path = osp.join(states_dir, f'{resume_iter}.state')
        state = _try_load_state(path, device)
        if state is not None:
            return state, path
    return None


def find_resume_state(opt: dict, device, unsaved: Iterable[str] = ()) -> Optional[dict]:
    """`path.resume_state`, or with --auto_resume the newest valid state of this run or of its archived folders.

    The state's path is written to `path.resume_state` (as BasicSR's auto-resume does); states that exist but
    cannot be used stop the run instead of letting it start again from iteration 0.
    """
    if not opt.get('auto_resume'):
        path = (opt.get('path') or {}).get('resume_state')
        return None if path is None else _try_load_state(path, device) or _raise_unreadable(path)
    folders = run_folders(opt['path']['experiments_root'])
    for folder in folders:
        found = _newest_valid_state(opt, folder, device, unsaved)
        if found is not None:
            state, path = found
            opt['path']['resume_state'] = path
            where = (
                ''
                if folder == folders[0]
                else (f' (an archived launch of this run; new checkpoints go to {folders[0]})')
            )
            get_root_logger().info(f'Auto-resume from {path}{where}')
            return state
    existing = [
        f'{folder}/training_states' for folder in folders if list_training_states(osp.join(folder, 'training_states'))
    ]
    if existing:
        raise ResumeError(
            f'--auto_resume found training states in {", ".join(existing)} but none is usable (see the '
            'warnings above); repair or remove them, or run without --auto_resume to start from '
            'iteration 0.'
        )
    return None


def _raise_unreadable(path: str) -> dict:
    raise ResumeError(
        f'path.resume_state: {path} cannot be loaded; point it at a valid .state file or use --auto_resume.'
    )


def check_resume_iteration(opt: dict, resume_iter: int) -> None:
    """A state beyond `train.total_iter` is an error (the run would end at once); one at it is only reported."""
    total_iter = int(opt['train']['total_iter'])
    if resume_iter > total_iter:
        raise ResumeError(
            f'train.total_iter is {total_iter} but the training state {opt["path"]["resume_state"]} is at iteration '
            f'{resume_iter}, so training would end at once. If the run was started with --force_yml overrides '
            f'(its command line is at the top of the option copy in {opt["path"]["experiments_root"]}), repeat them; '
            f'else raise train.total_iter, e.g. --force_yml train:total_iter={2 * resume_iter}.'
        )
    if resume_iter == total_iter:
        get_root_logger().warning(
            f'The training state is at iteration {resume_iter} = train.total_iter: training is '
            'already complete. Raise train.total_iter to train longer.'
        )


def apply_resume(opt: dict, resume_iter: int, unsaved: Iterable[str] = ()) -> None:
    """Point every resumed `path.pretrain_network_<x>` at the checkpoint of `resume_iter` (BasicSR's check_resume),
    in the `models` folder beside the state being resumed.

    Their `param_key_<x>` becomes `params` (the EMA is restored separately); frozen or ignored networks keep both
    their path and their key, so a static PDD generalist is reloaded exactly as it was first loaded.
    """
    state_path = opt['path'].get('resume_state')
    models_dir = models_dir_of(state_path, opt['path']['models']) if state_path else opt['path']['models']
    for key, file_path in network_files_for(opt, resume_iter, unsaved, models_dir).items():
        opt['path'][f'pretrain_{key}'] = file_path
        param_key = f'param_key_{key[len("network_") :]}'
        if opt['path'].get(param_key) == 'params_ema':
            opt['path'][param_key] = 'params'
