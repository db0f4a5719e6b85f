"""Value types are checked up front with their key paths: YAML's text-for-numbers trap, booleans, loader sizes,
constructor arguments, and the weight files and image sizes a run will need."""

import copy

import cv2
import numpy as np
import pytest

from basicsr.option_check import OptionError, validate_options
from basicsr.utils.options import apply_force_yml, setup_options, yaml_load
from tests.conftest import tiny_sr_options


def problems(opt: dict, tmp_path) -> list[str]:
    opt = setup_options(copy.deepcopy(opt), str(tmp_path), is_train=True)
    with pytest.raises(OptionError) as err:
        validate_options(opt)
    return err.value.problems


def test_a_bare_exponent_is_text_to_yaml_and_is_reported_with_both_fixes(paired_folders, tmp_path):
    opt = tiny_sr_options(*paired_folders)
    opt['train']['optim_g']['lr'] = yaml_load('lr: 1e-3')['lr']
    assert opt['train']['optim_g']['lr'] == '1e-3'  # the classic BasicSR trap: PyYAML reads YAML 1.1
    assert problems(opt, tmp_path) == [
        "train.optim_g.lr: '1e-3' is text to YAML, not a number; write 1.0e-3 or !!float 1e-3"
    ]


def test_a_bare_exponent_on_the_command_line_is_the_number_it_means():
    opt = {'train': {'optim_g': {'lr': 1.0}}}
    apply_force_yml(opt, ['train:optim_g:lr=2e-4'])
    assert opt['train']['optim_g']['lr'] == 2e-4


def test_loader_sizes_and_switches_must_have_their_types(paired_folders, tmp_path):
    opt = tiny_sr_options(*paired_folders)
    opt['datasets']['train']['batch_size_per_gpu'] = 'two'
    opt['datasets']['train']['use_hflip'] = 'yes_please'
    opt['datasets']['train']['num_worker_per_gpu'] = 1.5
    assert sorted(problems(opt, tmp_path)) == [
        "datasets.train.batch_size_per_gpu: must be an integer, got 'two'",
        'datasets.train.num_worker_per_gpu: must be an integer, got 1.5',
        "datasets.train.use_hflip: must be true or false, got 'yes_please'",
    ]


def test_constructor_arguments_are_checked_against_their_signatures(paired_folders, tmp_path):
    opt = tiny_sr_options(*paired_folders)
    opt['network_g']['num_feat'] = 'eight'
    opt['train']['pixel_opt']['loss_weight'] = 'one'
    opt['train']['optim_g']['amsgrad'] = 'no'
    opt['val']['metrics']['psnr']['test_y_channel'] = 'yes please'
    assert sorted(problems(opt, tmp_path)) == [
        "network_g.num_feat: must be an integer, got 'eight'",
        "train.optim_g.amsgrad: must be true or false, got 'no'",
        "train.pixel_opt.loss_weight: must be a number, got 'one'",
        "val.metrics.psnr.test_y_channel: must be true or false, got 'yes please'",
    ]


def test_top_level_and_path_switches_are_typed(paired_folders, tmp_path):
    opt = tiny_sr_options(*paired_folders)
    opt['manual_seed'] = 'zero'
    opt['path']['strict_load_g'] = 'yes'
    assert sorted(problems(opt, tmp_path)) == [
        "manual_seed: must be an integer, got 'zero'",
        "path.strict_load_g: must be true or false, got 'yes'",
    ]


def test_a_force_yml_typo_names_the_command_line_not_the_file(paired_folders, tmp_path):
    opt = tiny_sr_options(*paired_folders)
    opt['opt_path'], opt['force_yml'] = 'my.yml', ['train:totl_iter=5']
    apply_force_yml(opt, opt['force_yml'])
    opt = setup_options(opt, str(tmp_path), is_train=True)
    with pytest.raises(OptionError) as err:
        validate_options(opt)
    assert str(err.value).startswith('1 problem(s) in my.yml and its --force_yml overrides:')
    assert err.value.problems == [
        "train.totl_iter: unknown option key (did you mean 'total_iter'?) (set by --force_yml train:totl_iter=5)"
    ]


def test_missing_vgg_weights_are_found_before_anything_is_built(paired_folders, tmp_path):
    opt = tiny_sr_options(*paired_folders)
    opt['train']['perceptual_opt'] = {'type': 'PerceptualLoss', 'layer_weights': {'conv5_4': 1.0}}
    found = problems(opt, tmp_path)
    assert len(found) == 1 and found[0].startswith("train.perceptual_opt: Pretrained weights 'vgg19-dcbb9e9d.pth'")


def test_multi_line_problems_keep_one_bullet_per_problem(paired_folders, tmp_path):
    opt = tiny_sr_options(*paired_folders)
    opt['val']['metrics']['lpips'] = {'type': 'calculate_lpips', 'crop_border': 2}
    opt['train']['perceptual_opt'] = {'type': 'PerceptualLoss', 'layer_weights': {'conv5_4': 1.0}}
    opt['manual_sed'] = 1
    opt = setup_options(opt, str(tmp_path), is_train=True)
    with pytest.raises(OptionError) as err:
        validate_options(opt)
    text = str(err.value)
    assert text.startswith('3 problem(s)') and text.count('\n  - ') == 3 and 'Looked at:' in text


def test_validation_images_too_small_for_niqe_are_named_before_training(paired_folders, tmp_path):
    from basicsr.data.dataset_check import DatasetCheckError
    from basicsr.evaluation.metric_sizes import check_metric_sizes

    opt = setup_options(tiny_sr_options(*paired_folders), str(tmp_path), is_train=True)
    opt['val']['metrics']['niqe'] = {'type': 'calculate_niqe', 'crop_border': 2}
    with pytest.raises(
        DatasetCheckError,
        match=r'val\.metrics\.niqe: NIQE needs two 96x96 blocks .* 6 output\(s\) '
        r'of datasets\.val are smaller: img000\.png \(32x32\)',
    ):
        check_metric_sizes(opt)
    big = tmp_path / 'big'
    big.mkdir()
    for name in ('a.png', 'b.png'):
        cv2.imwrite(str(big / name), np.zeros((100, 200, 3), np.uint8))  # LQ x2 -> 200x400 outputs: 8 blocks
    opt['datasets']['val'].update(dataroot_gt=str(big), dataroot_lq=str(big))
    check_metric_sizes(opt)
