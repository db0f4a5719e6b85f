"""The demo report: metric tables (mean ± std over seeds, best per column in bold), the verdict on each part of the
paper's claim from per-image and per-seed paired differences with intervals, an image grid, loss curves, the
commands and the wall time of every stage."""

import glob
import html
import json
import re
from os import path as osp
from typing import Optional

import cv2
import numpy as np

from basicsr.evaluation.comparison import NO_DIFFERENCE, paired_difference
from basicsr.evaluation.training_log import parse_losses

ROWS = [
    ('bicubic', 'Bicubic'),
    ('generalist', 'Generalist M_G (start of PDD-EMA)'),
    ('specialist', 'Specialist M_S (start of PDD-static)'),
    ('control', 'Supervised-only control'),
    ('nd', 'ND (naive feature distillation)'),
    ('pdd_static', 'PDD-static'),
    ('pdd_ema', 'PDD-EMA'),
]
COLUMNS = [
    ('psnr', 'PSNR-Y ↑', True, 2),
    ('ssim', 'SSIM-Y ↑', True, 4),
    ('haarpsi', 'HaarPSI ↑', True, 4),
    ('lpips', 'LPIPS ↓', False, 4),
    ('niqe', 'NIQE ↓', False, 3),
]
# the paper's claim in parts: (candidate row, baseline row, what is compared)
CLAIMS = [
    ('generalist', 'bicubic', 'The generalist against bicubic'),
    ('pdd_ema', 'generalist', 'PDD-EMA against the generalist it starts from'),
    ('pdd_ema', 'control', 'PDD-EMA against the supervised-only control'),
    ('pdd_static', 'specialist', 'PDD-static against the specialist it starts from'),
]
CLAIM_METRICS = ('psnr', 'haarpsi', 'lpips', 'niqe')
MARKS = {'better': '✅', 'worse': '❌', NO_DIFFERENCE: '➖'}
TUNED_DOMAIN = 'options/demo/degradations/camera.yml'
GRID_IMAGES = 4
GRID_ROWS = ['generalist', 'specialist', 'control', 'pdd_ema']
CURVE_KEYS = [
    ('l_inter', 'l_inter (PDD inter-model)'),
    ('l_intra', 'l_intra (PDD intra-model)'),
    ('l_g_pix', 'pixel (wavelet L1)'),
    ('l_g_percep', 'perceptual'),
    ('l_g_gan', 'GAN (generator)'),
]


def collect(metric_dir: str, target: str, seeds: int) -> dict[str, list[dict[str, dict]]]:
    """{row: [{image: {metric: value}} of each run]}: one run for the fixed rows, one per seed for the adapted."""
    runs: dict[str, list[dict[str, dict]]] = {}
    files = [osp.join(metric_dir, f'{target}_fixed.json')] + [
        osp.join(metric_dir, f'{target}_s{s}.json') for s in range(seeds)
    ]
    for path in files:
        with open(path) as f:
            for row, result in json.load(f)['rows'].items():
                runs.setdefault(row, []).append(result['per_image'])
    return runs


def summarise(runs: dict[str, list[dict[str, dict]]]) -> dict[str, dict[str, Optional[tuple[float, float]]]]:
    """{row: {metric: (mean over images, then mean and std over runs) or None}}."""
    table = {}
    for row, row_runs in runs.items():
        table[row] = {}
        for key, *_ in COLUMNS:
            means = [
                np.mean([v[key] for v in run.values()]) for run in row_runs if next(iter(run.values()))[key] is not None
            ]
            table[row][key] = (float(np.mean(means)), float(np.std(means))) if means else None
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


def paired_values(runs: dict, baseline: str, candidate: str, key: str) -> tuple[list[float], list[float]]:
    """Values of two rows matched per (image, seed); a fixed row's single run pairs with every seed of the other."""
    base, cand = runs[baseline], runs[candidate]
    pairs = [
        (base[min(seed, len(base) - 1)][image][key], cand[min(seed, len(cand) - 1)][image][key])
        for seed in range(max(len(base), len(cand)))
        for image in base[0]
    ]
    return [b for b, _ in pairs], [c for _, c in pairs]


def verdict(runs: dict) -> list[str]:
    """One line per part of the claim: per metric, the mean paired difference (candidate - baseline) over images
    and seeds with its 95% t interval, and better / worse / no measurable difference (interval holds zero)."""
    lines = []
    for candidate, baseline, label in CLAIMS:
        if candidate not in runs or baseline not in runs:
            if candidate != 'pdd_static':  # PDD-static runs only with --methods asking for it
                lines.append(f'- not checked: {label} (a row this run did not train)')
            continue
        parts = []
        for key, title, higher, digits in COLUMNS:
            if key not in CLAIM_METRICS or next(iter(runs[candidate][0].values()))[key] is None:
                continue
            diff = paired_difference(*paired_values(runs, baseline, candidate, key))
            outcome = diff.verdict(higher)
            parts.append(
                f'{title[:-2]} {MARKS[outcome]} {outcome} {diff.mean:+.{digits}f} '
                f'[{diff.low:+.{digits}f}, {diff.high:+.{digits}f}]'
            )
        pairs = len(runs[baseline][0]) * max(len(runs[baseline]), len(runs[candidate]))
        lines.append(f'- {label} (n = {pairs}): ' + '; '.join(parts))
    return lines


def photo_of(image: str) -> str:
    """The held-out photo a crop comes from (crops are named `<photo>_y<y>_x<x>`)."""
    return re.sub(r'_y\d+_x\d+$', '', image)


def photo_counts(images: list[str]) -> str:
    """'coffee ×4, chelsea ×2, ...': the held-out photos and their number of crops."""
    photos = [photo_of(name) for name in images]
    return ', '.join(f'{p} ×{photos.count(p)}' for p in dict.fromkeys(photos))


def grid_images(images: list[str], count: int = GRID_IMAGES) -> list[str]:
    """The first crop of `count` photos spread over the held-out list (the grid stays one screen tall)."""
    firsts: dict[str, str] = {}
    for name in images:
        firsts.setdefault(photo_of(name), name)
    names = list(firsts.values())
    return [names[i * len(names) // count] for i in range(min(count, len(names)))]


def zoom_crop(img: np.ndarray, box: tuple[int, int, int], zoom: int) -> np.ndarray:
    y, x, size = box
    return cv2.resize(img[y : y + size, x : x + size], (size * zoom, size * zoom), interpolation=cv2.INTER_NEAREST)


def most_detailed_box(gt: np.ndarray, size: int) -> tuple[int, int, int]:
    """The size x size window with the most gradient energy: where SR methods differ most visibly."""
    gray = cv2.cvtColor(gt, cv2.COLOR_BGR2GRAY).astype(np.float32)
    energy = np.abs(cv2.Laplacian(gray, cv2.CV_32F))
    integral = cv2.boxFilter(energy, -1, (size, size), normalize=False, anchor=(0, 0))
    valid = integral[: gt.shape[0] - size + 1, : gt.shape[1] - size + 1]
    y, x = np.unravel_index(np.argmax(valid), valid.shape)
    return int(y), int(x), size


def image_grid(
    data_root: str,
    outputs_root: str,
    target: str,
    images: list[str],
    path: str,
    split: str = 'test',
    size: int = 128,
    zoom: int = 2,
) -> None:
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
        rows.append(
            np.concatenate(
                [np.pad(zoom_crop(p, box, zoom), ((2, 2), (2, 2), (0, 0)), constant_values=255) for p in panels], axis=1
            )
        )
    grid = np.concatenate(rows, axis=0)
    header = np.full((label_h, grid.shape[1], 3), 255, np.uint8)
    width = grid.shape[1] // len(titles)
    for i, title in enumerate(titles):
        cv2.putText(
            header,
            title.replace('_', '-'),
            (i * width + 4, 16),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.45,
            (0, 0, 0),
            1,
            cv2.LINE_AA,
        )
    cv2.imwrite(path, np.concatenate([header, grid], axis=0))


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
            out.append(
                ('<table>' if not in_table else '')
                + '<tr>'
                + ''.join(f'<{tag}>{_inline(c)}</{tag}>' for c in cells)
                + '</tr>'
            )
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
    style = (
        'body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse}'
        'td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}pre{background:#f4f4f4;padding:6px;'
        'white-space:pre-wrap}img{max-width:100%}'
    )
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


def domain_heading(target: str, degradation: str) -> str:
    """'## Target domain `name` (role)': only the shipped camera.yml is the domain the demo was tuned on."""
    tuned = osp.normpath(degradation) == TUNED_DOMAIN
    return f'## Target domain `{target}` ({"the domain the demo was tuned on" if tuned else "never used for tuning"})'


def target_section(out_dir: str, data_root: str, target: str, degradation: str, seeds: int, split: str) -> list[str]:
    """The report's part for one target domain: table, claim lines, image grid and loss curves (PNGs written)."""
    runs = collect(osp.join(out_dir, 'metrics'), target, seeds)
    with open(osp.join(out_dir, 'metrics', f'{target}_fixed.json')) as f:
        images = json.load(f)['images']
    md = [
        '',
        domain_heading(target, degradation),
        '',
        f'Degradation: `{degradation}`. Scored on the {split} set, x4: {len(images)} crops of '
        f'{len(set(map(photo_of, images)))} photos ({photo_counts(images)}). Adapted rows: mean'
        + (f' ± std over seeds 0..{seeds - 1}' if seeds > 1 else ' of seed 0')
        + '; best per column in bold.',
        '',
        markdown_table(summarise(runs), seeds),
        '',
        'The claim, part by part: the mean paired difference (candidate - baseline) over crops'
        f'{" and seeds" if seeds > 1 else ""} with its 95% t interval; ✅ / ❌ when the interval excludes zero, ➖ '
        'when it holds zero. Crops of one photo are not independent draws, so the intervals are somewhat narrow.',
        '',
        *verdict(runs),
    ]
    grid, curves = f'grid_{target}.png', f'losses_{target}.png'
    image_grid(
        data_root, osp.join(out_dir, 'outputs', target), target, grid_images(images), osp.join(out_dir, grid), split
    )
    loss_curves(
        {
            'PDD-EMA': osp.join(out_dir, 'runs', f'pdd_ema_{target}_s0'),
            'control': osp.join(out_dir, 'runs', f'control_{target}_s0'),
        },
        osp.join(out_dir, curves),
    )
    return md + [
        '',
        f'![grid]({grid})',
        '',
        'Zoomed crops (seed 0): LR input (nearest), generalist, specialist, control, PDD-EMA, GT.',
        '',
        f'![losses]({curves})',
        '',
        'Training losses of PDD-EMA and the control (seed 0), as logged by train.py.',
    ]


def build_report(
    out_dir: str,
    data_root: str,
    targets: dict[str, str],
    seeds: int,
    settings: dict,
    stages: dict[str, dict],
    total_wall_s: float,
) -> str:
    """Write report.md / report.html (+ PNGs) into `out_dir` from the metric files and stage records; `targets`
    maps each target domain's name to its degradation file."""
    md = [
        '# PDD demo report',
        '',
        f'Generated {settings["date"]} by `{settings["command"]}` ({settings["size"]} size, {seeds} seed(s), '
        f'{settings["cpus"]} CPU cores). Total wall time of this run: {total_wall_s / 60:.1f} min.',
        '',
        'Question: does PDD adapt a specialist-generalist pair to a degradation it never saw in pairs, and beat '
        'the generalist it starts from, by distillation rather than by more supervised training? Every number '
        f'below is what this run measured, on held-out {settings["split"]} photos whose GT was never used in '
        'training.',
        '',
        f'Pretrained models: {settings["pretrained"]}. Adaptation: {settings["adapt_iters"]} steps per run.',
        '',
        f'Feature extractor for the perceptual and distillation losses: {FEATURE_NOTES[settings["features"]]}.',
        '',
        'HaarPSI (Reisenhofer et al., 2018; 1 = identical to the GT) is a full-reference perceptual score built '
        'from fixed Haar filters, so it needs no downloaded weights; NIQE is a no-reference naturalness score.',
    ]
    if settings['features'] != 'imagenet':
        md += [
            '',
            'LPIPS needs the ImageNet AlexNet backbone; without it the LPIPS column reads n/a. To use real '
            'weights, run once on a connected machine: `python -c "import '
            "torchvision; torchvision.models.vgg19(weights='IMAGENET1K_V1'); "
            "torchvision.models.alexnet(weights='IMAGENET1K_V1')\"` and copy ~/.cache/torch/hub/checkpoints here.",
        ]
    for target, degradation in targets.items():
        md += target_section(out_dir, data_root, target, degradation, seeds, settings['split'])
    md += [
        '',
        '## Reproduce',
        '',
        'Every stage is one command, run from the repository root (seeds are the '
        '`manual_seed=` overrides; the data maker is deterministic):',
        '',
    ]
    for name, record in stages.items():
        md += [
            f'- `{name}` ({record["wall_s"]:.0f} s):',
            '',
            '```',
            record['command'].replace(settings['python'], 'python'),
            '```',
        ]
    md += ['', '## Wall time per stage', '', '| Stage | Wall time (s) |', '|---|---:|']
    md += [f'| {name} | {record["wall_s"]:.0f} |' for name, record in stages.items()]
    text = '\n'.join(md) + '\n'
    with open(osp.join(out_dir, 'report.md'), 'w') as f:
        f.write(text)
    with open(osp.join(out_dir, 'report.html'), 'w') as f:
        f.write(to_html(text))
    return osp.join(out_dir, 'report.md')
