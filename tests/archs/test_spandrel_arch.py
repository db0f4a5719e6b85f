"""SpandrelNet: a generalist of any architecture spandrel loads, checked up front, teaching a PDD-static specialist."""

import pytest
import torch

from basicsr.archs import build_network
from basicsr.archs.srvgg_arch import SRVGGNetCompact
from basicsr.option_check import OptionError, validate_options
from basicsr.train import train_pipeline
from basicsr.utils.checkpoint_util import atomic_save_network
from tests.helpers.pdd_options import snapshot, tiny_pdd_options, write_options, write_pdd_data

pytest.importorskip('spandrel')


def save_compact(path, upscale: int = 4) -> SRVGGNetCompact:
    torch.manual_seed(3)
    net = SRVGGNetCompact(3, 3, num_feat=8, num_conv=2, upscale=upscale, act_type='prelu').eval()
    atomic_save_network({'params_ema': net.state_dict()}, str(path))
    return net


def static_options(tmp_path, generalist: str) -> dict:
    opt = tiny_pdd_options(write_pdd_data(tmp_path / 'data'), name='spandrel_static', ema=False, total_iter=3)
    opt['network_g_fix'] = {'type': 'SpandrelNet', 'path': generalist}
    return opt


def test_spandrel_net_gives_the_outputs_of_the_file_it_loads(tmp_path):
    ours = save_compact(tmp_path / 'compact.pth')
    net = build_network({'type': 'SpandrelNet', 'path': str(tmp_path / 'compact.pth')})
    x = torch.rand(1, 3, 12, 10)
    with torch.no_grad():
        assert torch.allclose(net(x), ours(x), atol=1e-6)
    assert net.scale == 4


def test_static_pdd_with_a_spandrel_generalist_trains_and_keeps_it_frozen(tmp_path):
    save_compact(tmp_path / 'generalist.pth')
    opt = static_options(tmp_path, str(tmp_path / 'generalist.pth'))
    model = train_pipeline(str(tmp_path), ['-opt', write_options(tmp_path, opt)])
    assert type(model.net_g_fix).__name__ == 'SpandrelNet' and model.generalist is model.net_g_fix
    reference = build_network({'type': 'SpandrelNet', 'path': str(tmp_path / 'generalist.pth')}).state_dict()
    assert all(torch.equal(v, reference[k]) for k, v in snapshot(model.net_g_fix).items())
    assert 'l_inter' in model.get_current_log()


@pytest.mark.parametrize(
    'case, message',
    [
        ('missing', 'network_g_fix.path: SpandrelNet weights'),
        ('x2', 'is a x2 RealESRGAN Compact, but the specialist works at scale 4'),
        ('not_a_model', 'network_g_fix.path: spandrel cannot load'),
    ],
)
def test_spandrel_generalists_are_checked_before_training(tmp_path, case, message):
    path = tmp_path / 'generalist.pth'
    if case == 'x2':
        save_compact(path, upscale=2)
    elif case == 'not_a_model':
        torch.save({'weight': torch.zeros(2)}, path)
    with pytest.raises(OptionError, match=message):
        validate_options(static_options(tmp_path, str(path)))
