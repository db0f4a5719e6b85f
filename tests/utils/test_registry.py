import pytest

from basicsr.utils.registry import Registry


def test_register_and_get_by_name():
    reg = Registry('thing')

    @reg.register()
    class Foo:
        pass

    assert reg.get('Foo') is Foo
    assert 'Foo' in reg


def test_plain_name_falls_back_to_basicsr_suffix():
    reg = Registry('thing')

    @reg.register(suffix='basicsr')
    class Bar:
        pass

    assert reg.get('Bar') is Bar
    assert 'Bar_basicsr' in reg.keys()
    assert reg.plain_names() == ['Bar']


def test_duplicate_name_is_rejected():
    reg = Registry('thing')
    reg.register(int, name='x')
    with pytest.raises(KeyError, match='already registered'):
        reg.register(float, name='x')


def test_unknown_name_lists_known_names_and_suggests():
    reg = Registry('arch')
    reg.register(int, name='RRDBNet')
    reg.register(float, name='MSRResNet')
    with pytest.raises(KeyError) as err:
        reg.get('RRDBnet')
    assert 'Did you mean: RRDBNet' in str(err.value)
    assert 'MSRResNet' in str(err.value)


def test_all_builtin_registries_are_filled():
    import basicsr  # noqa: F401
    from basicsr.utils.registry import ARCH_REGISTRY, DATASET_REGISTRY, LOSS_REGISTRY, METRIC_REGISTRY, MODEL_REGISTRY

    assert {
        'RRDBNet',
        'SRVGGNetCompact',
        'MSRResNet',
        'UNetDiscriminatorSN',
        'VGGStyleDiscriminator',
        'UNetDiscriminatorWithSpectralNorm',
    } <= set(ARCH_REGISTRY.plain_names())
    assert {'PairedImageDataset', 'SingleImageDataset', 'BlindPairedImageDataset'} <= set(
        DATASET_REGISTRY.plain_names()
    )
    assert {
        'L1Loss',
        'MSELoss',
        'CharbonnierLoss',
        'PerceptualLoss',
        'GANLoss',
        'WeightedWvtLoss',
        'DistillationLoss',
    } <= set(LOSS_REGISTRY.plain_names())
    assert {'calculate_psnr', 'calculate_ssim', 'calculate_niqe', 'calculate_lpips'} <= set(
        METRIC_REGISTRY.plain_names()
    )
    assert {'SRModel', 'SRGANModel', 'ESRGANModel', 'SRGANRefModel'} <= set(MODEL_REGISTRY.plain_names())
