"""SRGANRefModel (PDD): the generalist in EMA and static mode, the loss schedule by iteration, the ablation switches."""

import pytest
import torch

from tests.helpers.pdd_options import (
    D_LOG_KEYS,
    G_LOG_KEYS,
    assert_state_dicts_equal,
    build_pdd_model,
    one_torch_thread,  # noqa: F401  (autouse: one torch thread per test)
    params_changed,
    random_pdd_batch,
    save_generalist,
    snapshot,
    tiny_pdd_options,
)

DISTILL_KEYS = {'l_inter', 'l_intra'}


def train_steps(model, iterations) -> None:
    model.feed_data(random_pdd_batch())
    for current_iter in iterations:
        model.optimize_parameters(current_iter)


def static_model(tmp_path, **train_changes):
    """Static mode with a generalist checkpoint whose params and params_ema differ (params_ema is the one to use)."""
    opt = tiny_pdd_options(ema=False)
    saved = save_generalist(tmp_path / 'generalist.pth', keys=('params', 'params_ema'))
    opt['path'].update(pretrain_network_g_fix=str(tmp_path / 'generalist.pth'), param_key_g_fix='params_ema')
    opt['train'].update(train_changes)
    return build_pdd_model(opt, tmp_path), saved


def test_ema_generalist_follows_the_decay_formula(tmp_path):
    model = build_pdd_model(tiny_pdd_options(), tmp_path)
    decay = model.opt['train']['ema_decay']
    train_steps(model, [1, 2])
    ema_before = snapshot(model.net_g_ema)
    model.optimize_parameters(3)
    net_g = dict(model.net_g.named_parameters())
    for name, param in model.net_g_ema.named_parameters():
        expected = decay * ema_before[name] + (1 - decay) * net_g[name].detach()
        assert torch.allclose(param, expected, atol=1e-7), name
    assert params_changed(ema_before, model.net_g_ema)
    assert any(not torch.equal(param, net_g[name]) for name, param in model.net_g_ema.named_parameters())


def test_ema_mode_distils_from_net_g_ema_and_never_builds_net_g_fix(tmp_path):
    opt = tiny_pdd_options()
    opt['network_g_fix'] = dict(opt['network_g'])
    opt['path']['pretrain_network_g_fix'] = str(tmp_path / 'not_there.pth')
    model = build_pdd_model(opt, tmp_path)
    assert not hasattr(model, 'net_g_fix')
    assert model.generalist is model.net_g_ema


def test_ema_mode_starts_net_g_and_its_ema_from_the_same_generalist_checkpoint(tmp_path):
    saved = save_generalist(tmp_path / 'generalist.pth', keys=('params', 'params_ema'))
    opt = tiny_pdd_options()
    opt['path'].update(pretrain_network_g=str(tmp_path / 'generalist.pth'), param_key_g='params_ema')
    model = build_pdd_model(opt, tmp_path)
    assert_state_dicts_equal(model.net_g.state_dict(), saved['params_ema'], 'net_g')
    assert_state_dicts_equal(model.net_g_ema.state_dict(), saved['params_ema'], 'net_g_ema')


def test_static_generalist_is_loaded_frozen_and_never_changes(tmp_path):
    model, saved = static_model(tmp_path)
    assert model.generalist is model.net_g_fix
    assert_state_dicts_equal(model.net_g_fix.state_dict(), saved['params_ema'], 'net_g_fix')
    assert not model.net_g_fix.training
    assert not any(p.requires_grad for p in model.net_g_fix.parameters())
    optimised = {id(p) for optimizer in model.optimizers for group in optimizer.param_groups for p in group['params']}
    assert not optimised & {id(p) for p in model.net_g_fix.parameters()}
    g_before = snapshot(model.net_g)
    train_steps(model, range(1, 5))
    assert params_changed(g_before, model.net_g)
    assert_state_dicts_equal(model.net_g_fix.state_dict(), saved['params_ema'], 'net_g_fix after training')


def test_static_generalist_is_not_part_of_checkpoints_or_the_training_state(tmp_path):
    model, _ = static_model(tmp_path)
    train_steps(model, [1, 2])
    model.save(epoch=0, current_iter=2)
    experiment = tmp_path / 'experiments' / 'tiny_pdd'
    assert sorted(p.name for p in (experiment / 'models').iterdir()) == ['net_d_2.pth', 'net_g_2.pth']
    state = torch.load(experiment / 'training_states' / '2.state', weights_only=False)
    assert len(state['optimizers']) == 2
    n_state = sum(len(s['state']) for s in state['optimizers'])
    assert n_state == len(list(model.net_g.parameters())) + len(list(model.net_d.parameters()))


def test_loss_schedule_by_iteration(tmp_path):
    """D alone up to net_d_init_iters, then G's supervised and GAN losses, distillation only after its warm-up."""
    opt = tiny_pdd_options()
    opt['train'].update(net_d_init_iters=2, domain_opt_warmup_iters=2)
    model = build_pdd_model(opt, tmp_path)
    model.feed_data(random_pdd_batch())
    expected = {
        1: D_LOG_KEYS,
        2: D_LOG_KEYS,
        3: G_LOG_KEYS | D_LOG_KEYS,
        4: G_LOG_KEYS | D_LOG_KEYS,
        5: DISTILL_KEYS | G_LOG_KEYS | D_LOG_KEYS,
    }
    for current_iter, keys in expected.items():
        g_before, d_before = snapshot(model.net_g), snapshot(model.net_d)
        model.optimize_parameters(current_iter)
        assert set(model.get_current_log()) == keys, current_iter
        assert params_changed(g_before, model.net_g) == (current_iter > 2), current_iter
        assert params_changed(d_before, model.net_d), current_iter


@pytest.mark.parametrize('wogan, distilling_batch', [(False, 2), (True, 1)])
def test_generator_gan_loss_sees_the_real_stream_only_once_distilling(tmp_path, wogan, distilling_batch):
    opt = tiny_pdd_options()
    opt['train']['domain_opt_wogan'] = wogan
    model = build_pdd_model(opt, tmp_path)
    seen = []
    model.net_d.register_forward_hook(lambda module, args, out: seen.append(args[0].shape[0]))
    model.feed_data(random_pdd_batch(batch=1))
    model.optimize_parameters(2)  # G trains, distillation still warming up
    assert seen[0] == 1  # G's GAN term, computed before D's own step, sees the synthetic output only
    seen.clear()
    model.optimize_parameters(3)
    assert seen[0] == distilling_batch


@pytest.mark.parametrize('detach', [True, False])
def test_domain_opt_detach_stops_distillation_gradients_into_the_synthetic_output(tmp_path, detach):
    opt = tiny_pdd_options()
    opt['train']['domain_opt_detach'] = detach
    model = build_pdd_model(opt, tmp_path)
    names = ('output_s', 'output_t', 'ref_s', 'ref_t', 'gt_s')
    outputs = {name: torch.rand(1, 3, 32, 32, requires_grad=True) for name in names}
    for name, value in outputs.items():
        setattr(model, name, value)
    terms = model.feature_loss_terms(model.vgg_passes.run(model.feature_needs(True), model.feature_images()), True)
    (terms['l_inter'] + terms['l_intra']).backward()  # the perceptual term alone would reach output_s anyway
    assert outputs['output_t'].grad is not None
    assert (outputs['output_s'].grad is None) == detach
    assert outputs['ref_s'].grad is None and outputs['ref_t'].grad is None


def inter_only(train_opt: dict) -> None:
    train_opt['domain_opt']['layer_weights_intra'] = None


def intra_only(train_opt: dict) -> None:
    train_opt['domain_opt']['layer_weights_inter'] = {}


def naive_distillation(train_opt: dict) -> None:
    train_opt['domain_opt'] = None
    train_opt['nd_opt'] = {'type': 'NaiveDistillationLoss', 'layer_weights': {'conv2_2': 1.0}, 'pretrained': False}


@pytest.mark.parametrize(
    'ablate, logged', [(inter_only, {'l_inter'}), (intra_only, {'l_intra'}), (naive_distillation, {'l_nd'})]
)
def test_ablation_switches_select_the_distillation_terms(tmp_path, ablate, logged):
    """Inter only, intra only (a ~ or empty layer dict turns a term off), and naive feature distillation ('ND')."""
    opt = tiny_pdd_options()
    ablate(opt['train'])
    model = build_pdd_model(opt, tmp_path)
    train_steps(model, [3])
    assert set(model.get_current_log()) == logged | G_LOG_KEYS | D_LOG_KEYS


def test_fix_backbone_trains_the_head_but_not_the_rrdb_trunk(tmp_path):
    opt = tiny_pdd_options()
    opt['train']['fix_backbone'] = True
    model = build_pdd_model(opt, tmp_path)
    body_before, all_before = snapshot(model.net_g.body), snapshot(model.net_g)
    train_steps(model, [2, 3])
    assert not params_changed(body_before, model.net_g.body)
    assert params_changed(all_before, model.net_g)


def test_feed_data_takes_a_merged_batch_or_the_authors_two_batches(tmp_path):
    model = build_pdd_model(tiny_pdd_options(), tmp_path)
    batch = random_pdd_batch()
    model.feed_data({'lq': batch['lq_s'], 'gt': batch['gt_s']}, {'lq': batch['lq_t']})
    for name in ('lq_s', 'gt_s', 'lq_t'):
        assert torch.equal(getattr(model, name), batch[name]), name
    model.feed_data({'lq': batch['lq_t']})  # validation
    assert torch.equal(model.lq, batch['lq_t'])
