"""Value types of options, checked with their YAML key paths before anything is built.

PyYAML reads YAML 1.1, where `1e-4` (no dot) is text, not a number: BasicSR files write `!!float 1e-4`. A number
written as text, `batch_size_per_gpu: two` or `use_hflip: yes_please` would otherwise fail deep inside torch or a
data loader after minutes of set-up, or be taken silently. Constructor arguments (networks, losses, optimizers,
schedulers, metrics) are checked against their annotations and defaults; loader and top-level keys against tables.
"""

import inspect
import re
import typing
from collections.abc import Iterator
from numbers import Number
from typing import Any, Callable, Optional

from basicsr.utils.options import BARE_EXPONENT
from basicsr.utils.registry import ARCH_REGISTRY, LOSS_REGISTRY, METRIC_REGISTRY

KIND_TEXT = {'bool': 'true or false', 'number': 'a number', 'integer': 'an integer'}
TOP_LEVEL_KINDS = {
    'manual_seed': 'integer',
    'logger.keep_last': 'integer',
    'logger.tb_image_freq': 'number',
    'val.max_tb_images': 'integer',
    'val.pbar': 'bool',
    'val.tb_images': 'bool',
    'dist_params.port': 'integer',
    'dist_params.timeout': 'number',
    'train.fix_backbone': 'bool',
    'use_static_graph': 'bool',
    'train.nan_guard.max_consecutive': 'integer',
}
PATH_BOOL_PATTERN = re.compile(r'strict_load_\w+')
DATASET_KINDS = {
    'batch_size_per_gpu': 'integer',
    'num_worker_per_gpu': 'integer',
    'num_prefetch_queue': 'integer',
    'dataset_enlarge_ratio': 'number',  # crop sizes are checked by each dataset class's check_options
    'use_hflip': 'bool',
    'use_rot': 'bool',
    'use_shuffle': 'bool',
    'pin_memory': 'bool',
    'persistent_workers': 'bool',
}


def fits(value: Any, kind: str) -> bool:
    """True when `value` is of `kind` ('bool', 'number', 'integer'); ~ (None) always fits: it means the default."""
    if value is None:
        return True
    if kind == 'bool':
        return isinstance(value, bool)
    if isinstance(value, bool) or not isinstance(value, Number):
        return False
    return kind == 'number' or isinstance(value, int)


def kind_problem(where: str, value: Any, kind: str) -> list[str]:
    if fits(value, kind) or (isinstance(value, str) and BARE_EXPONENT.fullmatch(value)):
        return []  # a bare exponent is reported once, with its fix, by text_number_problems
    return [f'{where}: must be {KIND_TEXT[kind]}, got {value!r}']


def walk(node: Any, where: str = '') -> Iterator[tuple[str, Any]]:
    """(dotted key path, value) of every leaf; list items get `[i]`."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, f'{where}.{key}' if where else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f'{where}[{index}]')
    else:
        yield where, node


def text_number_problems(opt: dict) -> list[str]:
    """Every value that is an exponent-notation number YAML kept as text, with the two ways to write it."""
    problems = []
    for where, value in walk(opt):
        if isinstance(value, str) and BARE_EXPONENT.fullmatch(value.strip()):
            with_dot = re.sub(r'^([-+]?\d+)([eE])', r'\1.0\2', value.strip())
            problems.append(f'{where}: {value!r} is text to YAML, not a number; write {with_dot} or !!float {value}')
    return problems


def annotation_kind(annotation: Any) -> Optional[str]:
    """'bool', 'number' or 'integer' for plain, Optional and number-or-tensor annotations; None otherwise."""
    if annotation is bool:
        return 'bool'
    if annotation is int:
        return 'integer'
    if annotation is float:
        return 'number'
    if typing.get_origin(annotation) is typing.Union:
        kinds = {annotation_kind(arg) for arg in typing.get_args(annotation) if arg is not type(None)}
        tensor_like = all(
            annotation_kind(arg) or getattr(arg, '__name__', '') == 'Tensor'
            for arg in typing.get_args(annotation)
            if arg is not type(None)
        )
        kinds.discard(None)
        if tensor_like and len(kinds) == 1:
            return kinds.pop()
        if tensor_like and kinds <= {'number', 'integer'} and kinds:
            return 'number'
    return None


def argument_kinds(func: Callable) -> dict[str, str]:
    """{argument: kind} of `func`'s keyword arguments, from annotations, else from defaults (bool / number)."""
    try:
        params = inspect.signature(func, eval_str=True).parameters
    except (NameError, TypeError, ValueError):
        params = inspect.signature(func).parameters
    kinds = {}
    for name, param in params.items():
        if param.annotation is not inspect.Parameter.empty:
            kind = annotation_kind(param.annotation)
        elif isinstance(param.default, bool):
            kind = 'bool'
        elif isinstance(param.default, Number):
            kind = 'number'
        else:
            kind = None
        if kind:
            kinds[name] = kind
    return kinds


def block_type_problems(block: Any, where: str, func: Optional[Callable]) -> list[str]:
    """Arguments of a `{type: ..., **kwargs}` block whose values do not fit `func`'s signature."""
    if func is None or not isinstance(block, dict):
        return []
    kinds = argument_kinds(func)
    return [
        problem
        for key, value in block.items()
        if key in kinds
        for problem in kind_problem(f'{where}.{key}', value, kinds[key])
    ]


def registered(registry, block: Any) -> Optional[Callable]:
    name = block.get('type') if isinstance(block, dict) else None
    return registry.get(name) if isinstance(name, str) and name in registry else None


def constructor_type_problems(opt: dict) -> list[str]:
    """Networks, losses, optimizers, schedulers and metrics: values against their constructors' signatures."""
    from basicsr.models.optim_factory import OPTIMIZERS, SCHEDULERS

    problems = []
    for key, block in opt.items():
        if re.fullmatch(r'network_\w+', key):
            problems += block_type_problems(block, key, registered(ARCH_REGISTRY, block))
    for key, block in (opt.get('train') or {}).items():
        name = block.get('type') if isinstance(block, dict) else None
        if key.endswith('_opt'):
            func = registered(LOSS_REGISTRY, block)
        elif key.startswith('optim_') or key == 'scheduler':
            func = (OPTIMIZERS if key != 'scheduler' else SCHEDULERS).get(name) if isinstance(name, str) else None
        else:
            func = None
        problems += block_type_problems(block, f'train.{key}', func)
    for name, block in ((opt.get('val') or {}).get('metrics') or {}).items():
        problems += block_type_problems(block, f'val.metrics.{name}', registered(METRIC_REGISTRY, block))
    return problems


def get_dotted(opt: dict, dotted: str) -> Any:
    node: Any = opt
    for part in dotted.split('.'):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def table_type_problems(opt: dict) -> list[str]:
    """Top-level, `path.strict_load_*` and data-loader keys against their tables."""
    problems = [p for key, kind in TOP_LEVEL_KINDS.items() for p in kind_problem(key, get_dotted(opt, key), kind)]
    for key, value in (opt.get('path') or {}).items():
        if PATH_BOOL_PATTERN.fullmatch(key):
            problems += kind_problem(f'path.{key}', value, 'bool')
    for name, block in (opt.get('datasets') or {}).items():
        if isinstance(block, dict):
            problems += [
                p
                for key, kind in DATASET_KINDS.items()
                for p in kind_problem(f'datasets.{name}.{key}', block.get(key), kind)
            ]
    return problems


def check_value_types(opt: dict) -> list[str]:
    """Every value-type problem of `opt`, each starting with its key path."""
    return text_number_problems(opt) + constructor_type_problems(opt) + table_type_problems(opt)
