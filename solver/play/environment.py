"""Stage 7a: play and score a task, like tau2-bench but independent of the solvers.

`Environment` is what an agent talks to: it lists the task's tools, executes calls on a private
copy of the task's database (a bad call returns "Error: ..." and changes nothing) and collects
what the agent tells the user. `score` compares the final database with the expected one
(sha256 of the sorted-key JSON) and checks every expected answer was communicated; the reward
is the product of the two.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from ..spec import types as T
from ..spec.model import Domain
from . import scoring as S
from ..errors import ToolError
from ..runtime.execute import CallRecord, Runtime, db_hash
from ..tasks.model import Task


@dataclass
class Score:
    reward: float
    db_match: bool
    answers_communicated: bool
    missing_answers: list[str] = field(default_factory=list)
    failed_calls: int = 0

    def __bool__(self) -> bool:
        return self.reward == 1.0


GENERIC_WORDS = ("user", "customer", "person", "employee", "agent", "system", "caller", "record")


def answer_specs(domain: Domain, task: Task) -> list[S.AnswerSpec]:
    """The typed answers a task expects (refusals aside): the type comes from the tool whose
    `answer` the user asked for, so '2026-11-25' is read as a date and '35' as an amount."""
    refused = {r.step for r in task.expected.refusals}
    out = []
    for a in task.expected.answers:
        if a.step in refused:
            continue
        step = task.certificate.walk.steps[a.step - 1]
        kind, values = S.answer_kind(domain.tools[step.tool].answer_type if step.tool in domain.tools else None)
        out.append(S.AnswerSpec(a.value, kind, values))
    return out


def sources(task: Task, step: int) -> list[str]:
    """Ids of the records a request at walk step `step` is about (not the asking user's own
    record, which they know): what an agent must have looked up to answer or refuse it."""
    walk = task.certificate.walk
    s = walk.steps[step - 1]
    objs = set(s.binds.values()) | ({s.select.object} if s.select else set())
    objs -= {walk.actor} | set(s.creates.values())
    return sorted(task.certificate.objects[o] for o in objs if o in task.certificate.objects)


def seen_ids(calls: list[CallRecord], failed_too: bool = False) -> set[str]:
    """Every text value an episode's calls were given, and every one a successful call showed."""
    out: set[str] = set()

    def collect(x: Any) -> None:
        stack = [x]
        while stack:
            v = stack.pop()
            if isinstance(v, str):
                out.add(v)
            elif isinstance(v, dict):
                stack.extend(v.values())
            elif isinstance(v, list):
                stack.extend(v)

    for c in calls:
        if c.ok or failed_too:
            collect(c.arguments)
        if c.ok:
            collect(c.output)
    return out


def looked_up(task: Task, calls: list[CallRecord]) -> list[str]:
    """The expected answers and refusals whose records the episode never looked up: an answer
    counts only when the environment showed the record it is about (a successful call took its
    id or listed it), a refusal only when the request was tried or its records were looked up -
    so a guess that happens to match scores nothing."""
    shown, tried = seen_ids(calls), seen_ids(calls, failed_too=True)
    refused = {r.step: r for r in task.expected.refusals}
    missing = []
    for a in task.expected.answers:
        known = tried if a.step in refused else shown
        if not all(i in known for i in sources(task, a.step)):
            missing.append(f"{a.value} (the records it is about were never looked up)")
    return missing


def tool_rules(domain: Domain, tool_name: str) -> S.ToolRules:
    """A tool's requirements as reasons a person can give (see `scoring.ToolRules`)."""
    tool = domain.tools[tool_name]
    return S.ToolRules.of([r.error for r in tool.requires], f"{tool.name.replace('_', ' ')}",
                          GENERIC_WORDS + (domain.actor,))


@dataclass
class RefusalCheck:
    """What a reply to one refused request must explain: rule `failing` of `rules`, with the
    values that made it fail, and the indices of the tool's rules that held (wrong reasons)."""

    rules: S.ToolRules
    failing: int
    facts: list[str]
    held: list[int]

    def passed(self, messages: list[str]) -> bool:
        return S.reason_given(self.rules, self.failing, self.facts, self.held, messages)


def refusal_checks(domain: Domain, task: Task) -> list[RefusalCheck]:
    """Per refusal: the failing rule, the values that made it fail (as the task lists them), and
    the tool's rules that held at that point - claiming one of those is a wrong reason."""
    out = []
    for r in task.expected.refusals:
        tool = domain.tools[r.tool]
        failing = next(i for i, req in enumerate(tool.requires) if req.src == r.requirement)
        answer = next((a for a in task.expected.answers if a.step == r.step), None)
        facts = [x for x in (answer.accept if answer else []) if x != r.error]
        rt = Runtime(domain, task.initial_db, task.certificate.actor)
        before = (r.step - 1) - sum(1 for x in task.expected.refusals if x.step < r.step)
        for action in task.gold_actions[:before]:
            rt.call(action.name, action.arguments)
        held = []
        try:
            env = rt.bind_arguments(tool, r.arguments)
            rt.eval_lets(tool, env)
            held = [i for i, req in enumerate(tool.requires) if i != failing and rt.ev.eval(req.expr, env)]
        except ToolError:
            pass
        out.append(RefusalCheck(tool_rules(domain, r.tool), failing, facts, held))
    return out


def answers_communicated(domain: Domain, task: Task, messages: list[str],
                         calls: Optional[list[CallRecord]] = None) -> tuple[bool, list[str]]:
    """Every expected answer told and every refusal explained (see `envsynth.scoring`), from
    records the episode looked up (when its `calls` are given)."""
    missing = S.answers_told(answer_specs(domain, task), messages)
    if calls is not None:
        missing += looked_up(task, calls)
    for check in refusal_checks(domain, task):
        if not check.passed(messages):
            missing.append(check.rules.errors[check.failing])
    return not missing, missing


def score_state(domain: Domain, task: Task, final_db: dict, messages: list[str],
                calls: Optional[list[CallRecord]] = None) -> Score:
    """Reward = the final database is the expected one x every answer told and every refusal
    explained; `calls` (the episode's log) makes answers count only from looked-up records."""
    db_ok = db_hash(final_db) == task.expected.final_state_hash
    ans_ok, missing = answers_communicated(domain, task, messages, calls)
    failed = sum(1 for c in calls or [] if not c.ok)
    return Score(float(db_ok and ans_ok), db_ok, ans_ok, missing, failed)


class Environment:
    """One episode of one task."""

    def __init__(self, domain: Domain, task: Union[Task, dict]):
        self.domain = domain
        self.task = task if isinstance(task, Task) else Task.model_validate(task)
        self.runtime = Runtime(domain, self.task.initial_db, self.task.certificate.actor)
        self.messages: list[str] = []
        self.faults: list[str] = []  # environment bugs met while running calls (see `call`)

    @property
    def tools(self) -> list[dict[str, Any]]:
        return self.task.tools

    @property
    def instruction(self) -> str:
        return self.task.instruction

    def call(self, name: str, arguments: Union[dict, str, None] = None) -> str:
        """Execute a tool call; returns the JSON result, or 'Error: ...' (state unchanged).

        This is where an agent's output meets the environment, so nothing it sends can raise out
        of here: arguments may be a dict or its JSON text (as chat APIs deliver them), and
        anything else is a plain error. A fault in the environment itself (a bug, never the
        agent's doing) is also returned as an error - the call changed nothing, since effects are
        staged - and kept in `faults`, which the fuzz tests require to stay empty."""
        if isinstance(arguments, str):
            parsed = parse_arguments(arguments)
            if isinstance(parsed, str):
                shown = name if isinstance(name, str) else T.show(name)
                self.runtime.log.append(CallRecord(shown, {}, False, f"Error: {parsed}"))
                return f"Error: {parsed}"
            arguments = parsed
        try:
            rec = self.runtime.call(name, arguments if arguments is not None else {})
        except Exception as e:  # noqa: BLE001 - the one boundary where a bug must not end an episode
            self.faults.append(f"{type(e).__name__}: {e}"[:500])
            message = f"Error: the environment failed to run this call ({type(e).__name__}); nothing was changed"
            self.runtime.log.append(CallRecord(T.show(name), {}, False, message))
            return message
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
        return score_state(self.domain, self.task, self.runtime.db, self.messages, self.runtime.log)


MAX_ARGUMENT_TEXT = 100_000  # characters of JSON arguments an agent may send in one call


def parse_arguments(text: str) -> Union[dict, str]:
    """Arguments sent as JSON text -> a dict, or the reason they cannot be read (too long, not
    JSON, nested too deeply, not an object)."""
    if len(text) > MAX_ARGUMENT_TEXT:
        return f"arguments are too long ({len(text)} characters; at most {MAX_ARGUMENT_TEXT})"
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        return f"arguments are not valid JSON ({e.msg})"
    except RecursionError:
        return "arguments are nested too deeply"
    except ValueError:  # a number with more digits than Python will read (over 4,300)
        return "arguments hold a number too long to read"
    if not isinstance(value, dict):
        return f"arguments must be a JSON object, got {T.show(value)}"
    return value


def replay(domain: Domain, task: Task, calls: list[tuple[str, dict]], messages: Optional[list[str]] = None) -> Score:
    """Score a fixed list of calls and messages."""
    env = Environment(domain, task)
    for name, args in calls:
        env.call(name, args)
    for m in messages or []:
        env.say(m)
    return env.score()
