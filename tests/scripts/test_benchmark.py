"""scripts/benchmark.py on the tiny preset: the equality check in both modes and the report (no timing assertions)."""

import json

import pytest
import torch

from basicsr.models.srgan_ref_model import SRGANRefModel
from benchmarks.harness import PRESETS, build_runner, loader_throughput, memory_probe, random_vgg_file
from scripts import benchmark

QUICK = ['--preset', 'tiny', '--steps', '2', '--warmup', '0', '--no-memory', '--data-workers', '', '--threads', '1']


def test_both_modes_are_equal_and_a_speedup_is_reported(tmp_path, capsys):
    out = tmp_path / 'result.json'
    assert benchmark.main([*QUICK, '--json', str(out)]) == 0
    report = json.loads(out.read_text())
    assert report['equality']['equal']
    assert set(report['equality']['checks']) == {'float64', 'fp32'}
    assert report['equality']['checks']['float64']['loss_error'] < 1e-9
    assert report['speedup'] > 0 and report['equal_math']
    assert report['gflop_per_step']['reference'] > report['gflop_per_step']['fast'] > 0  # six VGG passes vs two
    assert len(report['timing']['reference']['samples_ms']) == 2
    printed = capsys.readouterr().out
    assert 'speed-up (reference / fast median, same run, equal math)' in printed


def test_a_step_that_changes_the_math_gets_no_speedup(tmp_path, monkeypatch, capsys):
    original = SRGANRefModel.feature_loss_terms

    def scaled(self, *args):
        return {name: 1.01 * value for name, value in original(self, *args).items()}

    monkeypatch.setattr(SRGANRefModel, 'feature_loss_terms', scaled)
    out = tmp_path / 'result.json'
    assert benchmark.main([*QUICK, '--json', str(out)]) == 1
    report = json.loads(out.read_text())
    assert not report['equality']['equal'] and report['speedup'] is None
    assert 'NOT REPORTED' in capsys.readouterr().out


def test_amp_mode_reports_its_deviation_and_is_not_called_equal_math(tmp_path):
    out = tmp_path / 'result.json'
    assert benchmark.main([*QUICK, '--amp', 'bf16', '--json', str(out)]) == 0
    report = json.loads(out.read_text())
    assert 'amp' in report['equality']['checks'] and report['equality']['checks']['float64']['equal']
    assert report['equal_math'] is False and report['speedup'] > 0


def test_single_mode_times_without_comparing(tmp_path):
    out = tmp_path / 'result.json'
    assert benchmark.main([*QUICK, '--mode', 'fast', '--json', str(out)]) == 0
    report = json.loads(out.read_text())
    assert list(report['timing']) == ['fast'] and 'equality' not in report and 'speedup' not in report


def test_memory_probe_and_loader_throughput_measure_positive_numbers(tmp_path):
    config = dict(preset=PRESETS['tiny'], device=torch.device('cpu'), generator='srvgg', perf={})
    vgg = random_vgg_file(str(tmp_path / 'vgg.pth'), deepest='conv2_2')
    memory = memory_probe(build_runner(config, 'fast', vgg, str(tmp_path)), steps=1)
    assert memory['peak_mib'] >= memory['before_mib'] > 0
    rates = loader_throughput(PRESETS['tiny'], [0], str(tmp_path), torch.device('cpu'), batches=2)
    assert rates['train_s']['0'] > 0 and rates['train_t']['0'] > 0


def test_paper_preset_asks_for_a_gpu_when_there_is_none():
    if torch.cuda.is_available():
        pytest.skip('a CUDA device is present; the paper preset runs')
    with pytest.raises(SystemExit, match='no CUDA device'):
        benchmark.main(['--preset', 'paper'])


def fake_report(speedup: float, **changes) -> dict:
    report = {
        'preset': 'cpu-small',
        'equality': {'equal': True},
        'fast_perf': {'amp': None, 'compile': False},
        'generator': {'type': 'RRDBNet'},
        'perf_overrides': [],
        'timing': {'reference': {'median_ms': 1000.0}, 'fast': {'median_ms': 1000.0 / speedup}},
    }
    report.update(changes)
    return report


@pytest.mark.parametrize('speedup, passed', [(1.3, True), (1.2, False)])
def test_the_cpu_small_default_step_is_guarded_at_1_25x(speedup, passed):
    report = fake_report(speedup)
    benchmark.summarise_pair(report)
    assert report['speedup_guard'] == {'minimum': 1.25, 'passed': passed}


@pytest.mark.parametrize(
    'changes',
    [{'preset': 'tiny'}, {'perf_overrides': ['shared_vgg=false']}, {'fast_perf': {'amp': 'bf16', 'compile': False}}],
)
def test_other_presets_and_changed_steps_are_not_guarded(changes):
    report = fake_report(1.0, **changes)
    benchmark.summarise_pair(report)
    assert 'speedup_guard' not in report
