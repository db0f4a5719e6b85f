"""Adversarial losses (vanilla, LSGAN, WGAN, WGAN-softplus, hinge) and the gradient regularisers of GAN training."""

import math
from typing import Optional, Union

import torch
from torch import autograd, nn
from torch.nn import functional as F

from basicsr.losses.loss_util import fp32_loss
from basicsr.utils.registry import LOSS_REGISTRY

GAN_TYPES = ('vanilla', 'lsgan', 'wgan', 'wgan_softplus', 'hinge')


@LOSS_REGISTRY.register()
class GANLoss(nn.Module):
    """Adversarial loss on discriminator outputs (logits), with BasicSR's semantics.

    `target_is_real` says which label the output is pushed towards. `loss_weight` scales the generator's loss only
    (`is_disc=False`); the discriminator's loss is never scaled. For 'hinge' the generator loss is -mean(D(x)).
    """

    def __init__(
        self, gan_type: str, real_label_val: float = 1.0, fake_label_val: float = 0.0, loss_weight: float = 1.0
    ) -> None:
        super().__init__()
        if gan_type not in GAN_TYPES:
            raise ValueError(f"GAN type '{gan_type}' is not implemented; use one of: {', '.join(GAN_TYPES)}.")
        self.gan_type = gan_type
        self.real_label_val = real_label_val
        self.fake_label_val = fake_label_val
        self.loss_weight = loss_weight

    def get_target_label(self, input: torch.Tensor, target_is_real: bool) -> Union[bool, torch.Tensor]:
        """The label tensor for label-based losses; WGAN variants only need the boolean."""
        if self.gan_type in ('wgan', 'wgan_softplus'):
            return target_is_real
        label = self.real_label_val if target_is_real else self.fake_label_val
        return torch.full_like(input, label)

    def _unweighted_loss(self, input: torch.Tensor, target_is_real: bool, is_disc: bool) -> torch.Tensor:
        if self.gan_type == 'vanilla':
            return F.binary_cross_entropy_with_logits(input, self.get_target_label(input, target_is_real))
        if self.gan_type == 'lsgan':
            return F.mse_loss(input, self.get_target_label(input, target_is_real))
        if self.gan_type == 'wgan':
            return -input.mean() if target_is_real else input.mean()
        if self.gan_type == 'wgan_softplus':
            return F.softplus(-input).mean() if target_is_real else F.softplus(input).mean()
        if is_disc:
            return F.relu(1 - input).mean() if target_is_real else F.relu(1 + input).mean()
        return -input.mean()

    @fp32_loss
    def forward(self, input: torch.Tensor, target_is_real: bool, is_disc: bool = False) -> torch.Tensor:
        loss = self._unweighted_loss(input, target_is_real, is_disc)
        return loss if is_disc else loss * self.loss_weight


@LOSS_REGISTRY.register()
class MultiScaleGANLoss(GANLoss):
    """GANLoss averaged over the outputs of a multi-scale discriminator (a list; a nested list uses its last item)."""

    def forward(self, input: Union[torch.Tensor, list], target_is_real: bool, is_disc: bool = False) -> torch.Tensor:
        if not isinstance(input, list):
            return super().forward(input, target_is_real, is_disc)
        total = 0
        for pred in input:
            last_output = pred[-1] if isinstance(pred, list) else pred
            total = total + super().forward(last_output, target_is_real, is_disc).mean()
        return total / len(input)


def r1_penalty(real_pred: torch.Tensor, real_img: torch.Tensor) -> torch.Tensor:
    """R1 regulariser: mean over the batch of ||d D(x) / d x||^2 on real images (Mescheder et al., 2018, Eq. 9)."""
    grad_real = autograd.grad(outputs=real_pred.sum(), inputs=real_img, create_graph=True)[0]
    return grad_real.pow(2).reshape(grad_real.shape[0], -1).sum(1).mean()


def g_path_regularize(
    fake_img: torch.Tensor, latents: torch.Tensor, mean_path_length: Union[float, torch.Tensor], decay: float = 0.01
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """StyleGAN2 path-length regulariser (Karras et al., 2020, Sec. 3.2).

    Returns (penalty, mean path length of this batch, updated running mean path length).
    """
    noise = torch.randn_like(fake_img) / math.sqrt(fake_img.shape[2] * fake_img.shape[3])
    grad = autograd.grad(outputs=(fake_img * noise).sum(), inputs=latents, create_graph=True)[0]
    path_lengths = torch.sqrt(grad.pow(2).sum(2).mean(1))
    path_mean = mean_path_length + decay * (path_lengths.mean() - mean_path_length)
    path_penalty = (path_lengths - path_mean).pow(2).mean()
    return path_penalty, path_lengths.detach().mean(), path_mean.detach()


def gradient_penalty_loss(
    discriminator: nn.Module, real_data: torch.Tensor, fake_data: torch.Tensor, weight: Optional[torch.Tensor] = None
) -> torch.Tensor:
    """WGAN-GP penalty (||grad D(x_hat)||_2 - 1)^2 on random real/fake interpolates (Gulrajani et al., 2017)."""
    alpha = torch.rand(real_data.size(0), 1, 1, 1, device=real_data.device, dtype=real_data.dtype)
    interpolates = (alpha * real_data + (1.0 - alpha) * fake_data).detach().requires_grad_(True)
    disc_interpolates = discriminator(interpolates)
    gradients = autograd.grad(
        outputs=disc_interpolates,
        inputs=interpolates,
        grad_outputs=torch.ones_like(disc_interpolates),
        create_graph=True,
    )[0]
    if weight is not None:
        gradients = gradients * weight
    penalty = ((gradients.norm(2, dim=1) - 1) ** 2).mean()
    if weight is not None:
        penalty = penalty / torch.mean(weight)
    return penalty
