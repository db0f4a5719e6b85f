"""The inference CLI upscales a folder on CPU with tiles and colour correction, and names every bad input."""

import os
import subprocess
import sys

import cv2
import numpy as np
import torch
import yaml

from basicsr.archs.rrdbnet_arch import RRDBNet
from basicsr.archs.srvgg_arch import SRVGGNetCompact
from scripts.inference import main
from tests.conftest import write_images

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def save_srvgg(tmp_path, num_conv: int = 2) -> str:
    torch.manual_seed(0)
    path = tmp_path / 'net_g.pth'
    net = SRVGGNetCompact(3, 3, num_feat=8, num_conv=num_conv, upscale=2)
    torch.save({'params': net.state_dict(), 'params_ema': net.state_dict()}, path)
    return str(path)


def test_folder_is_upscaled_with_tiles_and_colour_correction_on_cpu(tmp_path, capsys):
    names = write_images(tmp_path / 'lr', count=2, size=24)
    out = tmp_path / 'out'
    status = main(
        [
            '-i',
            str(tmp_path / 'lr'),
            '-o',
            str(out),
            '--model',
            save_srvgg(tmp_path),
            '--tile',
            '8',
            '--tile-pad',
            '6',
            '--color-correction',
            '--device',
            'cpu',
        ]
    )
    assert status == 0
    for name in names:
        result = cv2.imread(str(out / name.replace('.png', '_out.png')))
        lr = cv2.imread(str(tmp_path / 'lr' / name))
        assert result.shape == (48, 48, 3)
        np.testing.assert_allclose(result.reshape(-1, 3).mean(0), lr.reshape(-1, 3).mean(0), atol=1.5)
    printed = capsys.readouterr().out
    assert 'SRVGGNetCompact(' in printed and 'tile 8 pad 6' in printed and ' s: ' in printed


def test_tiled_and_whole_image_outputs_are_the_same_files(tmp_path):
    write_images(tmp_path / 'lr', count=1, size=40)
    model = save_srvgg(tmp_path)
    common = ['-i', str(tmp_path / 'lr'), '--model', model, '--device', 'cpu', '--suffix', '']
    assert main(common + ['-o', str(tmp_path / 'whole')]) == 0
    assert main(common + ['-o', str(tmp_path / 'tiled'), '--tile', '16', '--tile-pad', '5']) == 0
    whole = cv2.imread(str(tmp_path / 'whole' / 'img000.png'))
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / 'tiled' / 'img000.png')), whole)


def test_undecodable_image_is_named_and_the_rest_still_processed(tmp_path, capsys):
    write_images(tmp_path / 'lr', count=2, size=16)
    (tmp_path / 'lr' / 'broken.jpg').write_bytes(b'\xff\xd8 not really a jpeg')
    status = main(
        ['-i', str(tmp_path / 'lr'), '-o', str(tmp_path / 'out'), '--model', save_srvgg(tmp_path), '--device', 'cpu']
    )
    assert status == 1
    assert sorted(os.listdir(tmp_path / 'out')) == ['img000_out.png', 'img001_out.png']
    assert 'broken.jpg' in capsys.readouterr().err


def test_empty_folder_is_reported(tmp_path, capsys):
    (tmp_path / 'lr').mkdir()
    assert main(['-i', str(tmp_path / 'lr'), '-o', str(tmp_path / 'out'), '--model', save_srvgg(tmp_path)]) == 2
    assert 'holds no images' in capsys.readouterr().err


def test_checkpoint_that_does_not_match_the_yaml_network_names_the_keys(tmp_path, capsys):
    write_images(tmp_path / 'lr', count=1, size=16)
    option_file = tmp_path / 'opt.yml'
    option_file.write_text(
        yaml.safe_dump({'network_g': {'type': 'SRVGGNetCompact', 'num_feat': 8, 'num_conv': 3, 'upscale': 2}})
    )
    status = main(
        [
            '-i',
            str(tmp_path / 'lr'),
            '-o',
            str(tmp_path / 'out'),
            '--model',
            save_srvgg(tmp_path),
            '--opt',
            str(option_file),
        ]
    )
    assert status == 2
    err = capsys.readouterr().err
    assert 'unexpected keys' in err or 'missing keys' in err
    assert 'body.' in err


def test_rrdbnet_arch_name_with_alpha_and_sixteen_bit_input(tmp_path):
    torch.manual_seed(0)
    model = tmp_path / 'rrdb.pth'
    torch.save({'params_ema': RRDBNet(3, 3, scale=2, num_feat=8, num_block=1, num_grow_ch=4).state_dict()}, model)
    (tmp_path / 'lr').mkdir()
    rgba16 = np.random.default_rng(0).integers(0, 65536, (11, 9, 4), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / 'lr' / 'rgba.png'), rgba16)
    assert (
        main(
            [
                '-i',
                str(tmp_path / 'lr' / 'rgba.png'),
                '-o',
                str(tmp_path / 'out'),
                '--model',
                str(model),
                '--arch',
                'RRDBNet',
                '--tile',
                '4',
                '--tile-pad',
                '4',
            ]
        )
        == 0
    )
    written = cv2.imread(str(tmp_path / 'out' / 'rgba_out.png'), cv2.IMREAD_UNCHANGED)
    assert written.dtype == np.uint16 and written.shape == (22, 18, 4)


def test_script_runs_from_the_command_line(tmp_path):
    write_images(tmp_path / 'lr', count=1, size=16)
    done = subprocess.run(
        [
            sys.executable,
            os.path.join(REPO, 'scripts', 'inference.py'),
            '-i',
            str(tmp_path / 'lr'),
            '-o',
            str(tmp_path / 'out'),
            '--model',
            save_srvgg(tmp_path),
            '--tile',
            '64',
            '--color-correction',
        ],
        capture_output=True,
        text=True,
        cwd=str(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    assert os.path.isfile(tmp_path / 'out' / 'img000_out.png')
