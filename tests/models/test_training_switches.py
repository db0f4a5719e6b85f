"""Every model's one step under the training switches: bf16 autocast, channels_last, gradient accumulation (equal to
one batch of the summed size in float64), clipping by norm, fp16 loss scaling, and the plain computation when off."""

import copy
import functools
import math
from collections import OrderedDict

import pytest
import torch
from torch import nn

from basicsr.models import build_model
from basicsr.models.nan_guard import NanGuard
from basicsr.models.perf_options import PerfOptions
from basicsr.models.training_step import TrainingStep
from basicsr.utils.options import setup_options
from basicsr.utils.registry import ARCH_REGISTRY
from tests.conftest import tiny_sr_options
from tests.helpers.pdd_options import one_torch_thread, random_pdd_batch, tiny_pdd_options
from tests.models.test_srgan_model import gan_options

__all__ = ['one_torch_thread']  # autouse fixture, active in this module
MODELS = ('SRModel', 'SRGANModel', 'ESRGANModel', 'RealESRNetModel_basicsr', 'RealESRGANModel_basicsr', 'SRGANRefModel')
PDD_ITERATION = 10  # past tiny_pdd_options' D-only and distillation warm-ups


@ARCH_REGISTRY.register()
class PlainDiscriminator(nn.Module):
    """conv - LeakyReLU - conv: a discriminator without batch statistics or spectral-norm state, so that two
    micro-batches are exactly one batch of twice the size."""

    def __init__(self, num_in_ch: int = 3, num_feat: int = 4) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(num_in_ch, num_feat, 3, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(num_feat, 1, 3, 1, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def model_options(model_type: str, train_changes: dict) -> dict:
    """Tiny options of `model_type`; the Real-ESRGAN models take given LQ images (no random synthesis) here."""
    if model_type == 'SRGANRefModel':
        opt = tiny_pdd_options(batch=2)
    elif model_type in ('SRModel', 'RealESRNetModel_basicsr'):
        opt = tiny_sr_options('unused', 'unused')
    else:
        opt = gan_options('unused', 'unused', model_type=model_type)
    opt['model_type'] = model_type
    if model_type.startswith('RealESR'):
        opt.update(high_order_degradation=False, queue_size=8)
    opt['train'].update(copy.deepcopy(train_changes))
    return opt


def build(model_type: str, tmp_path, seed: int = 0, **train_changes):
    torch.manual_seed(seed)
    return build_model(setup_options(model_options(model_type, train_changes), str(tmp_path), is_train=True))


def batch(model_type: str, size: int = 2, seed: int = 0) -> dict:
    if model_type == 'SRGANRefModel':
        return random_pdd_batch(batch=size)
    generator = torch.Generator().manual_seed(seed)
    gt_size = 64 if model_type.startswith('RealESR') else 16  # their USM sharpening uses a 51-px kernel
    gt = torch.rand(size, 3, gt_size, gt_size, generator=generator)
    return {'lq': nn.functional.avg_pool2d(gt, 2), 'gt': gt}


def iteration(model_type: str) -> int:
    return PDD_ITERATION if model_type == 'SRGANRefModel' else 1


def run_iteration(model, batches: list[dict], current_iter: int) -> None:
    """What TrainLoop.step does: one optimiser step over `len(batches)` micro-batches."""
    for index, micro_batch in enumerate(batches):
        with model.micro_batch(index):
            model.feed_data(micro_batch)
            model.optimize_parameters(current_iter)


def trained(model) -> dict[str, nn.Module]:
    return {name: getattr(model, name) for name in type(model).trained_networks(model.opt)}


@pytest.mark.parametrize('model_type', MODELS)
def test_bf16_runs_the_generator_in_bf16_and_logs_finite_fp32_losses(tmp_path, model_type):
    model = build(model_type, tmp_path, perf={'amp': 'bf16'})
    dtypes = []
    first_conv = next(module for module in model.net_g.modules() if isinstance(module, nn.Conv2d))
    first_conv.register_forward_hook(lambda module, args, out: dtypes.append(out.dtype))
    before = [p.detach().clone() for p in model.net_g.parameters()]
    run_iteration(model, [batch(model_type)], iteration(model_type))
    assert dtypes and set(dtypes) == {torch.bfloat16}
    assert model.log_dict and all(isinstance(v, float) and math.isfinite(v) for v in model.log_dict.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, model.net_g.parameters()))
    assert all(p.dtype == torch.float32 for p in model.net_g.parameters())


@pytest.mark.parametrize('model_type', MODELS)
def test_channels_last_puts_every_trained_network_in_nhwc(tmp_path, model_type):
    model = build(model_type, tmp_path, perf={'channels_last': True})
    run_iteration(model, [batch(model_type)], iteration(model_type))
    for name, net in trained(model).items():
        weights = [p for p in net.parameters() if p.dim() == 4]
        assert weights and all(p.is_contiguous(memory_format=torch.channels_last) for p in weights), name


def to_float64(model) -> None:
    for name in ('net_g', 'net_d', 'net_g_ema', 'cri_perceptual', 'cri_pix'):
        module = getattr(model, name, None)
        if module is not None:
            module.double()


def halves(full: dict) -> list[dict]:
    return [{key: value[:2] for key, value in full.items()}, {key: value[2:] for key, value in full.items()}]


@pytest.mark.parametrize('model_type', ['SRModel', 'SRGANModel', 'RealESRNetModel_basicsr', 'RealESRGANModel_basicsr'])
def test_two_micro_batches_equal_one_batch_of_twice_the_size_in_float64(tmp_path, model_type):
    """ESRGAN's relativistic loss and PDD's batch-wide Frobenius norms couple the samples of a batch, so for them
    accumulation is not the same as a larger batch (tested below: one optimiser step per iteration)."""
    network_d = {'network_d': {'type': 'PlainDiscriminator', 'num_feat': 4}}
    models = {}
    for accum in (1, 2):
        opt = model_options(model_type, {'accum_iter': accum})
        opt.update(network_d if 'GAN' in model_type else {})
        torch.manual_seed(0)
        models[accum] = build_model(setup_options(opt, str(tmp_path), is_train=True))
        to_float64(models[accum])
    full = {key: value.double() for key, value in batch(model_type, size=4).items()}
    run_iteration(models[1], [full], 1)
    run_iteration(models[2], halves(full), 1)
    for name in trained(models[1]):
        for (param_name, one), two in zip(
            getattr(models[1], name).named_parameters(), getattr(models[2], name).parameters()
        ):
            assert torch.allclose(one.grad, two.grad, rtol=1e-10, atol=1e-14), f'{name}.{param_name}'
            assert torch.allclose(one, two, rtol=1e-10, atol=1e-14), f'{name}.{param_name}'
    for key, value in models[1].log_dict.items():
        assert models[2].log_dict[key] == pytest.approx(value, rel=1e-9), key


@pytest.mark.parametrize('model_type', ['ESRGANModel', 'SRGANRefModel'])
def test_accumulation_steps_each_optimiser_once_per_iteration(tmp_path, model_type):
    model = build(model_type, tmp_path, accum_iter=2)
    steps = {name: 0 for name in ('optimizer_g', 'optimizer_d')}
    for name in steps:
        getattr(model, name).register_step_post_hook(
            lambda opt, args, kwargs, name=name: steps.__setitem__(name, steps[name] + 1)
        )
    ema_before = [p.clone() for p in model.net_g_ema.parameters()]
    run_iteration(model, [batch(model_type, seed=1), batch(model_type, seed=2)], iteration(model_type))
    assert steps == {'optimizer_g': 1, 'optimizer_d': 1}
    assert any(not torch.equal(a, b) for a, b in zip(ema_before, model.net_g_ema.parameters()))
    assert 'l_g_gan' in model.log_dict


@pytest.mark.parametrize('model_type', MODELS)
def test_grad_clip_caps_each_network_norm_and_logs_it(tmp_path, model_type):
    model = build(model_type, tmp_path, grad_clip=1e-4)
    run_iteration(model, [batch(model_type)], iteration(model_type))
    for name, net in trained(model).items():
        norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in net.parameters() if p.grad is not None]))
        assert norm <= 1e-4 * (1 + 1e-4), name
        assert model.log_dict[f'grad_norm_{name}'] > 1e-4, name


def test_switches_off_give_the_plain_computation_in_float64(tmp_path):
    """SRModel with every switch off is BasicSR's step: forward, L1, backward, Adam, EMA (PDD: test_pdd_step)."""
    model = build('SRModel', tmp_path, perf={'foreach_ema': False, 'set_to_none': False})
    to_float64(model)
    net = copy.deepcopy(model.net_g)
    ema = copy.deepcopy(model.net_g_ema)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.9, 0.99))
    data = {key: value.double() for key, value in batch('SRModel').items()}
    run_iteration(model, [data], 1)
    loss = (net(data['lq']) - data['gt']).abs().mean()
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        for target, source in zip(ema.parameters(), net.parameters()):
            target.mul_(0.9).add_(source, alpha=0.1)
    assert model.log_dict['l_pix'] == pytest.approx(loss.item(), rel=1e-12)
    for mine, plain in zip(model.net_g.parameters(), net.parameters()):
        assert torch.allclose(mine, plain, rtol=1e-12, atol=1e-15)
    for mine, plain in zip(model.net_g_ema.parameters(), ema.parameters()):
        assert torch.allclose(mine, plain, rtol=1e-12, atol=1e-15)


def scaled_step(net: nn.Module, step: TrainingStep, optimizer: torch.optim.Optimizer) -> OrderedDict:
    loss_dict: OrderedDict = OrderedDict()
    step.zero_grad(optimizer)
    with step.autocast():
        loss = net(torch.ones(1, 4)).sum()
    loss_dict['l'] = loss
    step.backward(loss, 'net_g', loss_dict, current_iter=1)
    step.step(optimizer, net, 'net_g', loss_dict, current_iter=1)
    return step.end_micro_batch(loss_dict)


def test_fp16_loss_scaling_unscales_before_clipping_and_skips_inf_steps_without_counting_them():
    """The GradScaler path (fp16 is a CUDA option; the mechanics are checked on the CPU)."""
    guard = NanGuard(max_consecutive=1)
    step = TrainingStep(PerfOptions(amp='fp16', grad_clip={'net_g': 1e6}), torch.device('cpu'), guard)
    assert isinstance(step.scaler, torch.amp.GradScaler)
    step.scaler = torch.amp.GradScaler('cpu', init_scale=1024.0)  # 65536 (the default) overflows fp16 at once here
    net = nn.Linear(4, 1)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    logged = scaled_step(net, step, optimizer)
    assert logged['grad_norm_net_g'].item() == pytest.approx(math.sqrt(5), rel=1e-3)  # d/dw = 1 (x4), d/db = 1
    scale = step.scaler.get_scale()
    weights = net.weight.detach().clone()
    net.weight.register_hook(lambda grad: grad * math.inf)
    scaled_step(net, step, optimizer)
    assert torch.equal(weights, net.weight) and step.scaler.get_scale() < scale
    guard.end_iteration(1)  # an inf gradient under fp16 is the scaler's business, not a NaN-guard failure


@pytest.mark.parametrize('model_type', ['SRModel', 'RealESRGANModel_basicsr'])
def test_compile_compiles_the_generator_of_every_model(tmp_path, model_type, monkeypatch):
    """Dynamo traces the real forward; the eager backend skips the C++ code generation that takes minutes here."""
    monkeypatch.setattr(torch, 'compile', functools.partial(torch.compile, backend='eager'))
    torch._dynamo.reset()
    model = build(model_type, tmp_path, perf={'compile': True})
    assert model.net_g._compiled_call_impl is not None
    run_iteration(model, [batch(model_type)], iteration(model_type))
    assert all(math.isfinite(v) for v in model.log_dict.values())
    torch._dynamo.reset()
