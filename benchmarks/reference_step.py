"""The PDD authors' training step, computed in their order: the correctness oracle and the speed baseline of
SRGANRefModel's step.

As in the authors' SRGANRefModel.optimize_parameters (Yuehan717/PDD): fp32; generalist and net_g run every iteration;
VGG19 runs six times per step (four separate passes inside the distillation loss, two in the perceptual loss);
gradients are zero-filled; D sees real and fake in two calls with two backward passes; the EMA is a loop over
parameters; no NaN guard. It runs on an SRGANRefModel built with `REFERENCE_PERF` (every switch off), which only
provides the networks, losses and optimisers. `scripts/benchmark.py` times it against the model's own step, which
must match its losses and gradients.
"""

from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import Tensor

from basicsr.models.srgan_model import set_requires_grad

# train.perf of the model the reference step runs on: every switch off, fp32 (the authors' set-up).
REFERENCE_PERF = {
    'shared_vgg': False,
    'inference_mode': False,
    'channels_last': False,
    'fused_optimizer': False,
    'foreach_ema': False,
    'set_to_none': False,
}


def authors_distillation(model, loss_dict: OrderedDict) -> Tensor:
    """PDD's DistillationLoss with one VGG pass per image (x1, ref1, x2, ref2), as the authors compute it."""
    total = model.output_s.new_zeros(())
    synthetic = model.output_s.detach() if model.domain_opt_detach else model.output_s
    if model.cri_domain is not None:
        vgg = model.cri_domain.vgg
        features = [vgg(image) for image in (model.output_t, model.ref_t.detach(), synthetic, model.ref_s.detach())]
        for name, value in zip(('l_inter', 'l_intra'), model.cri_domain.forward_features(*features)):
            if value is not None:
                loss_dict[name] = value
                total = total + value
    if model.cri_nd is not None:
        vgg = model.cri_nd.vgg
        loss_dict['l_nd'] = model.cri_nd.forward_features(vgg(model.output_t), vgg(model.ref_t.detach()))
        total = total + loss_dict['l_nd']
    return total


def authors_generator_losses(model, current_iter: int, output: Tensor, loss_dict: OrderedDict) -> Tensor:
    """Distillation, pixel, perceptual (two VGG passes) and GAN losses of the specialist, in the authors' order."""
    distill = model.distillation_active(current_iter)
    total = model.output_s.new_zeros(())
    if distill:
        total = total + authors_distillation(model, loss_dict)
    if model.cri_perceptual is not None:
        percep, style = model.cri_perceptual(model.output_s, model.gt_s)
        for name, value in (('l_g_percep', percep), ('l_g_style', style)):
            if value is not None:
                loss_dict[name] = value
                total = total + value
    if model.cri_pix is not None:
        loss_dict['l_g_pix'] = model.cri_pix(model.output_s, model.gt_s)
        total = total + loss_dict['l_g_pix']
    fake = model.output_s if (model.domain_opt_wogan or not distill) else output
    loss_dict['l_g_gan'] = model.cri_gan(model.net_d(fake), True, is_disc=False)
    return total + loss_dict['l_g_gan']


def authors_generator_phase(model, current_iter: int, loss_dict: OrderedDict) -> None:
    set_requires_grad(model.net_d, False)
    model.optimizer_g.zero_grad(set_to_none=False)
    lq = torch.cat([model.lq_s, model.lq_t], dim=0)
    sizes = [model.lq_s.shape[0], model.lq_t.shape[0]]
    with torch.no_grad():
        model.ref_s, model.ref_t = model.generalist(lq).split(sizes, dim=0)
    output = model.net_g(lq)
    model.output_s, model.output_t = output.split(sizes, dim=0)
    if model.generator_turn(current_iter):
        authors_generator_losses(model, current_iter, output, loss_dict).backward()
        model.optimizer_g.step()


def authors_discriminator_phase(model, loss_dict: OrderedDict) -> None:
    set_requires_grad(model.net_d, True)
    model.optimizer_d.zero_grad(set_to_none=False)
    real_pred = model.net_d(model.gt_s.detach())
    loss_dict['l_d_real'] = model.cri_gan(real_pred, True, is_disc=True)
    loss_dict['out_d_real'] = torch.mean(real_pred.detach())
    loss_dict['l_d_real'].backward()
    fake_pred = model.net_d(model.output_s.detach())
    loss_dict['l_d_fake'] = model.cri_gan(fake_pred, False, is_disc=True)
    loss_dict['out_d_fake'] = torch.mean(fake_pred.detach())
    loss_dict['l_d_fake'].backward()
    model.optimizer_d.step()


def authors_optimize_parameters(model, current_iter: int) -> None:
    """One PDD iteration on `model` (an SRGANRefModel fed with lq_s, gt_s, lq_t) exactly as the authors run it."""
    loss_dict: OrderedDict = OrderedDict()
    authors_generator_phase(model, current_iter, loss_dict)
    authors_discriminator_phase(model, loss_dict)
    model.log_dict = model.reduce_loss_dict(loss_dict)
    if model.ema_decay > 0:
        model.model_ema(decay=model.ema_decay)


@dataclass
class StepResult:
    """What one optimisation step produced: its logged losses and the gradients left on net_g and net_d."""

    losses: dict[str, float]
    grads: dict[str, dict[str, Tensor]]

    @classmethod
    def of(cls, model) -> 'StepResult':
        grads = {
            label: {
                name: param.grad.detach().double().cpu()
                for name, param in model.get_bare_model(getattr(model, label)).named_parameters()
                if param.grad is not None
            }
            for label in ('net_g', 'net_d')
        }
        return cls(dict(model.log_dict), grads)


@dataclass
class StepComparison:
    """How far a step is from the reference: worst relative loss error; per network, the relative L2 error of all
    gradients together and of the worst single tensor. `problems` lists what breaks the tolerances."""

    loss_error: float
    grad_error: dict[str, float]
    worst_tensor_error: dict[str, float]
    problems: list[str]

    @property
    def equal(self) -> bool:
        return not self.problems


def relative_error(value: Tensor, reference: Tensor) -> float:
    return float((value - reference).norm() / reference.norm().clamp_min(1e-30))


def compare_steps(
    reference: StepResult, other: StepResult, loss_rtol: float, grad_rtol: float, tensor_rtol: float
) -> StepComparison:
    """Compare `other` with `reference`: losses within `loss_rtol`, each network's gradients within `grad_rtol`
    (relative L2 over all its parameters) and every gradient tensor within `tensor_rtol` (a tensor with a tiny
    gradient carries more rounding noise than the network as a whole, but a wrong term shows as an O(1) error)."""
    problems = []
    if reference.losses.keys() != other.losses.keys():
        problems.append(f'logged losses differ: {sorted(reference.losses)} vs {sorted(other.losses)}')
    loss_errors = {
        name: abs(other.losses[name] - value) / max(abs(value), 1e-12)
        for name, value in reference.losses.items()
        if name in other.losses
    }
    problems += [
        f'{name}: relative error {error:.2e} > {loss_rtol:g}'
        for name, error in loss_errors.items()
        if error > loss_rtol
    ]
    grad_error, worst = {}, {}
    for label, grads in reference.grads.items():
        if grads.keys() != other.grads[label].keys():
            problems.append(f'{label}: different parameters received gradients')
            continue
        names = list(grads)
        grad_error[label] = relative_error(
            torch.cat([other.grads[label][n].flatten() for n in names]), torch.cat([grads[n].flatten() for n in names])
        )
        errors = {name: relative_error(other.grads[label][name], grads[name]) for name in names}
        worst[label] = max(errors.values(), default=0.0)
        if grad_error[label] > grad_rtol:
            problems.append(f'{label} gradients: relative error {grad_error[label]:.2e} > {grad_rtol:g}')
        problems += [
            f'{label}.{name} gradient: relative error {error:.2e} > {tensor_rtol:g}'
            for name, error in errors.items()
            if error > tensor_rtol
        ]
    return StepComparison(max(loss_errors.values(), default=0.0), grad_error, worst, problems)
