"""SRGANRefModel's one step computes the PDD authors' losses and gradients (their order, benchmarks/reference_step.py)
with every exact switch on, with all off, and with each one off alone; AMP and compile are switches of the same step."""

import functools

import pytest
import torch
from torch import nn

from basicsr.losses.shared_vgg import vgg_features
from basicsr.models.srgan_ref_model import PDDPerfOptions
from benchmarks.harness import random_vgg_file
from benchmarks.reference_step import REFERENCE_PERF, StepResult, authors_optimize_parameters, compare_steps
from tests.helpers.pdd_options import build_pdd_model, one_torch_thread, random_pdd_batch, tiny_pdd_options

__all__ = ['one_torch_thread']  # autouse fixture, active in this module
ITERATION = 10  # past the D-only and distillation warm-ups of tiny_pdd_options
FP32 = (1e-4, 1e-3, 1e-2)  # loss / network gradient / single tensor, as scripts/benchmark.py uses
FLOAT64 = (1e-9, 1e-9, 1e-7)
EXACT_SWITCHES = tuple(REFERENCE_PERF)


def test_the_reference_turns_off_exactly_the_exact_switches():
    defaults = PDDPerfOptions()
    assert all(getattr(defaults, name) is True for name in EXACT_SWITCHES)


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
    reference = pdd_model(tmp_path, vgg_file, REFERENCE_PERF, ema, **train_changes)
    fast = pdd_model(tmp_path, vgg_file, perf, ema, source=reference, **train_changes)
    if float64:
        to_float64(reference)
        to_float64(fast)
    authors_optimize_parameters(reference, ITERATION)
    fast.optimize_parameters(ITERATION)
    return StepResult.of(reference), StepResult.of(fast), fast


@pytest.mark.parametrize('ema', [True, False], ids=['ema', 'static'])
def test_the_step_gives_the_authors_losses_and_gradients_in_float64(tmp_path, vgg_file, ema):
    reference, fast, model = reference_and_fast(tmp_path, vgg_file, {}, float64=True, ema=ema)
    comparison = compare_steps(reference, fast, *FLOAT64)
    assert comparison.equal, comparison.problems
    assert {'l_inter', 'l_intra', 'l_g_pix', 'l_g_percep', 'l_g_gan', 'l_d_real'} <= fast.losses.keys()
    assert model.vgg_passes.pass_groups == 1


def test_the_step_agrees_with_the_authors_in_fp32_up_to_rounding(tmp_path, vgg_file):
    reference, fast, _ = reference_and_fast(tmp_path, vgg_file, {}, float64=False)
    comparison = compare_steps(reference, fast, *FP32)
    assert comparison.equal, comparison.problems


@pytest.mark.parametrize('switch', EXACT_SWITCHES)
def test_each_exact_switch_off_alone_keeps_the_step_exact(tmp_path, vgg_file, switch):
    reference, fast, model = reference_and_fast(tmp_path, vgg_file, {switch: False}, float64=True)
    assert getattr(model.perf, switch) is False
    comparison = compare_steps(reference, fast, *FLOAT64)
    assert comparison.equal, comparison.problems


def test_all_exact_switches_off_is_the_same_step_too(tmp_path, vgg_file):
    reference, fast, model = reference_and_fast(tmp_path, vgg_file, REFERENCE_PERF, float64=True)
    assert not any(getattr(model.perf, name) for name in EXACT_SWITCHES)
    comparison = compare_steps(reference, fast, *FLOAT64)
    assert comparison.equal, comparison.problems


def test_switches_off_show_in_the_model(tmp_path, vgg_file):
    on = pdd_model(tmp_path, vgg_file, {})
    off = pdd_model(
        tmp_path,
        vgg_file,
        {'shared_vgg': False, 'channels_last': False, 'fused_optimizer': False, 'inference_mode': False},
    )
    for model in (on, off):
        model.optimize_parameters(ITERATION)
    assert (on.vgg_passes.pass_groups, off.vgg_passes.pass_groups) == (1, 2)
    assert on.net_g.conv_first.weight.is_contiguous(memory_format=torch.channels_last)
    assert off.net_g.conv_first.weight.is_contiguous()
    assert on.optimizer_g.defaults['fused'] and not off.optimizer_g.defaults['fused']
    assert on.ref_s.is_inference() and not off.ref_s.is_inference()


def count_calls(*modules: nn.Module) -> list:
    """Batch sizes of the calls to any of `modules`, in call order."""
    calls = []
    for module in modules:
        module.register_forward_hook(lambda mod, args, out: calls.append(args[0].shape[0]))
    return calls


def test_shared_vgg_runs_two_batched_passes_where_the_authors_run_six(tmp_path, vgg_file):
    fast = pdd_model(tmp_path, vgg_file, {})
    reference = pdd_model(tmp_path, vgg_file, REFERENCE_PERF, source=fast)
    fast_calls = count_calls(fast.cri_domain.vgg.vgg_net.conv1_1, fast.cri_perceptual.vgg.vgg_net.conv1_1)
    reference_calls = count_calls(
        reference.cri_domain.vgg.vgg_net.conv1_1, reference.cri_perceptual.vgg.vgg_net.conv1_1
    )
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
    assert amp.training_step.scaler is None
    for name in ('l_intra', 'l_g_pix', 'l_g_percep', 'l_d_real'):
        assert amp.log_dict[name] == pytest.approx(fp32.log_dict[name], rel=5e-2), name


def test_compile_switch_compiles_the_generator_and_the_vgg_passes(tmp_path, vgg_file, monkeypatch):
    """Dynamo traces the real code; the eager backend skips the C++ code generation that takes minutes on a CPU."""
    monkeypatch.setattr(torch, 'compile', functools.partial(torch.compile, backend='eager'))
    torch._dynamo.reset()
    reference, fast, model = reference_and_fast(tmp_path, vgg_file, {'compile': True}, float64=False)
    assert model.net_g._compiled_call_impl is not None and model.generalist._compiled_call_impl is not None
    assert model.vgg_passes.runner is not vgg_features
    comparison = compare_steps(reference, fast, *FP32)
    assert comparison.equal, comparison.problems
    torch._dynamo.reset()


def test_perf_options_are_read_from_the_option_file(tmp_path, vgg_file):
    model = pdd_model(tmp_path, vgg_file, {'amp': None, 'foreach_ema': False})
    assert isinstance(model.perf, PDDPerfOptions)
    assert model.perf.foreach_ema is False and model.perf.shared_vgg and model.perf.amp is None
