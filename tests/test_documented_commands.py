"""Every CPU command the README, docs and option-file headers give for a fresh clone runs as written.

The commands run from a scratch folder laid out like a clone (basicsr/, scripts/, options/, docs/ linked in), with no
PYTHONPATH, so outputs land in the scratch folder and imports resolve as they would for a user. Only their size
changes: the demo data is the smoke photo set, and `--force_yml` cuts iterations (and batches, where the smoke set
has fewer images than one batch). Each command is also looked up in the file that documents it.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TINY = 'train:total_iter=2 val:val_freq=2 logger:save_checkpoint_freq=2 logger:print_freq=1'.split()
# (command as documented, where it is documented, extra --force_yml items for the smoke photo set), in run order:
# realesrgan starts from realesrnet's result, pdd_static from pdd_ema's.
TRAINING = [
    (
        'python basicsr/train.py -opt options/tiny/realesrnet_cpu.yml',
        'options/tiny/realesrnet_cpu.yml',
        ['datasets:train:batch_size_per_gpu=2'],
    ),
    (
        'python basicsr/train.py -opt options/tiny/realesrgan_cpu.yml',
        'options/tiny/realesrgan_cpu.yml',
        ['datasets:train:batch_size_per_gpu=2'],
    ),
    (
        'python basicsr/train.py -opt options/tiny/pdd_ema_cpu.yml',
        'docs/pdd.md',
        ['datasets:train_t:dataset_enlarge_ratio=2'],
    ),
    (
        'python basicsr/train.py -opt options/tiny/pdd_static_cpu.yml',
        'docs/pdd.md',
        ['datasets:train_t:dataset_enlarge_ratio=2'],
    ),
    ('python basicsr/train.py -opt options/tiny/srgan_cpu.yml', 'options/tiny/srgan_cpu.yml', []),
    ('python basicsr/train.py -opt options/tiny/esrgan_cpu.yml', 'options/tiny/esrgan_cpu.yml', []),
]
INFERENCE = (
    'python scripts/inference.py -i datasets/eval_example/photos/LR_x4 -o results/tiny_x4_cc/photos '
    '--model scripts/demo/pretrained/demo_specialist.pth --tile 32 --color-correction --device cpu'
)
EVALUATION = [  # docs/evaluation.md's worked example, after its data snippet; inference runs for both sets
    'python basicsr/test.py -opt options/test/test_SRVGGNetCompact_tiny_x4_example.yml',
    INFERENCE,
    'python scripts/evaluate.py --gt photos=datasets/eval_example/photos/HR scenes=datasets/eval_example/scenes/HR '
    '--method bicubic=results/bicubic_x4 tiny=results/SRVGGNetCompact_tiny_x4_example/visualization '
    'tiny+cc=results/tiny_x4_cc --metrics psnr ssim niqe --crop-border 4 --test-y-channel -o results/eval_example',
    'python scripts/compare.py --gt datasets/eval_example/photos/HR --lr datasets/eval_example/photos/LR_x4 '
    '--method bicubic=results/bicubic_x4/photos tiny=results/SRVGGNetCompact_tiny_x4_example/visualization/photos '
    'tiny+cc=results/tiny_x4_cc/photos --crop-size 96 --zoom 2 -o results/eval_example/compare_photos.png',
]


def documented(command: str, doc: str) -> bool:
    """True when `command` appears in `doc` (line continuations and repeated spaces ignored)."""
    text = re.sub(r'\s+', ' ', (REPO / doc).read_text().replace('\\\n', ' '))
    return command in text


@pytest.fixture(scope='module')
def clone(tmp_path_factory) -> Path:
    """A scratch folder laid out like the repository, for commands that use repository-relative paths."""
    root = tmp_path_factory.mktemp('clone')
    for name in ('basicsr', 'scripts', 'options', 'docs'):
        (root / name).symlink_to(REPO / name)
    return root


def shell(command: str, cwd: Path, extra: list[str] = (), stdin: str = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    env.update(OMP_NUM_THREADS='1')
    argv = [sys.executable if word == 'python' else word for word in command.split()] + list(extra)
    result = subprocess.run(argv, cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f'{command}\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}'
    return result


def test_demo_data_maker_and_every_tiny_training_file_run_as_written(clone):
    assert documented('python scripts/demo/make_data.py', 'docs/pdd.md')
    shell('python scripts/demo/make_data.py --photos smoke', clone)
    assert (clone / 'datasets' / 'demo' / 'lr' / 'source_bicubic' / 'val').is_dir()
    shell('python scripts/check_dataset.py -opt options/tiny/pdd_ema_cpu.yml', clone)
    for command, doc, fit in TRAINING:
        assert documented(command, doc), f'{command} is not in {doc}'
        shell(command, clone, ['--force_yml', *TINY, *fit])
        name = re.search(r'^name: (\S+)', (REPO / command.split()[-1]).read_text(), re.M).group(1)
        assert (clone / 'experiments' / name / 'models' / 'net_g_latest.pth').is_file(), command


def test_the_evaluation_worked_example_runs_as_written(clone):
    doc = (REPO / 'docs' / 'evaluation.md').read_text()
    snippet = re.search(r"```bash\npython - <<'EOF'\n(.*?)\nEOF\n```", doc, re.S).group(1)
    shell('python -', clone, stdin=snippet)
    assert all(documented(command, 'docs/evaluation.md') for command in EVALUATION)
    for command in EVALUATION[:2] + [INFERENCE.replace('photos', 'scenes')] + EVALUATION[2:]:
        shell(command, clone)  # the scenes inference: "(and the same for `scenes`)"
    assert (clone / 'results' / 'SRVGGNetCompact_tiny_x4_example' / 'metrics.csv').is_file()
    assert (clone / 'results' / 'eval_example' / 'compare_photos.png').is_file()
