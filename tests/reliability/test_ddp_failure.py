"""A rank that fails makes the whole torchrun job end in bounded time, and its error is printed once with its rank."""

import os
import subprocess
import time

import yaml

from tests.conftest import tiny_sr_options
from tests.helpers.launch import torchrun

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_failing_rank_ends_the_job_and_names_itself(paired_folders, tmp_path):
    opt = tiny_sr_options(*paired_folders, total_iter=1000)
    opt['datasets']['train']['batch_size_per_gpu'] = 1
    opt['path']['experiments_root'] = str(tmp_path / 'exp')
    opt['dist_params'] = {'backend': 'gloo', 'timeout': 30}
    opt['val'] = None
    path = tmp_path / 'ddp.yml'
    path.write_text(yaml.safe_dump(opt))
    env = {**os.environ, 'PYTHONPATH': REPO, 'OMP_NUM_THREADS': '1'}
    cmd = torchrun(os.path.join(REPO, 'tests', 'helpers', 'ddp_rank_fails.py'), '-opt', str(path))
    start = time.time()
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=240, env=env)
    elapsed = time.time() - start
    assert result.returncode != 0
    assert result.stderr.count('[rank 1] training failed') == 1, result.stderr[-3000:]
    assert 'injected failure on this rank' in result.stderr
    assert elapsed < 200
