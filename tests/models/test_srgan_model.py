"""SRGANModel: D/G alternation, logged losses, bad-input errors, checkpoints and exact resume, on CPU."""

import copy
import os

import pytest
import torch
import yaml

from basicsr.models import build_model
from basicsr.models.base_model import BaseModel
from basicsr.option_check import OptionError, validate_options
from basicsr.train import train_pipeline
from basicsr.utils.options import load_option_file, setup_options
from tests.conftest import tiny_sr_options, write_paired_folders

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VGG19_FILE = 'vgg19-dcbb9e9d.pth'
GAN_LOG_KEYS = {'l_g_pix', 'l_g_percep', 'l_g_style', 'l_g_gan', 'l_d_real', 'out_d_real', 'l_d_fake', 'out_d_fake'}
D_LOG_KEYS = {'l_d_real', 'out_d_real', 'l_d_fake', 'out_d_fake'}


def gan_options(
    gt_dir: str, lq_dir: str, model_type: str = 'SRGANModel', name: str = 'tiny_gan', total_iter: int = 4
) -> dict:
    """tiny_sr_options plus a U-Net discriminator, its optimizer, random-VGG perceptual/style and GAN losses."""
    opt = tiny_sr_options(gt_dir, lq_dir, name=name, total_iter=total_iter)
    opt['model_type'] = model_type
    del opt['datasets']['val'], opt['val']
    opt['network_d'] = {'type': 'UNetDiscriminatorSN', 'num_in_ch': 3, 'num_feat': 4}
    opt['train'].update(
        optim_d={'type': 'Adam', 'lr': 1e-3, 'betas': [0.9, 0.99]},
        perceptual_opt={
            'type': 'PerceptualLoss',
            'layer_weights': {'conv1_2': 0.5, 'conv2_2': 1.0},
            'perceptual_weight': 1.0,
            'style_weight': 0.5,
            'pretrained': False,
        },
        gan_opt={'type': 'GANLoss', 'gan_type': 'vanilla', 'loss_weight': 0.1},
    )
    return opt


def build(opt: dict, root) -> BaseModel:
    """Fill derived options as the training pipeline does and build the model."""
    return build_model(setup_options(copy.deepcopy(opt), str(root), is_train=True))


def random_batch(scale: int = 2, gt_size: int = 16, seed: int = 0) -> dict:
    generator = torch.Generator().manual_seed(seed)
    gt = torch.rand(2, 3, gt_size, gt_size, generator=generator)
    return {'lq': torch.nn.functional.avg_pool2d(gt, scale), 'gt': gt}


def snapshot(net: torch.nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def params_changed(before: dict, net: torch.nn.Module) -> bool:
    return any(not torch.equal(before[name], param) for name, param in net.named_parameters())


def run_training(root, opt: dict, *extra: str):
    root.mkdir(parents=True, exist_ok=True)
    path = root / f'{opt["name"]}.yml'
    path.write_text(yaml.safe_dump(opt))
    return train_pipeline(str(root), ['-opt', str(path), *extra])


def assert_state_dicts_equal(first: dict, second: dict, what: str) -> None:
    assert first.keys() == second.keys(), what
    for key in first:
        assert torch.equal(first[key], second[key]), f'{what}: {key}'


def assert_optimizer_states_equal(first: dict, second: dict) -> None:
    assert first['param_groups'] == second['param_groups']
    assert first['state'].keys() == second['state'].keys()
    for index, slots in first['state'].items():
        for slot, value in slots.items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(second['state'][index][slot])), (index, slot)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny networks run fastest on one thread; several spin-waiting threads stall on a busy 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_one_step_updates_generator_and_discriminator_and_logs_every_loss(tmp_path):
    model = build(gan_options('unused', 'unused'), tmp_path)
    g_before, d_before = snapshot(model.net_g), snapshot(model.net_d)
    model.feed_data(random_batch())
    model.optimize_parameters(1)
    assert params_changed(g_before, model.net_g)
    assert params_changed(d_before, model.net_d)
    log = model.get_current_log()
    assert set(log) == GAN_LOG_KEYS
    assert all(isinstance(value, float) for value in log.values())


def test_generator_is_untouched_until_net_d_init_iters_have_passed(tmp_path):
    opt = gan_options('unused', 'unused')
    opt['train']['net_d_init_iters'] = 2
    model = build(opt, tmp_path)
    model.feed_data(random_batch())
    for current_iter in (1, 2):
        g_before, d_before = snapshot(model.net_g), snapshot(model.net_d)
        model.optimize_parameters(current_iter)
        assert not params_changed(g_before, model.net_g), current_iter
        assert params_changed(d_before, model.net_d), current_iter
        assert set(model.get_current_log()) == D_LOG_KEYS
    g_before = snapshot(model.net_g)
    model.optimize_parameters(3)
    assert params_changed(g_before, model.net_g)
    assert set(model.get_current_log()) == GAN_LOG_KEYS


def test_generator_steps_only_every_net_d_iters(tmp_path):
    opt = gan_options('unused', 'unused')
    opt['train']['net_d_iters'] = 2
    model = build(opt, tmp_path)
    model.feed_data(random_batch())
    for current_iter, g_expected_to_move in ((1, False), (2, True), (3, False), (4, True)):
        g_before, d_before = snapshot(model.net_g), snapshot(model.net_d)
        model.optimize_parameters(current_iter)
        assert params_changed(g_before, model.net_g) == g_expected_to_move, current_iter
        assert params_changed(d_before, model.net_d), current_iter


def test_ema_generator_follows_net_g_in_gan_training(tmp_path):
    model = build(gan_options('unused', 'unused'), tmp_path)
    ema_before = snapshot(model.net_g_ema)
    model.feed_data(random_batch())
    model.optimize_parameters(1)
    decay = model.opt['train']['ema_decay']
    for name, param in model.net_g.named_parameters():
        expected = decay * ema_before[name] + (1 - decay) * param.detach()
        assert torch.allclose(model.net_g_ema.state_dict()[name], expected, atol=1e-7), name


def without_gan_blocks(opt: dict) -> dict:
    del opt['network_d'], opt['train']['optim_d'], opt['train']['gan_opt']
    return opt


def test_missing_gan_blocks_are_reported_by_validation_with_their_key_paths(paired_folders, tmp_path):
    opt = setup_options(without_gan_blocks(gan_options(*paired_folders)), str(tmp_path), is_train=True)
    with pytest.raises(OptionError) as err:
        validate_options(opt)
    assert [problem.split(':')[0] for problem in err.value.problems] == ['network_d', 'train.optim_d', 'train.gan_opt']


def test_missing_gan_blocks_are_reported_at_construction_from_a_raw_dict(tmp_path):
    with pytest.raises(ValueError, match=r'network_d: missing(.|\n)*train\.optim_d: missing(.|\n)*train\.gan_opt'):
        build(without_gan_blocks(gan_options('unused', 'unused')), tmp_path)


def test_discriminator_checkpoint_with_wrong_keys_names_them_at_construction(tmp_path):
    opt = gan_options('unused', 'unused')
    good = build(opt, tmp_path).net_d.state_dict()
    bad = {k: v for k, v in good.items() if not k.startswith('conv9.')}
    bad['extra.weight'] = torch.zeros(1)
    bad['conv0.weight'] = torch.zeros(1, 3, 3, 3)
    weights = tmp_path / 'net_d_bad.pth'
    torch.save({'params': bad}, weights)
    opt['path']['pretrain_network_d'] = str(weights)
    with pytest.raises(RuntimeError) as err:
        build(opt, tmp_path)
    message = str(err.value)
    assert str(weights) in message
    assert 'conv9.weight' in message and 'conv9.bias' in message
    assert 'extra.weight' in message
    assert 'conv0.weight' in message


def test_discriminator_loads_from_pretrain_network_d(tmp_path):
    opt = gan_options('unused', 'unused')
    source = build(opt, tmp_path)
    source.feed_data(random_batch())
    source.optimize_parameters(1)
    weights = tmp_path / 'net_d.pth'
    torch.save({'params': source.net_d.state_dict()}, weights)
    opt['path']['pretrain_network_d'] = str(weights)
    assert_state_dicts_equal(build(opt, tmp_path).net_d.state_dict(), source.net_d.state_dict(), 'net_d')


def test_checkpoints_hold_net_d_and_both_optimizers_and_resume_restores_them(paired_folders, tmp_path):
    opt = gan_options(*paired_folders, total_iter=2)
    run_training(tmp_path, opt)
    models = tmp_path / 'experiments' / opt['name'] / 'models'
    net_g_file = torch.load(models / 'net_g_2.pth', weights_only=True)
    net_d_file = torch.load(models / 'net_d_2.pth', weights_only=True)
    state = torch.load(tmp_path / 'experiments' / opt['name'] / 'training_states' / '2.state', weights_only=False)
    assert set(net_g_file) == {'params', 'params_ema'} and set(net_d_file) == {'params'}
    assert state['iter'] == 2 and len(state['optimizers']) == 2 and len(state['schedulers']) == 2

    resumed = run_training(tmp_path, opt, '--auto_resume')  # total_iter reached: restores, trains nothing

    assert_state_dicts_equal(resumed.net_g.state_dict(), net_g_file['params'], 'net_g')
    assert_state_dicts_equal(resumed.net_g_ema.state_dict(), net_g_file['params_ema'], 'net_g_ema')
    assert_state_dicts_equal(resumed.net_d.state_dict(), net_d_file['params'], 'net_d')
    for optimizer, saved in zip((resumed.optimizer_g, resumed.optimizer_d), state['optimizers']):
        assert_optimizer_states_equal(optimizer.state_dict(), saved)
    assert [s.state_dict() for s in resumed.schedulers] == state['schedulers']


def assert_resume_is_exact(root, folders: tuple[str, str], model_type: str) -> None:
    """4 iterations in one run == 2 iterations, a stop mid-epoch, and a resume to 4: bit for bit, G, D and EMA."""
    straight = run_training(root / 'straight', gan_options(*folders, model_type, total_iter=4))
    run_training(root / 'split', gan_options(*folders, model_type, total_iter=2))
    resumed = run_training(root / 'split', gan_options(*folders, model_type, total_iter=4), '--auto_resume')
    for net in ('net_g', 'net_g_ema', 'net_d'):
        assert_state_dicts_equal(getattr(resumed, net).state_dict(), getattr(straight, net).state_dict(), net)
    for first, second in zip(resumed.optimizers, straight.optimizers):
        assert_optimizer_states_equal(first.state_dict(), second.state_dict())


def test_srgan_resumed_mid_epoch_ends_bit_identical_to_an_uninterrupted_run(paired_folders, tmp_path):
    assert_resume_is_exact(tmp_path, paired_folders, 'SRGANModel')


def tiny_recipe(name: str, tmp_path) -> dict:
    """An options/tiny recipe pointed at 64 px x4 pairs in tmp_path and shortened to 2 iterations."""
    opt = load_option_file(os.path.join(REPO, 'options', 'tiny', name))
    gt_dir, lq_dir = write_paired_folders(tmp_path / 'x4', count=2, gt_size=64, scale=4)
    for dataset in opt['datasets'].values():
        dataset.update(dataroot_gt=gt_dir, dataroot_lq=lq_dir)
    opt['datasets']['train'].update(batch_size_per_gpu=1, dataset_enlarge_ratio=1)
    opt['train']['total_iter'] = 2
    opt['val']['val_freq'] = 2
    opt['logger'].update(print_freq=1, save_checkpoint_freq=2, use_tb_logger=False)
    return opt


@pytest.mark.parametrize('recipe', ['srgan_cpu.yml', 'esrgan_cpu.yml'])
def test_tiny_gan_recipe_trains_on_cpu_with_explicitly_random_vgg(recipe, tmp_path):
    opt = tiny_recipe(recipe, tmp_path)
    opt['logger']['save_checkpoint_freq'] = 1
    model = run_training(tmp_path, opt)
    models = tmp_path / 'experiments' / opt['name'] / 'models'
    for net in ('net_g', 'net_d'):
        after_1, after_2 = (torch.load(models / f'{net}_{i}.pth', weights_only=True)['params'] for i in (1, 2))
        assert any(not torch.equal(after_1[k], after_2[k]) for k in after_1), f'{net} did not train'
    assert set(model.get_current_log()) == {'l_g_pix', 'l_g_percep', 'l_g_gan'} | D_LOG_KEYS


def test_vgg_weights_absent_without_pretrained_false_stop_before_the_first_iteration(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # BasicSR's experiments/pretrained_models is searched relative to the launch folder
    opt = tiny_recipe('srgan_cpu.yml', tmp_path)
    del opt['train']['perceptual_opt']['pretrained']
    with pytest.raises(OptionError, match=r'train\.perceptual_opt: .*' + VGG19_FILE):
        run_training(tmp_path, opt)
    assert not (tmp_path / 'experiments' / opt['name']).exists()  # found by the option check, before anything is built
