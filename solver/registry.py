"""Where shipped specs and templates live, in a checkout and in an installed wheel.

Both are installed inside the package (`envsynth.specs`, `envsynth.templates`), so
`envsynth generate airline` works after a plain `pip install .`.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Optional


def _dir(package: str) -> Optional[Path]:
    try:
        mod = importlib.import_module(package)
    except ModuleNotFoundError:
        return None
    p = Path(mod.__file__).parent if getattr(mod, "__file__", None) else None
    return p if p is not None and p.is_dir() else None


def specs_dir() -> Optional[Path]:
    return _dir("envsynth.specs")


def templates_dir() -> Optional[Path]:
    return _dir("envsynth.templates")


def shipped_names() -> list[str]:
    d = specs_dir()
    return sorted(p.stem for p in d.glob("*.yaml")) if d else []


def shipped_spec(name: str) -> Optional[Path]:
    d = specs_dir()
    if d is None:
        return None
    p = d / f"{name}.yaml"
    return p if p.exists() else None


def template_dir_for(domain: str, spec_path: Optional[Path] = None) -> Optional[Path]:
    """Templates for a domain: `templates/<domain>/` beside the spec file, else the shipped ones."""
    if spec_path is not None:
        for base in (spec_path.parent, spec_path.parent.parent):
            cand = base / "templates" / domain
            if cand.is_dir():
                return cand
    d = templates_dir()
    if d is not None and (d / domain).is_dir():
        return d / domain
    return None
