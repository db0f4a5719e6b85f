"""SharedVGGPasses: the fewest batched VGG passes that give every loss the features its own extractor would."""

import pytest
import torch

from basicsr.archs.vgg_arch import VGGFeatureExtractor
from basicsr.losses.shared_vgg import FeatureNeed, SharedVGGPasses, same_features, vgg_features


def extractor(layers, seed=0, **kwargs) -> VGGFeatureExtractor:
    torch.manual_seed(seed)
    return VGGFeatureExtractor(list(layers), pretrained=False, **kwargs)


def copy_weights(source: VGGFeatureExtractor, target: VGGFeatureExtractor) -> VGGFeatureExtractor:
    own = target.state_dict()
    target.load_state_dict({key: value for key, value in source.state_dict().items() if key in own})
    return target


def test_vgg_features_returns_layers_outside_the_extractor_list_uncorrupted_by_in_place_relus():
    vgg = extractor(['conv2_2'])  # relu1_2 runs in place inside this extractor
    images = torch.rand(2, 3, 16, 16)
    features = vgg_features(vgg, images, ['conv1_2', 'conv2_2'])
    expected = copy_weights(vgg, extractor(['conv1_2', 'conv2_2'], seed=5))(images)
    assert torch.equal(features['conv1_2'], expected['conv1_2'])
    assert torch.equal(features['conv2_2'], expected['conv2_2'])
    assert features['conv1_2'].min() < 0  # a pre-activation feature, not overwritten by the ReLU


def test_vgg_features_names_layers_the_extractor_has_not_built():
    with pytest.raises(KeyError, match='conv3_1'):
        vgg_features(extractor(['conv2_1']), torch.rand(1, 3, 8, 8), ['conv3_1'])


def test_extractors_with_equal_weights_share_and_different_ones_do_not():
    shallow, deep = extractor(['conv1_2']), extractor(['conv2_2'])
    copy_weights(deep, shallow)
    assert same_features(shallow, deep)
    assert not same_features(extractor(['conv1_2'], seed=1), deep)
    assert not same_features(copy_weights(deep, extractor(['conv1_2'], use_input_norm=False)), deep)
    assert SharedVGGPasses([shallow, deep]).pass_groups == 1
    assert SharedVGGPasses([shallow, deep], share=False).pass_groups == 2


def test_passes_give_each_need_its_own_extractors_features_with_gradients_only_where_asked():
    perceptual, distillation = extractor(['conv1_2', 'conv2_2']), extractor(['conv2_1'])
    copy_weights(perceptual, distillation)
    calls = []
    perceptual.vgg_net.conv1_1.register_forward_hook(lambda m, args, out: calls.append(args[0].shape[0]))
    output = torch.rand(2, 3, 16, 16, requires_grad=True)
    images = {'out': output, 'ref': torch.rand(2, 3, 16, 16), 'gt': torch.rand(2, 3, 16, 16)}
    needs = [
        FeatureNeed(distillation, ('conv2_1',), 'out', True),
        FeatureNeed(distillation, ('conv2_1',), 'ref', False),
        FeatureNeed(perceptual, ('conv1_2', 'conv2_2'), 'out', True),
        FeatureNeed(perceptual, ('conv1_2', 'conv2_2'), 'gt', False),
    ]
    bank = SharedVGGPasses([distillation, perceptual]).run(needs, images)
    assert sorted(calls) == [2, 4]
    for need in needs:
        own = need.extractor(images[need.image])
        for layer in need.layers:
            assert torch.allclose(bank.get(need.extractor, need.image)[layer], own[layer], atol=1e-5)
    assert bank.get(perceptual, 'out')['conv2_2'].requires_grad
    assert not bank.get(perceptual, 'gt')['conv2_2'].requires_grad


def test_images_of_different_shapes_go_in_separate_passes():
    vgg = extractor(['conv1_2'])
    images = {'small': torch.rand(1, 3, 8, 8), 'large': torch.rand(1, 3, 16, 16)}
    bank = SharedVGGPasses([vgg]).run([FeatureNeed(vgg, ('conv1_2',), name, False) for name in images], images)
    assert bank.get(vgg, 'small')['conv1_2'].shape[-1] == 8 and bank.get(vgg, 'large')['conv1_2'].shape[-1] == 16


def test_a_need_on_an_unknown_extractor_is_refused():
    known, unknown = extractor(['conv1_1']), extractor(['conv1_1'])
    with pytest.raises(KeyError, match='not built with'):
        SharedVGGPasses([known]).run([FeatureNeed(unknown, ('conv1_1',), 'x', False)], {'x': torch.rand(1, 3, 8, 8)})


def test_feature_gradients_reach_a_channels_last_vgg_in_channels_last_and_unchanged():
    vgg = extractor(['conv1_2']).to(memory_format=torch.channels_last)
    grads = []

    def record_gradient(module, args, out) -> None:
        if out.requires_grad:
            out.register_hook(grads.append)

    vgg.vgg_net.conv1_2.register_forward_hook(record_gradient)
    images = {
        name: torch.rand(1, 3, 8, 8).contiguous(memory_format=torch.channels_last).requires_grad_()
        for name in ('used', 'unused')
    }
    needs = [FeatureNeed(vgg, ('conv1_2',), name, True) for name in images]
    bank = SharedVGGPasses([vgg]).run(needs, images)
    bank.get(vgg, 'used')['conv1_2'].abs().mean().backward()  # a mean hands back an NCHW gradient
    assert grads[0].is_contiguous(memory_format=torch.channels_last)
    alone = images['used'].detach().clone().requires_grad_()
    vgg(alone)['conv1_2'].abs().mean().backward()
    assert torch.allclose(images['used'].grad, alone.grad, atol=1e-6)
    assert not images['unused'].grad.any()
