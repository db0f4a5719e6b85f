"""SpandrelNet: any SR network spandrel can load (SwinIR, HAT, DAT, ...), built from its weight file.

Used as PDD-static's frozen generalist (`network_g_fix: {type: SpandrelNet, path: 4xHAT.pth}`) so a transformer can
teach an RRDBNet or Compact specialist. The network reads its own file: architecture and sizes come from spandrel's
detection, so no `pretrain_network_g_fix` is needed. spandrel is an optional package (`pip install -e .[export]`).
"""

import os
from typing import Any, Optional

import torch
from torch import nn

from basicsr.utils.registry import ARCH_REGISTRY


def load_spandrel_descriptor(path: str) -> Any:
    """spandrel's model descriptor for `path`; raises ImportError / FileNotFoundError / ValueError with the fix."""
    try:
        import spandrel
    except ImportError as err:
        raise ImportError(
            "SpandrelNet needs the spandrel package: pip install spandrel (or pip install -e '.[export]')."
        ) from err
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f'SpandrelNet weights {path} do not exist; check the path (relative to the launch folder {os.getcwd()}).'
        )
    try:
        return spandrel.ModelLoader().load_from_file(path)
    except Exception as err:  # UnsupportedModelError or a corrupt file: say which file and why
        raise ValueError(
            f"spandrel cannot load {path} ({type(err).__name__}: {err}); see spandrel's list of "
            'supported architectures.'
        ) from err


@ARCH_REGISTRY.register()
class SpandrelNet(nn.Module):
    """A network spandrel detects from the weight file `path`; `scale`, when given, must match the file's."""

    def __init__(self, path: str, scale: Optional[int] = None) -> None:
        super().__init__()
        descriptor = load_spandrel_descriptor(path)
        if scale is not None and descriptor.scale != scale:
            raise ValueError(f'SpandrelNet {path} is a x{descriptor.scale} model, not x{scale}.')
        self.model = descriptor.model
        self.scale = descriptor.scale
        self.architecture = descriptor.architecture.name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    @staticmethod
    def check_options(block: dict, opt: dict) -> list[str]:
        """Up-front checks: spandrel installed, the file present and loadable, its scale equal to `opt['scale']`."""
        if not isinstance(block.get('path'), str):
            return ['path: missing; give the weight file spandrel should load']
        try:
            descriptor = load_spandrel_descriptor(block['path'])
        except (ImportError, FileNotFoundError, ValueError) as err:
            return [f'path: {err}']
        scale = opt.get('scale')
        if isinstance(scale, int) and descriptor.scale != scale:
            return [
                f'path: {block["path"]} is a x{descriptor.scale} {descriptor.architecture.name}, but the specialist '
                f'works at scale {scale}; generalist and specialist scales must be equal'
            ]
        return []
