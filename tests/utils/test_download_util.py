"""Specifications of BasicSR's download helpers in offline form: present files are returned, nothing is fetched."""

import os
import urllib.request

import pytest
import torch

from basicsr.utils.download_util import download_file_from_google_drive, load_file_from_url

URL = 'https://github.com/xinntao/Real-ESRGAN/releases/download/v0.1.0/RealESRGAN_x4plus.pth'


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    """Fake TORCH_HOME, no weights env, and any network access fails loudly."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    monkeypatch.delenv('BASICSR_WEIGHTS_DIR', raising=False)
    monkeypatch.chdir(tmp_path)

    def no_network(*args, **kwargs):
        raise AssertionError('network access attempted')

    monkeypatch.setattr(urllib.request, 'urlopen', no_network)
    monkeypatch.setattr(torch.hub, 'download_url_to_file', no_network)


def _touch(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, 'wb').close()
    return str(path)


def test_present_file_in_model_dir_is_returned_as_absolute_path(tmp_path):
    expected = _touch(tmp_path / 'weights' / 'RealESRGAN_x4plus.pth')
    assert load_file_from_url(URL, model_dir='weights', progress=True) == expected


def test_default_model_dir_is_the_torch_hub_cache(tmp_path):
    expected = _touch(tmp_path / 'torch_home' / 'hub' / 'checkpoints' / 'RealESRGAN_x4plus.pth')
    assert load_file_from_url(URL) == expected


def test_file_name_overrides_the_url_and_query_strings_are_ignored(tmp_path):
    renamed = _touch(tmp_path / 'weights' / 'net_g.pth')
    assert load_file_from_url(URL, model_dir=str(tmp_path / 'weights'), file_name='net_g.pth') == renamed
    plain = _touch(tmp_path / 'weights' / 'model.pth')
    assert load_file_from_url('https://host/dir/model.pth?download=1', model_dir=str(tmp_path / 'weights')) == plain


def test_missing_file_error_says_which_file_goes_where_without_downloading(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        load_file_from_url(URL, model_dir=str(tmp_path / 'weights'))
    message = str(error.value)
    assert os.path.join(str(tmp_path / 'weights'), 'RealESRGAN_x4plus.pth') in message
    assert URL in message


def test_google_drive_download_is_a_no_op_for_present_files_and_an_error_otherwise(tmp_path):
    present = _touch(tmp_path / 'data' / 'meta.txt')
    assert download_file_from_google_drive('abc123', present) is None
    with pytest.raises(FileNotFoundError, match=r'id=abc123.*missing\.zip'):
        download_file_from_google_drive('abc123', str(tmp_path / 'missing.zip'))
