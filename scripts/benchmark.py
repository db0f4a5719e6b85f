"""Benchmark one PDD training step: the authors' computation (reference) against SRGANRefModel's (fast), in one run.

    python scripts/benchmark.py --preset cpu-small                    # both modes: equality, speed-up, memory
    python scripts/benchmark.py --preset paper --json paper.json      # the paper's step on a CUDA GPU
    python scripts/benchmark.py --preset cpu-small --amp bf16         # AMP row (not equal math; deviation shown)
    python scripts/benchmark.py --preset cpu-small --perf channels_last=false   # the effect of one switch

Whole optimisation steps (G and D, EMA update) are timed after warm-up, alternating the two modes so that machine
noise hits both alike; the report gives median and spread, images/s, peak memory (CUDA max allocated, or the peak RSS
of a fresh process per mode on CPU), the work per step and the data loaders' throughput. Before timing, one step of
each mode from identical weights must give the same losses and gradients (fp32: 1e-4 relative), or no speed-up is
reported and the exit status is 1.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from os import path as osp
from typing import Optional

if __package__ in (None, ''):
    sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), osp.pardir)))

import torch  # noqa: E402

from benchmarks.harness import (  # noqa: E402
    PRESETS,
    StepRunner,
    build_runner,
    loader_throughput,
    memory_probe,
    step_gflops,
    timed_steps,
    to_float64,
    vgg_weight_file,
)
from benchmarks.reference_step import StepResult, compare_steps  # noqa: E402
from benchmarks.report import format_report  # noqa: E402

# (loss, network gradient, single gradient tensor) relative tolerances. float64 checks the math; in fp32 a gradient
# through VGG19 carries ~1e-4 rounding error of its own (the reference's fp32 gradient is that far from its float64
# one), so fp32 gradients get 1e-3. AMP is not equal math: its deviations are reported, not gated (the float64 check
# still gates the math of its code path).
TOLERANCES = {'float64': (1e-4, 1e-4, 1e-4), 'fp32': (1e-4, 1e-3, 1e-2), 'amp': (float('inf'),) * 3}
# Regression guard: the equal-math speed-up of the default step on this preset must not fall below this (sharing the
# VGG passes alone gives ~1.3x on the CPU; docs/performance.md).
SPEEDUP_GUARD = {'cpu-small': 1.25}


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--preset', choices=sorted(PRESETS), default='cpu-small')
    parser.add_argument('--mode', choices=('reference', 'fast', 'both'), default='both')
    parser.add_argument('--generator', choices=('rrdb', 'srvgg'), default='rrdb')
    parser.add_argument('--device', choices=('cpu', 'cuda'), help="default: the preset's")
    parser.add_argument('--steps', type=int, help="timed steps per mode (default: the preset's)")
    parser.add_argument('--warmup', type=int, help="untimed steps per mode before timing (default: the preset's)")
    parser.add_argument('--threads', type=int, help="torch intra-op threads (default: torch's)")
    parser.add_argument('--amp', choices=('bf16', 'fp16'), help='autocast in the fast mode (not equal math)')
    parser.add_argument('--compile', action='store_true', help='torch.compile in the fast mode')
    parser.add_argument(
        '--perf',
        nargs='*',
        default=[],
        metavar='SWITCH=VALUE',
        help='train.perf overrides for the fast mode, e.g. shared_vgg=false',
    )
    parser.add_argument('--data-workers', default='0,2', help='worker counts for the data-loading benchmark ("" skips)')
    parser.add_argument('--no-memory', action='store_true', help='skip the memory measurement')
    parser.add_argument('--json', help='write every number to this file')
    parser.add_argument('--memory-probe', choices=('reference', 'fast'), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def fast_perf(args: argparse.Namespace) -> dict:
    """The fast mode's train.perf block: the defaults plus --amp, --compile and --perf overrides."""
    perf = {'amp': args.amp, 'compile': bool(args.compile)}
    for item in args.perf:
        key, _, value = item.partition('=')
        perf[key] = {'true': True, 'false': False}.get(value.lower(), value)
    return perf


def settings(args: argparse.Namespace) -> dict:
    preset = PRESETS[args.preset]
    device = torch.device(args.device or preset.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise SystemExit(
            f'--preset {args.preset} runs on CUDA but no CUDA device is available here; pass --device cpu '
            'to run it on the CPU (slow), or use --preset cpu-small.'
        )
    return dict(
        preset=preset,
        device=device,
        generator=args.generator,
        perf=fast_perf(args),
        steps=args.steps or preset.steps,
        warmup=args.warmup if args.warmup is not None else preset.warmup,
    )


def one_step_each(runners: dict[str, StepRunner]) -> dict[str, StepResult]:
    results = {}
    for mode, runner in runners.items():
        runner.step()
        results[mode] = StepResult.of(runner.model)
    return results


def comparison_record(reference: StepResult, other: StepResult, precision: str) -> dict:
    comparison = compare_steps(reference, other, *TOLERANCES[precision])
    tolerances = [None if tolerance == float('inf') else tolerance for tolerance in TOLERANCES[precision]]
    return dict(
        equal=comparison.equal,
        tolerances=tolerances,
        loss_error=comparison.loss_error,
        grad_error=comparison.grad_error,
        worst_tensor_error=comparison.worst_tensor_error,
        problems=comparison.problems,
    )


def check_equality(config: dict, runners: dict[str, StepRunner], vgg_path: Optional[str], root: str) -> dict:
    """One step per mode from identical weights, in float64 (the math) and in the benchmarked precision."""
    exact = {
        mode: to_float64(build_runner(config, mode, vgg_path, root, copy_from=runners['reference'])) for mode in runners
    }
    exact_results = one_step_each(exact)
    del exact
    results = one_step_each(runners)
    precision = 'amp' if config['perf'].get('amp') else 'fp32'
    checks = {
        'float64': comparison_record(exact_results['reference'], exact_results['fast'], 'float64'),
        precision: comparison_record(results['reference'], results['fast'], precision),
    }
    noise_floor = compare_steps(exact_results['reference'], results['reference'], *TOLERANCES['fp32'])
    return dict(
        equal=all(check['equal'] for check in checks.values()),
        checks=checks,
        reference_fp32_vs_float64=noise_floor.grad_error,
        losses={mode: result.losses for mode, result in results.items()},
    )


def measure_memory(args: argparse.Namespace, config: dict, runners: dict[str, StepRunner]) -> dict:
    """Per mode: CUDA peak allocation in this process, or a fresh process's peak RSS on the CPU."""
    memory = {}
    for mode, runner in runners.items():
        if config['device'].type == 'cuda':
            memory[mode] = memory_probe(runner, steps=2)
            continue
        command = [sys.executable, osp.abspath(__file__), *sys.argv[1:], '--memory-probe', mode]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f'memory probe for {mode} failed:\n{done.stderr[-2000:]}')
        memory[mode] = json.loads(done.stdout.strip().splitlines()[-1])
    return memory


def run_benchmark(args: argparse.Namespace) -> dict:
    config = settings(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    modes = ['reference', 'fast'] if args.mode == 'both' else [args.mode]
    with tempfile.TemporaryDirectory() as root:
        vgg_path, vgg_source = vgg_weight_file(root)
        runners: dict[str, StepRunner] = {}
        for mode in modes:  # the fast model copies the reference's weights
            runners[mode] = build_runner(config, mode, vgg_path, root, copy_from=runners.get('reference'))
        report = dict(
            preset=args.preset,
            device=str(config['device']),
            threads=torch.get_num_threads(),
            generator=config['preset'].generator_opt(args.generator),
            batch=list(config['preset'].batch),
            lq_size=config['preset'].lq_size,
            vgg_weights=vgg_source,
            fast_perf=config['perf'],
            torch=torch.__version__,
            steps=config['steps'],
            warmup=config['warmup'],
            perf_overrides=list(args.perf),
            load_average_before=os.getloadavg()[0],
        )
        if args.mode == 'both':
            report['equality'] = check_equality(config, runners, vgg_path, root)
        report['timing'] = timed_steps(runners, config['device'], config['steps'], config['warmup'])
        report['gflop_per_step'] = step_gflops(runners)
        if not args.no_memory:
            report['memory'] = measure_memory(args, config, runners)
        images = sum(config['preset'].batch)
        for timing in report['timing'].values():
            timing['images_per_s'] = images / (timing['median_ms'] / 1000)
        workers = [int(w) for w in args.data_workers.split(',') if w.strip()]
        if workers:
            report['data_loading'] = loader_throughput(config['preset'], workers, root, config['device'])
    report['load_average_after'] = os.getloadavg()[0]
    if args.mode == 'both':
        summarise_pair(report)
    return report


def summarise_pair(report: dict) -> None:
    """Speed-up and memory ratio, only when the equality check passed."""
    equality, timing = report['equality'], report['timing']
    if not equality['equal']:
        report['speedup'] = None
        return
    report['speedup'] = timing['reference']['median_ms'] / timing['fast']['median_ms']
    report['equal_math'] = not report['fast_perf'].get('amp')
    memory = report.get('memory')
    if memory:
        report['memory_ratio'] = memory['fast']['step_mib'] / max(memory['reference']['step_mib'], 1e-9)
    guard = SPEEDUP_GUARD.get(report['preset'])
    default_step = report['equal_math'] and not any(report['fast_perf'].get(key) for key in ('amp', 'compile'))
    if guard and default_step and report['generator']['type'] == 'RRDBNet' and not report['perf_overrides']:
        report['speedup_guard'] = dict(minimum=guard, passed=report['speedup'] >= guard)


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    if args.memory_probe:
        config = settings(args)
        if args.threads:
            torch.set_num_threads(args.threads)
        with tempfile.TemporaryDirectory() as root:
            vgg_path, _ = vgg_weight_file(root)
            runner = build_runner(config, args.memory_probe, vgg_path, root)
            print(json.dumps(memory_probe(runner, steps=2 + config['warmup'])))
        return 0
    report = run_benchmark(args)
    print(format_report(report))
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as handle:
            json.dump(report, handle, indent=2)
    if report.get('equality') and not report['equality']['equal']:
        return 1
    return 1 if report.get('speedup_guard', {}).get('passed') is False else 0


if __name__ == '__main__':
    sys.exit(main())
