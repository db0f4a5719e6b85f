"""Specifications of `make demo`: a deterministic data maker, and the whole pipeline at its smallest size producing a
report with every row, decodable PNGs, resumable stages and an archived earlier report."""

import hashlib
import json
import os
import re
import signal
from pathlib import Path

import cv2
import numpy as np
import pytest

from scripts.demo.degradation import degrade, load_domain
from scripts.demo.make_data import make_demo_data
from scripts.demo.report import ROWS

REPO = Path(__file__).resolve().parents[2]
DOMAINS = [
    str(REPO / 'options/demo/degradations/source_bicubic.yml'),
    str(REPO / 'options/demo/degradations/camera.yml'),
]


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob('*.png'))}


def test_make_data_is_deterministic_under_a_seed(tmp_path):
    make_demo_data(str(tmp_path / 'a'), DOMAINS, seed=0, photo_set='smoke')
    make_demo_data(str(tmp_path / 'b'), DOMAINS, seed=0, photo_set='smoke')
    make_demo_data(str(tmp_path / 'c'), DOMAINS, seed=1, photo_set='smoke')
    first, again, other_seed = (_digests(tmp_path / name) for name in 'abc')
    assert first and first == again
    noisy = [name for name in first if name.startswith('lr/camera')]
    assert noisy and all(first[name] != other_seed[name] for name in noisy)  # the seed moves the noise
    assert all(first[name] == other_seed[name] for name in first if name.startswith(('hr/', 'lr/source')))


def test_degradation_file_errors_name_the_step_and_key(tmp_path):
    bad = tmp_path / 'bad.yml'
    bad.write_text('name: bad\nscale: 4\nsteps:\n  - {type: blur, sigma: 2}\n  - {type: warp}\n')
    with pytest.raises(
        ValueError,
        match=r"(?s)steps\[0\] \(blur\): unknown keys \['sigma'\].*missing keys \['sigma_x', 'sigma_y'\]"
        r'.*steps\[1\].type',
    ):
        load_domain(str(bad))


def test_target_degradation_shrinks_by_scale_and_shifts_colour():
    hr = np.full((64, 64, 3), 128, np.uint8)
    lr = degrade(hr, load_domain(DOMAINS[1]), 'flat', seed=0)
    assert lr.shape == (16, 16, 3)
    blue, _, red = lr.reshape(-1, 3).mean(axis=0)
    assert red > blue  # camera.yml's white-balance error warms the image


@pytest.fixture(scope='module')
def smoke_run(tmp_path_factory):
    """One smoke-size demo (seconds of training per stage) into a temporary folder."""
    from scripts import run_demo

    root = tmp_path_factory.mktemp('demo')
    args = [
        '--size',
        'smoke',
        '--targets',
        'camera',
        '--out',
        str(root / 'out'),
        '--data',
        str(root / 'data'),
        '--jobs',
        '2',
    ]
    handler = signal.getsignal(signal.SIGTERM)
    run_demo.main(args)
    os.chdir(REPO)
    assert signal.getsignal(signal.SIGTERM) is handler  # forked pools of later tests would inherit the demo's
    return root, args


def test_smoke_demo_report_has_every_row_and_decodable_pngs(smoke_run):
    root, _ = smoke_run
    report = (root / 'out' / 'report.md').read_text()
    table = report.split('## Target domain `camera`')[1].split('The claim')[0]
    for _, label in ROWS:
        assert re.search(rf'^\| {re.escape(label)} \| [\d.*]+', table, re.M), label
    assert '| HaarPSI ↑ |' in table and 'Degradation: `options/demo/degradations/camera.yml`' in table
    assert re.search(r'^- PDD-EMA against the generalist it starts from \(n = 1\): PSNR-Y', report, re.M)
    for png in ('grid_camera.png', 'losses_camera.png'):
        assert png in report
        image = cv2.imread(str(root / 'out' / png))
        assert image is not None and image.shape[0] > 50 and image.shape[1] > 200
    assert (root / 'out' / 'report.html').read_text().count('<tr>') >= len(ROWS) + 1
    assert 'python basicsr/train.py -opt options/demo/pdd_ema.yml' in report


def test_rerun_resumes_finished_stages(smoke_run, capsys):
    from scripts import run_demo

    root, args = smoke_run
    out = root / 'out'
    state = json.loads((out / 'state.json').read_text())
    (out / 'report.md').unlink()  # an interrupted run: stages done, no report yet
    os.remove(out / 'metrics' / 'camera_s0.json')
    run_demo.main(args)
    os.chdir(REPO)
    printed = capsys.readouterr().out
    assert 'pdd_ema_camera_s0' in printed and 'done earlier' in printed
    resumed = json.loads((out / 'state.json').read_text())
    assert resumed['pdd_ema_camera_s0'] == state['pdd_ema_camera_s0']  # not trained again
    assert (out / 'metrics' / 'camera_s0.json').is_file() and (out / 'report.md').is_file()


def test_a_finished_report_is_archived_and_an_unfinished_run_is_kept(tmp_path):
    from scripts.run_demo import archive_finished_report

    finished, unfinished = tmp_path / 'finished', tmp_path / 'unfinished'
    for folder in (finished, unfinished):
        folder.mkdir()
        (folder / 'state.json').write_text('{}')
    (finished / 'report.md').write_text('old')
    archive_finished_report(str(finished))
    archive_finished_report(str(unfinished))
    archived = [p for p in tmp_path.iterdir() if p.name.startswith('finished_archived_')]
    assert not finished.exists() and len(archived) == 1 and (archived[0] / 'report.md').read_text() == 'old'
    assert (unfinished / 'state.json').is_file()


def test_a_subset_of_methods_still_gets_its_report(smoke_run):
    from scripts import run_demo

    root, _ = smoke_run
    out = root / 'control_only'
    run_demo.main(
        [
            '--size',
            'smoke',
            '--targets',
            'camera',
            '--out',
            str(out),
            '--data',
            str(root / 'data'),
            '--jobs',
            '2',
            '--methods',
            'control',
        ]
    )
    os.chdir(REPO)
    report = (out / 'report.md').read_text()
    assert 'Supervised-only control' in report and '| PDD-EMA |' not in report
    assert 'not checked: PDD-EMA against the supervised-only control' in report
