"""Crop grids place the same box of every image side by side under column labels."""

import numpy as np
import pytest

from basicsr.utils.crop_grid import GAP, LABEL_HEIGHT, crop, crop_box, grid_size, make_grid


def test_crop_box_is_centred_clamped_and_snapped_to_lr_pixels():
    assert crop_box(100, 80, 32) == (34, 24, 32)
    assert crop_box(100, 80, 32, top_left=(90, 70)) == (68, 48, 32)
    assert crop_box(100, 80, 30, top_left=(13, 6), multiple=4) == (12, 4, 28)
    assert crop_box(10, 20, 64) == (0, 5, 10)


def test_lr_crop_covers_the_same_region_enlarged():
    lr = np.arange(64, dtype=np.uint8).reshape(8, 8)
    cell = crop(lr, (8, 4, 8), scale=4)
    assert cell.shape == (8, 8)
    np.testing.assert_array_equal(cell[::4, ::4], lr[2:4, 1:3])


def test_grid_holds_each_cell_at_its_place():
    cells = [[np.full((10, 10, 3), 10 * (r * 3 + c), np.uint8) for c in range(3)] for r in range(2)]
    grid = make_grid(cells, ['LR', 'pdd', 'GT'])
    assert grid.shape == (*grid_size(2, 3, 10), 3) == (LABEL_HEIGHT + 2 * 10 + 3 * GAP, 3 * 10 + 4 * GAP, 3)
    top, left = LABEL_HEIGHT + GAP + 10 + GAP, GAP + 2 * (10 + GAP)
    assert (grid[top : top + 10, left : left + 10] == 50).all()
    assert (grid[:LABEL_HEIGHT] < 255).any()  # labels are drawn


def test_rows_with_a_missing_cell_are_rejected():
    with pytest.raises(ValueError, match='one cell per label'):
        make_grid([[np.zeros((4, 4, 3), np.uint8)]], ['LR', 'GT'])
