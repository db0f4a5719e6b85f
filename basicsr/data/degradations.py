"""Degradation toolkit of Real-ESRGAN (Wang et al., ICCVW 2021): blur kernels, Gaussian / Poisson noise, JPEG.

Formulas and the order of random draws follow BasicSR 1.4, so a seeded run produces the same kernels and noise.
NumPy functions take HWC float32 images in [0, 1] (BGR for the gray-noise conversion) and keep float32;
`_pt` functions take (b, c, h, w) RGB tensors and draw one noise level per sample.
"""

import math
import random
from collections.abc import Sequence
from typing import Optional, Union

import cv2
import numpy as np
import torch
from scipy import special

from basicsr.utils.img_process_util import KernelSizeError

Range = Sequence[float]
Number = Union[float, int]
KERNEL_TYPES = ('iso', 'aniso', 'generalized_iso', 'generalized_aniso', 'plateau_iso', 'plateau_aniso')


class ProbabilityError(ValueError):
    """A list of probabilities that is negative somewhere or does not sum to 1."""


def check_probabilities(probs: Sequence[float], what: str) -> None:
    """Raise ProbabilityError unless `probs` are non-negative and sum to 1 (within 1e-6)."""
    if any(p < 0 for p in probs) or abs(sum(probs) - 1) > 1e-6:
        raise ProbabilityError(
            f'{what}: probabilities {list(probs)} must be non-negative and sum to 1 (they sum to {sum(probs):.6g}).'
        )


def check_kernel_size(kernel_size: int, what: str = 'kernel_size') -> None:
    """Raise KernelSizeError unless `kernel_size` is a positive odd integer (kernels need a centre pixel)."""
    if not isinstance(kernel_size, (int, np.integer)) or kernel_size < 1 or kernel_size % 2 == 0:
        raise KernelSizeError(f'{what} must be a positive odd integer, got {kernel_size!r}.')


def _check_range(rng: Range, what: str) -> None:
    if not rng[0] < rng[1]:
        raise ValueError(f'{what} must be an increasing pair [low, high], got {list(rng)}.')


# ----------------------------------------------------------------- blur kernels


def sigma_matrix2(sig_x: float, sig_y: float, theta: float) -> np.ndarray:
    """Covariance U diag(sig_x^2, sig_y^2) U^T of a Gaussian rotated by `theta` radians."""
    diag = np.array([[sig_x**2, 0], [0, sig_y**2]])
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    return np.dot(rot, np.dot(diag, rot.T))


def mesh_grid(kernel_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integer (x, y) coordinates centred at 0: returns xy (k, k, 2), xx (k, k), yy (k, k)."""
    ax = np.arange(-kernel_size // 2 + 1.0, kernel_size // 2 + 1.0)
    xx, yy = np.meshgrid(ax, ax)
    xy = np.stack((xx, yy), axis=-1)
    return xy, xx, yy


def _quadratic_form(sigma_matrix: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """x^T Sigma^-1 x at every grid point."""
    return np.sum(np.dot(grid, np.linalg.inv(sigma_matrix)) * grid, 2)


def pdf2(sigma_matrix: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Un-normalised bivariate Gaussian exp(-x^T Sigma^-1 x / 2) on `grid`."""
    return np.exp(-0.5 * _quadratic_form(sigma_matrix, grid))


def _shape_covariance(
    kernel_size: int, sig_x: float, sig_y: float, theta: float, grid: Optional[np.ndarray], isotropic: bool
) -> tuple[np.ndarray, np.ndarray]:
    check_kernel_size(kernel_size)
    if grid is None:
        grid, _, _ = mesh_grid(kernel_size)
    sigma = np.array([[sig_x**2, 0], [0, sig_x**2]]) if isotropic else sigma_matrix2(sig_x, sig_y, theta)
    return sigma, grid


def bivariate_Gaussian(
    kernel_size: int,
    sig_x: float,
    sig_y: float,
    theta: float,
    grid: Optional[np.ndarray] = None,
    isotropic: bool = True,
) -> np.ndarray:
    """Normalised Gaussian kernel; isotropic kernels use only `sig_x`."""
    sigma, grid = _shape_covariance(kernel_size, sig_x, sig_y, theta, grid, isotropic)
    kernel = pdf2(sigma, grid)
    return kernel / np.sum(kernel)


def bivariate_generalized_Gaussian(
    kernel_size: int,
    sig_x: float,
    sig_y: float,
    theta: float,
    beta: float,
    grid: Optional[np.ndarray] = None,
    isotropic: bool = True,
) -> np.ndarray:
    """Generalized Gaussian exp(-(x^T Sigma^-1 x)^beta / 2), normalised (Pascal et al. 2013; beta=1 is Gaussian)."""
    sigma, grid = _shape_covariance(kernel_size, sig_x, sig_y, theta, grid, isotropic)
    kernel = np.exp(-0.5 * np.power(_quadratic_form(sigma, grid), beta))
    return kernel / np.sum(kernel)


def bivariate_plateau(
    kernel_size: int,
    sig_x: float,
    sig_y: float,
    theta: float,
    beta: float,
    grid: Optional[np.ndarray] = None,
    isotropic: bool = True,
) -> np.ndarray:
    """Plateau-shaped kernel 1 / (1 + (x^T Sigma^-1 x)^beta), normalised (Real-ESRGAN Sec. 3.2)."""
    sigma, grid = _shape_covariance(kernel_size, sig_x, sig_y, theta, grid, isotropic)
    kernel = np.reciprocal(np.power(_quadratic_form(sigma, grid), beta) + 1)
    return kernel / np.sum(kernel)


def _random_shape(
    sigma_x_range: Range, sigma_y_range: Range, rotation_range: Range, isotropic: bool
) -> tuple[float, float, float]:
    """Draw (sigma_x, sigma_y, rotation) in BasicSR's order; isotropic kernels draw sigma_x only."""
    _check_range(sigma_x_range, 'sigma_x_range')
    sigma_x = np.random.uniform(sigma_x_range[0], sigma_x_range[1])
    if isotropic:
        return sigma_x, sigma_x, 0
    _check_range(sigma_y_range, 'sigma_y_range')
    _check_range(rotation_range, 'rotation_range')
    sigma_y = np.random.uniform(sigma_y_range[0], sigma_y_range[1])
    rotation = np.random.uniform(rotation_range[0], rotation_range[1])
    return sigma_x, sigma_y, rotation


def _random_beta(beta_range: Range) -> float:
    """Shape parameter below or above 1 with equal chance (assumes beta_range[0] < 1 < beta_range[1])."""
    if np.random.uniform() < 0.5:
        return np.random.uniform(beta_range[0], 1)
    return np.random.uniform(1, beta_range[1])


def _multiplicative_noise(kernel: np.ndarray, noise_range: Optional[Range]) -> np.ndarray:
    if noise_range is not None:
        _check_range(noise_range, 'noise_range')
        kernel = kernel * np.random.uniform(noise_range[0], noise_range[1], size=kernel.shape)
    return kernel / np.sum(kernel)


def random_bivariate_Gaussian(
    kernel_size: int,
    sigma_x_range: Range,
    sigma_y_range: Range,
    rotation_range: Range,
    noise_range: Optional[Range] = None,
    isotropic: bool = True,
) -> np.ndarray:
    """Gaussian kernel with random sigmas/rotation, optionally times uniform multiplicative noise."""
    check_kernel_size(kernel_size)
    sig_x, sig_y, theta = _random_shape(sigma_x_range, sigma_y_range, rotation_range, isotropic)
    kernel = bivariate_Gaussian(kernel_size, sig_x, sig_y, theta, isotropic=isotropic)
    return _multiplicative_noise(kernel, noise_range)


def random_bivariate_generalized_Gaussian(
    kernel_size: int,
    sigma_x_range: Range,
    sigma_y_range: Range,
    rotation_range: Range,
    beta_range: Range,
    noise_range: Optional[Range] = None,
    isotropic: bool = True,
) -> np.ndarray:
    """Generalized Gaussian kernel with random sigmas, rotation and beta."""
    check_kernel_size(kernel_size)
    sig_x, sig_y, theta = _random_shape(sigma_x_range, sigma_y_range, rotation_range, isotropic)
    beta = _random_beta(beta_range)
    kernel = bivariate_generalized_Gaussian(kernel_size, sig_x, sig_y, theta, beta, isotropic=isotropic)
    return _multiplicative_noise(kernel, noise_range)


def random_bivariate_plateau(
    kernel_size: int,
    sigma_x_range: Range,
    sigma_y_range: Range,
    rotation_range: Range,
    beta_range: Range,
    noise_range: Optional[Range] = None,
    isotropic: bool = True,
) -> np.ndarray:
    """Plateau kernel with random sigmas, rotation and beta."""
    check_kernel_size(kernel_size)
    sig_x, sig_y, theta = _random_shape(sigma_x_range, sigma_y_range, rotation_range, isotropic)
    beta = _random_beta(beta_range)
    kernel = bivariate_plateau(kernel_size, sig_x, sig_y, theta, beta, isotropic=isotropic)
    return _multiplicative_noise(kernel, noise_range)


def random_mixed_kernels(
    kernel_list: Sequence[str],
    kernel_prob: Sequence[float],
    kernel_size: int = 21,
    sigma_x_range: Range = (0.6, 5),
    sigma_y_range: Range = (0.6, 5),
    rotation_range: Range = (-math.pi, math.pi),
    betag_range: Range = (0.5, 8),
    betap_range: Range = (0.5, 8),
    noise_range: Optional[Range] = None,
) -> np.ndarray:
    """Pick a kernel family with `random.choices(kernel_list, kernel_prob)` and draw one kernel of it.

    Families: iso, aniso, generalized_iso, generalized_aniso, plateau_iso, plateau_aniso (plateau kernels never get
    multiplicative noise, as in BasicSR).
    """
    unknown = [k for k in kernel_list if k not in KERNEL_TYPES]
    if unknown:
        raise ValueError(f'kernel_list: unknown kernel type(s) {unknown}; known: {", ".join(KERNEL_TYPES)}.')
    if len(kernel_prob) != len(kernel_list):
        raise ProbabilityError(f'kernel_prob has {len(kernel_prob)} entries for {len(kernel_list)} kernel types.')
    check_probabilities(kernel_prob, 'kernel_prob')
    check_kernel_size(kernel_size)
    kernel_type = random.choices(kernel_list, kernel_prob)[0]
    family, _, shape = kernel_type.rpartition('_')
    isotropic = shape == 'iso'
    if family == 'generalized':
        return random_bivariate_generalized_Gaussian(
            kernel_size,
            sigma_x_range,
            sigma_y_range,
            rotation_range,
            betag_range,
            noise_range=noise_range,
            isotropic=isotropic,
        )
    if family == 'plateau':
        return random_bivariate_plateau(
            kernel_size,
            sigma_x_range,
            sigma_y_range,
            rotation_range,
            betap_range,
            noise_range=None,
            isotropic=isotropic,
        )
    return random_bivariate_Gaussian(
        kernel_size, sigma_x_range, sigma_y_range, rotation_range, noise_range=noise_range, isotropic=isotropic
    )


def circular_lowpass_kernel(cutoff: float, kernel_size: int, pad_to: int = 0) -> np.ndarray:
    """2D sinc (circularly symmetric ideal low-pass) kernel: cutoff * J1(cutoff r) / (2 pi r), normalised.

    `cutoff` is in radians (pi is the Nyquist frequency); the centre takes the limit cutoff^2 / (4 pi). A non-zero
    `pad_to` zero-pads the kernel to that (odd) size.
    """
    check_kernel_size(kernel_size)
    centre = (kernel_size - 1) / 2
    ys, xs = np.meshgrid(np.arange(kernel_size), np.arange(kernel_size), indexing='ij')
    radius = np.sqrt((ys - centre) ** 2 + (xs - centre) ** 2)
    safe_radius = np.where(radius == 0, 1, radius)
    kernel = cutoff * special.j1(cutoff * safe_radius) / (2 * np.pi * safe_radius)
    kernel[radius == 0] = cutoff**2 / (4 * np.pi)
    kernel = kernel / np.sum(kernel)
    if pad_to:
        check_kernel_size(pad_to, 'pad_to')
        if pad_to < kernel_size:
            raise KernelSizeError(f'kernel_size {kernel_size} is too large to pad to {pad_to}.')
        pad = (pad_to - kernel_size) // 2
        kernel = np.pad(kernel, ((pad, pad), (pad, pad)))
    return kernel


# ----------------------------------------------------------------- noise helpers


def _finish_np(out: np.ndarray, clip: bool, rounds: bool) -> np.ndarray:
    if rounds:
        out = (out * 255.0).round()
        out = (np.clip(out, 0, 255) if clip else out) / 255.0
    elif clip:
        out = np.clip(out, 0, 1)
    return out.astype(np.float32, copy=False)


def _finish_pt(out: torch.Tensor, clip: bool, rounds: bool) -> torch.Tensor:
    if rounds:
        out = (out * 255.0).round()
        return (torch.clamp(out, 0, 255) if clip else out) / 255.0
    return torch.clamp(out, 0, 1) if clip else out


def _per_sample(value: Union[Number, torch.Tensor], batch: int) -> Union[Number, torch.Tensor]:
    return value if isinstance(value, (float, int)) else value.view(batch, 1, 1, 1)


def _draw_per_sample(img: torch.Tensor, value_range: Range, gray_prob: float) -> tuple[torch.Tensor, torch.Tensor]:
    """One level in `value_range` and one gray/colour flag per sample, drawn with torch.rand in that order."""
    b = img.size(0)
    level = torch.rand(b, dtype=img.dtype, device=img.device) * (value_range[1] - value_range[0]) + value_range[0]
    gray = (torch.rand(b, dtype=img.dtype, device=img.device) < gray_prob).float()
    return level, gray


# ----------------------------------------------------------------- Gaussian noise


def generate_gaussian_noise(img: np.ndarray, sigma: float = 10, gray_noise: bool = False) -> np.ndarray:
    """Gaussian noise with std `sigma` on the 0-255 scale; gray noise is shared by the 3 channels."""
    sigma = np.float32(sigma)
    if gray_noise:
        noise = np.float32(np.random.randn(*(img.shape[0:2]))) * sigma / np.float32(255.0)
        return np.expand_dims(noise, axis=2).repeat(3, axis=2)
    return np.float32(np.random.randn(*(img.shape))) * sigma / np.float32(255.0)


def add_gaussian_noise(
    img: np.ndarray, sigma: float = 10, clip: bool = True, rounds: bool = False, gray_noise: bool = False
) -> np.ndarray:
    return _finish_np(img + generate_gaussian_noise(img, sigma, gray_noise), clip, rounds)


def random_generate_gaussian_noise(img: np.ndarray, sigma_range: Range = (0, 10), gray_prob: float = 0) -> np.ndarray:
    sigma = np.random.uniform(sigma_range[0], sigma_range[1])
    gray_noise = np.random.uniform() < gray_prob
    return generate_gaussian_noise(img, sigma, gray_noise)


def random_add_gaussian_noise(
    img: np.ndarray, sigma_range: Range = (0, 1.0), gray_prob: float = 0, clip: bool = True, rounds: bool = False
) -> np.ndarray:
    return _finish_np(img + random_generate_gaussian_noise(img, sigma_range, gray_prob), clip, rounds)


def generate_gaussian_noise_pt(
    img: torch.Tensor, sigma: Union[Number, torch.Tensor] = 10, gray_noise: Union[Number, torch.Tensor] = 0
) -> torch.Tensor:
    """Batched Gaussian noise; `sigma` and the 0/1 `gray_noise` flag may be numbers or (b,) tensors.

    The gray field (one (h, w) draw, scaled per sample) is drawn before the colour noise, as in BasicSR.
    """
    b, c, h, w = img.size()
    sigma = _per_sample(sigma, b)
    gray_noise = _per_sample(gray_noise, b)
    use_gray = gray_noise > 0 if isinstance(gray_noise, (float, int)) else bool(torch.sum(gray_noise) > 0)
    if use_gray:
        noise_gray = torch.randn(h, w, dtype=img.dtype, device=img.device) * sigma / 255.0
        noise_gray = noise_gray.expand(b, 1, h, w)
    noise = torch.randn(*img.size(), dtype=img.dtype, device=img.device) * sigma / 255.0
    if use_gray:
        noise = noise * (1 - gray_noise) + noise_gray * gray_noise
    return noise


def add_gaussian_noise_pt(
    img: torch.Tensor,
    sigma: Union[Number, torch.Tensor] = 10,
    gray_noise: Union[Number, torch.Tensor] = 0,
    clip: bool = True,
    rounds: bool = False,
) -> torch.Tensor:
    return _finish_pt(img + generate_gaussian_noise_pt(img, sigma, gray_noise), clip, rounds)


def random_generate_gaussian_noise_pt(
    img: torch.Tensor, sigma_range: Range = (0, 10), gray_prob: float = 0
) -> torch.Tensor:
    sigma, gray_noise = _draw_per_sample(img, sigma_range, gray_prob)
    return generate_gaussian_noise_pt(img, sigma, gray_noise)


def random_add_gaussian_noise_pt(
    img: torch.Tensor, sigma_range: Range = (0, 1.0), gray_prob: float = 0, clip: bool = True, rounds: bool = False
) -> torch.Tensor:
    return _finish_pt(img + random_generate_gaussian_noise_pt(img, sigma_range, gray_prob), clip, rounds)


# ----------------------------------------------------------------- Poisson (shot) noise


def _levels(num_unique: int) -> float:
    """Photon-count scale: the number of distinct values rounded up to a power of two (as skimage.random_noise)."""
    return 2 ** np.ceil(np.log2(num_unique))


def generate_poisson_noise(img: np.ndarray, scale: float = 1.0, gray_noise: bool = False) -> np.ndarray:
    """Poisson noise of an 8-bit-quantised image, times `scale`; gray noise uses the BGR luma for all channels."""
    if gray_noise:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    img = np.clip((img * 255.0).round(), 0, 255) / 255.0
    vals = _levels(len(np.unique(img)))
    noise = np.float32(np.random.poisson(img * vals) / float(vals)) - img
    if gray_noise:
        noise = np.repeat(noise[:, :, np.newaxis], 3, axis=2)
    return (noise * np.float32(scale)).astype(np.float32, copy=False)


def add_poisson_noise(
    img: np.ndarray, scale: float = 1.0, clip: bool = True, rounds: bool = False, gray_noise: bool = False
) -> np.ndarray:
    return _finish_np(img + generate_poisson_noise(img, scale, gray_noise), clip, rounds)


def random_generate_poisson_noise(img: np.ndarray, scale_range: Range = (0, 1.0), gray_prob: float = 0) -> np.ndarray:
    scale = np.random.uniform(scale_range[0], scale_range[1])
    gray_noise = np.random.uniform() < gray_prob
    return generate_poisson_noise(img, scale, gray_noise)


def random_add_poisson_noise(
    img: np.ndarray, scale_range: Range = (0, 1.0), gray_prob: float = 0, clip: bool = True, rounds: bool = False
) -> np.ndarray:
    return _finish_np(img + random_generate_poisson_noise(img, scale_range, gray_prob), clip, rounds)


def _poisson_pt(img: torch.Tensor) -> torch.Tensor:
    """Poisson noise of each 8-bit-quantised sample, with that sample's own count scale."""
    levels = torch.clamp((img * 255.0).round(), 0, 255)
    img = levels / 255.0
    b = img.size(0)
    # distinct 8-bit levels per sample, counted with one bincount (much faster than torch.unique per sample)
    offsets = 256 * torch.arange(b, device=img.device).view(b, 1)
    histogram = torch.bincount((levels.reshape(b, -1).long() + offsets).view(-1), minlength=256 * b)
    distinct = (histogram.view(b, 256) > 0).sum(dim=1).tolist()
    vals = img.new_tensor([_levels(n) for n in distinct]).view(b, 1, 1, 1)
    return torch.poisson(img * vals) / vals - img


def _rgb_to_gray_pt(img: torch.Tensor) -> torch.Tensor:
    """ITU-R 601 luma with torchvision's coefficients (0.2989, 0.587, 0.114), keeping a channel axis."""
    r, g, b = img.unbind(dim=1)
    return (0.2989 * r + 0.587 * g + 0.114 * b).to(img.dtype).unsqueeze(1)


def generate_poisson_noise_pt(
    img: torch.Tensor, scale: Union[Number, torch.Tensor] = 1.0, gray_noise: Union[Number, torch.Tensor] = 0
) -> torch.Tensor:
    """Batched Poisson noise; gray noise (drawn first) comes from the RGB luma and is shared by the channels."""
    b, c, h, w = img.size()
    gray_noise = _per_sample(gray_noise, b)
    use_gray = gray_noise > 0 if isinstance(gray_noise, (float, int)) else bool(torch.sum(gray_noise) > 0)
    if use_gray:
        noise_gray = _poisson_pt(_rgb_to_gray_pt(img)).expand(b, 3, h, w)
    noise = _poisson_pt(img)
    if use_gray:
        noise = noise * (1 - gray_noise) + noise_gray * gray_noise
    return noise * _per_sample(scale, b)


def add_poisson_noise_pt(
    img: torch.Tensor,
    scale: Union[Number, torch.Tensor] = 1.0,
    clip: bool = True,
    rounds: bool = False,
    gray_noise: Union[Number, torch.Tensor] = 0,
) -> torch.Tensor:
    return _finish_pt(img + generate_poisson_noise_pt(img, scale, gray_noise), clip, rounds)


def random_generate_poisson_noise_pt(
    img: torch.Tensor, scale_range: Range = (0, 1.0), gray_prob: float = 0
) -> torch.Tensor:
    scale, gray_noise = _draw_per_sample(img, scale_range, gray_prob)
    return generate_poisson_noise_pt(img, scale, gray_noise)


def random_add_poisson_noise_pt(
    img: torch.Tensor, scale_range: Range = (0, 1.0), gray_prob: float = 0, clip: bool = True, rounds: bool = False
) -> torch.Tensor:
    return _finish_pt(img + random_generate_poisson_noise_pt(img, scale_range, gray_prob), clip, rounds)


# ----------------------------------------------------------------- JPEG


def add_jpg_compression(img: np.ndarray, quality: float = 90) -> np.ndarray:
    """Encode/decode with OpenCV's JPEG at `quality` (truncated to an int, 0-100); HWC BGR float32 in [0, 1]."""
    if not 0 <= quality <= 100:
        raise ValueError(f'JPEG quality must lie in [0, 100], got {quality}.')
    img_u8 = np.clip((np.clip(img, 0, 1) * 255.0).round(), 0, 255).astype(np.uint8)
    ok, encoded = cv2.imencode('.jpg', img_u8, [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)])
    if not ok:
        raise RuntimeError(f'OpenCV could not JPEG-encode an image of shape {img.shape}.')
    decoded = cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED)
    return np.float32(decoded.reshape(img.shape)) / 255.0


def random_add_jpg_compression(img: np.ndarray, quality_range: Range = (90, 100)) -> np.ndarray:
    """JPEG round trip at a quality drawn uniformly from `quality_range`."""
    quality = np.random.uniform(quality_range[0], quality_range[1])
    return add_jpg_compression(img, quality)
