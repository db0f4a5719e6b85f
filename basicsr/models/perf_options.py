"""The speed and memory switches every model offers, read once from the option dict and checked with their key paths.

Where they are written:
    train.perf.{amp, channels_last, compile, fused_optimizer, foreach_ema, set_to_none, <model-specific switches>}
    train.accum_iter       micro-batches per optimiser step (effective batch = batch_size_per_gpu x accum_iter x GPUs)
    train.grad_clip        max gradient norm: a number for every trained network, or {net_g: 1.0, net_d: 5.0}
`amp`, `channels_last` and `compile` may also stand directly under `train` or at the top level. Spellings of the
maintained BasicSR forks are accepted as aliases (documented in docs/performance.md): traiNNer-redux / neosr
`use_amp` + `amp_bf16` / `bfloat16`, `use_channels_last`, `use_compile` (top level), `grad_clip: true` (net_g at max
norm 1.0, their behaviour) and `accum_iter` / `accumulate` in the training dataset block. A key given twice with
different values is an error, never a silent choice.
"""

import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Optional, Union

import torch

AMP_DTYPES = {'bf16': torch.bfloat16, 'fp16': torch.float16}
COMPILE_MODES = ('default', 'reduce-overhead', 'max-autotune', 'max-autotune-no-cudagraphs')
TOP_LEVEL_SWITCHES = ('amp', 'channels_last', 'compile')  # also accepted under `train` and at the top level
OUTSIDE_PERF = ('accum_iter', 'grad_clip')  # written directly under `train`
ALIAS_GRAD_CLIP_NORM = 1.0  # what traiNNer-redux and neosr clip net_g to when `grad_clip: true`
# Keys of the training switches outside `train.perf` (option_check accepts them at these places).
TOP_LEVEL_ALIASES = ('use_amp', 'amp_bf16', 'bfloat16', 'use_channels_last', 'use_compile')
DATASET_ALIASES = ('accum_iter', 'accumulate')


@dataclass(frozen=True)
class PerfOptions:
    """The switches in force for one model; defaults are BasicSR's computation (exact, fp32, no accumulation).

    amp: 'bf16' | 'fp16' autocast for the networks (VGGs included); every loss is computed in fp32; fp16 adds a
        GradScaler. Not equal math.
    channels_last: networks and loss VGGs in NHWC memory format (same math; faster convolutions on tensor cores).
    compile: torch.compile of the generator's forward (a mode name picks torch's compile mode).
    fused_optimizer: fused Adam/AdamW/SGD kernels (foreach for the others) unless the optimizer block chooses.
    foreach_ema: the EMA update as two multi-tensor operations (bit-identical to the per-parameter loop).
    set_to_none: gradients are freed instead of zero-filled between steps (bit-identical).
    accum_iter: gradients of this many micro-batches are summed (each loss divided by it) before one optimiser step.
    grad_clip: max gradient norm per network name (`net_g`, `net_d`); the norm before clipping is logged.
    """

    amp: Optional[str] = None
    channels_last: bool = False
    compile: Union[bool, str] = False
    fused_optimizer: bool = False
    foreach_ema: bool = True
    set_to_none: bool = True
    accum_iter: int = 1
    grad_clip: Mapping[str, float] = field(default_factory=dict)


class GivenValues:
    """Switch values found in an option dict, each with the key path it came from; conflicts become problems."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.origin: dict[str, str] = {}
        self.problems: list[str] = []

    def add(self, name: str, value: Any, path: str) -> None:
        if name in self.values and self.values[name] != value:
            self.problems.append(
                f'{path}: {value!r} conflicts with {self.origin[name]}: {self.values[name]!r} '
                f'(both set {name}); keep one'
            )
            return
        self.values.setdefault(name, value)
        self.origin.setdefault(name, path)


def _read_amp_aliases(opt: dict, given: GivenValues) -> None:
    """traiNNer-redux `use_amp` + `amp_bf16`, neosr `use_amp` + `bfloat16`: fp16 unless bf16 is asked."""
    bf16_keys = [key for key in ('amp_bf16', 'bfloat16') if opt.get(key)]
    if 'use_amp' not in opt:
        given.problems += [
            f'{key}: true needs use_amp: true beside it (or write train.perf.amp: bf16)' for key in bf16_keys
        ]
        return
    if not isinstance(opt['use_amp'], bool):
        given.problems.append(f'use_amp: expected true or false, got {opt["use_amp"]!r}')
        return
    given.add('amp', ('bf16' if bf16_keys else 'fp16') if opt['use_amp'] else None, 'use_amp')


def _read_dataset_aliases(opt: dict, given: GivenValues) -> None:
    for name, block in (opt.get('datasets') or {}).items():
        if isinstance(block, dict) and name.startswith('train'):
            for key in DATASET_ALIASES:
                if key in block:
                    given.add('accum_iter', block[key], f'datasets.{name}.{key}')


def given_values(opt: dict) -> GivenValues:
    """Every training switch written in `opt`, under our keys or an alias."""
    given = GivenValues()
    train_opt = opt.get('train') or {}
    perf = train_opt.get('perf') or {}
    if not isinstance(perf, dict):
        given.problems.append(f'train.perf: expected a mapping of switches, got {perf!r}')
        perf = {}
    for key, value in perf.items():
        given.add(key, value, f'train.perf.{key}')
    for key in OUTSIDE_PERF:
        if key in train_opt:
            given.add(key, train_opt[key], f'train.{key}')
    for key in TOP_LEVEL_SWITCHES:
        for where, section in (('train.', train_opt), ('', opt)):
            if key in section:
                given.add(key, section[key], f'{where}{key}')
    for alias, name in (('use_channels_last', 'channels_last'), ('use_compile', 'compile')):
        if alias in opt:
            given.add(name, opt[alias], alias)
    _read_amp_aliases(opt, given)
    _read_dataset_aliases(opt, given)
    if given.values.get('amp') is False:
        given.values['amp'] = None
    return given


def _grad_clip(value: Any, path: str, networks: tuple[str, ...]) -> tuple[dict[str, float], list[str]]:
    """`train.grad_clip` as {network: max_norm}: a number for all `networks`, a mapping, or true / false (alias)."""
    if value is None or value is False:
        return {}, []
    if value is True:
        return {'net_g': ALIAS_GRAD_CLIP_NORM}, []
    mapping = dict.fromkeys(networks, value) if not isinstance(value, dict) else value
    clip, problems = {}, []
    for name, norm in mapping.items():
        where = path if not isinstance(value, dict) else f'{path}.{name}'
        if name not in networks:
            problems.append(f'{where}: this model trains {", ".join(networks)}; no network {name!r}')
        elif isinstance(norm, bool) or not isinstance(norm, (int, float)) or norm <= 0:
            problems.append(f'{where}: the max gradient norm must be a positive number, got {norm!r}')
        else:
            clip[name] = float(norm)
    return clip, problems


def _value_problems(values: dict, origin: dict, bool_switches: list[str]) -> list[str]:
    problems = [
        f'{origin[key]}: expected true or false, got {values[key]!r}'
        for key in bool_switches
        if key in values and not isinstance(values[key], bool)
    ]
    if values.get('amp') not in (None, *AMP_DTYPES):
        problems.append(f'{origin["amp"]}: {values["amp"]!r} is not supported; use bf16, fp16 or ~ (off)')
    if 'compile' in values and not isinstance(values['compile'], bool) and values['compile'] not in COMPILE_MODES:
        problems.append(
            f'{origin["compile"]}: {values["compile"]!r}; use true, false or one of {", ".join(COMPILE_MODES)}'
        )
    accum = values.get('accum_iter', 1)
    if isinstance(accum, bool) or not isinstance(accum, int) or accum < 1:
        problems.append(
            f'{origin["accum_iter"]}: micro-batches per optimiser step must be an integer >= 1, got {accum!r}'
        )
    return problems


def device_problems(perf: PerfOptions, origin: dict, device_type: str) -> list[str]:
    """What the device cannot run, found before anything is built."""
    problems = []
    if perf.amp == 'fp16' and device_type == 'cpu':
        problems.append(
            f'{origin["amp"]}: fp16 needs a CUDA GPU (on the CPU it is emulated, slow and needs loss '
            'scaling); use bf16 on the CPU'
        )
    if (
        perf.amp == 'bf16'
        and device_type == 'cuda'
        and torch.cuda.is_available()
        and not torch.cuda.is_bf16_supported()
    ):
        problems.append(f'{origin["amp"]}: this GPU has no bfloat16 support (Ampere or newer has); use fp16')
    if perf.compile:
        problems += [f'{origin["compile"]}: {reason}' for reason in compile_blockers(device_type)]
    return problems


def compile_blockers(device_type: str) -> list[str]:
    """Why torch.compile cannot run here, if it cannot (no Dynamo for this Python, no Triton, no C++ compiler)."""
    import torch._dynamo  # imported only when compile is asked for: it takes a second

    if not torch._dynamo.is_dynamo_supported():
        return [
            f'torch.compile is not supported by torch {torch.__version__} on Python '
            f'{sys.version_info.major}.{sys.version_info.minor}; remove compile or change the environment'
        ]
    if device_type == 'cuda':
        from torch.utils._triton import has_triton

        return [] if has_triton() else ['torch.compile on CUDA needs Triton (pip install triton); remove compile']
    if not (shutil.which('g++') or shutil.which('c++') or shutil.which('clang++')):
        return ['torch.compile on the CPU needs a C++ compiler (g++ or clang++) on PATH; remove compile']
    return []


def resolve_perf(
    opt: dict, defaults: PerfOptions, networks: tuple[str, ...], device_type: str
) -> tuple[PerfOptions, list[str]]:
    """The switches in force for a model whose defaults are `defaults` and which trains `networks`, and every
    problem with how `opt` writes them (unknown switch, wrong type, conflict, what the device cannot do)."""
    given = given_values(opt)
    names = {f.name for f in fields(defaults)}
    problems = given.problems + [
        f'{given.origin[key]}: unknown switch; known: {", ".join(sorted(names - set(OUTSIDE_PERF)))}'
        for key in given.values
        if key not in names
    ]
    values = {key: value for key, value in given.values.items() if key in names}
    bool_switches = [
        f.name for f in fields(defaults) if isinstance(getattr(defaults, f.name), bool) and f.name != 'compile'
    ]
    problems += _value_problems(values, given.origin, bool_switches)
    if 'grad_clip' in values:
        values['grad_clip'], clip_problems = _grad_clip(values['grad_clip'], given.origin['grad_clip'], networks)
        problems += clip_problems
    if problems:
        return defaults, problems
    perf = replace(defaults, **values)
    return perf, device_problems(perf, given.origin, device_type)


def switches_summary(perf: PerfOptions) -> str:
    """The switches in force, for the training log."""
    return ', '.join(f'{f.name}={getattr(perf, f.name)}' for f in fields(perf))
