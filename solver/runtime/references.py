"""Descriptions of records, resolved in plain Python over a database.

What a description means is defined once in spec/meaning.py; this module evaluates those
trees with the runtime's evaluator - for the generator's ambiguity checks, `verify`, and the
baseline agents. The described record is the single best one that fits.
"""

from __future__ import annotations

import functools
from typing import Any, Optional

from ..spec import types as T
from ..spec.meaning import ACTOR, TARGET, Description, describe, stated_name
from ..spec.model import Domain, Reference
from .execute import Evaluator, Ref


def path_str(path: list[str]) -> str:
    return ".".join(path)


def path_value(ev: Evaluator, ref: Ref, path: list[str]) -> Any:
    v: Any = ref
    for step in path:
        v = ev.field(v, step)
    return v


def to_json(domain: Domain, entity: str, path: list[str], value: Any) -> Any:
    if isinstance(value, Ref):
        return value.id
    if value is None:
        return None  # past an empty link
    return T.encode(domain.path_type(entity, path), value)


def stated_values(domain: Domain, reference: Reference, db: dict, target_id: str) -> dict[str, Any]:
    """The field values a user states to describe `target_id` (JSON form, keyed by path)."""
    ev = Evaluator(domain, db)
    target = Ref(reference.entity, target_id)
    return {path_str(p): to_json(domain, reference.entity, p, path_value(ev, target, p)) for p in reference.filter}


def bindings(domain: Domain, d: Description, rid: str, stated: dict[str, Any], actor_id: str) -> dict[str, Any]:
    """The names of a description bound for the runtime: the candidate, the user, and what the
    user states (decoded from its JSON form)."""
    env = _stated_env(domain, d, stated, actor_id)
    env[d.record] = Ref(d.ref.entity, rid)
    return env


def _stated_env(domain: Domain, d: Description, stated: dict[str, Any], actor_id: str) -> dict[str, Any]:
    env: dict[str, Any] = {ACTOR: Ref(domain.actor, actor_id)}
    for i, part in enumerate(d.filters):
        t = domain.path_type(d.ref.entity, list(part.path))
        raw = stated[part.name]
        env[stated_name(i)] = None if raw is None else Ref(t.entity, raw) if t.kind == "ref" else T.decode(t, raw)
    return env


def _fits(ev: Evaluator, d: Description, env: dict[str, Any], rid: str, skip: set[str]) -> bool:
    env[d.record] = Ref(d.ref.entity, rid)
    return all(ev.eval(part.node, env) for part in d.parts if part.name not in skip)


def satisfies(domain: Domain, reference: Reference, db: dict, rid: str, stated: dict[str, Any],
              actor_id: str, skip: Optional[set[str]] = None) -> bool:
    """Does record `rid` fit the description (ignoring the rank)? `skip` leaves parts out
    (path strings, 'where', 'scope') - that is how a careless reader resolves it."""
    d = describe(domain, reference)
    return _fits(Evaluator(domain, db), d, _stated_env(domain, d, stated, actor_id), rid, skip or set())


def _before(ev: Evaluator, d: Description, a: str, b: str) -> bool:
    """Record `a` ranks strictly before record `b` (the description's rank tree)."""
    return bool(ev.eval(d.rank, {TARGET: Ref(d.ref.entity, a), d.record: Ref(d.ref.entity, b)}))


def _best_first(ev: Evaluator, d: Description, ids: list[str]) -> list[str]:
    """`ids` (in id order) sorted best first by the rank; ties keep id order."""
    def order(a: str, b: str) -> int:
        return -1 if _before(ev, d, a, b) else (1 if _before(ev, d, b, a) else 0)
    return sorted(ids, key=functools.cmp_to_key(order))


def candidates(domain: Domain, reference: Reference, db: dict, stated: dict[str, Any], actor_id: str,
               skip: Optional[set[str]] = None) -> list[str]:
    """Ids of records fitting the description, best first (then by id)."""
    d = describe(domain, reference)
    ev, env = Evaluator(domain, db), _stated_env(domain, d, stated, actor_id)
    ids = [rid for rid in sorted(db.get(reference.entity, {})) if _fits(ev, d, env, rid, skip or set())]
    if d.rank is not None and "rank" not in (skip or set()):
        ids = _best_first(ev, d, ids)
    return ids


def resolve(domain: Domain, reference: Reference, db: dict, stated: dict[str, Any], actor_id: str) -> Optional[str]:
    """The one record the description picks out, or None when none or several tie for it."""
    ids = candidates(domain, reference, db, stated, actor_id)
    if not ids:
        return None
    d = describe(domain, reference)
    if d.rank is None:
        return ids[0] if len(ids) == 1 else None
    if len(ids) > 1 and not _before(Evaluator(domain, db), d, ids[0], ids[1]):
        return None
    return ids[0]


def rivals(domain: Domain, reference: Reference, db: dict, target_id: str, stated: dict[str, Any],
           actor_id: str) -> list[str]:
    """Records other than the target that fit the description at least as well as the target."""
    ids = [rid for rid in candidates(domain, reference, db, stated, actor_id) if rid != target_id]
    d = describe(domain, reference)
    if d.rank is None:
        return ids
    ev = Evaluator(domain, db)
    return [rid for rid in ids if not _before(ev, d, target_id, rid)]


def careless_fit(domain: Domain, reference: Reference, db: dict, rid: str, stated: dict[str, Any],
                 actor_id: str) -> bool:
    """Does the record fit the description as a careless reader takes it: rank and fixed
    condition ignored, and at most one stated value allowed to differ?"""
    if rid not in db.get(reference.entity, {}):
        return False
    base = {"rank", "where"}
    if satisfies(domain, reference, db, rid, stated, actor_id, skip=base):
        return True
    return any(satisfies(domain, reference, db, rid, stated, actor_id, skip=base | {path_str(p)})
               for p in reference.filter)
