"""The `realesrgan` package (0.3.0, installed by `make setup`) imports and trains on top of our basicsr, unchanged.

Real-ESRGAN's models call `.cuda()` unconditionally; on this CPU-only harness that is made a no-op (their limitation,
compat.md section 1). Each check runs in a subprocess so its plain-name registrations do not leak into other tests.
"""

import os
import subprocess
import sys
import textwrap

import yaml

from tests.conftest import write_images

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CUDA_NOOP = """
import torch
torch.nn.Module.cuda = lambda self, *a, **k: self
torch.Tensor.cuda = lambda self, *a, **k: self
"""


def run_python(code: str, cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, 'PYTHONPATH': REPO, 'OMP_NUM_THREADS': '1'}
    return subprocess.run(
        [sys.executable, '-c', textwrap.dedent(code)], capture_output=True, text=True, cwd=cwd, env=env, timeout=600
    )


def test_realesrgan_imports_after_basicsr_and_owns_the_plain_names(tmp_path):
    result = run_python(
        """
        import basicsr, realesrgan
        from basicsr.utils.registry import ARCH_REGISTRY, DATASET_REGISTRY, MODEL_REGISTRY
        assert ARCH_REGISTRY.get('SRVGGNetCompact').__module__.startswith('realesrgan')
        assert ARCH_REGISTRY.get('UNetDiscriminatorSN').__module__.startswith('realesrgan')
        assert MODEL_REGISTRY.get('RealESRGANModel').__module__.startswith('realesrgan')
        assert DATASET_REGISTRY.get('RealESRGANDataset').__module__.startswith('realesrgan')
        assert ARCH_REGISTRY.get('SRVGGNetCompact_basicsr').__module__.startswith('basicsr')
        print('OK')
    """,
        tmp_path,
    )
    assert result.returncode == 0 and 'OK' in result.stdout, result.stderr[-3000:]


def generalist_options(tmp_path, model_type: str) -> dict:
    opt = yaml.safe_load(open(os.path.join(REPO, 'options', 'tiny', 'realesrgan_cpu.yml')))
    hr = tmp_path / 'hr'
    names = write_images(hr, 8, 64)
    meta_info = tmp_path / 'meta_info.txt'
    meta_info.write_text(''.join(f'{name}\n' for name in names))
    opt.update(name=f'compat_{model_type}', model_type=model_type, gt_size=32, queue_size=8, gt_usm=True)
    opt['datasets']['train'].update(dataroot_gt=str(hr), meta_info=str(meta_info), gt_size=32, batch_size_per_gpu=4)
    opt['datasets']['val'].update(dataroot_gt=str(hr), dataroot_lq=str(hr))
    opt['datasets']['val']['type'] = 'SingleImageDataset'
    opt['datasets']['val'].pop('dataroot_gt')
    opt['path'].update(pretrain_network_g=None, experiments_root=str(tmp_path / 'exp'))
    opt['train']['total_iter'] = 3
    opt['val'] = {'val_freq': 3, 'save_img': False}
    opt['logger'].update(print_freq=1, save_checkpoint_freq=3, use_tb_logger=False)
    return opt


def test_realesrgan_models_train_on_our_basicsr(tmp_path):
    for model_type in ('RealESRNetModel', 'RealESRGANModel'):
        opt_path = tmp_path / f'{model_type}.yml'
        opt_path.write_text(yaml.safe_dump(generalist_options(tmp_path, model_type)))
        result = run_python(
            CUDA_NOOP
            + f"""
import realesrgan.archs, realesrgan.data, realesrgan.models
from basicsr.train import train_pipeline
model = train_pipeline({str(tmp_path)!r}, ['-opt', {str(opt_path)!r}])
assert type(model).__module__.startswith('realesrgan'), type(model)
print('LOG', sorted(model.log_dict))
""",
            tmp_path,
        )
        assert result.returncode == 0, result.stderr[-4000:]
        expected = (
            ('l_pix', 'l_percep')
            if model_type == 'RealESRNetModel'
            else ('l_g_pix', 'l_g_percep', 'l_g_gan', 'l_d_real', 'out_d_real', 'l_d_fake', 'out_d_fake')
        )
        logged = result.stdout.split('LOG ')[1]
        for key in expected:
            assert f"'{key}'" in logged, (key, logged)
        assert (tmp_path / 'exp' / 'models' / 'net_g_3.pth').is_file()
