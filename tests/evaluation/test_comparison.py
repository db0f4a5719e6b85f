"""Paired differences: the mean and its interval, and 'no measurable difference' whenever the interval holds zero."""

import math

import numpy as np
import pytest
from scipy import stats

from basicsr.evaluation.comparison import NO_DIFFERENCE, paired_difference


def test_t_interval_matches_the_textbook_formula():
    baseline = [30.0, 28.5, 31.2, 29.9, 27.4]
    candidate = [30.4, 28.9, 31.1, 30.5, 27.9]
    diff = np.subtract(candidate, baseline)
    half = stats.t.ppf(0.975, 4) * diff.std(ddof=1) / math.sqrt(5)
    result = paired_difference(baseline, candidate)
    assert result.mean == pytest.approx(diff.mean())
    assert (result.low, result.high) == pytest.approx((diff.mean() - half, diff.mean() + half))
    assert result.n == 5 and result.method == 't'


@pytest.mark.parametrize('method', ['t', 'bootstrap'])
def test_a_consistent_gain_is_better_and_noise_around_zero_is_no_measurable_difference(method):
    rng = np.random.default_rng(3)
    baseline = rng.normal(28, 2, 40)
    gain = paired_difference(baseline, baseline + 0.3 + rng.normal(0, 0.05, 40), method=method)
    assert gain.measurable and gain.verdict(higher_is_better=True) == 'better'
    assert gain.verdict(higher_is_better=False) == 'worse'
    noise = paired_difference(baseline, baseline + rng.normal(0, 0.5, 40), method=method)
    assert noise.low < 0 < noise.high and noise.verdict(higher_is_better=True) == NO_DIFFERENCE


def test_a_lower_is_better_metric_that_drops_is_better():
    result = paired_difference([7.0, 7.2, 6.9, 7.4], [6.1, 6.3, 6.0, 6.6])
    assert result.verdict(higher_is_better=False) == 'better'


def test_one_pair_decides_nothing():
    result = paired_difference([27.0], [27.5])
    assert result.mean == pytest.approx(0.5) and math.isinf(result.low) and result.verdict(True) == NO_DIFFERENCE


def test_bootstrap_is_reproducible_and_close_to_t_on_normal_data():
    rng = np.random.default_rng(0)
    baseline = rng.normal(0, 1, 200)
    candidate = baseline + rng.normal(0.2, 0.3, 200)
    boot = paired_difference(baseline, candidate, method='bootstrap', seed=5)
    assert boot == paired_difference(baseline, candidate, method='bootstrap', seed=5)
    t = paired_difference(baseline, candidate)
    assert boot.low == pytest.approx(t.low, abs=0.02) and boot.high == pytest.approx(t.high, abs=0.02)


@pytest.mark.parametrize(
    'args, message',
    [
        (([1.0, 2.0], [1.0]), 'one candidate value per baseline value'),
        (([], []), 'at least one pair'),
    ],
)
def test_bad_input_is_named(args, message):
    with pytest.raises(ValueError, match=message):
        paired_difference(*args)


def test_describe_shows_sign_interval_and_count():
    text = paired_difference([1.0, 2.0, 3.0], [1.2, 2.1, 3.3]).describe(digits=2)
    assert text.startswith('+0.20 [') and 'n=3' in text and '95% t interval' in text
