"""Cross-field checks of PDD option files (SRGANRefModel), run before any model is built."""
from fractions import Fraction
from typing import Any, Optional

from basicsr.utils.logger import get_root_logger


def is_ema_mode(opt: dict) -> bool:
    return bool((opt.get('train') or {}).get('use_net_g_ema', False))


def check_generalist(opt: dict) -> list[str]:
    """EMA mode needs an EMA; static mode needs the frozen generalist's network block and weights."""
    train_opt = opt.get('train') or {}
    problems = []
    if is_ema_mode(opt):
        if not (train_opt.get('ema_decay') or 0) > 0:
            problems.append('train.ema_decay: EMA mode (train.use_net_g_ema: true) needs ema_decay > 0, because the '
                            'generalist is the exponential moving average of net_g (paper: 0.999).')
        if not train_opt.get('domain_opt_warmup_iters'):
            get_root_logger().warning(
                'train.domain_opt_warmup_iters is 0 in EMA mode: at the first step net_g and its EMA are identical, '
                'every distance difference is zero and the distillation loss has nothing to push against; '
                'the paper uses 5.')
        return problems
    if not opt.get('network_g_fix'):
        problems.append('network_g_fix: static mode (train.use_net_g_ema: false) needs the frozen generalist network '
                        'block, or set train.use_net_g_ema: true for EMA mode.')
    if not (opt.get('path') or {}).get('pretrain_network_g_fix'):
        problems.append('path.pretrain_network_g_fix: static mode needs the frozen generalist weights '
                        '(e.g. RealESRGAN_x4plus.pth); without them the generalist would be random.')
    return problems


def check_streams(opt: dict) -> list[str]:
    datasets = opt.get('datasets') or {}
    if not opt.get('is_train', True):
        return []
    missing = [k for k in ('train_s', 'train_t') if k not in datasets]
    if missing:
        return [f'datasets.{k}: SRGANRefModel trains on a synthetic paired stream (train_s) and a real LR stream '
                f'(train_t); this one is missing' for k in missing]
    return check_pipeline_scale(datasets['train_s'], opt.get('scale'))


def _as_number(value: Any) -> float:
    return float(Fraction(value)) if isinstance(value, str) else float(value)


def _step_size(step: dict, key: str) -> Optional[int]:
    size = step.get(key) if key in step else (step.get('params') or {}).get(key)
    if isinstance(size, (list, tuple)):
        return int(_as_number(size[0]))
    return None if size is None else int(_as_number(size))


def check_pipeline_scale(train_s: dict, scale: Optional[int]) -> list[str]:
    """The GT crop over the synthetic LR size must equal `scale`."""
    crop = lr_size = None
    for step in train_s.get('pipeline') or []:
        if step.get('type') == 'FixedCrop':
            crop = _step_size(step, 'crop_size')
        elif step.get('type') == 'RandomResize':
            lr_size = _step_size(step, 'target_size')
        elif step.get('type') == 'MATLABLikeResize':
            lr_size = _step_size(step, 'output_shape')
    if crop and lr_size and scale and crop != lr_size * scale:
        return [f'datasets.train_s.pipeline: the GT crop {crop} px and the synthetic LR size {lr_size} px give scale '
                f'{crop / lr_size:g}, but scale is {scale}']
    return []


def check_distillation_layers(opt: dict) -> list[str]:
    """Every layer named in train.domain_opt must exist in its VGG type."""
    from basicsr.archs.vgg_arch import NAMES
    domain_opt = (opt.get('train') or {}).get('domain_opt') or {}
    vgg_type = domain_opt.get('model_type', 'vgg19')
    if vgg_type not in NAMES:
        return [f'train.domain_opt.model_type: unknown VGG type {vgg_type!r}; known: {", ".join(NAMES)}']
    problems = []
    for key in ('layer_weights_inter', 'layer_weights_intra'):
        for layer in domain_opt.get(key) or {}:
            if layer not in NAMES[vgg_type]:
                problems.append(f'train.domain_opt.{key}.{layer}: {vgg_type} has no layer {layer!r}')
    return problems


def check_pdd_options(opt: dict) -> list[str]:
    return check_generalist(opt) + check_streams(opt) + check_distillation_layers(opt)
