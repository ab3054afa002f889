"""The other branch of a conditional request: the same instruction, in a world where the first
option is not refused.

A conditional task is generated in the world where the user's first option is refused (the gold
takes the fallback). Its instruction must also be right where the first option succeeds - there
the gold is the first option, and an agent that goes straight to the fallback is wrong. The
other branch's world is the task's own initial database with the refused rule repaired: one
field the failing rule reads (the cabin's seats, the variant's stock), on a record the database
starts with, set to a value of its range that lets the request through - so ids, names and every
description of the instruction stay as they are. `verify` checks the result like any task and
plays the refused branch's gold in it (it must score 0).
"""

from __future__ import annotations

from typing import Any, Iterator, Optional

from ..errors import ToolError
from ..runtime.execute import Ref, Runtime, copy_db, db_hash
from ..spec import grammar as E
from ..spec import types as T
from ..spec.model import Domain
from ..plan.walk import Walk, WalkStep
from ..state.scenario import GoldCall
from .model import Answer, Expected, Task, requests
from .derive import record_changes


def _fields_read(domain: Domain, tool, req, rt: Runtime, env: dict) -> list[tuple[str, str, str]]:
    """(entity, id, field) of every record field the rule reads, through the tool's lets too."""
    lets = {name: node for name, node, _t in tool.lets}
    out: list[tuple[str, str, str]] = []
    seen: set = set()
    stack = [req.expr]
    while stack:
        node = stack.pop()
        for n in E.walk(node):
            if isinstance(n, E.Name) and n.id in lets and n.id not in seen:
                seen.add(n.id)
                stack.append(lets[n.id])
            if isinstance(n, E.Attr):
                try:
                    base = rt.ev.eval(n.obj, env)
                except (ToolError, Exception):  # a quantifier's variable: bound only inside it
                    continue
                if isinstance(base, Ref) and (base.entity, base.id, n.name) not in out:
                    out.append((base.entity, base.id, n.name))
    return out


def _candidates(domain: Domain, entity: str, field: str, current: Any) -> list[Any]:
    t = domain.entities[entity].fields[field].type
    if t.kind == "enum":
        return [v for v in t.values if v != current]
    if t.kind == "bool":
        return [not current]
    if t.kind in ("int", "money") and t.lo is not None and t.hi is not None:
        lo, hi = t.lo, t.hi  # internal form (cents for money)
        vals = [T.decode(t, v) for v in (lo + 1, lo + 2, (lo + hi) // 2, hi - 1, hi, lo) if lo <= v <= hi]
        return [v for v in dict.fromkeys(vals) if v != current]
    return []


def repairs(domain: Domain, task: Task, step: int) -> Iterator[dict]:
    """Initial databases, each one field away from the task's, in which the refused request at walk
    step `step` (1-based) succeeds after the same earlier calls."""
    plan = requests(task)
    name, arguments, refusal = plan[step - 1]
    tool = domain.tools[name]
    req = next(r for r in tool.requires if r.src == refusal.requirement)
    rt = Runtime(domain, copy_db(task.initial_db), task.certificate.actor)
    for n, a, _r in plan[:step - 1]:
        rt.call(n, a)
    try:
        env = rt.bind_arguments(tool, arguments)
        rt.eval_lets(tool, env)
    except ToolError:
        return
    for entity, rid, field in _fields_read(domain, tool, req, rt, env):
        if rid not in task.initial_db.get(entity, {}):
            continue  # made by the plan: not the world's to change
        for value in _candidates(domain, entity, field, task.initial_db[entity][rid][field]):
            db = copy_db(task.initial_db)
            db[entity][rid][field] = value
            probe = Runtime(domain, db, task.certificate.actor)
            if not all(probe.call(n, a).ok for n, a, _r in plan[:step - 1]):
                continue
            if probe.call(name, arguments).ok:
                yield db


def other_branch(domain: Domain, task: Task, step: Optional[int] = None) -> Optional[Task]:
    """The task's instruction in a world where its conditional request at walk `step` (1-based; the
    first conditional by default) succeeds: gold = the requests up to and including it. None when
    no one-field repair of the refused rule lets it through."""
    walk = task.certificate.walk
    conds = walk.conditionals()
    if not conds:
        return None
    step = step if step is not None else conds[0] + 1
    for db in repairs(domain, task, step):
        plan = requests(task)[:step]
        rt = Runtime(domain, copy_db(db), task.certificate.actor)
        outs = [rt.call(n, a) for n, a, _r in plan]
        if not all(o.ok for o in outs):
            continue
        steps = [s.model_copy() for s in walk.steps[:step]]
        steps[-1] = steps[-1].model_copy(update={"refuse": None, "conditional": False})
        bw = Walk(steps=steps, objects=walk.objects, given=walk.given, links=walk.links, actor=walk.actor)
        answers = [Answer(step=a.step, question=a.question, value=str(outs[a.step - 1].answer), accept=a.accept)
                   for a in task.expected.answers if a.step < step and walk.steps[a.step - 1].ask]
        expected = Expected(final_state_hash=db_hash(rt.db), changes=record_changes(domain, db, rt.db), answers=answers,
                            refusals=[r for r in task.expected.refusals if r.step < step])
        cert = task.certificate.model_copy(update={
            "walk": bw,
            "selections": [p for p in task.certificate.selections if p.step <= step],
            "distractors": [d for d in task.certificate.distractors if d.step <= step]})
        gold = [GoldCall(name=n, arguments=a) for i, (n, a, r) in enumerate(plan, 1) if r is None or i == step]
        return task.model_copy(update={
            "id": f"{task.id}-first", "initial_db": db, "gold_actions": gold, "expected": expected,
            "certificate": cert,
            "difficulty": task.difficulty.model_copy(update={"length": len(gold), "goals": len(bw.goal_steps(domain))}),
        })
    return None
