"""Export a trained checkpoint as safetensors, Real-ESRGAN .pth and verified ONNX; see `basicsr.export` for options.

python scripts/export.py experiments/<name>/models/net_g_latest.pth --out exported/
"""

import sys
from os import path as osp

try:
    import basicsr  # noqa: F401
except ImportError:
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from basicsr.export import build_parser, main  # noqa: E402

__all__ = ['build_parser', 'main']

if __name__ == '__main__':
    sys.exit(main())
