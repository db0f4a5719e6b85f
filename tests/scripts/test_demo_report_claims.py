"""The demo report's claims go through the shared paired comparison (a tiny gain on two photos is no win), and a
target domain passed as a file is named by its path, never as the domain the demo was tuned on."""
import json

from scripts.demo.report import collect, domain_role, verdict

IMAGES = ('chelsea', 'coffee')
TABLE = {row: {'lpips': None} for row in ('bicubic', 'generalist', 'control', 'pdd_ema')}  # the rows this run trained


def write_metrics(folder, fixed: dict, seeded: list[dict]) -> None:
    """Metric JSONs as scripts/demo/evaluate.py writes them: {row: {per_image: {image: metrics}, mean: ...}}."""
    def rows(psnr_by_row: dict) -> dict:
        out = {}
        for row, values in psnr_by_row.items():
            per_image = {img: {'psnr': v, 'ssim': 0.5, 'lpips': None, 'niqe': 5.0 + v / 100}
                         for img, v in zip(IMAGES, values)}
            out[row] = {'per_image': per_image, 'mean': {'psnr': sum(values) / 2, 'ssim': 0.5, 'lpips': None,
                                                         'niqe': 5.0}}
        return {'images': list(IMAGES), 'rows': out}

    (folder / 'camera_fixed.json').write_text(json.dumps(rows(fixed)))
    for seed, psnr_by_row in enumerate(seeded):
        (folder / f'camera_s{seed}.json').write_text(json.dumps(rows(psnr_by_row)))


def test_a_tiny_gain_on_two_photos_is_no_measurable_difference(tmp_path):
    write_metrics(tmp_path, {'bicubic': [20.0, 24.0], 'generalist': [22.0, 26.5]},
                  [{'control': [22.1, 26.4], 'pdd_ema': [22.05, 26.51]}])
    lines = verdict(TABLE, collect(str(tmp_path), 'camera', 1, 'per_image'))
    ema_vs_generalist = next(line for line in lines if 'PDD-EMA vs the generalist (PSNR' in line)
    assert ema_vs_generalist.startswith('- ➖') and 'no measurable difference' in ema_vs_generalist
    assert '+0.030 [' in ema_vs_generalist and 'n=2)' in ema_vs_generalist
    assert not any(line.startswith('- ✅') for line in lines)


def test_seeds_and_images_are_pairs_and_a_consistent_gain_is_better(tmp_path):
    generalist = [22.0, 26.0]
    write_metrics(tmp_path, {'bicubic': [20.0, 24.0], 'generalist': generalist},
                  [{'control': [22.0, 26.0], 'pdd_ema': [22.5 + s / 100, 26.5 + s / 100]} for s in range(3)])
    lines = verdict(TABLE, collect(str(tmp_path), 'camera', 3, 'per_image'))
    ema_vs_generalist = next(line for line in lines if 'PDD-EMA vs the generalist (PSNR' in line)
    assert ema_vs_generalist.startswith('- ✅ PDD-EMA vs the generalist (PSNR, dB): better') and 'n=6)' in \
        ema_vs_generalist


def test_a_domain_given_as_a_file_is_never_the_tuned_one():
    assert domain_role('options/demo/degradations/camera.yml') == 'the domain the demo was tuned on'
    assert domain_role('./options/demo/degradations/phone.yml') == 'a second domain, never used for tuning'
    assert domain_role('my.yml') == 'a domain given as a file, never used for tuning'
    assert domain_role('/home/me/degradations/camera.yml') == 'a domain given as a file, never used for tuning'
