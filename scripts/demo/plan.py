"""What `make demo` runs: the demo's settings (full, QUICK, seeds, targets, feature extractor) turned into stages.

Every training stage is `python basicsr/train.py -opt options/demo/<file>.yml --force_yml ...`, i.e. the
framework's own train_pipeline on a demo option file; the report prints these exact command lines.
"""

import os
import shutil
import sys
from dataclasses import dataclass, field
from os import path as osp

from basicsr.archs.vgg_arch import TORCHVISION_WEIGHT_FILES
from basicsr.utils.weights_util import weight_search_dirs
from scripts.demo.stages import Stage

PY = sys.executable
SHIPPED_DIR = 'scripts/demo/pretrained'
SHIPPED = {'generalist': 'demo_generalist.pth', 'specialist': 'demo_specialist.pth', 'vgg': 'demo_vgg19_slim.pth'}
DEGRADATIONS = 'options/demo/degradations'
SOURCE_DOMAIN = f'{DEGRADATIONS}/source_bicubic.yml'
# adapted rows of the table: method -> option file
ADAPTED = {
    'control': 'options/demo/control.yml',
    'nd': 'options/demo/nd.yml',
    'pdd_static': 'options/demo/pdd_static.yml',
    'pdd_ema': 'options/demo/pdd_ema.yml',
}
SIZES = {  # iterations per stage
    'full': {'features': 2000, 'generalist': 2000, 'specialist': 4000, 'adapt': 1000, 'd_init': 50},
    'quick': {'features': 300, 'generalist': 500, 'specialist': 800, 'adapt': 60, 'd_init': 10},
    'smoke': {'features': 4, 'generalist': 4, 'specialist': 4, 'adapt': 6, 'd_init': 2},
}


def shipped_available() -> bool:
    return all(osp.isfile(osp.join(SHIPPED_DIR, f)) for f in SHIPPED.values())


@dataclass
class DemoConfig:
    """The knobs of one demo run (Makefile: QUICK=1 -> size 'quick', SEEDS=n -> seeds)."""

    size: str = 'full'
    seeds: int = 1
    targets: list[str] = field(default_factory=lambda: ['camera'])
    features: str = 'auto'  # auto | selfsup | random | imagenet
    out: str = 'experiments/demo'
    data: str = 'datasets/demo'
    pretrain_only: bool = False  # `make demo-pretrain`: regenerate the shipped checkpoints, nothing else
    jobs: int = 2
    eval_split: str = 'test'  # 'val' while tuning, so the test photos never steer a choice
    adapt_overrides: list[str] = field(default_factory=list)  # extra --force_yml items for every adaptation run
    methods: list[str] = field(default_factory=lambda: list(ADAPTED))  # a subset while tuning
    use_shipped: bool = field(default_factory=lambda: shipped_available())

    @property
    def iters(self) -> dict:
        return SIZES[self.size]

    def target_file(self, target: str) -> str:
        return target if target.endswith('.yml') else f'{DEGRADATIONS}/{target}.yml'

    def target_name(self, target: str) -> str:
        return osp.splitext(osp.basename(target))[0]


def imagenet_vgg_available() -> bool:
    return any(osp.isfile(osp.join(d, TORCHVISION_WEIGHT_FILES['vgg19'])) for d in weight_search_dirs())


def pretrained_dir(cfg: DemoConfig) -> str:
    """Where the pretrained models are read from: the shipped ones, else those this run trains itself."""
    if cfg.pretrain_only or cfg.use_shipped:
        return SHIPPED_DIR
    return osp.join(cfg.out, 'pretrained')


def feature_choice(cfg: DemoConfig) -> str:
    """selfsup (the trained slim VGG), random (same layout, Kaiming fan-in) or imagenet (torchvision's VGG19)."""
    if cfg.features != 'auto':
        return cfg.features
    return 'imagenet' if imagenet_vgg_available() else 'selfsup'


def feature_overrides(cfg: DemoConfig, option_keys: list[str]) -> list[str]:
    """--force_yml items pointing every VGG loss of an option file at the chosen feature extractor."""
    choice = feature_choice(cfg)
    if choice == 'selfsup':
        path = osp.join(pretrained_dir(cfg), SHIPPED['vgg'])
    elif choice == 'random':
        path = osp.join(cfg.out, 'pretrained', 'demo_vgg19_slim_random.pth')
    else:
        path = '~'  # torchvision's ImageNet file, found in the torch hub cache
    return [f'train:{key}:vgg_weights_path={path}' for key in option_keys]


def train_stage(
    cfg: DemoConfig, name: str, option_file: str, total: int, overrides: list[str], outputs: list[str]
) -> Stage:
    """A train.py stage whose experiment folder is <out>/runs/<name>, cleared before a (re)start."""
    root = osp.join(cfg.out, 'runs', name)
    command = [
        PY,
        'basicsr/train.py',
        '-opt',
        option_file,
        '--force_yml',
        f'name=demo_{name}',
        f'path:experiments_root={root}',
        f'train:total_iter={total}',
        *overrides,
    ]
    return Stage(
        name,
        command,
        total,
        outputs=[osp.join(root, o) for o in outputs],
        before=lambda: shutil.rmtree(root, ignore_errors=True),
        inputs=[option_file],
    )


def data_stage(cfg: DemoConfig) -> Stage:
    domains = [SOURCE_DOMAIN, *dict.fromkeys(cfg.target_file(t) for t in cfg.targets)]
    command = [
        PY,
        '-m',
        'scripts.demo.make_data',
        '--root',
        cfg.data,
        '--domains',
        *domains,
        '--photos',
        'smoke' if cfg.size == 'smoke' else 'full',
    ]
    return Stage('data', command, 1, always_run=True)  # cheap when nothing changed: each folder checks itself


def pretrain_stages(cfg: DemoConfig) -> list[list[Stage]]:
    """[slim VGG, specialist] side by side, then the generalist fine-tuned from the specialist (Real-ESRNet's recipe
    starts from the bicubic ESRGAN the same way)."""
    out_dir = pretrained_dir(cfg)
    it = cfg.iters
    features = Stage(
        'pretrain_features',
        [
            PY,
            '-m',
            'scripts.demo.features',
            '--hr',
            f'{cfg.data}/hr/train',
            '--out',
            osp.join(out_dir, SHIPPED['vgg']),
            '--iters',
            str(it['features']),
        ],
        it['features'],
        outputs=[osp.join(out_dir, SHIPPED['vgg'])],
    )
    stages = {}
    for role in ('specialist', 'generalist'):
        overrides = [
            f'datasets:train:dataroot_gt={cfg.data}/hr/train',
            f'train:scheduler:milestones=[{int(it[role] * 0.6)},{int(it[role] * 0.9)}]',
        ]
        if role == 'specialist':
            overrides.append(f'datasets:train:dataroot_lq={cfg.data}/hr/train')
        else:
            overrides.append(f'path:pretrain_network_g={run_weights(cfg, "pretrain_specialist")}')
        stages[role] = train_stage(
            cfg, f'pretrain_{role}', f'options/demo/{role}.yml', it[role], overrides, ['models/net_g_latest.pth']
        )
    return [[features, stages['specialist']], [stages['generalist']]]


def run_weights(cfg: DemoConfig, name: str) -> str:
    return osp.join(cfg.out, 'runs', name, 'models', 'net_g_latest.pth')


def random_features_stage(cfg: DemoConfig) -> list[Stage]:
    if feature_choice(cfg) != 'random':
        return []
    path = osp.join(cfg.out, 'pretrained', 'demo_vgg19_slim_random.pth')
    return [Stage('random_features', [PY, '-m', 'scripts.demo.features', '--random', '--out', path], 1, outputs=[path])]


def adapt_overrides(cfg: DemoConfig, method: str, target: str, seed: int) -> list[str]:
    """Seed, data folders, pretrained paths, warm-up length and feature extractor of one adaptation run."""
    pre = pretrained_dir(cfg)
    overrides = [
        f'manual_seed={seed}',
        f'datasets:train_s:dataroot_gt={cfg.data}/hr/train',
        f'datasets:train_s:dataroot_lq={cfg.data}/hr/train',
        f'datasets:train_t:dataroot_lq={cfg.data}/lr/{cfg.target_name(target)}/train',
        f'train:net_d_init_iters={cfg.iters["d_init"]}',
    ]
    static = method in ('nd', 'pdd_static')
    overrides.append(f'path:pretrain_network_g={pre}/{SHIPPED["specialist" if static else "generalist"]}')
    if static:
        overrides.append(f'path:pretrain_network_g_fix={pre}/{SHIPPED["generalist"]}')
    losses = {'control': ['perceptual_opt'], 'nd': ['perceptual_opt', 'nd_opt']}.get(
        method, ['perceptual_opt', 'domain_opt']
    )
    return overrides + feature_overrides(cfg, losses) + cfg.adapt_overrides


def run_name(method: str, target: str, seed: int) -> str:
    return f'{method}_{target}_s{seed}'


def adapt_stages(cfg: DemoConfig) -> list[Stage]:
    stages = []
    for seed in range(cfg.seeds):
        for target in cfg.targets:
            name = cfg.target_name(target)
            for method in cfg.methods:
                option_file = ADAPTED[method]
                stages.append(
                    train_stage(
                        cfg,
                        run_name(method, name, seed),
                        option_file,
                        cfg.iters['adapt'],
                        adapt_overrides(cfg, method, target, seed),
                        ['models/net_g_latest.pth'],
                    )
                )
    return stages


def eval_stages(cfg: DemoConfig) -> list[Stage]:
    """Per target: the fixed rows once; per (target, seed): the adapted rows (net_g, `params`)."""
    pre = pretrained_dir(cfg)
    stages = []
    for target in cfg.targets:
        name = cfg.target_name(target)
        split = cfg.eval_split
        io = ['--hr', f'{cfg.data}/hr/{split}', '--lr', f'{cfg.data}/lr/{name}/{split}']
        out = osp.join(cfg.out, 'metrics', f'{name}_fixed.json')
        command = [
            PY,
            '-m',
            'scripts.demo.evaluate',
            *io,
            '--bicubic',
            '--model',
            f'generalist={pre}/{SHIPPED["generalist"]}:params_ema',
            '--model',
            f'specialist={pre}/{SHIPPED["specialist"]}:params_ema',
            '--out',
            out,
            '--save-dir',
            osp.join(cfg.out, 'outputs', name),
        ]
        stages.append(Stage(f'eval_{name}_fixed', command, 3, outputs=[out]))
        for seed in range(cfg.seeds):
            out = osp.join(cfg.out, 'metrics', f'{name}_s{seed}.json')
            models = [
                f'{m}={cfg.out}/runs/{run_name(m, name, seed)}/models/net_g_latest.pth:params' for m in cfg.methods
            ]
            command = [
                PY,
                '-m',
                'scripts.demo.evaluate',
                *io,
                *[a for m in models for a in ('--model', m)],
                '--out',
                out,
                *(['--save-dir', osp.join(cfg.out, 'outputs', name)] if seed == 0 else []),
            ]
            stages.append(Stage(f'eval_{name}_s{seed}', command, len(cfg.methods), outputs=[out]))
    return stages


def plan(cfg: DemoConfig) -> list[list[Stage]]:
    """Groups of stages; a group starts when the previous one has finished."""
    if cfg.pretrain_only:
        return [[data_stage(cfg)], *pretrain_stages(cfg)]
    groups = [[data_stage(cfg)]]
    if not cfg.use_shipped:
        groups += pretrain_stages(cfg)
    groups.append(random_features_stage(cfg) + adapt_stages(cfg))
    groups.append(eval_stages(cfg))
    return [g for g in groups if g]


def publish_pretrained(cfg: DemoConfig) -> list[str]:
    """Copy the EMA weights of the trained generalist and specialist (`params_ema` only) to `pretrained_dir`."""
    from basicsr.utils.checkpoint_util import atomic_torch_save, read_network_file

    written = []
    for role in ('generalist', 'specialist'):
        source = run_weights(cfg, f'pretrain_{role}')
        target = osp.join(pretrained_dir(cfg), SHIPPED[role])
        os.makedirs(osp.dirname(target), exist_ok=True)
        weights = {k: v.clone() for k, v in read_network_file(source, 'params_ema').items()}
        atomic_torch_save({'params_ema': weights}, target)
        os.chmod(target, 0o644)
        written.append(target)
    return written + [osp.join(pretrained_dir(cfg), SHIPPED['vgg'])]
