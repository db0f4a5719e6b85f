"""Pairwise Distance Distillation loss (Zhang, Lee, Yao, "Pairwise Distance Distillation for Unsupervised Real-World
Image Super-Resolution", ECCV 2024, arXiv 2407.07302, method section).

Notation: M_S is the trainable specialist, M_G the frozen (or EMA) generalist; U is the real, unpaired domain and L the
synthetic, labelled one; F_k(.) is the VGG feature at layer k, taken before the ReLU for `convX_Y` names. The model
calls the loss as ``(x1, ref1, x2, ref2) = (M_S(real), M_G(real), M_S(synthetic), M_G(synthetic))``.
"""

from collections.abc import Mapping, Sequence
from typing import Optional

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from basicsr.archs.vgg_arch import VGGFeatureExtractor
from basicsr.losses.basic_loss import gram_matrix
from basicsr.losses.loss_util import fp32_loss
from basicsr.utils.registry import LOSS_REGISTRY

FeatureDict = Mapping[str, Tensor]

INTER_DELTA_TYPES = ('gram_change', 'gram', 'l1', 'l2')
INTER_CRITERIA = ('fro',)
INTRA_DELTA_TYPES = ('l1', 'fro')
INTRA_CRITERIA = ('ce', 'l1', 'l2', 'fro', 'cosine_sim')
CE_EPS = 1e-6


def check_choice(owner: str, key: str, value: str, allowed: Sequence[str]) -> None:
    """Raise a ValueError naming the option and its allowed values when `value` is not one of them."""
    if value not in allowed:
        raise ValueError(f"{owner}: option '{key}' is {value!r}; allowed values are {', '.join(map(repr, allowed))}.")


def build_vgg(
    owner: str,
    layers: Sequence[str],
    model_type: str,
    use_input_norm: bool,
    range_norm: bool,
    pretrained: bool,
    weights_path: Optional[str],
) -> VGGFeatureExtractor:
    """Build the frozen VGG feature extractor for `layers` (`model_type` is the VGG variant, e.g. 'vgg19')."""
    if not model_type.startswith('vgg'):
        raise ValueError(
            f"{owner}: option 'model_type' is {model_type!r}; only VGG feature extractors are supported "
            "(e.g. 'vgg19', as in the paper)."
        )
    return VGGFeatureExtractor(
        layer_name_list=list(layers),
        vgg_type=model_type,
        use_input_norm=use_input_norm,
        range_norm=range_norm,
        requires_grad=False,
        pretrained=pretrained,
        weights_path=weights_path,
    )


def features_of_batch(vgg: nn.Module, images: Sequence[Tensor]) -> list[dict[str, Tensor]]:
    """Run `vgg` once over `images` concatenated on the batch axis and split the features back, one dict per image."""
    shapes = [tuple(image.shape) for image in images]
    if len(set(shapes)) != 1:
        raise ValueError(f'Distillation inputs must all have the same shape (n, c, h, w), got {shapes}.')
    features = vgg(torch.cat(list(images), dim=0))
    chunks = {layer: feature.chunk(len(images), dim=0) for layer, feature in features.items()}
    return [{layer: chunks[layer][index] for layer in chunks} for index in range(len(images))]


def check_layers(owner: str, layers: Sequence[str], **feature_dicts: FeatureDict) -> None:
    """Raise a KeyError naming the missing layers when a precomputed feature dict lacks one the loss needs."""
    for name, features in feature_dicts.items():
        missing = [layer for layer in layers if layer not in features]
        if missing:
            raise KeyError(f'{owner}: feature dict {name!r} lacks layers {missing}; extract at least {list(layers)}.')


def inter_model_distance(specialist: Tensor, generalist: Tensor, delta_type: str) -> Tensor:
    """Distance Δ between the specialist's and the generalist's features on one domain (paper: inter-model distance).

    'gram_change' (paper): G(F(M_S) − F(M_G)); 'gram': G(F(M_S)) − G(F(M_G)); 'l1' / 'l2': elementwise |·| / (·)²
    of F(M_S) − F(M_G). G(A) is the Gram matrix of A reshaped to (n, c, h·w), divided by c·h·w (`gram_matrix`).
    """
    if delta_type == 'gram_change':
        return gram_matrix(specialist - generalist)
    if delta_type == 'gram':
        return gram_matrix(specialist) - gram_matrix(generalist)
    if delta_type == 'l1':
        return (specialist - generalist).abs()
    return (specialist - generalist).square()


def intra_model_distance(real: Tensor, synthetic: Tensor, delta_type: str) -> Tensor:
    """Distance d between one model's features on the real and the synthetic input (paper: intra-model distance).

    'l1' (paper): elementwise |F(real) − F(synthetic)|, shape (n, c, h, w); 'fro': the scalar
    ‖F(real) − F(synthetic)‖_F.
    """
    if delta_type == 'l1':
        return (real - synthetic).abs()
    return torch.linalg.vector_norm(real - synthetic)


def pixelwise_cross_entropy(specialist_distance: Tensor, generalist_distance: Tensor, eps: float = CE_EPS) -> Tensor:
    """Mean over the b·h·w pixels of −Σ_c q·log(p + eps), with p, q the channel softmax of d_S and d_G (paper's 'ce').

    Each pixel's channel vector is treated as a distribution; q (generalist) is the target, p (specialist) the
    prediction. For fixed q this is minimised (up to `eps`) by p = q, where it equals the entropy H(q).
    """
    p = torch.softmax(specialist_distance, dim=1)
    q = torch.softmax(generalist_distance, dim=1)
    return -(q * torch.log(p + eps)).sum(dim=1).mean()


def intra_criterion(specialist_distance: Tensor, generalist_distance: Tensor, criterion: str) -> Tensor:
    """Discrepancy between the specialist's and the generalist's intra-model distances d_S and d_G.

    'ce': `pixelwise_cross_entropy`; 'l1': mean |d_S − d_G|; 'l2': mean (d_S − d_G)²; 'fro': ‖d_S − d_G‖_F.
    """
    if criterion == 'ce':
        return pixelwise_cross_entropy(specialist_distance, generalist_distance)
    difference = specialist_distance - generalist_distance
    if criterion == 'l1':
        return difference.abs().mean()
    if criterion == 'l2':
        return difference.square().mean()
    return torch.linalg.vector_norm(difference)


@LOSS_REGISTRY.register()
class DistillationLoss(nn.Module):
    """PDD's inter- and intra-model distance distillation on VGG features (arXiv 2407.07302, method section).

    Inter-model term, over `layer_weights_inter` (paper: conv2_1..conv5_1 at 0.25):
        L_inter = rinter_weight · Σ_k w_k · ‖Δ_k(x1, ref1) − Δ_k(x2, ref2)‖_F   (`inter_model_distance`, norm over
        the whole batch tensor) — the specialist-vs-generalist distance must be the same on real and synthetic inputs.
    Intra-model term, over `layer_weights_intra` (paper: conv2_2 0.1, conv3_4 0.3, conv4_4 1, conv5_4 1):
        L_intra = rintra_weight · Σ_k w_k · crit(d_k(x1, x2), d_k(ref1, ref2))   (`intra_model_distance`,
        `intra_criterion`) — the specialist's real-vs-synthetic distance must follow the generalist's.
        With cri_intra='cosine_sim', crit is the mean channel-wise cosine similarity of the signed differences
        F(x1) − F(x2) and F(ref1) − F(ref2); as in the authors' code it is a similarity, not a distance.

    Constructor keys are those of the authors' `train.domain_opt`; `pretrained` and `vgg_weights_path` are passed to
    the VGG. A term whose layer dict is empty/None or whose weight is 0 is disabled and returned as None.
    """

    def __init__(
        self,
        layer_weights_inter: Optional[Mapping[str, float]],
        layer_weights_intra: Optional[Mapping[str, float]],
        model_type: str = 'vgg19',
        use_input_norm: bool = True,
        range_norm: bool = False,
        rinter_weight: float = 1.0,
        rintra_weight: float = 1.0,
        delta_inter_type: str = 'gram_change',
        delta_intra_type: str = 'l1',
        cri_inter: str = 'fro',
        cri_intra: str = 'ce',
        pretrained: bool = True,
        vgg_weights_path: Optional[str] = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        check_choice(owner, 'delta_inter_type', delta_inter_type, INTER_DELTA_TYPES)
        check_choice(owner, 'cri_inter', cri_inter, INTER_CRITERIA)
        check_choice(owner, 'delta_intra_type', delta_intra_type, INTRA_DELTA_TYPES)
        check_choice(owner, 'cri_intra', cri_intra, INTRA_CRITERIA)
        if delta_intra_type == 'fro' and cri_intra == 'ce':
            raise ValueError(f"{owner}: cri_intra 'ce' needs per-pixel distances; use delta_intra_type 'l1' with it.")
        for key, weight in (('rinter_weight', rinter_weight), ('rintra_weight', rintra_weight)):
            if weight < 0:
                raise ValueError(f"{owner}: option '{key}' is {weight}; it must be >= 0 (0 disables the term).")
        self.layer_weights_inter = dict(layer_weights_inter or {}) if rinter_weight > 0 else {}
        self.layer_weights_intra = dict(layer_weights_intra or {}) if rintra_weight > 0 else {}
        if not self.layers:
            raise ValueError(
                f"{owner}: both terms are disabled; give 'layer_weights_inter' or 'layer_weights_intra' "
                'a layer with a positive term weight, or drop train.domain_opt.'
            )
        self.rinter_weight = rinter_weight
        self.rintra_weight = rintra_weight
        self.delta_inter_type = delta_inter_type
        self.cri_inter = cri_inter
        self.delta_intra_type = delta_intra_type
        self.cri_intra = cri_intra
        self.vgg = build_vgg(owner, self.layers, model_type, use_input_norm, range_norm, pretrained, vgg_weights_path)

    @property
    def layers(self) -> list[str]:
        """VGG layers the enabled terms need, in first-use order (for sharing one VGG pass with other losses)."""
        return list(dict.fromkeys([*self.layer_weights_inter, *self.layer_weights_intra]))

    def forward(self, x1: Tensor, ref1: Tensor, x2: Tensor, ref2: Tensor) -> tuple[Optional[Tensor], Optional[Tensor]]:
        """Return (L_inter, L_intra) for specialist/generalist outputs on real (x1/ref1) and synthetic (x2/ref2) input.

        The four images go through the VGG in one batched pass; ref1 and ref2 are detached.
        """
        features = features_of_batch(self.vgg, [x1, ref1.detach(), x2, ref2.detach()])
        return self.forward_features(*features)

    @fp32_loss
    def forward_features(
        self, f_x1: FeatureDict, ref_f1: FeatureDict, f_x2: FeatureDict, ref_f2: FeatureDict
    ) -> tuple[Optional[Tensor], Optional[Tensor]]:
        """Same as `forward` on precomputed VGG feature dicts (at least `layers`); generalist features are detached."""
        check_layers(type(self).__name__, self.layers, f_x1=f_x1, ref_f1=ref_f1, f_x2=f_x2, ref_f2=ref_f2)
        ref_f1 = {layer: ref_f1[layer].detach() for layer in self.layers}
        ref_f2 = {layer: ref_f2[layer].detach() for layer in self.layers}
        return self._inter_term(f_x1, ref_f1, f_x2, ref_f2), self._intra_term(f_x1, ref_f1, f_x2, ref_f2)

    def _inter_term(
        self, f_x1: FeatureDict, ref_f1: FeatureDict, f_x2: FeatureDict, ref_f2: FeatureDict
    ) -> Optional[Tensor]:
        """rinter_weight · Σ_k w_k · ‖Δ_U − Δ_L‖_F, or None when the term is disabled."""
        if not self.layer_weights_inter:
            return None
        total = sum(
            weight
            * torch.linalg.vector_norm(
                inter_model_distance(f_x1[layer], ref_f1[layer], self.delta_inter_type)
                - inter_model_distance(f_x2[layer], ref_f2[layer], self.delta_inter_type)
            )
            for layer, weight in self.layer_weights_inter.items()
        )
        return total * self.rinter_weight

    def _intra_term(
        self, f_x1: FeatureDict, ref_f1: FeatureDict, f_x2: FeatureDict, ref_f2: FeatureDict
    ) -> Optional[Tensor]:
        """rintra_weight · Σ_k w_k · crit(d_S, d_G), or None when the term is disabled."""
        if not self.layer_weights_intra:
            return None
        total = sum(
            weight * self._intra_layer(f_x1[layer], ref_f1[layer], f_x2[layer], ref_f2[layer])
            for layer, weight in self.layer_weights_intra.items()
        )
        return total * self.rintra_weight

    def _intra_layer(self, f_x1: Tensor, ref_f1: Tensor, f_x2: Tensor, ref_f2: Tensor) -> Tensor:
        """Intra-model criterion at one layer."""
        if self.cri_intra == 'cosine_sim':
            return F.cosine_similarity(f_x1 - f_x2, ref_f1 - ref_f2, dim=1).mean()
        specialist_distance = intra_model_distance(f_x1, f_x2, self.delta_intra_type)
        generalist_distance = intra_model_distance(ref_f1, ref_f2, self.delta_intra_type)
        return intra_criterion(specialist_distance, generalist_distance, self.cri_intra)
