"""Run under torchrun: train with `--launcher pytorch`, then each rank saves its own net_g weights for comparison."""

import os
import sys

import torch

from basicsr.train import train_pipeline


def main() -> None:
    dump_dir, root, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
    model = train_pipeline(root, argv)
    rank = int(os.environ['RANK'])
    torch.save(model.get_bare_model(model.net_g).state_dict(), os.path.join(dump_dir, f'rank{rank}.pth'))


if __name__ == '__main__':
    main()
