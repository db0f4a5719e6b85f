"""Build an SR network for inference from a checkpoint: from a YAML `network_g` block, from an arch name, or from
the checkpoint alone (RRDBNet, SRVGGNetCompact and MSRResNet are recognised from their key names and shapes).

Weights always come from the given file (`params_ema`, then `params`, then a raw state dict); nothing is downloaded.
"""

import math
import pickle
import re
from typing import Any, Optional

from torch import nn

from basicsr.archs import build_network
from basicsr.utils.checkpoint_util import load_state_into, read_network_file
from basicsr.utils.options import load_option_file

# RRDBNet pixel-unshuffles its input by this factor for each scale (so conv_first sees in_ch * factor^2 channels).
RRDB_SCALE_OF_FACTOR = {1: 4, 2: 2, 4: 1}
SCALE_KEYS = ('scale', 'upscale')


def _weight(state_dict: dict, key: str, arch: str) -> Any:
    if key not in state_dict:
        found = ', '.join(list(state_dict)[:6])
        raise KeyError(
            f"The checkpoint has no '{key}', which {arch} needs: it is not a {arch} checkpoint "
            f'(its keys start: {found} ...; it looks like {guess_arch(state_dict) or "an unknown arch"}).'
        )
    return state_dict[key]


def _count_indices(state_dict: dict, pattern: str) -> int:
    return len({int(m.group(1)) for key in state_dict if (m := re.match(pattern, key))})


def _rrdbnet_options(state_dict: dict, overrides: dict) -> dict:
    conv_first = _weight(state_dict, 'conv_first.weight', 'RRDBNet')
    num_out_ch = overrides.get('num_out_ch', _weight(state_dict, 'conv_last.weight', 'RRDBNet').shape[0])
    num_in_ch = overrides.get('num_in_ch', num_out_ch)
    factor = math.isqrt(max(conv_first.shape[1] // num_in_ch, 1))
    if factor * factor * num_in_ch != conv_first.shape[1] or factor not in RRDB_SCALE_OF_FACTOR:
        raise ValueError(
            f'RRDBNet conv_first takes {conv_first.shape[1]} channels, which is not {num_in_ch} input '
            'channels pixel-unshuffled by 1, 2 or 4; pass --arch-opt num_in_ch=<n> scale=<s>.'
        )
    return {
        'num_in_ch': num_in_ch,
        'num_out_ch': num_out_ch,
        'scale': RRDB_SCALE_OF_FACTOR[factor],
        'num_feat': conv_first.shape[0],
        'num_block': _count_indices(state_dict, r'body\.(\d+)\.rdb1\.'),
        'num_grow_ch': _weight(state_dict, 'body.0.rdb1.conv1.weight', 'RRDBNet').shape[0],
    }


def _srvgg_options(state_dict: dict, overrides: dict) -> dict:
    first = _weight(state_dict, 'body.0.weight', 'SRVGGNetCompact')
    conv_indices = sorted(
        int(m.group(1))
        for key, value in state_dict.items()
        if (m := re.fullmatch(r'body\.(\d+)\.weight', key)) and value.dim() == 4
    )
    num_in_ch = overrides.get('num_in_ch', first.shape[1])
    num_out_ch = overrides.get('num_out_ch', num_in_ch)
    last_channels = state_dict[f'body.{conv_indices[-1]}.weight'].shape[0]
    upscale = math.isqrt(last_channels // num_out_ch)
    if upscale * upscale * num_out_ch != last_channels:
        raise ValueError(
            f'SRVGGNetCompact last conv gives {last_channels} channels, not {num_out_ch} x upscale^2; '
            'pass --arch-opt num_out_ch=<n> upscale=<s>.'
        )
    has_prelu = 'body.1.weight' in state_dict and state_dict['body.1.weight'].dim() == 1
    if not has_prelu and 'act_type' not in overrides:
        raise ValueError(
            'This SRVGGNetCompact checkpoint has no PReLU weights, so its activation is relu or '
            'leakyrelu, which the file does not tell: pass --arch-opt act_type=relu (or leakyrelu).'
        )
    return {
        'num_in_ch': num_in_ch,
        'num_out_ch': num_out_ch,
        'num_feat': first.shape[0],
        'num_conv': len(conv_indices) - 2,
        'upscale': upscale,
        'act_type': 'prelu' if has_prelu else None,
    }


def _msrresnet_options(state_dict: dict, overrides: dict) -> dict:
    conv_first = _weight(state_dict, 'conv_first.weight', 'MSRResNet')
    num_feat = conv_first.shape[0]
    if 'upconv2.weight' in state_dict:
        upscale = 4
    else:
        upscale = math.isqrt(_weight(state_dict, 'upconv1.weight', 'MSRResNet').shape[0] // num_feat)
    num_out_ch = _weight(state_dict, 'conv_last.weight', 'MSRResNet').shape[0]
    return {
        'num_in_ch': conv_first.shape[1],
        'num_out_ch': num_out_ch,
        'num_feat': num_feat,
        'num_block': _count_indices(state_dict, r'body\.(\d+)\.conv1\.'),
        'upscale': upscale,
    }


ARCH_OPTION_READERS = {'RRDBNet': _rrdbnet_options, 'SRVGGNetCompact': _srvgg_options, 'MSRResNet': _msrresnet_options}


def guess_arch(state_dict: dict) -> Optional[str]:
    """The arch whose key names the state dict carries (RRDBNet, MSRResNet, SRVGGNetCompact), or None."""
    if 'body.0.rdb1.conv1.weight' in state_dict:
        return 'RRDBNet'
    if 'upconv1.weight' in state_dict and 'conv_first.weight' in state_dict:
        return 'MSRResNet'
    if 'body.0.weight' in state_dict and 'conv_first.weight' not in state_dict:
        return 'SRVGGNetCompact'
    return None


def arch_options_from_state(arch: str, state_dict: dict, overrides: Optional[dict] = None) -> dict:
    """Constructor options (`type` included) of a known arch read from its weights; `overrides` win."""
    overrides = dict(overrides or {})
    base = arch.removesuffix('_basicsr')
    if base in ARCH_OPTION_READERS:
        read = {k: v for k, v in ARCH_OPTION_READERS[base](state_dict, overrides).items() if v is not None}
    else:
        read = {}
    return {'type': arch, **read, **overrides}


def network_block(option_file: str, key: str = 'network_g') -> dict:
    """The network block `key` of a YAML option file, checked to name a `type`."""
    block = load_option_file(option_file).get(key)
    if not isinstance(block, dict) or 'type' not in block:
        raise KeyError(
            f"{option_file}: no '{key}' block with a 'type' (the network to build); "
            'check the file or pass --network-key.'
        )
    return dict(block)


def network_scale(network_opt: dict) -> int:
    """The upscaling factor an arch's options declare (`scale` or `upscale`)."""
    for key in SCALE_KEYS:
        if isinstance(network_opt.get(key), int):
            return network_opt[key]
    raise ValueError(f"Network options {network_opt} declare no 'scale'/'upscale'; pass --scale.")


def network_from_state(
    state_dict: dict,
    source: str,
    arch: Optional[str] = None,
    network_opt: Optional[dict] = None,
    overrides: Optional[dict] = None,
    strict: bool = True,
) -> tuple[nn.Module, dict]:
    """Build the network for `state_dict` (read from `source`) and load it in eval mode; returns (net, options).

    `network_opt` (a YAML block) is used as given; otherwise the arch is `arch` or guessed from the weights, and its
    sizes are read from the weights. A key or shape mismatch raises with the full key report.
    """
    if network_opt is not None:
        opt = {**network_opt, **(overrides or {})}
    else:
        arch = arch or guess_arch(state_dict)
        if arch is None:
            raise ValueError(
                f'Cannot tell the arch of {source} from its keys ({", ".join(list(state_dict)[:6])} '
                '...): it is not an RRDBNet, SRVGGNetCompact or MSRResNet state dict; pass --arch NAME '
                '(with --arch-opt key=value) or --opt <option file>.'
            )
        opt = arch_options_from_state(arch, state_dict, overrides)
    net = build_network(opt)
    load_state_into(net, state_dict, strict=strict, source=source)
    return net.eval(), opt


def read_state(model_path: str, param_key: str = 'params_ema') -> dict:
    """The state dict of `model_path` (`param_key` with BasicSR's fallbacks); unreadable files raise ValueError."""
    try:
        return read_network_file(model_path, param_key)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as err:
        raise ValueError(
            f'Cannot read checkpoint {model_path}: it is not a PyTorch or safetensors weights file, or '
            f'it is truncated ({type(err).__name__}).'
        ) from err


def load_inference_network(
    model_path: str,
    arch: Optional[str] = None,
    network_opt: Optional[dict] = None,
    param_key: str = 'params_ema',
    overrides: Optional[dict] = None,
    strict: bool = True,
) -> tuple[nn.Module, dict]:
    """Build the network and load `model_path` (.pth or .safetensors) into it in eval mode (`network_from_state`)."""
    return network_from_state(read_state(model_path, param_key), model_path, arch, network_opt, overrides, strict)
