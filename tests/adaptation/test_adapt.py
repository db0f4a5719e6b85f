"""basicsr-adapt end to end on the CPU (photos made here, the shipped demo generalist, a handful of steps), and every
bad input of the issue as one plain message with a non-zero exit."""

import json
import os

import cv2
import numpy as np
import pytest
import torch

from basicsr.adapt import main as adapt_main
from basicsr.archs.srvgg_arch import SRVGGNetCompact
from basicsr.inference.network_loading import load_inference_network
from basicsr.option_check import validate_options
from basicsr.utils.checkpoint_util import atomic_save_network
from basicsr.utils.options import load_option_file, setup_options
from tests.conftest import write_images

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GENERALIST = os.path.join(REPO, 'scripts', 'demo', 'pretrained', 'demo_generalist.pth')

pytest.importorskip('onnxruntime')


def write_photos(folder, count: int = 4, size: int = 64) -> str:
    """Smooth random 'photos' as JPEG (one PNG), like a phone's LR pictures."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for index in range(count):
        small = rng.integers(0, 256, (size // 8, size // 8, 3), dtype=np.uint8)
        img = cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)
        ext = '.png' if index == 0 else '.jpg'
        cv2.imwrite(str(folder / f'photo{index}{ext}'), img)
    return str(folder)


def run_adapt(tmp_path, *extra: str, photos=None, generalist: str = GENERALIST) -> int:
    source = tmp_path / 'source'
    if not source.exists():
        write_images(source, 2, 96, seed=5)
    photos = photos or write_photos(tmp_path / 'photos')
    return adapt_main(
        [
            '--photos',
            photos,
            '--generalist',
            generalist,
            '--source',
            str(source),
            '--out',
            str(tmp_path / 'out'),
            '--quick',
            '--device',
            'cpu',
            *extra,
        ]
    )


def test_quick_adaptation_writes_a_valid_option_file_a_report_and_every_export(tmp_path):
    photos = write_photos(tmp_path / 'photos', count=5)
    (tmp_path / 'photos' / 'broken.jpg').write_bytes(b'not a jpeg')
    cv2.imwrite(str(tmp_path / 'photos' / 'tiny.png'), np.zeros((6, 6, 3), np.uint8))
    assert run_adapt(tmp_path, '--steps', '7', '--holdout', '2', photos=photos) == 0
    out = tmp_path / 'out'
    opt = load_option_file(str(out / 'adapt.yml'))
    opt['opt_path'] = str(out / 'adapt.yml')
    validate_options(setup_options(opt, str(out), is_train=True))
    record = json.loads((out / 'adapt.json').read_text())
    assert record['skipped'] == {'broken.jpg': 'unreadable', 'tiny.png': '6x6 px, smaller than the 16 px training crop'}
    assert len(record['held_out']) == 2 and not set(record['held_out']) & set(record['trained_on'])
    report = (out / 'report.md').read_text()
    assert 'NIQE (lower is better), adapted minus generalist:' in report and 'interval, n=2)' in report
    for name in ('report.html', 'report_files/losses.png'):
        assert (out / name).is_file(), name
    for name in ('adapted.safetensors', 'adapted.pth', 'adapted_fp32.onnx', 'adapted_fp16.onnx'):
        assert (out / 'export' / name).is_file(), name
    exported, _ = load_inference_network(str(out / 'export' / 'adapted.safetensors'))
    trained, _ = load_inference_network(str(out / 'run' / 'models' / 'net_g_latest.pth'), param_key='params')
    assert all(torch.equal(v, trained.state_dict()[k]) for k, v in exported.state_dict().items())


def bad_input_message(tmp_path, capsys, *extra: str, **kwargs) -> str:
    assert run_adapt(tmp_path, *extra, **kwargs) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: ') and 'Traceback' not in err
    return err


def test_an_empty_photos_folder_is_named(tmp_path, capsys):
    (tmp_path / 'empty').mkdir()
    assert 'holds no images' in bad_input_message(tmp_path, capsys, photos=str(tmp_path / 'empty'))


def test_all_photos_unreadable_names_them(tmp_path, capsys):
    (tmp_path / 'bad').mkdir()
    for name in ('a.jpg', 'b.png'):
        (tmp_path / 'bad' / name).write_bytes(b'\x00garbage')
    err = bad_input_message(tmp_path, capsys, photos=str(tmp_path / 'bad'))
    assert 'a.jpg: unreadable' in err and 'b.png: unreadable' in err


def test_photos_smaller_than_the_crop_are_named(tmp_path, capsys):
    err = bad_input_message(tmp_path, capsys, photos=write_photos(tmp_path / 'small', count=2, size=8))
    assert 'photo0.png: 8x8 px, smaller than the 16 px training crop' in err


def test_a_generalist_that_is_no_sr_state_dict_lists_its_keys(tmp_path, capsys):
    torch.save(
        {'params': {'features.0.weight': torch.zeros(1), 'classifier.bias': torch.zeros(1)}}, tmp_path / 'vgg.pth'
    )
    err = bad_input_message(tmp_path, capsys, generalist=str(tmp_path / 'vgg.pth'))
    assert 'is not an SR state dict' in err and 'features.0.weight, classifier.bias' in err


def test_generalist_and_specialist_scales_must_agree(tmp_path, capsys):
    atomic_save_network({'params': SRVGGNetCompact(3, 3, 8, 2, upscale=2).state_dict()}, str(tmp_path / 'x2.pth'))
    err = bad_input_message(tmp_path, capsys, '--mode', 'static', '--specialist', str(tmp_path / 'x2.pth'))
    assert 'is x4 but --specialist' in err and 'is x2' in err


def test_zero_steps_is_refused(tmp_path, capsys):
    assert '--steps 0: give a positive number' in bad_input_message(tmp_path, capsys, '--steps', '0')
    assert not (tmp_path / 'out').exists()


def test_an_earlier_adaptation_is_never_overwritten(tmp_path, capsys):
    (tmp_path / 'out').mkdir()
    for name in ('adapt.yml', 'adapt.json'):
        (tmp_path / 'out' / name).write_text('earlier')
    err = bad_input_message(tmp_path, capsys)
    assert 'holds an earlier adaptation: add --resume' in err and '--archive' in err
    assert (tmp_path / 'out' / 'adapt.yml').read_text() == 'earlier'


def test_resume_continues_the_earlier_adaptation_and_archive_starts_anew(tmp_path, capsys):
    assert run_adapt(tmp_path, '--steps', '3', '--holdout', '1') == 0
    models = tmp_path / 'out' / 'run' / 'models'
    assert (models / 'net_g_3.pth').is_file()
    assert run_adapt(tmp_path, '--steps', '5', '--resume') == 0
    log = ''.join(p.read_text() for p in sorted((tmp_path / 'out' / 'run').glob('train_*.log')))
    assert 'Resuming training from epoch' in log and 'iter: 3.' in log and 'iter:       5,' in log
    assert run_adapt(tmp_path, '--steps', '2', '--archive') == 0
    assert (
        len(list(tmp_path.glob('out_archived_*'))) == 1
        and (tmp_path / 'out' / 'run' / 'models' / 'net_g_2.pth').is_file()
    )


def test_a_failed_first_attempt_leaves_no_folder_in_the_way(tmp_path, capsys):
    (tmp_path / 'empty').mkdir()
    bad_input_message(tmp_path, capsys, photos=str(tmp_path / 'empty'))
    assert not (tmp_path / 'out').exists()
