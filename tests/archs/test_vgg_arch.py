"""Specifications of VGGFeatureExtractor: BasicSR layer names on torchvision's layout, input normalisation, the
offline weight policy (hub cache, explicit path, clear error) and the variance-preserving random init."""

import os

import pytest
import torch
import torchvision

from basicsr.archs.vgg_arch import NAMES, VGGFeatureExtractor
from basicsr.utils.logger import get_root_logger

TORCHVISION_CONFIGS = {'vgg11': 'A', 'vgg13': 'B', 'vgg16': 'D', 'vgg19': 'E'}
VGG19_INDEX = {'conv2_2': 7, 'relu2_2': 8, 'conv3_1': 10, 'relu3_1': 11}  # positions in torchvision's vgg19.features
IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


@pytest.fixture(autouse=True)
def isolated_weight_dirs(tmp_path, monkeypatch):
    """An empty torch hub cache and no other weight folders, so nothing real is found by accident."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    monkeypatch.delenv('BASICSR_WEIGHTS_DIR', raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path / 'torch_home' / 'hub' / 'checkpoints'


@pytest.fixture(scope='module')
def torchvision_vgg19():
    torch.manual_seed(0)
    return torchvision.models.vgg19(weights=None).eval()


@pytest.fixture(scope='module')
def torchvision_vgg19_file(torchvision_vgg19, tmp_path_factory):
    """A file laid out like torchvision's vgg19-dcbb9e9d.pth (features.* keys plus a head key), random weights."""
    state = {key: value for key, value in torchvision_vgg19.state_dict().items() if key.startswith('features.')}
    state['classifier.6.bias'] = torch.zeros(1000)
    path = tmp_path_factory.mktemp('torchvision') / 'vgg19-dcbb9e9d.pth'
    torch.save(state, path)
    return path


def _place_in_hub(file_path, hub_dir):
    hub_dir.mkdir(parents=True, exist_ok=True)
    os.symlink(file_path, hub_dir / file_path.name)


def _torchvision_features(model, x, indices):
    features = {}
    for index, layer in enumerate(model.features[: max(indices) + 1]):
        x = layer(x)
        if index in indices:
            features[index] = x.clone()  # torchvision's ReLUs run in place
    return features


@pytest.mark.parametrize('vgg_type', sorted(NAMES))
def test_layer_layout_matches_torchvision_features(vgg_type):
    config = TORCHVISION_CONFIGS[vgg_type.removesuffix('_bn')]
    reference = torchvision.models.vgg.make_layers(
        torchvision.models.vgg.cfgs[config], batch_norm=vgg_type.endswith('_bn')
    )
    ours = VGGFeatureExtractor(['pool5'], vgg_type=vgg_type, pretrained=False).vgg_net
    assert list(ours._modules) == NAMES[vgg_type] and len(reference) == len(NAMES[vgg_type])
    for name, ours_layer, reference_layer in zip(NAMES[vgg_type], ours, reference):
        assert type(ours_layer) is type(reference_layer), name
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        f'{NAMES[vgg_type][int(k.split(".")[0])]}.{k.split(".")[1]}': v.shape for k, v in reference.state_dict().items()
    }


@pytest.mark.parametrize(
    'vgg_type, conv_count', [('vgg11', 8), ('vgg13', 10), ('vgg16', 13), ('vgg19', 16), ('vgg19_bn', 16)]
)
def test_layer_names_per_vgg_type(vgg_type, conv_count):
    names = NAMES[vgg_type]
    convs = [name for name in names if name.startswith('conv')]
    assert len(convs) == conv_count and convs[0] == 'conv1_1'
    assert [name for name in names if name.startswith('pool')] == [f'pool{i}' for i in range(1, 6)]
    if vgg_type.endswith('_bn'):
        assert names[:3] == ['conv1_1', 'bn1_1', 'relu1_1']
    else:
        assert not any(name.startswith('bn') for name in names)


@pytest.mark.parametrize('vgg_type', ['vgg11', 'vgg16_bn', 'vgg19'])
def test_forward_returns_requested_features_with_their_shapes(vgg_type):
    layers = ['relu1_1', 'pool2', 'conv3_1', 'pool5']
    extractor = VGGFeatureExtractor(layers, vgg_type=vgg_type, pretrained=False)
    features = extractor(torch.rand(2, 3, 32, 32))
    assert list(features) == layers
    assert {k: tuple(v.shape) for k, v in features.items()} == {
        'relu1_1': (2, 64, 32, 32),
        'pool2': (2, 128, 8, 8),
        'conv3_1': (2, 256, 8, 8),
        'pool5': (2, 512, 1, 1),
    }


@pytest.mark.parametrize('use_input_norm, range_norm', [(True, False), (True, True), (False, False)])
def test_features_equal_torchvision_vgg19_loaded_from_hub_cache(
    use_input_norm, range_norm, torchvision_vgg19, torchvision_vgg19_file, isolated_weight_dirs
):
    _place_in_hub(torchvision_vgg19_file, isolated_weight_dirs)
    extractor = VGGFeatureExtractor(list(VGG19_INDEX), use_input_norm=use_input_norm, range_norm=range_norm)
    x = torch.rand(2, 3, 16, 16) * 2 - 1 if range_norm else torch.rand(2, 3, 16, 16)
    reference_input = (x + 1) / 2 if range_norm else x
    if use_input_norm:
        reference_input = (reference_input - IMAGENET_MEAN) / IMAGENET_STD
    expected = _torchvision_features(torchvision_vgg19, reference_input, set(VGG19_INDEX.values()))
    features = extractor(x)
    for name, index in VGG19_INDEX.items():
        assert torch.allclose(features[name], expected[index], rtol=1e-5, atol=1e-6), name
    assert features['conv2_2'].min() < 0  # taken before its ReLU


def test_explicit_weights_path_is_loaded(torchvision_vgg19, torchvision_vgg19_file):
    extractor = VGGFeatureExtractor(['conv1_1'], weights_path=str(torchvision_vgg19_file))
    assert torch.equal(extractor.vgg_net.conv1_1.weight, torchvision_vgg19.features[0].weight)


def test_batch_norm_variant_loads_torchvision_file_without_step_counters(tmp_path, isolated_weight_dirs):
    torch.manual_seed(1)
    reference = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs['A'], batch_norm=True)
    reference[1].running_mean.uniform_(0, 1)
    state = {f'features.{k}': v for k, v in reference.state_dict().items() if 'num_batches_tracked' not in k}
    isolated_weight_dirs.mkdir(parents=True)
    torch.save(state, isolated_weight_dirs / 'vgg11_bn-6002323d.pth')
    extractor = VGGFeatureExtractor(['relu2_1'], vgg_type='vgg11_bn', use_input_norm=False)
    x = torch.rand(1, 3, 8, 8)
    assert torch.allclose(extractor(x)['relu2_1'], reference.eval()[:7](x), atol=1e-6)


def test_missing_weight_file_error_names_the_file_the_hub_dir_and_how_to_get_it(isolated_weight_dirs):
    with pytest.raises(FileNotFoundError) as error:
        VGGFeatureExtractor(['relu1_1'], vgg_type='vgg16')
    message = str(error.value)
    assert 'vgg16-397923af.pth' in message
    assert str(isolated_weight_dirs) in message
    assert "torchvision.models.vgg16(weights='IMAGENET1K_V1')" in message


def test_weight_file_of_another_network_is_rejected_with_its_path(tmp_path):
    wrong = tmp_path / 'vgg19-dcbb9e9d.pth'
    torch.save({'features.0.weight': torch.zeros(8, 3, 3, 3), 'features.0.bias': torch.zeros(8)}, wrong)
    with pytest.raises(ValueError, match=r'vgg19-dcbb9e9d\.pth.*conv1_1\.weight'):
        VGGFeatureExtractor(['relu1_1'], weights_path=str(wrong))


def test_random_weights_log_a_warning_and_keep_activation_scale_to_conv5(caplog):
    logger = get_root_logger()
    logger.addHandler(caplog.handler)
    try:
        torch.manual_seed(0)
        extractor = VGGFeatureExtractor(['conv5_4'], pretrained=False)
    finally:
        logger.removeHandler(caplog.handler)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == 'WARNING']
    assert any('random' in message.lower() and 'tests and demos' in message for message in warnings)
    x = torch.rand(2, 3, 32, 32)
    input_std = ((x - IMAGENET_MEAN) / IMAGENET_STD).std()
    ratio = (extractor(x)['conv5_4'].std() / input_std).item()
    assert 0.2 < ratio < 5  # fan-out init (torchvision's) gives ~0.05 here


def test_random_weights_are_deterministic_under_manual_seed():
    states = []
    for seed in (0, 0, 1):
        torch.manual_seed(seed)
        states.append(VGGFeatureExtractor(['conv2_1'], pretrained=False).state_dict())
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    assert not torch.equal(states[0]['vgg_net.conv2_1.weight'], states[2]['vgg_net.conv2_1.weight'])


def test_frozen_extractor_stays_in_eval_but_passes_gradient_to_input():
    extractor = VGGFeatureExtractor(['relu2_1'], vgg_type='vgg11_bn', pretrained=False)
    extractor.train()
    assert not extractor.training and not extractor.vgg_net.bn1_1.training
    assert not any(p.requires_grad for p in extractor.parameters())
    x = torch.rand(1, 3, 8, 8, requires_grad=True)
    extractor(x)['relu2_1'].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_trainable_extractor_follows_train_mode():
    extractor = VGGFeatureExtractor(['relu1_1'], requires_grad=True, pretrained=False)
    assert extractor.training and all(p.requires_grad for p in extractor.parameters())
    assert not extractor.eval().training


def test_remove_pooling_and_pooling_stride_change_feature_size():
    no_pool = VGGFeatureExtractor(['conv3_1'], remove_pooling=True, pretrained=False)
    stride4 = VGGFeatureExtractor(['conv3_1'], pooling_stride=4, pretrained=False)
    x = torch.rand(1, 3, 32, 32)
    assert no_pool(x)['conv3_1'].shape[-1] == 32
    assert stride4(x)['conv3_1'].shape[-1] == 2
    with pytest.raises(ValueError, match='pool1'):
        VGGFeatureExtractor(['pool1'], remove_pooling=True, pretrained=False)


def test_unknown_layer_name_error_lists_valid_names():
    with pytest.raises(ValueError, match=r"\['conv5_4'\].*conv5_2 relu5_2 pool5"):
        VGGFeatureExtractor(['conv5_4'], vgg_type='vgg11', pretrained=False)
    with pytest.raises(ValueError, match='at least one layer'):
        VGGFeatureExtractor([], pretrained=False)


def test_unknown_vgg_type_and_contradictory_weight_options_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="'vgg20'.*vgg19_bn"):
        VGGFeatureExtractor(['conv1_1'], vgg_type='vgg20', pretrained=False)
    with pytest.raises(ValueError, match='pretrained=False'):
        VGGFeatureExtractor(['conv1_1'], pretrained=False, weights_path=str(tmp_path / 'x.pth'))


def test_input_norm_buffers_follow_the_module_across_dtypes():
    extractor = VGGFeatureExtractor(['relu1_1'], pretrained=False).to(torch.float64)
    assert extractor(torch.rand(1, 3, 4, 4, dtype=torch.float64))['relu1_1'].dtype == torch.float64
