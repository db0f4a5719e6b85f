"""Cross-field checks of PDD option files (SRGANRefModel), run before any model is built."""

from fractions import Fraction
from typing import Any, Optional

from basicsr.utils.logger import get_root_logger

Size = tuple[int, int]
RESIZE_STEPS = {'RandomResize': 'target_size', 'MATLABLikeResize': 'output_shape'}


def is_ema_mode(opt: dict) -> bool:
    return bool((opt.get('train') or {}).get('use_net_g_ema', False))


def check_generalist(opt: dict) -> list[str]:
    """EMA mode needs an EMA; static mode needs the frozen generalist's network block and weights."""
    train_opt = opt.get('train') or {}
    problems = []
    if is_ema_mode(opt):
        if not (train_opt.get('ema_decay') or 0) > 0:
            problems.append(
                'train.ema_decay: EMA mode (train.use_net_g_ema: true) needs ema_decay > 0, because the '
                'generalist is the exponential moving average of net_g (paper: 0.999).'
            )
        if not train_opt.get('domain_opt_warmup_iters'):
            get_root_logger().warning(
                'train.domain_opt_warmup_iters is 0 in EMA mode: at the first step net_g and its EMA are identical, '
                'every distance difference is zero and the distillation loss has nothing to push against; '
                'the paper uses 5.'
            )
        return problems
    if not opt.get('network_g_fix'):
        problems.append(
            'network_g_fix: static mode (train.use_net_g_ema: false) needs the frozen generalist network '
            'block, or set train.use_net_g_ema: true for EMA mode.'
        )
    reads_own_file = isinstance(opt.get('network_g_fix'), dict) and 'path' in opt['network_g_fix']  # SpandrelNet
    if not (opt.get('path') or {}).get('pretrain_network_g_fix') and not reads_own_file:
        problems.append(
            'path.pretrain_network_g_fix: static mode needs the frozen generalist weights '
            '(e.g. RealESRGAN_x4plus.pth); without them the generalist would be random.'
        )
    return problems


def _as_int(value: Any) -> int:
    """An integer option that YAML may have read as a string such as '48' or '1/3'."""
    return int(Fraction(value)) if isinstance(value, str) else int(value)


def _step_size(step: dict, key: str) -> Optional[Size]:
    """(h, w) named by `key` in a pipeline step (or in its `params`), from one number or an [h, w] pair."""
    size = step.get(key) if key in step else (step.get('params') or {}).get(key)
    if size is None:
        return None
    if isinstance(size, (list, tuple)):
        return (_as_int(size[0]), _as_int(size[-1]))
    return (_as_int(size), _as_int(size))


def pipeline_sizes(train_s: dict) -> tuple[Optional[Size], Optional[Size]]:
    """(GT crop, synthetic LR size) that the `train_s` pipeline produces, None where the pipeline does not fix it."""
    crop = lr_size = None
    for step in train_s.get('pipeline') or []:
        if not isinstance(step, dict):
            continue
        if step.get('type') == 'FixedCrop':
            crop = _step_size(step, 'crop_size')
        elif step.get('type') in RESIZE_STEPS:
            lr_size = _step_size(step, RESIZE_STEPS[step['type']])
    return crop, lr_size


def check_stream_sizes(datasets: dict, scale: Optional[int]) -> list[str]:
    """train_s's GT crop / LR size must equal `scale`, and train_t's crop must equal that LR size.

    Both streams go through net_g in one batch and the distillation compares their outputs, so the real LR crop
    (`train_t.lq_size`) and the synthetic LR must have one size, and both outputs are that size times `scale`.
    """
    try:
        crop, lr_size = pipeline_sizes(datasets['train_s'])
    except (TypeError, ValueError):
        return []  # a malformed size is reported by the pipeline's own checks
    problems = []
    if crop and lr_size and scale and crop != (lr_size[0] * scale, lr_size[1] * scale):
        problems.append(
            f'datasets.train_s.pipeline: the GT crop {crop[0]}x{crop[1]} px and the synthetic LR size '
            f'{lr_size[0]}x{lr_size[1]} px give scale {crop[0] / lr_size[0]:g}, but scale is {scale}; '
            f'make FixedCrop.crop_size = scale x the resize target'
        )
    synthetic = lr_size or (crop and scale and (crop[0] // scale, crop[1] // scale))
    return problems + check_real_crop(datasets['train_t'].get('lq_size'), synthetic, scale)


def check_real_crop(lq_size: Any, synthetic: Optional[Size], scale: Optional[int]) -> list[str]:
    """`train_t.lq_size` must be set and equal the synthetic LR size (None when the pipeline does not fix it)."""
    if lq_size is None:
        size = f'{synthetic[0]}' if synthetic else 'the synthetic LR size'
        return [
            f'datasets.train_t.lq_size: missing; real LR images are cropped to one size so that they batch with '
            f'the synthetic stream; set lq_size: {size}'
        ]
    if isinstance(lq_size, int) and synthetic and scale and (lq_size, lq_size) != synthetic:
        return [
            f'datasets.train_t.lq_size: {lq_size} px real LR crops give {lq_size * scale} px outputs at scale '
            f'{scale}, but train_s gives {synthetic[0]}x{synthetic[1]} px LR ({synthetic[0] * scale} px '
            f'outputs); both streams share one net_g batch and the distillation compares them, so set '
            f'lq_size: {synthetic[0]}'
        ]
    return []


def check_batch_sizes(datasets: dict) -> list[str]:
    """The distillation pairs each real output with a synthetic one, so both streams need the same batch size."""
    source, target = (datasets[k].get('batch_size_per_gpu') for k in ('train_s', 'train_t'))
    if source is not None and target is not None and source != target:
        return [
            f'datasets.train_t.batch_size_per_gpu: {target} differs from train_s ({source}); the distillation '
            f'compares real and synthetic outputs pair by pair, so give both streams the same batch size'
        ]
    return []


def check_streams(opt: dict) -> list[str]:
    datasets = opt.get('datasets') or {}
    if not opt.get('is_train', True):
        return []
    missing = [k for k in ('train_s', 'train_t') if not isinstance(datasets.get(k), dict)]
    if missing:
        return [
            f'datasets.{k}: SRGANRefModel trains on a synthetic paired stream (train_s) and a real LR stream '
            f'(train_t); this one is missing'
            for k in missing
        ]
    return check_stream_sizes(datasets, opt.get('scale')) + check_batch_sizes(datasets)


def _unknown_layers(block: dict, where: str, vgg_key: str, weight_keys: tuple[str, ...]) -> list[str]:
    from basicsr.archs.vgg_arch import NAMES

    vgg_type = block.get(vgg_key, 'vgg19')
    if vgg_type not in NAMES:
        return [f'{where}.{vgg_key}: unknown VGG type {vgg_type!r}; known: {", ".join(NAMES)}']
    problems = []
    for key in weight_keys:
        for layer in block.get(key) or {}:
            if layer not in NAMES[vgg_type]:
                problems.append(
                    f'{where}.{key}.{layer}: {vgg_type} has no layer {layer!r}; its conv layers are '
                    f'{" ".join(n for n in NAMES[vgg_type] if n.startswith("conv"))}'
                )
    return problems


def check_distillation_layers(opt: dict) -> list[str]:
    """Every layer named in train.domain_opt (and the ND ablation's train.nd_opt) must exist in its VGG type."""
    train_opt = opt.get('train') or {}
    problems = []
    if isinstance(train_opt.get('domain_opt'), dict):
        problems += _unknown_layers(
            train_opt['domain_opt'], 'train.domain_opt', 'model_type', ('layer_weights_inter', 'layer_weights_intra')
        )
    if isinstance(train_opt.get('nd_opt'), dict):
        problems += _unknown_layers(train_opt['nd_opt'], 'train.nd_opt', 'model_type', ('layer_weights',))
    return problems


def check_pdd_options(opt: dict) -> list[str]:
    return check_generalist(opt) + check_streams(opt) + check_distillation_layers(opt)
