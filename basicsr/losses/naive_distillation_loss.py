"""Naive feature distillation, the 'ND' baseline of the PDD paper's ablation (arXiv 2407.07302, experiments)."""

from collections.abc import Mapping
from typing import Optional

from torch import Tensor, nn

from basicsr.losses.distillation_loss import FeatureDict, build_vgg, check_layers, features_of_batch
from basicsr.losses.loss_util import fp32_loss
from basicsr.utils.registry import LOSS_REGISTRY


@LOSS_REGISTRY.register()
class NaiveDistillationLoss(nn.Module):
    """L_ND = loss_weight · Σ_k w_k · mean |F_k(x) − F_k(ref)|: the specialist copies the generalist on real input.

    Unlike PDD it matches the generalist's output directly instead of distances between outputs; the paper reports
    that this raises PSNR but hurts perceptual quality. `ref` (the generalist's output) carries no gradient.
    """

    def __init__(
        self,
        layer_weights: Mapping[str, float],
        model_type: str = 'vgg19',
        use_input_norm: bool = True,
        range_norm: bool = False,
        loss_weight: float = 1.0,
        pretrained: bool = True,
        vgg_weights_path: Optional[str] = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        if not layer_weights:
            raise ValueError(
                f"{owner}: option 'layer_weights' is empty; give at least one VGG layer, e.g. {{'conv5_4': 1.0}}."
            )
        self.layer_weights = dict(layer_weights)
        self.loss_weight = loss_weight
        self.vgg = build_vgg(owner, self.layers, model_type, use_input_norm, range_norm, pretrained, vgg_weights_path)

    @property
    def layers(self) -> list[str]:
        """VGG layers the loss needs (for sharing one VGG pass with other losses)."""
        return list(self.layer_weights)

    def forward(self, x: Tensor, ref: Tensor) -> Tensor:
        """Loss between the specialist's output `x` and the generalist's output `ref` (one batched VGG pass)."""
        f_x, f_ref = features_of_batch(self.vgg, [x, ref.detach()])
        return self.forward_features(f_x, f_ref)

    @fp32_loss
    def forward_features(self, f_x: FeatureDict, f_ref: FeatureDict) -> Tensor:
        """Same as `forward` on precomputed VGG feature dicts (at least `layers`); `f_ref` is detached."""
        check_layers(type(self).__name__, self.layers, f_x=f_x, f_ref=f_ref)
        total = sum(
            weight * (f_x[layer] - f_ref[layer].detach()).abs().mean() for layer, weight in self.layer_weights.items()
        )
        return total * self.loss_weight
