"""Name -> class/function registries, so YAML `type:` strings select implementations."""

import difflib
from collections.abc import Iterator
from typing import Any, Callable, Optional


class Registry:
    """A mapping from names to objects, filled by the `register` decorator.

    Names registered with a suffix (``Foo`` with suffix ``basicsr`` becomes ``Foo_basicsr``) let BasicSR's copies of
    Real-ESRGAN classes coexist with the `realesrgan` package's own; `get('Foo')` falls back to ``Foo_basicsr``.
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._obj_map: dict[str, Any] = {}

    def _do_register(self, name: str, obj: Any, suffix: Optional[str] = None) -> None:
        if isinstance(suffix, str):
            name = f'{name}_{suffix}'
        if name in self._obj_map:
            raise KeyError(f"An object named '{name}' was already registered in '{self._name}' registry!")
        self._obj_map[name] = obj

    def register(self, obj: Any = None, suffix: Optional[str] = None, name: Optional[str] = None) -> Any:
        """Register `obj` under its `__name__` (or `name`); usable as `@register()` or `register(obj)`."""
        if obj is None:

            def deco(func_or_class: Callable) -> Callable:
                self._do_register(name or func_or_class.__name__, func_or_class, suffix)
                return func_or_class

            return deco
        self._do_register(name or obj.__name__, obj, suffix)
        return obj

    def get(self, name: str, suffix: str = 'basicsr') -> Any:
        """Return the object registered as `name` (or `name_<suffix>`); unknown names list the close matches."""
        ret = self._obj_map.get(name)
        if ret is None:
            ret = self._obj_map.get(f'{name}_{suffix}')
        if ret is None:
            close = difflib.get_close_matches(name, self.plain_names(), n=3, cutoff=0.5)
            hint = f' Did you mean: {", ".join(close)}?' if close else ''
            raise KeyError(
                f"No object named '{name}' found in '{self._name}' registry!{hint} "
                f'Known names: {", ".join(sorted(self.plain_names()))}'
            )
        return ret

    def plain_names(self) -> list[str]:
        """Registered names with the `_basicsr` suffix removed, as users write them in YAML."""
        return sorted({k[: -len('_basicsr')] if k.endswith('_basicsr') else k for k in self._obj_map})

    def __contains__(self, name: str) -> bool:
        return name in self._obj_map or f'{name}_basicsr' in self._obj_map

    def __iter__(self) -> Iterator:
        return iter(self._obj_map.items())

    def keys(self):
        return self._obj_map.keys()


DATASET_REGISTRY = Registry('dataset')
ARCH_REGISTRY = Registry('arch')
MODEL_REGISTRY = Registry('model')
LOSS_REGISTRY = Registry('loss')
METRIC_REGISTRY = Registry('metric')
PIPELINE_REGISTRY = Registry('pipeline')  # steps of BlindPairedImageDataset's `pipeline` list


def import_modules_by_suffix(package: str, package_dir: str, suffix: str) -> list:
    """Import every `<name><suffix>.py` in `package_dir` so their `@register` decorators run.

    This is how a researcher adds a network/dataset/loss/model: drop a file with the right suffix in the folder.
    """
    import importlib
    import os

    names = sorted(f[:-3] for f in os.listdir(package_dir) if f.endswith(f'{suffix}.py'))
    return [importlib.import_module(f'{package}.{name}') for name in names]


def build_from_options(registry: Registry, opt: dict, kind: str) -> Any:
    """Instantiate `registry[opt['type']]` with the other keys of `opt` as keyword arguments, and log it."""
    import copy

    from basicsr.utils.logger import get_root_logger

    kwargs = copy.deepcopy(opt)
    obj = registry.get(kwargs.pop('type'))(**kwargs)
    get_root_logger().info(f'{kind} [{obj.__class__.__name__}] is created.')
    return obj
