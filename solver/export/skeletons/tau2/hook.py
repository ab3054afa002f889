"""Import hook installed by `<package>.pth`: tau2-bench has no plugin entry points, and its CLI
builds its --domain/--agent/--user choices from the registry while it builds its parser. So right
after the module `tau2.registry` has run, this imports the envsynth domain package, whose import
registers it. Only the standard library is imported at interpreter start; tau2 and envsynth load
when (and only if) something imports tau2.registry.

The package's name is this module's name without the `_hook` suffix.
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys

TARGET = "tau2.registry"
PACKAGE = __name__.removesuffix("_hook")


class _AfterRegistry(importlib.abc.Loader):
    """Runs tau2.registry's own loader, then imports the envsynth package."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        try:
            importlib.import_module(PACKAGE)
        except Exception as e:  # noqa: BLE001 - never break tau2 itself; say why the domain is missing
            print(f"warning: {PACKAGE} could not register its tau2 domain: {type(e).__name__}: {e}",
                  file=sys.stderr)


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != TARGET:
            return None
        # ask only the finders after this one: another envsynth domain's hook there wraps the
        # loader in turn, so every installed domain registers, and no finder asks itself
        after = sys.meta_path[sys.meta_path.index(self) + 1:] if self in sys.meta_path else []
        for finder in after:
            if not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _AfterRegistry(spec.loader)
                return spec
        return None


def install() -> None:
    if TARGET in sys.modules:  # tau2 already loaded (hook imported late): register now
        importlib.import_module(PACKAGE)
    elif not any(isinstance(f, _Finder) and getattr(f, "package", None) == PACKAGE for f in sys.meta_path):
        finder = _Finder()
        finder.package = PACKAGE
        sys.meta_path.insert(0, finder)


install()
