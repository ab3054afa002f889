"""Export as a standalone MCP server (the official `mcp` SDK 2.x, low-level `Server`).

OUT/ holds `server.py` (skeletons/mcp/server.py, unchanged), `check.py` (plays every task's gold
and the no-op through the SDK's client), `data/` (the dataset's spec.yaml and
tasks.jsonl, which it plays through `envsynth.export.episode`), `requirements.txt` and a README.
The server lists the domain's tools with their schemas verbatim, serves stdio (one process, one
episode) and streamable HTTP (episodes keyed by the client's `_meta["envsynth/episode"]`), and
has `envsynth_*` control tools to list tasks, start one and read the score.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ..errors import EnvsynthError
from .source import ExportReport, Source

SKELETON = Path(__file__).parent / "skeletons" / "mcp"
PREFIX = "envsynth_"  # the control tools' prefix (skeletons/mcp/server.py)
REQUIREMENT = "mcp>=2.3,<3"


def write(source: Source, out: Path) -> ExportReport:
    clash = sorted(n for n in source.domain.tools if n.startswith(PREFIX))
    if clash:
        raise EnvsynthError(f"the domain's tools {', '.join(clash)} start with {PREFIX!r}, which the MCP "
                            "server keeps for its control tools; rename them in the spec")
    n = 0
    first = None
    for task in source.checked_tasks():
        first = first or task.id
        n += 1
    for name in ("server.py", "check.py", "README.md"):
        shutil.copyfile(SKELETON / name, out / name)
    (out / "requirements.txt").write_text(f"{REQUIREMENT}\n", encoding="utf-8")
    source.copy_data(out / "data")
    server = out / "server.py"
    return ExportReport(
        format="mcp", out=out, tasks=n, package=f"envsynth-{source.name}",
        next_steps=[
            f"pip install /path/to/envsynth '{REQUIREMENT}'",
            f"python {server} --stdio --task {first}",
            f"python {server} --http --port 8000   # http://127.0.0.1:8000/mcp",
            f"python {out / 'check.py'} --stdio -n 10   # plays gold and no-op through a real MCP client",
        ],
        notes=[(f"control tools {PREFIX}list_tasks / {PREFIX}start_task / {PREFIX}state / {PREFIX}score "
                "(--hide-control leaves them out of tools/list); see README.md")],
    )

