"""Adapt a generalist SR model to your own photos with PDD; see `basicsr.adapt` for options.

python scripts/adapt.py --photos <LR photos> --generalist <model.pth> --source <HR folder> --quick
"""

import sys
from os import path as osp

try:
    import basicsr  # noqa: F401
except ImportError:
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from basicsr.adapt import build_parser, main  # noqa: E402

__all__ = ['build_parser', 'main']

if __name__ == '__main__':
    sys.exit(main())
