"""Play a task's plan in an environment: the walk its certificate holds, with each record
resolved from what the agent has seen.

Shared by the baseline agents (`distractor-blind` resolves descriptions carelessly) and by
`verify`, which plays each near miss in its target's place and requires the task to fail.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable, Optional

from ..runtime import references as R
from ..runtime.execute import listed_ids
from ..spec.model import Domain
from ..tasks.model import Task, requests
from .environment import Environment

Chooser = Callable[[int, list[str], Any], Optional[str]]
UNKNOWN = "<unknown>"  # an id the agent could not resolve: any call using it fails


def play_walk(domain: Domain, task: Task, env: Environment, choose: Optional[Chooser] = None,
              override: Optional[dict[str, str]] = None, picks: Optional[dict[int, str]] = None) -> list[str]:
    """Follow the task's plan (its certificate walk) in `env`, resolving each record from what
    the agent has seen: ids the user states (`override` replaces some), records picked from
    lists by `choose(step, listed ids, proof)` - by default the records that fit the user's
    description exactly; `picks` forces the pick at given steps - records linked from those,
    and records created on the way. Returns
    the answers obtained at the steps the user asked about (and says them)."""
    walk = task.certificate.walk
    ids: dict[str, str] = dict(override or {})
    for obj in walk.given:
        ids.setdefault(obj, task.certificate.objects[obj])
    ids.setdefault(walk.actor, task.certificate.actor)
    links: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for k, v in walk.links.items():
        obj, f = k.split(".", 1)
        if v is not None:
            links[obj].append((f, v))

    def derive(obj: str) -> None:
        rec = env.runtime.db.get(walk.objects[obj], {}).get(ids[obj])
        if rec is None:
            return
        for f, other in links.get(obj, []):
            if other not in ids and isinstance(rec.get(f), str):
                ids[other] = rec[f]
                derive(other)

    def careful(step: int, shown: list[str], proof) -> Optional[str]:
        if proof is None:
            return None
        ref = domain.entities[proof.entity].refs[proof.reference]
        db = env.runtime.db
        visible = {e: ({i: r for i, r in t.items() if i in shown} if e == proof.entity else t) for e, t in db.items()}
        return R.resolve(domain, ref, visible, proof.stated, ids.get(walk.actor, UNKNOWN))

    choose = choose or careful
    for obj in list(ids):
        if obj in walk.objects:
            derive(obj)
    proofs = {p.step: p for p in task.certificate.selections}
    answers = []
    refusals = {r.step: r for r in task.expected.refusals}
    planned = requests(task)  # walk order, refused requests in their place (a conditional's comes mid-walk)
    for i, step in enumerate(walk.steps):
        tool = domain.tools[step.tool]
        gold_args = planned[i][1]
        args = {}
        for a in tool.args.values():
            if a.is_ref:
                args[a.name] = ids.get(step.binds[a.var], UNKNOWN)
            else:
                args[a.name] = gold_args[a.name]
        env.call(step.tool, args)
        rec = env.runtime.log[-1]
        if not rec.ok:
            if (i + 1) in refusals:  # the request is refused: tell the user why
                env.say(rec.output.removeprefix("Error: "))
            continue
        if step.select is not None:
            shown = listed_ids(rec.output) or ([rec.output.get("id")] if isinstance(rec.output, dict) else [])
            pick = (picks or {}).get(i + 1) or choose(i + 1, shown, proofs.get(i + 1))
            if pick is not None:
                ids[step.select.object] = pick
                derive(step.select.object)
        for var, new_id in (rec.created or {}).items():
            if var in step.creates:  # (a refused request creates nothing in the plan)
                ids[step.creates[var]] = new_id
        if tool.returns.kind == "record":
            obj = step.binds.get(tool.returns.var)
            if obj is not None and obj in ids:
                derive(obj)
        if step.ask and rec.answer is not None:
            answers.append(rec.answer)
            env.say(f"The answer is {rec.answer}.")
    return answers
