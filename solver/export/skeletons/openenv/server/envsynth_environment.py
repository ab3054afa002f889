"""An envsynth dataset as an OpenEnv tool environment (written by `envsynth export openenv`).

One episode is one task of the shipped dataset (`data/tasks.jsonl`, generated from
`data/spec.yaml`). `reset(task_id=...)` - or `reset(index=...)`, or `reset(seed=...)` for a
deterministic pick - loads the task's database; the agent reads the user's request and the
policy from the reset observation, discovers the domain's tools with `ListToolsAction` (their
JSON schemas verbatim from the dataset) and calls them with `CallToolAction`. A call the domain
rejects returns its "Error: ..." text as a tool error and changes nothing.

The episode ends when the agent calls the extra tool `finish(message)`: `message` is its reply
to the user - every answer asked for, and for each request it could not do, why not. That step
carries `done=True` and the reward: envsynth's own scorer (the final database is the expected
one, x every answer told and every refusal explained, from records the agent looked up), so the
reward means the same here as in `envsynth eval` and in every other export. Every other step has
reward 0.0. Over the HTTP MCP endpoint (`MCPToolClient.call_tool`) `finish` returns the same
score as its result.

Tasks are listed through OpenEnv's task API (one split, "test"): `list_splits`, `list_tasks`,
`num_tasks`, `get_task`, `get_task_range`.
"""

from __future__ import annotations

import json
import random
import threading
from pathlib import Path
from typing import Any, Optional
from uuid import uuid4

from fastmcp import FastMCP
from fastmcp.tools.base import Tool, ToolResult
from mcp.types import TextContent
from openenv.core.env_server.mcp_environment import MCPEnvironment
from openenv.core.env_server.mcp_types import (
    CallToolAction,
    CallToolObservation,
    ToolError,
    ToolErrorType,
)
from openenv.core.env_server.types import Action, EnvironmentMetadata, Observation
from pydantic import PrivateAttr

from envsynth.export.episode import Catalog, Episode

try:
    from ..models import EnvsynthObservation, EnvsynthState
except ImportError:  # run from the package folder (uvicorn server.app:app)
    from models import EnvsynthObservation, EnvsynthState

DATA = Path(__file__).resolve().parent.parent / "data"
FINISH = "finish"
SPLIT = "test"
FINISH_SCHEMA = {
    "type": "object",
    "properties": {
        "message": {
            "type": "string",
            "description": "Your reply to the user: each answer they asked for, and for anything you "
                           "could not do, why not.",
        }
    },
    "required": ["message"],
    "additionalProperties": False,
}
FINISH_DESCRIPTION = ("Send your final reply to the user and end the episode. The episode is scored "
                      "now: the database must be as the user's requests leave it, and the message must "
                      "give every answer asked for and the reason for any request that was refused.")

_lock = threading.Lock()
_shared: dict[str, Any] = {}


def config() -> dict:
    """The export's settings (data/env.json): environment name, domain, task count."""
    with _lock:
        if "config" not in _shared:
            _shared["config"] = json.loads((DATA / "env.json").read_text(encoding="utf-8"))
        return _shared["config"]


def catalog() -> Catalog:
    """The shipped domain and its tasks, read once per server process and shared (read-only)."""
    with _lock:
        if "catalog" not in _shared:
            _shared["catalog"] = Catalog(DATA)
        return _shared["catalog"]


def task_summaries() -> list[dict]:
    """One task spec per task, in file order, as the task API lists them."""
    with _lock:
        cached = _shared.get("summaries")
    if cached is not None:
        return cached
    out = [{"id": t.id, "index": i, "split": SPLIT, "instruction": t.instruction}
           for i, t in enumerate(catalog().tasks())]
    with _lock:
        _shared["summaries"] = out
    return out


class DomainTool(Tool):
    """A tool whose JSON schema is data (the dataset's), run by the environment it belongs to."""

    _env: Any = PrivateAttr(default=None)

    async def run(self, arguments: dict[str, Any]) -> ToolResult:
        return self._env.run_tool(self.name, arguments)


class EnvsynthEnvironment(MCPEnvironment):
    """One session: one episode at a time of one task of the shipped dataset."""

    SUPPORTS_CONCURRENT_SESSIONS = True  # every instance has its own episode and database

    def __init__(self) -> None:
        cat = catalog()
        server = FastMCP(config()["env_name"])
        for schema in cat.tools:
            fn = schema.get("function", schema)
            tool = DomainTool(name=fn["name"], description=fn.get("description", ""),
                              parameters=fn.get("parameters") or {"type": "object", "properties": {}})
            tool._env = self
            server.add_tool(tool)
        finish = DomainTool(name=FINISH, description=FINISH_DESCRIPTION, parameters=FINISH_SCHEMA)
        finish._env = self
        server.add_tool(finish)
        super().__init__(server)
        self._domain_tools = {(s.get("function", s))["name"] for s in cat.tools}
        self._episode: Optional[Episode] = None
        self._index: Optional[int] = None
        self._done = False
        self._finished_now = False  # set by `finish`, read by the step that ran it
        self._score: Any = None
        self._state = EnvsynthState(episode_id=str(uuid4()), step_count=0)

    # --- the task API (OpenEnv TaskProvider) ---------------------------------------------
    def list_splits(self) -> list[str]:
        return [SPLIT]

    def list_tasks(self, split: str) -> list[dict]:
        return list(task_summaries()) if split == SPLIT else []

    def num_tasks(self, split: str) -> int:
        return len(catalog()) if split == SPLIT else 0

    def get_task(self, split: str, index: int) -> dict:
        tasks = task_summaries() if split == SPLIT else []
        if not isinstance(index, int) or not 0 <= index < len(tasks):
            raise IndexError(f"no task {index!r} in split {split!r} (it has {len(tasks)})")
        return tasks[index]

    def get_task_range(self, split: str, start: Optional[int] = None, stop: Optional[int] = None) -> list[dict]:
        return list(task_summaries()[start:stop]) if split == SPLIT else []

    # --- episodes ---------------------------------------------------------------------------
    def _pick(self, seed: Optional[int], task_id: Optional[str], split: Optional[str],
              index: Optional[int]) -> int:
        cat = catalog()
        ids = cat.ids()
        if split not in (None, "", SPLIT):
            raise ValueError(f"no split {split!r}: this environment has one split, {SPLIT!r}")
        if task_id is not None:
            if task_id not in cat:
                raise ValueError(f"no task {task_id!r} among the {len(ids)} tasks of this environment "
                                 f"(list them with POST /{config()['env_name']}/tasks)")
            return ids.index(task_id)
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(ids):
                raise ValueError(f"task index {index!r} is out of range: there are {len(ids)} tasks (0..{len(ids) - 1})")
            return index
        if seed is not None:
            return random.Random(seed).randrange(len(ids))
        return random.randrange(len(ids))

    def reset(self, seed: Optional[int] = None, episode_id: Optional[str] = None,
              task_id: Optional[str] = None, split: Optional[str] = None, index: Optional[int] = None,
              **kwargs: Any) -> EnvsynthObservation:
        """Start an episode of task `task_id` (or the task at `index`, or one picked by `seed`,
        deterministically; with none of them, a random task)."""
        if kwargs:
            raise ValueError(f"unknown reset option(s) {', '.join(sorted(kwargs))}: "
                             "use task_id, index (with split 'test') or seed")
        cat = catalog()
        i = self._pick(seed, task_id, split, index)
        self._index = i
        self._episode = cat.episode(cat.ids()[i])
        self._done = False
        self._finished_now = False
        self._score = None
        task = self._episode.task
        self._state = EnvsynthState(episode_id=episode_id or str(uuid4()), step_count=0, task_id=task.id,
                                    index=i)
        return EnvsynthObservation(task_id=task.id, index=i, split=SPLIT, instruction=task.instruction,
                                   policy=task.policy, done=False, reward=0.0,
                                   metadata={"task_id": task.id, "index": i})

    def run_tool(self, name: str, arguments: Optional[dict]) -> ToolResult:
        """A tool call (both the step path and the HTTP MCP path arrive here)."""
        if self._episode is None:
            return self._error("Error: no task is loaded; reset the environment first (reset(task_id=...))")
        if self._done:
            return self._error(f"Error: the episode is over ({FINISH} was called); reset to start another")
        self._state.step_count += 1
        if name == FINISH:
            message = (arguments or {}).get("message")
            if not isinstance(message, str):
                return self._error(f"Error: {FINISH} needs 'message', your reply to the user, as a string")
            score = self._episode.score([message])
            self._done, self._finished_now, self._score = True, True, score
            self._state.done, self._state.reward = True, score.reward
            report = {"reward": score.reward, "db_match": score.db_match,
                      "answers_communicated": score.answers_communicated,
                      "missing_answers": list(score.missing_answers), "done": True}
            return self._ok(report)
        reply = self._episode.call(name, arguments if arguments is not None else {})
        if reply.is_error:
            return self._error(reply.text)
        return self._ok(reply.data, reply.text)

    @staticmethod
    def _ok(data: Any, text: Optional[str] = None) -> ToolResult:
        shown = text if text is not None else json.dumps(data, ensure_ascii=False)
        return ToolResult(content=[TextContent(type="text", text=shown)], structured_content={"result": data},
                          meta={"fastmcp": {"wrap_result": True}})

    @staticmethod
    def _error(text: str) -> ToolResult:
        return ToolResult(content=[TextContent(type="text", text=text)], is_error=True)

    async def _async_handle_call_tool(self, action: CallToolAction,
                                      timeout_s: Optional[float] = None) -> CallToolObservation:
        """Run the call through this environment's MCP server; a refused call comes back as an
        error (its "Error: ..." text in `error.message` and in the result), not as a crash."""
        if action.tool_name not in self._domain_tools and action.tool_name != FINISH:
            refused = self.run_tool(action.tool_name, action.arguments)  # envsynth's "unknown tool" text
            return CallToolObservation(tool_name=action.tool_name, result=None, error=ToolError(
                error_type=ToolErrorType.TOOL_NOT_FOUND, message=refused.content[0].text))
        async with self.mcp_session() as client:
            result = await client.call_tool(action.tool_name, action.arguments or {}, raise_on_error=False)
        if not result.is_error:
            return CallToolObservation(tool_name=action.tool_name, result=result)
        text = next((c.text for c in result.content if isinstance(c, TextContent)), "") or "Error"
        return CallToolObservation(tool_name=action.tool_name, result=result,
                                   error=ToolError(error_type=ToolErrorType.EXECUTION_ERROR, message=text))

    def _after(self, action: Action, obs: Observation) -> Observation:
        """Attach the episode's end and reward to the step that called `finish`."""
        obs.done = self._done
        obs.reward = 0.0
        if self._finished_now:
            self._finished_now = False
            score = self._score
            obs.reward = score.reward
            obs.metadata = {**(obs.metadata or {}), "task_id": self._episode.task_id,
                            "db_match": score.db_match, "answers_communicated": score.answers_communicated,
                            "missing_answers": list(score.missing_answers)}
        return obs

    def step(self, action: Action, timeout_s: Optional[float] = None, **kwargs: Any) -> Observation:
        return self._after(action, super().step(action, timeout_s=timeout_s, **kwargs))

    async def step_async(self, action: Action, timeout_s: Optional[float] = None, **kwargs: Any) -> Observation:
        return self._after(action, await super().step_async(action, timeout_s=timeout_s, **kwargs))

    def _step_impl(self, action: Action, timeout_s: Optional[float] = None, **kwargs: Any) -> Observation:
        return Observation(done=self._done, reward=0.0, metadata={
            "error": f"unknown action {type(action).__name__}: use ListToolsAction or CallToolAction"})

    @property
    def state(self) -> EnvsynthState:
        if self._episode is not None:
            self._state.db_hash = self._episode.hash()
        return self._state

    def get_metadata(self) -> EnvironmentMetadata:
        cfg = config()
        return EnvironmentMetadata(
            name=cfg["env_name"],
            description=(f"envsynth {cfg['domain']} tasks ({cfg['tasks']}): reset(task_id=...), call the "
                         f"domain's tools, end with {FINISH}(message) to be scored"),
            version=cfg.get("version", "0.1.0"),
        )
