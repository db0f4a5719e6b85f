"""Fixed degradations of the demo's domains, read from YAML (options/demo/degradations/*.yml).

A domain is an ordered list of steps applied to an HR image (BGR float32 in [0, 1]) to give its LR image. The
parameters are fixed per domain, as a camera's are; only the noise realisation changes from image to image.
Step types: blur (anisotropic Gaussian, in HR pixels), downsample (bicubic = MATLAB imresize, or area), noise
(Poisson shot noise plus Gaussian read noise), colour (per-channel gains and a gamma, a white-balance/tone error)
and jpeg (an OpenCV round trip).
"""

import zlib
from typing import Any

import cv2
import numpy as np

from basicsr.data.degradations import add_jpg_compression, bivariate_Gaussian, generate_poisson_noise
from basicsr.utils.matlab_functions import imresize
from basicsr.utils.options import load_option_file

STEP_KEYS = {
    'blur': {'sigma_x', 'sigma_y', 'angle_deg', 'kernel_size'},
    'downsample': {'method'},
    'noise': {'poisson_scale', 'gaussian_sigma', 'gray'},
    'colour': {'gains_rgb', 'gamma'},
    'jpeg': {'quality'},
}
REQUIRED_KEYS = {'blur': {'sigma_x', 'sigma_y'}, 'jpeg': {'quality'}}
DOWNSAMPLE_METHODS = ('bicubic', 'area')


def load_domain(path: str) -> dict[str, Any]:
    """Read and check a domain file: `name`, `scale` and a `steps` list, each step a known type with known keys."""
    domain = load_option_file(path)
    problems = [f'{key}: required' for key in ('name', 'scale', 'steps') if key not in domain]
    for index, step in enumerate(domain.get('steps') or []):
        kind = step.get('type')
        if kind not in STEP_KEYS:
            problems.append(f'steps[{index}].type: {kind!r} is not one of {", ".join(STEP_KEYS)}')
            continue
        unknown = set(step) - STEP_KEYS[kind] - {'type'}
        if unknown:
            problems.append(
                f'steps[{index}] ({kind}): unknown keys {sorted(unknown)}; known: {sorted(STEP_KEYS[kind])}'
            )
        missing = REQUIRED_KEYS.get(kind, set()) - set(step)
        if missing:
            problems.append(f'steps[{index}] ({kind}): missing keys {sorted(missing)}')
        if kind == 'downsample' and step.get('method', 'bicubic') not in DOWNSAMPLE_METHODS:
            problems.append(f'steps[{index}].method: {step["method"]!r} is not one of {DOWNSAMPLE_METHODS}')
    if sum(step.get('type') == 'downsample' for step in domain.get('steps') or []) != 1:
        problems.append('steps: exactly one downsample step is needed (it applies `scale`)')
    if problems:
        raise ValueError(f'Degradation file {path} has {len(problems)} problem(s):\n  - ' + '\n  - '.join(problems))
    return domain


def blur(img: np.ndarray, sigma_x: float, sigma_y: float, angle_deg: float = 0.0, kernel_size: int = 21) -> np.ndarray:
    """Anisotropic Gaussian blur (the lens/defocus part of a camera's point spread function)."""
    kernel = bivariate_Gaussian(kernel_size, sigma_x, sigma_y, np.deg2rad(angle_deg), isotropic=False)
    return cv2.filter2D(img, -1, kernel.astype(np.float32), borderType=cv2.BORDER_REFLECT_101)


def downsample(img: np.ndarray, scale: int, method: str = 'bicubic') -> np.ndarray:
    """Downscale by `scale`: MATLAB bicubic (antialiased, the source domain's kernel) or pixel-area averaging."""
    if method == 'bicubic':
        return np.clip(imresize(img, 1 / scale), 0, 1).astype(np.float32)
    h, w = img.shape[:2]
    return cv2.resize(img, (w // scale, h // scale), interpolation=cv2.INTER_AREA)


def noise(
    img: np.ndarray, rng_seed: int, poisson_scale: float = 0.0, gaussian_sigma: float = 0.0, gray: bool = False
) -> np.ndarray:
    """Signal-dependent shot noise (times `poisson_scale`) plus read noise of std `gaussian_sigma` on the 0-255
    scale."""
    state = np.random.get_state()
    np.random.seed(rng_seed)
    try:
        out = img + generate_poisson_noise(img, poisson_scale, gray) if poisson_scale > 0 else img.copy()
        shape = img.shape[:2] + ((1,) if gray else (img.shape[2],))
        out = out + np.random.randn(*shape).astype(np.float32) * np.float32(gaussian_sigma / 255.0)
    finally:
        np.random.set_state(state)
    return np.clip(out, 0, 1).astype(np.float32)


def colour(img: np.ndarray, gains_rgb: tuple[float, float, float] = (1.0, 1.0, 1.0), gamma: float = 1.0) -> np.ndarray:
    """A white-balance error (per-channel gains, given in RGB order) and a tone-curve change (gamma)."""
    gains_bgr = np.asarray(gains_rgb[::-1], dtype=np.float32)
    return np.clip(img * gains_bgr, 0, 1) ** np.float32(gamma)


def degrade(hr_bgr: np.ndarray, domain: dict[str, Any], image_key: str, seed: int = 0) -> np.ndarray:
    """The LR uint8 BGR image of `hr_bgr` (uint8) in `domain`; the noise is seeded by (`seed`, `image_key`)."""
    img = hr_bgr.astype(np.float32) / 255.0
    for step in domain['steps']:
        params = {k: v for k, v in step.items() if k != 'type'}
        kind = step['type']
        if kind == 'blur':
            img = blur(img, **params)
        elif kind == 'downsample':
            img = downsample(img, domain['scale'], **params)
        elif kind == 'noise':
            img = noise(img, zlib.crc32(f'{seed}:{image_key}'.encode()), **params)
        elif kind == 'colour':
            img = colour(img, **params)
        else:
            img = add_jpg_compression(img, **params)
    return (np.clip(img, 0, 1) * 255.0).round().astype(np.uint8)
