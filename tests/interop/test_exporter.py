"""basicsr-export: every format is written, ONNX matches PyTorch, safetensors loads back, spandrel loads the variants
it supports with our outputs and the unsupported ones get the warning; bad input gives one plain message."""

import pytest
import torch

from basicsr.archs.rrdbnet_arch import RRDBNet
from basicsr.archs.srresnet_arch import MSRResNet
from basicsr.archs.srvgg_arch import SRVGGNetCompact
from basicsr.export import main as export_main
from basicsr.inference.network_loading import load_inference_network
from basicsr.interop.exporter import export_checkpoint, verification_image
from basicsr.interop.onnx_export import OnnxExportError, export_verified
from basicsr.utils.checkpoint_util import atomic_save_network

pytest.importorskip('onnxruntime')
pytest.importorskip('safetensors')

NETS = {
    'rrdb_g32': lambda: RRDBNet(3, 3, scale=4, num_feat=8, num_block=1, num_grow_ch=32),
    'rrdb_g4': lambda: RRDBNet(3, 3, scale=4, num_feat=8, num_block=1, num_grow_ch=4),
    'rrdb_g32_x2': lambda: RRDBNet(3, 3, scale=2, num_feat=8, num_block=1, num_grow_ch=32),
    'compact_prelu': lambda: SRVGGNetCompact(3, 3, num_feat=8, num_conv=2, upscale=4, act_type='prelu'),
    'compact_relu': lambda: SRVGGNetCompact(3, 3, num_feat=8, num_conv=2, upscale=4, act_type='relu'),
    'msrresnet': lambda: MSRResNet(3, 3, num_feat=8, num_block=1, upscale=4),
}


def save_checkpoint(tmp_path, kind: str, seed: int = 0) -> tuple[str, torch.nn.Module]:
    torch.manual_seed(seed)
    net = NETS[kind]().eval()
    path = str(tmp_path / f'{kind}.pth')
    atomic_save_network({'params': net.state_dict(), 'params_ema': net.state_dict()}, path)
    return path, net


def test_every_format_is_written_and_onnx_equals_pytorch(tmp_path):
    path, net = save_checkpoint(tmp_path, 'compact_prelu')
    report = export_checkpoint(path, str(tmp_path / 'out'), log=lambda _: None)
    assert set(report.files) == {'safetensors', 'pth', 'onnx_fp32', 'onnx_fp16'} and not report.problems
    assert report.param_key == 'params_ema'
    assert report.onnx_errors['fp32'] < 1e-4 and report.onnx_errors['fp16'] < 2e-2
    loaded, _ = load_inference_network(report.files['safetensors'])  # back into our architecture
    image = verification_image()
    with torch.no_grad():
        assert torch.equal(loaded(image), net(image))
    assert set(torch.load(report.files['pth'], weights_only=True)) == {'params_ema'}


def test_the_chosen_param_key_is_said_and_falls_back_to_params(tmp_path):
    torch.manual_seed(0)
    net = NETS['compact_prelu']()
    path = str(tmp_path / 'plain.pth')
    atomic_save_network({'params': net.state_dict()}, path)
    lines = []
    report = export_checkpoint(path, str(tmp_path / 'out'), formats=['pth'], log=lines.append)
    assert report.param_key == 'params' and 'params weights (no params_ema in the file)' in lines[0]
    assert set(torch.load(report.files['pth'], weights_only=True)) == {'params'}


def test_onnx_fp32_of_an_unshuffling_rrdbnet_matches_on_other_sizes(tmp_path):
    path, net = save_checkpoint(tmp_path, 'rrdb_g32_x2')
    onnx_path = str(tmp_path / 'x2.onnx')
    export_verified(net, onnx_path, verification_image(size=48))
    from basicsr.interop.onnx_export import onnx_max_abs_error

    assert onnx_max_abs_error(onnx_path, net, torch.rand(2, 3, 20, 36)) < 1e-4  # dynamic batch, height, width


def test_onnx_above_tolerance_fails_and_leaves_no_file(tmp_path):
    _, net = save_checkpoint(tmp_path, 'compact_prelu')
    onnx_path = tmp_path / 'half.onnx'
    with pytest.raises(OnnxExportError, match='above the tolerance'):
        export_verified(net, str(onnx_path), verification_image(), 'fp16', tolerance=0.0)
    assert not onnx_path.exists()


@pytest.mark.parametrize('kind', ['rrdb_g32', 'rrdb_g32_x2', 'compact_prelu'])
def test_spandrel_loads_the_supported_variants_with_our_outputs(tmp_path, kind):
    pytest.importorskip('spandrel')
    path, _ = save_checkpoint(tmp_path, kind)
    report = export_checkpoint(path, str(tmp_path / 'out'), formats=['safetensors'], log=lambda _: None)
    assert report.spandrel.recognised, report.spandrel.message()
    import spandrel

    theirs = spandrel.ModelLoader().load_from_file(report.files['safetensors']).model.eval()
    ours, _ = load_inference_network(path)
    image = verification_image(size=32)
    with torch.no_grad():
        assert (theirs(image) - ours(image)).abs().max() < 1e-5


@pytest.mark.parametrize(
    'kind, overrides, advice',
    [
        ('rrdb_g4', {}, 'num_grow_ch: 32'),
        ('compact_relu', {'act_type': 'relu'}, 'act_type: prelu'),
        ('msrresnet', {}, 'no MSRResNet'),
    ],
)
@pytest.mark.parametrize('spandrel_installed', [True, False])
def test_unsupported_variants_get_the_warning(tmp_path, monkeypatch, kind, overrides, advice, spandrel_installed):
    if spandrel_installed:
        pytest.importorskip('spandrel')
    else:
        monkeypatch.setitem(__import__('sys').modules, 'spandrel', None)  # `import spandrel` raises ImportError
    path, _ = save_checkpoint(tmp_path, kind)
    lines = []
    report = export_checkpoint(
        path, str(tmp_path / 'out'), formats=['safetensors'], overrides=overrides, log=lines.append
    )
    assert not report.spandrel.recognised
    assert 'will NOT load' in lines[1] and advice in lines[1]
    assert ('loaded with spandrel' in lines[1]) == spandrel_installed


def test_an_architecture_onnx_cannot_export_is_named_and_the_other_formats_are_written(tmp_path, monkeypatch, capsys):
    path, _ = save_checkpoint(tmp_path, 'compact_prelu')

    def refuse(*args, **kwargs):
        raise RuntimeError('Unsupported: ONNX export of operator foo')

    monkeypatch.setattr(torch.onnx, 'export', refuse)
    out = tmp_path / 'out'
    assert export_main([path, '--out', str(out)]) == 1
    err = capsys.readouterr().err
    assert 'SRVGGNetCompact cannot be exported to ONNX fp32' in err and 'Traceback' not in err
    assert sorted(p.name for p in out.iterdir()) == ['compact_prelu.pth', 'compact_prelu.safetensors']


def test_a_file_that_is_no_sr_state_dict_names_its_keys(tmp_path, capsys):
    path = tmp_path / 'vgg.pth'
    torch.save({'features.0.weight': torch.zeros(1), 'classifier.weight': torch.zeros(1)}, path)
    assert export_main([str(path), '--out', str(tmp_path / 'out')]) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: Cannot tell the arch') and 'features.0.weight' in err and 'Traceback' not in err


def test_a_training_state_exports_its_network_file(tmp_path, capsys):
    exp = tmp_path / 'experiments' / 'run'
    (exp / 'training_states').mkdir(parents=True)
    (exp / 'models').mkdir()
    torch.save({'iter': 8}, exp / 'training_states' / '8.state')
    assert export_main([str(exp / 'training_states' / '8.state'), '--out', str(tmp_path / 'out')]) == 2
    assert 'net_g_8.pth' in capsys.readouterr().err
    torch.manual_seed(0)
    atomic_save_network({'params': NETS['compact_prelu']().state_dict()}, str(exp / 'models' / 'net_g_8.safetensors'))
    assert (
        export_main([str(exp / 'training_states' / '8.state'), '--out', str(tmp_path / 'out'), '--formats', 'pth']) == 0
    )
    assert (tmp_path / 'out' / 'net_g_8.pth').is_file()
