"""Loss curves read back from a training log (BasicSR's line format, docs/compat.md section 5)."""

import re

ITER_PATTERN = re.compile(r', iter:\s*([\d,]+)')
LOSS_PATTERN = re.compile(r'\b(l_[a-z_]+): ([-+\d.e]+)')


def parse_losses(log_path: str) -> dict[str, list[tuple[int, float]]]:
    """{loss name: [(iteration, value), ...]} from the `[epoch: .., iter: .., lr:(..)] ... l_x: v` lines."""
    curves: dict[str, list[tuple[int, float]]] = {}
    with open(log_path) as f:
        for line in f:
            step = ITER_PATTERN.search(line)
            if step is None:
                continue
            for key, value in LOSS_PATTERN.findall(line):
                curves.setdefault(key, []).append((int(step.group(1).replace(',', '')), float(value)))
    return curves
