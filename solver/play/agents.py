"""Baseline agents and `envsynth eval`: the same scoring as `verify`, run on agents.

An agent is anything with `name`, `stochastic` and `run(env, task, rng)`: it calls
`env.call(name, arguments)` and `env.say(text)`, and is then scored on the final state and the
answers it gave. Built in:

- `oracle`: plays the gold trajectory (must score 1.0);
- `noop`: does nothing (must score 0.0);
- `random`: a handful of random tool calls with ids from the database (stochastic);
- `distractor-blind`: follows the task's plan but picks, from each list, the first record that
  fits the description *partly* - ignoring the rank, the fixed condition and one stated value.
  It must fail every task with a near miss listed before its target;
- `exploit`: tries to earn reward without doing the task (prefixes, repeats, other ids, near
  misses, out-of-range values, hedging replies); it must score 0 (see `envsynth.exploit`).

Plug in your own with `--agent package.module:ClassName` (constructed without arguments).
"""

from __future__ import annotations

import importlib
import math
import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional, Protocol

from ..runtime import references as R
from ..spec.model import Domain
from .environment import Environment
from .playback import play_walk
from ..errors import EnvsynthError
from ..tasks.model import Task, requests


class Agent(Protocol):
    name: str
    stochastic: bool

    def run(self, env: Environment, task: Task, rng: random.Random) -> None:
        ...


# ----------------------------------------------------------------------------- built-in agents


class Oracle:
    """Plays the gold trajectory (trying each refused request in its place) and states the
    expected answers and refusal reasons."""

    name = "oracle"
    stochastic = False

    def run(self, env: Environment, task: Task, rng: random.Random) -> None:
        for name, arguments, _refusal in requests(task):  # a refused request is tried, and fails
            env.call(name, arguments)
        for ans in task.expected.answers:
            env.say(f"The answer is {ans.value}.")


class Noop:
    """Does nothing and says nothing."""

    name = "noop"
    stochastic = False

    def run(self, env: Environment, task: Task, rng: random.Random) -> None:
        return None


class RandomAgent:
    """Random tool calls: random tools, ids from the database, values from each type's domain."""

    name = "random"
    stochastic = True

    def __init__(self, calls: int = 0):
        self.calls = calls

    def run(self, env: Environment, task: Task, rng: random.Random) -> None:
        from ..spec import types as T

        domain = env.domain
        n = self.calls or max(1, len(task.gold_actions))
        for _ in range(n):
            tool = domain.tools[rng.choice(sorted(domain.tools))]
            args: dict[str, Any] = {}
            for a in tool.args.values():
                if a.is_ref:
                    table = sorted(env.runtime.db.get(a.type.entity, {}))
                    args[a.name] = rng.choice(table) if table else "none"
                elif a.type.kind == "str" and not a.type.values:
                    args[a.name] = "someone@example.com"
                else:
                    t = a.type
                    if t.kind in ("int", "money", "date", "datetime") and (t.lo is None or t.hi is None):
                        t = T.VType(t.kind, places=t.places, lo=0, hi=10 * max(1, t.scale))
                    args[a.name] = T.encode(t, T.sample(t, rng))
            env.call(tool.name, args)


class DistractorBlind:
    """Follows the plan, but resolves each description carelessly: the first record listed that
    fits it in part (rank ignored, fixed condition ignored, one stated value allowed to differ)."""

    name = "distractor-blind"
    stochastic = False

    def run(self, env: Environment, task: Task, rng: random.Random) -> None:
        domain = env.domain
        actor = task.certificate.actor

        def choose(step: int, shown: list[str], proof) -> Optional[str]:
            if proof is None or not shown:
                return shown[0] if shown else None
            ref = domain.entities[proof.entity].refs[proof.reference]
            db = env.runtime.db
            for rid in shown:
                if R.careless_fit(domain, ref, db, rid, proof.stated, actor):
                    return rid
            return None

        play_walk(domain, task, env, choose)


def _exploit():
    from .exploit import Exploit

    return Exploit()


BUILTIN: dict[str, Callable[[], Any]] = {
    "oracle": Oracle,
    "noop": Noop,
    "random": RandomAgent,
    "distractor-blind": DistractorBlind,
    "exploit": _exploit,
}


def load_agent(spec: str):
    """A built-in agent by name, or `package.module:ClassName`."""
    if spec in BUILTIN:
        return BUILTIN[spec]()
    if ":" in spec:
        mod, _, cls = spec.partition(":")
        try:
            factory = getattr(importlib.import_module(mod), cls)
        except (ImportError, AttributeError) as e:
            raise EnvsynthError(f"cannot load agent '{spec}': {e}") from None
        try:
            agent = factory() if callable(factory) else factory
        except TypeError as e:
            raise EnvsynthError(f"cannot make an agent from '{spec}': {e}; give a class whose "
                                "constructor takes no arguments") from None
        if not callable(getattr(agent, "run", None)):
            raise EnvsynthError(f"'{spec}' is not an agent: it needs a run(env, task, rng) method")
        return agent
    raise EnvsynthError(f"unknown agent '{spec}'; built in: {', '.join(BUILTIN)}, or give module:Class")


# ----------------------------------------------------------------------------- evaluation


def resolves_near_miss(task: Task) -> bool:
    """The task lists a near miss before its target for a description the agent must resolve."""
    return any(d.before_target for d in task.certificate.distractors)


def pass_hat_k(successes: int, trials: int, k: int) -> float:
    """tau-bench's pass^k: the chance that k trials drawn from these all succeed."""
    if trials < k:
        return float("nan")
    return math.comb(successes, k) / math.comb(trials, k)


@dataclass
class EvalSummary:
    agent: str
    tasks: int = 0
    trials: int = 1
    rewards: list[float] = field(default_factory=list)  # mean over trials, per task
    by_length: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))
    by_kind: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    with_distractors: list[float] = field(default_factory=list)
    successes: list[int] = field(default_factory=list)
    extra: dict = field(default_factory=dict)  # what the agent reports about itself (exploit: its strategies)

    def to_json(self) -> dict:
        def mean(xs):
            return round(sum(xs) / len(xs), 4) if xs else None

        out = {
            "agent": self.agent,
            "tasks": self.tasks,
            "trials": self.trials,
            "mean_reward": mean(self.rewards),
            "with_distractors": {"tasks": len(self.with_distractors), "mean_reward": mean(self.with_distractors)},
            "by_length": {str(k): {"tasks": len(v), "mean_reward": mean(v)} for k, v in sorted(self.by_length.items())},
            "by_distractor_kind": {k: {"tasks": len(v), "mean_reward": mean(v)} for k, v in sorted(self.by_kind.items())},
        }
        if self.extra:
            out.update(self.extra)
        if self.trials > 1:
            out["pass_hat_k"] = {
                str(k): round(sum(pass_hat_k(s, self.trials, k) for s in self.successes) / len(self.successes), 4)
                for k in range(1, self.trials + 1)
            } if self.successes else {}
        return out


def evaluate(domain: Domain, tasks: Iterable[Task], agent, trials: int = 1, seed: int = 0,
             on_task: Optional[Callable[[Task, float], None]] = None) -> EvalSummary:
    if trials < 1:
        raise EnvsynthError("trials (-k) must be at least 1")
    trials = trials if getattr(agent, "stochastic", False) else 1
    summary = EvalSummary(agent=getattr(agent, "name", type(agent).__name__), trials=trials)
    for task in tasks:
        rewards = []
        for t in range(trials):
            env = Environment(domain, task)
            rng = random.Random(f"{seed}/{task.id}/{t}")
            agent.run(env, task, rng)
            rewards.append(env.score().reward)
        r = sum(rewards) / len(rewards)
        summary.tasks += 1
        summary.rewards.append(r)
        summary.successes.append(sum(1 for x in rewards if x == 1.0))
        summary.by_length[task.difficulty.length].append(r)
        for kind in task.difficulty.distractors:
            summary.by_kind[kind].append(r)
        if resolves_near_miss(task):
            summary.with_distractors.append(r)
        if on_task:
            on_task(task, r)
    if callable(getattr(agent, "report", None)):
        summary.extra = {summary.agent: agent.report()}
    return summary
