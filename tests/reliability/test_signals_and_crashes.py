"""SIGTERM saves and resumes; kill -9 at random moments never leaves --auto_resume unable to continue."""

import os
import random
import signal
import subprocess
import sys
import time

import torch
import yaml

from tests.conftest import tiny_sr_options

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRAIN = os.path.join(REPO, 'basicsr', 'train.py')


def write_opt(tmp_path, total_iter: int, paired_folders, save_freq: int = 1) -> str:
    opt = tiny_sr_options(*paired_folders, total_iter=total_iter)
    opt['path']['experiments_root'] = str(tmp_path / 'exp')
    opt['logger']['save_checkpoint_freq'] = save_freq
    opt['val'] = None
    path = tmp_path / 'opt.yml'
    path.write_text(yaml.safe_dump(opt))
    return str(path)


def start(opt_path: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, TRAIN, '-opt', opt_path, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, 'OMP_NUM_THREADS': '1'},
    )


def wait_for_line(proc: subprocess.Popen, needle: str, timeout: float = 120) -> str:
    deadline = time.time() + timeout
    seen = ''
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        seen += line
        if needle in line:
            return seen
    raise AssertionError(f'{needle!r} not seen; output:\n{seen[-3000:]}')


def states(tmp_path) -> list[int]:
    folder = tmp_path / 'exp' / 'training_states'
    return sorted(int(f.split('.')[0]) for f in os.listdir(folder) if f.endswith('.state'))


def test_sigterm_saves_at_the_end_of_the_iteration_and_resumes(paired_folders, tmp_path):
    opt_path = write_opt(tmp_path, 100000, paired_folders, save_freq=1000)
    proc = start(opt_path, '--force_yml', 'logger:print_freq=1')
    wait_for_line(proc, 'iter:       3,')
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, out[-3000:]
    assert 'Stopped by SIGTERM after iter' in out
    assert f'Continue with: python {TRAIN} -opt {opt_path} --force_yml logger:print_freq=1 --auto_resume' in out
    stopped_at = states(tmp_path)[-1]
    assert stopped_at >= 3 and (tmp_path / 'exp' / 'models' / f'net_g_{stopped_at}.pth').is_file()
    resumed = start(write_opt(tmp_path, stopped_at + 2, paired_folders), '--auto_resume')
    out, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, out[-3000:]
    assert 'Resuming training from epoch' in out and f'iter: {stopped_at}.' in out
    assert states(tmp_path)[-1] == stopped_at + 2


def test_kill_9_at_random_moments_never_breaks_auto_resume(paired_folders, tmp_path):
    rng = random.Random(0)
    opt_path = write_opt(tmp_path, 100000, paired_folders, save_freq=1)
    for _ in range(3):
        proc = start(opt_path, '--auto_resume')
        wait_for_line(proc, 'Start training from')
        time.sleep(rng.uniform(0.2, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    newest = states(tmp_path)[-1]
    for iteration in states(tmp_path):
        torch.load(tmp_path / 'exp' / 'training_states' / f'{iteration}.state', weights_only=False)
    resumed = start(write_opt(tmp_path, newest + 1, paired_folders), '--auto_resume')
    out, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, out[-3000:]
    assert 'Resuming training from epoch' in out
    for folder in ('models', 'training_states'):
        assert not [f for f in os.listdir(tmp_path / 'exp' / folder) if f.endswith('.tmp')], 'stale temp files kept'


def test_second_signal_exits_at_once(paired_folders, tmp_path):
    opt_path = write_opt(tmp_path, 100000, paired_folders, save_freq=1000)
    proc = start(opt_path)
    wait_for_line(proc, 'iter:       2,')
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGINT, out[-3000:]
    assert 'Second SIGINT: exiting now without saving' in out or 'Stopped by SIGINT' in out
