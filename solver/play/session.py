"""Episodes of an eval and the run over a dataset: the conversation loop of an LLM agent with a
simulated user, built-in agents played the same way on disk, concurrency, resume and the summary.

An LLM episode: the task's policy as the system message, the user's opening, then turns - each
turn one completion; its text goes to the user (`env.say`) and its tool calls to the
environment (`env.call`, the result text back as a `tool` message). When a completion has no
tool calls the user replies (or stops: `###STOP###`); `max_turns` completions end it otherwise
(recorded as `error`, scored as it stands). The score is the environment's, whatever the user.

`run_eval` plays every (task, trial) not yet in the results directory - an interrupted run
resumes there - on `concurrency` threads (each episode owns its Environment), appending each
result and transcript as it ends. The summary is computed from results.jsonl alone, with the
same numbers `agents.evaluate` gives for the same rewards.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional

from ..spec.model import Domain
from ..tasks.model import Task
from .agents import EvalSummary
from .environment import Environment
from .llm import Endpoint, EndpointFailure
from .results import EpisodeResult, ResultsDir, Transcript
from .user import STOP, LLMUser, NoUser, ScriptedUser, parse_user_mode

Episode = tuple[EpisodeResult, Transcript]


@dataclass
class LLMAgent:
    """A tool-calling agent: a model at an OpenAI-compatible endpoint."""

    endpoint: Endpoint
    temperature: float = 0.0
    seed: Optional[int] = None
    max_turns: int = 30
    price_in: Optional[float] = None  # USD per million prompt tokens
    price_out: Optional[float] = None
    stochastic = True

    @property
    def name(self) -> str:
        return f"openai:{self.endpoint.model}"

    def cost(self, prompt: int, completion: int) -> Optional[float]:
        if self.price_in is None and self.price_out is None:
            return None
        return round(prompt * (self.price_in or 0) / 1e6 + completion * (self.price_out or 0) / 1e6, 6)


@dataclass
class UserFactory:
    """Makes the user of each episode from `none`, `scripted` or `llm:MODEL`."""

    mode: str = "none"
    endpoint: Optional[Endpoint] = None  # for llm:MODEL
    temperature: float = 0.0
    seed: Optional[int] = None
    max_replies: int = 10

    def __post_init__(self) -> None:
        self.kind, self.model = parse_user_mode(self.mode)

    def __call__(self, task: Task):
        if self.kind == "none":
            return NoUser(task)
        if self.kind == "scripted":
            return ScriptedUser(task, self.max_replies)
        return LLMUser(task, self.endpoint, self.temperature, self.seed, self.max_replies)


def play_llm(domain: Domain, task: Task, trial: int, agent: LLMAgent, users: UserFactory) -> Episode:
    """One episode of an LLM agent with a simulated user. Raises EndpointFailure (infrastructure)
    when the endpoint is lost; an endpoint rejecting the conversation ends the episode instead."""
    start = time.monotonic()
    env = Environment(domain, task)
    user = users(task)
    messages: list[dict[str, Any]] = [{"role": "system", "content": task.policy},
                                      {"role": "user", "content": user.opening()}]
    prompt = completion = turns = tool_calls = 0
    error: Optional[str] = None
    seed = None if agent.seed is None else agent.seed + trial
    while True:
        if turns >= agent.max_turns:
            error = f"turn limit reached ({agent.max_turns} agent turns)"
            break
        try:
            message, (p, c) = agent.endpoint.chat(messages, tools=task.tools, temperature=agent.temperature, seed=seed)
        except EndpointFailure as e:
            if e.infrastructure:
                raise
            error = str(e)
            break
        turns += 1
        prompt, completion = prompt + p, completion + c
        messages.append(message)
        text = message.get("content") or ""
        if text.strip():
            env.say(text)
        calls = message.get("tool_calls") or []
        for call in calls:
            tool_calls += 1
            fn = call.get("function") or {}
            result = env.call(fn.get("name", ""), fn.get("arguments") or "")
            messages.append({"role": "tool", "tool_call_id": call.get("id", ""), "name": fn.get("name", ""),
                             "content": result})
        if calls:
            continue
        try:
            reply = user.reply(text)
        except EndpointFailure as e:
            if e.infrastructure:
                raise
            error = f"user: {e}"
            break
        if reply is None:
            if user.mode != "none":
                messages.append({"role": "user", "content": STOP})
            break
        messages.append({"role": "user", "content": reply})
    score = env.score()
    result = EpisodeResult.of(
        task, trial=trial, agent=agent.name, user=user.mode, reward=score.reward, db_match=score.db_match,
        answers_communicated=score.answers_communicated, missing=score.missing_answers,
        failed_calls=score.failed_calls, turns=turns, tool_calls=tool_calls, prompt_tokens=prompt,
        completion_tokens=completion, cost=agent.cost(prompt, completion), seconds=round(time.monotonic() - start, 3),
        error=error, user_prompt_tokens=user.prompt_tokens, user_completion_tokens=user.completion_tokens)
    return result, Transcript(task_id=task.id, trial=trial, messages=messages)


def play_builtin(domain: Domain, task: Task, trial: int, agent: Any, seed: int) -> Episode:
    """One episode of a built-in (or plug-in) agent, as `agents.evaluate` plays it, with its
    calls and messages written out as an OpenAI-format transcript."""
    start = time.monotonic()
    env = Environment(domain, task)
    agent.run(env, task, random.Random(f"{seed}/{task.id}/{trial}"))
    score = env.score()
    messages: list[dict[str, Any]] = [{"role": "system", "content": task.policy},
                                      {"role": "user", "content": task.instruction}]
    for k, rec in enumerate(env.calls):
        cid = f"call_{k}"
        messages.append({"role": "assistant", "content": None, "tool_calls": [
            {"id": cid, "type": "function", "function": {"name": str(rec.name),
                                                         "arguments": json.dumps(rec.arguments, default=str)}}]})
        content = rec.output if isinstance(rec.output, str) else json.dumps(rec.output, ensure_ascii=False, default=str)
        messages.append({"role": "tool", "tool_call_id": cid, "name": str(rec.name), "content": content})
    for text in env.messages:
        messages.append({"role": "assistant", "content": text})
    result = EpisodeResult.of(
        task, trial=trial, agent=getattr(agent, "name", type(agent).__name__), user="none", reward=score.reward,
        db_match=score.db_match, answers_communicated=score.answers_communicated, missing=score.missing_answers,
        failed_calls=score.failed_calls, turns=0, tool_calls=len(env.calls), seconds=round(time.monotonic() - start, 3))
    return result, Transcript(task_id=task.id, trial=trial, messages=messages)


@dataclass
class RunReport:
    """What `run_eval` did: episodes played now, skipped as already done, and why it stopped
    early (an infrastructure failure), if it did."""

    planned: int = 0
    skipped: int = 0
    played: int = 0
    failed: int = 0
    stopped: Optional[str] = None
    failures: list[str] = field(default_factory=list)


def run_eval(tasks: list[Task], play: Callable[[Task, int], Episode], results: ResultsDir, trials: int = 1,
             concurrency: int = 1, on_episode: Optional[Callable[[EpisodeResult], None]] = None,
             failed_result: Optional[Callable[[Task, int, str], EpisodeResult]] = None) -> RunReport:
    """Play every (task, trial) whose result is not yet in `results`, `concurrency` at a time.
    An infrastructure failure (EndpointFailure) records the episode for a retry, lets the episodes
    under way finish, starts no new one and says why in `RunReport.stopped`."""
    done = results.done()
    keys = [(t, k) for t in _unique(tasks) for k in range(trials)]
    todo = [(t, k) for t, k in keys if (t.id, k) not in done]
    report = RunReport(planned=len(keys), skipped=len(keys) - len(todo))
    lock = threading.Lock()
    stop = threading.Event()

    def job(task: Task, trial: int) -> None:
        if stop.is_set():
            return
        try:
            result, transcript = play(task, trial)
        except EndpointFailure as e:
            stop.set()
            with lock:
                report.failed += 1
                report.failures.append(f"{task.id}: {e}")
                report.stopped = report.stopped or str(e)
                if failed_result is not None:
                    results.add(failed_result(task, trial, str(e)))
            return
        with lock:
            results.add(result, transcript)
            report.played += 1
        if on_episode:
            on_episode(result)

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        pending = {pool.submit(job, t, k) for t, k in todo}
        try:
            while pending:
                finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for f in finished:
                    if not f.cancelled():
                        f.result()  # a bug in an episode surfaces here
                if stop.is_set():
                    for f in pending:
                        f.cancel()
        except BaseException:
            stop.set()
            for f in pending:
                f.cancel()
            raise
    return report


def _unique(tasks: Iterable[Task]) -> list[Task]:
    seen, out = set(), []
    for t in tasks:
        if t.id not in seen:
            seen.add(t.id)
            out.append(t)
    return out


def summarize(tasks: list[Task], results: ResultsDir, trials: int, agent: str, user: str = "none",
              extra: Optional[dict] = None) -> dict:
    """The eval's summary from results.jsonl alone (the last result per episode; episodes left
    to retry are counted as missing): `EvalSummary`'s numbers for these rewards, in task order,
    plus tokens, cost, turns, errors and completeness."""
    latest = {k: r for k, r in results.latest().items() if not r.retry}
    s = EvalSummary(agent=agent, trials=trials)
    episodes = []
    missing = 0
    for task in _unique(tasks):
        rs = [latest[(task.id, k)] for k in range(trials) if (task.id, k) in latest]
        missing += trials - len(rs)
        if not rs:
            continue
        episodes += rs
        r = sum(x.reward for x in rs) / len(rs)
        s.tasks += 1
        s.rewards.append(r)
        s.successes.append(sum(1 for x in rs if x.reward == 1.0))
        s.by_length[rs[0].length].append(r)
        for kind in rs[0].distractor_kinds:
            s.by_kind[kind].append(r)
        if rs[0].near_miss_before_target:
            s.with_distractors.append(r)
    if any(len([k for k in range(trials) if (t.id, k) in latest]) not in (0, trials) for t in tasks):
        s.successes = []  # pass^k needs every trial of a task
    out = s.to_json()
    costs = [r.cost for r in episodes if r.cost is not None]
    errors: dict[str, int] = {}
    for r in episodes:
        if r.error:
            kind = re.sub(r"\d+", "N", r.error.split(":")[0])[:80]
            errors[kind] = errors.get(kind, 0) + 1
    out.update({
        "user": user,
        "episodes": len(episodes),
        "incomplete": missing,
        "refusal_tasks": {"tasks": sum(1 for r in episodes if r.refusal and r.trial == 0),
                          "mean_reward": _mean([r.reward for r in episodes if r.refusal])},
        "tokens": {"prompt": sum(r.prompt_tokens for r in episodes),
                   "completion": sum(r.completion_tokens for r in episodes),
                   "user_prompt": sum(r.user_prompt_tokens for r in episodes),
                   "user_completion": sum(r.user_completion_tokens for r in episodes)},
        "cost_usd": round(sum(costs), 6) if costs else None,
        "mean_turns": _mean([r.turns for r in episodes]),
        "mean_tool_calls": _mean([r.tool_calls for r in episodes]),
        "errors": errors,
    })
    if extra:
        out.update(extra)
    return out


def _mean(xs: list[float]) -> Optional[float]:
    return round(sum(xs) / len(xs), 4) if xs else None


def failed_episode(agent: str, user: str) -> Callable[[Task, int, str], EpisodeResult]:
    """The record of an episode the endpoint failed: played again on resume (`retry`)."""
    def make(task: Task, trial: int, message: str) -> EpisodeResult:
        return EpisodeResult.of(task, trial=trial, agent=agent, user=user, reward=0.0, db_match=False,
                                answers_communicated=False, error=message, retry=True)
    return make
