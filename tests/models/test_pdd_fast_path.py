"""The fast PDD step (train.perf) computes the authors' losses and gradients; every switch can be turned off."""
import functools
from dataclasses import asdict

import pytest
import torch
from torch import nn

from basicsr.losses.shared_vgg import vgg_features
from basicsr.models.pdd_fast_step import PDDFastStep, concatenation_is_exact
from basicsr.models.pdd_reference_step import StepResult, authors_optimize_parameters, compare_steps
from basicsr.utils import winograd_conv
from basicsr.utils.precision_util import BOOL_SWITCHES, PERF_OFF
from basicsr.utils.winograd_conv import WinogradConvs
from scripts.benchmark_setup import random_vgg_file
from tests.helpers.pdd_options import build_pdd_model, one_torch_thread, random_pdd_batch, tiny_pdd_options

__all__ = ['one_torch_thread']  # autouse fixture, active in this module
ITERATION = 10  # past the D-only and distillation warm-ups of tiny_pdd_options
FP32 = (1e-4, 1e-3, 1e-2)  # loss / network gradient / single tensor, as scripts/benchmark.py uses
FLOAT64 = (1e-9, 1e-9, 1e-7)


@pytest.fixture(scope='module')
def vgg_file(tmp_path_factory) -> str:
    """One VGG19 file for both losses, as with ImageNet weights, so they can share passes."""
    return random_vgg_file(str(tmp_path_factory.mktemp('vgg') / 'vgg19.pth'), deepest='conv2_2')


def pdd_model(tmp_path, vgg_file: str, perf: dict, ema: bool = True, source=None, **train_changes):
    """A tiny SRGANRefModel with `perf`; weights copied from `source`, else a generalist nudged away from net_g."""
    opt = tiny_pdd_options(ema=ema, batch=2)
    opt['train'].update(perf=perf, **train_changes)
    for key in ('perceptual_opt', 'domain_opt'):
        opt['train'][key].update(pretrained=True, vgg_weights_path=vgg_file)
    torch.manual_seed(0)
    model = build_pdd_model(opt, tmp_path)
    if source is None:
        generator = torch.Generator().manual_seed(1)
        with torch.no_grad():
            for param in model.generalist.parameters():
                param.add_(0.1 * param.abs().mean() * torch.randn(param.shape, generator=generator))
    else:
        for label in ('net_g', 'net_d', 'net_g_ema', 'net_g_fix'):
            if hasattr(model, label):
                getattr(model, label).load_state_dict(getattr(source, label).state_dict())
    model.feed_data(random_pdd_batch(batch=2))
    return model


def to_float64(model) -> None:
    for module in (model.net_g, model.generalist, model.net_d, model.cri_domain, model.cri_perceptual):
        module.double()
    if hasattr(model, 'net_g_ema'):
        model.net_g_ema.double()
    model.feed_data({'lq_s': model.lq_s.double(), 'gt_s': model.gt_s.double(), 'lq_t': model.lq_t.double()})


def reference_and_fast(tmp_path, vgg_file, perf: dict, float64: bool, ema: bool = True, **train_changes):
    """One step of the authors' computation and one of the model with `perf`, from identical weights."""
    reference = pdd_model(tmp_path, vgg_file, asdict(PERF_OFF), ema, **train_changes)
    fast = pdd_model(tmp_path, vgg_file, perf, ema, source=reference, **train_changes)
    if float64:
        to_float64(reference)
        to_float64(fast)
    authors_optimize_parameters(reference, ITERATION)
    fast.optimize_parameters(ITERATION)
    return StepResult.of(reference), StepResult.of(fast), fast


@pytest.mark.parametrize('ema', [True, False], ids=['ema', 'static'])
def test_fast_step_gives_the_authors_losses_and_gradients_in_float64(tmp_path, vgg_file, ema):
    reference, fast, model = reference_and_fast(tmp_path, vgg_file, {}, float64=True, ema=ema)
    comparison = compare_steps(reference, fast, *FLOAT64)
    assert comparison.equal, comparison.problems
    assert {'l_inter', 'l_intra', 'l_g_pix', 'l_g_percep', 'l_g_gan', 'l_d_real'} <= fast.losses.keys()
    assert model.fast_step.vgg_passes.pass_groups == 1


def test_fast_step_agrees_with_the_authors_in_fp32_up_to_rounding(tmp_path, vgg_file):
    reference, fast, _ = reference_and_fast(tmp_path, vgg_file, {}, float64=False)
    comparison = compare_steps(reference, fast, *FP32)
    assert comparison.equal, comparison.problems


@pytest.mark.parametrize('switch', [*BOOL_SWITCHES, 'fuse_discriminator', 'winograd'])
def test_every_switch_can_be_turned_off_and_the_step_stays_exact(tmp_path, vgg_file, switch):
    reference, fast, model = reference_and_fast(tmp_path, vgg_file, {switch: False}, float64=True)
    assert getattr(model.perf, switch) is False
    comparison = compare_steps(reference, fast, *FLOAT64)
    assert comparison.equal, comparison.problems


def test_switches_off_show_in_the_model(tmp_path, vgg_file):
    on = pdd_model(tmp_path, vgg_file, {})
    off = pdd_model(tmp_path, vgg_file, {'shared_vgg': False, 'channels_last': False, 'fused_optimizer': False,
                                         'inference_mode': False})
    for model in (on, off):
        model.optimize_parameters(ITERATION)
    assert (on.fast_step.vgg_passes.pass_groups, off.fast_step.vgg_passes.pass_groups) == (1, 2)
    assert on.net_g.conv_first.weight.is_contiguous(memory_format=torch.channels_last)
    assert off.net_g.conv_first.weight.is_contiguous()
    assert on.optimizer_g.defaults['fused'] and not off.optimizer_g.defaults['fused']
    assert on.ref_s.is_inference() and not off.ref_s.is_inference()


@pytest.mark.parametrize('float64', [True, False], ids=['float64', 'fp32'])
def test_winograd_vgg_passes_give_the_authors_losses_and_gradients(tmp_path, vgg_file, monkeypatch, float64):
    """Thresholds lowered so that the tiny VGG's convolutions take the Winograd path (the paper's VGG19 does so
    from conv2_1 on)."""
    monkeypatch.setattr(winograd_conv, 'MIN_CHANNEL_PRODUCT', 1)
    monkeypatch.setattr(winograd_conv, 'MIN_CHANNEL_PRODUCT_TORCH_OPS', 1)
    monkeypatch.setattr(winograd_conv, 'MIN_SIZE', 1)
    calls = []
    convolve = winograd_conv._convolve
    monkeypatch.setattr(winograd_conv, '_convolve', lambda *args: calls.append(1) or convolve(*args))
    reference, fast, _ = reference_and_fast(tmp_path, vgg_file, {'winograd': True}, float64=float64)
    assert len(calls) >= 4 * 2 + 4  # 4 convolutions in 2 passes, input gradients through those with gradients
    comparison = compare_steps(reference, fast, *(FLOAT64 if float64 else FP32))
    assert comparison.equal, comparison.problems


def test_winograd_auto_is_on_for_the_cpu_and_off_when_switched_off(tmp_path, vgg_file):
    auto = pdd_model(tmp_path, vgg_file, {})
    off = pdd_model(tmp_path, vgg_file, {'winograd': False})
    assert isinstance(auto.fast_step.vgg_passes.runner.keywords['convolve'], WinogradConvs)
    assert off.fast_step.vgg_passes.runner is vgg_features
    assert 'winograd' in auto.fast_step.describe().split('off:')[0]
    assert 'winograd' in off.fast_step.describe().split('off:')[1]


def test_all_switches_off_runs_the_plain_step(tmp_path, vgg_file):
    model = pdd_model(tmp_path, vgg_file, asdict(PERF_OFF))
    assert model.fast_step is None
    model.optimize_parameters(ITERATION)
    assert {'l_inter', 'l_intra', 'l_g_percep', 'l_d_fake'} <= model.log_dict.keys()


def count_calls(*modules: nn.Module) -> list:
    """Batch sizes of the calls to any of `modules`, in call order."""
    calls = []
    for module in modules:
        module.register_forward_hook(lambda mod, args, out: calls.append(args[0].shape[0]))
    return calls


def test_shared_vgg_runs_two_batched_passes_where_the_authors_run_six(tmp_path, vgg_file):
    fast = pdd_model(tmp_path, vgg_file, {})
    reference = pdd_model(tmp_path, vgg_file, asdict(PERF_OFF), source=fast)
    fast_calls = count_calls(fast.cri_domain.vgg.vgg_net.conv1_1, fast.cri_perceptual.vgg.vgg_net.conv1_1)
    reference_calls = count_calls(reference.cri_domain.vgg.vgg_net.conv1_1,
                                  reference.cri_perceptual.vgg.vgg_net.conv1_1)
    fast.optimize_parameters(ITERATION)
    authors_optimize_parameters(reference, ITERATION)
    assert sorted(fast_calls) == [4, 6]  # specialist outputs of both streams; generalist outputs and GT
    assert sorted(reference_calls) == [2] * 6


def test_generalist_runs_only_when_the_distillation_is_active(tmp_path, vgg_file):
    model = pdd_model(tmp_path, vgg_file, {})
    calls = count_calls(model.generalist)
    model.optimize_parameters(2)  # net_d_init_iters 1, distillation from iteration 3
    assert calls == [] and model.ref_s is None and 'l_inter' not in model.log_dict
    model.optimize_parameters(ITERATION)
    assert calls == [4] and 'l_inter' in model.log_dict


def test_d_only_iterations_leave_net_g_unchanged_and_train_d(tmp_path, vgg_file):
    model = pdd_model(tmp_path, vgg_file, {})
    g_before = [p.detach().clone() for p in model.net_g.parameters()]
    d_before = [p.detach().clone() for p in model.net_d.parameters()]
    model.optimize_parameters(1)
    assert all(torch.equal(a, b) for a, b in zip(g_before, model.net_g.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(d_before, model.net_d.parameters()))
    assert not model.output_s.requires_grad


def test_discriminator_fusion_is_auto_only_where_concatenation_is_exact(tmp_path, vgg_file):
    assert not concatenation_is_exact(pdd_model(tmp_path, vgg_file, {}).net_d)  # spectral norm
    assert not concatenation_is_exact(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)))
    assert concatenation_is_exact(nn.Sequential(nn.Conv2d(3, 4, 3), nn.LeakyReLU(0.2), nn.Conv2d(4, 1, 3)))


def test_forced_discriminator_fusion_calls_d_once_per_phase(tmp_path, vgg_file):
    fused = pdd_model(tmp_path, vgg_file, {'fuse_discriminator': True})
    separate = pdd_model(tmp_path, vgg_file, {}, source=fused)
    fused_calls, separate_calls = count_calls(fused.net_d), count_calls(separate.net_d)
    fused.optimize_parameters(ITERATION)
    separate.optimize_parameters(ITERATION)
    assert fused_calls == [4, 4] and separate_calls == [4, 2, 2]


def record_dtypes(module: nn.Module) -> list:
    dtypes = []
    module.register_forward_hook(lambda mod, args, out: dtypes.append(out.dtype))
    return dtypes


def test_bf16_autocast_runs_networks_in_bf16_and_losses_in_fp32_on_cpu(tmp_path, vgg_file):
    amp = pdd_model(tmp_path, vgg_file, {'amp': 'bf16'})
    fp32 = pdd_model(tmp_path, vgg_file, {}, source=amp)
    vgg_dtypes, d_dtypes = record_dtypes(amp.cri_domain.vgg.vgg_net.conv1_1), record_dtypes(amp.net_d)
    amp.optimize_parameters(ITERATION)
    fp32.optimize_parameters(ITERATION)
    assert set(vgg_dtypes) == {torch.bfloat16} and set(d_dtypes) == {torch.bfloat16}
    assert amp.fast_step.scaler is None
    for name in ('l_intra', 'l_g_pix', 'l_g_percep', 'l_d_real'):
        assert amp.log_dict[name] == pytest.approx(fp32.log_dict[name], rel=5e-2), name


def test_fp16_amp_steps_through_a_grad_scaler(tmp_path, vgg_file):
    try:
        with torch.autocast('cpu', dtype=torch.float16):
            torch.nn.functional.conv2d(torch.rand(1, 1, 3, 3), torch.rand(1, 1, 1, 1))
    except RuntimeError as error:
        pytest.skip(f'this PyTorch has no fp16 autocast on the CPU: {error}')
    model = pdd_model(tmp_path, vgg_file, {'amp': 'fp16'})
    before = [p.detach().clone() for p in model.net_d.parameters()]
    model.optimize_parameters(ITERATION)
    assert isinstance(model.fast_step.scaler, torch.amp.GradScaler)
    assert model.fast_step.scaler.get_scale() > 0
    assert all(torch.isfinite(torch.tensor(v)) for v in model.log_dict.values())
    assert not all(torch.equal(a, b) for a, b in zip(before, model.net_d.parameters()))


def test_compile_switch_compiles_the_generator_and_the_vgg_passes(tmp_path, vgg_file, monkeypatch):
    """Dynamo traces the real code; the eager backend skips the C++ code generation that takes minutes on a CPU."""
    monkeypatch.setattr(torch, 'compile', functools.partial(torch.compile, backend='eager'))
    torch._dynamo.reset()
    reference, fast, model = reference_and_fast(tmp_path, vgg_file, {'compile': True}, float64=False)
    assert model.net_g._compiled_call_impl is not None and model.generalist._compiled_call_impl is not None
    assert model.fast_step.vgg_passes.runner is not vgg_features
    comparison = compare_steps(reference, fast, *FP32)
    assert comparison.equal, comparison.problems
    torch._dynamo.reset()


def test_fast_step_is_built_from_the_model_perf_options(tmp_path, vgg_file):
    model = pdd_model(tmp_path, vgg_file, {'amp': None, 'foreach_ema': False})
    assert isinstance(model.fast_step, PDDFastStep)
    assert model.fast_step.perf is model.perf and model.perf.foreach_ema is False and model.perf.shared_vgg
