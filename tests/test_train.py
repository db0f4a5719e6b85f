"""End-to-end training on CPU: checkpoints in BasicSR's layout, auto-resume, the log line format, DDP with gloo."""

import glob
import os
import re
import subprocess
import sys

import pytest
import torch
import yaml

from basicsr.train import train_pipeline
from tests.conftest import tiny_sr_options
from tests.helpers.launch import DUMP_WEIGHTS, torchrun

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_training(tmp_path, opt: dict, *extra: str):
    path = tmp_path / f'{opt["name"]}.yml'
    path.write_text(yaml.safe_dump(opt))
    return train_pipeline(str(tmp_path), ['-opt', str(path), *extra])


def read_log(exp_dir) -> str:
    return ''.join(open(f).read() for f in sorted(glob.glob(os.path.join(exp_dir, 'train_*.log'))))


def test_training_writes_basicsr_checkpoints(paired_folders, tmp_path):
    run_training(tmp_path, tiny_sr_options(*paired_folders, total_iter=4))
    exp = tmp_path / 'experiments' / 'tiny_sr'
    for name in (
        'models/net_g_2.pth',
        'models/net_g_4.pth',
        'models/net_g_latest.pth',
        'training_states/2.state',
        'training_states/4.state',
        'tiny_sr.yml',
    ):
        assert (exp / name).is_file(), name
    ckpt = torch.load(exp / 'models' / 'net_g_4.pth', weights_only=True)
    assert set(ckpt) == {'params', 'params_ema'}
    state = torch.load(exp / 'training_states' / '4.state', weights_only=False)
    assert state['iter'] == 4 and len(state['optimizers']) == 1 and len(state['schedulers']) == 1
    log = read_log(exp)
    assert re.search(
        r'\[tiny_\.\.\]\[epoch:\s+\d+, iter:\s+4, lr:\(1\.000e-03,\)\] \[eta: [0-9:]+, '
        r'time \(data\): [0-9.]+ \([0-9.]+\)\] l_pix: [0-9.]+e[-+]\d+',
        log,
    )
    assert re.search(r'# psnr: [0-9.]+\tBest: [0-9.]+ @ \d+ iter', log)


def test_auto_resume_continues_from_saved_iteration(paired_folders, tmp_path):
    run_training(tmp_path, tiny_sr_options(*paired_folders, total_iter=4))
    opt = tiny_sr_options(*paired_folders, total_iter=6)
    model = run_training(tmp_path, opt, '--auto_resume')
    exp = tmp_path / 'experiments' / 'tiny_sr'
    assert (exp / 'models' / 'net_g_6.pth').is_file()
    log = read_log(exp)
    assert 'Resuming training from epoch' in log and 'iter: 4.' in log
    assert 'iter:       5' in log and 'iter:       1,' not in log.split('Resuming training')[1]
    assert model.optimizers[0].state_dict()['state'][0]['step'].item() == 6


def test_auto_resume_skips_a_truncated_newest_state(paired_folders, tmp_path):
    run_training(tmp_path, tiny_sr_options(*paired_folders, total_iter=4))
    exp = tmp_path / 'experiments' / 'tiny_sr'
    (exp / 'training_states' / '4.state').write_bytes(b'truncated')
    run_training(tmp_path, tiny_sr_options(*paired_folders, total_iter=6), '--auto_resume')
    log = read_log(exp)
    assert '4.state is unreadable' in log and 'iter: 2.' in log


def test_existing_experiment_is_archived_not_overwritten(paired_folders, tmp_path):
    run_training(tmp_path, tiny_sr_options(*paired_folders, total_iter=2))
    run_training(tmp_path, tiny_sr_options(*paired_folders, total_iter=2))
    archived = glob.glob(str(tmp_path / 'experiments' / 'tiny_sr_archived_*'))
    assert len(archived) == 1 and os.path.isfile(os.path.join(archived[0], 'models', 'net_g_2.pth'))


def run_train_script(option_file, cwd) -> subprocess.CompletedProcess:
    """`python basicsr/train.py -opt <option_file>` launched from `cwd`, output captured."""
    return subprocess.run(
        [sys.executable, os.path.join(REPO, 'basicsr', 'train.py'), '-opt', str(option_file)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def test_train_script_runs_as_a_command(paired_folders, tmp_path):
    opt = tiny_sr_options(*paired_folders, total_iter=2)
    opt['path']['experiments_root'] = str(tmp_path / 'exp')
    path = tmp_path / 'cli.yml'
    path.write_text(yaml.safe_dump(opt))
    result = run_train_script(path, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / 'exp' / 'models' / 'net_g_2.pth').is_file()


def test_bad_option_fails_before_training_with_key_path(paired_folders, tmp_path):
    opt = tiny_sr_options(*paired_folders)
    opt['datasets']['train']['dataroot_gt'] = 'missing/folder'
    path = tmp_path / 'bad.yml'
    path.write_text(yaml.safe_dump(opt))
    result = run_train_script(path, tmp_path)
    assert result.returncode != 0
    assert 'datasets.train.dataroot_gt: missing/folder does not exist' in result.stderr
    assert not (tmp_path / 'experiments').exists()


def test_two_process_gloo_training_ends_with_identical_weights(paired_folders, tmp_path):
    opt = tiny_sr_options(*paired_folders, total_iter=3)
    opt['datasets']['train']['batch_size_per_gpu'] = 1
    path = tmp_path / 'ddp.yml'
    path.write_text(yaml.safe_dump(opt))
    env = {**os.environ, 'PYTHONPATH': REPO, 'OMP_NUM_THREADS': '1'}
    cmd = torchrun(DUMP_WEIGHTS, str(tmp_path), str(tmp_path), '-opt', str(path))
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    rank0, rank1 = (torch.load(tmp_path / f'rank{r}.pth', weights_only=True) for r in (0, 1))
    at_iter2 = torch.load(tmp_path / 'experiments' / 'tiny_sr' / 'models' / 'net_g_2.pth', weights_only=True)['params']
    assert any(not torch.equal(at_iter2[k], rank0[k]) for k in rank0), 'training did not change the weights'
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key


def test_tensorboard_gets_scalars_images_and_crop_strips(paired_folders, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    opt = tiny_sr_options(*paired_folders, total_iter=2)
    opt['logger']['use_tb_logger'] = True
    run_training(tmp_path, opt)
    events = EventAccumulator(str(tmp_path / 'tb_logger' / 'tiny_sr'))
    events.Reload()
    tags = events.Tags()
    assert 'losses/l_pix' in tags['scalars'] and 'metrics/tiny_val/psnr' in tags['scalars']
    assert any(t.startswith('val/tiny_val/') for t in tags['images'])
    assert any(t.startswith('val_crops/tiny_val/') for t in tags['images'])


def test_a_variant_that_fails_to_build_leaves_the_good_run_in_place(paired_folders, tmp_path):
    run_training(tmp_path, tiny_sr_options(*paired_folders, total_iter=4))
    broken = tiny_sr_options(*paired_folders, total_iter=4)
    wrong = tmp_path / 'wrong_shape.pth'
    torch.save({'params': {'body.0.weight': torch.zeros(1)}}, wrong)
    broken['path']['pretrain_network_g'] = str(wrong)
    with pytest.raises(RuntimeError, match='Cannot load'):
        run_training(tmp_path, broken)
    assert not glob.glob(str(tmp_path / 'experiments' / 'tiny_sr_archived_*'))
    assert (tmp_path / 'experiments' / 'tiny_sr' / 'training_states' / '4.state').is_file()


def test_auto_resume_finds_the_state_of_a_run_archived_by_a_crashed_launch(paired_folders, tmp_path):
    run_training(tmp_path, tiny_sr_options(*paired_folders, total_iter=4))
    exp = tmp_path / 'experiments' / 'tiny_sr'
    os.rename(exp, tmp_path / 'experiments' / 'tiny_sr_archived_20260101_000000')  # what the crashed launch did
    (exp / 'models').mkdir(parents=True)  # ... and the folder it left without any training state
    run_training(tmp_path, tiny_sr_options(*paired_folders, total_iter=6), '--auto-resume')
    log = read_log(exp)
    assert 'tiny_sr_archived_20260101_000000/training_states/4.state (an archived launch' in log
    assert 'Resuming training from epoch' in log and 'iter: 4.' in log
    assert 'Start training from epoch: 0, iter: 0' not in log
    assert (exp / 'models' / 'net_g_6.pth').is_file() and (exp / 'training_states' / '6.state').is_file()


def test_resuming_beyond_total_iter_is_an_error_that_names_the_fix(paired_folders, tmp_path):
    from basicsr.utils.resume_util import ResumeError

    run_training(tmp_path, tiny_sr_options(*paired_folders, total_iter=2), '--force_yml', 'train:total_iter=4')
    with pytest.raises(
        ResumeError,
        match=r'train\.total_iter is 2 but the training state .*4\.state is at '
        r'iteration 4.*repeat them',
    ):
        run_training(tmp_path, tiny_sr_options(*paired_folders, total_iter=2), '--auto_resume')


def test_the_resume_command_repeats_the_force_yml_overrides(monkeypatch):
    from basicsr.train import resume_command

    monkeypatch.setattr(sys, 'argv', ['basicsr/train.py'])
    command = resume_command({'dist': False}, ['-opt', 'my.yml', '--force_yml', 'train:total_iter=300', 'name=a b'])
    assert command == "python basicsr/train.py -opt my.yml --force_yml train:total_iter=300 'name=a b' --auto_resume"


def test_final_validation_runs_once_and_the_options_stay_off_the_console(paired_folders, tmp_path):
    opt = tiny_sr_options(*paired_folders, total_iter=4)
    path = tmp_path / 'once.yml'
    path.write_text(yaml.safe_dump(opt))
    result = run_train_script(path, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    console = result.stdout + result.stderr
    assert console.count('# psnr:') == 2  # at iterations 2 and 4; none repeated after the last iteration
    assert 'network_g:[' not in console and 'Version Information' not in console
    log = read_log(tmp_path / 'experiments' / 'tiny_sr')
    assert 'network_g:[' in log and 'Version Information' in log and 'Dataset [PairedImageDataset]' in log


def test_console_entry_writes_under_the_launch_directory(paired_folders, tmp_path):
    opt = tiny_sr_options(*paired_folders, name='cwd_outputs_probe', total_iter=2)
    path = tmp_path / 'probe.yml'
    path.write_text(yaml.safe_dump(opt))
    result = subprocess.run(
        [sys.executable, '-m', 'basicsr.train', '-opt', str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        env={**os.environ, 'PYTHONPATH': REPO},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / 'experiments' / 'cwd_outputs_probe' / 'models' / 'net_g_2.pth').is_file()
    assert not os.path.exists(os.path.join(REPO, 'experiments', 'cwd_outputs_probe'))
