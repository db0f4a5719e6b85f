"""A slim VGG19-layout feature extractor trained without labels on the demo's HR photos (`make demo-pretrain`).

ImageNet VGG weights cannot be fetched offline, and random VGG features carry little signal for PDD's losses. This
trains a VGG19 with the same layer names but narrow blocks (BLOCK_CHANNELS) on two self-supervised tasks over
random crops of the training photos:
  - degradation regression: each crop gets a random subset of generic degradations (Gaussian blur, down-up
    resizing, Gaussian noise, JPEG; wide ranges, not the demo's target domains) and the network predicts their
    strengths, so its features respond to sharpness, noise and compression, what SR losses must see;
  - rotation prediction (Gidaris et al., ICLR 2018): which of 4 rotations was applied, so they also encode structure.
Batch norm is used while training and folded into the convolutions afterwards; the file keeps torchvision's
`features.{i}` keys plus `block_channels`, so `VGGFeatureExtractor(vgg_type='vgg19', weights_path=...)` loads it.
"""

import argparse
import glob
import os
import time
from os import path as osp
from typing import Callable, Optional

import cv2
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from basicsr.archs.vgg_arch import BLOCK_CHANNELS_KEY, IMAGENET_MEAN, IMAGENET_STD, VGG_BLOCK_DEPTHS
from basicsr.data.degradations import add_jpg_compression, bivariate_Gaussian
from basicsr.utils.checkpoint_util import atomic_torch_save

BLOCK_CHANNELS = (8, 16, 32, 48, 48)
CROP = 64
NUM_DEGRADATIONS = 4  # blur sigma, down-up factor, noise sigma, JPEG badness; each in [0, 1], 0 = not applied
NUM_ROTATIONS = 4


class SlimVGG(nn.Module):
    """VGG19 layout (conv-BN-ReLU, 5 blocks, max pooling) with narrow blocks, plus the two self-supervised heads."""

    def __init__(self, block_channels: tuple[int, ...] = BLOCK_CHANNELS) -> None:
        super().__init__()
        self.block_channels = tuple(block_channels)
        layers, channels = [], 3
        for depth, width in zip(VGG_BLOCK_DEPTHS['vgg19'], block_channels):
            for _ in range(depth):
                layers += [nn.Conv2d(channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
                channels = width
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        pooled = block_channels[2] + block_channels[3] + block_channels[4]
        self.degradation_head = nn.Linear(pooled, NUM_DEGRADATIONS)
        self.rotation_head = nn.Linear(pooled, NUM_ROTATIONS)
        self.register_buffer('mean', torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer('std', torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(degradation strengths, rotation logits) from pooled block-3/4/5 features of RGB input in [0, 1]."""
        x = (x - self.mean) / self.std
        pooled, pools_seen = [], 0
        for layer in self.features:
            x = layer(x)
            if isinstance(layer, nn.MaxPool2d):
                pools_seen += 1
                if pools_seen >= 3:
                    pooled.append(x.mean(dim=(2, 3)))
        summary = torch.cat(pooled, dim=1)
        return torch.sigmoid(self.degradation_head(summary)), self.rotation_head(summary)

    def folded_state_dict(self) -> dict:
        """torchvision-style `features.{i}.weight/bias` of the VGG19 layout without BN (BN folded into each conv)."""
        state, index, modules = {}, 0, list(self.features)
        for position, module in enumerate(modules):
            if isinstance(module, nn.Conv2d):
                bn = modules[position + 1]
                scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
                state[f'features.{index}.weight'] = (module.weight * scale.view(-1, 1, 1, 1)).detach().clone()
                state[f'features.{index}.bias'] = ((module.bias - bn.running_mean) * scale + bn.bias).detach().clone()
                index += 2  # conv, relu
            elif isinstance(module, nn.MaxPool2d):
                index += 1
        return state


def degrade_crop(crop: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random subset of generic degradations of an RGB float crop, and their strengths in [0, 1]."""
    strengths = np.zeros(NUM_DEGRADATIONS, dtype=np.float32)
    img = crop
    if rng.random() < 0.5:
        sigma_x, sigma_y = rng.uniform(0.3, 3.0, size=2)
        kernel = bivariate_Gaussian(21, sigma_x, sigma_y, rng.uniform(-np.pi, np.pi), isotropic=False)
        img = cv2.filter2D(img, -1, kernel.astype(np.float32), borderType=cv2.BORDER_REFLECT_101)
        strengths[0] = (np.sqrt(sigma_x * sigma_y) - 0.3) / 2.7
    if rng.random() < 0.5:
        factor = rng.uniform(1.2, 4.0)
        small = cv2.resize(img, (max(1, round(CROP / factor)),) * 2, interpolation=cv2.INTER_AREA)
        img = cv2.resize(small, (CROP, CROP), interpolation=rng.choice([cv2.INTER_LINEAR, cv2.INTER_CUBIC]))
        strengths[1] = (factor - 1.2) / 2.8
    if rng.random() < 0.5:
        sigma = rng.uniform(1, 25)
        img = img + rng.standard_normal(img.shape).astype(np.float32) * np.float32(sigma / 255.0)
        strengths[2] = (sigma - 1) / 24
    if rng.random() < 0.5:
        quality = rng.uniform(15, 95)
        img = add_jpg_compression(np.clip(img, 0, 1), quality)
        strengths[3] = (95 - quality) / 80
    return np.clip(img, 0, 1).astype(np.float32), strengths


def sample_batch(photos: list[np.ndarray], batch: int, rng: np.random.Generator):
    """Degraded, rotated crops (n, 3, CROP, CROP) with their degradation strengths and rotation labels."""
    images, strengths, rotations = [], [], []
    for _ in range(batch):
        photo = photos[rng.integers(len(photos))]
        top, left = rng.integers(0, photo.shape[0] - CROP + 1), rng.integers(0, photo.shape[1] - CROP + 1)
        img, strength = degrade_crop(photo[top : top + CROP, left : left + CROP], rng)
        rotation = int(rng.integers(NUM_ROTATIONS))
        images.append(np.ascontiguousarray(np.rot90(img, rotation).transpose(2, 0, 1)))
        strengths.append(strength)
        rotations.append(rotation)
    return torch.from_numpy(np.stack(images)), torch.from_numpy(np.stack(strengths)), torch.tensor(rotations)


def train_features(
    hr_folder: str,
    out_path: str,
    iters: int,
    seed: int = 0,
    batch: int = 32,
    progress: Optional[Callable[[int, dict], None]] = None,
) -> dict:
    """Train the slim VGG for `iters` steps and save the folded feature file; returns the final losses."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    photos = [
        cv2.imread(p)[..., ::-1].astype(np.float32) / 255.0 for p in sorted(glob.glob(osp.join(hr_folder, '*.png')))
    ]
    if not photos:
        raise FileNotFoundError(f'No PNG photos in {hr_folder}; build the demo data first (scripts/demo/make_data.py).')
    model = SlimVGG()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, iters)
    losses = {}
    for step in range(1, iters + 1):
        images, strengths, rotations = sample_batch(photos, batch, rng)
        predicted, logits = model(images)
        l_degradation = F.mse_loss(predicted, strengths)
        l_rotation = F.cross_entropy(logits, rotations)
        optimizer.zero_grad(set_to_none=True)
        (10 * l_degradation + l_rotation).backward()
        optimizer.step()
        scheduler.step()
        losses = {
            'l_degradation': float(l_degradation),
            'l_rotation': float(l_rotation),
            'rotation_acc': float((logits.argmax(1) == rotations).float().mean()),
        }
        if progress is not None:
            progress(step, losses)
    model.eval()
    state = {key: value.half() for key, value in model.folded_state_dict().items()}
    state[BLOCK_CHANNELS_KEY] = list(model.block_channels)
    atomic_torch_save(state, out_path)
    os.chmod(out_path, 0o644)
    return losses


def save_random_features(out_path: str, seed: int = 0, block_channels: tuple[int, ...] = BLOCK_CHANNELS) -> None:
    """The same slim layout with random Kaiming fan-in weights (zero bias): the baseline the trained file must beat.

    An untrained network's batch norms are identities (up to their eps), so folding them changes nothing.
    """
    torch.manual_seed(seed)
    slim = SlimVGG(block_channels).eval()
    for module in slim.features:
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode='fan_in', nonlinearity='relu')
            nn.init.zeros_(module.bias)
    state = slim.folded_state_dict()
    state[BLOCK_CHANNELS_KEY] = list(block_channels)
    atomic_torch_save(state, out_path)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--hr', default='datasets/demo/hr/train')
    parser.add_argument('--out', default='scripts/demo/pretrained/demo_vgg19_slim.pth')
    parser.add_argument('--iters', type=int, default=3000)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--random', action='store_true', help='write random Kaiming fan-in weights instead')
    args = parser.parse_args(argv)
    if args.random:
        save_random_features(args.out, args.seed)
        return
    start = time.time()

    def report(step: int, losses: dict) -> None:
        if step % 100 == 0:
            print(step, {k: round(v, 4) for k, v in losses.items()}, f'{time.time() - start:.0f}s', flush=True)

    train_features(args.hr, args.out, args.iters, args.seed, progress=report)


if __name__ == '__main__':
    main()
