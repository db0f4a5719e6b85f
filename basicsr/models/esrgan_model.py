"""ESRGANModel: SRGANModel with the relativistic average GAN of ESRGAN (Wang et al., 2018, Eq. 1-2)."""

from collections import OrderedDict
from collections.abc import Iterator

import torch
from torch import Tensor

from basicsr.losses.loss_util import full_precision
from basicsr.models.srgan_model import SRGANModel
from basicsr.utils.registry import MODEL_REGISTRY


@MODEL_REGISTRY.register()
class ESRGANModel(SRGANModel):
    """D judges whether real data is more realistic than fake on average, and G the reverse."""

    def generator_gan_loss(self, output: torch.Tensor) -> torch.Tensor:
        real_d_pred = full_precision(self.net_d(self.gt).detach())
        fake_g_pred = full_precision(self.net_d(output))
        l_g_real = self.cri_gan(real_d_pred - torch.mean(fake_g_pred), False, is_disc=False)
        l_g_fake = self.cri_gan(fake_g_pred - torch.mean(real_d_pred), True, is_disc=False)
        return (l_g_real + l_g_fake) / 2

    def discriminator_losses(self, real: torch.Tensor, fake: torch.Tensor, loss_dict: OrderedDict) -> Iterator[Tensor]:
        fake_d_pred, real_d_pred = self.discriminator_predictions(fake.detach(), real)
        fake_d_pred = full_precision(fake_d_pred.detach())
        real_d_pred = full_precision(real_d_pred)
        l_d_real = self.cri_gan(real_d_pred - torch.mean(fake_d_pred), True, is_disc=True) * 0.5
        loss_dict.update(l_d_real=l_d_real, out_d_real=torch.mean(real_d_pred.detach()))
        yield l_d_real
        (fake_d_pred,) = self.discriminator_predictions(fake.detach())
        fake_d_pred = full_precision(fake_d_pred)
        l_d_fake = self.cri_gan(fake_d_pred - torch.mean(real_d_pred.detach()), False, is_disc=True) * 0.5
        loss_dict.update(l_d_fake=l_d_fake, out_d_fake=torch.mean(fake_d_pred.detach()))
        yield l_d_fake
