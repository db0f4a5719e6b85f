"""The adapt option plan keeps the paper's settings, photos are read upright and tiled, and static mode with a
spandrel generalist writes a SpandrelNet block."""

import os

import numpy as np
import pytest
import torch
from PIL import Image

from basicsr.adaptation.networks import starting_networks
from basicsr.adaptation.photos import read_photo, split_holdout, tiles_of
from basicsr.adaptation.plan import PAPER, PAPER_LOSSES, QUICK, adapt_options, adapt_size
from basicsr.archs.srvgg_arch import SRVGGNetCompact
from basicsr.utils.checkpoint_util import atomic_save_network
from basicsr.utils.options import load_option_file

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_the_loss_settings_are_the_papers_options_file():
    paper = load_option_file(os.path.join(REPO, 'options', 'pdd_ema.yml'))['train']
    for key, block in PAPER_LOSSES.items():
        assert block == {k: v for k, v in paper[key].items()}, key
    assert PAPER.steps == paper['total_iter'] and PAPER.d_init_iters == paper['net_d_init_iters']
    assert list(PAPER.milestones) == paper['scheduler']['milestones']


def test_steps_replace_the_length_and_keep_the_discriminator_warm_up_short():
    size = adapt_size(quick=True, steps=40)
    assert (size.steps, size.d_init_iters, size.print_freq) == (40, 4, 4) and size.gt_crop == QUICK.gt_crop
    with pytest.raises(ValueError, match='--steps 0'):
        adapt_size(quick=False, steps=0)


def test_a_jpeg_is_read_upright_as_its_exif_orientation_says(tmp_path):
    pixels = np.zeros((20, 40, 3), np.uint8)  # 40 wide, 20 high as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.fromarray(pixels).save(tmp_path / 'phone.jpg', exif=exif)
    assert read_photo(str(tmp_path / 'phone.jpg')).shape[:2] == (40, 20)


def test_tiles_cover_a_photo_on_a_grid_and_are_capped():
    img = np.zeros((150, 100, 3), np.uint8)
    assert [t.shape[:2] for t in tiles_of(img, 64, 100)] == [(64, 64)] * 6  # rows at 0, 64, 86; cols at 0, 36
    assert len(tiles_of(img, 64, 4)) == 4
    assert tiles_of(np.zeros((30, 50, 3), np.uint8), 64, 4)[0].shape[:2] == (30, 50)


def test_held_out_photos_are_fixed_by_the_seed_and_never_trained_on():
    names = [f'p{i}.jpg' for i in range(8)]
    train, held = split_holdout(names, 3)
    assert (train, held) == split_holdout(list(reversed(names)), 3)
    assert len(held) == 3 and not set(train) & set(held) and len(train) == 5


def test_static_mode_with_a_spandrel_generalist_writes_a_spandrel_net_block(tmp_path):
    pytest.importorskip('spandrel')
    torch.manual_seed(0)
    atomic_save_network({'params': SRVGGNetCompact(3, 3, 8, 2, upscale=4).state_dict()}, str(tmp_path / 'spec.pth'))
    # a Compact whose keys our loaders do not know, but spandrel does: prefixed like a netG checkpoint
    state = {f'netG.{k}': v for k, v in SRVGGNetCompact(3, 3, 8, 2, upscale=4).state_dict().items()}
    torch.save(state, tmp_path / 'teacher.pth')
    generalist, specialist = starting_networks('static', str(tmp_path / 'teacher.pth'), str(tmp_path / 'spec.pth'))
    assert generalist['network'] == {'type': 'SpandrelNet', 'path': str(tmp_path / 'teacher.pth')}
    opt = adapt_options('x', str(tmp_path / 'run'), generalist, specialist, {}, QUICK, 4, 'vgg.pth', 0)
    assert opt['network_g_fix']['type'] == 'SpandrelNet' and 'pretrain_network_g_fix' not in opt['path']
    assert opt['path']['pretrain_network_g'] == specialist['path'] and opt['train']['use_net_g_ema'] is False
