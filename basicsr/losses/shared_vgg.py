"""Batched VGG passes shared by several feature losses (PDD's distillation, the perceptual loss, the ND ablation).

The authors' PDD step runs VGG19 six times: four passes inside the distillation loss (specialist and generalist outputs
on both domains) and two in the perceptual loss (specialist output and GT). All their layers lie on one VGG19 forward,
so two batched passes give the same features: one with gradients over the specialist outputs, one without over the
generalist outputs and GT. Extractors are only merged when they compute identical features (same variant, input
transform and weights); otherwise each runs its own (still batched) passes.
"""

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Callable, Optional

import torch
from torch import Tensor, nn

from basicsr.archs.vgg_arch import VGGFeatureExtractor

FeatureDict = dict[str, Tensor]


class _SplitKeepingLayout(torch.autograd.Function):
    """`tensor.split(sizes)` whose backward assembles the gradient in the tensor's own memory format. Reductions
    hand losses NCHW gradients; assembled as NCHW they reach channels-last convolutions, which convert them again."""

    @staticmethod
    def forward(ctx, tensor: Tensor, sizes: list[int]) -> tuple[Tensor, ...]:
        channels_last = tensor.dim() == 4 and tensor.is_contiguous(memory_format=torch.channels_last)
        ctx.sizes, ctx.shape = sizes, tensor.shape
        ctx.layout = torch.channels_last if channels_last else torch.contiguous_format
        ctx.set_materialize_grads(False)  # a chunk no loss used stays None: zero-filled below, no zero tensor made
        return tensor.split(sizes)

    @staticmethod
    def backward(ctx, *grads: Optional[Tensor]) -> tuple[Tensor, None]:
        reference = next(grad for grad in grads if grad is not None)
        whole = torch.empty(ctx.shape, dtype=reference.dtype, device=reference.device, memory_format=ctx.layout)
        for chunk, grad in zip(whole.split(ctx.sizes), grads):
            if grad is None:
                chunk.zero_()
            else:
                chunk.copy_(grad)
        return whole, None


@dataclass(frozen=True)
class FeatureNeed:
    """A loss needs `layers` of `extractor` on the image named `image`, with gradients when `grad`."""

    extractor: VGGFeatureExtractor
    layers: tuple[str, ...]
    image: str
    grad: bool


def _same_module(first: nn.Module, second: nn.Module) -> bool:
    """Same layer kind and configuration (a ReLU's in-place flag is an implementation detail, not math)."""
    if isinstance(first, nn.ReLU):
        return isinstance(second, nn.ReLU)
    return repr(first) == repr(second)


def same_features(first: VGGFeatureExtractor, second: VGGFeatureExtractor) -> bool:
    """True when both extractors give identical features on every layer the shallower one has."""
    if (first.use_input_norm, first.range_norm) != (second.use_input_norm, second.range_norm):
        return False
    shallow, deep = sorted((first, second), key=lambda extractor: len(extractor.vgg_net))
    deep_layers = dict(deep.vgg_net.named_children())
    for name, module in shallow.vgg_net.named_children():
        if name not in deep_layers or not _same_module(module, deep_layers[name]):
            return False
    deep_state = deep.state_dict()
    return all(torch.equal(value, deep_state[key]) for key, value in shallow.state_dict().items())


def vgg_features(extractor: VGGFeatureExtractor, images: Tensor, layers: Sequence[str]) -> FeatureDict:
    """`extractor`'s features at `layers` (any of its built layers, not only its own list), stopping at the deepest.

    A ReLU whose input is returned runs out of place, so the returned pre-activation feature is not overwritten.
    """
    wanted = set(layers)
    if extractor.range_norm:
        images = (images + 1) / 2
    if extractor.use_input_norm:
        images = (images - extractor.mean) / extractor.std
    features: FeatureDict = {}
    previous = None
    for name, layer in extractor.vgg_net.named_children():
        if isinstance(layer, nn.ReLU) and previous in wanted:
            images = torch.relu(images)
        else:
            images = layer(images)
        if name in wanted:
            features[name] = images
            if len(features) == len(wanted):
                break
        previous = name
    missing = wanted - set(features)
    if missing:
        raise KeyError(f'VGG ({extractor.vgg_type}) built up to {previous} cannot give layers {sorted(missing)}.')
    return features


class SharedVGGPasses:
    """Runs the fewest batched VGG passes that serve a set of `FeatureNeed`s.

    Needs on extractors with identical features (`same_features`, when `share`) go to one of them, the deepest; per
    extractor group, images needing gradients go in one pass and the others in one pass under `no_grad`; each pass
    computes the union of the layers its group needs. Images of different shapes go in separate passes.
    """

    def __init__(
        self,
        extractors: Sequence[VGGFeatureExtractor],
        share: bool = True,
        runner: Callable[[VGGFeatureExtractor, Tensor, Sequence[str]], FeatureDict] = vgg_features,
    ) -> None:
        self.runner = runner
        self.canonical: dict[int, VGGFeatureExtractor] = {}
        groups: list[list[VGGFeatureExtractor]] = []
        for extractor in extractors:
            group = next((g for g in groups if share and same_features(g[0], extractor)), None)
            if group is None:
                groups.append([extractor])
            else:
                group.append(extractor)
        for group in groups:
            deepest = max(group, key=lambda extractor: len(extractor.vgg_net))
            self.canonical.update({id(extractor): deepest for extractor in group})

    @property
    def pass_groups(self) -> int:
        """How many distinct feature extractors the passes use."""
        return len({id(extractor) for extractor in self.canonical.values()})

    def run(
        self,
        needs: Sequence[FeatureNeed],
        images: Mapping[str, Tensor],
        no_grad: Callable[[], AbstractContextManager] = torch.no_grad,
    ) -> 'FeatureBank':
        """Compute every need; an image that one need wants with gradients is passed once, with gradients."""
        plan: dict[tuple[int, bool], tuple[VGGFeatureExtractor, dict[str, None], dict[str, None]]] = {}
        grad_images = {(id(self.canonical_of(n.extractor)), n.image) for n in needs if n.grad}
        for need in needs:
            extractor = self.canonical_of(need.extractor)
            grad = (id(extractor), need.image) in grad_images
            _, image_names, layers = plan.setdefault((id(extractor), grad), (extractor, {}, {}))
            image_names[need.image] = None
            layers.update(dict.fromkeys(need.layers))
        bank = FeatureBank(self)
        for (_, grad), (extractor, image_names, layers) in plan.items():
            with torch.enable_grad() if grad else no_grad():
                bank.add(
                    extractor, self._passes(extractor, [(name, images[name]) for name in image_names], list(layers))
                )
        return bank

    def canonical_of(self, extractor: VGGFeatureExtractor) -> VGGFeatureExtractor:
        if id(extractor) not in self.canonical:
            raise KeyError('SharedVGGPasses got a feature need for an extractor it was not built with.')
        return self.canonical[id(extractor)]

    def _passes(
        self, extractor: VGGFeatureExtractor, named_images: list[tuple[str, Tensor]], layers: list[str]
    ) -> dict[str, FeatureDict]:
        """One pass per image shape over the concatenated images; features split back per image name."""
        by_shape: dict[tuple[int, ...], list[tuple[str, Tensor]]] = {}
        for name, image in named_images:
            by_shape.setdefault(tuple(image.shape[1:]), []).append((name, image))
        result: dict[str, FeatureDict] = {}
        for batch in by_shape.values():
            tensors = [image for _, image in batch]
            features = self.runner(extractor, tensors[0] if len(tensors) == 1 else torch.cat(tensors), layers)
            sizes = [image.shape[0] for image in tensors]
            split = {
                layer: _SplitKeepingLayout.apply(feature, sizes) if feature.requires_grad else feature.split(sizes)
                for layer, feature in features.items()
            }
            result.update(
                {name: {layer: split[layer][index] for layer in layers} for index, (name, _) in enumerate(batch)}
            )
        return result


class FeatureBank:
    """Features computed by `SharedVGGPasses.run`, looked up by (extractor a loss owns, image name)."""

    def __init__(self, passes: SharedVGGPasses) -> None:
        self.passes = passes
        self.features: dict[tuple[int, str], FeatureDict] = {}

    def add(self, extractor: VGGFeatureExtractor, features: dict[str, FeatureDict]) -> None:
        self.features.update({(id(extractor), name): value for name, value in features.items()})

    def get(self, extractor: VGGFeatureExtractor, image: str) -> FeatureDict:
        """Features of `image` as `extractor` would compute them (at least the layers its needs named)."""
        return self.features[(id(self.passes.canonical_of(extractor)), image)]
