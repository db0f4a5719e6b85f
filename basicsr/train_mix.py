"""The PDD authors' entry point name: `python basicsr/train_mix.py -opt <file>.yml` runs basicsr/train.py's training.

Their README and scripts launch two-stream (train_s + train_t) training through this file; here it is the same
pipeline as train.py, which detects the two streams from the options.
"""

import sys
from os import path as osp

if __package__ in (None, ''):  # run as a script: make the repository root importable
    sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), osp.pardir)))

from basicsr.train import main, train_pipeline  # noqa: E402

__all__ = ['main', 'train_pipeline']

if __name__ == '__main__':
    main()
