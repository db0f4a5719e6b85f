"""RealESRNetModel: the PSNR-oriented first stage of Real-ESRGAN, trained on pairs degraded on the fly."""

import torch

from basicsr.models.degradation_synthesis import DegradationSynthesisMixin
from basicsr.models.sr_model import SRModel
from basicsr.utils.registry import MODEL_REGISTRY


@MODEL_REGISTRY.register(suffix='basicsr')
class RealESRNetModel(DegradationSynthesisMixin, SRModel):
    """SRModel whose LQ inputs come from the second-order degradation (registered as RealESRNetModel_basicsr)."""

    def __init__(self, opt: dict) -> None:
        super().__init__(opt)
        self.setup_synthesis()

    def loss_targets(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Real-ESRNet learns the sharpened GT when `gt_usm: true` (its default), the plain GT otherwise."""
        target = self.gt_usm if self.opt.get('gt_usm', True) else self.gt
        return target, target
