"""Stage 7b: re-check a generated dataset without the solvers.

For every task: the spec is the one it was generated from; the gold actions replay on the
plain-Python runtime without error and score 1.0 (final-state hash and answers); an agent that
does nothing scores 0; every description in the certificate picks out exactly its target, by a
plain scan of the database at that step.
"""

from __future__ import annotations

import json

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

from .runtime import references as R
from .spec.model import Domain
from .play.environment import Environment
from .play.playback import play_walk
from .errors import EnvsynthError
from .spec.loader import load_domain
from .runtime.execute import copy_db
from .tasks.model import Task, requests


@dataclass
class TaskCheck:
    id: str
    ok: bool
    problems: list[str] = field(default_factory=list)


def check_task(domain: Domain, task: Task) -> TaskCheck:
    problems: list[str] = []
    if task.meta.spec_hash != domain.spec_hash:
        problems.append(f"generated from spec {task.meta.spec_hash}, checked against {domain.spec_hash}")
        return TaskCheck(task.id, False, problems)
    # 1) gold replays without error and scores 1
    env = Environment(domain, task)
    snapshots = []  # the database before each gold action
    replayed = True
    for i, (name, arguments, refusal) in enumerate(requests(task)):
        if refusal is None:
            snapshots.append(copy_db(env.runtime.db))
        out = env.call(name, arguments)
        if refusal is not None:  # the request the policy forbids: it must fail, for its rule
            if not out.startswith("Error:"):
                problems.append(f"the refused request ({name}) would succeed: it is not a refusal")
            elif out != f"Error: {refusal.error}":
                problems.append(f"the refused request fails for another reason: {out}")
        elif out.startswith("Error:"):
            problems.append(f"gold step {i + 1} ({name}) fails: {out}")
            replayed = False
            break
    else:
        for a in task.expected.answers:
            produced = env.calls[a.step - 1].answer
            if a.step not in {r.step for r in task.expected.refusals} and produced != a.value:
                problems.append(f"answer of step {a.step} is {produced!r}, expected {a.value!r}")
        for a in task.expected.answers:
            env.say(f"{a.value}")
        s = env.score()
        if s.reward != 1.0:
            why = "final state differs" if not s.db_match else f"answers missing: {s.missing_answers}"
            problems.append(f"gold scores {s.reward}: {why}")
    # 1b) every id the gold trajectory uses is one the user states or an earlier result shows
    if replayed:
        problems += _unsourced_ids(domain, task, env)
    # 2) the agent that does nothing scores 0
    noop = Environment(domain, task).score()
    if noop.reward != 0.0:
        problems.append("an agent that does nothing scores 1.0")
    # 3) each description picks out exactly its target (plain scan), even if the state check failed
    if replayed:
        actor_id = task.certificate.actor
        for proof in task.certificate.selections:
            db = snapshots[proof.step - 1]
            ref = domain.entities[proof.entity].refs[proof.reference]
            stated = R.stated_values(domain, ref, db, proof.target)
            if stated != proof.stated:
                problems.append(f"step {proof.step}: stated values {proof.stated} do not match the target")
                continue
            got = R.resolve(domain, ref, db, stated, actor_id)
            if got != proof.target:
                problems.append(f"step {proof.step}: description '{proof.reference}' resolves to {got}, "
                                f"not {proof.target}")
    # 4) no shorter prefix of the gold trajectory already succeeds
    if not problems:
        for cut in range(1, len(task.gold_actions)):
            env = Environment(domain, task)
            for a in task.gold_actions[:cut]:
                env.call(a.name, a.arguments)
            for c in env.calls:
                if c.answer is not None:
                    env.say(c.answer)
            if env.score().reward == 1.0:
                problems.append(f"the first {cut} of {len(task.gold_actions)} gold steps already succeed")
                break
    # 5) every near miss, put in place of its target, fails a precondition or the verifier
    if not problems:
        problems += distractor_problems(domain, task)
    return TaskCheck(task.id, not problems, problems)


def _unsourced_ids(domain: Domain, task: Task, env: Environment) -> list[str]:
    """An agent can only use ids it has been told or has seen: check the gold trajectory's."""
    seen = task.instruction
    out = []
    for i, ((name, arguments, _refusal), rec) in enumerate(zip(requests(task), env.calls)):
        tool = domain.tools[name]
        for a in tool.args.values():
            if a.is_ref:
                rid = arguments[a.name]
                if rid not in seen:
                    out.append(f"gold step {i + 1} ({name}) uses {a.type.entity} {rid}, which the user never "
                               "states and no earlier result shows")
        seen += json.dumps(rec.output)
    return out


def distractor_problems(domain: Domain, task: Task) -> list[str]:
    """Swap each near miss in for the record it imitates and play the task's plan: the result
    must not pass (a precondition fails, or the final state or the answers differ)."""

    out = []
    certificate = task.certificate
    by_step = {p.step: p for p in certificate.selections}
    for d in certificate.distractors:
        rid = d.id
        if d.entity not in task.initial_db or rid not in task.initial_db[d.entity]:
            out.append(f"near miss {rid} is not in the initial database")
            continue
        env = Environment(domain, task)
        if d.step in by_step and by_step[d.step].target == d.target:
            play_walk(domain, task, env, picks={d.step: rid})
        else:
            target_obj = next((o for o, i in certificate.objects.items() if i == d.target), None)
            if target_obj is None:
                out.append(f"near miss {rid}: its target {d.target} is not a record of the plan")
                continue
            play_walk(domain, task, env, override={target_obj: rid})
        if env.score().reward == 1.0:
            out.append(f"near miss {rid} ({d.kind}) passes in place of {d.target}: it is not a real near miss")
    return out


def tasks_file(directory: Path) -> Path:
    """The tasks.jsonl of a dataset directory (or the file itself), which must exist."""
    directory = Path(directory)
    path = directory / "tasks.jsonl" if directory.is_dir() else directory
    if not path.exists():
        raise EnvsynthError(f"no tasks.jsonl in {directory}")
    return path


def count_tasks(path: Path) -> int:
    """Lines holding a task, counted without parsing them (for progress bars)."""
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


def iter_tasks(path: Path) -> Iterator[Task]:
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                yield Task.model_validate_json(line)
            except ValueError as e:
                raise EnvsynthError(f"{path}:{n}: not a task record ({str(e).splitlines()[0]})") from None


def dataset_spec(directory: Path, spec: Optional[str] = None) -> Domain:
    if spec is not None:
        return load_domain(spec)
    p = directory / "spec.yaml"
    if not p.exists():
        raise EnvsynthError(f"{directory} has no spec.yaml; pass --spec")
    return load_domain(p)


def iter_checks(directory: Path, spec: Optional[str] = None) -> Iterator[TaskCheck]:
    """Check every task of a dataset in file order, one at a time (memory stays flat)."""
    path = tasks_file(directory)
    domain = dataset_spec(path.parent, spec)
    for task in iter_tasks(path):
        yield check_task(domain, task)


def verify_dir(directory: Path, spec: Optional[str] = None) -> list[TaskCheck]:
    """Every task's check, as a list (for small datasets; `iter_checks` streams)."""
    return list(iter_checks(directory, spec))
