"""Specification of the PDD distillation loss (arXiv 2407.07302) against straightforward recomputations."""

import itertools
import math

import pytest
import torch

from basicsr.losses import build_loss
from basicsr.losses.distillation_loss import DistillationLoss, pixelwise_cross_entropy
from basicsr.utils.registry import LOSS_REGISTRY

# train.domain_opt of the authors' EMA and static option files, minus `type`.
AUTHORS_DOMAIN_OPT = {
    'layer_weights_inter': {'conv2_1': 0.25, 'conv3_1': 0.25, 'conv4_1': 0.25, 'conv5_1': 0.25},
    'layer_weights_intra': {'conv2_2': 0.1, 'conv3_4': 0.3, 'conv4_4': 1, 'conv5_4': 1},
    'model_type': 'vgg19',
    'use_input_norm': True,
    'rinter_weight': 1.0,
    'rintra_weight': 1.0,
    'range_norm': False,
    'delta_inter_type': 'gram_change',
    'cri_inter': 'fro',
    'delta_intra_type': 'l1',
    'cri_intra': 'ce',
}
# Shallow layers keep the random VGG small and fast; conv3_1 is after two poolings.
INTER_WEIGHTS = {'conv1_2': 0.5, 'conv2_1': 0.25, 'conv3_1': 0.25}
INTRA_WEIGHTS = {'conv1_1': 0.1, 'conv2_2': 0.3, 'conv3_1': 1.0}
INTER_DELTA_TYPES = ['gram_change', 'gram', 'l1', 'l2']
INTRA_CRITERIA = ['ce', 'l1', 'l2', 'fro', 'cosine_sim']
INTRA_OPTIONS = [
    (delta, cri) for delta, cri in itertools.product(['l1', 'fro'], INTRA_CRITERIA) if (delta, cri) != ('fro', 'ce')
]


def make_loss(**options) -> DistillationLoss:
    """A DistillationLoss on the shallow layers with a randomly initialised VGG19."""
    kwargs = {'layer_weights_inter': INTER_WEIGHTS, 'layer_weights_intra': INTRA_WEIGHTS, 'pretrained': False}
    kwargs.update(options)
    return DistillationLoss(**kwargs)


def make_images(batch: int = 2, seed: int = 0) -> list[torch.Tensor]:
    """x1, ref1, x2, ref2 in [0, 1]: each generalist output is its specialist output plus a small perturbation."""
    generator = torch.Generator().manual_seed(seed)
    x1, x2 = torch.rand(2, batch, 3, 32, 32, generator=generator)
    ref1 = (x1 + 0.1 * torch.randn(x1.shape, generator=generator)).clamp(0, 1)
    ref2 = (x2 + 0.1 * torch.randn(x2.shape, generator=generator)).clamp(0, 1)
    return [x1, ref1, x2, ref2]


def separate_features(loss: DistillationLoss, images: list[torch.Tensor]) -> list[dict]:
    """VGG features of each image from its own VGG call, in float64."""
    with torch.no_grad():
        return [{k: v.double() for k, v in loss.vgg(image).items()} for image in images]


def expected_gram(features: torch.Tensor) -> torch.Tensor:
    _, c, h, w = features.shape
    return torch.einsum('nchw,ndhw->ncd', features, features) / (c * h * w)


def expected_inter_delta(specialist: torch.Tensor, generalist: torch.Tensor, delta_type: str) -> torch.Tensor:
    if delta_type == 'gram_change':
        return expected_gram(specialist - generalist)
    if delta_type == 'gram':
        return expected_gram(specialist) - expected_gram(generalist)
    if delta_type == 'l1':
        return torch.abs(specialist - generalist)
    return (specialist - generalist) ** 2


def frobenius(tensor: torch.Tensor) -> torch.Tensor:
    return torch.sqrt((tensor**2).sum())


def channel_softmax(logits: torch.Tensor) -> torch.Tensor:
    exp = torch.exp(logits)
    return exp / exp.sum(dim=1, keepdim=True)


def expected_intra_layer(f_x1, f_ref1, f_x2, f_ref2, delta_type: str, criterion: str) -> torch.Tensor:
    if criterion == 'cosine_sim':
        a, b = f_x1 - f_x2, f_ref1 - f_ref2
        return ((a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))).mean()
    if delta_type == 'l1':
        d_s, d_g = torch.abs(f_x1 - f_x2), torch.abs(f_ref1 - f_ref2)
    else:
        d_s, d_g = frobenius(f_x1 - f_x2), frobenius(f_ref1 - f_ref2)
    if criterion == 'ce':
        p, q = channel_softmax(d_s), channel_softmax(d_g)
        return (-(q * torch.log(p + 1e-6)).sum(1)).mean()
    if criterion == 'l1':
        return torch.abs(d_s - d_g).mean()
    if criterion == 'l2':
        return ((d_s - d_g) ** 2).mean()
    return frobenius(d_s - d_g)


def expected_inter_term(loss, images, delta_type: str, rinter_weight: float) -> torch.Tensor:
    f_x1, f_ref1, f_x2, f_ref2 = separate_features(loss, images)
    return rinter_weight * sum(
        w
        * frobenius(
            expected_inter_delta(f_x1[k], f_ref1[k], delta_type) - expected_inter_delta(f_x2[k], f_ref2[k], delta_type)
        )
        for k, w in INTER_WEIGHTS.items()
    )


def expected_intra_term(loss, images, delta_type: str, criterion: str, rintra_weight: float) -> torch.Tensor:
    f_x1, f_ref1, f_x2, f_ref2 = separate_features(loss, images)
    return rintra_weight * sum(
        w * expected_intra_layer(f_x1[k], f_ref1[k], f_x2[k], f_ref2[k], delta_type, criterion)
        for k, w in INTRA_WEIGHTS.items()
    )


@pytest.fixture(scope='module')
def authors_loss() -> DistillationLoss:
    """The loss as the authors' option files build it (`train.domain_opt`), with a random VGG19."""
    return build_loss({'type': 'DistillationLoss', **AUTHORS_DOMAIN_OPT, 'pretrained': False})


def test_distillation_loss_is_registered_under_its_plain_name():
    assert LOSS_REGISTRY.get('DistillationLoss') is DistillationLoss


def test_distillation_loss_accepts_the_authors_domain_opt_keys(authors_loss):
    assert isinstance(authors_loss, DistillationLoss)
    assert authors_loss.layers == [
        *AUTHORS_DOMAIN_OPT['layer_weights_inter'],
        *AUTHORS_DOMAIN_OPT['layer_weights_intra'],
    ]
    l_inter, l_intra = authors_loss(*make_images())
    assert l_inter.ndim == 0 and l_intra.ndim == 0
    assert l_inter > 0 and l_intra > 0


@pytest.mark.parametrize('cri_inter', ['fro'])
@pytest.mark.parametrize('delta_inter_type', INTER_DELTA_TYPES)
def test_inter_term_matches_a_straightforward_computation(delta_inter_type, cri_inter):
    loss = make_loss(layer_weights_intra={}, delta_inter_type=delta_inter_type, cri_inter=cri_inter, rinter_weight=0.7)
    images = make_images(seed=1)
    l_inter, _ = loss(*images)
    expected = expected_inter_term(loss, images, delta_inter_type, rinter_weight=0.7)
    assert expected > 0
    torch.testing.assert_close(l_inter.double(), expected, rtol=1e-4, atol=1e-8)


@pytest.mark.parametrize('delta_intra_type,cri_intra', INTRA_OPTIONS)
def test_intra_term_matches_a_straightforward_computation(delta_intra_type, cri_intra):
    loss = make_loss(layer_weights_inter={}, delta_intra_type=delta_intra_type, cri_intra=cri_intra, rintra_weight=1.3)
    images = make_images(seed=1)
    _, l_intra = loss(*images)
    expected = expected_intra_term(loss, images, delta_intra_type, cri_intra, rintra_weight=1.3)
    assert expected != 0
    torch.testing.assert_close(l_intra.double(), expected, rtol=1e-4, atol=1e-8)


@pytest.mark.parametrize('delta_inter_type', INTER_DELTA_TYPES)
def test_inter_term_is_zero_when_models_agree(delta_inter_type):
    loss = make_loss(layer_weights_intra={}, delta_inter_type=delta_inter_type)
    x1, _, x2, _ = make_images()
    l_inter, _ = loss(x1, x1.clone(), x2, x2.clone())
    assert l_inter.item() == pytest.approx(0, abs=1e-6)


@pytest.mark.parametrize('delta_intra_type,cri_intra', [(d, c) for d, c in INTRA_OPTIONS if c in ('l1', 'l2', 'fro')])
def test_distance_intra_terms_are_zero_when_models_agree(delta_intra_type, cri_intra):
    loss = make_loss(layer_weights_inter={}, delta_intra_type=delta_intra_type, cri_intra=cri_intra)
    x1, _, x2, _ = make_images()
    _, l_intra = loss(x1, x1.clone(), x2, x2.clone())
    assert l_intra.item() == pytest.approx(0, abs=1e-6)


def test_ce_intra_term_equals_generalist_entropy_when_models_agree(authors_loss):
    x1, _, x2, _ = make_images()
    l_inter, l_intra = authors_loss(x1, x1.clone(), x2, x2.clone())
    features = separate_features(authors_loss, [x1, x2])
    entropy = 0
    for layer, weight in AUTHORS_DOMAIN_OPT['layer_weights_intra'].items():
        q = torch.softmax(torch.abs(features[0][layer] - features[1][layer]), dim=1)
        entropy += weight * (-(q * torch.log(q)).sum(1)).mean()
    assert l_inter.item() == pytest.approx(0, abs=1e-6)
    torch.testing.assert_close(l_intra.double(), entropy, rtol=1e-3, atol=0)


def test_ce_intra_term_is_smallest_when_specialist_distances_match(authors_loss):
    x1, ref1, x2, ref2 = make_images()
    _, l_intra_disagree = authors_loss(x1, ref1, x2, ref2)
    _, l_intra_agree = authors_loss(ref1, ref1, ref2, ref2)
    assert l_intra_disagree > l_intra_agree


def test_cross_entropy_guards_the_log_with_1e_minus_6():
    """Where the specialist gives a channel ~0 probability that the generalist favours, the loss is -log(1e-6)."""
    specialist_distance = torch.tensor([0.0, 60.0]).view(1, 2, 1, 1)
    generalist_distance = torch.tensor([60.0, 0.0]).view(1, 2, 1, 1)
    value = pixelwise_cross_entropy(specialist_distance, generalist_distance)
    assert value.item() == pytest.approx(-math.log(1e-6), rel=1e-4)


def test_cosine_intra_term_is_one_when_models_agree():
    loss = make_loss(cri_intra='cosine_sim')
    x1, _, x2, _ = make_images()
    _, l_intra = loss(x1, x1.clone(), x2, x2.clone())
    assert l_intra.item() == pytest.approx(sum(INTRA_WEIGHTS.values()), rel=1e-5)


def test_gradient_reaches_specialist_outputs_but_never_generalist_outputs(authors_loss):
    x1, ref1, x2, ref2 = (image.requires_grad_() for image in make_images())
    l_inter, l_intra = authors_loss(x1, ref1, x2, ref2)
    (l_inter + l_intra).backward()
    for specialist_output in (x1, x2):
        assert torch.isfinite(specialist_output.grad).all() and specialist_output.grad.abs().sum() > 0
    assert ref1.grad is None and ref2.grad is None


def test_detached_synthetic_output_gets_no_gradient(authors_loss):
    x1, ref1, x2, ref2 = (image.requires_grad_() for image in make_images())
    l_inter, l_intra = authors_loss(x1, ref1, x2.detach(), ref2)
    (l_inter + l_intra).backward()
    assert x1.grad.abs().sum() > 0
    assert x2.grad is None


def test_gradient_is_finite_when_models_agree(authors_loss):
    """At the first EMA step both nets are identical; the Frobenius norms at zero must not produce NaN."""
    x1, _, x2, _ = make_images()
    x1_specialist, x2_specialist = x1.clone().requires_grad_(), x2.clone().requires_grad_()
    l_inter, l_intra = authors_loss(x1_specialist, x1, x2_specialist, x2)
    (l_inter + l_intra).backward()
    assert torch.isfinite(x1_specialist.grad).all() and torch.isfinite(x2_specialist.grad).all()


@pytest.mark.parametrize(
    'delta_inter_type,delta_intra_type,cri_intra',
    [('gram_change', 'l1', 'ce'), ('l1', 'l1', 'l1'), ('gram', 'l1', 'l2'), ('l2', 'fro', 'fro')],
)
def test_terms_are_invariant_to_a_common_batch_permutation(delta_inter_type, delta_intra_type, cri_intra):
    loss = make_loss(delta_inter_type=delta_inter_type, delta_intra_type=delta_intra_type, cri_intra=cri_intra)
    images = make_images(batch=3)
    permutation = torch.tensor([2, 0, 1])
    l_inter, l_intra = loss(*images)
    l_inter_permuted, l_intra_permuted = loss(*(image[permutation] for image in images))
    torch.testing.assert_close(l_inter_permuted, l_inter, rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(l_intra_permuted, l_intra, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize('cri_intra', ['ce', 'l1', 'l2'])
def test_mean_reduced_intra_term_averages_the_per_sample_pairs(cri_intra):
    """Sample i of the real batch is compared with sample i of the synthetic batch, and the pairs are averaged."""
    loss = make_loss(cri_intra=cri_intra)
    images = make_images(batch=3, seed=3)
    _, l_intra = loss(*images)
    per_pair = [loss(*(image[i : i + 1] for image in images))[1] for i in range(3)]
    torch.testing.assert_close(l_intra, torch.stack(per_pair).mean(), rtol=1e-4, atol=1e-7)


def test_vgg_runs_once_over_the_four_images():
    loss = make_loss()
    batch_sizes = []
    loss.vgg.register_forward_hook(lambda module, args, output: batch_sizes.append(args[0].shape[0]))
    loss(*make_images(batch=2))
    assert batch_sizes == [8]


def test_forward_equals_forward_features_on_precomputed_features():
    loss = make_loss(delta_inter_type='gram', cri_intra='ce')
    images = make_images(seed=2)
    with torch.no_grad():
        features = [loss.vgg(image) for image in images]
    for from_images, from_features in zip(loss(*images), loss.forward_features(*features)):
        torch.testing.assert_close(from_features, from_images, rtol=1e-5, atol=1e-7)


def test_forward_features_detaches_generalist_features():
    loss = make_loss()
    x1, ref1, x2, ref2 = (image.requires_grad_() for image in make_images())
    l_inter, l_intra = loss.forward_features(*(loss.vgg(image) for image in (x1, ref1, x2, ref2)))
    (l_inter + l_intra).backward()
    assert x1.grad.abs().sum() > 0 and x2.grad.abs().sum() > 0
    assert ref1.grad is None and ref2.grad is None


def test_forward_features_names_missing_layers():
    loss = make_loss()
    features = [loss.vgg(image) for image in make_images()]
    del features[2]['conv2_2']
    with pytest.raises(KeyError, match='conv2_2'):
        loss.forward_features(*features)


@pytest.mark.parametrize(
    'options,disabled',
    [
        ({'layer_weights_inter': {}}, 0),
        ({'layer_weights_inter': None}, 0),
        ({'rinter_weight': 0}, 0),
        ({'layer_weights_intra': {}}, 1),
        ({'rintra_weight': 0.0}, 1),
    ],
)
def test_a_disabled_term_returns_none(options, disabled):
    loss = make_loss(**options)
    terms = loss(*make_images())
    assert terms[disabled] is None
    assert terms[1 - disabled] is not None and terms[1 - disabled] > 0


def test_layers_lists_only_the_enabled_terms_layers():
    assert make_loss(rinter_weight=0).layers == list(INTRA_WEIGHTS)
    assert make_loss().layers == ['conv1_2', 'conv2_1', 'conv3_1', 'conv1_1', 'conv2_2']


@pytest.mark.parametrize(
    'key,allowed',
    [
        ('delta_inter_type', 'gram_change'),
        ('cri_inter', 'fro'),
        ('delta_intra_type', 'l1'),
        ('cri_intra', 'cosine_sim'),
    ],
)
def test_unknown_option_value_names_the_option_and_allowed_values(key, allowed):
    with pytest.raises(ValueError, match=f"'{key}'.*'{allowed}'"):
        make_loss(**{key: 'bogus'})


@pytest.mark.parametrize(
    'options,message',
    [
        ({'delta_intra_type': 'fro', 'cri_intra': 'ce'}, 'delta_intra_type'),
        ({'model_type': 'alexnet'}, 'model_type'),
        ({'rintra_weight': -1.0}, 'rintra_weight'),
        ({'layer_weights_inter': {}, 'layer_weights_intra': None}, 'disabled'),
    ],
)
def test_invalid_configuration_is_rejected(options, message):
    with pytest.raises(ValueError, match=message):
        make_loss(**options)


def test_inputs_of_different_shapes_are_rejected():
    loss = make_loss()
    x1, ref1, x2, ref2 = make_images()
    with pytest.raises(ValueError, match='same shape'):
        loss(x1, ref1, x2[:, :, :16], ref2[:, :, :16])
