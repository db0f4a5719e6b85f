"""Network files in safetensors: bare for one param key, namespaced for several; read back by every loader, and a
training run with `logger.save_checkpoint_format: safetensors` saves, resumes and prunes them."""

import pytest
import torch
import yaml

from basicsr.archs.srvgg_arch import SRVGGNetCompact
from basicsr.option_check import OptionError, validate_options
from basicsr.train import train_pipeline
from basicsr.utils.checkpoint_util import atomic_save_network, read_network_file
from tests.conftest import tiny_sr_options

safetensors_torch = pytest.importorskip('safetensors.torch')


def tiny_state(seed: int) -> dict:
    torch.manual_seed(seed)
    return SRVGGNetCompact(3, 3, num_feat=4, num_conv=1, upscale=2).state_dict()


def assert_same(a: dict, b: dict) -> None:
    assert set(a) == set(b)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_one_param_key_is_stored_bare_so_other_tools_read_it(tmp_path):
    path = str(tmp_path / 'net.safetensors')
    state = tiny_state(0)
    atomic_save_network({'params': state}, path)
    assert set(safetensors_torch.load_file(path)) == set(state)
    assert_same(read_network_file(path, 'params'), state)
    assert_same(read_network_file(path, 'params_ema'), state)  # falls back to params, as for .pth


def test_params_and_params_ema_live_in_one_file_and_load_by_key(tmp_path):
    path = str(tmp_path / 'net_g_4.safetensors')
    params, ema = tiny_state(0), tiny_state(1)
    atomic_save_network({'params': params, 'params_ema': ema}, path)
    assert_same(read_network_file(path, 'params'), params)
    assert_same(read_network_file(path, 'params_ema'), ema)


def test_a_foreign_bare_safetensors_file_loads_as_a_raw_state_dict(tmp_path):
    path = str(tmp_path / 'foreign.safetensors')
    state = tiny_state(2)
    safetensors_torch.save_file({k: v.contiguous() for k, v in state.items()}, path)
    assert_same(read_network_file(path, 'params_ema'), state)


def test_a_corrupt_safetensors_file_is_named(tmp_path):
    path = tmp_path / 'broken.safetensors'
    path.write_bytes(b'not a safetensors file')
    with pytest.raises(RuntimeError, match='broken.safetensors cannot be read'):
        read_network_file(str(path))


def test_training_saves_resumes_and_prunes_safetensors_checkpoints(paired_folders, tmp_path):
    def run(total_iter: int, *extra: str):
        opt = tiny_sr_options(*paired_folders, total_iter=total_iter)
        opt['logger'].update(save_checkpoint_format='safetensors', keep_last=1)
        path = tmp_path / 'tiny.yml'
        path.write_text(yaml.safe_dump(opt))
        return train_pipeline(str(tmp_path), ['-opt', str(path), *extra])

    run(4)
    models = tmp_path / 'experiments' / 'tiny_sr' / 'models'
    assert sorted(p.name for p in models.iterdir()) == ['net_g_4.safetensors', 'net_g_latest.safetensors']
    model = run(6, '--auto_resume')
    assert model.optimizers[0].state_dict()['state'][0]['step'].item() == 6
    assert_same(read_network_file(str(models / 'net_g_latest.safetensors'), 'params_ema'), model.net_g_ema.state_dict())


def test_an_unknown_checkpoint_format_is_an_option_error(paired_folders):
    opt = tiny_sr_options(*paired_folders)
    opt['logger']['save_checkpoint_format'] = 'ckpt'
    with pytest.raises(OptionError, match="logger.save_checkpoint_format: 'ckpt' is not one of pth, safetensors"):
        validate_options(opt)
