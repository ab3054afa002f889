"""The concrete database around a solved walk: ids (a listed near miss sorts before its target),
generated text (emails), and background records that obey the spec's invariants."""

from __future__ import annotations

import contextlib
import random
from typing import Any, Optional

import z3

from ..plan.walk import Walk
from ..runtime.execute import Evaluator, Ref, format_field, listed_ids, make_id
from ..errors import ToolError
from ..spec import grammar as E
from ..spec import types as T
from ..spec.history import history
from ..spec.model import Domain
from .constraints import Plan
from .scenario import DistractorRecord, SynthOptions


def assign_ids(domain: Domain, walk: Walk, plan: Plan, model, entity_of: dict[str, str],
                rng: random.Random) -> dict[str, str]:
    """Random ids, except that a listed near miss gets an id that sorts before its target's:
    listings come in id order, so the record a careless reader takes first is the wrong one."""
    ids: dict[str, str] = {}
    taken: dict[str, set[str]] = {e: set() for e in domain.entities}

    def fresh(ent_name: str, below: Optional[str] = None) -> str:
        ent = domain.entities[ent_name]
        best = None
        for _ in range(200):
            new_id = make_id(ent, rng)
            if new_id in taken[ent_name]:
                continue
            if below is None or new_id < below:
                best = new_id
                break
        if best is None:  # no room below: any free id (the record says it is not listed first)
            while True:
                best = make_id(ent, rng)
                if best not in taken[ent_name]:
                    break
        taken[ent_name].add(best)
        return best

    targets = {p.target for p in plan.distractors if p.selection}
    for oname in walk.initial_objects():
        ent = walk.objects[oname]
        if oname in targets:
            # leave room below the target for its near misses
            cands = sorted({make_id(domain.entities[ent], rng) for _ in range(4)} - taken[ent])
            ids[oname] = cands[-1]
            taken[ent].add(cands[-1])
        else:
            ids[oname] = fresh(ent)
    for p in plan.distractors:
        shown = p.selection and (p.visible is True or (
            p.visible is not None and p.visible is not False
            and z3.is_true(model.eval(p.visible, model_completion=True))))
        for o in p.objects:
            below = ids[p.target] if (o == p.name and shown) else None
            ids[o] = fresh(entity_of[o], below)
    for o in entity_of:  # witnesses and anything else without an id yet
        if o not in ids:
            ids[o] = fresh(entity_of[o])
    return ids


def distractor_records(domain: Domain, walk: Walk, plan: Plan, ids: dict[str, str], outputs: list) -> list:
    out = []
    for p in plan.distractors:
        listed = listed_ids(outputs[p.step]) if p.selection else []
        rid, tid = ids[p.name], ids[p.target]
        visible = rid in listed
        before = visible and tid in listed and listed.index(rid) < listed.index(tid)
        out.append(DistractorRecord(
            id=rid, entity=p.entity, kind=p.kind, reference=p.reference, step=p.step + 1, target=tid,
            breaks=p.breaks, visible=visible, before_target=before,
            linked=[ids[o] for o in p.objects[1:]],
        ))
    return out


def fill_generated(domain: Domain, db: dict, objects: list[str], entity_of: dict[str, str],
                    ids: dict[str, str], state: dict, model) -> dict[int, str]:
    """Render generated strings (emails) from the record's other fields; equal symbols share text.
    Returns symbol code -> text."""
    by_symbol: dict[int, str] = {}
    for oname in objects:
        ent = domain.entities[entity_of[oname]]
        for f in ent.fields.values():
            if f.type.kind != "str" or f.type.values:
                continue
            rec = db[ent.name][ids[oname]]
            term = state.get((oname, f.name))  # None: a free field (read by no constraint), text of its own
            code = model.eval(term, model_completion=True).as_long() if term is not None else None
            if code in by_symbol:
                rec[f.name] = by_symbol[code]
                continue
            used = {r.get(f.name) for r in db[ent.name].values()}
            n = 1
            while True:
                text = format_field(f.format or "{n}", rec, n)
                if text not in used:
                    break
                n += 1
            rec[f.name] = text
            if code is not None:
                by_symbol[code] = text
    return by_symbol


def add_background(domain: Domain, db: dict, ids: dict[str, str], walk: Walk, rng: random.Random,
                    options: SynthOptions) -> int:
    """Fill each entity up to its `count` with records that obey the spec's invariants."""
    order = _entity_order(domain)
    protected = set(ids.values())  # walk records and near misses: background never links to them
    actor_id = ids[walk.actor]  # ... except the user's own record: other records of theirs are realistic
    pools: dict[str, tuple[int, list[str]]] = {}  # entity -> (its size then, the ids a link may take, sorted)

    def linkable(entity: str) -> list[str]:
        """The records a background link to `entity` may take (tables only grow here, so a pool
        is good while its table's size is unchanged)."""
        size = len(db[entity])
        if entity not in pools or pools[entity][0] != size:
            pools[entity] = (size, sorted(i for i in db[entity] if i not in protected or i == actor_id))
        return pools[entity][1]

    added = 0
    for ename in order:
        ent = domain.entities[ename]
        want = int(round(ent.count * options.background))
        for _ in range(want):
            for _try in range(20):
                rid = make_id(ent, rng)
                if rid in db[ename]:
                    continue
                rec: dict[str, Any] = {"id": rid}
                ok = True
                flips: dict[str, Any] = {}  # nullable links: the other choice, tried if this one breaks a rule
                for f in ent.fields.values():
                    if f.type.kind == "ref":
                        pool = linkable(f.type.entity)
                        if not pool and not f.nullable:
                            ok = False
                            break
                        linked = rng.choice(pool) if pool else None
                        if f.nullable:
                            # empty about one time in `count` (the head of the company has no
                            # manager); the invariants decide where they tie it to a state (a new
                            # incident has no assignee), through the flip below
                            empty = linked is None or rng.random() < 1 / max(ent.count, 2)
                            rec[f.name], flips[f.name] = (None, linked) if empty else (linked, None)
                        else:
                            rec[f.name] = linked
                    elif f.type.kind == "str" and not f.type.values:
                        rec[f.name] = None
                    else:
                        rec[f.name] = T.encode(f.type, T.sample(f.type, rng, f.typical))
                if not ok:
                    break
                for f in ent.fields.values():
                    if f.type.kind == "str" and not f.type.values:
                        used = {r.get(f.name) for r in db[ename].values()}
                        n = 1
                        while format_field(f.format or "{n}", rec, n) in used:
                            n += 1
                        rec[f.name] = format_field(f.format or "{n}", rec, n)
                _apply_definitions(domain, db, ename, rec)
                if not _record_ok(domain, db, ename, rec):
                    flipped = {**rec, **flips}
                    if not flips or not _record_ok(domain, db, ename, flipped):
                        continue
                    rec = flipped
                db[ename][rid] = rec
                added += 1
                break
    return added


def _definitions(domain: Domain, ename: str) -> list[tuple[str, E.Node]]:
    """Invariants that define a field of the record (`paid == <fare>`, `price == variant.price`):
    (field, expression). A sampled value would almost never meet them; computing it always does.
    (Read once per entity and kept on the domain: the fill asks for every record it tries.)"""
    cache = domain.__dict__.setdefault("_definitions", {})
    if ename not in cache:
        cache[ename] = _find_definitions(domain, ename)
    return cache[ename]


def _find_definitions(domain: Domain, ename: str) -> list[tuple[str, E.Node]]:
    out = []
    for node, _src in domain.entities[ename].invariants:
        if not (isinstance(node, E.Compare) and node.op == "=="):
            continue
        for side, other in ((node.left, node.right), (node.right, node.left)):
            if isinstance(side, E.Attr) and isinstance(side.obj, E.Name) and side.obj.id == ename \
                    and side.name in domain.entities[ename].fields \
                    and not any(isinstance(n, E.Attr) and isinstance(n.obj, E.Name) and n.obj.id == ename
                                and n.name == side.name for n in E.walk(other)):
                out.append((side.name, other))
                break
    return out


def _apply_definitions(domain: Domain, db: dict, ename: str, rec: dict) -> None:
    with _tried(db, ename, rec):
        for fname, expr in _definitions(domain, ename):
            try:
                value = Evaluator(domain, db).eval(expr, {ename: Ref(ename, rec["id"])})
            except ToolError:  # a record it reads is missing: leave the sampled value (the check refuses it)
                continue
            rec[fname] = T.encode(domain.entities[ename].fields[fname].type, value)


def _record_ok(domain: Domain, db: dict, ename: str, rec: dict) -> bool:
    ent = domain.entities[ename]
    for f in ent.fields.values():
        if f.unique and not (f.type.kind == "str" and not f.type.values):
            if any(r.get(f.name) == rec[f.name] for r in db[ename].values()):
                return False
    with _tried(db, ename, rec):
        ev = Evaluator(domain, db)
        me = {ename: Ref(ename, rec["id"])}
        return all(ev.eval(node, me) for node, _src in ent.invariants) and \
            all(ev.eval(r.node, me) for r in history(domain).for_entity(ename))


@contextlib.contextmanager
def _tried(db: dict, ename: str, rec: dict):
    """`rec` in its table while the rules are evaluated on it, and out again after (in place of
    a copy of the table per try: the table's order is the same, the new record last)."""
    table = db[ename]
    assert rec["id"] not in table
    table[rec["id"]] = rec
    try:
        yield
    finally:
        del table[rec["id"]]


def _entity_order(domain: Domain) -> list[str]:
    """Entities so that referenced ones come first."""
    done: list[str] = []

    def visit(name: str, stack: tuple = ()) -> None:
        if name in done or name in stack:
            return
        for f in domain.entities[name].ref_fields():
            visit(f.type.entity, stack + (name,))
        done.append(name)

    for name in domain.entities:
        visit(name)
    return done


def remove_background(domain: Domain, db: dict, entity: str, rid: str) -> None:
    db[entity].pop(rid, None)
    for ename, ent in domain.entities.items():
        for f in ent.ref_fields():
            if f.type.entity == entity:
                for oid in [i for i, r in db[ename].items() if r.get(f.name) == rid]:
                    remove_background(domain, db, ename, oid)
