"""Image layout and colour helpers shared by the metrics, and the higher/lower-is-better declaration."""

from typing import Callable

import numpy as np

from basicsr.utils.color_util import bgr2ycbcr

DIRECTIONS = ('higher', 'lower')


def reorder_image(img: np.ndarray, input_order: str = 'HWC') -> np.ndarray:
    """Return `img` as (h, w, c); a 2-D image gets a channel axis, a 'CHW' image is transposed."""
    if input_order not in ('HWC', 'CHW'):
        raise ValueError(f"Wrong input_order '{input_order}'. Supported input_orders are 'HWC' and 'CHW'.")
    if img.ndim == 2:
        img = img[..., None]
    if input_order == 'CHW':
        img = img.transpose(1, 2, 0)
    return img


def to_y_channel(img: np.ndarray) -> np.ndarray:
    """A (h, w, 3) BGR image in [0, 255] -> its BT.601 Y channel (h, w, 1) in [0, 255], float; other shapes pass."""
    img = img.astype(np.float32) / 255.0
    if img.ndim == 3 and img.shape[2] == 3:
        img = bgr2ycbcr(img, y_only=True)[..., None]
    return img * 255.0


def better_is(direction: str) -> Callable:
    """Declare on a metric function whether a 'higher' or 'lower' value is better (read by `metric_better`)."""
    if direction not in DIRECTIONS:
        raise ValueError(f"A metric's direction must be 'higher' or 'lower', got '{direction}'.")

    def declare(metric: Callable) -> Callable:
        metric.better = direction
        return metric

    return declare


def crop_border_hwc(img: np.ndarray, crop_border: int) -> np.ndarray:
    """Drop `crop_border` pixels from each edge of an (h, w, ...) image; SR papers exclude the scale-wide border."""
    if crop_border == 0:
        return img
    return img[crop_border:-crop_border, crop_border:-crop_border, ...]
