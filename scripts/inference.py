"""Upscale an image or a folder with a trained checkpoint (CPU or GPU, offline); see `basicsr.infer` for options.

python scripts/inference.py -i <folder> -o <out> --model <ckpt> --tile 64 --color-correction
"""

import sys
from os import path as osp

# this checkout's basicsr, also when another one is installed
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from basicsr.infer import build_parser, main  # noqa: E402

__all__ = ['build_parser', 'main']

if __name__ == '__main__':
    sys.exit(main())
