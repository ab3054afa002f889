"""The part of this tau2-bench domain that needs no tau2: the shipped dataset, one task's live
database, and each tool call played through envsynth's own runtime (`envsynth.export.episode`).

`domain.py` wraps this in tau2's classes. Keeping it tau2-free lets the export be checked where
tau2 is not installed (envsynth's CI): load a task, play its gold calls, assert the final hash.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

from envsynth.export.episode import Catalog, Episode, db_hash

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
CONFIG: dict = json.loads((HERE / "envsynth_tau2.json").read_text(encoding="utf-8"))

DOMAIN_NAME: str = CONFIG["domain_name"]  # the name tau2 knows this domain by: envsynth_<slug>
ENTITIES: list[str] = CONFIG["entities"]  # the database's tables, in the spec's order
WRITES: dict[str, bool] = CONFIG["writes"]  # tool -> does it change the database (tau2 WRITE)
SCHEMAS: dict[str, dict] = {
    s["function"]["name"]: s for s in json.loads((DATA / "tools.json").read_text(encoding="utf-8"))}
POLICY: str = (DATA / "policy.md").read_text(encoding="utf-8")


class ToolCallError(ValueError):
    """A refused tool call. tau2 turns an exception into the tool message 'Error: <message>', so
    the message is envsynth's error text without its 'Error: ' prefix: the agent reads exactly
    what envsynth would show it."""


@lru_cache(maxsize=1)
def catalog() -> Catalog:
    """The shipped dataset (spec.yaml + tasks.jsonl), read once per process."""
    return Catalog(DATA)


def tau2_tasks() -> list[dict]:
    """The tasks in tau2's format (data/tasks.json), as plain dicts."""
    return json.loads((DATA / "tasks.json").read_text(encoding="utf-8"))


def task_splits() -> dict[str, list[str]]:
    return json.loads((DATA / "split_tasks.json").read_text(encoding="utf-8"))


class Play:
    """One task's live database and its tool calls: what the tau2 toolkit delegates to.

    Nothing is loaded until `load_db(task_id)` (tau2 calls it as the task's initialization
    action). A call runs on envsynth's runtime; a refused call raises `ToolCallError` and, as in
    envsynth, changes nothing - no field, no record, no id counter."""

    def __init__(self) -> None:
        self.episode: Optional[Episode] = None

    def load_db(self, task_id: str) -> None:
        if not isinstance(task_id, str) or task_id not in catalog():
            raise ValueError(f"no task {task_id!r} in the {DOMAIN_NAME} data "
                             f"({len(catalog())} tasks, e.g. {next(iter(catalog().ids()), None)!r})")
        self.episode = catalog().episode(task_id)

    @property
    def tables(self) -> dict[str, dict[str, dict[str, Any]]]:
        """The current database, one table per entity (live; do not modify)."""
        db = self.episode.db if self.episode is not None else {}
        return {e: db.get(e, {}) for e in ENTITIES}

    def call(self, name: str, arguments: dict) -> str:
        """Run tool `name`: its result as JSON text, or ToolCallError with envsynth's reason."""
        if self.episode is None:
            raise ToolCallError("no task is loaded: the task's initialization action load_db(task_id) "
                                "must run before any tool call")
        reply = self.episode.call(name, arguments)
        if reply.is_error:
            text = reply.text
            raise ToolCallError(text.removeprefix("Error: "))
        return reply.text


def envsynth_hash(tables: dict) -> str:
    """envsynth's final-state hash (sha256 of the compact sorted-key JSON) of a database."""
    return db_hash(tables)
