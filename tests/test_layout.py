"""The package's layout follows the pipeline: a stage imports only stages before it.

spec -> runtime (and sqlcheck, verify's second engine) -> plan -> state -> tasks -> play -> verify/coverage -> check/generate/importers/export
-> cli. (The runtime comes before planning because it is the plain-Python meaning of a spec that
synthesis replays on.) Every import in every module, function-level ones included, is read from
the source; one against the direction - an evaluator importing an agent, a stage reaching into a
later one - fails here with the file and line. No module imports a private name (`_x`) from
another module either.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "solver"
LAYERS = [
    {"errors", "registry", "cluster", "parallel"},  # cluster: the Ray back-end, a generic ordered map over actors; parallel: the same over forked processes
    {"spec"},
    {"runtime", "sqlcheck"},  # the plain-Python meaning; verify's second engine (SQL), which reads only the spec
    {"plan"},
    {"state"},
    {"tasks"},
    {"play"},
    {"verify", "coverage"},
    {"check", "generate", "importers", "export", "paraphrase", "report"},  # export reads datasets as verify does
    {"cli"},
]
LAYER = {name: i for i, names in enumerate(LAYERS) for name in names}


def _unit(module: str) -> str:
    """The pipeline unit of a dotted module inside the package: its subpackage or its own name."""
    return module.split(".")[0]


def _imports(path: Path):
    rel = path.relative_to(PACKAGE).with_suffix("")
    parts = list(rel.parts)
    package = parts[:-1] if parts[-1] != "__init__" else parts[:-1]
    if parts[-1] == "__init__":
        package = parts[:-1]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
            target = base + (node.module.split(".") if node.module else [])
            if not target:  # from . import x (at the package root)
                for alias in node.names:
                    yield node.lineno, alias.name, alias.name
                continue
            for alias in node.names:
                yield node.lineno, ".".join(target), alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("envsynth."):
            for alias in node.names:
                yield node.lineno, node.module[len("envsynth."):], alias.name


def test_every_module_is_placed_in_a_layer():
    units = {_unit(".".join(p.relative_to(PACKAGE).with_suffix("").parts))
             for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE}
    assert units <= set(LAYER), f"modules without a layer: {sorted(units - set(LAYER))}"


def test_imports_follow_the_pipeline():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.parent == PACKAGE and path.name == "__init__.py":
            continue  # the package root re-exports the public API
        own = _unit(".".join(path.relative_to(PACKAGE).with_suffix("").parts))
        for line, target, _name in _imports(path):
            unit = _unit(target) if target else ""
            if unit in LAYER and LAYER[unit] > LAYER[own]:
                wrong.append(f"{path.relative_to(PACKAGE)}:{line} ({own}) imports {target} ({unit})")
    assert not wrong, "imports against the pipeline:\n" + "\n".join(wrong)


def test_no_private_name_is_imported_across_modules():
    wrong = [f"{path.relative_to(PACKAGE)}:{line} imports {name} from {target}"
             for path in sorted(PACKAGE.rglob("*.py"))
             for line, target, name in _imports(path)
             if name.startswith("_") and not name.startswith("__")]
    assert not wrong, "\n".join(wrong)
