"""Side-by-side crop grids (LR | method 1 | ... | GT) for visual comparison of SR results.

Every cell shows the same HR-pixel box; the LR cell shows the matching LR box enlarged with nearest-neighbour so
its pixels stay visible. Columns are labelled in a header band; rows are images.
"""

from collections.abc import Sequence
from typing import Optional

import cv2
import numpy as np

GAP = 4  # pixels of background between cells and around the grid
LABEL_HEIGHT = 22  # height of the header band holding the column labels
BACKGROUND = 255


def crop_box(
    height: int, width: int, size: int, top_left: Optional[tuple[int, int]] = None, multiple: int = 1
) -> tuple[int, int, int]:
    """(top, left, size) of a square box inside an image: centred by default, moved inside the image if needed;
    corners and size snapped to `multiple` so the box maps onto whole LR pixels."""
    size = min(size, height, width) // multiple * multiple
    if size <= 0:
        raise ValueError(f'Crop size must be at least {multiple} px inside a {width}x{height} image.')
    top, left = top_left if top_left is not None else ((height - size) // 2, (width - size) // 2)
    top = min(max(top, 0), height - size) // multiple * multiple
    left = min(max(left, 0), width - size) // multiple * multiple
    return top, left, size


def crop(img: np.ndarray, box: tuple[int, int, int], scale: int = 1) -> np.ndarray:
    """The HR `box` of `img`, or for `scale` > 1 the LR box it covers, enlarged `scale` times (nearest)."""
    top, left, size = box
    if scale == 1:
        return img[top : top + size, left : left + size].copy()
    small = img[top // scale : (top + size) // scale, left // scale : (left + size) // scale]
    return cv2.resize(small, (size, size), interpolation=cv2.INTER_NEAREST)


def zoom(img: np.ndarray, factor: int) -> np.ndarray:
    """Enlarge a cell by an integer factor with nearest-neighbour (1 leaves it unchanged)."""
    if factor == 1:
        return img
    return cv2.resize(img, (img.shape[1] * factor, img.shape[0] * factor), interpolation=cv2.INTER_NEAREST)


def put_label(canvas: np.ndarray, text: str, left: int, top: int, width: int, height: int) -> None:
    """Write `text` in black, scaled down to fit a `width` x `height` box of the canvas."""
    font, thickness = cv2.FONT_HERSHEY_SIMPLEX, 1
    scale = 0.5
    (text_w, text_h), _ = cv2.getTextSize(text, font, scale, thickness)
    if text_w > width - 4:
        scale *= (width - 4) / text_w
        (text_w, text_h), _ = cv2.getTextSize(text, font, scale, thickness)
    origin = (left + max((width - text_w) // 2, 0), top + (height + text_h) // 2)
    cv2.putText(canvas, text, origin, font, scale, (0, 0, 0), thickness, cv2.LINE_AA)


def grid_size(num_rows: int, num_cols: int, cell: int) -> tuple[int, int]:
    """(height, width) of a grid of square cells with a label band."""
    return (LABEL_HEIGHT + num_rows * cell + (num_rows + 1) * GAP, num_cols * cell + (num_cols + 1) * GAP)


def make_grid(rows: Sequence[Sequence[np.ndarray]], labels: Sequence[str]) -> np.ndarray:
    """Lay out rows of equal square BGR cells under one header of column `labels`."""
    if not rows or any(len(row) != len(labels) for row in rows):
        raise ValueError(
            f'Each grid row needs one cell per label ({len(labels)}); got rows of {[len(row) for row in rows]} cells.'
        )
    cell = rows[0][0].shape[0]
    canvas = np.full((*grid_size(len(rows), len(labels), cell), 3), BACKGROUND, dtype=np.uint8)
    for col, label in enumerate(labels):
        put_label(canvas, label, GAP + col * (cell + GAP), 0, cell, LABEL_HEIGHT)
    for r, row in enumerate(rows):
        top = LABEL_HEIGHT + GAP + r * (cell + GAP)
        for col, img in enumerate(row):
            if img.shape[:2] != (cell, cell):
                raise ValueError(f'Grid cell ({r}, {col}) is {img.shape[1]}x{img.shape[0]}, expected {cell}x{cell}.')
            left = GAP + col * (cell + GAP)
            canvas[top : top + cell, left : left + cell] = img if img.ndim == 3 else img[..., None]
    return canvas
