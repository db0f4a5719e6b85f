"""Up-front validation of a parsed option dict: every problem is reported with its YAML key path before any model
is built."""

import difflib
import importlib.util
import inspect
import os
import re
from collections.abc import Iterable
from typing import Any, Callable, Optional

import torch

from basicsr.models.perf_options import DATASET_ALIASES, TOP_LEVEL_ALIASES
from basicsr.option_types import check_value_types, kind_problem
from basicsr.utils.checkpoint_util import CHECKPOINT_FORMATS
from basicsr.utils.errors import UserError
from basicsr.utils.logger import get_root_logger
from basicsr.utils.options import force_yml_keys
from basicsr.utils.registry import ARCH_REGISTRY, DATASET_REGISTRY, LOSS_REGISTRY, METRIC_REGISTRY, MODEL_REGISTRY

# Keys written by `setup_options` / the CLI, never by users.
DERIVED_KEYS = {
    'is_train',
    'opt_path',
    'auto_resume',
    'check_data',
    'root_path',
    'dist',
    'rank',
    'world_size',
    'requested_num_gpu',
    'force_yml',
}
TOP_LEVEL_KEYS = {
    'name',
    'model_type',
    'scale',
    'num_gpu',
    'manual_seed',
    'datasets',
    'path',
    'train',
    'val',
    'logger',
    'dist_params',
    'find_unused_parameters',
    'use_static_graph',
    'amp',
    'channels_last',
    'compile',
    'deterministic',
    *TOP_LEVEL_ALIASES,  # traiNNer-redux / neosr spellings of the training switches
    # Real-ESRGAN second-order degradation keys live at the top level of its option files.
    'high_order_degradation',
    'l1_gt_usm',
    'percep_gt_usm',
    'gan_gt_usm',
    'gt_usm',
    'gt_size',
    'queue_size',
    'resize_prob',
    'resize_range',
    'gaussian_noise_prob',
    'noise_range',
    'poisson_scale_range',
    'gray_noise_prob',
    'jpeg_range',
    'second_blur_prob',
    'resize_prob2',
    'resize_range2',
    'gaussian_noise_prob2',
    'noise_range2',
    'poisson_scale_range2',
    'gray_noise_prob2',
    'jpeg_range2',
} | DERIVED_KEYS
SECTION_KEYS = {
    'path': {
        'root',
        'experiments_root',
        'results_root',
        'models',
        'training_states',
        'log',
        'visualization',
        'resume_state',
        'ignore_resume_networks',
    },
    'train': {
        'ema_decay',
        'optim_g',
        'optim_d',
        'scheduler',
        'total_iter',
        'warmup_iter',
        'pixel_opt',
        'perceptual_opt',
        'gan_opt',
        'style_opt',
        'net_d_iters',
        'net_d_init_iters',
        'r1_reg_weight',
        'use_net_g_ema',
        'domain_opt',
        'domain_opt_warmup_iters',
        'domain_opt_detach',
        'domain_opt_wogan',
        'fix_backbone',
        'nd_opt',
        'perf',
        'amp',
        'channels_last',
        'compile',
        'nan_guard',
        'grad_clip',
        'accum_iter',
    },
    'val': {'val_freq', 'save_img', 'suffix', 'metrics', 'pbar', 'tb_images', 'max_tb_images'},
    'logger': {
        'print_freq',
        'save_checkpoint_freq',
        'use_tb_logger',
        'wandb',
        'keep_last',
        'tb_image_freq',
        'save_checkpoint_format',
    },
    'dist_params': {'backend', 'port', 'timeout'},
}
SECTION_PATTERNS = {'path': (r'pretrain_network_\w+', r'param_key_\w+', r'strict_load_\w+')}
# Keys of older BasicSR option files that BasicSR 1.4 silently ignores: accepted with a warning, never an error.
LEGACY_KEYS = {
    'use_flip': 'use_hflip',
    'pretrain_model_g': 'pretrain_network_g',
    'pretrain_model_d': 'pretrain_network_d',
    'strict_load': 'strict_load_g',
    'resume_state_g': 'resume_state',
}
NUMBER_KEYS = (
    'train.total_iter',
    'train.warmup_iter',
    'train.ema_decay',
    'val.val_freq',
    'logger.print_freq',
    'logger.save_checkpoint_freq',
    'train.net_d_iters',
    'train.net_d_init_iters',
    'train.domain_opt_warmup_iters',
)
BOOL_KEYS = (
    'val.save_img',
    'logger.use_tb_logger',
    'train.use_net_g_ema',
    'train.domain_opt_detach',
    'train.domain_opt_wogan',
    'find_unused_parameters',
)


class OptionError(UserError, ValueError):
    """All problems found in an option file, one bullet each, starting with its key path (continuation lines of a
    problem are indented under its bullet, so there are as many bullets as problems)."""

    def __init__(self, problems: list[str], source: Optional[str] = None) -> None:
        self.problems = problems
        where = f' in {source}' if source else ''
        bullets = '\n'.join('  - ' + p.replace('\n', '\n    ') for p in problems)
        super().__init__(f'{len(problems)} problem(s){where}:\n{bullets}')


def suggest(key: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ''


def unknown_keys(section: dict, known: set, where: str, patterns: Iterable[str] = ()) -> list[str]:
    """One problem per key of `section` that is neither in `known` nor matches a pattern."""
    problems = []
    for key in section:
        if key in known or any(re.fullmatch(p, key) for p in patterns) or is_legacy_key(key, where):
            continue
        problems.append(f'{where}{key}: unknown option key{suggest(key, known)}')
    return problems


def is_legacy_key(key: str, where: str) -> bool:
    """Older BasicSR keys that 1.4 ignores: warn (they have no effect) instead of rejecting the file."""
    if key not in LEGACY_KEYS:
        return False
    get_root_logger().warning(
        f'{where}{key}: an older BasicSR key that BasicSR 1.4 ignores, and so do we; '
        f'use {LEGACY_KEYS[key]} for it to take effect.'
    )
    return True


def get_path(opt: dict, dotted: str) -> Any:
    node: Any = opt
    for part in dotted.split('.'):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def unknown_kwargs(func: Callable, keys: Iterable[str]) -> list[str]:
    """Keys that `func` cannot take as keyword arguments (empty when it takes **kwargs)."""
    params = inspect.signature(func).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return []
    return [k for k in keys if k not in params]


def check_typed_block(block: Any, where: str, registry, what: str) -> list[str]:
    """A `{type: Name, **kwargs}` block: the type must be registered and the kwargs accepted by its constructor."""
    if not isinstance(block, dict):
        return [f'{where}: expected a mapping with a `type` key, got {block!r}']
    if 'type' not in block:
        return [f'{where}.type: missing; name the {what} to build']
    name = block['type']
    if name not in registry:
        known = registry.plain_names()
        return [f'{where}.type: unknown {what} {name!r}{suggest(name, known)}; known: {", ".join(known)}']
    cls = registry.get(name)
    keys = [k for k in block if k != 'type']
    return [
        f'{where}.{k}: {cls.__name__} has no argument {k!r}{suggest(k, inspect.signature(cls).parameters)}'
        for k in unknown_kwargs(cls, keys)
    ]


def check_structure(opt: dict) -> list[str]:
    problems = unknown_keys({k: v for k, v in opt.items() if not re.fullmatch(r'network_\w+', k)}, TOP_LEVEL_KEYS, '')
    for section, known in SECTION_KEYS.items():
        block = opt.get(section)
        if block is None:
            continue
        if not isinstance(block, dict):
            problems.append(f'{section}: expected a mapping, got {block!r}')
            continue
        problems += unknown_keys(block, known, f'{section}.', SECTION_PATTERNS.get(section, ()))
    if 'model_type' not in opt:
        problems.append('model_type: missing; name the model to build (e.g. SRModel)')
    return problems


def check_types(opt: dict) -> list[str]:
    problems = []
    scale = opt.get('scale')
    if scale is not None and (not isinstance(scale, int) or isinstance(scale, bool) or scale < 1):
        problems.append(f'scale: must be a positive integer, got {scale!r}')
    for key in NUMBER_KEYS:
        problems += kind_problem(key, get_path(opt, key), 'number')
    for key in BOOL_KEYS:
        problems += kind_problem(key, get_path(opt, key), 'bool')
    return problems


def check_networks(opt: dict) -> list[str]:
    """Every network block names a registered arch with its arguments; an arch with its own `check_options`
    (SpandrelNet: weight file, package, scale) is asked too, for the blocks the model builds."""
    problems = []
    unused = unused_networks(opt)
    for key, block in opt.items():
        if re.fullmatch(r'network_\w+', key) and block is not None:
            block_problems = check_typed_block(block, key, ARCH_REGISTRY, 'network')
            problems += block_problems
            arch = ARCH_REGISTRY.get(block['type']) if not block_problems else None
            if key not in unused and hasattr(arch, 'check_options'):
                problems += [f'{key}.{problem}' for problem in arch.check_options(block, opt)]
    return problems


def check_losses_and_metrics(opt: dict) -> list[str]:
    problems = []
    for key, block in (opt.get('train') or {}).items():
        if key.endswith('_opt') and block is not None:
            problems += check_typed_block(block, f'train.{key}', LOSS_REGISTRY, 'loss')
    for name, block in ((opt.get('val') or {}).get('metrics') or {}).items():
        if not isinstance(block, dict) or 'type' not in block:
            problems.append(f'val.metrics.{name}: expected a mapping with a `type` key')
        elif block['type'] not in METRIC_REGISTRY:
            known = METRIC_REGISTRY.plain_names()
            problems.append(f'val.metrics.{name}.type: unknown metric {block["type"]!r}{suggest(block["type"], known)}')
    return problems


def lpips_weight_problems(block: dict, where: str) -> list[str]:
    """An LPIPS metric's backbone file must be present now, not at the first validation hours into a run."""
    from basicsr.metrics.lpips_metric import resolve_backbone_file

    if block.get('pretrained_backbone', True) is False or block.get('net', 'alex') not in ('alex', 'vgg'):
        return []
    try:
        resolve_backbone_file(block.get('net', 'alex'), block.get('backbone_weights_path'))
    except FileNotFoundError as err:
        return [f'{where}: {err}']
    return []


def missing_vgg_file(block: dict) -> Optional[str]:
    """Why a loss on ImageNet VGG features cannot find its weight file (None when found or not needed): checked now,
    not after the datasets and networks are built."""
    from basicsr.archs.vgg_arch import TORCHVISION_WEIGHT_FILES, vgg_weight_file

    cls = LOSS_REGISTRY.get(block['type']) if block.get('type') in LOSS_REGISTRY else None
    params = inspect.signature(cls).parameters if cls is not None else {}
    if 'vgg_weights_path' not in params or block.get('pretrained', True) is False:
        return None
    type_key = 'vgg_type' if 'vgg_type' in params else 'model_type'
    vgg_type = block.get(type_key, params[type_key].default if type_key in params else 'vgg19')
    if vgg_type not in TORCHVISION_WEIGHT_FILES:
        return None  # the loss itself reports an unknown VGG type
    try:
        vgg_weight_file(vgg_type, block.get('vgg_weights_path'))
    except FileNotFoundError as err:
        return str(err)
    return None


def check_optimizers(opt: dict) -> list[str]:
    from basicsr.models.optim_factory import OPTIMIZERS, SCHEDULERS

    problems = []
    for key, block in (opt.get('train') or {}).items():
        if not isinstance(block, dict) or 'type' not in block:
            continue
        if key.startswith('optim_'):
            table = OPTIMIZERS
        elif key == 'scheduler':
            table = SCHEDULERS
        else:
            continue
        name = block['type']
        if name not in table:
            problems.append(f'train.{key}.type: unknown {name!r}{suggest(name, table)}; known: {", ".join(table)}')
            continue
        bad = unknown_kwargs(table[name], [k for k in block if k != 'type'])
        problems += [f'train.{key}.{k}: {name} has no argument {k!r}' for k in bad]
    return problems


def check_datasets(opt: dict) -> list[str]:
    from basicsr.data.dataset_options import unknown_dataset_keys

    problems = []
    for key, block in (opt.get('datasets') or {}).items():
        where = f'datasets.{key}'
        if not isinstance(block, dict) or 'type' not in block:
            problems.append(f'{where}: expected a mapping with a `type` key')
            continue
        if block['type'] not in DATASET_REGISTRY:
            known = DATASET_REGISTRY.plain_names()
            problems.append(
                f'{where}.type: unknown dataset {block["type"]!r}{suggest(block["type"], known)}; '
                f'known: {", ".join(known)}'
            )
            continue
        cls = DATASET_REGISTRY.get(block['type'])
        known_keys = getattr(cls, 'option_keys', ())
        aliases = DATASET_ALIASES if key.startswith('train') else ()
        problems += [
            f'{where}.{k}: unknown option key for {cls.__name__}{suggest(k, known_keys)}'
            for k in unknown_dataset_keys(cls, block)
            if k not in aliases and not is_legacy_key(k, f'{where}.')
        ]
        problems += check_dataset_paths(block, where)
        if hasattr(cls, 'check_options'):
            problems += [f'{where}.{p}' for p in cls.check_options(block)]
    return problems


def check_dataset_paths(block: dict, where: str) -> list[str]:
    problems = []
    for key in ('dataroot_gt', 'dataroot_lq', 'meta_info_file', 'meta_info'):
        paths = block.get(key)
        for path in paths if isinstance(paths, list) else [paths]:
            if isinstance(path, str) and not os.path.exists(path):
                problems.append(
                    f'{where}.{key}: {path} does not exist (paths are relative to the launch directory {os.getcwd()})'
                )
    gt_size, scale = block.get('gt_size'), block.get('scale')
    if isinstance(gt_size, int) and isinstance(scale, int) and gt_size % scale:
        problems.append(f'{where}.gt_size: {gt_size} is not divisible by scale {scale}')
    return problems


def unused_networks(opt: dict) -> set[str]:
    """Network blocks the chosen model never builds (their weight paths are not checked)."""
    name = opt.get('model_type')
    if name not in MODEL_REGISTRY:
        return set()
    return set(MODEL_REGISTRY.get(name).unused_networks(opt))


def check_weight_paths(opt: dict) -> list[str]:
    problems = []
    skipped = {f'pretrain_{net}' for net in unused_networks(opt)}
    for key, val in (opt.get('path') or {}).items():
        if key in skipped:
            continue
        if (key.startswith('pretrain_network') or key == 'resume_state') and isinstance(val, str):
            if not os.path.isfile(val):
                problems.append(f'path.{key}: {val} does not exist; put the weight file there or correct the path')
    for name, block in ((opt.get('val') or {}).get('metrics') or {}).items():
        if isinstance(block, dict) and block.get('type') == 'calculate_lpips':
            problems += lpips_weight_problems(block, f'val.metrics.{name}')
    missing_vgg: dict[str, list[str]] = {}  # one problem per missing file, naming every loss that needs it
    for key, block in (opt.get('train') or {}).items():
        reason = missing_vgg_file(block) if key.endswith('_opt') and isinstance(block, dict) else None
        if reason:
            missing_vgg.setdefault(reason, []).append(f'train.{key}')
    return problems + [f'{", ".join(keys)}: {reason}' for reason, keys in missing_vgg.items()]


def check_training_switches(opt: dict) -> list[str]:
    """`train.perf`, `train.accum_iter`, `train.grad_clip` and their aliases, as the chosen model reads them."""
    name = opt.get('model_type')
    if name not in MODEL_REGISTRY or not opt.get('is_train', 'train' in opt):
        return []
    device_type = 'cuda' if opt.get('num_gpu') and torch.cuda.is_available() else 'cpu'
    return MODEL_REGISTRY.get(name).resolve_perf(opt, device_type)[1]


def check_checkpoint_format(opt: dict) -> list[str]:
    """`logger.save_checkpoint_format`: pth (BasicSR's, the default) or safetensors (needs the package)."""
    fmt = get_path(opt, 'logger.save_checkpoint_format')
    if fmt is None:
        return []
    if fmt not in CHECKPOINT_FORMATS:
        return [f'logger.save_checkpoint_format: {fmt!r} is not one of {", ".join(CHECKPOINT_FORMATS)}']
    if fmt == 'safetensors' and importlib.util.find_spec('safetensors') is None:
        return [
            'logger.save_checkpoint_format: safetensors needs the safetensors package: pip install safetensors '
            "(or pip install -e '.[export]'), or use pth"
        ]
    return []


def check_model(opt: dict) -> list[str]:
    name = opt.get('model_type')
    if name is None:
        return []
    if name not in MODEL_REGISTRY:
        known = MODEL_REGISTRY.plain_names()
        return [f'model_type: unknown model {name!r}{suggest(name, known)}; known: {", ".join(known)}']
    model_cls = MODEL_REGISTRY.get(name)
    return list(model_cls.check_options(opt)) if hasattr(model_cls, 'check_options') else []


def validate_options(opt: dict) -> None:
    """Raise OptionError listing every problem of `opt`; registries are imported first so names resolve."""
    import basicsr.archs  # noqa: F401  (fills ARCH_REGISTRY)
    import basicsr.data  # noqa: F401
    import basicsr.losses  # noqa: F401
    import basicsr.metrics  # noqa: F401
    import basicsr.models  # noqa: F401

    problems = check_structure(opt) + check_types(opt) + check_value_types(opt)
    for check in (
        check_networks,
        check_losses_and_metrics,
        check_optimizers,
        check_datasets,
        check_weight_paths,
        check_checkpoint_format,
        check_training_switches,
        check_model,
    ):
        problems += check(opt)
    if problems:
        overridden = force_yml_keys(opt.get('force_yml') or [])
        source = opt.get('opt_path')
        if source and overridden:
            source += ' and its --force_yml overrides'
        raise OptionError([name_override(p, overridden) for p in problems], source)


def name_override(problem: str, overridden: dict[str, str]) -> str:
    """Append `(set by --force_yml <item>)` to a problem whose key path (or a parent) came from the command line."""
    key = re.split(r'[: \[]', problem, maxsplit=1)[0]
    for path, item in overridden.items():
        if key == path or key.startswith(path + '.'):
            return f'{problem} (set by --force_yml {item})'
    return problem
