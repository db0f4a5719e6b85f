"""The training switches (`train.perf`, `train.accum_iter`, `train.grad_clip` and the forks' spellings): read once,
every problem reported with its key path, up front with the other option problems."""

import pytest

from basicsr.models import model_class
from basicsr.models.base_model import BaseModel
from basicsr.models.perf_options import PerfOptions, resolve_perf
from basicsr.models.sr_model import SRModel
from basicsr.models.srgan_model import SRGANModel
from basicsr.models.srgan_ref_model import PDDPerfOptions, SRGANRefModel
from basicsr.option_check import OptionError, validate_options
from basicsr.utils.options import setup_options
from tests.conftest import tiny_sr_options

GAN_NETS = ('net_g', 'net_d')


DEFAULTS = PerfOptions()


def resolve(opt: dict, defaults=DEFAULTS, networks=GAN_NETS, device='cpu'):
    return resolve_perf(opt, defaults, networks, device)


def test_defaults_are_basicsr_math_and_pdd_turns_its_exact_speedups_on():
    assert SRModel.perf_defaults == PerfOptions() and not PerfOptions().channels_last
    assert PerfOptions().accum_iter == 1 and PerfOptions().grad_clip == {} and PerfOptions().amp is None
    pdd = SRGANRefModel.perf_defaults
    assert isinstance(pdd, PDDPerfOptions) and pdd.shared_vgg and pdd.channels_last and pdd.fused_optimizer


def test_switches_are_read_from_perf_train_and_top_level():
    opt = {
        'amp': 'bf16',
        'train': {
            'perf': {'foreach_ema': False},
            'compile': 'max-autotune',
            'accum_iter': 4,
            'grad_clip': {'net_d': 5},
        },
    }
    perf, problems = resolve(opt)
    assert problems == []
    assert (perf.amp, perf.compile, perf.foreach_ema, perf.accum_iter) == ('bf16', 'max-autotune', False, 4)
    assert perf.grad_clip == {'net_d': 5.0}


@pytest.mark.parametrize(
    'opt, expected',
    [
        ({'use_amp': True, 'amp_bf16': True}, 'bf16'),  # traiNNer-redux
        ({'use_amp': True, 'bfloat16': True}, 'bf16'),  # neosr
        ({'use_amp': False}, None),
    ],
)
def test_amp_aliases_of_the_forks(opt, expected):
    perf, problems = resolve({**opt, 'train': {}})
    assert problems == [] and perf.amp == expected


def test_use_amp_alone_means_fp16_which_needs_a_gpu():
    perf, problems = resolve({'use_amp': True, 'train': {}}, device='cuda')
    assert perf.amp == 'fp16' and problems == []
    _, problems = resolve({'use_amp': True, 'train': {}}, device='cpu')
    assert problems == [
        'use_amp: fp16 needs a CUDA GPU (on the CPU it is emulated, slow and needs loss scaling); use bf16 on the CPU'
    ]


def test_other_aliases_map_to_our_switches():
    opt = {
        'use_channels_last': True,
        'use_compile': False,
        'train': {'grad_clip': True},
        'datasets': {'train': {'accum_iter': 3}},
    }
    perf, problems = resolve(opt)
    assert problems == [] and perf.channels_last and perf.accum_iter == 3 and perf.grad_clip == {'net_g': 1.0}
    perf, _ = resolve({'train': {}, 'datasets': {'train': {'accumulate': 2}}})
    assert perf.accum_iter == 2


def test_an_alias_and_our_key_agreeing_is_fine_and_disagreeing_is_an_error():
    assert resolve({'use_channels_last': True, 'train': {'perf': {'channels_last': True}}})[1] == []
    _, problems = resolve({'use_amp': True, 'amp_bf16': True, 'train': {'perf': {'amp': 'fp16'}}}, device='cuda')
    assert problems == ["use_amp: 'bf16' conflicts with train.perf.amp: 'fp16' (both set amp); keep one"]


@pytest.mark.parametrize(
    'opt, message',
    [
        ({'train': {'perf': {'shared_vgs': True}}}, 'train.perf.shared_vgs: unknown switch'),
        ({'train': {'perf': {'channels_last': 'yes'}}}, "train.perf.channels_last: expected true or false, got 'yes'"),
        ({'train': {'perf': {'amp': 'fp8'}}}, "train.perf.amp: 'fp8' is not supported"),
        ({'train': {'perf': {'compile': 'fastest'}}}, "train.perf.compile: 'fastest'; use true, false or one of"),
        (
            {'train': {'accum_iter': 0}},
            'train.accum_iter: micro-batches per optimiser step must be an integer >= 1, got 0',
        ),
        ({'train': {'accum_iter': -2}}, 'train.accum_iter: micro-batches per optimiser step'),
        ({'train': {'accum_iter': 'two'}}, "got 'two'"),
        ({'train': {'grad_clip': -1}}, 'train.grad_clip: the max gradient norm must be a positive number, got -1'),
        (
            {'train': {'grad_clip': {'net_x': 1}}},
            "train.grad_clip.net_x: this model trains net_g, net_d; no network 'net_x'",
        ),
        ({'amp_bf16': True, 'train': {}}, 'amp_bf16: true needs use_amp: true beside it'),
        ({'train': {'perf': {'amp': 'fp16'}}}, 'train.perf.amp: fp16 needs a CUDA GPU'),
        ({'train': {'perf': 'fast'}}, "train.perf: expected a mapping of switches, got 'fast'"),
    ],
)
def test_bad_switches_are_named_with_their_key(opt, message):
    _, problems = resolve(opt)
    assert any(message in problem for problem in problems), problems


def test_pdd_only_switches_are_unknown_to_other_models():
    _, problems = SRModel.resolve_perf({'train': {'perf': {'shared_vgg': False}}}, 'cpu')
    assert problems and problems[0].startswith('train.perf.shared_vgg: unknown switch')
    assert SRGANRefModel.resolve_perf({'train': {'perf': {'shared_vgg': False}}}, 'cpu')[1] == []


def test_grad_clip_names_the_networks_each_model_trains():
    assert SRModel.resolve_perf({'train': {'grad_clip': 2}}, 'cpu')[0].grad_clip == {'net_g': 2.0}
    assert SRGANModel.resolve_perf({'train': {'grad_clip': 2}}, 'cpu')[0].grad_clip == {'net_g': 2.0, 'net_d': 2.0}
    assert 'no network' in SRModel.resolve_perf({'train': {'grad_clip': {'net_d': 1}}}, 'cpu')[1][0]


def test_compile_where_torch_cannot_is_reported(monkeypatch):
    monkeypatch.setattr('basicsr.models.perf_options.shutil.which', lambda name: None)
    _, problems = resolve({'train': {'perf': {'compile': True}}})
    assert problems == [
        'train.perf.compile: torch.compile on the CPU needs a C++ compiler (g++ or clang++) on PATH; remove compile'
    ]


class OwnStepModel(SRModel):
    """A model from another package that writes its own optimize_parameters (as realesrgan's models do)."""

    def optimize_parameters(self, current_iter: int) -> None:
        raise NotImplementedError


OwnStepModel.__module__ = 'otherpackage.models'


def test_a_model_with_its_own_step_refuses_the_switches_that_need_ours():
    _, problems = OwnStepModel.resolve_perf({'train': {'accum_iter': 2, 'perf': {'channels_last': True}}}, 'cpu')
    assert len(problems) == 1 and problems[0].startswith('accum_iter: OwnStepModel runs its own optimize_parameters')
    assert BaseModel.resolve_perf({'train': {'accum_iter': 2}}, 'cpu')[1] == []


def test_a_perf_typo_is_reported_up_front_with_the_other_problems(paired_folders, tmp_path):
    opt = tiny_sr_options(*paired_folders)
    opt['train']['perf'] = {'chanels_last': True}
    opt['train']['accum_iter'] = 0
    opt['datasets']['train']['dataroot_gt'] = str(tmp_path / 'missing')
    with pytest.raises(OptionError) as error:
        validate_options(setup_options(opt, str(tmp_path), is_train=True))
    text = str(error.value)
    assert 'train.perf.chanels_last: unknown switch' in text and 'train.accum_iter: micro-batches' in text
    assert 'datasets.train.dataroot_gt' in text and '3 problem(s)' in text


def test_aliases_pass_the_option_schema(paired_folders, tmp_path):
    opt = tiny_sr_options(*paired_folders)
    opt.update(use_channels_last=True, use_amp=True, amp_bf16=True)
    opt['datasets']['train']['accum_iter'] = 2
    opt['train']['grad_clip'] = True
    validate_options(setup_options(opt, str(tmp_path), is_train=True))
    assert model_class(opt).resolve_perf(opt, 'cpu')[0].accum_iter == 2
