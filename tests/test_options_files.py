"""Every YAML file shipped under options/ is valid: only data or weight files absent from this checkout may fail."""

import glob
import os
import re

import pytest

from basicsr.option_check import OptionError, validate_options
from basicsr.utils.options import load_option_file, setup_options

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALL_YAML = sorted(glob.glob(os.path.join(REPO, 'options', '**', '*.yml'), recursive=True))
# The demo's degradation recipes (read by scripts/demo/degradation.py) are not training/testing options.
DEGRADATION_DIR = os.path.join(REPO, 'options', 'demo', 'degradations') + os.sep
DEGRADATION_FILES = [path for path in ALL_YAML if path.startswith(DEGRADATION_DIR)]
OPTION_FILES = [path for path in ALL_YAML if path not in DEGRADATION_FILES]
GAN_RECIPES = (
    'train_msrresnet_x4.yml',
    'train_rrdbnet_psnr_x4.yml',
    'train_esrgan_x4.yml',
    'tiny/srgan_cpu.yml',
    'tiny/esrgan_cpu.yml',
)
# Paths a fresh clone lacks until the user prepares data or trains the model a file starts from.
ABSENT_FILE_PROBLEM = re.compile(
    r'(datasets\.\w+\.(dataroot_\w+|meta_info_file|meta_info)'
    r'|path\.(pretrain_network_\w+|resume_state)): .+ does not exist'
    r'|(val\.metrics\.\w+|train\.\w+_opt(, train\.\w+_opt)*): '
    r"Pretrained weights '[\w.-]+' .*not found",
    re.DOTALL,
)


def relative(path: str) -> str:
    return os.path.relpath(path, os.path.join(REPO, 'options'))


def test_recipes_of_the_gan_issue_are_shipped():
    shipped = {relative(path) for path in ALL_YAML}
    assert set(GAN_RECIPES) <= shipped


@pytest.mark.parametrize('path', OPTION_FILES, ids=relative)
def test_option_file_is_valid_apart_from_absent_data_and_weights(path, monkeypatch):
    monkeypatch.chdir(REPO)  # option files hold paths relative to the repository root, where users launch
    opt = load_option_file(path)
    setup_options(opt, REPO, is_train='train' in opt)
    try:
        validate_options(opt)
    except OptionError as err:
        other = [problem for problem in err.problems if not ABSENT_FILE_PROBLEM.match(problem)]
        assert not other, f'{relative(path)}: ' + '\n'.join(other)


@pytest.mark.parametrize('name', ['tiny/srgan_cpu.yml', 'tiny/esrgan_cpu.yml'])
def test_cpu_gan_recipes_ask_for_random_vgg_explicitly(name):
    opt = load_option_file(os.path.join(REPO, 'options', name))
    assert opt['num_gpu'] == 0
    assert opt['train']['perceptual_opt']['pretrained'] is False


@pytest.mark.parametrize('path', DEGRADATION_FILES, ids=relative)
def test_demo_degradation_recipe_is_valid(path):
    from scripts.demo.degradation import load_domain

    domain = load_domain(path)
    assert domain['steps']
