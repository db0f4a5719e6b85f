"""HaarPSI, the Haar wavelet-based perceptual similarity index (Reisenhofer et al., "A Haar wavelet-based perceptual
similarity index for image quality assessment", Signal Processing: Image Communication 61, 2018).

A full-reference score in [0, 1] (1 for identical images) built from fixed Haar filters, so it needs no learned
weights: local similarities of the high-frequency Haar coefficients (scales 1 and 2, horizontal and vertical, and
the chrominance for colour images) are averaged through a logistic function, weighted by the low-frequency
(scale 3) coefficients that model where the eye looks. Constants and colour conversion follow the authors' code.
"""

import numpy as np

from basicsr.metrics.metric_util import better_is, crop_border_hwc, reorder_image
from basicsr.utils.registry import METRIC_REGISTRY

SIMILARITY_CONSTANT = 30.0  # C of the local similarity, for images in [0, 255]
LOGISTIC_SLOPE = 4.2  # alpha of the logistic function l_alpha
SCALES = 3  # Haar filter sizes 2, 4, 8: two similarity scales and one weight scale
# RGB -> YIQ rows (Y, I, Q) as in the authors' code
_YIQ = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def _window_sums(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """Sum over every `height` x `width` window lying inside `img` (summed-area table, exact in float64)."""
    table = np.pad(img, ((1, 0), (1, 0))).cumsum(axis=0).cumsum(axis=1)
    return table[height:, width:] - table[:-height, width:] - table[height:, :-width] + table[:-height, :-width]


def _subsample(img: np.ndarray) -> np.ndarray:
    """Mean of each 2 x 2 block, an odd edge padded with zeros (the paper's viewing-distance step)."""
    h, w = img.shape
    padded = np.pad(img, ((0, h % 2), (0, w % 2)))
    return 0.25 * (padded[0::2, 0::2] + padded[1::2, 0::2] + padded[0::2, 1::2] + padded[1::2, 1::2])


def haar_coefficients(img: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Responses to the `size` x `size` Haar filters (1/size on one half, -1/size on the other), across rows and
    across columns, positioned as MATLAB's conv2(img, filter, 'same') with zeros outside the image."""
    h, w = img.shape
    half = size // 2
    padded = np.pad(img, ((half - 1, half), (half - 1, half)))
    rows = _window_sums(padded, half, size)  # top or bottom half of each window
    cols = _window_sums(padded, size, half)  # left or right half
    return (rows[:h] - rows[half : half + h]) / size, (cols[:, :w] - cols[:, half : half + w]) / size


def _similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Local similarity (2ab + C) / (a^2 + b^2 + C) of two non-negative maps."""
    return (2 * a * b + SIMILARITY_CONSTANT) / (a**2 + b**2 + SIMILARITY_CONSTANT)


def _chroma_magnitude(channel: np.ndarray) -> np.ndarray:
    """|mean of each 2 x 2 window| of a chrominance channel, zeros past the bottom and right edges."""
    return np.abs(_window_sums(np.pad(channel, ((0, 1), (0, 1))), 2, 2)) / 4


def haarpsi_from_yiq(ref: np.ndarray, dist: np.ndarray) -> float:
    """HaarPSI of two (h, w, c) float64 images in [0, 255]: c = 1 (luminance) or 3 (Y, I, Q), already subsampled."""
    coeffs = [[haar_coefficients(img[..., 0], 2**scale) for scale in range(1, SCALES + 1)] for img in (ref, dist)]
    similarities, weights = [], []
    for orientation in range(2):
        magnitudes = [[np.abs(per_scale[orientation]) for per_scale in c] for c in coeffs]
        similarities.append(sum(_similarity(magnitudes[0][s], magnitudes[1][s]) for s in range(SCALES - 1)) / 2)
        weights.append(np.maximum(magnitudes[0][-1], magnitudes[1][-1]))
    if ref.shape[2] == 3:
        similarities.append(
            sum(_similarity(_chroma_magnitude(ref[..., c]), _chroma_magnitude(dist[..., c])) for c in (1, 2)) / 2
        )
        weights.append((weights[0] + weights[1]) / 2)
    similarity, weight = np.stack(similarities), np.stack(weights)
    pooled = np.sum(weight / (1 + np.exp(-LOGISTIC_SLOPE * similarity))) / np.sum(weight)
    return float((np.log(pooled / (1 - pooled)) / LOGISTIC_SLOPE) ** 2)


def _to_yiq(img: np.ndarray, luminance_only: bool) -> np.ndarray:
    """(h, w, 3) BGR or (h, w, 1) grey in [0, 255] -> subsampled (h/2, w/2, 3) YIQ, or (h/2, w/2, 1) Y."""
    img = img.astype(np.float64)
    if img.shape[2] == 3:
        img = img[..., ::-1] @ _YIQ.T
        if luminance_only:
            img = img[..., :1]
    return np.stack([_subsample(img[..., c]) for c in range(img.shape[2])], axis=-1)


@METRIC_REGISTRY.register()
@better_is('higher')
def calculate_haarpsi(
    img: np.ndarray,
    img2: np.ndarray,
    crop_border: int = 0,
    input_order: str = 'HWC',
    test_y_channel: bool = False,
    **kwargs,
) -> float:
    """HaarPSI of an image against its reference `img2`, both BGR (or grey) in [0, 255]; 1 for identical images.

    Colour images use the paper's colour version (luminance and chrominance); `test_y_channel` scores the luminance
    only (the greyscale version). Images must be at least 16 px on each side after cropping (8 px subsampled).
    """
    if img.shape != img2.shape:
        raise ValueError(f'Image shapes are different: {img.shape}, {img2.shape}.')
    dist, ref = (crop_border_hwc(reorder_image(x, input_order=input_order), crop_border) for x in (img, img2))
    if min(ref.shape[:2]) < 2 ** (SCALES + 1):
        raise ValueError(
            f'HaarPSI needs images of at least {2 ** (SCALES + 1)} px per side after cropping '
            f'{crop_border} px, got {ref.shape[:2]}.'
        )
    return haarpsi_from_yiq(_to_yiq(ref, test_y_channel), _to_yiq(dist, test_y_channel))
