"""Specifications of the demo's held-out set: fixed before any tuning, deterministic, and sharing no photo or pixel
region with any training folder."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from scripts.demo.make_data import PHOTO_SETS, cut_boxes, held_out_boxes, load_photo, make_demo_data

REPO = Path(__file__).resolve().parents[2]
DOMAINS = [str(REPO / 'options/demo/degradations' / f'{name}.yml') for name in ('source_bicubic', 'camera')]
# The test set as fixed before the generalist was tuned: crops per photo (35 in all, 11 photos).
TEST_CROPS = {
    'coffee': 4,
    'chelsea': 2,
    'grace_hopper': 4,
    'clock': 2,
    'moon': 4,
    'grass': 4,
    'gravel': 4,
    'hubble_deep_field': 4,
    'retina': 4,
    'page': 1,
    'text': 2,
}


def grey(name: str) -> np.ndarray:
    return cv2.cvtColor(load_photo(name), cv2.COLOR_BGR2GRAY)


def crops_of(name: str) -> dict[str, np.ndarray]:
    img = grey(name)
    img = img[: img.shape[0] // 4 * 4, : img.shape[1] // 4 * 4]
    return cut_boxes(img, held_out_boxes(*img.shape, 4))


def occurs_in(crop: np.ndarray, photo: np.ndarray) -> bool:
    """True when the crop's central 32 x 32 patch appears, pixel for pixel, somewhere in `photo`."""
    h, w = crop.shape
    patch = np.ascontiguousarray(crop[h // 2 - 16 : h // 2 + 16, w // 2 - 16 : w // 2 + 16])
    return bool(cv2.matchTemplate(photo, patch, cv2.TM_SQDIFF).min() < 1.0)


def test_the_test_set_is_the_fixed_list_of_photos_and_crops():
    assert PHOTO_SETS['full']['test'] == tuple(TEST_CROPS)
    assert {name: len(crops_of(name)) for name in TEST_CROPS} == TEST_CROPS


def test_held_out_photos_share_no_name_and_no_pixels_with_the_training_photos():
    splits = PHOTO_SETS['full']
    assert not set(splits['test']) & (set(splits['train']) | set(splits['val']))
    assert not set(splits['val']) & set(splits['train'])
    seen = {name: grey(name) for name in splits['train'] + splits['val']}
    for name in splits['test']:
        clashes = [
            (name, other) for crop in crops_of(name).values() for other, photo in seen.items() if occurs_in(crop, photo)
        ]
        assert not clashes, clashes
    for name in splits['val']:
        assert not any(occurs_in(crop, seen[other]) for crop in crops_of(name).values() for other in splits['train'])
    assert occurs_in(crops_of('cat')['y048_x236'], grey('chelsea'))  # the check finds a duplicate photo


def test_held_out_crops_lie_inside_the_photo_on_the_scale_grid_without_overlap():
    for height, width in ((300, 451), (191, 384), (1408, 1408), (200, 200)):
        boxes = list(held_out_boxes(height, width, 4).values())
        covered = np.zeros((height, width), int)
        for y, x, h, w in boxes:
            assert y % 4 == x % 4 == h % 4 == w % 4 == 0 and y + h <= height and x + w <= width
            covered[y : y + h, x : x + w] += 1
        assert covered.max() == 1 and 1 <= len(boxes) <= 4


@pytest.mark.parametrize('split', ['val', 'test'])
def test_held_out_lr_crops_line_up_with_their_hr_crops(tmp_path, split):
    make_demo_data(str(tmp_path), DOMAINS, seed=0, photo_set='smoke')
    hr = sorted(p.name for p in (tmp_path / 'hr' / split).glob('*.png'))
    assert hr and all(
        sorted(p.name for p in (tmp_path / 'lr' / d / split).glob('*.png')) == hr for d in ('source_bicubic', 'camera')
    )
    for name in hr:
        gt = cv2.imread(str(tmp_path / 'hr' / split / name))
        lr = cv2.imread(str(tmp_path / 'lr' / 'source_bicubic' / split / name))
        assert gt.shape == (lr.shape[0] * 4, lr.shape[1] * 4, 3)
        down = cv2.resize(gt, lr.shape[1::-1], interpolation=cv2.INTER_AREA).astype(float)
        assert np.abs(down - lr).mean() < 3  # the same region, not a shifted one
