"""One error path for every command: a user error is one plain message, printed once (by rank 0 under torchrun),
exit status 2, its traceback only with --debug; flags are accepted in either spelling."""

import os
import subprocess
import sys

import pytest
import yaml

from basicsr.utils.arg_parser import ArgumentParser
from basicsr.utils.errors import UserError, report_failure
from basicsr.utils.options import build_arg_parser
from tests.conftest import tiny_sr_options
from tests.helpers.launch import torchrun

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, 'PYTHONPATH': REPO, 'OMP_NUM_THREADS': '1'}


def run(script: str, cwd, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, os.path.join(REPO, 'basicsr', script), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=ENV,
        timeout=300,
    )


def write(tmp_path, opt: dict, name: str = 'my.yml') -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(opt))
    return str(path)


def test_an_option_error_is_one_message_with_status_2_and_no_traceback(paired_folders, tmp_path):
    opt = tiny_sr_options(*paired_folders)
    opt['datasets']['train']['dataroot_gt'] = 'missing/folder'
    result = run('train.py', tmp_path, '-opt', write(tmp_path, opt))
    assert result.returncode == 2
    assert 'Traceback' not in result.stderr and 'training failed' not in result.stderr
    assert result.stderr.count('datasets.train.dataroot_gt: missing/folder does not exist') == 1
    assert result.stderr.startswith('error: 1 problem(s) in')
    debug = run('train.py', tmp_path, '-opt', write(tmp_path, opt), '--debug')
    assert debug.returncode == 2 and 'Traceback' in debug.stderr and 'OptionError' in debug.stderr


def test_a_yaml_syntax_error_names_the_line_without_tracebacks(tmp_path):
    path = tmp_path / 'broken.yml'
    path.write_text('name: x\n  model_type: SRModel\n')
    result = run('train.py', tmp_path, '-opt', str(path))
    assert result.returncode == 2 and 'Traceback' not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f'error: Option file {path} is not valid YAML: line 2, column 13: '
        'mapping values are not allowed here; check the indentation and '
        'the colon after each key there'
    ]


def test_an_empty_folder_is_reported_once(paired_folders, tmp_path):
    empty = tmp_path / 'empty'
    empty.mkdir()
    opt = tiny_sr_options(*paired_folders)
    opt['datasets']['train']['dataroot_lq'] = str(empty)
    result = run('train.py', tmp_path, '-opt', write(tmp_path, opt))
    assert result.returncode == 2 and 'Traceback' not in result.stderr
    assert (result.stdout + result.stderr).count(f'{empty} holds no image files') == 1


def test_test_py_reports_user_errors_the_same_way(paired_folders, tmp_path):
    opt = tiny_sr_options(*paired_folders)
    opt['datasets'] = {'test_1': {**opt['datasets']['val'], 'dataroot_lq': 'nope'}}
    opt['path']['pretrain_network_g'] = 'missing.pth'
    result = run('test.py', tmp_path, '--opt', write(tmp_path, opt))
    assert result.returncode == 2 and 'Traceback' not in result.stderr
    assert 'path.pretrain_network_g: missing.pth does not exist' in result.stderr


def test_under_torchrun_only_rank_0_prints_a_shared_user_error(paired_folders, tmp_path):
    opt = tiny_sr_options(*paired_folders)
    opt['train']['optim_g']['lr'] = '1e-3'
    cmd = torchrun(os.path.join(REPO, 'basicsr', 'train.py'), '-opt', write(tmp_path, opt))
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=ENV, timeout=300)
    assert result.returncode != 0
    assert result.stderr.count("train.optim_g.lr: '1e-3' is text to YAML") == 1, result.stderr[-3000:]
    assert 'training failed' not in result.stderr


def test_report_failure_gives_status_2_for_user_errors_and_1_with_a_traceback_for_bugs(capsys, monkeypatch):
    monkeypatch.delenv('RANK', raising=False)
    assert report_failure(UserError('datasets.train.x: wrong'), debug=False) == 2
    assert capsys.readouterr().err == 'error: datasets.train.x: wrong\n'
    try:
        raise ZeroDivisionError('bug')
    except ZeroDivisionError as err:
        assert report_failure(err, debug=False, what='training') == 1
    assert 'Traceback' in capsys.readouterr().err
    monkeypatch.setenv('RANK', '1')
    assert report_failure(UserError('same on every rank'), debug=False) == 2
    assert capsys.readouterr().err == ''


@pytest.mark.parametrize(
    'args',
    [
        ['-opt', 'x.yml', '--auto_resume', '--force_yml', 'a=1', '--check-data'],
        ['--opt', 'x.yml', '--auto-resume', '--force-yml', 'a=1', '--check_data'],
    ],
)
def test_training_flags_are_accepted_in_either_spelling(args):
    parsed = build_arg_parser().parse_args(args)
    assert parsed.opt == 'x.yml' and parsed.auto_resume and parsed.force_yml == ['a=1'] and parsed.check_data


def test_a_parser_maps_dash_and_underscore_spellings_and_single_dash_opt():
    parser = ArgumentParser()
    parser.add_argument('-o', '--output')
    parser.add_argument('--opt')
    parser.add_argument('--tile-pad', type=int)
    args = parser.parse_args(['-opt', 'a.yml', '--tile_pad=3', '-o', 'out'])
    assert (args.opt, args.tile_pad, args.output) == ('a.yml', 3, 'out')


def test_a_run_stopped_by_the_nan_guard_is_reported_without_a_traceback(monkeypatch, capsys):
    import basicsr.train as train
    from basicsr.models.nan_guard import NonFiniteLossError
    from basicsr.utils.errors import run_command

    def diverges(root_path):
        raise NonFiniteLossError('non-finite loss in 5 consecutive iterations up to iter 9; checkpoint saved')

    monkeypatch.setattr(train, 'train_pipeline', diverges)
    monkeypatch.delenv('RANK', raising=False)
    assert run_command(train.train_command, argv=[]) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: non-finite loss') and 'Traceback' not in err
