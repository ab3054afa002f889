"""The runtime an exported package runs on: a shipped domain (its spec and task records) and one
episode of one task, scored exactly as `envsynth eval` and `verify` score it.

Every export (tau2-bench, MCP, verifiers, OpenEnv, TRL) carries `spec.yaml` and `tasks.jsonl` in
its data folder and plays its tools through this module, so a tool call, its error text, the ids
it creates and the reward mean the same in every harness as in envsynth itself - there is one
interpreter of the spec, not one per harness. Nothing here imports a harness.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Optional, Union

from ..play.environment import Environment, Score
from ..runtime.execute import db_hash
from ..spec.loader import load_domain
from ..spec.model import Domain
from ..tasks.model import Task


@dataclass(frozen=True)
class ToolReply:
    """What one tool call returned: the text the agent reads (JSON, or 'Error: ...'), whether it
    was refused, and the result as data (None for an error)."""

    text: str
    is_error: bool
    data: Any = None


class Catalog:
    """One shipped domain: the spec it was generated from and its tasks, by id.

    Task records are read on demand from `tasks.jsonl` (an index of byte offsets is kept, not the
    records), so a catalog of thousands of tasks stays small in memory."""

    def __init__(self, data_dir: Union[str, Path]):
        self.data_dir = Path(data_dir)
        self.domain: Domain = load_domain(self.data_dir / "spec.yaml")
        self._tasks_path = self.data_dir / "tasks.jsonl"
        self._offsets: dict[str, int] = {}
        with open(self._tasks_path, "rb") as f:
            while True:
                at = f.tell()
                line = f.readline()
                if not line:
                    break
                if line.strip():
                    self._offsets[json.loads(line)["id"]] = at
        self._tools: Optional[list[dict]] = None

    @property
    def name(self) -> str:
        return self.domain.name

    def ids(self) -> list[str]:
        """Task ids in file order."""
        return list(self._offsets)

    def __len__(self) -> int:
        return len(self._offsets)

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._offsets

    def task(self, task_id: str) -> Task:
        if task_id not in self._offsets:
            raise KeyError(f"no task {task_id!r} in {self._tasks_path} (there are {len(self)}; "
                           f"the first is {next(iter(self._offsets), None)!r})")
        with open(self._tasks_path, "rb") as f:
            f.seek(self._offsets[task_id])
            return Task.model_validate_json(f.readline())

    def tasks(self) -> Iterator[Task]:
        for task_id in self._offsets:
            yield self.task(task_id)

    @property
    def tools(self) -> list[dict]:
        """The tool schemas (OpenAI function format), as every task of the domain lists them."""
        if self._tools is None:
            first = next(iter(self._offsets), None)
            self._tools = self.task(first).tools if first is not None else []
        return self._tools

    @property
    def policy(self) -> str:
        first = next(iter(self._offsets), None)
        return self.task(first).policy if first is not None else self.domain.policy

    def episode(self, task_id: str) -> "Episode":
        return Episode(self.domain, self.task(task_id))


class Episode:
    """One run of one task: a private copy of its database, the calls made, what the agent said.

    A bad call returns an error reply and changes nothing (ids included), as in envsynth's own
    `Environment`, which this wraps."""

    def __init__(self, domain: Domain, task: Task):
        self.domain = domain
        self.task = task
        self.env = Environment(domain, task)

    @property
    def task_id(self) -> str:
        return self.task.id

    @property
    def db(self) -> dict:
        """The current database (live; do not modify)."""
        return self.env.runtime.db

    def hash(self) -> str:
        """sha256 of the sorted-key JSON of the current database: the expected final state's hash
        is `task.expected.final_state_hash`."""
        return db_hash(self.env.runtime.db)

    def call(self, name: Any, arguments: Union[dict, str, None] = None) -> ToolReply:
        text = self.env.call(name, arguments)
        last = self.env.calls[-1] if self.env.calls else None
        ok = last is not None and last.ok
        return ToolReply(text, not ok, last.output if ok else None)

    def say(self, message: str) -> None:
        """Something the agent told the user: answers and refusal reasons are looked for here."""
        if isinstance(message, str) and message:
            self.env.say(message)

    def score(self, messages: Optional[list[str]] = None) -> Score:
        """envsynth's reward: the final database is the expected one x every answer told and every
        refused request explained, from records the episode looked up. `messages` are added to
        what the agent said before scoring."""
        for m in messages or []:
            self.say(m)
        return self.env.score()

    def reward(self, messages: Optional[list[str]] = None) -> float:
        return self.score(messages).reward
