"""Plain-text report of a scripts/benchmark.py run (the JSON file holds the same numbers)."""


def _header(report: dict) -> list[str]:
    generator = ', '.join(f'{k}={v}' for k, v in report['generator'].items() if k not in ('num_in_ch', 'num_out_ch'))
    switches = ', '.join(f'{k}={v}' for k, v in report['fast_perf'].items())
    return [
        f'PDD step benchmark: preset {report["preset"]}, device {report["device"]} '
        f'({report["threads"]} threads), torch {report["torch"]}; 1-min load average '
        f'{report["load_average_before"]:.1f} before, {report["load_average_after"]:.1f} after',
        f'  generator {generator}; batch {report["batch"][0]} + {report["batch"][1]} of {report["lq_size"]} px LR; '
        f'VGG19 weights: {report["vgg_weights"]}',
        f"  model step: SRGANRefModel's train.perf defaults with {switches}; {report['warmup']} warm-up + "
        f'{report["steps"]} timed steps per mode, modes alternating',
    ]


def _equality(equality: dict) -> list[str]:
    lines = [f'equality, one step per mode from identical weights: {"EQUAL" if equality["equal"] else "DIFFERENT"}']
    for precision, check in equality['checks'].items():
        grads = ', '.join(
            f'{net} {err:.1e} (worst tensor {check["worst_tensor_error"][net]:.1e})'
            for net, err in check['grad_error'].items()
        )
        limits = '/'.join('-' if t is None else f'{t:g}' for t in check['tolerances'])
        lines.append(
            f'  {precision:<8} max loss rel. error {check["loss_error"]:.1e}; gradient rel. error {grads}; '
            f'tolerances loss/grad/tensor {limits}: {"ok" if check["equal"] else "FAILED"}'
        )
        lines += [f'    - {problem}' for problem in check['problems'][:10]]
    floor = ', '.join(f'{net} {err:.1e}' for net, err in equality['reference_fp32_vs_float64'].items())
    lines.append(f"  (rounding floor: the reference's own fp32 gradients differ from its float64 ones by {floor})")
    return lines


def _timing(report: dict) -> list[str]:
    memory = report.get('memory') or {}
    lines = [
        f'{"mode":<10} {"median ms":>10} {"IQR ms":>15} {"min-max ms":>17} {"images/s":>9} '
        f'{"peak MiB":>9} {"step MiB":>9}'
    ]
    for mode, timing in report['timing'].items():
        mem = memory.get(mode, {})
        lines.append(
            f'{mode:<10} {timing["median_ms"]:>10.1f} {timing["q1_ms"]:>7.1f}-{timing["q3_ms"]:<7.1f} '
            f'{timing["min_ms"]:>8.1f}-{timing["max_ms"]:<8.1f} {timing["images_per_s"]:>9.2f} '
            f'{mem.get("peak_mib", float("nan")):>9.0f} {mem.get("step_mib", float("nan")):>9.0f}'
        )
    if memory:
        lines.append(
            f'  memory: {next(iter(memory.values()))["kind"]}; step MiB = peak minus what was held before '
            'the first step'
        )
    flops = report['gflop_per_step']
    lines.append(
        '  work per step (torch flop counter): '
        + ', '.join(f'{m} {g:.1f} GFLOP' for m, g in flops.items())
        + (f'; reference / fast {flops["reference"] / flops["fast"]:.2f}x' if len(flops) == 2 else '')
    )
    if 'speedup' in report:
        if report['speedup'] is None:
            lines.append('speed-up: NOT REPORTED, the modes do not compute the same losses and gradients')
        else:
            ratio = report.get('memory_ratio')
            kind = 'equal math' if report['equal_math'] else f'amp {report["fast_perf"]["amp"]}, NOT equal math'
            lines.append(
                f'speed-up (reference / fast median, same run, {kind}): {report["speedup"]:.2f}x'
                + (f'; step memory fast / reference: {ratio:.2f}' if ratio is not None else '')
            )
            guard = report.get('speedup_guard')
            if guard:
                verdict = 'ok' if guard['passed'] else 'REGRESSION (exit status 1; rerun on a quiet machine first)'
                lines.append(f'  regression guard for this preset: >= {guard["minimum"]:.2f}x: {verdict}')
    return lines


def _loading(report: dict) -> list[str]:
    loading = report['data_loading']
    fastest = min(timing['median_ms'] for timing in report['timing'].values()) / 1000
    lines = ['data loading, samples/s by worker count (the fastest step consumes, per stream):']
    for index, (stream, by_workers) in enumerate(loading.items()):
        needed = report['batch'][index] / fastest
        rates = ', '.join(f'{workers} workers {rate:.0f}' for workers, rate in by_workers.items())
        best = max(by_workers.values())
        verdict = 'never the bottleneck' if best > needed else 'TOO SLOW: the step would wait for data'
        lines.append(f'  {stream}: {rates}; step needs {needed:.1f} -> {verdict} ({best / needed:.0f}x margin)')
    return lines


def format_report(report: dict) -> str:
    lines = _header(report)
    if 'equality' in report:
        lines += _equality(report['equality'])
    lines += _timing(report)
    if report.get('data_loading'):
        lines += _loading(report)
    return '\n'.join(lines)
