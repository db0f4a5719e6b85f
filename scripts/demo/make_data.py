"""Demo data from the colour photographs bundled with scikit-image: HR tiles and their bicubic LR, per split."""
import argparse
import os
from os import path as osp

import cv2
import numpy as np

PHOTOS = {
    'train': ('astronaut', 'chelsea', 'rocket', 'hubble_deep_field', 'immunohistochemistry', 'stereo_motorcycle'),
    'val': ('cat',),
    'test': ('coffee',),
}


def load_photo(name: str) -> np.ndarray:
    """An RGB uint8 photo from skimage.data (first view for stereo pairs)."""
    import skimage.data
    img = getattr(skimage.data, name)()
    return img[0] if isinstance(img, tuple) else img


def tiles(img: np.ndarray, tile: int, stride: int) -> list[np.ndarray]:
    h, w = img.shape[:2]
    return [img[y:y + tile, x:x + tile] for y in range(0, h - tile + 1, stride) for x in range(0, w - tile + 1, stride)]


def bicubic_lr(hr_bgr: np.ndarray, scale: int) -> np.ndarray:
    """MATLAB-style bicubic downscaling, the specialist's training degradation."""
    from basicsr.utils.matlab_functions import imresize
    lr = imresize(hr_bgr.astype(np.float32) / 255., 1 / scale)
    return (np.clip(lr, 0, 1) * 255.).round().astype(np.uint8)


def make_split(root: str, split: str, tile: int, stride: int, scale: int) -> int:
    hr_dir, lr_dir = osp.join(root, split, 'HR'), osp.join(root, split, f'LR_bicubic_x{scale}')
    os.makedirs(hr_dir, exist_ok=True)
    os.makedirs(lr_dir, exist_ok=True)
    count = 0
    for photo in PHOTOS[split]:
        for i, hr in enumerate(tiles(load_photo(photo)[..., ::-1], tile, stride)):
            name = f'{photo}_{i:03d}.png'
            cv2.imwrite(osp.join(hr_dir, name), hr)
            cv2.imwrite(osp.join(lr_dir, name), bicubic_lr(hr, scale))
            count += 1
    return count


def make_demo_data(root: str = 'datasets/demo', tile: int = 96, stride: int = 64, scale: int = 4) -> dict[str, int]:
    """Write every split unless a completion marker says it is already there; returns tile counts."""
    marker = osp.join(root, f'.done_t{tile}_s{stride}_x{scale}')
    if osp.isfile(marker):
        return {split: len(os.listdir(osp.join(root, split, 'HR'))) for split in PHOTOS}
    counts = {split: make_split(root, split, tile, stride, scale) for split in PHOTOS}
    open(marker, 'w').close()
    return counts


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--root', default='datasets/demo')
    parser.add_argument('--tile', type=int, default=96)
    parser.add_argument('--stride', type=int, default=64)
    parser.add_argument('--scale', type=int, default=4)
    args = parser.parse_args(argv)
    print(make_demo_data(args.root, args.tile, args.stride, args.scale))


if __name__ == '__main__':
    main()
