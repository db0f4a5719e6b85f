"""After training: the adapted and the generalist model on the held-out photos, the export of the adapted model,
and the report that puts both together."""

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

from torch import nn

from basicsr.adaptation.holdout import HoldoutResult, evaluate_holdout, niqe_metric, pyiqa_metrics
from basicsr.adaptation.report import Block, write_report
from basicsr.archs import build_network
from basicsr.inference.network_loading import load_inference_network
from basicsr.inference.upscaler import Upscaler
from basicsr.interop.exporter import ExportReport, export_checkpoint
from basicsr.utils.checkpoint_util import CHECKPOINT_FORMATS

ADAPTED_KEY = 'params'  # net_g, the specialist M_S that PDD adapts (params_ema is its EMA: the EMA-mode teacher)


@dataclass
class AdaptationResult:
    holdout: HoldoutResult
    export: ExportReport
    summary: str


def adapted_network_file(run_dir: str) -> str:
    for ext in CHECKPOINT_FORMATS.values():
        path = os.path.join(run_dir, 'models', f'net_g_latest{ext}')
        if os.path.isfile(path):
            return path
    raise FileNotFoundError(
        f'{run_dir}/models holds no net_g_latest file: the training did not finish; continue it with --resume.'
    )


def generalist_network(generalist: dict) -> nn.Module:
    if generalist['network']['type'] == 'SpandrelNet':
        return build_network(generalist['network']).eval()
    return load_inference_network(generalist['path'], network_opt=generalist['network'], param_key='params_ema')[0]


def header_blocks(record: dict, wall_s: float, command: str) -> list[Block]:
    generalist = record['generalist']
    start = (
        'net_g and its EMA (the generalist) both start from'
        if record['mode'] == 'ema'
        else f'the specialist {record["specialist"]["path"]} is taught by the frozen'
    )
    skipped = '; '.join(f'{name} ({why})' for name, why in record['skipped'].items()) or 'none'
    quick = " (--quick: small crops and batches, far from the paper's 100k steps)" if record['quick'] else ''
    return [
        ('h', 1, 'basicsr-adapt report'),
        (
            'p',
            f'{time.strftime("%Y-%m-%d %H:%M")}, `{command}`. Wall time until this report: '
            f'{wall_s / 60:.1f} min on {record["device"]}.',
        ),
        (
            'p',
            f'PDD, {record["mode"].upper()} mode, x{record["scale"]}, {record["steps"]} steps{quick}: {start} '
            f'{generalist["path"]} ({generalist["network"]["type"]}).',
        ),
        (
            'p',
            f'Photos ({record["photos"]}): trained on {len(record["trained_on"])} (cut into {record["tiles"]} '
            f'tiles), held out {len(record["held_out"])}: {", ".join(record["held_out"])} (centre crops of at '
            f'most {record["holdout_side"]} px, never trained on); skipped: {skipped}.',
        ),
        ('p', f'Feature extractor of the losses: {record["vgg"]}.'),
        (
            'p',
            f"'Adapted' is the trained specialist (`{ADAPTED_KEY}` of net_g_latest); 'generalist' is the "
            'model it started from. No ground truth exists for your photos, so the scores are no-reference; '
            'a difference whose interval holds zero is reported as no measurable difference.',
        ),
    ]


def footer_blocks(out: str, export: ExportReport) -> list[Block]:
    rows = [[label, os.path.relpath(path, out)] for label, path in export.files.items()]
    errors = ', '.join(f'{p} {e:.1e}' for p, e in export.onnx_errors.items()) or 'none written'
    blocks: list[Block] = [
        ('h', 2, 'Exported model'),
        ('table', ['format', 'file'], rows),
        ('p', f'ONNX verified with onnxruntime against PyTorch on a held-out photo, max abs error: {errors}.'),
        ('p', export.spandrel.message()),
    ]
    blocks += [('p', f'Not written: {problem}') for problem in export.problems]
    return blocks + [
        ('h', 2, 'Repeat, edit or continue'),
        (
            'code',
            f'python basicsr/train.py -opt {out}/adapt.yml '
            '--auto_resume   # continue (raise total_iter)\n'
            f'basicsr-export {out}/run/models/net_g_latest.pth'
            f' --param-key {ADAPTED_KEY}   # export again',
        ),
    ]


def finish_adaptation(
    out: str, record: dict, pyiqa_names: Sequence[str], wall_s: float, command: str
) -> AdaptationResult:
    """Evaluate, export into <out>/export, write <out>/report.md and .html; returns what the summary line says."""
    adapted_file = adapted_network_file(record['run_dir'])
    start = record['specialist'] or record['generalist']
    adapted, _ = load_inference_network(adapted_file, network_opt=start['network'], param_key=ADAPTED_KEY)
    upscalers = {
        'generalist': Upscaler(generalist_network(record['generalist']), record['scale'], record['device']),
        'adapted': Upscaler(adapted, record['scale'], record['device']),
    }
    metrics = [niqe_metric(record['scale'])] + pyiqa_metrics(pyiqa_names, record['device'])
    holdout = evaluate_holdout(record['holdout_dir'], upscalers, metrics, os.path.join(out, 'results'))
    first_photo = os.path.join(record['holdout_dir'], holdout.photos[0])
    export = export_checkpoint(
        adapted_file, os.path.join(out, 'export'), 'adapted', ADAPTED_KEY, image_path=first_photo
    )
    log_files = sorted(f for f in os.listdir(record['run_dir']) if f.startswith('train_') and f.endswith('.log'))
    log_path = os.path.join(record['run_dir'], log_files[-1]) if log_files else None
    write_report(
        out,
        header_blocks(record, wall_s, command),
        holdout,
        record['holdout_dir'],
        record['scale'],
        log_path,
        footer_blocks(out, export),
    )
    summary = '\n'.join(f'{m.name}, adapted minus generalist: {holdout.summary(m)}' for m in metrics)
    return AdaptationResult(holdout, export, summary)
