import random

import numpy as np
import pytest
import torch

from basicsr.data.transforms import augment, img_rotate, mod_crop, paired_random_crop, random_crop
from basicsr.utils.img_util import img2tensor


def _aligned_pair(h_lq, w_lq, scale, channels=3, seed=0):
    """An LQ image and a GT where each LQ pixel is a scale x scale block, so aligned crops satisfy gt == repeat(lq)."""
    lq = np.random.default_rng(seed).random((h_lq, w_lq, channels)).astype(np.float32)
    return lq.repeat(scale, axis=0).repeat(scale, axis=1), lq


def _upsample(lq, scale):
    return lq.repeat(scale, axis=0).repeat(scale, axis=1)


def test_mod_crop_trims_to_multiples_of_scale():
    img = np.zeros((10, 13, 3))
    assert mod_crop(img, 4).shape == (8, 12, 3)
    assert mod_crop(np.zeros((9, 9)), 3).shape == (9, 9)
    with pytest.raises(ValueError, match='dimensions'):
        mod_crop(np.zeros((1, 2, 3, 4)), 2)


@pytest.mark.parametrize('scale', [1, 2, 4])
def test_paired_random_crop_takes_gt_patch_at_scaled_lq_position(scale):
    gt, lq = _aligned_pair(12, 10, scale)
    positions = set()
    for seed in range(20):
        random.seed(seed)
        gt_patch, lq_patch = paired_random_crop(gt, lq, 4 * scale, scale)
        assert gt_patch.shape == (4 * scale, 4 * scale, 3) and lq_patch.shape == (4, 4, 3)
        assert np.array_equal(gt_patch, _upsample(lq_patch, scale))
        positions.add(lq_patch[0, 0, 0])
    assert len(positions) > 1, 'crops should land at different places for different seeds'


def test_paired_random_crop_is_reproducible_under_a_seed():
    gt, lq = _aligned_pair(20, 20, 2)
    random.seed(7)
    first = paired_random_crop(gt, lq, 8, 2)
    random.seed(7)
    second = paired_random_crop(gt, lq, 8, 2)
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])


def test_paired_random_crop_crops_lists_at_one_position():
    gt, lq = _aligned_pair(9, 9, 2)
    random.seed(1)
    gts, lqs = paired_random_crop([gt, gt * 2], [lq, lq * 2], 6, 2)
    assert np.array_equal(gts[1], gts[0] * 2) and np.array_equal(lqs[1], lqs[0] * 2)


@pytest.mark.parametrize('batched', [True, False])
def test_paired_random_crop_supports_tensors(batched):
    gt, lq = _aligned_pair(10, 8, 3)
    gt_t, lq_t = img2tensor(gt, bgr2rgb=False), img2tensor(lq, bgr2rgb=False)
    if batched:
        gt_t, lq_t = gt_t[None], lq_t[None]
    random.seed(3)
    gt_patch, lq_patch = paired_random_crop(gt_t, lq_t, 6, 3)
    assert gt_patch.shape[-2:] == (6, 6) and lq_patch.shape[-2:] == (2, 2)
    assert torch.equal(gt_patch, lq_patch.repeat_interleave(3, dim=-2).repeat_interleave(3, dim=-1))


def test_paired_random_crop_rejects_scale_mismatch_naming_the_gt_path():
    with pytest.raises(ValueError, match=r'Scale mismatch.*gt/0001\.png'):
        paired_random_crop(np.zeros((16, 16, 3)), np.zeros((5, 4, 3)), 8, 4, 'gt/0001.png')


def test_paired_random_crop_rejects_lq_smaller_than_patch_naming_the_gt_path():
    gt, lq = _aligned_pair(3, 3, 4)
    with pytest.raises(ValueError, match=r'smaller than the patch.*gt/0002\.png'):
        paired_random_crop(gt, lq, 16, 4, 'gt/0002.png')


def test_random_crop_crops_one_square_from_each_image_at_the_same_place():
    img = np.arange(7 * 9 * 2, dtype=np.float32).reshape(7, 9, 2)
    random.seed(0)
    patch_a, patch_b = random_crop([img, img + 1000], 4)
    assert patch_a.shape == (4, 4, 2)
    assert np.array_equal(patch_b, patch_a + 1000)
    top, left = np.argwhere(img[..., 0] == patch_a[0, 0, 0])[0]
    assert np.array_equal(patch_a, img[top : top + 4, left : left + 4])


def test_random_crop_supports_tensors():
    tensor = torch.rand(1, 3, 10, 12)
    assert random_crop(tensor, 5).shape == (1, 3, 5, 5)


def test_random_crop_error_names_the_file_and_both_sizes():
    with pytest.raises(ValueError, match=r'lr/small\.png.*\(30, 40\).*\(48, 48\)'):
        random_crop(np.zeros((30, 40, 3)), 48, 'lr/small.png')


def _reference_augment(img, hflip, vflip, rot90):
    if hflip:
        img = img[:, ::-1]
    if vflip:
        img = img[::-1]
    if rot90:
        img = img.transpose(1, 0, 2)
    return img


def test_augment_applies_the_same_transform_to_every_image():
    base = np.random.default_rng(0).random((5, 7, 3)).astype(np.float32)
    seen = set()
    for seed in range(40):
        random.seed(seed)
        (a, b), status = augment([base.copy(), base * 2], return_status=True)
        assert np.array_equal(a, _reference_augment(base, *status))
        assert np.array_equal(b, a * 2)
        seen.add(status)
    assert len(seen) == 8, 'flip and transpose combinations should cover all 8 dihedral variants'


def test_augment_output_is_contiguous_for_tensor_conversion():
    random.seed(1)
    out = augment(np.random.default_rng(1).random((4, 6, 3)).astype(np.float32))
    assert out.flags['C_CONTIGUOUS']
    img2tensor(out)


def test_augment_without_flip_or_rotation_is_identity_and_draws_nothing():
    img = np.random.default_rng(2).random((3, 4, 3))
    random.seed(5)
    out = augment(img, hflip=False, rotation=False)
    next_draw = random.random()
    random.seed(5)
    assert np.array_equal(out, img) and next_draw == random.random()


def test_augment_flips_flow_vectors_with_the_image():
    flow = np.random.default_rng(3).random((4, 5, 2)).astype(np.float32)
    for seed in range(16):
        random.seed(seed)
        status = augment(np.zeros((4, 5, 3)), return_status=True)[1]
        random.seed(seed)
        _, out_flow = augment(np.zeros((4, 5, 3)), flows=flow.copy())
        expected = _reference_augment(flow, *status).copy()
        if status[0]:
            expected[..., 0] *= -1
        if status[1]:
            expected[..., 1] *= -1
        if status[2]:
            expected = expected[..., ::-1]
        assert np.array_equal(out_flow, expected)


def test_img_rotate_by_90_degrees_matches_numpy_rot90_on_odd_square():
    img = np.random.default_rng(4).random((5, 5)).astype(np.float32)
    assert np.allclose(img_rotate(img, 90), np.rot90(img), atol=1e-6)
    assert np.allclose(img_rotate(img, 0), img)
