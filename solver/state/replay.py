"""A solved walk replayed on the plain-Python runtime: the gold calls, the cross-check of every
field the solver predicted, background records that would make a description ambiguous or block
a step, and the uniqueness check of every description (every record checked)."""

from __future__ import annotations

from typing import Any, Optional

from ..errors import ToolError
from ..plan.walk import Walk
from ..runtime import references as R
from ..runtime.execute import Ref, Runtime, copy_db, listed_ids
from ..spec import grammar as E
from ..spec import types as T
from ..spec.model import Domain, Reference
from .scenario import GoldCall, ReplayMismatch, SelectionProof, StepFailed
from .solve import model_value
from .world import World


def replay_walk(domain: Domain, walk: Walk, db: dict, ids: dict[str, str], arg_values: list[dict]):
    """Run the walk's calls on the runtime; returns gold calls, outputs, answers, final db,
    the database before each step, and ids including created records."""
    rt = Runtime(domain, db, ids[walk.actor])
    all_ids = dict(ids)
    gold, outputs, answers, snapshots = [], [], [], []
    for k, step in enumerate(walk.steps):
        tool = domain.tools[step.tool]
        args: dict[str, Any] = {}
        for a in tool.args.values():
            if a.is_ref:
                args[a.name] = all_ids[step.binds[a.var]]
            else:
                args[a.name] = arg_values[k][a.name]
        snapshots.append(copy_db(rt.db))
        if step.refuse is not None:
            # the call the user asks for must fail with exactly the refused requirement's message
            probe = Runtime(domain, rt.db, ids[walk.actor])
            rec = probe.call(step.tool, args)
            expected = tool.requires[step.refuse - 1].error
            if rec.ok or rec.output != f"Error: {expected}":
                raise ReplayMismatch(f"step {k + 1}: the refused call gave {rec.output!r}, expected {expected!r}")
            gold.append(GoldCall(name=step.tool, arguments=args))
            outputs.append(rec.output)
            answers.append(expected)
            continue
        rec = rt.call(step.tool, args)
        if not rec.ok:
            raise StepFailed(k, args, snapshots[-1], rec.output)
        for var, new_id in (rec.created or {}).items():
            all_ids[step.creates[var]] = new_id
        gold.append(GoldCall(name=step.tool, arguments=args))
        outputs.append(rec.output)
        answers.append(rec.answer if step.ask else None)
    return gold, outputs, answers, rt.db, snapshots, all_ids


def quantifier_blockers(domain: Domain, walk: Walk, err: StepFailed, walk_ids: set, actor_id: str) -> list:
    """Background records a failing step's quantifiers range over and that decide them."""
    tool = domain.tools[walk.steps[err.step].tool]
    rt = Runtime(domain, err.db, actor_id)
    try:
        env = rt.bind_arguments(tool, err.arguments)
        rt.eval_lets(tool, env)
    except ToolError:  # the step could not even bind: not a quantifier problem
        return []
    out = []
    nodes = [r.expr for r in tool.requires] + [n for _l, n, _t in tool.lets]
    for root in nodes:
        for q in E.walk(root):
            if isinstance(q, E.Quant):
                for rid in sorted(err.db.get(q.entity, {})):
                    if rid in walk_ids:
                        continue
                    try:
                        if rt.ev.eval(q.cond, {**env, q.var: Ref(q.entity, rid)}):
                            out.append((q.entity, rid))
                    except ToolError:  # a record the condition reads is gone
                        continue
    return out


def first_ambiguity(domain: Domain, walk: Walk, replay, ids: dict[str, str]) -> Optional[tuple[str, str]]:
    """A background record that is a second answer to a description - or a careless fit listed
    before the target (the designed near misses are the traps; background should not be one by
    accident, e.g. an order that happens to have the same status as the one asked about)."""
    _gold, outs, _ans, _final, snapshots, all_ids = replay
    actor_id = all_ids[walk.actor]
    walk_ids = set(all_ids.values())  # walk records, near misses and records the walk creates
    for k, step in enumerate(walk.steps):
        if step.select is None:
            continue
        tool = domain.tools[step.tool]
        ent = tool.returns.lists().entity
        ref = domain.entities[ent].refs[step.select.reference]
        db = snapshots[k]
        target = all_ids[step.select.object]
        stated = R.stated_values(domain, ref, db, target)
        rivals = R.rivals(domain, ref, db, target, stated, actor_id)
        if rivals:
            return ent, rivals[0]
        listed = listed_ids(outs[k])
        for rid in listed[: listed.index(target)] if target in listed else []:
            if rid not in walk_ids and R.careless_fit(domain, ref, db, rid, stated, actor_id):
                return ent, rid
        if not R.satisfies(domain, ref, db, target, stated, actor_id):
            raise ReplayMismatch(f"step {k + 1}: the selected record does not fit its own description")
    return None


def cross_check(domain: Domain, walk: Walk, w: World, model, final_state: dict, final_db: dict,
                 all_ids: dict[str, str]) -> int:
    """Every field the solver predicts for the end of the walk equals what the runtime computed;
    returns how many were compared (free text the solver does not model is not)."""
    compared = 0
    for (oname, fname), term in final_state.items():
        if oname not in w.exists or oname not in all_ids:  # dropped near misses are not in the db
            continue
        ent = domain.entities[w.entity_of[oname]]
        f = ent.fields[fname]
        rid = all_ids[oname]
        actual = final_db[ent.name][rid][fname]
        if f.type.kind == "ref":
            predicted = None if term is None else all_ids.get(term.name)  # None: an empty link
            if predicted != actual:
                raise ReplayMismatch(f"{oname}.{fname}: solver {term.name if term else 'null'}, runtime {actual}")
            compared += 1
            continue
        if f.type.kind == "str" and not f.type.values:
            continue
        predicted = T.encode(f.type, model_value(w, model, term, f.type))
        if predicted != actual:
            raise ReplayMismatch(f"{oname}.{fname}: solver {predicted!r}, runtime {actual!r}")
        compared += 1
    return compared


def check_unique(domain: Domain, db: dict, ref: Reference, target_id: str, actor_id: str, step: int) -> SelectionProof:
    """Every record of the entity checked against the description: none other than the target
    fits it at least as well. The database is finite, so this scan is a complete argument; what
    it found is recorded (how many records, how many fit) for `verify`'s second engine to
    re-derive in SQL."""
    ent = ref.entity
    stated = R.stated_values(domain, ref, db, target_id)
    fits = R.candidates(domain, ref, db, stated, actor_id, skip={"rank"})
    rivals = R.rivals(domain, ref, db, target_id, stated, actor_id)
    if target_id not in fits or rivals:
        why = f"{rivals[0]} fits as well" if rivals else "the target does not fit"
        raise ReplayMismatch(f"uniqueness check failed for {ref.name} at step {step + 1}: {why}")
    rank = f"{'.'.join(ref.rank[0])} {ref.rank[1]}" if ref.rank else None
    wording = " and ".join(f"{k} = {v}" for k, v in stated.items())
    if ref.where_src:
        wording += f" and {ref.where_src}" if wording else ref.where_src
    if ref.scope:
        wording += f" and {'.'.join(ref.scope)} = the user"
    better = ""
    if ref.rank:
        better = f" with {'.'.join(ref.rank[0])} {'<=' if ref.rank[1] == 'asc' else '>='} the target's"
    return SelectionProof(
        step=step + 1,
        reference=ref.name,
        entity=ent,
        target=target_id,
        stated=stated,
        where=ref.where_src,
        scope=".".join(ref.scope) if ref.scope else None,
        rank=rank,
        candidates=len(db.get(ent, {})),
        fit_stated=len(R.candidates(domain, ref, db, stated, actor_id, skip={"where", "rank"})),
        fits=len(fits),
        rivals=len(rivals),
        query=f"{ent} r != {target_id}: {wording}{better}",
    )
