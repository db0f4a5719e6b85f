"""The report's measurements: generalist and adapted model on the held-out photos (never trained on), each output
saved and scored with no-reference metrics (NIQE; pyiqa metrics on request), compared pair by pair."""

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Callable, Optional

import cv2
import numpy as np

from basicsr.evaluation.comparison import PairedDifference, paired_difference
from basicsr.inference.upscaler import Upscaler
from basicsr.metrics.niqe import calculate_niqe

MODELS = ('generalist', 'adapted')


@dataclass(frozen=True)
class Metric:
    """A no-reference score of an SR output (BGR uint8) and whether higher is better."""

    name: str
    score: Callable[[np.ndarray], float]
    higher_is_better: bool


def niqe_metric(scale: int) -> Metric:
    return Metric('NIQE', lambda img: calculate_niqe(img, crop_border=scale), higher_is_better=False)


def pyiqa_metrics(names: Sequence[str], device: str) -> list[Metric]:
    """pyiqa metrics by name (e.g. musiq, nrqm); pyiqa must be installed and hold their weights in its cache."""
    from basicsr.metrics.pyiqa_metric import calculate_pyiqa, pyiqa_better

    return [
        Metric(
            name,
            lambda img, name=name: calculate_pyiqa(img, metric=name, device=device),
            higher_is_better=pyiqa_better(name) == 'higher',
        )
        for name in names
    ]


@dataclass
class HoldoutResult:
    """Per-photo scores {metric: {model: [score per photo]}} over `photos`, and the SR outputs' folder."""

    photos: list[str]
    scores: dict[str, dict[str, list[float]]]
    metrics: list[Metric]
    results_dir: str

    def comparison(self, metric: Metric) -> Optional[PairedDifference]:
        """Adapted minus generalist over the photos both could be scored on, with its 95% t interval (None if none)."""
        pairs = [
            (g, a)
            for g, a in zip(*(self.scores[metric.name][m] for m in MODELS))
            if not (math.isnan(g) or math.isnan(a))
        ]
        return paired_difference(*zip(*pairs)) if pairs else None

    def summary(self, metric: Metric) -> str:
        """'<mean> [<low>, <high>] (...): <verdict>', or why there is no comparison."""
        difference = self.comparison(metric)
        if difference is None:
            return 'n/a: no held-out photo could be scored (too small for the metric)'
        return f'{difference.describe()}: {difference.verdict(metric.higher_is_better)}'


def super_resolve(upscaler: Upscaler, bgr: np.ndarray) -> np.ndarray:
    """BGR uint8 in, BGR uint8 out (the networks see RGB in [0, 1])."""
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
    out = upscaler.upscale_array(rgb)
    return cv2.cvtColor((out * 255.0).round().astype(np.uint8), cv2.COLOR_RGB2BGR)


def score_or_nan(metric: Metric, img: np.ndarray) -> float:
    """The score, or NaN where the metric cannot score an image this small (NIQE needs two 96 px blocks)."""
    try:
        return float(metric.score(img))
    except ValueError:
        return math.nan


def evaluate_holdout(
    holdout_dir: str, upscalers: dict[str, Upscaler], metrics: list[Metric], results_dir: str
) -> HoldoutResult:
    """Upscale every held-out photo with each model, save `results_dir/<model>/<photo>.png` and score it."""
    photos = sorted(name for name in os.listdir(holdout_dir) if name.endswith('.png'))
    scores = {metric.name: {model: [] for model in upscalers} for metric in metrics}
    for name in photos:
        lr = cv2.imread(os.path.join(holdout_dir, name), cv2.IMREAD_COLOR)
        for model, upscaler in upscalers.items():
            sr = super_resolve(upscaler, lr)
            os.makedirs(os.path.join(results_dir, model), exist_ok=True)
            cv2.imwrite(os.path.join(results_dir, model, name), sr)
            for metric in metrics:
                scores[metric.name][model].append(score_or_nan(metric, sr))
    return HoldoutResult(photos, scores, metrics, results_dir)
