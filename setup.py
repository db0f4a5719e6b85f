"""Installable `basicsr`: a BasicSR-compatible SR training framework with Pairwise Distance Distillation."""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def read_requirements() -> list[str]:
    lines = (HERE / 'requirements.txt').read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith('#')]


def read_version() -> str:
    scope: dict = {}
    exec((HERE / 'basicsr' / 'version.py').read_text(), scope)
    return scope['__version__']


setup(
    name='basicsr',
    version=read_version(),
    description='BasicSR-compatible super-resolution training with Pairwise Distance Distillation (PDD, ECCV 2024)',
    long_description=(HERE / 'README.md').read_text() if (HERE / 'README.md').exists() else '',
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    packages=find_packages(include=('basicsr', 'basicsr.*')),
    package_data={'basicsr': ['metrics/*.npz']},
    python_requires='>=3.9',
    install_requires=read_requirements(),
    extras_require={
        'dev': [
            'pytest>=7',
            'pytest-xdist>=3',
            'lmdb>=1.3',
            'ruff==0.17.6',
            'piq>=0.8',
        ],  # piq: the reference implementation the HaarPSI test compares with
        'iqa': ['pyiqa'],
        'lmdb': ['lmdb>=1.3'],
        # basicsr-export / basicsr-adapt: safetensors files, ONNX (verified with onnxruntime), spandrel
        # checks, and PDD-static generalists of any architecture spandrel loads (SpandrelNet)
        'export': ['safetensors>=0.4', 'onnx>=1.14', 'onnxruntime>=1.16', 'spandrel>=0.3'],
    },
    entry_points={
        'console_scripts': [
            'basicsr-train=basicsr.train:main',
            'basicsr-test=basicsr.test:main',
            'basicsr-infer=basicsr.infer:main',
            'basicsr-adapt=basicsr.adapt:main',
            'basicsr-export=basicsr.export:main',
        ]
    },
)
