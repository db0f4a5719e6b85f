"""Specifications of the offline weight policy: search order, error text, safe reading, key-checked loading."""

import os

import pytest
import torch
from torch import nn

from basicsr.utils.weights_util import load_weight_file, read_weight_file, resolve_weight_file

FILENAME = 'tiny-0123abcd.pth'


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    """Empty hub cache under a fake TORCH_HOME, no $BASICSR_WEIGHTS_DIR, cwd without experiments/."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    monkeypatch.delenv('BASICSR_WEIGHTS_DIR', raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _put(directory, filename=FILENAME, content=None):
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, filename)
    torch.save(content if content is not None else {'w': torch.ones(1)}, path)
    return path


def test_file_in_torch_hub_cache_of_torch_home_is_found(isolated_dirs):
    path = _put(isolated_dirs / 'torch_home' / 'hub' / 'checkpoints')
    assert resolve_weight_file(FILENAME) == path


def test_weights_dir_env_is_searched_before_the_hub_cache(isolated_dirs, monkeypatch):
    _put(isolated_dirs / 'torch_home' / 'hub' / 'checkpoints')
    env_path = _put(isolated_dirs / 'weights')
    monkeypatch.setenv('BASICSR_WEIGHTS_DIR', str(isolated_dirs / 'weights'))
    assert resolve_weight_file(FILENAME) == env_path


def test_basicsr_pretrained_models_folder_is_searched_last(isolated_dirs):
    path = _put(isolated_dirs / 'experiments' / 'pretrained_models')
    assert resolve_weight_file(FILENAME) == path


def test_explicit_path_wins_and_may_be_a_folder(isolated_dirs):
    _put(isolated_dirs / 'torch_home' / 'hub' / 'checkpoints')
    explicit = _put(isolated_dirs / 'mine', filename='renamed.pth')
    assert resolve_weight_file(FILENAME, explicit_path=explicit) == explicit
    folder_file = _put(isolated_dirs / 'folder')
    assert resolve_weight_file(FILENAME, explicit_path=str(isolated_dirs / 'folder')) == folder_file


def test_missing_explicit_path_is_an_error_even_if_the_hub_has_the_file(isolated_dirs):
    _put(isolated_dirs / 'torch_home' / 'hub' / 'checkpoints')
    missing = str(isolated_dirs / 'typo.pth')
    with pytest.raises(FileNotFoundError, match='typo.pth'):
        resolve_weight_file(FILENAME, explicit_path=missing)


def test_missing_file_error_names_file_every_location_and_how_to_get_it(isolated_dirs, monkeypatch):
    monkeypatch.setenv('BASICSR_WEIGHTS_DIR', str(isolated_dirs / 'weights'))
    with pytest.raises(FileNotFoundError) as error:
        resolve_weight_file(
            FILENAME,
            purpose='the tiny test net',
            search_dirs=[str(isolated_dirs / 'extra')],
            how_to_get='run fetch-tiny',
        )
    message = str(error.value)
    hub = str(isolated_dirs / 'torch_home' / 'hub' / 'checkpoints')
    for location in ['extra', 'weights', os.path.join('experiments', 'pretrained_models')]:
        assert os.path.join(str(isolated_dirs), location, FILENAME) in message
    assert os.path.join(hub, FILENAME) in message
    assert 'the tiny test net' in message and 'run fetch-tiny' in message and 'BASICSR_WEIGHTS_DIR' in message


def test_read_weight_file_refuses_pickled_code(isolated_dirs):
    path = _put(isolated_dirs, content={'net': nn.Linear(1, 1)})
    with pytest.raises(RuntimeError, match=FILENAME):
        read_weight_file(path)


def test_read_weight_file_reports_a_truncated_file(isolated_dirs):
    path = _put(isolated_dirs, content={'w': torch.ones(100)})
    with open(path, 'r+b') as handle:
        handle.truncate(os.path.getsize(path) // 2)
    with pytest.raises(RuntimeError, match='truncated'):
        read_weight_file(path)


def test_load_weight_file_renames_keys_and_drops_unmapped_ones(isolated_dirs):
    source = nn.Conv2d(2, 3, 1)
    path = _put(
        isolated_dirs,
        content={**{f'features.0.{k}': v for k, v in source.state_dict().items()}, 'classifier.weight': torch.zeros(2)},
    )
    target = nn.Sequential()
    target.add_module('conv1_1', nn.Conv2d(2, 3, 1))
    load_weight_file(
        target, path, key_map=lambda key: key.replace('features.0', 'conv1_1') if key.startswith('features.') else None
    )
    assert torch.equal(target.conv1_1.weight, source.weight)


def test_load_weight_file_lists_missing_and_unexpected_keys(isolated_dirs):
    path = _put(isolated_dirs, content={'weight': torch.zeros(3, 2, 1, 1), 'extra': torch.zeros(1)})
    with pytest.raises(ValueError, match=r'missing keys bias.*unexpected keys extra'):
        load_weight_file(nn.Conv2d(2, 3, 1), path)
    target = nn.Conv2d(2, 3, 1)
    load_weight_file(target, path, strict=False)
    assert torch.all(target.weight == 0)


def test_load_weight_file_rejects_shape_mismatch_even_when_not_strict(isolated_dirs):
    path = _put(isolated_dirs, content={'weight': torch.zeros(4, 2, 1, 1)})
    with pytest.raises(ValueError, match=r'weight: file \(4, 2, 1, 1\) vs model \(3, 2, 1, 1\)'):
        load_weight_file(nn.Conv2d(2, 3, 1), path, strict=False)


def test_load_weight_file_accepts_batch_norm_state_without_step_counter(isolated_dirs):
    state = {k: v for k, v in nn.BatchNorm2d(4).state_dict().items() if k != 'num_batches_tracked'}
    state['running_mean'] = torch.full((4,), 0.5)
    target = nn.BatchNorm2d(4)
    load_weight_file(target, _put(isolated_dirs, content=state))
    assert torch.all(target.running_mean == 0.5)
