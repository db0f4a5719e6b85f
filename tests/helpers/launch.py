"""The torchrun command lines of the distributed tests: one place for the launcher and the `--launcher pytorch`."""

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DUMP_WEIGHTS = os.path.join(REPO, 'tests', 'helpers', 'ddp_train_and_dump.py')


def torchrun(script: str, *args: str, launcher: tuple[str, ...] = ('--standalone', '--nproc_per_node=2')) -> list[str]:
    """`python -m torch.distributed.run <launcher> <script> <args> --launcher pytorch`."""
    return [sys.executable, '-m', 'torch.distributed.run', *launcher, script, *args, '--launcher', 'pytorch']
