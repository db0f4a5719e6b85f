"""basicsr: BasicSR-compatible super-resolution training with Pairwise Distance Distillation (PDD, ECCV 2024).

Importing the package fills every registry (archs, datasets, losses, metrics, models), as BasicSR 1.4 does.
"""

from basicsr import archs, data, losses, metrics, models, utils  # noqa: F401
from basicsr.version import __version__  # noqa: F401
