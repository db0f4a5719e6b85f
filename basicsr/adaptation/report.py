"""`report.md` and `report.html` of an adaptation: held-out photos side by side (full view and zoomed crops), the
scores per photo with the mean paired difference and its interval, the loss curves, the exported files."""

import html
import math
import os
import re
from collections.abc import Sequence
from typing import Optional

import cv2
import numpy as np

from basicsr.adaptation.holdout import HoldoutResult
from basicsr.evaluation.training_log import parse_losses
from basicsr.utils.crop_grid import LABEL_HEIGHT, crop, crop_box, make_grid, put_label, zoom

FULL_VIEW_WIDTH = 480  # px per model in the full-view figure
ZOOM_BOX = 64  # HR px of the zoomed crop, shown 3x
CURVES = [
    ('l_inter', 'PDD inter-model'),
    ('l_intra', 'PDD intra-model'),
    ('l_g_pix', 'pixel (wavelet L1)'),
    ('l_g_percep', 'perceptual'),
    ('l_g_gan', 'GAN (generator)'),
    ('l_d_real', 'D on real'),
]

Block = tuple  # ('h', level, text) | ('p', text) | ('table', header, rows) | ('img', file, alt) | ('code', text)


def full_view(outputs: dict[str, np.ndarray], path: str) -> None:
    """Each model's whole output side by side under its label, resized to FULL_VIEW_WIDTH px wide (JPEG)."""
    panels = []
    for label, img in outputs.items():
        height = round(img.shape[0] * FULL_VIEW_WIDTH / img.shape[1])
        panel = np.full((height + LABEL_HEIGHT, FULL_VIEW_WIDTH, 3), 255, np.uint8)
        panel[LABEL_HEIGHT:] = cv2.resize(img, (FULL_VIEW_WIDTH, height), interpolation=cv2.INTER_AREA)
        put_label(panel, label, 0, 0, FULL_VIEW_WIDTH, LABEL_HEIGHT)
        panels.append(np.pad(panel, ((0, 0), (2, 2), (0, 0)), constant_values=255))
    cv2.imwrite(path, np.concatenate(panels, axis=1), [cv2.IMWRITE_JPEG_QUALITY, 88])


def zoomed_crops(lr: np.ndarray, outputs: dict[str, np.ndarray], scale: int, path: str) -> None:
    """The central HR box of every output and the LR pixels it comes from (nearest), enlarged 3x."""
    height, width = next(iter(outputs.values())).shape[:2]
    box = crop_box(height, width, ZOOM_BOX, multiple=scale)
    lr_up = cv2.resize(lr, (width, height), interpolation=cv2.INTER_NEAREST)
    cells = [zoom(crop(lr_up, box), 3)] + [zoom(crop(img, box), 3) for img in outputs.values()]
    cv2.imwrite(path, make_grid([cells], ['LR input (nearest)', *outputs]))


def loss_curves(log_path: str, path: str) -> bool:
    """One panel per logged loss term; False when the log holds no loss lines yet."""
    curves = parse_losses(log_path)
    shown = [(key, title) for key, title in CURVES if key in curves]
    if not shown:
        return False
    import matplotlib

    matplotlib.use('Agg')
    from matplotlib import pyplot as plt

    fig, axes = plt.subplots(1, len(shown), figsize=(3.2 * len(shown), 2.8), squeeze=False)
    for axis, (key, title) in zip(axes[0], shown):
        steps, values = zip(*curves[key])
        axis.plot(steps, values, linewidth=1)
        axis.set_title(title, fontsize=9)
        axis.set_xlabel('iteration', fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return True


def cell(value: float) -> str:
    return 'n/a' if math.isnan(value) else f'{value:.3f}'


def score_blocks(result: HoldoutResult) -> list[Block]:
    """Per-photo table and, per metric, the mean paired difference with its interval and verdict."""
    header = ['Photo'] + [f'{m.name} {model}' for m in result.metrics for model in ('generalist', 'adapted')]
    rows = [
        [photo] + [cell(result.scores[m.name][model][i]) for m in result.metrics for model in ('generalist', 'adapted')]
        for i, photo in enumerate(result.photos)
    ]
    blocks: list[Block] = [('table', header, rows)]
    for metric in result.metrics:
        direction = 'higher' if metric.higher_is_better else 'lower'
        blocks.append(
            ('p', f'{metric.name} ({direction} is better), adapted minus generalist: **{result.summary(metric)}**.')
        )
    if len(result.photos) < 2:
        blocks.append(
            (
                'p',
                'One held-out photo cannot decide anything (its interval is unbounded): hold out more '
                'photos (--holdout) for a measurable comparison.',
            )
        )
    return blocks


def photo_blocks(result: HoldoutResult, holdout_dir: str, scale: int, figure_dir: str) -> list[Block]:
    blocks: list[Block] = []
    for photo in result.photos:
        stem = os.path.splitext(photo)[0]
        outputs = {
            model: cv2.imread(os.path.join(result.results_dir, model, photo)) for model in ('generalist', 'adapted')
        }
        full_view(outputs, os.path.join(figure_dir, f'{stem}_full.jpg'))
        zoomed_crops(
            cv2.imread(os.path.join(holdout_dir, photo)), outputs, scale, os.path.join(figure_dir, f'{stem}_zoom.png')
        )
        blocks += [
            ('h', 3, photo),
            ('img', f'report_files/{stem}_full.jpg', f'{photo}: generalist | adapted'),
            ('img', f'report_files/{stem}_zoom.png', f'{photo}: zoomed centre'),
        ]
    return blocks


def render_markdown(blocks: Sequence[Block]) -> str:
    out = []
    for kind, *rest in blocks:
        if kind == 'h':
            out.append(f'{"#" * rest[0]} {rest[1]}')
        elif kind == 'p':
            out.append(rest[0])
        elif kind == 'table':
            header, rows = rest
            out += ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
            out += ['| ' + ' | '.join(row) + ' |' for row in rows]
        elif kind == 'img':
            out.append(f'![{rest[1]}]({rest[0]})')
        elif kind == 'code':
            out.append(f'```\n{rest[0]}\n```')
        out.append('')
    return '\n'.join(out)


def render_html(blocks: Sequence[Block], title: str) -> str:
    def text(value: str) -> str:
        escaped = re.sub(r'`([^`]+)`', r'<code>\1</code>', html.escape(value)).split('**')
        return ''.join(f'<b>{part}</b>' if i % 2 else part for i, part in enumerate(escaped))

    out = [
        f'<!doctype html><meta charset="utf-8"><title>{html.escape(title)}</title><style>body{{font-family:'
        'sans-serif;max-width:1100px;margin:auto}td,th{border:1px solid #ccc;padding:3px 8px}table{border-collapse:'
        'collapse}img{max-width:100%}pre{background:#f4f4f4;padding:6px;white-space:pre-wrap}</style>'
    ]
    for kind, *rest in blocks:
        if kind == 'h':
            out.append(f'<h{rest[0]}>{text(rest[1])}</h{rest[0]}>')
        elif kind == 'p':
            out.append(f'<p>{text(rest[0])}</p>')
        elif kind == 'table':
            header, rows = rest
            out.append(
                '<table><tr>'
                + ''.join(f'<th>{text(h)}</th>' for h in header)
                + '</tr>'
                + ''.join('<tr>' + ''.join(f'<td>{text(c)}</td>' for c in row) + '</tr>' for row in rows)
                + '</table>'
            )
        elif kind == 'img':
            out.append(f'<p><img src="{html.escape(rest[0])}" alt="{html.escape(rest[1])}"></p>')
        elif kind == 'code':
            out.append(f'<pre>{html.escape(rest[0])}</pre>')
    return '\n'.join(out)


def write_report(
    out_dir: str,
    header: list[Block],
    result: HoldoutResult,
    holdout_dir: str,
    scale: int,
    log_path: Optional[str],
    footer: list[Block],
) -> str:
    """Write `report.md`, `report.html` and their figures under `out_dir/report_files`; returns the .md path."""
    figure_dir = os.path.join(out_dir, 'report_files')
    os.makedirs(figure_dir, exist_ok=True)
    blocks = list(header) + [('h', 2, 'Held-out photos: generalist vs adapted')]
    blocks += score_blocks(result) + photo_blocks(result, holdout_dir, scale, figure_dir)
    if log_path and loss_curves(log_path, os.path.join(figure_dir, 'losses.png')):
        blocks += [('h', 2, 'Training losses'), ('img', 'report_files/losses.png', 'loss curves')]
    blocks += footer
    with open(os.path.join(out_dir, 'report.md'), 'w') as f:
        f.write(render_markdown(blocks))
    with open(os.path.join(out_dir, 'report.html'), 'w') as f:
        f.write(render_html(blocks, 'basicsr-adapt report'))
    return os.path.join(out_dir, 'report.md')
