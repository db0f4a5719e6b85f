"""Performance and precision switches (`train.perf`): exact speed-ups, AMP, channels_last and torch.compile.

Every switch lives in `train.perf`; `amp`, `channels_last` and `compile` may also be given at the top level or directly
under `train` (traiNNer-style), but only in one place. Switches marked exact change how a step is computed, never what:
losses and gradients agree with the plain fp32 computation up to float rounding (checked by `scripts/benchmark.py`).
`amp` and `compile` are off by default; `amp` is not equal math.
"""
import contextlib
import inspect
from dataclasses import dataclass, fields, replace
from typing import ContextManager, Optional, Union

import torch
from torch import nn

from basicsr.utils.logger import get_root_logger

AMP_DTYPES = {'bf16': torch.bfloat16, 'fp16': torch.float16}
COMPILE_MODES = ('default', 'reduce-overhead', 'max-autotune', 'max-autotune-no-cudagraphs')
AUTO_CHOICES = ('auto', True, False)
AUTO_SWITCHES = ('fuse_discriminator', 'winograd')
ALIAS_KEYS = ('amp', 'channels_last', 'compile')


@dataclass(frozen=True)
class PerfOptions:
    """The `train.perf` switches; the defaults are the exact ones on, `amp` and `compile` off.

    shared_vgg: one batched VGG pass with gradients over the specialist outputs and one without over the generalist
        outputs and GT, serving the distillation, perceptual and ND losses (exact).
    inference_mode: the generalist forward runs under torch.inference_mode (exact).
    channels_last: networks and VGGs in NHWC memory format (exact up to float rounding).
    fused_optimizer: fused Adam/AdamW/SGD kernels (foreach for the others) unless the optim block chooses (exact up to
        float rounding).
    foreach_ema: the EMA update as two multi-tensor ops instead of a Python loop over parameters (exact).
    set_to_none: gradients are freed instead of zero-filled between steps (exact).
    fuse_discriminator: D called once per phase on concatenated real/fake inputs; 'auto' does so only where that is
        exact (no batch norm, no spectral norm power iteration in training mode).
    amp: 'bf16' | 'fp16' autocast for the networks and VGG, losses in fp32; fp16 adds a GradScaler (not equal math).
    compile: torch.compile of the generator and the VGG passes; a mode name selects torch's compile mode.
    winograd: VGG's wide 3x3 convolutions by Winograd F(4x4, 3x3), 4x fewer multiplications for the same result
        (exact up to float rounding); 'auto' uses it on the CPU in fp32, where it is measured faster, and leaves
        CUDA (cuDNN chooses its own algorithms) and AMP (its transforms lose too much in half precision) direct.
    """

    shared_vgg: bool = True
    inference_mode: bool = True
    channels_last: bool = True
    fused_optimizer: bool = True
    foreach_ema: bool = True
    set_to_none: bool = True
    fuse_discriminator: Union[bool, str] = 'auto'
    amp: Optional[str] = None
    compile: Union[bool, str] = False
    winograd: Union[bool, str] = 'auto'


EXACT_PERF = PerfOptions()
PERF_OFF = PerfOptions(shared_vgg=False, inference_mode=False, channels_last=False, fused_optimizer=False,
                       foreach_ema=False, set_to_none=False, fuse_discriminator=False, winograd=False)
BOOL_SWITCHES = ('shared_vgg', 'inference_mode', 'channels_last', 'fused_optimizer', 'foreach_ema', 'set_to_none')


def _given_perf_values(opt: dict) -> tuple[dict, list[str]]:
    """The switches written in the option dict, by name, and the problems with where they are written."""
    train_opt = opt.get('train') or {}
    perf = train_opt.get('perf') or {}
    if not isinstance(perf, dict):
        return {}, [f'train.perf: expected a mapping of switches, got {perf!r}']
    values = dict(perf)
    problems = [f'train.perf.{key}: unknown switch; known: {", ".join(f.name for f in fields(PerfOptions))}'
                for key in perf if key not in {f.name for f in fields(PerfOptions)}]
    for key in ALIAS_KEYS:
        places = [where for where, section in (('train.perf', perf), ('train', train_opt), ('', opt))
                  if key in section]
        if len(places) > 1:
            problems.append(f'{key}: given in {" and ".join(p or "the top level" for p in places)}; keep one')
        elif places and places[0] != 'train.perf':
            values[key] = (train_opt if places[0] == 'train' else opt)[key]
    return values, problems


def _value_problems(values: dict) -> list[str]:
    problems = [f'train.perf.{key}: expected true or false, got {values[key]!r}'
                for key in BOOL_SWITCHES if key in values and not isinstance(values[key], bool)]
    if values.get('amp') not in (None, False, *AMP_DTYPES):
        problems.append(f"amp: {values['amp']!r} is not supported; use bf16, fp16 or ~ (off)")
    if 'compile' in values and not isinstance(values['compile'], bool) and values['compile'] not in COMPILE_MODES:
        problems.append(f"compile: {values['compile']!r}; use true, false or one of {', '.join(COMPILE_MODES)}")
    problems += [f'train.perf.{key}: {values[key]!r}; use auto, true or false'
                 for key in AUTO_SWITCHES if values.get(key, 'auto') not in AUTO_CHOICES]
    return problems


def perf_option_problems(opt: dict) -> list[str]:
    """Every problem with the performance switches of `opt`, each with its key path (for up-front validation)."""
    values, problems = _given_perf_values(opt)
    return problems + _value_problems(values)


def perf_options(opt: dict, defaults: Optional[PerfOptions]) -> PerfOptions:
    """The switches in force: `defaults` overridden by the option dict; `defaults` None means the model has none."""
    values, problems = _given_perf_values(opt)
    problems += _value_problems(values)
    if defaults is None and values:
        problems.append(f'train.perf ({", ".join(sorted(values))}): {opt.get("model_type", "this model")} has no '
                        'performance switches; only SRGANRefModel (PDD) uses them, remove them from the file')
    if problems:
        raise ValueError('Performance options:\n  - ' + '\n  - '.join(problems))
    if defaults is None:
        return PERF_OFF
    if values.get('amp') is False:
        values['amp'] = None
    return replace(defaults, **values)


def check_device_support(perf: PerfOptions, device: torch.device) -> None:
    """Fail early, naming the switch, when the device cannot run what `perf` asks for."""
    if perf.amp == 'bf16' and device.type == 'cuda' and not torch.cuda.is_bf16_supported():
        raise ValueError('amp: bf16 needs a GPU with bfloat16 support (Ampere or newer); use amp: fp16 on this GPU.')
    if perf.amp == 'fp16' and device.type == 'cpu':
        get_root_logger().warning('amp: fp16 on the CPU is emulated and slow; amp: bf16 is the CPU choice.')


def winograd_active(perf: PerfOptions, device: torch.device) -> bool:
    """Whether VGG's convolutions run by Winograd: as asked, or under 'auto' on the CPU without AMP."""
    if perf.winograd == 'auto':
        return device.type == 'cpu' and perf.amp is None
    return perf.winograd


def autocast(device: torch.device, amp: Optional[str]) -> ContextManager:
    """Autocast to the `amp` dtype on `device`, or a no-op when AMP is off."""
    if amp is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=AMP_DTYPES[amp])


def grad_scaler(device: torch.device, amp: Optional[str]) -> Optional[torch.amp.GradScaler]:
    """A GradScaler for fp16 (its gradients underflow without loss scaling); None otherwise."""
    return torch.amp.GradScaler(device.type) if amp == 'fp16' else None


def no_grad_context(perf: PerfOptions) -> ContextManager:
    """inference_mode where the switch allows (no version counters, no view tracking), else no_grad."""
    return torch.inference_mode() if perf.inference_mode else torch.no_grad()


def optimizer_speed_kwargs(optim_class: type, perf: PerfOptions) -> dict:
    """`fused=True` where `optim_class` has a fused kernel, else `foreach=True`; nothing when the switch is off."""
    if not perf.fused_optimizer:
        return {}
    parameters = inspect.signature(optim_class).parameters
    if 'fused' in parameters:
        return {'fused': True}
    return {'foreach': True} if 'foreach' in parameters else {}


def memory_format(perf: PerfOptions) -> torch.memory_format:
    return torch.channels_last if perf.channels_last else torch.contiguous_format


def to_memory_format(net: nn.Module, perf: PerfOptions) -> nn.Module:
    """Put the 4-D parameters of `net` in the memory format `perf` asks for (in place; returns `net`)."""
    return net.to(memory_format=memory_format(perf)) if perf.channels_last else net


def compile_in_place(net: nn.Module, perf: PerfOptions) -> None:
    """torch.compile `net`'s forward in place (its state_dict keys stay the same) when `perf.compile` is on."""
    if perf.compile:
        net.compile(mode=None if perf.compile is True else perf.compile)
