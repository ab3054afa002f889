"""Stage 7a: play and score a task, like tau2-bench but independent of the solvers.

`Environment` is what an agent talks to: it lists the task's tools, executes calls on a private
copy of the task's database (a bad call returns "Error: ..." and changes nothing) and collects
what the agent tells the user. `score` compares the final database with the expected one
(sha256 of the sorted-key JSON) and checks every expected answer was communicated; the reward
is the product of the two.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from .domain import Domain
from .runtime import CallRecord, Runtime, db_hash
from .tasks import Task


@dataclass
class Score:
    reward: float
    db_match: bool
    answers_communicated: bool
    missing_answers: list[str] = field(default_factory=list)
    failed_calls: int = 0

    def __bool__(self) -> bool:
        return self.reward == 1.0


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("$", "").lower())


def answers_communicated(task: Task, messages: list[str]) -> tuple[bool, list[str]]:
    said = _norm(" \n ".join(messages))
    missing = [a.value for a in task.expected.answers if not any(_norm(x) in said for x in a.accept)]
    return not missing, missing


def score_state(task: Task, final_db: dict, messages: list[str], failed_calls: int = 0) -> Score:
    db_ok = db_hash(final_db) == task.expected.final_state_hash
    ans_ok, missing = answers_communicated(task, messages)
    return Score(float(db_ok and ans_ok), db_ok, ans_ok, missing, failed_calls)


class Environment:
    """One episode of one task."""

    def __init__(self, domain: Domain, task: Union[Task, dict]):
        self.domain = domain
        self.task = task if isinstance(task, Task) else Task.model_validate(task)
        self.runtime = Runtime(domain, self.task.initial_db, self.task.certificate.actor)
        self.messages: list[str] = []

    @property
    def tools(self) -> list[dict[str, Any]]:
        return self.task.tools

    @property
    def instruction(self) -> str:
        return self.task.instruction

    def call(self, name: str, arguments: Union[dict, str, None] = None) -> str:
        """Execute a tool call; returns the JSON result, or 'Error: ...' (state unchanged)."""
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError as e:
                self.runtime.log.append(CallRecord(name, {}, False, f"Error: arguments are not valid JSON ({e.msg})"))
                return f"Error: arguments are not valid JSON ({e.msg})"
        rec = self.runtime.call(name, arguments if arguments is not None else {})
        if not rec.ok:
            return rec.output
        return json.dumps(rec.output, ensure_ascii=False)

    def say(self, message: str) -> None:
        """Something the agent tells the user (answers are looked for here)."""
        self.messages.append(message)

    @property
    def calls(self) -> list[CallRecord]:
        return self.runtime.log

    def score(self) -> Score:
        failed = sum(1 for c in self.runtime.log if not c.ok)
        return score_state(self.task, self.runtime.db, self.messages, failed)


def replay(domain: Domain, task: Task, calls: list[tuple[str, dict]], messages: Optional[list[str]] = None) -> Score:
    """Score a fixed list of calls and messages."""
    env = Environment(domain, task)
    for name, args in calls:
        env.call(name, args)
    for m in messages or []:
        env.say(m)
    return env.score()
