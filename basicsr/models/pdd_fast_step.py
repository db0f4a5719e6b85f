"""The PDD training step with the `train.perf` switches: the same losses and gradients as SRGANRefModel's plain step,
computed with fewer and cheaper passes (see basicsr/utils/precision_util.py for the switches, docs/performance.md for
their measured effect).

Differences from the plain step, all exact in fp32 unless stated: two batched VGG passes serve the distillation, ND
and perceptual losses; the generalist runs under inference_mode and only when the distillation is active; net_g runs
without gradients on D-only iterations; D sees concatenated real/fake inputs where that is exact; the EMA update is two
multi-tensor ops; on the CPU, VGG's wide convolutions run by Winograd F(4x4, 3x3) (4x fewer multiplications, exact up
to rounding); optional autocast (not exact) keeps every loss in fp32.
"""
from collections import OrderedDict
from functools import partial
from typing import Optional

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrize import is_parametrized
from torch.nn.utils.spectral_norm import SpectralNorm

from basicsr.losses.shared_vgg import FeatureBank, FeatureDict, FeatureNeed, SharedVGGPasses, vgg_features
from basicsr.models.srgan_model import set_requires_grad
from basicsr.utils.logger import get_root_logger
from basicsr.utils.part_timer import NO_TIMER
from basicsr.utils.precision_util import (BOOL_SWITCHES, PerfOptions, autocast, check_device_support,
                                          compile_in_place, grad_scaler, no_grad_context, to_memory_format,
                                          winograd_active)
from basicsr.utils.winograd_conv import WinogradConvs
from basicsr.utils.winograd_kernels import compiled_transforms

# Part names of the benchmark's breakdown, shared with the reference step.
GENERALIST_FWD = 'generalist fwd'
GENERATOR_FWD = 'generator fwd'
FEATURE_LOSSES = 'VGG fwd + feature losses'
PIXEL_GAN_LOSSES = 'pixel loss + D fwd (G phase)'
LOSS_BWD = 'bwd: losses, VGG, D (G phase)'
GENERATOR_BWD = 'bwd: generator'
G_OPTIMISER = 'optimiser G'
D_PHASE = 'discriminator fwd + bwd'
D_OPTIMISER = 'optimiser D'
EMA = 'EMA update'


def concatenation_is_exact(net: nn.Module) -> bool:
    """D(cat(a, b)) == cat(D(a), D(b)) in training mode: no batch statistics, no per-call spectral-norm iteration."""
    for module in net.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) or is_parametrized(module):
            return False
        if any(isinstance(hook, SpectralNorm) for hook in module._forward_pre_hooks.values()):
            return False
    return True


def full_precision(tensor: Tensor) -> Tensor:
    """A half-precision (AMP) tensor in fp32 for the loss math (Gram matrices, softmax, BCE); others unchanged."""
    return tensor.float() if tensor.dtype in (torch.float16, torch.bfloat16) else tensor


def float_features(features: FeatureDict, detach: bool = False) -> FeatureDict:
    """Features at full precision for the loss math, detached when asked."""
    return {layer: full_precision(value.detach() if detach else value) for layer, value in features.items()}


class PDDFastStep:
    """`optimize_parameters` for an SRGANRefModel, honouring its `perf` switches; `timer` collects a breakdown."""

    def __init__(self, model, perf: PerfOptions) -> None:
        check_device_support(perf, model.device)
        self.model = model
        self.perf = perf
        self.timer = NO_TIMER
        self.scaler = grad_scaler(model.device, perf.amp)
        fuse = perf.fuse_discriminator
        self.fuse_discriminator = concatenation_is_exact(model.net_d) if fuse == 'auto' else fuse
        feature_losses = [loss for loss in (model.cri_domain, model.cri_nd, model.cri_perceptual) if loss is not None]
        for loss in feature_losses:
            to_memory_format(loss.vgg, perf)
        to_memory_format(model.generalist, perf)
        self.winograd = winograd_active(perf, model.device)
        if self.winograd and model.device.type == 'cpu':
            compiled_transforms()  # the one-time build (or its fallback warning) before training, not in iteration 1
        runner = partial(vgg_features, convolve=WinogradConvs()) if self.winograd else vgg_features
        runner = torch.compile(runner) if perf.compile else runner
        self.vgg_passes = SharedVGGPasses([loss.vgg for loss in feature_losses], share=perf.shared_vgg, runner=runner)
        for net in (model.net_g, model.generalist):
            compile_in_place(net, perf)
        self.ema_targets, self.ema_sources = self._ema_pairs()
        get_root_logger().info(f'PDD fast step: {self.describe()}.')

    def describe(self) -> str:
        """The switches in force, `auto` ones resolved, for the training log."""
        on = [name for name in BOOL_SWITCHES if getattr(self.perf, name)]
        resolved = {'winograd': self.winograd, 'fuse_discriminator': self.fuse_discriminator}
        on += [name for name, value in resolved.items() if value]
        off = [name for name in (*BOOL_SWITCHES, *resolved) if name not in on]
        extras = [f'amp {self.perf.amp}'] if self.perf.amp else []
        extras += [f'compile {self.perf.compile}'] if self.perf.compile else []
        return ', '.join([f"on: {' '.join(on) or '-'}", f"off: {' '.join(off) or '-'}", *extras])

    def _ema_pairs(self) -> tuple[list[Tensor], list[Tensor]]:
        """net_g_ema's parameters and net_g's, matched by name, for the multi-tensor EMA update."""
        if not hasattr(self.model, 'net_g_ema'):
            return [], []
        sources = dict(self.model.get_bare_model(self.model.net_g).named_parameters())
        targets = list(self.model.net_g_ema.named_parameters())
        return [param for _, param in targets], [sources[name].detach() for name, _ in targets]

    def autocast(self):
        return autocast(self.model.device, self.perf.amp)

    def optimize_parameters(self, current_iter: int) -> None:
        model = self.model
        loss_dict: OrderedDict = OrderedDict()
        self.generator_phase(current_iter, loss_dict)
        self.discriminator_phase(current_iter, loss_dict)
        if self.scaler is not None:
            self.scaler.update()
        if model.ema_decay > 0:
            with self.timer.part(EMA):
                self.update_ema(model.ema_decay)
        model.log_dict = model.reduce_loss_dict(loss_dict)

    def generator_phase(self, current_iter: int, loss_dict: OrderedDict) -> None:
        """Forward both streams (generalist only when the distillation needs it) and, on G's turn, step G."""
        model = self.model
        set_requires_grad(model.net_d, False)
        model.optimizer_g.zero_grad(set_to_none=self.perf.set_to_none)
        train_g = model.generator_turn(current_iter)
        distill = train_g and model.distillation_active(current_iter)
        lq = torch.cat([model.lq_s, model.lq_t], dim=0)
        sizes = [model.lq_s.shape[0], model.lq_t.shape[0]]
        model.ref_s = model.ref_t = None
        if distill and (model.cri_domain is not None or model.cri_nd is not None):
            with self.timer.part(GENERALIST_FWD), no_grad_context(self.perf), self.autocast():
                model.ref_s, model.ref_t = model.generalist(lq).split(sizes, dim=0)
        with self.timer.part(GENERATOR_FWD), torch.set_grad_enabled(train_g), self.autocast():
            output = model.net_g(lq)
        model.output_s, model.output_t = output.split(sizes, dim=0)
        if train_g:
            total = self.generator_losses(output, distill, loss_dict)
            self.backward_and_step(total, model.optimizer_g, loss_dict, current_iter, 'G', output)

    def generator_losses(self, output: Tensor, distill: bool, loss_dict: OrderedDict) -> Tensor:
        """Distillation (when active), pixel, perceptual and GAN terms, as SRGANRefModel.generator_losses."""
        model = self.model
        with self.timer.part(FEATURE_LOSSES):
            with self.autocast():
                bank = self.vgg_passes.run(self.feature_needs(distill), self.feature_images())
            total = self.feature_loss_terms(bank, distill, loss_dict)
        with self.timer.part(PIXEL_GAN_LOSSES):
            if model.cri_pix is not None:
                loss_dict['l_g_pix'] = model.cri_pix(full_precision(model.output_s), model.gt_s)
                total = total + loss_dict['l_g_pix']
            fake = model.output_s if (model.domain_opt_wogan or not distill) else output
            with self.autocast():
                fake_pred = model.net_d(fake)
            loss_dict['l_g_gan'] = model.cri_gan(full_precision(fake_pred), True, is_disc=False)
        return total + loss_dict['l_g_gan']

    def feature_needs(self, distill: bool) -> list[FeatureNeed]:
        """The VGG features each active feature loss needs; the distillation's synthetic output is detached if asked."""
        model = self.model
        needs = []
        if distill and model.cri_domain is not None:
            vgg, layers = model.cri_domain.vgg, tuple(model.cri_domain.layers)
            needs += [FeatureNeed(vgg, layers, 'out_t', True), FeatureNeed(vgg, layers, 'ref_t', False),
                      FeatureNeed(vgg, layers, 'out_s', not model.domain_opt_detach),
                      FeatureNeed(vgg, layers, 'ref_s', False)]
        if distill and model.cri_nd is not None:
            vgg, layers = model.cri_nd.vgg, tuple(model.cri_nd.layers)
            needs += [FeatureNeed(vgg, layers, 'out_t', True), FeatureNeed(vgg, layers, 'ref_t', False)]
        if model.cri_perceptual is not None:
            vgg, layers = model.cri_perceptual.vgg, tuple(model.cri_perceptual.layer_weights)
            needs += [FeatureNeed(vgg, layers, 'out_s', True), FeatureNeed(vgg, layers, 'gt', False)]
        return needs

    def feature_images(self) -> dict[str, Optional[Tensor]]:
        model = self.model
        return {'out_s': model.output_s, 'out_t': model.output_t, 'ref_s': model.ref_s, 'ref_t': model.ref_t,
                'gt': model.gt_s}

    def feature_loss_terms(self, bank: FeatureBank, distill: bool, loss_dict: OrderedDict) -> Tensor:
        """L_inter, L_intra, L_nd and the perceptual/style losses from shared features, recorded in `loss_dict`."""
        model = self.model
        total = full_precision(model.output_s).new_zeros(())
        terms: list[tuple[str, Optional[Tensor]]] = []
        if distill and model.cri_domain is not None:
            vgg = model.cri_domain.vgg
            synthetic = float_features(bank.get(vgg, 'out_s'), detach=model.domain_opt_detach)
            inter, intra = model.cri_domain.forward_features(float_features(bank.get(vgg, 'out_t')),
                                                             float_features(bank.get(vgg, 'ref_t')), synthetic,
                                                             float_features(bank.get(vgg, 'ref_s')))
            terms += [('l_inter', inter), ('l_intra', intra)]
        if distill and model.cri_nd is not None:
            vgg = model.cri_nd.vgg
            terms.append(('l_nd', model.cri_nd.forward_features(float_features(bank.get(vgg, 'out_t')),
                                                                float_features(bank.get(vgg, 'ref_t')))))
        if model.cri_perceptual is not None:
            vgg = model.cri_perceptual.vgg
            percep, style = model.cri_perceptual.forward_features(float_features(bank.get(vgg, 'out_s')),
                                                                  float_features(bank.get(vgg, 'gt')))
            terms += [('l_g_percep', percep), ('l_g_style', style)]
        for name, value in terms:
            if value is not None:
                loss_dict[name] = value
                total = total + value
        return total

    def discriminator_phase(self, current_iter: int, loss_dict: OrderedDict) -> None:
        """D's real (GT) and fake (detached synthetic output) losses; one D call when concatenation is exact."""
        model = self.model
        set_requires_grad(model.net_d, True)
        model.optimizer_d.zero_grad(set_to_none=self.perf.set_to_none)
        real, fake = model.discriminator_pair()
        fake = fake.detach()
        with self.timer.part(D_PHASE):
            with self.autocast():
                if self.fuse_discriminator:
                    real_pred, fake_pred = model.net_d(torch.cat([real, fake])).split([len(real), len(fake)])
                else:
                    real_pred, fake_pred = model.net_d(real), model.net_d(fake)
            real_pred, fake_pred = full_precision(real_pred), full_precision(fake_pred)
            l_d_real = model.cri_gan(real_pred, True, is_disc=True)
            l_d_fake = model.cri_gan(fake_pred, False, is_disc=True)
            loss_dict.update(l_d_real=l_d_real, out_d_real=torch.mean(real_pred.detach()),
                             l_d_fake=l_d_fake, out_d_fake=torch.mean(fake_pred.detach()))
        self.backward_and_step(l_d_real + l_d_fake, model.optimizer_d, loss_dict, current_iter, 'D')

    def backward_and_step(self, loss: Tensor, optimizer: torch.optim.Optimizer, loss_dict: OrderedDict,
                          current_iter: int, label: str, output: Optional[Tensor] = None) -> None:
        """BaseModel.backward_and_step with loss scaling and timed parts; under fp16 the scaler, not the guard, skips
        inf gradients."""
        model = self.model
        if not model.nan_guard.loss_ok(loss, loss_dict, current_iter, label):
            optimizer.zero_grad(set_to_none=True)
            return
        with self.timer.part(GENERATOR_BWD if label == 'G' else D_PHASE):
            if output is not None:
                self.timer.split_at_grad(output, LOSS_BWD)
            (loss if self.scaler is None else self.scaler.scale(loss)).backward()
        with self.timer.part(G_OPTIMISER if label == 'G' else D_OPTIMISER):
            if self.scaler is None:
                model.guarded_step(optimizer, current_iter, label)
            else:
                self.scaler.step(optimizer)

    def update_ema(self, decay: float) -> None:
        """net_g_ema <- decay * net_g_ema + (1 - decay) * net_g, the same two operations as BaseModel.model_ema."""
        if not self.perf.foreach_ema:
            self.model.model_ema(decay=decay)
            return
        with torch.no_grad():
            torch._foreach_mul_(self.ema_targets, decay)
            torch._foreach_add_(self.ema_targets, self.ema_sources, alpha=1 - decay)
