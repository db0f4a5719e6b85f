"""`make demo`: PDD reproduced at small scale on a CPU, from photos that install with scikit-image.

Stages (each resumable, each with a progress bar): demo data -> [pretraining, when the shipped checkpoints are
absent] -> adaptation runs (supervised-only control, ND, PDD-static, PDD-EMA per target domain and seed) ->
evaluation -> experiments/demo/report.md. `make demo-pretrain` regenerates the shipped checkpoints instead.

  python scripts/run_demo.py [--quick] [--seeds 3] [--targets camera phone] [--features auto|selfsup|random|imagenet]
"""

import argparse
import os
import shlex
import signal
import sys
import time
from os import path as osp

ROOT = osp.abspath(osp.join(osp.dirname(__file__), osp.pardir))
sys.path.insert(0, ROOT)

from basicsr.utils.arg_parser import ArgumentParser  # noqa: E402
from basicsr.utils.misc import get_time_str  # noqa: E402
from scripts.demo.plan import ADAPTED, SHIPPED_DIR, DemoConfig, feature_choice, plan, publish_pretrained  # noqa: E402
from scripts.demo.report import build_report  # noqa: E402
from scripts.demo.stages import StageState, run_stages  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--quick', action='store_true', help='fewer iterations, same pipeline and report')
    parser.add_argument('--size', choices=['full', 'quick', 'smoke'], default=None, help='overrides --quick')
    parser.add_argument('--seeds', type=int, default=1, help='adaptation runs per method with seeds 0..n-1')
    parser.add_argument(
        '--targets',
        nargs='+',
        default=None,
        help='target domains: names under options/demo/degradations or .yml paths (first = main); '
        'default: camera, plus the untuned second domain phone when --seeds > 1',
    )
    parser.add_argument('--features', default='auto', choices=['auto', 'selfsup', 'random', 'imagenet'])
    parser.add_argument('--pretrain', action='store_true', help='regenerate scripts/demo/pretrained/*.pth only')
    parser.add_argument('--out', default=None, help='output folder (default experiments/demo)')
    parser.add_argument('--data', default='datasets/demo')
    parser.add_argument(
        '--eval-split',
        default='test',
        choices=['test', 'val'],
        help='score on the held-out test photos (the report) or the validation photo (for tuning)',
    )
    parser.add_argument(
        '--adapt-override',
        nargs='+',
        default=[],
        metavar='KEY=VALUE',
        help='--force_yml items added to every adaptation run, e.g. train:optim_g:lr=2e-4',
    )
    parser.add_argument(
        '--methods',
        nargs='+',
        default=list(ADAPTED),
        choices=list(ADAPTED),
        help='adapted rows to train (all four for the report; a subset while tuning)',
    )
    parser.add_argument(
        '--jobs',
        type=int,
        default=max(1, min(os.cpu_count() or 1, 4)),
        help='stages run side by side, one CPU thread each',
    )
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error('--seeds must be at least 1')
    if args.targets is None:
        args.targets = ['camera'] if args.seeds == 1 else ['camera', 'phone']
    return args


def archive_finished_report(out_dir: str) -> None:
    """A folder that already holds a finished report is renamed to <out>_archived_<time>; a half-done one resumes."""
    if osp.isfile(osp.join(out_dir, 'report.md')):
        archived = f'{out_dir}_archived_{get_time_str()}'
        os.rename(out_dir, archived)
        print(f'An earlier report was found; it was moved to {archived}.', flush=True)


def run_groups(cfg: DemoConfig, state: StageState) -> None:
    groups = plan(cfg)
    for number, group in enumerate(groups, start=1):
        print(f'[{number}/{len(groups)}] {", ".join(s.name for s in group)[:110]}', flush=True)
        run_stages(group, state, osp.join(cfg.out, 'logs'), cfg.jobs)
        if any(s.name == 'pretrain_generalist' for s in group):
            for path in publish_pretrained(cfg):
                print(f'  pretrained model: {path} ({osp.getsize(path) / 1e6:.2f} MB)', flush=True)


def main(argv=None) -> None:
    """Run the demo; while it runs SIGTERM exits (143) so that running stages stop with it. The previous handler
    comes back afterwards: a caller's forked children (multiprocessing pools) must not inherit this one."""
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        run_demo(argv)
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_demo(argv=None) -> None:
    os.chdir(ROOT)
    args = parse_args(argv)
    size = args.size or ('quick' if args.quick else 'full')
    out = args.out or ('experiments/demo_pretrain' if args.pretrain else 'experiments/demo')
    cfg = DemoConfig(
        size=size,
        seeds=args.seeds,
        targets=args.targets,
        features=args.features,
        out=out,
        data=args.data,
        pretrain_only=args.pretrain,
        jobs=args.jobs,
        eval_split=args.eval_split,
        adapt_overrides=args.adapt_override,
        methods=args.methods,
    )
    if not args.pretrain:
        archive_finished_report(out)
    os.makedirs(out, exist_ok=True)
    state = StageState(out)
    start = time.time()
    print(
        f'PDD demo: {size} size, seeds {args.seeds}, targets {" ".join(cfg.targets)}, features '
        f'{feature_choice(cfg)}, {cfg.jobs} stage(s) at a time. Outputs: {out}/',
        flush=True,
    )
    run_groups(cfg, state)
    if args.pretrain:
        print(f'Done in {(time.time() - start) / 60:.1f} min; the demo now uses these checkpoints.')
        return
    settings = {
        'date': time.strftime('%Y-%m-%d %H:%M'),
        'size': size,
        'cpus': os.cpu_count(),
        'features': feature_choice(cfg),
        'python': sys.executable,
        'command': 'python scripts/run_demo.py ' + shlex.join(argv if argv is not None else sys.argv[1:]),
        'split': args.eval_split,
        'adapt_iters': cfg.iters['adapt'],
        'target_files': [cfg.target_file(t) for t in cfg.targets],
        'pretrained': (
            f'{SHIPPED_DIR}/*.pth, shipped with the repository and regenerated from scratch by `make demo-pretrain`'
        )
        if cfg.use_shipped
        else f'trained by this run into {cfg.out}/pretrained (no shipped checkpoints were found)',
    }
    targets = {cfg.target_name(t): cfg.target_file(t) for t in cfg.targets}
    report = build_report(out, cfg.data, targets, cfg.seeds, settings, state.stages, time.time() - start)
    with open(report) as f:
        table_start = f.read().split('\n## Target domain', 1)[1]
    print('\n## Target domain' + table_start.split('![grid]')[0].rstrip())
    print(
        f'\nDone in {(time.time() - start) / 60:.1f} min. Report: {osp.join(ROOT, report)} (and report.html, '
        f'PNGs, per-stage logs under {out}/logs).'
    )


if __name__ == '__main__':
    main()
