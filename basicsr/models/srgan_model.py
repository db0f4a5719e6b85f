"""SRGANModel: SRModel plus a discriminator and a GAN loss, with BasicSR's D/G alternation."""

from collections import OrderedDict
from collections.abc import Iterator

import torch
from torch import Tensor, nn

from basicsr.archs import build_network
from basicsr.losses.loss_util import full_precision
from basicsr.models.sr_model import SRModel
from basicsr.utils.registry import MODEL_REGISTRY


def set_requires_grad(net: nn.Module, flag: bool) -> None:
    for param in net.parameters():
        param.requires_grad_(flag)


def gan_option_problems(opt: dict) -> list[str]:
    """The blocks GAN training needs beyond SRModel's, each missing one reported with its key path."""
    train_opt = opt.get('train') or {}
    model_type = opt.get('model_type', 'SRGANModel')
    problems = []
    if not opt.get('network_d'):
        problems.append(
            f'network_d: missing; {model_type} trains a discriminator, add its block '
            '(e.g. type: VGGStyleDiscriminator or UNetDiscriminatorSN)'
        )
    if not train_opt.get('optim_d'):
        problems.append('train.optim_d: missing; give the discriminator an optimizer (e.g. type: Adam, lr: 1e-4)')
    if not train_opt.get('gan_opt'):
        problems.append(f'train.gan_opt: missing; {model_type} needs a GAN loss (e.g. type: GANLoss)')
    return problems


@MODEL_REGISTRY.register()
class SRGANModel(SRModel):
    """SRGAN: G is updated every `net_d_iters` iterations after `net_d_init_iters`; D every iteration."""

    @classmethod
    def check_options(cls, opt: dict) -> list[str]:
        """Up-front validation: a training run needs network_d, train.optim_d and train.gan_opt."""
        return gan_option_problems(opt) if opt.get('is_train', 'train' in opt) else []

    @classmethod
    def trained_networks(cls, opt: dict) -> tuple[str, ...]:
        return ('net_g', 'net_d')

    def init_training_settings(self) -> None:
        problems = gan_option_problems(self.opt)
        if problems:
            raise ValueError('Incomplete GAN training options:\n  - ' + '\n  - '.join(problems))
        train_opt = self.opt['train']
        self.ema_decay = train_opt.get('ema_decay', 0) or 0
        if self.ema_decay > 0:
            self.setup_ema()
        self.net_d = self.model_to_device(build_network(self.opt['network_d']))
        self.print_network(self.net_d)
        self._load_pretrained(self.net_d, 'd')
        self.net_g.train()
        self.net_d.train()
        self.cri_pix = self.build_optional_loss(train_opt, 'pixel_opt')
        self.cri_perceptual = self.build_optional_loss(train_opt, 'perceptual_opt')
        self.cri_gan = self.build_optional_loss(train_opt, 'gan_opt')
        self.net_d_iters = train_opt.get('net_d_iters', 1)
        self.net_d_init_iters = train_opt.get('net_d_init_iters', 0)
        self.setup_optimizers()
        self.setup_schedulers()

    def setup_optimizers(self) -> None:
        train_opt = self.opt['train']
        self.optimizer_g = self.make_optimizer(self.net_g, train_opt['optim_g'])
        self.optimizer_d = self.make_optimizer(self.net_d, train_opt['optim_d'])
        self.optimizers += [self.optimizer_g, self.optimizer_d]

    def generator_turn(self, current_iter: int) -> bool:
        """Whether G is updated at `current_iter` (every `net_d_iters`, after the D-only warm-up)."""
        return current_iter % self.net_d_iters == 0 and current_iter > self.net_d_init_iters

    def generator_gan_loss(self, output: torch.Tensor) -> torch.Tensor:
        """GAN loss for G on `output` (D's parameters frozen by the caller)."""
        return self.cri_gan(self.net_d(output), True, is_disc=False)

    def generator_losses(self, current_iter: int, loss_dict: OrderedDict) -> torch.Tensor:
        """Total G loss: supervised terms and the GAN term, recorded as `l_g_*`."""
        pix_gt, percep_gt = self.loss_targets()
        l_g_total = self.supervised_losses(self.output, pix_gt, loss_dict, prefix='l_g', percep_gt=percep_gt)
        l_g_gan = self.generator_gan_loss(self.output)
        loss_dict['l_g_gan'] = l_g_gan
        return l_g_total + l_g_gan

    def generator_forward(self, current_iter: int, train_g: bool) -> None:
        """The generator's output(s) for this micro-batch (`self.output`)."""
        self.output = self.net_g(self.lq)

    def optimize_generator(self, current_iter: int, loss_dict: OrderedDict) -> None:
        """Forward G (with gradients only on G's turn) and, on its turn, backpropagate and step G."""
        set_requires_grad(self.net_d, False)
        self.training_step.zero_grad(self.optimizer_g)
        train_g = self.generator_turn(current_iter)
        with self.training_step.autocast(), torch.set_grad_enabled(train_g):
            self.generator_forward(current_iter, train_g)
            if train_g:
                l_g_total = self.generator_losses(current_iter, loss_dict)
        if train_g:
            self.backward_and_step(l_g_total, self.optimizer_g, self.net_g, 'net_g', loss_dict, current_iter)

    def discriminator_predictions(self, *images: torch.Tensor) -> list[torch.Tensor]:
        """D's outputs on `images`, one call each, under the `amp` autocast."""
        with self.training_step.autocast():
            return [self.net_d(image) for image in images]

    def discriminator_losses(self, real: torch.Tensor, fake: torch.Tensor, loss_dict: OrderedDict) -> Iterator[Tensor]:
        """Yield D's real loss, then its fake loss; each is backpropagated before the next D forward pass.

        One backward per forward keeps DDP's gradient hooks and in-place buffer updates (BatchNorm, spectral
        norm) valid, as in BasicSR.
        """
        (real_d_pred,) = self.discriminator_predictions(real)
        l_d_real = self.cri_gan(real_d_pred, True, is_disc=True)
        loss_dict.update(l_d_real=l_d_real, out_d_real=torch.mean(full_precision(real_d_pred.detach())))
        yield l_d_real
        (fake_d_pred,) = self.discriminator_predictions(fake.detach())
        l_d_fake = self.cri_gan(fake_d_pred, False, is_disc=True)
        loss_dict.update(l_d_fake=l_d_fake, out_d_fake=torch.mean(full_precision(fake_d_pred.detach())))
        yield l_d_fake

    def discriminator_pair(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The (real, fake) images D learns to tell apart."""
        return self.gt, self.output

    def optimize_discriminator(self, current_iter: int, loss_dict: OrderedDict) -> None:
        """Backpropagate D's real and fake losses of this micro-batch; D steps on the last one."""
        set_requires_grad(self.net_d, True)
        self.training_step.zero_grad(self.optimizer_d)
        for loss in self.discriminator_losses(*self.discriminator_pair(), loss_dict):
            self.training_step.backward(loss, 'net_d', loss_dict, current_iter)
        self.training_step.step(self.optimizer_d, self.net_d, 'net_d', loss_dict, current_iter)

    def optimize_parameters(self, current_iter: int) -> None:
        loss_dict = OrderedDict()
        self.optimize_generator(current_iter, loss_dict)
        self.optimize_discriminator(current_iter, loss_dict)
        self.end_iteration(loss_dict)

    def save(self, epoch: int, current_iter: int) -> None:
        if hasattr(self, 'net_g_ema'):
            self.save_network([self.net_g, self.net_g_ema], 'net_g', current_iter, param_key=['params', 'params_ema'])
        else:
            self.save_network(self.net_g, 'net_g', current_iter)
        self.save_network(self.net_d, 'net_d', current_iter)
        self.save_training_state(epoch, current_iter)
