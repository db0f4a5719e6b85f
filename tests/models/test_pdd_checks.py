"""PDD option checks (basicsr.models.pdd_checks): each mistake is named by its YAML key before any model is built."""

import logging
import os

import pytest

from basicsr.models.pdd_checks import check_pdd_options
from basicsr.option_check import OptionError, validate_options
from basicsr.train import train_pipeline
from basicsr.utils.logger import get_root_logger
from basicsr.utils.options import setup_options
from tests.helpers.pdd_options import save_generalist, tiny_pdd_options, write_options, write_pdd_data


@pytest.fixture
def warnings_logged():
    """WARNING messages of the `basicsr` logger (it does not propagate to pytest's caplog)."""
    records: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: records.append(record.getMessage())
    logger = get_root_logger()
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


@pytest.fixture
def data(tmp_path):
    return write_pdd_data(tmp_path / 'data')


def key_paths(problems: list[str]) -> list[str]:
    return [problem.split(':')[0] for problem in problems]


def test_ema_mode_without_warm_up_warns_that_the_distillation_starts_at_zero(warnings_logged):
    opt = tiny_pdd_options()
    opt['train']['domain_opt_warmup_iters'] = 0
    assert check_pdd_options(opt) == []
    warning = ' '.join(warnings_logged)
    assert 'train.domain_opt_warmup_iters is 0 in EMA mode' in warning
    assert 'identical' in warning and 'zero' in warning


def test_ema_mode_with_a_warm_up_does_not_warn(warnings_logged):
    assert check_pdd_options(tiny_pdd_options()) == []
    assert not any('domain_opt_warmup_iters' in message for message in warnings_logged)


def test_ema_mode_without_an_ema_decay_is_rejected():
    opt = tiny_pdd_options()
    opt['train']['ema_decay'] = 0
    assert key_paths(check_pdd_options(opt)) == ['train.ema_decay']


def test_static_mode_without_the_generalist_block_or_its_weights_is_rejected():
    opt = tiny_pdd_options(ema=False)
    del opt['network_g_fix']
    assert key_paths(check_pdd_options(opt)) == ['network_g_fix', 'path.pretrain_network_g_fix']


def test_static_mode_with_its_generalist_passes(tmp_path):
    opt = tiny_pdd_options(ema=False)
    opt['path']['pretrain_network_g_fix'] = str(tmp_path / 'generalist.pth')
    assert check_pdd_options(opt) == []


@pytest.mark.parametrize(
    'resize_step',
    [
        {
            'type': 'RandomResize',
            'keys': ['lq'],
            'params': {'target_size': [8, 8], 'resize_opt': ['bicubic'], 'resize_prob': [1]},
        },
        {'type': 'MATLABLikeResize', 'keys': ['lq'], 'output_shape': [8, 8]},
    ],
)
def test_synthetic_crop_and_lr_size_must_give_the_scale(resize_step):
    opt = tiny_pdd_options(scale=4)
    opt['scale'] = 2
    opt['datasets']['train_s']['pipeline'][5] = resize_step
    opt['datasets']['train_t']['lq_size'] = 8
    problems = check_pdd_options(opt)
    assert key_paths(problems) == ['datasets.train_s.pipeline']
    assert 'give scale 4, but scale is 2' in problems[0]


def test_real_lr_crop_must_match_the_synthetic_lr_size():
    opt = tiny_pdd_options(crop=32, scale=4)
    opt['datasets']['train_t']['lq_size'] = 16
    problems = check_pdd_options(opt)
    assert key_paths(problems) == ['datasets.train_t.lq_size']
    assert 'train_s gives 8x8 px LR' in problems[0] and 'set lq_size: 8' in problems[0]


def test_both_training_streams_are_required():
    opt = tiny_pdd_options()
    opt['datasets']['train'] = opt['datasets'].pop('train_s')
    del opt['datasets']['train_t']
    assert key_paths(check_pdd_options(opt)) == ['datasets.train_s', 'datasets.train_t']


def test_distillation_layer_that_the_vgg_type_lacks_is_named():
    opt = tiny_pdd_options()
    opt['train']['domain_opt'].update(
        model_type='vgg11', layer_weights_inter={'conv2_1': 1.0}, layer_weights_intra={'conv3_1': 1.0, 'conv5_4': 1.0}
    )
    problems = check_pdd_options(opt)
    assert key_paths(problems) == ['train.domain_opt.layer_weights_intra.conv5_4']
    assert "vgg11 has no layer 'conv5_4'" in problems[0] and 'conv5_2' in problems[0]


def test_naive_distillation_layers_are_checked_too():
    opt = tiny_pdd_options()
    opt['train']['nd_opt'] = {'type': 'NaiveDistillationLoss', 'layer_weights': {'conv2_3': 1.0}}
    assert key_paths(check_pdd_options(opt)) == ['train.nd_opt.layer_weights.conv2_3']


def test_ema_files_may_name_missing_generalist_weights_they_never_load(data, tmp_path):
    opt = tiny_pdd_options(data)
    opt['network_g_fix'] = {'type': 'RRDBNet', 'num_in_ch': 3, 'num_out_ch': 3, 'num_feat': 4, 'num_block': 1}
    opt['path']['pretrain_network_g_fix'] = str(tmp_path / 'never_loaded.pth')
    validate_options(setup_options(opt, str(tmp_path), is_train=True))


def test_validation_lists_every_pdd_problem_with_its_key_path(data, tmp_path):
    opt = tiny_pdd_options(data, ema=False)
    opt['path']['pretrain_network_g_fix'] = str(tmp_path / 'missing_generalist.pth')
    opt['datasets']['train_t']['lq_size'] = 6
    opt['train']['domain_opt']['layer_weights_inter'] = {'conv9_1': 1.0}
    with pytest.raises(OptionError) as err:
        validate_options(setup_options(opt, str(tmp_path), is_train=True))
    assert key_paths(err.value.problems) == [
        'path.pretrain_network_g_fix',
        'datasets.train_t.lq_size',
        'train.domain_opt.layer_weights_inter.conv9_1',
    ]
    assert str(tmp_path / 'missing_generalist.pth') in err.value.problems[0]


def test_training_stops_on_a_bad_pdd_file_before_creating_the_experiment(data, tmp_path):
    opt = tiny_pdd_options(data, ema=False)
    del opt['network_g_fix']
    opt['path']['pretrain_network_g_fix'] = str(tmp_path / 'generalist.pth')
    save_generalist(tmp_path / 'generalist.pth')
    with pytest.raises(OptionError, match='network_g_fix: static mode'):
        train_pipeline(str(tmp_path), ['-opt', write_options(tmp_path, opt)])
    assert not os.path.exists(tmp_path / 'experiments')


def test_real_lr_crop_size_is_required():
    opt = tiny_pdd_options(crop=32, scale=4)
    del opt['datasets']['train_t']['lq_size']
    problems = check_pdd_options(opt)
    assert key_paths(problems) == ['datasets.train_t.lq_size']
    assert 'set lq_size: 8' in problems[0]


def test_both_streams_need_the_same_batch_size():
    opt = tiny_pdd_options(batch=2)
    opt['datasets']['train_t']['batch_size_per_gpu'] = 4
    problems = check_pdd_options(opt)
    assert key_paths(problems) == ['datasets.train_t.batch_size_per_gpu']
    assert '4 differs from train_s (2)' in problems[0]
