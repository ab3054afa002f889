"""The tau2-bench domain: database model, toolkit, environment constructor and task loader.

- The database is one `dict[str, dict[str, Any]]` table per entity, so `model_dump()` is the raw
  JSON envsynth keeps: tau2's DB check compares it between the agent's run and the gold replay,
  and `assert_db_hash` checks it against envsynth's own expected final-state hash.
- Each tool is a toolkit method flagged READ or WRITE (WRITE = the spec says it changes the
  database; only those are replayed by tau2's evaluator). `get_tools` returns tools whose
  `openai_schema` is the dataset's schema verbatim.
- Calls run on envsynth's runtime (`play.Play`), so results, errors and created ids are
  envsynth's - deterministic per task, as tau2's replay check requires.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any, Callable, Optional

from pydantic import Field, create_model
from tau2.data_model.tasks import Task
from tau2.environment.db import DB
from tau2.environment.environment import Environment
from tau2.environment.tool import Tool
from tau2.environment.toolkit import ToolKitBase, ToolType, is_tool

from .play import (
    DOMAIN_NAME,
    ENTITIES,
    POLICY,
    SCHEMAS,
    WRITES,
    Play,
    envsynth_hash,
    task_splits,
    tau2_tasks,
)

EnvsynthDB = create_model(
    "EnvsynthDB", __base__=DB,
    **{e: (dict[str, dict[str, Any]], Field(default_factory=dict, description=f"{e} records by id"))
       for e in ENTITIES})


class SchemaTool(Tool):
    """A tau2 Tool that shows the agent the dataset's own schema, verbatim."""

    def __init__(self, func: Callable, schema: dict):
        super().__init__(func)
        self._schema = schema

    @property
    def openai_schema(self) -> dict:  # type: ignore[override]
        return copy.deepcopy(self._schema)


class EnvsynthToolsBase(ToolKitBase):
    """Non-tool methods: `load_db` (initialization action), `assert_db_hash` (env assertion)."""

    def __init__(self, db: Optional[DB] = None):
        super().__init__(db if db is not None else EnvsynthDB())
        self.envsynth_play = Play()

    def load_db(self, task_id: str) -> None:
        """Load task `task_id`'s initial database (the task's initialization action)."""
        self.envsynth_play.load_db(task_id)
        self._sync()

    def assert_db_hash(self, expected_hash: str) -> bool:
        """Is envsynth's hash of the current database the expected final-state hash?"""
        return envsynth_hash(self.db.model_dump()) == expected_hash

    def run_tool(self, name: str, arguments: dict) -> str:
        try:
            return self.envsynth_play.call(name, arguments)
        finally:
            self._sync()

    def _sync(self) -> None:
        # the tau2 DB is a view of the episode's tables (rebuilt after every call)
        self.db = EnvsynthDB.model_construct(**self.envsynth_play.tables)

    def get_tools(self, include: Optional[list[str]] = None) -> dict[str, Tool]:
        tools = {name: SchemaTool(getattr(self, name), SCHEMAS[name]) for name in SCHEMAS}
        if include is not None:
            unknown = set(include) - set(tools)
            if unknown:
                raise ValueError(f"Tool(s) not found: {sorted(unknown)}. Available: {sorted(tools)}")
            tools = {n: t for n, t in tools.items() if n in set(include)}
        return tools


def _signature(schema: dict) -> inspect.Signature:
    """The tool's parameters as a Python signature (for tau2's introspection; the agent sees the
    verbatim schema). Any names Python cannot take fall back to **arguments."""
    params = schema["function"].get("parameters") or {}
    props = params.get("properties") or {}
    required = set(params.get("required") or [])
    out = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    if not all(p.isidentifier() and not p.startswith("_") for p in props):
        out.append(inspect.Parameter("arguments", inspect.Parameter.VAR_KEYWORD))
        return inspect.Signature(out)
    for p in props:
        default = inspect.Parameter.empty if p in required else None
        out.append(inspect.Parameter(p, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Any))
    return inspect.Signature(out)


def _tool_method(name: str, schema: dict, writes: bool) -> Callable:
    def method(self, **arguments):
        return self.run_tool(name, arguments)

    method.__name__ = name
    method.__qualname__ = f"EnvsynthTools.{name}"
    method.__doc__ = schema["function"].get("description") or name
    method.__signature__ = _signature(schema)
    return is_tool(ToolType.WRITE if writes else ToolType.READ)(method)


_taken = sorted(n for n in SCHEMAS if hasattr(EnvsynthToolsBase, n) or n in ("db", "envsynth_play"))
if _taken:
    raise RuntimeError(f"{DOMAIN_NAME}: tool names {_taken} clash with tau2 toolkit attributes")

EnvsynthTools = type("EnvsynthTools", (EnvsynthToolsBase,),
                     {name: _tool_method(name, s, WRITES.get(name, True)) for name, s in SCHEMAS.items()})


def get_environment(db: Optional[DB] = None, solo_mode: bool = False, **_env_kwargs: Any) -> Environment:
    """A fresh environment; the task's initialization action `load_db` fills its database."""
    return Environment(domain_name=DOMAIN_NAME, policy=POLICY, tools=EnvsynthTools(db),
                       user_tools=None, solo_mode=solo_mode)


def get_tasks(task_split_name: Optional[str] = "base") -> list[Task]:
    tasks = [Task.model_validate(t) for t in tau2_tasks()]
    if task_split_name is None:
        return tasks
    splits = task_splits()
    if task_split_name not in splits:
        raise ValueError(f"Invalid task split name: {task_split_name}. Valid splits are: {sorted(splits)}")
    keep = set(splits[task_split_name])
    return [t for t in tasks if t.id in keep]


def get_tasks_split() -> dict[str, list[str]]:
    return task_splits()
