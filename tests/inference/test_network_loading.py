"""Networks for inference are rebuilt from a checkpoint alone, from an arch name or from a YAML block."""

import pytest
import torch
import yaml

from basicsr.archs.rrdbnet_arch import RRDBNet
from basicsr.archs.srresnet_arch import MSRResNet
from basicsr.archs.srvgg_arch import SRVGGNetCompact
from basicsr.inference.network_loading import guess_arch, load_inference_network, network_block, network_scale

CASES = [
    (RRDBNet, dict(num_in_ch=3, num_out_ch=3, scale=4, num_feat=8, num_block=2, num_grow_ch=4), 4),
    (RRDBNet, dict(num_in_ch=3, num_out_ch=3, scale=2, num_feat=8, num_block=1, num_grow_ch=4), 2),
    (RRDBNet, dict(num_in_ch=3, num_out_ch=3, scale=1, num_feat=8, num_block=1, num_grow_ch=6), 1),
    (SRVGGNetCompact, dict(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=3, upscale=4, act_type='prelu'), 4),
    (MSRResNet, dict(num_in_ch=3, num_out_ch=3, num_feat=8, num_block=2, upscale=3), 3),
]


def save(tmp_path, net, key='params_ema'):
    path = tmp_path / 'net.pth'
    torch.save({key: net.state_dict()} if key else net.state_dict(), path)
    return str(path)


@pytest.mark.parametrize('cls, kwargs, scale', CASES)
def test_checkpoint_alone_rebuilds_the_same_network(tmp_path, cls, kwargs, scale):
    torch.manual_seed(0)
    original = cls(**kwargs).eval()
    net, opt = load_inference_network(save(tmp_path, original))
    assert opt['type'] == cls.__name__ and network_scale(opt) == scale
    assert {k: opt[k] for k in kwargs} == kwargs
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(net(x), original(x))


def test_params_key_is_used_when_params_ema_is_absent(tmp_path):
    original = SRVGGNetCompact(3, 3, 8, 1, 2).eval()
    net, _ = load_inference_network(save(tmp_path, original, key='params'), param_key='params_ema')
    assert torch.equal(net.body[0].weight, original.body[0].weight)


def test_wrong_arch_name_names_the_missing_key_and_the_likely_arch(tmp_path):
    path = save(tmp_path, RRDBNet(3, 3, scale=4, num_feat=8, num_block=1, num_grow_ch=4))
    with pytest.raises(KeyError, match=r'body\.0\.weight.*RRDBNet'):
        load_inference_network(path, arch='SRVGGNetCompact')


def test_yaml_block_that_does_not_fit_reports_the_mismatched_keys(tmp_path):
    path = save(tmp_path, SRVGGNetCompact(3, 3, 8, 2, 4))
    block = {'type': 'SRVGGNetCompact', 'num_in_ch': 3, 'num_out_ch': 3, 'num_feat': 16, 'num_conv': 2, 'upscale': 4}
    with pytest.raises(RuntimeError, match=r'size mismatch for body\.0\.weight'):
        load_inference_network(path, network_opt=block)


def test_relu_srvgg_checkpoint_asks_for_the_activation(tmp_path):
    path = save(tmp_path, SRVGGNetCompact(3, 3, 8, 1, 2, act_type='relu'))
    with pytest.raises(ValueError, match='act_type'):
        load_inference_network(path)
    net, opt = load_inference_network(path, overrides={'act_type': 'relu'})
    assert opt['act_type'] == 'relu' and opt['num_conv'] == 1


def test_unknown_keys_ask_for_an_arch(tmp_path):
    path = tmp_path / 'odd.pth'
    torch.save({'params': {'encoder.weight': torch.zeros(2, 2)}}, path)
    assert guess_arch({'encoder.weight': None}) is None
    with pytest.raises(ValueError, match='--arch'):
        load_inference_network(str(path))


def test_network_block_is_read_from_an_option_file(tmp_path):
    path = tmp_path / 'opt.yml'
    path.write_text(yaml.safe_dump({'network_g': {'type': 'MSRResNet', 'upscale': 2}}))
    assert network_block(str(path)) == {'type': 'MSRResNet', 'upscale': 2}
    with pytest.raises(KeyError, match='network_d'):
        network_block(str(path), 'network_d')


def test_unreadable_checkpoint_is_named(tmp_path):
    path = tmp_path / 'broken.pth'
    path.write_bytes(b'not a checkpoint')
    with pytest.raises(ValueError, match='broken.pth'):
        load_inference_network(str(path))
