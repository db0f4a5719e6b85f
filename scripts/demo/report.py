"""The demo report: metric tables (mean ± std over seeds, best per column in bold), the verdict on the paper's
claim computed from those numbers, an image grid, loss curves, the commands and the wall time of every stage."""
import glob
import html
import json
import re
from os import path as osp
from typing import Optional

import cv2
import numpy as np

from basicsr.evaluation.comparison import NO_DIFFERENCE, PairedDifference, paired_difference

ROWS = [('bicubic', 'Bicubic'), ('generalist', 'Generalist M_G (start of PDD-EMA)'),
        ('specialist', 'Specialist M_S (start of PDD-static)'), ('control', 'Supervised-only control'),
        ('nd', 'ND (naive feature distillation)'), ('pdd_static', 'PDD-static'), ('pdd_ema', 'PDD-EMA')]
COLUMNS = [('psnr', 'PSNR-Y ↑', True, 2), ('ssim', 'SSIM-Y ↑', True, 4), ('lpips', 'LPIPS ↓', False, 4),
           ('niqe', 'NIQE ↓', False, 3)]
GRID_ROWS = ['generalist', 'specialist', 'control', 'pdd_ema']
CURVE_KEYS = [('l_inter', 'l_inter (PDD inter-model)'), ('l_intra', 'l_intra (PDD intra-model)'),
              ('l_g_pix', 'pixel (wavelet L1)'), ('l_g_percep', 'perceptual'), ('l_g_gan', 'GAN (generator)')]


def collect(metric_dir: str, target: str, seeds: int, field: str = 'mean') -> dict[str, list[dict]]:
    """{row: [`field` of each seed: 'mean' metrics, or 'per_image' {image: metrics}]}; fixed rows have one entry."""
    values: dict[str, list[dict]] = {}
    files = [osp.join(metric_dir, f'{target}_fixed.json')] + [osp.join(metric_dir, f'{target}_s{s}.json')
                                                              for s in range(seeds)]
    for path in files:
        with open(path) as f:
            for row, result in json.load(f)['rows'].items():
                values.setdefault(row, []).append(result[field])
    return values


def summarise(values: dict[str, list[dict]]) -> dict[str, dict[str, Optional[tuple[float, float]]]]:
    """{row: {metric: (mean, std over seeds) or None}}."""
    table = {}
    for row, runs in values.items():
        table[row] = {}
        for key, *_ in COLUMNS:
            samples = [r[key] for r in runs if r[key] is not None]
            table[row][key] = (float(np.mean(samples)), float(np.std(samples))) if samples else None
    return table


def markdown_table(table: dict, seeds: int) -> str:
    best = {}
    for key, _, higher, _ in COLUMNS:
        scored = [(cell[0], row) for row, cells in table.items() if (cell := cells[key]) is not None]
        if scored:
            best[key] = (max if higher else min)(scored)[1]
    lines = ['| Method | ' + ' | '.join(c[1] for c in COLUMNS) + ' |', '|---|' + '---:|' * len(COLUMNS)]
    for row, label in ROWS:
        if row not in table:
            continue
        cells = []
        for key, _, _, digits in COLUMNS:
            cell = table[row][key]
            if cell is None:
                cells.append('n/a')
                continue
            text = f'{cell[0]:.{digits}f}' + (f' ± {cell[1]:.{digits}f}' if seeds > 1 and row in SEEDED else '')
            cells.append(f'**{text}**' if best.get(key) == row else text)
        lines.append(f'| {label} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


SEEDED = {'control', 'nd', 'pdd_static', 'pdd_ema'}


def paired(per_image: dict[str, list[dict]], row: str, other: str, key: str) -> PairedDifference:
    """`row` minus `other` per image and seed (a fixed row pairs with every seed of a seeded one)."""
    baseline, candidate = [], []
    runs = max(len(per_image[row]), len(per_image[other]))
    for run in range(runs):
        mine = per_image[row][min(run, len(per_image[row]) - 1)]
        theirs = per_image[other][min(run, len(per_image[other]) - 1)]
        for image in mine:
            baseline.append(theirs[image][key])
            candidate.append(mine[image][key])
    return paired_difference(baseline, candidate)


def verdict(table: dict, per_image: dict[str, list[dict]]) -> list[str]:
    """The claim's parts, each a paired difference over images (and seeds) with its 95% interval: a difference
    whose interval holds zero is 'no measurable difference', not a win or a loss. A part whose rows were not run
    (`--methods` picks a subset while tuning) is named as not checked."""
    perceptual = 'lpips' if all(cells['lpips'] is not None for cells in table.values()) else 'niqe'
    marks = {'better': '✅', 'worse': '❌', NO_DIFFERENCE: '➖'}

    def check(label: str, row: str, other: str, key: str, higher_is_better: bool) -> str:
        difference = paired(per_image, row, other, key)
        outcome = difference.verdict(higher_is_better)
        return f'- {marks[outcome]} {label}: {outcome}, {difference.describe()}'

    lines = [check('the generalist vs bicubic (PSNR, dB)', 'generalist', 'bicubic', 'psnr', True)]
    for other in ('generalist', 'control'):
        if 'pdd_ema' not in table or other not in table:
            lines.append(f'- not checked: PDD-EMA against the {other} (a row this run did not train)')
            continue
        lines.append(check(f'PDD-EMA vs the {other} (PSNR, dB)', 'pdd_ema', other, 'psnr', True))
        lines.append(check(f'PDD-EMA vs the {other} ({perceptual.upper()}, lower is better)', 'pdd_ema', other,
                           perceptual, False))
    if 'pdd_static' in table:
        lines.append(check('PDD-static vs the specialist it starts from (PSNR, dB)', 'pdd_static', 'specialist',
                           'psnr', True))
    return lines


def zoom_crop(img: np.ndarray, box: tuple[int, int, int], zoom: int) -> np.ndarray:
    y, x, size = box
    return cv2.resize(img[y:y + size, x:x + size], (size * zoom, size * zoom), interpolation=cv2.INTER_NEAREST)


def most_detailed_box(gt: np.ndarray, size: int) -> tuple[int, int, int]:
    """The size x size window with the most gradient energy: where SR methods differ most visibly."""
    gray = cv2.cvtColor(gt, cv2.COLOR_BGR2GRAY).astype(np.float32)
    energy = np.abs(cv2.Laplacian(gray, cv2.CV_32F))
    integral = cv2.boxFilter(energy, -1, (size, size), normalize=False, anchor=(0, 0))
    valid = integral[:gt.shape[0] - size + 1, :gt.shape[1] - size + 1]
    y, x = np.unravel_index(np.argmax(valid), valid.shape)
    return int(y), int(x), size


def image_grid(data_root: str, outputs_root: str, target: str, images: list[str], path: str, split: str = 'test',
               size: int = 128, zoom: int = 2) -> None:
    """One row per test image: LR (nearest) | generalist | specialist | control | PDD-EMA | GT, zoomed crops."""
    label_h, rows = 22, []
    titles = ['LR (input)', *GRID_ROWS, 'GT']
    for name in images:
        gt = cv2.imread(osp.join(data_root, 'hr', split, f'{name}.png'))
        lr = cv2.imread(osp.join(data_root, 'lr', target, split, f'{name}.png'))
        lr_up = cv2.resize(lr, (gt.shape[1], gt.shape[0]), interpolation=cv2.INTER_NEAREST)
        box = most_detailed_box(gt, size)
        panels = [lr_up] + [cv2.imread(osp.join(outputs_root, row, f'{name}.png')) for row in GRID_ROWS] + [gt]
        panels = [p if p is not None else np.zeros_like(gt) for p in panels]  # a row left out while tuning
        rows.append(np.concatenate([np.pad(zoom_crop(p, box, zoom), ((2, 2), (2, 2), (0, 0)), constant_values=255)
                                    for p in panels], axis=1))
    grid = np.concatenate(rows, axis=0)
    header = np.full((label_h, grid.shape[1], 3), 255, np.uint8)
    width = grid.shape[1] // len(titles)
    for i, title in enumerate(titles):
        cv2.putText(header, title.replace('_', '-'), (i * width + 4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1,
                    cv2.LINE_AA)
    cv2.imwrite(path, np.concatenate([header, grid], axis=0))


def parse_losses(log_path: str) -> dict[str, list[tuple[int, float]]]:
    """{loss name: [(iter, value)]} from a BasicSR training log."""
    curves: dict[str, list[tuple[int, float]]] = {}
    with open(log_path) as f:
        for line in f:
            step = re.search(r', iter:\s*([\d,]+)', line)
            if step is None:
                continue
            for key, value in re.findall(r'\b(l_[a-z_]+): ([-+\d.e]+)', line):
                curves.setdefault(key, []).append((int(step.group(1).replace(',', '')), float(value)))
    return curves


def loss_curves(run_dirs: dict[str, str], path: str) -> None:
    """One panel per loss term; PDD-EMA and the control drawn together where both have the term."""
    import matplotlib
    matplotlib.use('Agg')
    from matplotlib import pyplot as plt
    logs = {label: sorted(glob.glob(osp.join(d, 'train_*.log'))) for label, d in run_dirs.items()}
    runs = {label: parse_losses(found[-1]) for label, found in logs.items() if found}  # rows not run are left out
    fig, axes = plt.subplots(1, len(CURVE_KEYS), figsize=(4 * len(CURVE_KEYS), 3.2))
    for axis, (key, title) in zip(axes, CURVE_KEYS):
        for label, curves in runs.items():
            if key in curves:
                steps, values = zip(*curves[key])
                axis.plot(steps, values, label=label, linewidth=1)
        axis.set_title(title, fontsize=10)
        axis.set_xlabel('iteration')
        if axis.lines:
            axis.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def to_html(markdown: str) -> str:
    """A minimal HTML rendering of the report (headings, tables, images, code, lists), no extra dependency."""
    out, in_table, in_code = [], False, False
    for line in markdown.splitlines():
        if line.startswith('```'):
            out.append('</pre>' if in_code else '<pre>')
            in_code = not in_code
            continue
        if in_code:
            out.append(html.escape(line))
            continue
        if line.startswith('|'):
            cells = [c.strip() for c in line.strip('|').split('|')]
            if set(''.join(cells)) <= set('-:'):
                continue
            tag = 'th' if not in_table else 'td'
            out.append(('<table>' if not in_table else '') + '<tr>' + ''.join(
                f'<{tag}>{_inline(c)}</{tag}>' for c in cells) + '</tr>')
            in_table = True
            continue
        if in_table:
            out.append('</table>')
            in_table = False
        heading = re.match(r'(#+) (.*)', line)
        if heading:
            level = len(heading.group(1))
            out.append(f'<h{level}>{_inline(heading.group(2))}</h{level}>')
        elif line.startswith('- '):
            out.append(f'<li>{_inline(line[2:])}</li>')
        elif line.strip():
            out.append(f'<p>{_inline(line)}</p>')
    if in_table:
        out.append('</table>')
    style = ('body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse}'
             'td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}pre{background:#f4f4f4;padding:6px;'
             'white-space:pre-wrap}img{max-width:100%}')
    return f'<!doctype html><meta charset="utf-8"><title>PDD demo report</title><style>{style}</style>' + '\n'.join(out)


def _inline(text: str) -> str:
    text = html.escape(text)
    text = re.sub(r'!\[([^\]]*)\]\(([^)]+)\)', r'<img alt="\1" src="\2">', text)
    text = re.sub(r'\*\*([^*]+)\*\*', r'<b>\1</b>', text)
    return re.sub(r'`([^`]+)`', r'<code>\1</code>', text)


FEATURE_NOTES = {
    'selfsup': 'the slim VGG19-layout extractor trained by `make demo-pretrain` on self-supervised tasks over the '
               'training photos (scripts/demo/features.py); no ImageNet weights were found in the torch hub cache',
    'random': 'the slim VGG19 layout with RANDOM Kaiming fan-in weights (an ablation; features carry no learned '
              'statistics)',
    'imagenet': "torchvision's ImageNet VGG19 (vgg19-dcbb9e9d.pth, found in the torch hub cache)",
}


TUNED_DOMAIN = 'options/demo/degradations/camera.yml'  # the one domain the demo's settings were chosen on


def domain_role(target_file: str) -> str:
    """How a target domain relates to the demo's tuning, from its degradation file (a user's file never was)."""
    path = osp.normpath(target_file)
    if path == osp.normpath(TUNED_DOMAIN):
        return 'the domain the demo was tuned on'
    if osp.dirname(path) == osp.dirname(osp.normpath(TUNED_DOMAIN)):
        return 'a second domain, never used for tuning'
    return 'a domain given as a file, never used for tuning'


def build_report(out_dir: str, data_root: str, targets: list[str], seeds: int, settings: dict,
                 stages: dict[str, dict], total_wall_s: float) -> str:
    """Write report.md / report.html (+ PNGs) into `out_dir` from the metric files and stage records."""
    md = ['# PDD demo report', '',
          f'Generated {settings["date"]} by `{settings["command"]}` ({settings["size"]} size, {seeds} seed(s), '
          f'{settings["cpus"]} CPU cores). Total wall time of this run: {total_wall_s / 60:.1f} min.', '',
          'Question: does PDD adapt a specialist-generalist pair to a degradation it never saw in pairs, and beat '
          'the generalist it starts from, by distillation rather than by more supervised training? Every number '
          f'below is what this run measured, on held-out {settings["split"]} photos whose GT was never used in '
          'training.', '',
          f'Pretrained models: {settings["pretrained"]}. Adaptation: {settings["adapt_iters"]} steps per run.', '',
          f'Feature extractor for the perceptual and distillation losses: {FEATURE_NOTES[settings["features"]]}.']
    if settings['features'] != 'imagenet':
        md += ['', 'LPIPS needs the ImageNet AlexNet backbone; without it the LPIPS column reads n/a and NIQE is the '
               'perceptual score. To use real weights, run once on a connected machine: `python -c "import '
               'torchvision; torchvision.models.vgg19(weights=\'IMAGENET1K_V1\'); '
               'torchvision.models.alexnet(weights=\'IMAGENET1K_V1\')"` and copy ~/.cache/torch/hub/checkpoints here.']
    for target, target_file in zip(targets, settings['target_files']):
        table = summarise(collect(osp.join(out_dir, 'metrics'), target, seeds))
        with open(osp.join(out_dir, 'metrics', f'{target}_fixed.json')) as f:
            images = json.load(f)['images']
        md += ['', f'## Target domain `{target}` ({domain_role(target_file)})', '',
               f'Degradation: `{target_file}`. Scored on the {settings["split"]} photos '
               f'({", ".join(images)}; full images, x4). Adapted rows: mean' +
               (f' ± std over seeds 0..{seeds - 1}' if seeds > 1 else ' of seed 0') + '; best per column in bold.',
               '', markdown_table(table, seeds), '', 'The claim, checked pair by pair (per image and seed, 95% t '
               'interval):', '', *verdict(table, collect(osp.join(out_dir, 'metrics'), target, seeds, 'per_image'))]
        grid = f'grid_{target}.png'
        image_grid(data_root, osp.join(out_dir, 'outputs', target), target, images, osp.join(out_dir, grid),
                   settings['split'])
        curves = f'losses_{target}.png'
        loss_curves({'PDD-EMA': osp.join(out_dir, 'runs', f'pdd_ema_{target}_s0'),
                     'control': osp.join(out_dir, 'runs', f'control_{target}_s0')}, osp.join(out_dir, curves))
        md += ['', f'![grid]({grid})', '', 'Zoomed crops (seed 0): LR input (nearest), generalist, specialist, '
               'control, PDD-EMA, GT.', '', f'![losses]({curves})', '',
               'Training losses of PDD-EMA and the control (seed 0), as logged by train.py.']
    md += ['', '## Reproduce', '', 'Every stage is one command, run from the repository root (seeds are the '
           '`manual_seed=` overrides; the data maker is deterministic):', '']
    for name, record in stages.items():
        md += [f'- `{name}` ({record["wall_s"]:.0f} s):', '', '```', record['command'].replace(
            settings['python'], 'python'), '```']
    md += ['', '## Wall time per stage', '', '| Stage | Wall time (s) |', '|---|---:|']
    md += [f'| {name} | {record["wall_s"]:.0f} |' for name, record in stages.items()]
    text = '\n'.join(md) + '\n'
    with open(osp.join(out_dir, 'report.md'), 'w') as f:
        f.write(text)
    with open(osp.join(out_dir, 'report.html'), 'w') as f:
        f.write(to_html(text))
    return osp.join(out_dir, 'report.md')
