"""The user's target-domain photos: scanned (EXIF orientation applied, unreadable and too-small files named and
skipped), a few held out for the report, the rest cut into tiles for `datasets.train_t`.

Tiles follow BasicSR's sub-image preparation (scripts/data_preparation/extract_subimages.py): square windows on a
regular grid, so a large photo gives many training crops and loading stays cheap.
"""

import os
import random
from dataclasses import dataclass, field

import cv2
import numpy as np

from basicsr.utils.errors import UserError
from basicsr.utils.misc import list_images


class PhotoError(UserError, ValueError):
    """The photos folder cannot give a training set (empty, unreadable, too small, too few)."""


@dataclass
class PhotoScan:
    """Decoded photos by file name (BGR uint8, upright) and the files left out with the reason."""

    photos: dict[str, np.ndarray] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def read_photo(path: str) -> np.ndarray:
    """An 8-bit BGR photo, rotated as its EXIF orientation says (OpenCV applies it for IMREAD_COLOR)."""
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise PhotoError(f'{path}: not a readable image (corrupt, empty, or a format OpenCV cannot decode)')
    return img


def scan_photos(folder: str, min_side: int) -> PhotoScan:
    """Decode every image of `folder`; photos with a side under `min_side` px are skipped with their size."""
    try:
        files = list_images(folder)
    except FileNotFoundError as err:
        raise PhotoError(
            f'--photos: {err} Give the folder of your low-resolution photos (JPEG, PNG, WebP, TIFF).'
        ) from err
    scan = PhotoScan()
    for path in files:
        name = os.path.basename(path)
        try:
            img = read_photo(path)
        except PhotoError:
            scan.skipped[name] = 'unreadable'
            continue
        if min(img.shape[:2]) < min_side:
            scan.skipped[name] = f'{img.shape[1]}x{img.shape[0]} px, smaller than the {min_side} px training crop'
            continue
        scan.photos[name] = img
    if not scan.photos:
        reasons = '; '.join(f'{name}: {why}' for name, why in list(scan.skipped.items())[:8])
        raise PhotoError(
            f'--photos {folder}: none of its {len(files)} image file(s) can be used ({reasons}). '
            f'Give photos that open in an image viewer and are at least {min_side} px on each side.'
        )
    return scan


def split_holdout(names: list[str], holdout: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """(training names, held-out names): `holdout` photos drawn with a fixed seed, never trained on."""
    if holdout < 1:
        raise PhotoError(f'--holdout {holdout}: hold out at least one photo, the report compares models on it.')
    if len(names) <= holdout:
        raise PhotoError(
            f'{len(names)} usable photo(s) but --holdout {holdout}: add photos (at least '
            f'{holdout + 1}) or hold out fewer.'
        )
    held = sorted(random.Random(seed).sample(sorted(names), holdout))
    return [n for n in sorted(names) if n not in held], held


def tile_positions(length: int, tile: int) -> list[int]:
    """Window offsets along one axis: every `tile` px, plus one flush with the far border."""
    if length <= tile:
        return [0]
    positions = list(range(0, length - tile + 1, tile))
    if positions[-1] + tile < length:
        positions.append(length - tile)
    return positions


def tiles_of(img: np.ndarray, tile: int, max_tiles: int) -> list[np.ndarray]:
    """Square `tile` crops on a grid (the whole photo when smaller), at most `max_tiles`, evenly chosen."""
    crops = [
        img[top : top + tile, left : left + tile]
        for top in tile_positions(img.shape[0], tile)
        for left in tile_positions(img.shape[1], tile)
    ]
    if len(crops) > max_tiles:
        crops = [crops[i] for i in np.linspace(0, len(crops) - 1, max_tiles).round().astype(int)]
    return crops


def center_crop(img: np.ndarray, max_side: int) -> np.ndarray:
    """The central region at most `max_side` px on each side (keeps held-out inference cheap)."""
    top, left = max(0, (img.shape[0] - max_side) // 2), max(0, (img.shape[1] - max_side) // 2)
    return img[top : top + max_side, left : left + max_side]


def write_png(path: str, img: np.ndarray) -> None:
    if not cv2.imwrite(path, img):
        raise OSError(f'Cannot write {path}: check that the --out folder is writable.')


def prepare_folders(
    scan: PhotoScan,
    train_names: list[str],
    holdout_names: list[str],
    target_dir: str,
    holdout_dir: str,
    tile: int,
    max_tiles: int,
    holdout_side: int,
) -> int:
    """Write the training tiles and the held-out photos as PNG; returns the number of tiles."""
    os.makedirs(target_dir, exist_ok=True)
    os.makedirs(holdout_dir, exist_ok=True)
    count = 0
    for name in train_names:
        stem = os.path.splitext(name)[0]
        for index, crop in enumerate(tiles_of(scan.photos[name], tile, max_tiles)):
            write_png(os.path.join(target_dir, f'{stem}_s{index:03d}.png'), crop)
            count += 1
    for name in holdout_names:
        write_png(
            os.path.join(holdout_dir, f'{os.path.splitext(name)[0]}.png'), center_crop(scan.photos[name], holdout_side)
        )
    return count
