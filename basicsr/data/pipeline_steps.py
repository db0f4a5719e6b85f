"""Named data-pipeline steps for BlindPairedImageDataset, with the mmagic (mmedit) semantics the PDD configs rely on.

A pipeline is a YAML list of `{type: StepName, ...arguments}`; each step maps a results dict (HWC float32 BGR images
in [0, 1] under names such as 'gt' and 'lq') to a new one. Random draws use NumPy's global generator in the same
order as mmagic, so a seeded run crops, flips and resizes identically. Errors name the step's index and type.
"""

import copy
import functools
import inspect
from collections.abc import Sequence
from fractions import Fraction
from typing import Any, Callable, Optional, Union

import cv2
import numpy as np

from basicsr.data.degradations import check_probabilities
from basicsr.utils.errors import UserError
from basicsr.utils.matlab_functions import imresize
from basicsr.utils.registry import PIPELINE_REGISTRY

RESIZE_MODES = {
    'bilinear': cv2.INTER_LINEAR,
    'bicubic': cv2.INTER_CUBIC,
    'area': cv2.INTER_AREA,
    'lanczos': cv2.INTER_LANCZOS4,
}
Images = Union[np.ndarray, list[np.ndarray]]


class PipelineError(UserError, ValueError):
    """A pipeline step that is unknown, misconfigured, or cannot process the results it is given."""


class ImageTooSmallError(PipelineError):
    """An image smaller than the crop a pipeline step was asked to take."""

    same_on_every_rank = False


def parse_number(value: Any, what: str) -> float:
    """A YAML number, numeric string, or simple fraction string ('1/3' - YAML reads `1/3` as a string) as float."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(Fraction(value.strip()))
        except (ValueError, ZeroDivisionError):
            pass
    raise PipelineError(f'{what}: expected a number or a fraction like 1/3, got {value!r}.')


def _probability(value: Any, what: str) -> float:
    prob = parse_number(value, what)
    if not 0 <= prob <= 1:
        raise PipelineError(f'{what}: a probability must lie in [0, 1], got {prob}.')
    return prob


def _int_pair(value: Any, what: str, minimum: int = 1, names: str = '[height, width]') -> tuple[int, int]:
    """Two integers >= `minimum` from a 2-list (or one int, used twice)."""
    pair = [value, value] if isinstance(value, int) and not isinstance(value, bool) else value
    if (
        not isinstance(pair, (list, tuple))
        or len(pair) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v >= minimum for v in pair)
    ):
        raise PipelineError(f'{what}: expected {names} as two integers >= {minimum}, got {value!r}.')
    return pair[0], pair[1]


def _key_list(value: Any, what: str) -> list[str]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(k, str) for k in value):
        raise PipelineError(f'{what}: expected a list of result names such as [gt], got {value!r}.')
    return list(value)


def _map_images(images: Images, fn: Callable[[np.ndarray], np.ndarray]) -> Images:
    """Apply `fn` to one image or to each image of a list (mmagic steps accept both)."""
    return [fn(img) for img in images] if isinstance(images, list) else fn(images)


def _first_image(images: Images) -> np.ndarray:
    return images[0] if isinstance(images, list) else images


@PIPELINE_REGISTRY.register()
class FixedCrop:
    """Crop the same window (random, or at `crop_pos` = [x, y]) of size `crop_size` = [h, w] from every key."""

    def __init__(self, keys: Sequence[str], crop_size: Sequence[int], crop_pos: Optional[Sequence[int]] = None) -> None:
        self.keys = _key_list(keys, 'keys')
        self.crop_h, self.crop_w = _int_pair(crop_size, 'crop_size')
        self.crop_pos = None if crop_pos is None else _int_pair(crop_pos, 'crop_pos', minimum=0, names='[x, y]')

    def __call__(self, results: dict) -> dict:
        data_h, data_w = _first_image(results[self.keys[0]]).shape[:2]
        if data_h < self.crop_h or data_w < self.crop_w:
            raise ImageTooSmallError(
                f"'{self.keys[0]}' image {results.get('gt_path', '')} is {data_h}x{data_w}, "
                f'smaller than crop_size {self.crop_h}x{self.crop_w}; remove it or crop smaller.'
            )
        if self.crop_pos is None:
            x_offset = np.random.randint(0, data_w - self.crop_w + 1)
            y_offset = np.random.randint(0, data_h - self.crop_h + 1)
        else:
            x_offset, y_offset = self.crop_pos
            if x_offset + self.crop_w > data_w or y_offset + self.crop_h > data_h:
                raise ImageTooSmallError(
                    f'crop_pos {list(self.crop_pos)} with crop_size {self.crop_h}x{self.crop_w} '
                    f'leaves the {data_h}x{data_w} image.'
                )

        def crop(img: np.ndarray) -> np.ndarray:
            if img.shape[:2] != (data_h, data_w):
                raise PipelineError(
                    f'paired images must have the same size: expected {data_h}x{data_w}, '
                    f'got {img.shape[0]}x{img.shape[1]}.'
                )
            return img[y_offset : y_offset + self.crop_h, x_offset : x_offset + self.crop_w, ...]

        for key in self.keys:
            results[key] = _map_images(results[key], crop)
        return results


@PIPELINE_REGISTRY.register()
class Flip:
    """Flip all `keys` together with probability `flip_ratio`, `direction` horizontal or vertical."""

    DIRECTIONS = {'horizontal': 1, 'vertical': 0}  # the numpy axis each direction reverses

    def __init__(self, keys: Sequence[str], flip_ratio: Union[float, str] = 0.5, direction: str = 'horizontal') -> None:
        if direction not in self.DIRECTIONS:
            raise PipelineError(f'direction: {direction!r} is not one of {", ".join(self.DIRECTIONS)}.')
        self.keys = _key_list(keys, 'keys')
        self.flip_ratio = _probability(flip_ratio, 'flip_ratio')
        self.direction = direction

    def __call__(self, results: dict) -> dict:
        if np.random.random() < self.flip_ratio:
            axis = self.DIRECTIONS[self.direction]
            for key in self.keys:
                results[key] = _map_images(results[key], lambda img: np.ascontiguousarray(np.flip(img, axis)))
        return results


@PIPELINE_REGISTRY.register()
class RandomTransposeHW:
    """Swap height and width of all `keys` together with probability `transpose_ratio` (with flips: rotations)."""

    def __init__(self, keys: Sequence[str], transpose_ratio: Union[float, str] = 0.5) -> None:
        self.keys = _key_list(keys, 'keys')
        self.transpose_ratio = _probability(transpose_ratio, 'transpose_ratio')

    def __call__(self, results: dict) -> dict:
        if np.random.random() < self.transpose_ratio:
            for key in self.keys:
                results[key] = _map_images(results[key], lambda img: np.ascontiguousarray(np.swapaxes(img, 0, 1)))
        return results


@PIPELINE_REGISTRY.register()
class CopyValues:
    """results[dst] = deep copy of results[src] for each pair, e.g. gt -> lq before degrading lq."""

    def __init__(self, src_keys: Sequence[str], dst_keys: Sequence[str]) -> None:
        self.src_keys = _key_list(src_keys, 'src_keys')
        self.dst_keys = _key_list(dst_keys, 'dst_keys')
        if len(self.src_keys) != len(self.dst_keys):
            raise PipelineError(f'src_keys {self.src_keys} and dst_keys {self.dst_keys} must have the same length.')

    def __call__(self, results: dict) -> dict:
        for src, dst in zip(self.src_keys, self.dst_keys):
            results[dst] = copy.deepcopy(results[src])
        return results


@PIPELINE_REGISTRY.register()
class RandomResize:
    """Resize `keys` to `params.target_size` = [h, w] with an OpenCV mode drawn from `resize_opt` by `resize_prob`.

    `params.prob` (default 1) applies the step at all; its draw is made even when it is 1, as in mmagic.
    """

    PARAM_KEYS = ('target_size', 'resize_opt', 'resize_prob', 'prob')

    def __init__(self, params: dict, keys: Sequence[str]) -> None:
        self.keys = _key_list(keys, 'keys')
        if not isinstance(params, dict):
            raise PipelineError(
                f'params: expected a mapping with target_size, resize_opt and resize_prob, got {params!r}.'
            )
        unknown = sorted(set(params) - set(self.PARAM_KEYS))
        missing = [k for k in self.PARAM_KEYS[:3] if k not in params]
        if unknown or missing:
            raise PipelineError(
                f'params: unknown {unknown or "none"}, missing {missing or "none"}; '
                f'RandomResize takes params {", ".join(self.PARAM_KEYS)} (prob is optional).'
            )
        self.target_h, self.target_w = _int_pair(params['target_size'], 'params.target_size')
        modes = [str(m).lower() for m in _key_list(params['resize_opt'], 'params.resize_opt')]
        bad = [m for m in modes if m not in RESIZE_MODES]
        if bad:
            raise PipelineError(f'params.resize_opt: unknown resize mode(s) {bad}; known: {", ".join(RESIZE_MODES)}.')
        probs = [parse_number(p, 'params.resize_prob') for p in params['resize_prob']]
        if len(probs) != len(modes):
            raise PipelineError(f'params.resize_prob has {len(probs)} entries for {len(modes)} resize_opt modes.')
        check_probabilities(probs, 'params.resize_prob')
        self.resize_opt, self.resize_prob = modes, probs
        self.prob = _probability(params.get('prob', 1), 'params.prob')

    def _resize(self, img: np.ndarray, mode: str) -> np.ndarray:
        out = cv2.resize(img, (self.target_w, self.target_h), interpolation=RESIZE_MODES[mode])
        return out[:, :, None] if img.ndim == 3 and out.ndim == 2 else out

    def __call__(self, results: dict) -> dict:
        if np.random.uniform() > self.prob:
            return results
        for key in self.keys:
            mode = np.random.choice(self.resize_opt, p=self.resize_prob)
            results[key] = _map_images(results[key], functools.partial(self._resize, mode=mode))
        return results


@PIPELINE_REGISTRY.register()
class MATLABLikeResize:
    """MATLAB bicubic resize (with antialiasing) of `keys` by `scale`, or to `output_shape` = [h, w]."""

    def __init__(
        self,
        keys: Sequence[str],
        scale: Optional[Union[float, str]] = None,
        output_shape: Optional[Sequence[int]] = None,
        kernel: str = 'bicubic',
        kernel_width: float = 4.0,
    ) -> None:
        if str(kernel).lower() != 'bicubic' or parse_number(kernel_width, 'kernel_width') != 4.0:
            raise PipelineError(
                f'only kernel: bicubic with kernel_width: 4 is supported, got {kernel} and {kernel_width}.'
            )
        if (scale is None) == (output_shape is None):
            raise PipelineError('give exactly one of scale and output_shape.')
        self.keys = _key_list(keys, 'keys')
        self.scale = None if scale is None else parse_number(scale, 'scale')
        self.output_shape = None if output_shape is None else _int_pair(output_shape, 'output_shape')
        if self.scale is not None and self.scale <= 0:
            raise PipelineError(f'scale must be positive, got {self.scale}.')

    def __call__(self, results: dict) -> dict:
        for key in self.keys:
            results[key] = _map_images(
                results[key], lambda img: imresize(img, self.scale, output_shape=self.output_shape)
            )
        return results


@PIPELINE_REGISTRY.register()
class Quantize:
    """Round `keys` to 8-bit levels and clip to [0, 1], as saving and re-reading a PNG would."""

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = _key_list(keys, 'keys')

    def __call__(self, results: dict) -> dict:
        for key in self.keys:
            results[key] = _map_images(
                results[key], lambda img: (np.clip((img * 255.0).round(), 0, 255) / 255.0).astype(np.float32)
            )
        return results


@PIPELINE_REGISTRY.register()
class Collect:
    """Keep only `keys`; `meta_keys` are gathered under results['meta']."""

    def __init__(self, keys: Sequence[str], meta_keys: Optional[Sequence[str]] = None) -> None:
        self.keys = _key_list(keys, 'keys')
        self.meta_keys = [] if meta_keys is None else _key_list(meta_keys, 'meta_keys')

    def __call__(self, results: dict) -> dict:
        collected = {key: results[key] for key in self.keys}
        if self.meta_keys:
            collected['meta'] = {key: results[key] for key in self.meta_keys}
        return collected


def _step_arguments(step_cls: type) -> tuple[list[str], list[str]]:
    """(all argument names, required argument names) of a step's constructor."""
    params = list(inspect.signature(step_cls.__init__).parameters.values())[1:]
    return [p.name for p in params], [p.name for p in params if p.default is inspect.Parameter.empty]


def _build_step(index: int, step_opt: Any) -> tuple[str, Any]:
    if not isinstance(step_opt, dict) or 'type' not in step_opt:
        raise PipelineError(f'pipeline[{index}]: expected a mapping with a `type` key, got {step_opt!r}.')
    name = step_opt['type']
    if name not in PIPELINE_REGISTRY:
        raise PipelineError(
            f'pipeline[{index}]: unknown step type {name!r}; known steps: {", ".join(PIPELINE_REGISTRY.plain_names())}.'
        )
    step_cls = PIPELINE_REGISTRY.get(name)
    kwargs = {k: v for k, v in step_opt.items() if k != 'type'}
    accepted, required = _step_arguments(step_cls)
    unknown = sorted(set(kwargs) - set(accepted))
    missing = [k for k in required if k not in kwargs]
    if unknown or missing:
        raise PipelineError(
            f'pipeline[{index}] ({name}): unknown key(s) {unknown or "none"}, missing key(s) '
            f'{missing or "none"}; {name} takes {", ".join(accepted)}.'
        )
    try:
        return name, step_cls(**copy.deepcopy(kwargs))
    except ValueError as err:
        raise _with_context(err, f'pipeline[{index}] ({name})') from err


def _with_context(err: Exception, where: str) -> Exception:
    """The same kind of error with `where` prepended to its message, so callers can still catch the specific type."""
    message = f'{where}: {err}'
    try:
        return type(err)(message)
    except TypeError:
        return PipelineError(message)


class Pipeline:
    """Steps built from a list of `{type: ..., ...}` mappings, applied in order to a results dict."""

    def __init__(self, step_opts: Sequence[dict]) -> None:
        if not isinstance(step_opts, (list, tuple)) or not step_opts:
            raise PipelineError(f'pipeline: expected a non-empty list of steps, got {step_opts!r}.')
        self.steps = [_build_step(i, opt) for i, opt in enumerate(step_opts)]

    def __call__(self, results: dict) -> dict:
        for index, (name, step) in enumerate(self.steps):
            try:
                results = step(results)
            except KeyError as err:
                raise PipelineError(
                    f'pipeline[{index}] ({name}): no result named {err}; available: '
                    f'{", ".join(sorted(results))}. Add it with CopyValues or fix `keys`.'
                ) from err
            except ValueError as err:
                raise _with_context(err, f'pipeline[{index}] ({name})') from err
        return results

    def __repr__(self) -> str:
        return f'Pipeline({", ".join(name for name, _ in self.steps)})'
