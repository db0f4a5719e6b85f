"""train.perf: switches parsed and validated with their key paths; optimizer, memory-format and AMP helpers."""
import pytest
import torch

from basicsr.models.base_model import BaseModel
from basicsr.utils.precision_util import (EXACT_PERF, PERF_OFF, autocast, grad_scaler, optimizer_speed_kwargs,
                                          perf_option_problems, perf_options, to_memory_format, winograd_active)


def test_defaults_are_the_exact_switches_with_amp_and_compile_off():
    perf = perf_options({'train': {}}, EXACT_PERF)
    assert perf.shared_vgg and perf.channels_last and perf.inference_mode and perf.fused_optimizer
    assert perf.amp is None and perf.compile is False and perf.fuse_discriminator == 'auto'


def test_train_perf_overrides_the_defaults_and_aliases_are_read_from_train_or_top_level():
    opt = {'amp': 'bf16', 'train': {'perf': {'shared_vgg': False}, 'compile': 'max-autotune'}}
    perf = perf_options(opt, EXACT_PERF)
    assert (perf.shared_vgg, perf.amp, perf.compile, perf.channels_last) == (False, 'bf16', 'max-autotune', True)


@pytest.mark.parametrize('opt, fragment', [
    ({'train': {'perf': {'shared_vgs': True}}}, 'train.perf.shared_vgs: unknown switch'),
    ({'train': {'perf': {'channels_last': 'yes'}}}, 'train.perf.channels_last: expected true or false'),
    ({'train': {'amp': 'fp8'}}, "amp: 'fp8' is not supported"),
    ({'train': {'perf': {'compile': 'fastest'}}}, "compile: 'fastest'"),
    ({'amp': 'bf16', 'train': {'perf': {'amp': 'bf16'}}}, 'amp: given in train.perf and the top level; keep one'),
    ({'train': {'perf': {'fuse_discriminator': 'sometimes'}}}, 'train.perf.fuse_discriminator'),
    ({'train': {'perf': {'winograd': 'yes'}}}, "train.perf.winograd: 'yes'; use auto, true or false"),
])
def test_bad_switches_are_reported_with_their_key_path(opt, fragment):
    assert any(fragment in problem for problem in perf_option_problems(opt))
    with pytest.raises(ValueError, match='Performance options'):
        perf_options(opt, EXACT_PERF)


def test_a_model_without_switches_rejects_them_and_runs_with_all_off():
    assert perf_options({'train': {}}, None) == PERF_OFF
    with pytest.raises(ValueError, match='only SRGANRefModel'):
        perf_options({'model_type': 'SRModel', 'train': {'perf': {'channels_last': True}}}, None)


def test_fused_optimizer_picks_fused_kernels_where_they_exist_else_foreach():
    assert optimizer_speed_kwargs(torch.optim.Adam, EXACT_PERF) == {'fused': True}
    assert optimizer_speed_kwargs(torch.optim.RMSprop, EXACT_PERF) == {'foreach': True}
    assert optimizer_speed_kwargs(torch.optim.Adam, PERF_OFF) == {}


def test_optimizer_block_choices_win_over_the_switch():
    model = BaseModel({'train': {}, 'num_gpu': 0})
    model.perf = EXACT_PERF
    param = torch.nn.Parameter(torch.zeros(2))
    assert model.get_optimizer('Adam', [param], 1e-3).defaults['fused'] is True
    assert not model.get_optimizer('Adam', [param], 1e-3, fused=False).defaults['fused']


def test_channels_last_is_applied_only_when_switched_on():
    conv = torch.nn.Conv2d(3, 8, 3)
    assert to_memory_format(conv, PERF_OFF).weight.is_contiguous()
    assert to_memory_format(conv, EXACT_PERF).weight.is_contiguous(memory_format=torch.channels_last)


def test_autocast_and_grad_scaler_follow_the_amp_switch():
    cpu = torch.device('cpu')
    with autocast(cpu, 'bf16'):
        assert torch.nn.functional.linear(torch.rand(2, 2), torch.rand(2, 2)).dtype == torch.bfloat16
    with autocast(cpu, None):
        assert torch.nn.functional.linear(torch.rand(2, 2), torch.rand(2, 2)).dtype == torch.float32
    assert grad_scaler(cpu, 'bf16') is None and isinstance(grad_scaler(cpu, 'fp16'), torch.amp.GradScaler)


@pytest.mark.parametrize('winograd, device, amp, active', [
    ('auto', 'cpu', None, True), ('auto', 'cpu', 'bf16', False), ('auto', 'cuda', None, False),
    (True, 'cuda', None, True), (False, 'cpu', None, False)])
def test_winograd_auto_means_cpu_fp32_and_true_or_false_force_it(winograd, device, amp, active):
    perf = perf_options({'train': {'perf': {'winograd': winograd, 'amp': amp}}}, EXACT_PERF)
    assert winograd_active(perf, torch.device(device)) is active
