"""Paired comparison of two methods on the same images: the mean per-image difference with a confidence interval.

One routine for every report that compares methods (the demo, `basicsr-adapt`): a difference whose interval holds
zero is "no measurable difference", never a win or a loss. Pairs are whatever the caller matched (an image, or an
image under one seed); the interval treats them as independent draws.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

METHODS = ('t', 'bootstrap')
NO_DIFFERENCE = 'no measurable difference'


@dataclass(frozen=True)
class PairedDifference:
    """mean(candidate - baseline) over `n` pairs, with its two-sided `confidence` interval [low, high]."""

    mean: float
    low: float
    high: float
    n: int
    confidence: float
    method: str

    @property
    def measurable(self) -> bool:
        """True when the interval excludes zero."""
        return self.low > 0 or self.high < 0

    def verdict(self, higher_is_better: bool) -> str:
        """'better' / 'worse' for the candidate, or 'no measurable difference' when the interval holds zero."""
        if not self.measurable:
            return NO_DIFFERENCE
        return 'better' if (self.mean > 0) == higher_is_better else 'worse'

    def describe(self, digits: int = 3) -> str:
        """E.g. '+0.120 [+0.030, +0.210] (95% t interval, n=24)'."""
        interval = f'[{self.low:+.{digits}f}, {self.high:+.{digits}f}]'
        return f'{self.mean:+.{digits}f} {interval} ({self.confidence:.0%} {self.method} interval, n={self.n})'


def paired_difference(
    baseline: Sequence[float],
    candidate: Sequence[float],
    confidence: float = 0.95,
    method: str = 't',
    resamples: int = 10000,
    seed: int = 0,
) -> PairedDifference:
    """The mean of `candidate[i] - baseline[i]` and its interval: Student's t, or a percentile bootstrap.

    Fewer than two pairs give an unbounded interval (nothing can be decided from one image).
    """
    if method not in METHODS:
        raise ValueError(f'method {method!r}: use one of {", ".join(METHODS)}')
    if len(baseline) != len(candidate):
        raise ValueError(
            f'paired_difference needs one candidate value per baseline value, got {len(baseline)} and {len(candidate)}'
        )
    if not 0 < confidence < 1:
        raise ValueError(f'confidence must lie in (0, 1), got {confidence}')
    differences = np.asarray(candidate, dtype=np.float64) - np.asarray(baseline, dtype=np.float64)
    n = differences.size
    if n == 0:
        raise ValueError('paired_difference needs at least one pair')
    mean = float(differences.mean())
    if n < 2:
        return PairedDifference(mean, -math.inf, math.inf, n, confidence, method)
    if method == 't':
        half_width = stats.t.ppf((1 + confidence) / 2, n - 1) * differences.std(ddof=1) / math.sqrt(n)
        return PairedDifference(mean, mean - half_width, mean + half_width, n, confidence, method)
    rng = np.random.default_rng(seed)
    means = differences[rng.integers(0, n, size=(resamples, n))].mean(axis=1)
    low, high = np.quantile(means, [(1 - confidence) / 2, (1 + confidence) / 2])
    return PairedDifference(mean, float(low), float(high), n, confidence, method)
