"""The domain's tools and scorer, shared by the tool server and the task: envsynth's own runtime.

A rollout's state is the task id, the calls made so far (name and arguments, as sent) and the
database they produced. Calls are replayed from the task's initial database on envsynth's runtime
(`envsynth.export.episode`), so created ids, error texts and the reward mean exactly what they
mean in `envsynth eval`: reward = the final database has the expected hash x every expected answer
told and every refused request explained in the assistant's own messages, from records it looked
up. Nothing here reads the prompt.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import verifiers.v1 as vf
from envsynth.export.episode import Catalog, Episode, ToolReply
from pydantic import Field

DATA = Path(__file__).resolve().parent / "data"


class EnvsynthState(vf.State):
    """Per-rollout state, synced between the host and the tool server around each call."""

    task_id: str = ""
    calls: list[dict[str, Any]] = Field(default_factory=list)
    """Every tool call made, in order: {"name": ..., "arguments": ...} as the agent sent them."""
    db: dict[str, Any] = Field(default_factory=dict)
    """The database after those calls (the task's initial database before any)."""


@functools.lru_cache(maxsize=1)
def catalog() -> Catalog:
    return Catalog(DATA)


def tool_schemas(task_id: str) -> list[dict[str, Any]]:
    """The task's tools (OpenAI function format, verbatim from the task record); the domain's
    when no task is bound."""
    cat = catalog()
    return cat.task(task_id).tools if task_id in cat else cat.tools


def start(state: EnvsynthState, task_id: str) -> None:
    """Bind `state` to a task: no calls yet, the task's initial database."""
    cat = catalog()
    if task_id not in cat:
        raise ValueError(f"no envsynth task {task_id!r} in {DATA} ({len(cat)} tasks)")
    state.task_id = task_id
    state.calls = []
    state.db = json.loads(json.dumps(cat.task(task_id).initial_db))


def replay(state: EnvsynthState) -> Episode:
    """A fresh episode of the state's task with the state's calls played on it."""
    ep = catalog().episode(state.task_id)
    for c in state.calls:
        ep.call(c.get("name"), c.get("arguments"))
    return ep


def call(state: EnvsynthState, name: str, arguments: Any) -> ToolReply:
    """Run one tool call for the state's rollout; a bad call returns an error reply and changes
    nothing in the database."""
    if state.task_id not in catalog():
        return ToolReply(f"Error: this rollout has no envsynth task bound (task id {state.task_id!r})", True)
    ep = replay(state)
    reply = ep.call(name, arguments)
    state.calls.append({"name": name, "arguments": arguments})
    state.db = json.loads(json.dumps(ep.db))
    return reply


def outcome(state: EnvsynthState, messages: list[str]) -> dict[str, float]:
    """envsynth's score of a rollout from its state and what the assistant said. The calls are
    replayed (the scorer needs what was looked up); the database in the state must agree with
    the replay, or the rollout scores 0."""
    if state.task_id not in catalog():
        return {"reward": 0.0, "db_match": 0.0, "answers_communicated": 0.0, "state_consistent": 0.0,
                "tool_calls": float(len(state.calls)), "failed_calls": 0.0}
    ep = replay(state)
    consistent = ep.db == state.db
    score = ep.score(messages)
    return {
        "reward": float(score.reward == 1.0 and consistent),
        "db_match": float(score.db_match),
        "answers_communicated": float(score.answers_communicated),
        "state_consistent": float(consistent),
        "tool_calls": float(len(state.calls)),
        "failed_calls": float(score.failed_calls),
    }
