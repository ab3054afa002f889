"""Stage 7b: re-check a generated dataset without the solvers.

For every task: the spec is the one it was generated from; the gold actions replay on the
plain-Python runtime without error and score 1.0 (final-state hash and answers); an agent that
does nothing scores 0; every description in the certificate picks out exactly its target, by a
plain scan of the database at that step; no shorter prefix of the gold succeeds; every near miss
fails in its target's place.

Those checks read the spec through the same code the generator used (the runtime and the one
meaning of descriptions), and `generate` runs them on every task it writes - so on a fresh
dataset they confirm the files, not the generator. `verify` therefore adds a second engine
(`sqlcheck`) that shares none of that code: every description's target and every precondition
of every request, re-derived in SQL on SQLite and compared with the certificate.
"""

from __future__ import annotations

import json
import sqlite3

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

from . import sqlcheck
from .runtime import references as R
from .spec.history import history
from .spec.model import Domain
from .play.environment import Environment
from .play.factcheck import fact_check, task_facts
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
    sql_descriptions: int = 0  # descriptions the second engine resolved (and agreed on, when ok)
    sql_requirements: int = 0  # preconditions the second engine evaluated


def check_task(domain: Domain, task: Task, second_engine: bool = True) -> TaskCheck:
    """Every check of the module docstring; `second_engine=False` leaves out the SQL re-derivation
    (what `generate` runs on each task before writing it - the second engine stays `verify`'s)."""
    problems: list[str] = []
    if task.meta.spec_hash != domain.spec_hash:
        problems.append(f"generated from spec {task.meta.spec_hash}, checked against {domain.spec_hash}")
        return TaskCheck(task.id, False, problems)
    # 0) the record names only tools and rules the spec has (a hand-edited file may not)
    for name, _arguments, refusal in requests(task):
        if name not in domain.tools:
            problems.append(f"the task calls {name!r}, which is not a tool of {domain.name}")
        elif refusal is not None and refusal.requirement not in {r.src for r in domain.tools[name].requires}:
            problems.append(f"the refused {name} names a rule {name} does not have: {refusal.requirement!r}")
    # 0b) a paraphrased instruction (`envsynth paraphrase`) still states what the template text did:
    # the fact check, re-run; a rejected rewrite left the template text
    if task.meta.paraphrase is not None:
        problems += paraphrase_problems(domain, task)
    if problems:
        return TaskCheck(task.id, False, problems)
    # 1) gold replays without error and scores 1
    env = Environment(domain, task)
    snapshots = []  # the database before each request (refused ones included)
    replayed = True
    for i, (name, arguments, refusal) in enumerate(requests(task)):
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
    # 5b) a conditional request: refused for a rule with a fallback, the fallback next; and the
    # same instruction where the first option succeeds (the other branch) is a valid task whose
    # gold is the first option, in which taking the fallback scores 0
    if not problems and task.certificate.walk.conditionals():
        problems += conditional_problems(domain, task, second_engine)
    result = TaskCheck(task.id, not problems, problems)
    # 6) the second engine: descriptions and preconditions re-derived in SQL
    if second_engine and replayed:
        sql_problems, result.sql_descriptions, result.sql_requirements = second_engine_problems(domain, task, snapshots)
        result.problems += sql_problems
        result.ok = not result.problems
    return result


def conditional_problems(domain: Domain, task: Task, second_engine: bool = True) -> list[str]:
    """A conditional request is refused for a rule the spec gives a fallback, the next goal is a
    request of a tool that fallback allows and succeeds; in the other branch's world (the first
    option repaired, tasks/branches.py) the same instruction's gold is the first option, that task
    passes every check, and the refused branch's gold - going straight to the fallback - scores 0."""
    from .tasks.branches import other_branch

    out = []
    walk = task.certificate.walk
    refused = {r.step: r for r in task.expected.refusals}
    goals = walk.goal_steps(domain)
    for k in walk.conditionals():
        step = walk.steps[k]
        tool = domain.tools[step.tool]
        r = refused.get(k + 1)
        req = next((q for q in tool.requires if r is not None and q.src == r.requirement), None)
        if req is None or not req.fallback_then:
            out.append(f"step {k + 1} ({step.tool}) is marked conditional but is not refused for a rule with a fallback")
            continue
        later = [g for g in goals if g > k]
        if not later or walk.steps[later[0]].tool not in req.fallback_then or (later[0] + 1) in refused:
            out.append(f"step {k + 1} ({step.tool}): the next request is not a fallback the rule allows "
                       f"({', '.join(req.fallback_then)}) that succeeds")
            continue
        branch = other_branch(domain, task, k + 1)
        if branch is None:
            out.append(f"step {k + 1} ({step.tool}): no world found in which the first option succeeds")
            continue
        sub = check_task(domain, branch, second_engine)
        out += [f"other branch (the first option succeeds): {p}" for p in sub.problems]
        env = Environment(domain, branch)
        for g in task.gold_actions:
            env.call(g.name, g.arguments)
        for a in task.expected.answers:
            env.say(a.value)
        if env.score().reward != 0.0:
            out.append(f"step {k + 1} ({step.tool}): where the first option succeeds, taking the fallback still scores 1")
    return out


def paraphrase_problems(domain: Domain, task: Task) -> list[str]:
    """A task whose instruction a model reworded: an accepted rewrite passes the fact check against
    the template text it records; a rejected one left that text as the instruction."""
    p = task.meta.paraphrase
    if p is None:
        return []
    if not p.accepted:
        return [] if task.instruction == p.original else [
            "the paraphrase was rejected, yet the instruction is not the template text it records"]
    ok, reasons = fact_check(p.original, task.instruction, task_facts(domain, task))
    return [] if ok else [f"the paraphrased instruction fails the fact check: {'; '.join(reasons)}"]


def second_engine_problems(domain: Domain, task: Task, snapshots: list[dict]) -> tuple[list[str], int, int]:
    """Compare the certificate with SQLite's reading of the spec: each description's target (and
    the record counts it states), each gold request's preconditions (all hold), each refused
    request's (the rule it is refused for is the first that fails). Returns the problems and how
    many descriptions and preconditions were checked."""
    out: list[str] = []
    n_desc = n_req = 0
    actor_id = task.certificate.actor
    bases: dict[int, sqlcheck.Database] = {}

    def base(step: int) -> sqlcheck.Database:
        if step not in bases:
            bases[step] = sqlcheck.Database(domain, snapshots[step - 1])
        return bases[step]

    try:
        for ename in sorted(domain.entities):  # every initial record keeps its entity's invariants
            for node, src in domain.entities[ename].invariants:
                n_req += 1
                for rid in sqlcheck.breaking(domain, base(1), ename, node):
                    out.append(f"second engine: {ename} {rid} in the initial database breaks the invariant '{src}' in SQL")
        for ename in sorted(domain.entities):  # every initial record: one its creating tool could have made
            for rule in history(domain).for_entity(ename):
                n_req += 1
                for rid in sqlcheck.breaking(domain, base(1), ename, rule.node):
                    out.append(f"second engine: {ename} {rid} in the initial database breaks '{rule.text}' "
                               f"({rule.because}): no tool could have made it")
        for k, (name, arguments, refusal) in enumerate(requests(task), 1):
            tool = domain.tools[name]
            holds = sqlcheck.requirements(domain, base(k), tool, arguments, actor_id)
            n_req += len(holds)
            if refusal is None:
                for req, ok in zip(tool.requires, holds):
                    if not ok:
                        out.append(f"second engine: step {k} ({name}) breaks '{req.src}' in SQL")
                continue
            first = next((req for req, ok in zip(tool.requires, holds) if not ok), None)
            if first is None or first.src != refusal.requirement:
                found = f"'{first.src}'" if first is not None else "nothing"
                out.append(f"second engine: the refused request at step {k} ({name}) fails on {found} "
                           f"in SQL, not on '{refusal.requirement}'")
        for proof in task.certificate.selections:
            n_desc += 1
            ref = domain.entities[proof.entity].refs[proof.reference]
            got = sqlcheck.resolve(domain, base(proof.step), ref, proof.stated, actor_id)
            if got.target != proof.target:
                picks = f"ties {', '.join(got.best)}" if len(got.best) > 1 else (got.best[0] if got.best else "nothing")
                out.append(f"second engine: at step {proof.step} '{proof.reference}' picks {picks} in SQL, "
                           f"the certificate says {proof.target}")
            elif (got.rows, got.fit_stated, len(got.fits)) != (proof.candidates, proof.fit_stated, proof.fits):
                out.append(f"second engine: at step {proof.step} '{proof.reference}' counts {got.rows} records, "
                           f"{got.fit_stated} with the stated values and {len(got.fits)} fitting in SQL; the "
                           f"certificate says {proof.candidates}, {proof.fit_stated}, {proof.fits}")
    except (sqlcheck.SqlCheckError, sqlite3.Error) as e:
        out.append(f"second engine could not check the task: {e}")
    finally:
        for b in bases.values():
            b.close()
    return out, n_desc, n_req


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
