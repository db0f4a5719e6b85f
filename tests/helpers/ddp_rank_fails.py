"""Run under torchrun: rank 1 raises at iteration 2, to check that the job ends and the error names the rank."""

import os
import sys

from basicsr.models.sr_model import SRModel
from basicsr.train import main

_original_step = SRModel.optimize_parameters


def failing_step(self, current_iter: int) -> None:
    if int(os.environ['RANK']) == 1 and current_iter == 2:
        raise RuntimeError('injected failure on this rank')
    _original_step(self, current_iter)


if __name__ == '__main__':
    SRModel.optimize_parameters = failing_step
    sys.argv = [sys.argv[0], *sys.argv[1:]]
    main()
