"""Demo data from the photographs bundled with scikit-image (and matplotlib): HR images and the LR images of each
domain.

Layout under `root` (default datasets/demo):
  hr/train/*.png           source HR: 128 px tiles of the left 5/8 of each training photo (the paired data)
  hr/val/*.png, hr/test/*.png    crops of the held-out photos (GT for validation and for the final evaluation only)
  lr/<domain>/train/*.png  unpaired target LR: the right 3/8 of each training photo, degraded (its GT is not kept)
  lr/<domain>/val/*.png, lr/<domain>/test/*.png   the same crops of the held-out photos degraded whole by <domain>
Everything is a pure function of the photos, the domain files and `seed` (the noise realisations). Each folder
records a fingerprint of its inputs and is rebuilt only when they change.
"""

import argparse
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Iterator
from os import path as osp
from typing import Any, Callable, Optional

import cv2
import numpy as np

REPO_ROOT = osp.abspath(osp.join(osp.dirname(__file__), osp.pardir, osp.pardir))
if __package__ in (None, ''):  # run as a script (`python scripts/demo/make_data.py`): make the repository importable
    sys.path.insert(0, REPO_ROOT)

from basicsr.utils.arg_parser import ArgumentParser  # noqa: E402
from scripts.demo.degradation import degrade, load_domain  # noqa: E402

DOMAINS_DIR = osp.join(REPO_ROOT, 'options', 'demo', 'degradations')
DEFAULT_DOMAINS = ('source_bicubic', 'camera', 'phone')

PHOTO_SETS = {  # split -> photos; 'smoke' is a seconds-sized set for tests, its photos cut to SMOKE_SIZE
    'full': {
        'train': ('astronaut', 'rocket', 'stereo_motorcycle', 'immunohistochemistry', 'camera', 'brick'),
        'val': ('stereo_motorcycle_right', 'coins'),
        # every other bundled photo (colour and grey; skimage's `cat` is `chelsea` again), fixed before tuning
        'test': (
            'coffee',
            'chelsea',
            'grace_hopper',
            'clock',
            'moon',
            'grass',
            'gravel',
            'hubble_deep_field',
            'retina',
            'page',
            'text',
        ),
    },
    'smoke': {'train': ('astronaut',), 'val': ('chelsea',), 'test': ('coffee',)},
}
SMOKE_SIZE = 256
SOURCE_FRACTION = 5 / 8  # of each training photo's width; the rest becomes unpaired target LR
TILE, TILE_STRIDE = 128, 64  # source HR tiles: small files decode fast, random crops still cover every pixel
# held-out crops: up to 2 x 2 per photo, 200 px (NIQE still gets 2 x 2 blocks of 96 px after a 4 px border)
CROP, CROPS_PER_AXIS = 200, 2
MATPLOTLIB_PHOTOS = {'grace_hopper': 'grace_hopper.jpg'}  # photos in matplotlib's sample data
FORMAT_VERSION = 3


def load_photo(name: str) -> np.ndarray:
    """A BGR uint8 photo from skimage.data or matplotlib's sample data (gray photos are repeated to 3 channels;
    `_right` is a stereo view)."""
    if name in MATPLOTLIB_PHOTOS:
        from matplotlib import cbook

        return cv2.imread(str(cbook.get_sample_data(MATPLOTLIB_PHOTOS[name], asfileobj=False)), cv2.IMREAD_COLOR)
    import skimage.data

    img = getattr(skimage.data, name.removesuffix('_right'))()
    if isinstance(img, tuple):
        img = img[1] if name.endswith('_right') else img[0]
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return np.ascontiguousarray(img[..., ::-1])


def crop_to_multiple(img: np.ndarray, multiple: int) -> np.ndarray:
    h, w = img.shape[:2]
    return img[: h - h % multiple, : w - w % multiple]


def tiles(img: np.ndarray) -> dict[str, np.ndarray]:
    """Overlapping TILE x TILE tiles named by their position."""
    h, w = img.shape[:2]
    return {
        f'y{y:03d}_x{x:03d}': img[y : y + TILE, x : x + TILE]
        for y in range(0, h - TILE + 1, TILE_STRIDE)
        for x in range(0, w - TILE + 1, TILE_STRIDE)
    }


def held_out_boxes(height: int, width: int, scale: int) -> dict[str, tuple[int, int, int, int]]:
    """Crops (y, x, h, w) of a held-out photo, named by position: up to CROPS_PER_AXIS per axis, each CROP px (or
    the whole side when shorter) and centred in its equal share of the side, at multiples of `scale`."""

    def spans(side: int) -> tuple[list[int], int]:
        size = min(CROP, side - side % scale)
        count = max(1, min(CROPS_PER_AXIS, side // size))
        return [((2 * i + 1) * side // (2 * count) - size // 2) // scale * scale for i in range(count)], size

    (ys, h), (xs, w) = spans(height), spans(width)
    return {f'y{y:03d}_x{x:03d}': (y, x, h, w) for y in ys for x in xs}


def cut_boxes(img: np.ndarray, boxes: dict[str, tuple[int, int, int, int]], factor: int = 1) -> dict[str, np.ndarray]:
    """`boxes` (in HR pixels) cut from `img`, whose pixels are `factor` HR pixels wide: the LR crops of a held-out
    photo degraded whole line up with its HR crops."""
    return {
        position: img[y // factor : (y + h) // factor, x // factor : (x + w) // factor]
        for position, (y, x, h, w) in boxes.items()
    }


def split_train_photo(img: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """(source HR part, target part): the left `SOURCE_FRACTION` of the width and the rest, cut at a multiple of 4x."""
    cut = int(img.shape[1] * SOURCE_FRACTION) // (4 * scale) * (4 * scale)
    return crop_to_multiple(img[:, :cut], scale), crop_to_multiple(img[:, cut:], scale)


def fingerprint(photo_set: str, seed: int, domain_path: Optional[str] = None) -> str:
    """Hash of what a folder depends on (format, photo set, seed, domain file), so a change rebuilds only it."""
    digest = hashlib.sha256(f'v{FORMAT_VERSION}:{photo_set}:{PHOTO_SETS[photo_set]}:{seed}'.encode())
    if domain_path is not None:
        with open(domain_path, 'rb') as f:
            digest.update(f.read())
    return digest.hexdigest()[:16]


def write(path: str, img: np.ndarray) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    if not cv2.imwrite(path, img):
        raise OSError(f'Could not write {path}; check that the folder is writable.')


class PhotoSource:
    """The photos of a set, loaded once, split and cut as the demo uses them."""

    def __init__(self, photo_set: str, scale: int) -> None:
        if photo_set not in PHOTO_SETS:
            raise ValueError(f"Photo set '{photo_set}' is unknown; choose one of {', '.join(PHOTO_SETS)}.")
        self.photo_set, self.scale = photo_set, scale
        self.names = PHOTO_SETS[photo_set]

    def load(self, name: str) -> np.ndarray:
        img = load_photo(name)
        return img[:SMOKE_SIZE, :SMOKE_SIZE] if self.photo_set == 'smoke' else img

    def images(self) -> Iterator[tuple[str, str, np.ndarray, np.ndarray]]:
        """(split, name, HR kept as GT or source tiles, HR to degrade) per photo."""
        for name in self.names['train']:
            source, target = split_train_photo(self.load(name), self.scale)
            yield 'train', name, source, target
        for split in ('val', 'test'):
            for name in self.names[split]:
                hr = crop_to_multiple(self.load(name), self.scale)
                yield split, name, hr, hr


def build_if_changed(folder: str, key: str, fill: Callable[[], dict[str, int]]) -> dict[str, int]:
    """Run `fill` into a fresh `folder` unless its fingerprint file already records `key`; returns image counts."""
    marker = osp.join(folder, 'fingerprint.json')
    if osp.isfile(marker):
        with open(marker) as f:
            record = json.load(f)
        if record.get('fingerprint') == key:
            return record['counts']
    shutil.rmtree(folder, ignore_errors=True)
    counts = fill()
    with open(marker, 'w') as f:
        json.dump({'fingerprint': key, 'counts': counts}, f, indent=1)
    return counts


def make_demo_data(root: str, domain_paths: list[str], seed: int = 0, photo_set: str = 'full') -> dict[str, int]:
    """HR splits under `root`/hr and, per domain, its LR splits under `root`/lr/<name>; folders already built from
    the same inputs are kept, so domains can be added without touching the others. Returns images per folder."""
    domains = [(path, load_domain(path)) for path in domain_paths]
    if len({d['scale'] for _, d in domains}) != 1:
        raise ValueError(f'All domains must share one scale; got {[(d["name"], d["scale"]) for _, d in domains]}.')
    source = PhotoSource(photo_set, domains[0][1]['scale'])

    def fill_hr() -> dict[str, int]:
        counts: dict[str, int] = {}
        for split, name, hr, _ in source.images():
            parts = tiles(hr) if split == 'train' else cut_boxes(hr, held_out_boxes(*hr.shape[:2], source.scale))
            for position, img in parts.items():
                write(osp.join(root, 'hr', split, f'{name}_{position}.png'), img)
                counts[split] = counts.get(split, 0) + 1
        return counts

    def fill_domain(domain: dict[str, Any]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for split, name, hr, to_degrade in source.images():
            lr = degrade(to_degrade, domain, f'{split}/{name}', seed)
            parts = (
                {'': lr}
                if split == 'train'
                else cut_boxes(lr, held_out_boxes(*hr.shape[:2], source.scale), source.scale)
            )
            for position, img in parts.items():
                write(
                    osp.join(
                        root, 'lr', domain['name'], split, f'{name}_{position}.png' if position else f'{name}.png'
                    ),
                    img,
                )
                counts[split] = counts.get(split, 0) + 1
        return counts

    counts = {
        f'hr/{k}': v for k, v in build_if_changed(osp.join(root, 'hr'), fingerprint(photo_set, 0), fill_hr).items()
    }
    for path, domain in domains:
        built = build_if_changed(
            osp.join(root, 'lr', domain['name']),
            fingerprint(photo_set, seed, path),
            lambda domain=domain: fill_domain(domain),
        )
        counts.update({f'lr/{domain["name"]}/{k}': v for k, v in built.items()})
    return counts


def main(argv=None) -> None:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        '--root',
        default='datasets/demo',
        help='output folder, relative to the current directory (default datasets/demo, which options/tiny/*.yml read)',
    )
    parser.add_argument(
        '--domains',
        nargs='+',
        default=[osp.join(DOMAINS_DIR, f'{name}.yml') for name in DEFAULT_DOMAINS],
        help='degradation files (default: source_bicubic, camera and phone from options/demo/degradations)',
    )
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--photos', default='full', choices=list(PHOTO_SETS))
    args = parser.parse_args(argv)
    print(json.dumps(make_demo_data(args.root, args.domains, args.seed, args.photos), indent=1))


if __name__ == '__main__':
    main()
