"""Stage 8: exports - a generated dataset as the harnesses agent builders already use.

`export(fmt, src, out)` writes one of FORMATS. Each format is a module with
`write(source, out) -> ExportReport`; every one ships the dataset's spec and task records and plays
its tools through `episode` (envsynth's own runtime and scorer), so rewards agree across
harnesses. What each harness expects is written up in the README's "Exports" section.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Union

from ..errors import EnvsynthError
from .source import ExportReport, Source

FORMATS: dict[str, str] = {
    "tau2": "an installable tau2-bench domain package (tau2 run --domain envsynth_<d>)",
    "mcp": "a standalone MCP server (official mcp SDK; stdio and streamable HTTP)",
    "verifiers": "a verifiers 0.4 (verifiers.v1) taskset package",
    "openenv": "an OpenEnv environment package (openenv.yaml, server app, client)",
    "hf": "Hugging Face datasets files (SFT messages + tools, RL rows) and a TRL environment_factory class",
}


def export(fmt: str, src: Union[str, Path], out: Union[str, Path]) -> ExportReport:
    """Write dataset `src` (a directory made by `envsynth generate`) in format `fmt` to `out`."""
    if fmt not in FORMATS:
        raise EnvsynthError(f"unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise EnvsynthError(f"{out} exists and is not empty; export writes a fresh folder (remove it or pick another)")
    source = Source(Path(src))
    module = importlib.import_module(f"{__name__}.{fmt}")
    out.mkdir(parents=True, exist_ok=True)
    return module.write(source, out)


__all__ = ["FORMATS", "ExportReport", "Source", "export"]
