"""Option parsing, overrides and the up-front validation errors (each names its YAML key path)."""

import copy

import pytest
import yaml

from basicsr.option_check import OptionError, validate_options
from basicsr.utils.options import apply_force_yml, parse_options, setup_options, yaml_load
from tests.conftest import tiny_sr_options


def write_yaml(tmp_path, opt: dict, name: str = 'opt.yml') -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(opt))
    return str(path)


def problems_of(opt: dict, tmp_path) -> str:
    opt = setup_options(copy.deepcopy(opt), str(tmp_path), is_train=True)
    with pytest.raises(OptionError) as err:
        validate_options(opt)
    return str(err.value)


def test_yaml_float_tag_and_tilde():
    opt = yaml_load('lr: !!float 1e-4\nfreq: !!float 5e3\nx: ~\n')
    assert opt == {'lr': 1e-4, 'freq': 5000.0, 'x': None}


def test_force_yml_overrides_nested_values():
    opt = {'train': {'optim_g': {'lr': 1e-4}}, 'name': 'a'}
    apply_force_yml(opt, ['train:optim_g:lr=0.5', 'name=b', 'train:total_iter=10'])
    assert opt['train']['optim_g']['lr'] == 0.5 and opt['name'] == 'b' and opt['train']['total_iter'] == 10


def test_force_yml_without_value_is_an_error():
    with pytest.raises(ValueError, match='key:subkey=value'):
        apply_force_yml({}, ['train:lr'])


def test_valid_tiny_options_pass(paired_folders, tmp_path):
    opt = setup_options(tiny_sr_options(*paired_folders), str(tmp_path), is_train=True)
    validate_options(opt)
    assert opt['datasets']['train']['phase'] == 'train' and opt['datasets']['train']['scale'] == 2
    assert opt['path']['models'].endswith('experiments/tiny_sr/models')


def test_misspelled_top_level_key_suggests_the_right_one(paired_folders, tmp_path):
    opt = tiny_sr_options(*paired_folders)
    opt['manual_sed'] = 1
    assert "manual_sed: unknown option key (did you mean 'manual_seed'?)" in problems_of(opt, tmp_path)


def test_misspelled_train_key_names_its_path(paired_folders, tmp_path):
    opt = tiny_sr_options(*paired_folders)
    opt['train']['totl_iter'] = 5
    assert "train.totl_iter: unknown option key (did you mean 'total_iter'?)" in problems_of(opt, tmp_path)


def test_unknown_network_type_lists_known(paired_folders, tmp_path):
    opt = tiny_sr_options(*paired_folders)
    opt['network_g']['type'] = 'RRDBnet'
    msg = problems_of(opt, tmp_path)
    assert "network_g.type: unknown network 'RRDBnet' (did you mean 'RRDBNet'?)" in msg


def test_unknown_network_argument_is_named(paired_folders, tmp_path):
    opt = tiny_sr_options(*paired_folders)
    opt['network_g']['num_feats'] = 4
    assert 'network_g.num_feats: SRVGGNetCompact has no argument' in problems_of(opt, tmp_path)


def test_unknown_loss_argument_is_named(paired_folders, tmp_path):
    opt = tiny_sr_options(*paired_folders)
    opt['train']['pixel_opt']['weight'] = 1
    assert 'train.pixel_opt.weight: L1Loss has no argument' in problems_of(opt, tmp_path)


def test_wrong_type_is_reported(paired_folders, tmp_path):
    opt = tiny_sr_options(*paired_folders)
    opt['train']['total_iter'] = 'many'
    opt['scale'] = 2.5
    msg = problems_of(opt, tmp_path)
    assert "train.total_iter: must be a number, got 'many'" in msg and 'scale: must be a positive integer' in msg


def test_missing_dataroot_is_reported_with_key_path(paired_folders, tmp_path):
    opt = tiny_sr_options(*paired_folders)
    opt['datasets']['train']['dataroot_lq'] = str(tmp_path / 'nope')
    assert f'datasets.train.dataroot_lq: {tmp_path / "nope"} does not exist' in problems_of(opt, tmp_path)


def test_unknown_dataset_key_is_reported(paired_folders, tmp_path):
    opt = tiny_sr_options(*paired_folders)
    opt['datasets']['train']['gt_sise'] = 16
    assert 'datasets.train.gt_sise: unknown option key' in problems_of(opt, tmp_path)


def test_crop_not_divisible_by_scale(paired_folders, tmp_path):
    opt = tiny_sr_options(*paired_folders)
    opt['datasets']['train']['gt_size'] = 15
    assert 'datasets.train.gt_size: 15 is not divisible by scale 2' in problems_of(opt, tmp_path)


def test_missing_pretrained_weights_are_named(paired_folders, tmp_path):
    opt = tiny_sr_options(*paired_folders)
    opt['path']['pretrain_network_g'] = 'experiments/pretrained_models/none.pth'
    assert 'path.pretrain_network_g: experiments/pretrained_models/none.pth does not exist' in problems_of(
        opt, tmp_path
    )


def test_unknown_optimizer_and_metric(paired_folders, tmp_path):
    opt = tiny_sr_options(*paired_folders)
    opt['train']['optim_g']['type'] = 'Adamm'
    opt['val']['metrics']['psnr']['type'] = 'calculate_psnrr'
    msg = problems_of(opt, tmp_path)
    assert "train.optim_g.type: unknown 'Adamm'" in msg and 'val.metrics.psnr.type: unknown metric' in msg


def test_all_problems_are_reported_at_once(paired_folders, tmp_path):
    opt = tiny_sr_options(*paired_folders)
    opt['foo'] = 1
    opt['train']['bar'] = 2
    assert '2 problem(s)' in problems_of(opt, tmp_path)


def test_parse_options_cli(paired_folders, tmp_path):
    path = write_yaml(tmp_path, tiny_sr_options(*paired_folders))
    opt, args = parse_options(
        str(tmp_path), True, ['-opt', path, '--auto_resume', '--force_yml', 'train:total_iter=7', '--local-rank', '0']
    )
    assert opt['auto_resume'] and opt['train']['total_iter'] == 7 and opt['dist'] is False
    assert opt['rank'] == 0 and opt['world_size'] == 1 and args.local_rank == 0


def test_num_gpu_without_cuda_falls_back_to_cpu(paired_folders, tmp_path):
    import torch

    opt = tiny_sr_options(*paired_folders)
    opt['num_gpu'] = 2
    opt = setup_options(opt, str(tmp_path), is_train=True)
    expected = 2 if torch.cuda.is_available() else 0
    assert opt['num_gpu'] == expected and opt.get('requested_num_gpu', 2) == 2


def test_legacy_basicsr_keys_warn_instead_of_failing(paired_folders, tmp_path):
    opt = tiny_sr_options(*paired_folders)
    opt['datasets']['train']['use_flip'] = True
    opt['path']['strict_load'] = True
    validate_options(setup_options(opt, str(tmp_path), is_train=True))


def test_missing_lpips_backbone_is_reported_before_training(paired_folders, tmp_path):
    opt = tiny_sr_options(*paired_folders)
    opt['val']['metrics']['lpips'] = {'type': 'calculate_lpips', 'crop_border': 2, 'better': 'lower'}
    assert 'val.metrics.lpips:' in problems_of(opt, tmp_path) and 'alexnet-owt-7be5be79.pth' in problems_of(
        opt, tmp_path
    )
