"""The package's layers, checked on its source: utils at the bottom, then archs / metrics / data / losses, then models,
then evaluation / inference / interop / adaptation, then the entry points (train.py, test.py, infer.py, adapt.py,
export.py, option_check.py); no import cycles.

Every import counts, also one inside a function: a lazy import is still a dependency.
"""

import ast
from pathlib import Path

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[1] / 'basicsr'

# Which subpackages each subpackage may import from (itself included). Modules directly under basicsr/ are the
# entry points and may import anything.
ALLOWED = {
    'utils': {'utils'},
    'archs': {'utils', 'archs'},
    'metrics': {'utils', 'metrics'},
    'data': {'utils', 'data'},
    'losses': {'utils', 'archs', 'losses'},
    'models': {'utils', 'archs', 'metrics', 'data', 'losses', 'models'},
    'inference': {'utils', 'archs', 'inference'},
    'evaluation': {'utils', 'metrics', 'data', 'evaluation'},
    # exports rebuild a network from its checkpoint and verify it on real images, as inference does
    'interop': {'utils', 'archs', 'inference', 'interop'},
    # basicsr-adapt's steps: photos, option plan, held-out evaluation with the comparison routine, export, report
    'adaptation': {'utils', 'archs', 'metrics', 'inference', 'evaluation', 'interop', 'adaptation'},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_ROOT.parent).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def imported_modules(path: Path) -> set[str]:
    """Every `basicsr.*` module `path` imports; `from basicsr.x import y` counts as basicsr.x.y when that is a
    module."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith('basicsr')}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith('basicsr') and not node.level:
            for alias in node.names:
                candidate = f'{node.module}.{alias.name}'
                found.add(candidate if candidate in MODULES else node.module)
    return found


MODULES = {module_name(path): path for path in PACKAGE_ROOT.rglob('*.py')}
GRAPH = {name: imported_modules(path) & MODULES.keys() for name, path in MODULES.items()}


def layer(module: str) -> str:
    """The subpackage a module belongs to; '' for the entry points directly under basicsr/."""
    parts = module.split('.')
    return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else ''


def layer_violations(module: str, targets: set[str]) -> list[str]:
    own = layer(module)
    if not own:
        return []
    return sorted(target for target in targets if layer(target) and layer(target) not in ALLOWED[own])


@pytest.mark.parametrize('module', sorted(MODULES))
def test_no_module_imports_from_a_layer_above_its_own(module):
    bad = layer_violations(module, GRAPH[module])
    assert not bad, f'{module} imports {bad}; {layer(module)} may only import from {sorted(ALLOWED[layer(module)])}'


def test_there_are_no_import_cycles():
    """Edges into a module's own parent packages are left out: importing a submodule always runs its package."""

    def edges(module: str) -> set[str]:
        parents = {module.rsplit('.', depth)[0] for depth in range(1, module.count('.') + 1)}
        return GRAPH[module] - parents - {module}

    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in sorted(edges(module)):
            if state.get(target) == 1:
                cycle = stack[stack.index(target) :] + [target]
                pytest.fail('import cycle: ' + ' -> '.join(cycle))
            if target not in state:
                visit(target)
        stack.pop()
        state[module] = 2

    for module in sorted(MODULES):
        if module not in state:
            visit(module)


def test_the_checker_reports_an_upward_import_and_accepts_the_entry_points():
    assert layer_violations('basicsr.utils.misc', {'basicsr.models.base_model'}) == ['basicsr.models.base_model']
    assert layer_violations('basicsr.losses.basic_loss', {'basicsr.data.transforms'}) == ['basicsr.data.transforms']
    assert layer_violations('basicsr.train', {'basicsr.models', 'basicsr.data'}) == []
    assert 'basicsr.models' in GRAPH['basicsr.train'], 'the import graph must see train.py importing models'
