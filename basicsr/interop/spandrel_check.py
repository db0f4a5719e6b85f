"""Will spandrel (chaiNNer, ComfyUI, ...) recognise an exported file? With spandrel installed the file is loaded and
its outputs compared with ours; without it, the variants spandrel is known to refuse are looked up.

Facts of spandrel's detection (spandrel 0.4): its ESRGAN architecture builds RRDB blocks with growth 32 whatever the
file holds; its Compact architecture is detected by a PReLU weight (`body.1.weight`) and always built with PReLU; it
has no MSRResNet (SRResNet) architecture.
"""

from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

SAME_OUTPUT_TOLERANCE = 1e-4
VARIANT_KEYS = {
    'RRDBNet': ('num_feat', 'num_block', 'num_grow_ch'),
    'SRVGGNetCompact': ('num_feat', 'num_conv', 'act_type'),
    'MSRResNet': ('num_feat', 'num_block'),
}


def first_line(err: BaseException, limit: int = 160) -> str:
    """`Type: first line of the message`, short enough for one line of output."""
    lines = str(err).strip().splitlines()
    return f'{type(err).__name__}: {lines[0][:limit]}' if lines else type(err).__name__


@dataclass(frozen=True)
class SpandrelVerdict:
    """Whether spandrel recognises the file, the variant it holds, how that was found, and what to change."""

    recognised: bool
    variant: str
    how: str
    advice: str = ''

    def message(self) -> str:
        if self.recognised:
            return f'spandrel: recognises this {self.variant} ({self.how}).'
        return f'spandrel: will NOT load this {self.variant} ({self.how}). {self.advice}'


def describe_variant(arch_opt: dict) -> str:
    """E.g. 'RRDBNet (num_feat 64, num_block 23, num_grow_ch 32, x4)'."""
    arch = arch_opt.get('type', '?').removesuffix('_basicsr')
    keys = VARIANT_KEYS.get(arch, ())
    scale = arch_opt.get('scale', arch_opt.get('upscale', 4))
    sizes = [f'{key} {arch_opt.get(key, "default")}' for key in keys]
    return f'{arch} ({", ".join([*sizes, f"x{scale}"])})'


def known_unsupported(arch_opt: dict) -> Optional[str]:
    """What to change when `arch_opt` is a variant spandrel refuses or rebuilds differently; None when it is not."""
    arch = arch_opt.get('type', '').removesuffix('_basicsr')
    if arch == 'RRDBNet' and arch_opt.get('num_grow_ch', 32) != 32:
        return (
            f"spandrel's ESRGAN builds RRDB blocks with growth 32; this network has num_grow_ch "
            f'{arch_opt["num_grow_ch"]}. Train with network_g.num_grow_ch: 32 for a file spandrel loads.'
        )
    if arch == 'SRVGGNetCompact' and arch_opt.get('act_type', 'prelu') != 'prelu':
        return (
            f"spandrel's Compact is detected by its PReLU weights and always built with PReLU; this network uses "
            f'{arch_opt["act_type"]}. Train with network_g.act_type: prelu for a file spandrel loads.'
        )
    if arch == 'MSRResNet':
        return (
            'spandrel has no MSRResNet (SRResNet) architecture; train an RRDBNet (growth 32) or a PReLU '
            'SRVGGNetCompact for a file spandrel loads.'
        )
    return None


def _table_verdict(arch_opt: dict, variant: str) -> SpandrelVerdict:
    advice = known_unsupported(arch_opt)
    how = 'spandrel is not installed; checked against the variants it is known to refuse'
    if advice is None:
        return SpandrelVerdict(True, variant, how + ' (pip install spandrel to load the file itself)')
    return SpandrelVerdict(False, variant, how, advice)


def spandrel_verdict(file_path: str, net: nn.Module, arch_opt: dict, image: torch.Tensor) -> SpandrelVerdict:
    """Load `file_path` with spandrel and compare its output on `image` (1, 3, h, w) with `net`'s."""
    variant = describe_variant(arch_opt)
    try:
        import spandrel
    except ImportError:
        return _table_verdict(arch_opt, variant)
    advice = known_unsupported(arch_opt) or 'Use an RRDBNet with growth 32 or a PReLU SRVGGNetCompact.'
    how = f'loaded with spandrel {spandrel.__version__}'
    try:
        descriptor = spandrel.ModelLoader().load_from_file(file_path)
    except Exception as err:  # UnsupportedModelError, or a state-dict mismatch inside spandrel's own arch
        return SpandrelVerdict(False, variant, f'{how}: {first_line(err)}', advice)
    with torch.no_grad():
        theirs = descriptor.model.eval().float()(image)
        ours = net.float().eval()(image)
    if theirs.shape != ours.shape:
        return SpandrelVerdict(
            False, variant, f'{how}: it gives a {tuple(theirs.shape)} output, not {tuple(ours.shape)}', advice
        )
    error = float((theirs - ours).abs().max())
    if error > SAME_OUTPUT_TOLERANCE:
        return SpandrelVerdict(
            False,
            variant,
            f'{how} as {descriptor.architecture.name}, but its outputs differ from ours by {error:.2e}',
            advice,
        )
    return SpandrelVerdict(
        True,
        variant,
        f'{how} as {descriptor.architecture.name} x{descriptor.scale}; outputs equal ours within {error:.1e}',
    )
