"""PDD end to end on CPU: the tiny option files, the authors' three files (paths and sizes changed only), exact resume,
bad target data, the `train_mix.py` entry point, and a 2-process gloo job."""

import glob
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
import torch

from basicsr.archs.discriminator_arch import UNetDiscriminatorSN
from basicsr.data.dataset_check import DatasetCheckError
from basicsr.option_check import OptionError, get_path
from basicsr.train import train_pipeline
from basicsr.utils.options import load_option_file
from tests.conftest import write_images
from tests.helpers.launch import DUMP_WEIGHTS, torchrun
from tests.helpers.pdd_options import (
    REPO,
    TINY_RRDB,
    assert_state_dicts_equal,
    build_pdd_model,
    one_torch_thread,  # noqa: F401  (autouse: one torch thread per test)
    save_generalist,
    tiny_pdd_options,
    write_options,
    write_pdd_data,
)

AUTHORS = Path(REPO) / 'tests' / 'fixtures' / 'authors'
TINY = Path(REPO) / 'options' / 'tiny'
SHORT_TINY_RUN = [
    'train:total_iter=4',
    'train:net_d_init_iters=1',
    'val:val_freq=4',
    'logger:print_freq=1',
    'logger:save_checkpoint_freq=4',
    'datasets:train_s:batch_size_per_gpu=1',
    'datasets:train_t:batch_size_per_gpu=1',
]


def read_log(experiment: Path) -> str:
    return ''.join(open(f).read() for f in sorted(glob.glob(str(experiment / 'train_*.log'))))


def logged_iterations_with(log: str, key: str) -> list[int]:
    return [int(m.group(1)) for m in re.finditer(r'iter:\s+(\d+), lr:.*', log) if f' {key}: ' in m.group(0)]


def write_tiny_file_data(opt: dict, root: Path) -> None:
    """Images at the tiny option file's relative data paths under `root`, big enough for its crops."""
    hr_size, lr_size = 64, 16
    datasets = opt['datasets']
    write_images(root / datasets['train_s']['dataroot_gt'], 2, hr_size, seed=1)
    write_images(root / datasets['train_t']['dataroot_lq'], 2, lr_size, seed=2)
    names = write_images(root / datasets['val']['dataroot_gt'], 1, hr_size, seed=3)
    lq_dir = root / datasets['val']['dataroot_lq']
    lq_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        img = cv2.imread(str(root / datasets['val']['dataroot_gt'] / name))
        cv2.imwrite(str(lq_dir / name), cv2.resize(img, (lr_size, lr_size), interpolation=cv2.INTER_AREA))


@pytest.fixture(scope='module')
def tiny_runs(tmp_path_factory):
    """options/tiny/pdd_ema_cpu.yml, then pdd_static_cpu.yml (whose generalist is the EMA run's result), launched
    from a folder holding tiny data at the files' own relative paths, shortened with --force_yml."""
    root = tmp_path_factory.mktemp('tiny_pdd')
    write_tiny_file_data(load_option_file(str(TINY / 'pdd_ema_cpu.yml')), root)
    cwd, threads = os.getcwd(), torch.get_num_threads()
    os.chdir(root)
    torch.set_num_threads(1)
    try:
        ema = train_pipeline(
            str(root),
            ['-opt', str(TINY / 'pdd_ema_cpu.yml'), '--force_yml', *SHORT_TINY_RUN, 'train:domain_opt_warmup_iters=1'],
        )
        static = train_pipeline(str(root), ['-opt', str(TINY / 'pdd_static_cpu.yml'), '--force_yml', *SHORT_TINY_RUN])
    finally:
        os.chdir(cwd)
        torch.set_num_threads(threads)
    return root, ema, static


@pytest.mark.parametrize('name, first_distilling_iter', [('pdd_ema_tiny_cpu', 3), ('pdd_static_tiny_cpu', 2)])
def test_tiny_option_files_log_distillation_after_the_warm_up_and_validate(tiny_runs, name, first_distilling_iter):
    root = tiny_runs[0]
    log = read_log(root / 'experiments' / name)
    assert logged_iterations_with(log, 'l_g_pix') == [2, 3, 4]
    for key in ('l_inter', 'l_intra'):
        assert logged_iterations_with(log, key) == list(range(first_distilling_iter, 5)), key
    assert re.search(r'# psnr: [0-9.]+\tBest: [0-9.]+ @ 4 iter', log)
    assert glob.glob(str(root / 'tb_logger' / name / 'events.out.tfevents.*'))
    saved = torch.load(root / 'experiments' / name / 'models' / 'net_g_4.pth', weights_only=True)
    assert set(saved) == {'params', 'params_ema'}


def test_tiny_static_file_distils_from_the_frozen_ema_run_result(tiny_runs):
    root, ema, static = tiny_runs
    assert not hasattr(ema, 'net_g_fix')
    assert_state_dicts_equal(static.net_g_fix.state_dict(), ema.net_g_ema.state_dict(), 'net_g_fix')
    models = root / 'experiments' / 'pdd_static_tiny_cpu' / 'models'
    assert not glob.glob(str(models / 'net_g_fix*'))


def authors_file_run(fixture: str, tmp_path: Path) -> dict:
    """The authors' file with paths pointed at tiny data and tiny checkpoints and sizes shrunk; nothing else."""
    opt = load_option_file(str(AUTHORS / fixture))
    data = write_pdd_data(tmp_path / 'data', hr_size=32, scale=4)
    datasets = opt['datasets']
    datasets['train_s'].update(
        dataroot_gt=data['hr'], dataroot_lq=data['hr'], batch_size_per_gpu=1, num_worker_per_gpu=0
    )
    datasets['train_t'].update(dataroot_lq=data['target'], lq_size=8, batch_size_per_gpu=1, num_worker_per_gpu=0)
    datasets['val'].update(dataroot_gt=data['val_gt'], dataroot_lq=data['val_lq'])
    for step in datasets['train_s']['pipeline']:
        if step['type'] == 'FixedCrop':
            step['crop_size'] = [32, 32]
        elif step['type'] == 'RandomResize':
            step['params']['target_size'] = [8, 8]
        elif step['type'] == 'MATLABLikeResize':
            step['output_shape'] = [8, 8]
    for key in ('network_g', 'network_g_fix'):
        opt[key].update({k: TINY_RRDB[k] for k in ('num_feat', 'num_block', 'num_grow_ch')})
    opt['network_d']['num_feat'] = 4
    for key in ('pretrain_network_g', 'pretrain_network_g_fix'):
        opt['path'][key] = str(tmp_path / 'weights' / os.path.basename(opt['path'][key]))
    opt['train'].update(total_iter=7, net_d_init_iters=1)
    opt['train']['domain_opt']['pretrained'] = False
    opt['train']['perceptual_opt']['pretrained'] = False
    opt['val']['val_freq'] = 7
    opt['val']['metrics']['lpips']['pretrained_backbone'] = False
    opt['logger'].update(print_freq=1, save_checkpoint_freq=7)
    return opt


SIZE_AND_PATH_KEYS = {
    'datasets.train_s.dataroot_gt',
    'datasets.train_s.dataroot_lq',
    'datasets.train_t.dataroot_lq',
    'datasets.val.dataroot_gt',
    'datasets.val.dataroot_lq',
    'path.pretrain_network_g',
    'path.pretrain_network_g_fix',
    'datasets.train_s.pipeline.0.crop_size',
    'datasets.train_s.pipeline.5.params.target_size',
    'datasets.train_s.pipeline.5.output_shape',
    'datasets.train_t.lq_size',
    'datasets.train_s.batch_size_per_gpu',
    'datasets.train_t.batch_size_per_gpu',
    'datasets.train_s.num_worker_per_gpu',
    'datasets.train_t.num_worker_per_gpu',
    'network_g.num_feat',
    'network_g.num_block',
    'network_g.num_grow_ch',
    'network_g_fix.num_feat',
    'network_g_fix.num_block',
    'network_g_fix.num_grow_ch',
    'network_d.num_feat',
    'train.total_iter',
    'train.net_d_init_iters',
    'val.val_freq',
    'logger.print_freq',
    'logger.save_checkpoint_freq',
    # weights that cannot exist offline: ImageNet VGG19 and the LPIPS AlexNet backbone
    'train.domain_opt.pretrained',
    'train.perceptual_opt.pretrained',
    'val.metrics.lpips.pretrained_backbone',
}


def changed_keys(before, after, prefix: str = '') -> set[str]:
    if isinstance(before, dict) and isinstance(after, dict):
        return set().union(*[changed_keys(before.get(k), after.get(k), f'{prefix}{k}.') for k in {*before, *after}])
    if (
        isinstance(before, list)
        and isinstance(after, list)
        and len(before) == len(after)
        and all(isinstance(item, dict) for item in before + after)
    ):
        return set().union(*[changed_keys(b, a, f'{prefix}{i}.') for i, (b, a) in enumerate(zip(before, after))])
    return set() if before == after else {prefix.rstrip('.')}


@pytest.mark.parametrize(
    'fixture',
    [
        'train_Real_ESRGAN_EMA_x4_canon.yml',
        'train_Real_ESRGAN_EMA_matlabresize_x4_canon.yml',
        'train_Real_ESRGAN_Static_x4_canon.yml',
    ],
)
def test_authors_option_files_train_with_only_paths_and_sizes_changed(fixture, tmp_path):
    opt = authors_file_run(fixture, tmp_path)
    assert changed_keys(load_option_file(str(AUTHORS / fixture)), opt) <= SIZE_AND_PATH_KEYS
    save_generalist(tmp_path / 'weights' / 'RealESRGAN_x4plus.pth', seed=1, keys=('params_ema',))
    esrgan = save_generalist(tmp_path / 'weights' / 'ESRGAN_SRx4_DF2KOST_official-ff704c30.pth', seed=2)

    model = train_pipeline(str(tmp_path), ['-opt', write_options(tmp_path, opt)])

    log = read_log(tmp_path / 'experiments' / opt['name'])
    first_distilling = 1 + 1 + opt['train']['domain_opt_warmup_iters']
    assert logged_iterations_with(log, 'l_inter') == list(range(first_distilling, 8))
    assert re.search(r'# psnr: [0-9.]+\tBest', log) and re.search(r'# lpips: [0-9.]+\tBest', log)
    assert isinstance(model.net_d, UNetDiscriminatorSN)
    if opt['train']['use_net_g_ema']:
        assert not hasattr(model, 'net_g_fix')
    else:  # their static file freezes the bicubic ESRGAN (params only, asked as params_ema)
        assert_state_dicts_equal(model.net_g_fix.state_dict(), esrgan['params'], 'net_g_fix')
    assert (tmp_path / 'experiments' / opt['name'] / 'models' / 'net_g_7.pth').is_file()


@pytest.mark.parametrize('ema', [True, False])
def test_resume_in_the_middle_of_a_pdd_run_continues_identically(tmp_path, ema):
    """4 iterations straight == 2 iterations, a stop, and --auto_resume to 4: G, its EMA and D bit for bit."""
    data = write_pdd_data(tmp_path / 'data', hr_count=3, target_count=3)  # stop mid-epoch in both streams
    save_generalist(tmp_path / 'generalist.pth', keys=('params', 'params_ema'))

    def run(folder: str, total_iter: int, *extra: str):
        opt = tiny_pdd_options(data, ema=ema, total_iter=total_iter)
        opt['logger']['save_checkpoint_freq'] = 2
        if not ema:
            opt['path'].update(pretrain_network_g_fix=str(tmp_path / 'generalist.pth'), param_key_g_fix='params_ema')
        return train_pipeline(str(tmp_path / folder), ['-opt', write_options(tmp_path / folder, opt), *extra])

    straight = run('straight', 4)
    run('split', 2)
    resumed = run('split', 4, '--auto_resume')
    assert 'Resuming training from epoch' in read_log(tmp_path / 'split' / 'experiments' / 'tiny_pdd')
    for net in ('net_g', 'net_g_ema', 'net_d') + (() if ema else ('net_g_fix',)):
        assert_state_dicts_equal(getattr(resumed, net).state_dict(), getattr(straight, net).state_dict(), net)


def test_target_folder_with_fewer_images_than_a_batch_is_named(tmp_path):
    opt = tiny_pdd_options(write_pdd_data(tmp_path / 'data', target_count=1), batch=2)
    with pytest.raises(ValueError, match=r'datasets\.train_t: 1 images are fewer than one batch of 2'):
        train_pipeline(str(tmp_path), ['-opt', write_options(tmp_path, opt)])


def test_lq_size_larger_than_a_target_image_names_the_file(tmp_path):
    data = write_pdd_data(tmp_path / 'data', target_count=1)
    small = os.path.join(data['target'], 'img000.png')
    cv2.imwrite(small, cv2.imread(small)[:6, :6])
    with pytest.raises(DatasetCheckError, match=r'datasets\.train_t\.dataroot_lq: .*lq_size.*img000\.png \(6x6\)'):
        train_pipeline(str(tmp_path), ['-opt', write_options(tmp_path, tiny_pdd_options(data))])


def run_command(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, 'PYTHONPATH': REPO, 'OMP_NUM_THREADS': '1'}
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_authors_entry_point_train_mix_runs_a_pdd_file(tmp_path):
    opt = tiny_pdd_options(write_pdd_data(tmp_path / 'data'), total_iter=1)
    opt['path']['experiments_root'] = str(tmp_path / 'exp')
    run_command(
        [sys.executable, os.path.join(REPO, 'basicsr', 'train_mix.py'), '-opt', write_options(tmp_path, opt)], tmp_path
    )
    assert (tmp_path / 'exp' / 'models' / 'net_g_1.pth').is_file()


def test_two_process_gloo_pdd_job_keeps_the_ranks_identical(tmp_path):
    opt = tiny_pdd_options(write_pdd_data(tmp_path / 'data', hr_count=2, target_count=2), total_iter=3)
    opt['logger']['save_checkpoint_freq'] = 2
    cmd = torchrun(DUMP_WEIGHTS, str(tmp_path), str(tmp_path), '-opt', write_options(tmp_path, opt))
    run_command(cmd, tmp_path)
    rank0, rank1 = (torch.load(tmp_path / f'rank{r}.pth', weights_only=True) for r in (0, 1))
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    log = read_log(tmp_path / 'experiments' / 'tiny_pdd')
    assert logged_iterations_with(log, 'l_inter') == [3]
    at_iter2 = torch.load(tmp_path / 'experiments' / 'tiny_pdd' / 'models' / 'net_g_2.pth', weights_only=True)
    assert any(not torch.equal(at_iter2['params'][k], rank0[k]) for k in rank0), 'iteration 3 did not train net_g'


@pytest.mark.parametrize(
    'name, weight_keys',
    [
        ('pdd_ema.yml', ['path.pretrain_network_g']),
        ('pdd_static.yml', ['path.pretrain_network_g', 'path.pretrain_network_g_fix']),
    ],
)
def test_paper_option_files_fail_only_for_missing_data_and_weights_naming_them(
    tmp_path, monkeypatch, name, weight_keys
):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OptionError) as err:
        train_pipeline(str(tmp_path), ['-opt', os.path.join(REPO, 'options', name)])
    data_keys = [
        'datasets.train_s.dataroot_gt',
        'datasets.train_s.dataroot_lq',
        'datasets.train_t.dataroot_lq',
        'datasets.val.dataroot_gt',
        'datasets.val.dataroot_lq',
    ]
    vgg_losses = 'train.perceptual_opt, train.domain_opt'  # one problem for the one file both losses need
    assert [problem.split(':')[0] for problem in err.value.problems] == data_keys + weight_keys + [
        'val.metrics.lpips',
        vgg_losses,
    ]
    opt = load_option_file(os.path.join(REPO, 'options', name))
    for key, problem in zip(data_keys + weight_keys, err.value.problems):
        assert f'{get_path(opt, key)} does not exist' in problem, problem
    assert 'alexnet-owt-7be5be79.pth' in err.value.problems[-2] and 'vgg19-dcbb9e9d.pth' in err.value.problems[-1]
    assert not (tmp_path / 'experiments').exists()


def paper_ema_options() -> dict:
    opt = load_option_file(os.path.join(REPO, 'options', 'pdd_ema.yml'))
    opt['path']['pretrain_network_g'] = None
    return opt


def test_paper_ema_file_builds_its_full_size_model(tmp_path):
    opt = paper_ema_options()
    for loss in ('perceptual_opt', 'domain_opt'):
        opt['train'][loss]['pretrained'] = False
    model = build_pdd_model(opt, tmp_path)
    assert len(model.net_g.body) == 23 and model.net_g.conv_first.out_channels == 64
    assert model.generalist is model.net_g_ema and not hasattr(model, 'net_g_fix')
    assert model.cri_domain.layers == [
        'conv2_1',
        'conv3_1',
        'conv4_1',
        'conv5_1',
        'conv2_2',
        'conv3_4',
        'conv4_4',
        'conv5_4',
    ]


def test_paper_ema_file_without_vgg19_weights_says_which_file_and_where(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'vgg19-dcbb9e9d\.pth(.|\n)*hub(.|\n)*checkpoints'):
        build_pdd_model(paper_ema_options(), tmp_path)
