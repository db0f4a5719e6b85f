"""The networks `basicsr-adapt` starts from: architecture, sizes and scale read from their checkpoints."""

import os
from typing import Optional

from basicsr.inference.network_loading import arch_options_from_state, guess_arch, network_scale, read_state
from basicsr.utils.errors import UserError


class NetworkFileError(UserError, ValueError):
    """A --generalist / --specialist file that cannot start an adaptation."""


def trainable_network(path: str, flag: str) -> dict:
    """{'network': block, 'path', 'scale'} for an RRDBNet / SRVGGNetCompact / MSRResNet checkpoint."""
    if not os.path.isfile(path):
        raise NetworkFileError(
            f'{flag} {path} does not exist; give a BasicSR / Real-ESRGAN checkpoint (.pth or .safetensors).'
        )
    try:
        state_dict = read_state(path, 'params_ema')
        arch = guess_arch(state_dict)
        if arch is None:
            keys = ', '.join(list(state_dict)[:8])
            raise NetworkFileError(
                f'{flag} {path} is not an SR state dict this framework trains (RRDBNet, '
                f'SRVGGNetCompact or MSRResNet); the keys found start: {keys}.'
            )
        network = arch_options_from_state(arch, state_dict)
    except (KeyError, ValueError) as err:
        raise NetworkFileError(f'{flag}: {err}' if not isinstance(err, NetworkFileError) else str(err)) from err
    return {'network': network, 'path': os.path.abspath(path), 'scale': network_scale(network)}


def frozen_generalist(path: str) -> dict:
    """Static mode's generalist: a network of ours, or any architecture spandrel loads (a SpandrelNet block)."""
    try:
        return trainable_network(path, '--generalist')
    except NetworkFileError as ours_error:
        try:
            from basicsr.archs.spandrel_arch import load_spandrel_descriptor

            descriptor = load_spandrel_descriptor(path)
        except (ImportError, ValueError, FileNotFoundError):
            raise ours_error from None
    return {
        'network': {'type': 'SpandrelNet', 'path': os.path.abspath(path)},
        'path': os.path.abspath(path),
        'scale': descriptor.scale,
    }


def starting_networks(mode: str, generalist: str, specialist: Optional[str]) -> tuple[dict, Optional[dict]]:
    """(generalist, specialist or None) for `--mode ema` / `static`, with their scales checked to agree."""
    if mode == 'ema':
        if specialist is not None:
            raise NetworkFileError(
                '--specialist is for --mode static; EMA mode starts both networks from --generalist.'
            )
        return trainable_network(generalist, '--generalist'), None
    if specialist is None:
        raise NetworkFileError(
            '--mode static needs --specialist FILE: the network to adapt (e.g. a bicubic-trained '
            'ESRGAN), taught by the frozen --generalist.'
        )
    teacher, student = frozen_generalist(generalist), trainable_network(specialist, '--specialist')
    if teacher['scale'] != student['scale']:
        raise NetworkFileError(
            f'--generalist {generalist} is x{teacher["scale"]} but --specialist {specialist} is '
            f'x{student["scale"]}: both must upscale by the same factor.'
        )
    return teacher, student
