"""SRModel / BaseModel: network files (params, params_ema, fallbacks, `module.`), strict-load reports, EMA,
learning-rate schedules with warm-up, optimizer choice and training-state restore."""

import math

import pytest
import torch

from tests.conftest import tiny_sr_options
from tests.models.test_srgan_model import (  # noqa: F401
    assert_optimizer_states_equal,
    assert_state_dicts_equal,
    build,
    one_torch_thread,
    random_batch,
    snapshot,
)


def sr_model(tmp_path, **train_changes):
    opt = tiny_sr_options('unused', 'unused')
    opt['train'].update(train_changes)
    return build(opt, tmp_path)


def trained_sr_model(tmp_path, steps: int = 1, **train_changes):
    model = sr_model(tmp_path, **train_changes)
    model.feed_data(random_batch())
    for current_iter in range(1, steps + 1):
        model.update_learning_rate(current_iter)
        model.optimize_parameters(current_iter)
    return model


def loaded_copy(tmp_path, path, strict: bool = True, param_key='params'):
    """A fresh model (different random init) with `path` loaded into its net_g."""
    torch.manual_seed(123)
    model = sr_model(tmp_path, ema_decay=0)
    model.load_network(model.net_g, str(path), strict=strict, param_key=param_key)
    return model


def test_save_writes_params_and_params_ema_that_load_back_equal(tmp_path):
    model = trained_sr_model(tmp_path)
    model.save(epoch=0, current_iter=1)
    saved = torch.load(tmp_path / 'experiments' / 'tiny_sr' / 'models' / 'net_g_1.pth', weights_only=True)
    assert set(saved) == {'params', 'params_ema'}
    assert_state_dicts_equal(saved['params'], model.net_g.state_dict(), 'params')
    assert_state_dicts_equal(saved['params_ema'], model.net_g_ema.state_dict(), 'params_ema')
    assert any(not torch.equal(saved['params'][k], saved['params_ema'][k]) for k in saved['params'])

    opt = tiny_sr_options('unused', 'unused')
    opt['path']['pretrain_network_g'] = str(tmp_path / 'experiments' / 'tiny_sr' / 'models' / 'net_g_1.pth')
    torch.manual_seed(123)
    reloaded = build(opt, tmp_path / 'reload')
    assert_state_dicts_equal(reloaded.net_g.state_dict(), saved['params'], 'net_g')
    assert_state_dicts_equal(reloaded.net_g_ema.state_dict(), saved['params_ema'], 'net_g_ema')


def test_missing_param_key_falls_back_to_params(tmp_path):
    weights = snapshot(trained_sr_model(tmp_path).net_g)
    torch.save({'params': weights}, tmp_path / 'only_params.pth')
    model = loaded_copy(tmp_path, tmp_path / 'only_params.pth', param_key='params_ema')
    assert_state_dicts_equal(model.net_g.state_dict(), weights, 'net_g')


def test_params_ema_is_preferred_when_the_asked_key_is_missing(tmp_path):
    model = trained_sr_model(tmp_path)
    torch.save({'params': snapshot(model.net_g), 'params_ema': snapshot(model.net_g_ema)}, tmp_path / 'both.pth')
    loaded = loaded_copy(tmp_path, tmp_path / 'both.pth', param_key='weights')
    assert_state_dicts_equal(loaded.net_g.state_dict(), model.net_g_ema.state_dict(), 'net_g')


def test_raw_state_dict_and_module_prefix_are_accepted(tmp_path):
    weights = snapshot(trained_sr_model(tmp_path).net_g)
    torch.save({f'module.{k}': v for k, v in weights.items()}, tmp_path / 'ddp_raw.pth')
    torch.save({'params': {f'module.{k}': v for k, v in weights.items()}}, tmp_path / 'ddp_params.pth')
    for name in ('ddp_raw.pth', 'ddp_params.pth'):
        assert_state_dicts_equal(loaded_copy(tmp_path, tmp_path / name).net_g.state_dict(), weights, name)


def mismatched_weights(tmp_path):
    """net_g weights with `body.0.bias` missing, an unexpected key, and `body.0.weight` of the wrong shape."""
    weights = snapshot(trained_sr_model(tmp_path).net_g)
    del weights['body.0.bias']
    weights['head.weight'] = torch.zeros(3)
    weights['body.0.weight'] = torch.zeros(1, 3, 3, 3)
    path = tmp_path / 'mismatched.pth'
    torch.save({'params': weights}, path)
    return path, weights


def test_strict_load_names_missing_unexpected_and_mismatched_keys(tmp_path):
    path, _ = mismatched_weights(tmp_path)
    torch.manual_seed(123)
    model = sr_model(tmp_path, ema_decay=0)
    before = snapshot(model.net_g)
    with pytest.raises(RuntimeError) as err:
        model.load_network(model.net_g, str(path), strict=True)
    message = str(err.value)
    assert str(path) in message
    assert 'missing' in message and 'body.0.bias' in message
    assert 'unexpected' in message and 'head.weight' in message
    assert 'body.0.weight' in message and '(1, 3, 3, 3)' in message
    assert_state_dicts_equal(model.net_g.state_dict(), before, 'a failed strict load must not change net_g')


def test_non_strict_load_takes_the_matching_keys_and_keeps_the_rest(tmp_path):
    path, weights = mismatched_weights(tmp_path)
    torch.manual_seed(123)
    model = sr_model(tmp_path, ema_decay=0)
    before = snapshot(model.net_g)
    model.load_network(model.net_g, str(path), strict=False)
    state = model.net_g.state_dict()
    assert torch.equal(state['body.0.weight'], before['body.0.weight'])
    assert torch.equal(state['body.0.bias'], before['body.0.bias'])
    assert torch.equal(state['body.1.weight'], weights['body.1.weight'])


def test_mismatched_pretrain_network_g_fails_at_construction_naming_keys(tmp_path):
    path, _ = mismatched_weights(tmp_path)
    opt = tiny_sr_options('unused', 'unused')
    opt['path']['pretrain_network_g'] = str(path)
    with pytest.raises(RuntimeError, match=r'body\.0\.bias'):
        build(opt, tmp_path / 'strict')


def test_ema_starts_as_a_copy_and_follows_the_decay_formula(tmp_path):
    model = sr_model(tmp_path, ema_decay=0.9)
    assert_state_dicts_equal(model.net_g_ema.state_dict(), model.net_g.state_dict(), 'initial EMA')
    ema_before = snapshot(model.net_g_ema)
    model.feed_data(random_batch())
    model.optimize_parameters(1)
    ema_after = model.net_g_ema.state_dict()
    for name, param in model.net_g.named_parameters():
        assert torch.allclose(ema_after[name], 0.9 * ema_before[name] + 0.1 * param.detach(), atol=1e-7), name
        assert not torch.equal(ema_after[name], param.detach()), name
    assert not any(p.requires_grad for p in model.net_g_ema.parameters())


def learning_rates(model, iterations: int, warmup_iter: int = -1) -> list[float]:
    """The lr the training loop uses at iterations 1..`iterations` (scheduler step, then warm-up)."""
    rates = []
    for current_iter in range(1, iterations + 1):
        model.update_learning_rate(current_iter, warmup_iter=warmup_iter)
        rates.append(model.get_current_learning_rate()[0])
        model.optimizer_g.step()  # no gradients: keeps the loop's step order without moving the weights
    return rates


def test_multistep_lr_halves_after_each_milestone_and_restarts_with_its_weight(tmp_path):
    scheduler = {
        'type': 'MultiStepLR',
        'milestones': [2, 5],
        'gamma': 0.5,
        'restarts': [0, 4],
        'restart_weights': [1, 0.5],
    }
    model = sr_model(tmp_path, scheduler=scheduler, optim_g={'type': 'Adam', 'lr': 1.0})
    # Iteration i runs at scheduler step i-1: milestone 2 halves from iteration 3, the restart at step 4 sets the
    # initial lr times 0.5 at iteration 5, and milestone 5 halves that from iteration 6.
    assert learning_rates(model, 7) == [1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25]


def test_cosine_annealing_restart_lr_follows_each_period(tmp_path):
    scheduler = {'type': 'CosineAnnealingRestartLR', 'periods': [4, 4], 'restart_weights': [1, 0.5], 'eta_min': 0}
    model = sr_model(tmp_path, scheduler=scheduler, optim_g={'type': 'Adam', 'lr': 1.0})
    half_cos = 0.5 * (1 + math.cos(math.pi / 4))  # 0.8536: a quarter through a period
    expected = [1.0, half_cos, 0.5, 1 - half_cos, 0.0, 0.5 * half_cos, 0.25, 0.5 * (1 - half_cos), 0.0]
    assert learning_rates(model, 9) == pytest.approx(expected, abs=1e-9)


def test_warm_up_ramps_linearly_then_hands_over_to_the_scheduler(tmp_path):
    scheduler = {'type': 'CosineAnnealingRestartLR', 'periods': [8], 'restart_weights': [1], 'eta_min': 0}
    model = sr_model(tmp_path, scheduler=scheduler, optim_g={'type': 'Adam', 'lr': 1.0})
    rates = learning_rates(model, 5, warmup_iter=4)
    assert rates[:3] == pytest.approx([0.25, 0.5, 0.75])
    assert rates[3:] == pytest.approx([0.5 * (1 + math.cos(math.pi * k / 8)) for k in (3, 4)])


@pytest.mark.parametrize(
    'optim_opt, cls, expected',
    [
        ({'type': 'Adam', 'lr': 1e-3, 'betas': [0.8, 0.95]}, torch.optim.Adam, {'betas': (0.8, 0.95)}),
        ({'type': 'AdamW', 'lr': 1e-3, 'weight_decay': 0.05}, torch.optim.AdamW, {'weight_decay': 0.05}),
        ({'type': 'SGD', 'lr': 1e-2, 'momentum': 0.9}, torch.optim.SGD, {'momentum': 0.9}),
    ],
)
def test_optimizer_type_and_arguments_come_from_optim_g(tmp_path, optim_opt, cls, expected):
    model = sr_model(tmp_path, optim_g=optim_opt)
    assert type(model.optimizer_g) is cls
    group = model.optimizer_g.param_groups[0]
    assert group['lr'] == optim_opt['lr']
    assert {key: group[key] for key in expected} == expected


def test_unknown_optimizer_is_named(tmp_path):
    with pytest.raises(NotImplementedError, match='Adamm'):
        sr_model(tmp_path, optim_g={'type': 'Adamm', 'lr': 1e-3})


def test_generator_without_any_loss_is_rejected(tmp_path):
    with pytest.raises(ValueError, match='pixel_opt'):
        sr_model(tmp_path, pixel_opt=None)


def test_resume_training_restores_optimizer_and_scheduler_states(tmp_path):
    trained = trained_sr_model(tmp_path, steps=3)
    state = trained.training_state(epoch=0, current_iter=3)
    fresh = sr_model(tmp_path)
    fresh.resume_training(state)
    assert_optimizer_states_equal(fresh.optimizer_g.state_dict(), trained.optimizer_g.state_dict())
    assert fresh.schedulers[0].state_dict() == trained.schedulers[0].state_dict()
    assert fresh.schedulers[0].last_epoch == 2


def test_resume_training_with_a_different_optimizer_count_is_an_error(tmp_path):
    state = trained_sr_model(tmp_path).training_state(epoch=0, current_iter=1)
    state['optimizers'].append(state['optimizers'][0])
    with pytest.raises(ValueError, match='2 optimizers'):
        sr_model(tmp_path).resume_training(state)
