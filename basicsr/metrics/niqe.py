"""NIQE, the no-reference Natural Image Quality Evaluator (Mittal et al., 2013), as BasicSR 1.4 computes it.

BasicSR reports that this reproduces the authors' MATLAB release (baboon.png: 5.7296 in both). The pristine model
(`niqe_pris_params.npz`) is the authors' one, shipped with this package (see NOTICE.md).
"""

import functools
import os

import cv2
import numpy as np
from scipy.ndimage import convolve
from scipy.special import gamma

from basicsr.metrics.metric_util import better_is, reorder_image, to_y_channel
from basicsr.utils.matlab_functions import imresize
from basicsr.utils.registry import METRIC_REGISTRY

PRISTINE_PARAMS_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'niqe_pris_params.npz')
BLOCK_SIZE = 96  # the authors' recommended patch size, no overlap
_NEIGHBOUR_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))  # horizontal, vertical, two diagonals (paper Sec. III-B)


@functools.lru_cache(maxsize=1)
def _aggd_shape_table() -> tuple[np.ndarray, np.ndarray]:
    """Candidate shape parameters 0.2..10 (step 0.001) and their ratio Gamma(2/a)^2 / (Gamma(1/a) Gamma(3/a))."""
    shapes = np.arange(0.2, 10.001, 0.001)
    reciprocal = np.reciprocal(shapes)
    ratios = np.square(gamma(reciprocal * 2)) / (gamma(reciprocal) * gamma(reciprocal * 3))
    return shapes, ratios


@functools.lru_cache(maxsize=1)
def load_pristine_params() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mu_pris_param (1, 36), cov_pris_param (36, 36), gaussian_window (7, 7)) of the pristine-image model."""
    if not os.path.isfile(PRISTINE_PARAMS_PATH):
        raise FileNotFoundError(
            f'NIQE pristine parameters not found at {PRISTINE_PARAMS_PATH}; '
            'reinstall the package (the file ships inside basicsr/metrics).'
        )
    params = np.load(PRISTINE_PARAMS_PATH)
    return params['mu_pris_param'], params['cov_pris_param'], params['gaussian_window']


def estimate_aggd_param(block: np.ndarray) -> tuple[float, float, float]:
    """Fit an asymmetric generalised Gaussian by moment matching (paper Eq. 7): (shape alpha, left and right scales)."""
    block = block.flatten()
    shapes, ratios = _aggd_shape_table()
    left_std = np.sqrt(np.mean(block[block < 0] ** 2))
    right_std = np.sqrt(np.mean(block[block > 0] ** 2))
    gamma_hat = left_std / right_std
    r_hat = (np.mean(np.abs(block))) ** 2 / np.mean(block**2)
    r_hat_norm = (r_hat * (gamma_hat**3 + 1) * (gamma_hat + 1)) / ((gamma_hat**2 + 1) ** 2)
    alpha = shapes[np.argmin((ratios - r_hat_norm) ** 2)]
    scale = np.sqrt(gamma(1 / alpha) / gamma(3 / alpha))
    return alpha, left_std * scale, right_std * scale


def compute_feature(block: np.ndarray) -> list[float]:
    """The 18 features of one normalised block: AGGD fit of the coefficients and of 4 neighbour products (Eq. 8)."""
    alpha, beta_left, beta_right = estimate_aggd_param(block)
    features = [alpha, (beta_left + beta_right) / 2]
    for shift in _NEIGHBOUR_SHIFTS:
        alpha, beta_left, beta_right = estimate_aggd_param(block * np.roll(block, shift, axis=(0, 1)))
        mean = (beta_right - beta_left) * (gamma(2 / alpha) / gamma(1 / alpha))
        features.extend([alpha, mean, beta_left, beta_right])
    return features


def _block_features(
    img: np.ndarray, gaussian_window: np.ndarray, num_blocks: tuple[int, int], block_size: tuple[int, int], scale: int
) -> np.ndarray:
    """Features of every block of one scale (1 or 2) after mean/contrast normalisation (MSCN, paper Eq. 1)."""
    mu = convolve(img, gaussian_window, mode='nearest')
    sigma = np.sqrt(np.abs(convolve(np.square(img), gaussian_window, mode='nearest') - np.square(mu)))
    normalised = (img - mu) / (sigma + 1)
    block_h, block_w = block_size
    features = []
    for idx_w in range(num_blocks[1]):
        for idx_h in range(num_blocks[0]):
            block = normalised[
                idx_h * block_h // scale : (idx_h + 1) * block_h // scale,
                idx_w * block_w // scale : (idx_w + 1) * block_w // scale,
            ]
            features.append(compute_feature(block))
    return np.array(features)


def niqe_fits(height: int, width: int, crop_border: int = 0) -> bool:
    """True when an image of this size holds the two whole BLOCK_SIZE blocks NIQE needs after `crop_border`."""
    blocks = max(height - 2 * crop_border, 0) // BLOCK_SIZE * (max(width - 2 * crop_border, 0) // BLOCK_SIZE)
    return blocks >= 2


def niqe(
    img: np.ndarray,
    mu_pris_param: np.ndarray,
    cov_pris_param: np.ndarray,
    gaussian_window: np.ndarray,
    block_size_h: int = BLOCK_SIZE,
    block_size_w: int = BLOCK_SIZE,
) -> float:
    """NIQE of a grey/Y image (h, w) in [0, 255]: distance of its patch-feature Gaussian to the pristine one (Eq. 10).

    Features come from two scales, the second a MATLAB-style bicubic half-size copy; at least two whole blocks are
    needed to fit a covariance.
    """
    if img.ndim != 2:
        raise ValueError(f'NIQE needs a grey or Y image of shape (h, w), got shape {img.shape}.')
    num_blocks = (img.shape[0] // block_size_h, img.shape[1] // block_size_w)
    if num_blocks[0] * num_blocks[1] < 2:
        raise ValueError(
            f'NIQE needs at least two {block_size_h}x{block_size_w} blocks; the image (after '
            f'crop_border) is {img.shape[0]}x{img.shape[1]}.'
        )
    img = img[: num_blocks[0] * block_size_h, : num_blocks[1] * block_size_w]
    block_size = (block_size_h, block_size_w)
    full_scale = _block_features(img, gaussian_window, num_blocks, block_size, scale=1)
    half = imresize(img[..., None] / 255.0, scale=0.5, antialiasing=True)[..., 0] * 255.0
    half_scale = _block_features(half, gaussian_window, num_blocks, block_size, scale=2)
    features = np.concatenate([full_scale, half_scale], axis=1)

    mu_features = np.nanmean(features, axis=0)
    cov_features = np.cov(features[~np.isnan(features).any(axis=1)], rowvar=False)
    inv_cov = np.linalg.pinv((cov_pris_param + cov_features) / 2)
    difference = mu_pris_param - mu_features
    return float(np.squeeze(np.sqrt(np.matmul(np.matmul(difference, inv_cov), np.transpose(difference)))))


@METRIC_REGISTRY.register()
@better_is('lower')
def calculate_niqe(
    img: np.ndarray, crop_border: int, input_order: str = 'HWC', convert_to: str = 'y', **kwargs
) -> float:
    """NIQE of an image in [0, 255] ('HW', or BGR 'HWC'/'CHW' reduced to MATLAB Y or to grey); lower is better."""
    if convert_to not in ('y', 'gray'):
        raise ValueError(f"NIQE convert_to must be 'y' or 'gray', got '{convert_to}'.")
    img = img.astype(np.float32)
    if input_order != 'HW':
        img = reorder_image(img, input_order=input_order)
        if convert_to == 'y':
            img = to_y_channel(img)
        elif img.shape[2] == 3:
            img = cv2.cvtColor(img / 255.0, cv2.COLOR_BGR2GRAY) * 255.0
        img = np.squeeze(img)
    if crop_border != 0:
        img = img[crop_border:-crop_border, crop_border:-crop_border]
    # MATLAB works on the rounded 8-bit values; rounding is needed to reproduce its result
    return niqe(img.round(), *load_pristine_params())
