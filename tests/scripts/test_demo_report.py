"""Specifications of the demo report's claim lines: paired per crop and seed, decided by the interval."""

import numpy as np

from scripts.demo.report import domain_heading, grid_images, paired_values, photo_counts, verdict


def run(values: dict[str, list[float]], images: list[str]) -> dict[str, dict]:
    """One run's per-image metrics from per-metric value lists."""
    return {
        name: {key: (None if vals is None else vals[i]) for key, vals in values.items()}
        for i, name in enumerate(images)
    }


def fake_runs(images: list[str]) -> dict[str, list[dict]]:
    """bicubic / generalist (one run each) and pdd_ema / control (two seeds): PDD-EMA is 0.1 dB above the
    generalist on every crop, and indistinguishable from the control (alternating +-0.05 dB)."""
    n = len(images)
    base = np.linspace(25, 30, n)
    wiggle = 0.05 * (-1) ** np.arange(n)
    row = {
        'bicubic': [
            run({'psnr': base - 0.2, 'haarpsi': np.full(n, 0.7), 'lpips': None, 'niqe': np.full(n, 8.0)}, images)
        ],
        'generalist': [
            run({'psnr': base, 'haarpsi': np.full(n, 0.71), 'lpips': None, 'niqe': np.full(n, 7.0)}, images)
        ],
    }
    row['pdd_ema'] = [
        run(
            {
                'psnr': base + 0.1 + s * 0.01,
                'haarpsi': np.full(n, 0.72),
                'lpips': None,
                'niqe': np.full(n, 7.5) + wiggle,
            },
            images,
        )
        for s in range(2)
    ]
    row['control'] = [
        run(
            {
                'psnr': base + 0.1 + s * 0.01 + wiggle,
                'haarpsi': np.full(n, 0.72) + wiggle / 100,
                'lpips': None,
                'niqe': np.full(n, 7.5) - wiggle,
            },
            images,
        )
        for s in range(2)
    ]
    return row


IMAGES = [f'coffee_y000_x{x:03d}' for x in range(0, 400, 100)] + ['page_y000_x092', 'text_y000_x012']


def test_a_fixed_row_pairs_with_every_seed_of_an_adapted_row():
    runs = fake_runs(IMAGES)
    generalist, pdd = paired_values(runs, 'generalist', 'pdd_ema', 'psnr')
    assert len(generalist) == len(pdd) == 2 * len(IMAGES)
    assert generalist[: len(IMAGES)] == generalist[len(IMAGES) :]
    assert np.allclose(np.subtract(pdd, generalist), [0.1] * len(IMAGES) + [0.11] * len(IMAGES))


def test_claim_lines_say_better_worse_or_no_measurable_difference_from_the_interval():
    lines = dict(line.split(' (n = ', 1) for line in verdict(fake_runs(IMAGES)))
    assert set(lines) == {
        '- The generalist against bicubic',
        '- PDD-EMA against the generalist it starts from',
        '- PDD-EMA against the supervised-only control',
    }  # no PDD-static rows were run
    assert lines['- The generalist against bicubic'].startswith('6): PSNR-Y ✅ better +0.20 [+0.20, +0.20]')
    against_generalist = lines['- PDD-EMA against the generalist it starts from']
    assert against_generalist.startswith('12): PSNR-Y ✅ better') and 'NIQE ❌ worse +0.500' in against_generalist
    against_control = lines['- PDD-EMA against the supervised-only control']
    assert against_control.count('➖ no measurable difference') == 3 and 'LPIPS' not in against_control


def test_held_out_photos_are_named_and_counted_and_a_custom_domain_is_named_by_its_path():
    assert photo_counts(IMAGES) == 'coffee ×4, page ×1, text ×1'
    assert grid_images(IMAGES, 2) == ['coffee_y000_x000', 'page_y000_x092']
    assert domain_heading('camera', 'options/demo/degradations/camera.yml').endswith(
        '(the domain the demo was tuned on)'
    )
    assert domain_heading('mine', '/data/mine.yml') == '## Target domain `mine` (never used for tuning)'
