"""Option files: YAML loading, command-line overrides, derived paths, and the BasicSR `parse_options` entry."""

import argparse
import random
import re
import shutil
from os import path as osp
from typing import Any, Callable, Optional

import torch
import yaml

from basicsr.utils.arg_parser import ArgumentParser
from basicsr.utils.dist_util import get_dist_info, init_dist, master_only
from basicsr.utils.errors import UserError

# Exponent notation without a dot (`1e-4`): YAML 1.1, which PyYAML reads, takes it for text, not a number.
BARE_EXPONENT = re.compile(r'[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+')


class OptionFileError(UserError, ValueError):
    """An option file that cannot be read as options (missing, not YAML, not a mapping) or a bad --force_yml item."""


def ordered_yaml() -> tuple[type, type]:
    """Return (Loader, Dumper) that keep key order; kept for BasicSR compatibility."""
    return yaml.SafeLoader, yaml.SafeDumper


def yaml_load(text_or_path: str) -> dict:
    """Load YAML from a path or a string (`!!float 1e-4` and `~` behave as in BasicSR)."""
    if osp.isfile(text_or_path):
        with open(text_or_path) as f:
            return yaml.safe_load(f) or {}
    return yaml.safe_load(text_or_path) or {}


def load_option_file(path: str) -> dict:
    """Read an option file without validation; a missing or malformed file names the path."""
    if not osp.isfile(path):
        raise OptionFileError(
            f'Option file {path} does not exist; check the -opt path (it is relative to the directory you launch from).'
        )
    try:
        opt = yaml_load(path)
    except yaml.YAMLError as err:
        raise OptionFileError(f'Option file {path} is not valid YAML: {yaml_error_text(err)}') from err
    if not isinstance(opt, dict):
        raise OptionFileError(f'Option file {path} must hold a mapping of option keys, got {type(opt).__name__}.')
    return opt


def yaml_error_text(err: yaml.YAMLError) -> str:
    """`line L, column C: problem (context)` from a PyYAML error, without its multi-line excerpt."""
    mark = getattr(err, 'problem_mark', None)
    problem = getattr(err, 'problem', None)
    if mark is None or problem is None:
        return str(err)
    context = getattr(err, 'context', None)
    return (
        f'line {mark.line + 1}, column {mark.column + 1}: {problem}'
        + (f' ({context})' if context else '')
        + '; check the indentation and the colon after each key there'
    )


def dict2str(opt: dict, indent_level: int = 1) -> str:
    """Render an option dict as indented text for the log."""
    msg = '\n'
    for k, v in opt.items():
        if isinstance(v, dict):
            msg += ' ' * (indent_level * 2) + k + ':['
            msg += dict2str(v, indent_level + 1)
            msg += ' ' * (indent_level * 2) + ']\n'
        else:
            msg += ' ' * (indent_level * 2) + k + ': ' + str(v) + '\n'
    return msg


def apply_force_yml(opt: dict, overrides: list[str]) -> None:
    """Apply `--force_yml a:b:c=value` overrides in place; the value is read as YAML (numbers, lists, ~), and a
    bare exponent such as `1e-4` as the number it means (a shell has no `!!float`)."""
    for item in overrides:
        if '=' not in item:
            raise OptionFileError(f"--force_yml '{item}' must look like key:subkey=value")
        keys, value = item.split('=', 1)
        node = opt
        parts = keys.split(':')
        for key in parts[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise OptionFileError(f"--force_yml '{item}': '{key}' is not a mapping in the options")
        node[parts[-1]] = float(value) if BARE_EXPONENT.fullmatch(value.strip()) else yaml.safe_load(value)


def force_yml_keys(overrides: list[str]) -> dict[str, str]:
    """{dotted key path: the --force_yml item that set it}, so a problem there names the command line, not the file."""
    return {item.split('=', 1)[0].replace(':', '.'): item for item in overrides if '=' in item}


def build_arg_parser() -> argparse.ArgumentParser:
    """BasicSR's flags; each multi-word flag is accepted with `_` and with `-`, and `-opt` also as `--opt`."""
    parser = ArgumentParser(description='BasicSR / PDD training and testing')
    parser.add_argument('-opt', '--opt', dest='opt', type=str, required=True, help='Path to option YAML file.')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none', help='job launcher')
    parser.add_argument(
        '--auto_resume',
        '--auto-resume',
        dest='auto_resume',
        action='store_true',
        help='resume from the newest valid training state (also one in an archived folder)',
    )
    parser.add_argument(
        '--debug',
        action='store_true',
        help='tiny intervals for a quick pipeline check; errors are shown with their traceback',
    )
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    parser.add_argument(
        '--force_yml',
        '--force-yml',
        dest='force_yml',
        nargs='+',
        default=None,
        help='override options: key:subkey=value',
    )
    parser.add_argument(
        '--check-data',
        '--check_data',
        dest='check_data',
        action='store_true',
        help='scan every dataset for unreadable/mismatched images before training',
    )
    return parser


def _resolve_num_gpu(opt: dict) -> None:
    """`num_gpu: auto` counts devices; asking for GPUs without CUDA falls back to CPU (0) with a warning later."""
    num_gpu = opt.get('num_gpu', 1)
    if num_gpu == 'auto':
        num_gpu = torch.cuda.device_count()
    if num_gpu and not torch.cuda.is_available():
        opt['requested_num_gpu'] = num_gpu
        num_gpu = 0
    opt['num_gpu'] = num_gpu


def _dataset_phase(key: str) -> str:
    return 'train' if key.startswith('train') else key.split('_')[0]


def _setup_datasets(opt: dict) -> None:
    for key, dataset in (opt.get('datasets') or {}).items():
        if not isinstance(dataset, dict):
            continue
        dataset['phase'] = _dataset_phase(key)
        if 'scale' in opt:
            dataset['scale'] = opt['scale']
        for path_key in ('dataroot_gt', 'dataroot_lq', 'meta_info_file'):
            if isinstance(dataset.get(path_key), str):
                dataset[path_key] = osp.expanduser(dataset[path_key])


def _setup_paths(opt: dict, root_path: str, is_train: bool) -> None:
    path = opt.setdefault('path', {}) or {}
    opt['path'] = path
    for key, val in list(path.items()):
        if val and isinstance(val, str) and ('resume_state' in key or 'pretrain_network' in key):
            path[key] = osp.expanduser(val)
    if is_train:
        experiments_root = path.get('experiments_root') or osp.join(root_path, 'experiments', opt['name'])
        path['experiments_root'] = experiments_root
        path['models'] = osp.join(experiments_root, 'models')
        path['training_states'] = osp.join(experiments_root, 'training_states')
        path['log'] = experiments_root
        path['visualization'] = osp.join(experiments_root, 'visualization')
    else:
        results_root = path.get('results_root') or osp.join(root_path, 'results', opt['name'])
        path['results_root'] = results_root
        path['log'] = results_root
        path['visualization'] = osp.join(results_root, 'visualization')


def _apply_debug(opt: dict) -> None:
    if 'debug' in opt['name']:
        if opt.get('val'):
            opt['val']['val_freq'] = 8
        opt.setdefault('logger', {}).update(print_freq=1, save_checkpoint_freq=8)


def setup_options(opt: dict, root_path: str, is_train: bool, debug: bool = False) -> dict:
    """Fill derived options (phase, scale, paths, device count, seed) into a raw option dict."""
    opt['is_train'] = is_train
    opt.setdefault('name', 'unnamed')
    if debug and not opt['name'].startswith('debug'):
        opt['name'] = 'debug_' + opt['name']
    _resolve_num_gpu(opt)
    if opt.get('manual_seed') is None:
        opt['manual_seed'] = random.randint(1, 10000)
    _setup_datasets(opt)
    _setup_paths(opt, root_path, is_train)
    if is_train:
        _apply_debug(opt)
    opt['root_path'] = root_path
    return opt


def _init_launcher(opt: dict, launcher: str) -> None:
    if launcher == 'none':
        opt['dist'] = False
    else:
        opt['dist'] = True
        dist_params = opt.get('dist_params') or {}
        timeout = dist_params.get('timeout', 1800)
        if launcher == 'slurm' and 'port' in dist_params:
            init_dist(launcher, port=dist_params['port'], timeout_s=timeout)
        else:
            init_dist(launcher, backend=dist_params.get('backend'), timeout_s=timeout)
    opt['rank'], opt['world_size'] = get_dist_info()


def parse_options(
    root_path: str,
    is_train: bool = True,
    argv: Optional[list[str]] = None,
    validate: Optional[Callable[[dict], None]] = None,
) -> tuple[dict, Any]:
    """Parse the command line and option file, run `validate` on the result (the pipelines pass
    `basicsr.option_check.validate_options`, which reports every problem up front), start distributed if asked."""
    args = build_arg_parser().parse_args(argv)
    opt = load_option_file(args.opt)
    opt['force_yml'] = list(args.force_yml or [])
    apply_force_yml(opt, opt['force_yml'])
    opt['opt_path'] = args.opt
    opt['auto_resume'] = args.auto_resume
    opt['check_data'] = args.check_data
    setup_options(opt, root_path, is_train, debug=args.debug)
    if validate is not None:
        validate(opt)
    _init_launcher(opt, args.launcher)
    return opt, args


@master_only
def copy_opt_file(opt_file: str, experiments_root: str) -> None:
    """Copy the option file into the experiment folder with the command line on top, as BasicSR does."""
    import sys
    import time

    cmd = ' '.join(sys.argv)
    filename = osp.join(experiments_root, osp.basename(opt_file))
    shutil.copy(opt_file, filename)
    with open(filename, 'r+') as f:
        lines = f.readlines()
        lines.insert(0, f'# GENERATE TIME: {time.asctime()}\n# CMD:\n# {cmd}\n\n')
        f.seek(0)
        f.writelines(lines)
