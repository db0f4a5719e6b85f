"""RealESRGANModel: Real-ESRGAN's GAN stage, trained on pairs degraded on the fly (Wang et al., ICCVW 2021)."""

import torch

from basicsr.models.degradation_synthesis import DegradationSynthesisMixin
from basicsr.models.srgan_model import SRGANModel
from basicsr.utils.registry import MODEL_REGISTRY


@MODEL_REGISTRY.register(suffix='basicsr')
class RealESRGANModel(DegradationSynthesisMixin, SRGANModel):
    """SRGANModel with synthesised LQ and optionally USM-sharpened targets (registered as RealESRGANModel_basicsr)."""

    def __init__(self, opt: dict) -> None:
        super().__init__(opt)
        self.setup_synthesis()

    def loss_targets(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.usm_target('l1_gt_usm'), self.usm_target('percep_gt_usm')

    def discriminator_pair(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.usm_target('gan_gt_usm'), self.output
