"""Specifications of building networks by the names users write in YAML, incl. suffixed and alias names."""

import pytest
import torch

from basicsr.archs import build_network
from basicsr.archs.discriminator_arch import UNetDiscriminatorSN
from basicsr.archs.srvgg_arch import SRVGGNetCompact
from basicsr.utils.registry import ARCH_REGISTRY


@pytest.mark.parametrize(
    'opt, cls_name',
    [
        (
            {'type': 'RRDBNet', 'num_in_ch': 3, 'num_out_ch': 3, 'num_feat': 8, 'num_block': 1, 'num_grow_ch': 4},
            'RRDBNet',
        ),
        ({'type': 'MSRResNet', 'num_feat': 8, 'num_block': 1}, 'MSRResNet'),
        ({'type': 'VGGStyleDiscriminator', 'num_in_ch': 3, 'num_feat': 4}, 'VGGStyleDiscriminator'),
        ({'type': 'VGGFeatureExtractor', 'layer_name_list': ['conv1_1'], 'pretrained': False}, 'VGGFeatureExtractor'),
    ],
)
def test_build_network_by_plain_name(opt, cls_name):
    assert type(build_network(opt)).__name__ == cls_name


def test_plain_srvgg_name_falls_back_to_the_basicsr_suffixed_class():
    net = build_network({'type': 'SRVGGNetCompact', 'num_feat': 8, 'num_conv': 1})
    assert type(net) is SRVGGNetCompact
    assert ARCH_REGISTRY.get('SRVGGNetCompact_basicsr') is SRVGGNetCompact


@pytest.mark.parametrize('name', ['UNetDiscriminatorSN', 'UNetDiscriminatorWithSpectralNorm'])
def test_unet_discriminator_builds_from_its_name_and_the_pdd_alias(name):
    net = build_network({'type': name, 'num_in_ch': 3, 'num_feat': 8, 'skip_connection': True})
    assert type(net) is UNetDiscriminatorSN
    assert net(torch.rand(1, 3, 16, 16)).shape == (1, 1, 16, 16)


def test_plain_names_of_realesrgan_classes_stay_free_for_the_realesrgan_package():
    registered = set(ARCH_REGISTRY.keys())
    assert {'SRVGGNetCompact_basicsr', 'UNetDiscriminatorSN_basicsr', 'UNetDiscriminatorWithSpectralNorm'} <= registered
    assert 'SRVGGNetCompact' not in registered and 'UNetDiscriminatorSN' not in registered
