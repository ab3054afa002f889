"""Canonical form of a walk: one key for walks equal up to renaming objects and reordering
independent steps.

Two steps depend on each other when one reads what the other writes, or when one reveals a
record the other acts on (knowledge flow). Steps that do neither can be swapped without changing
what the walk does. The canonical key is the smallest serialization over every order consistent
with those dependencies, with objects renamed by order of first appearance - so two walks get
the same key exactly when they are the same plan.
"""

from __future__ import annotations

import hashlib
import json

from ..spec.model import Domain
from .walk import Walk, WalkStep


def linked_closure(walk: Walk, objs: set[str]) -> set[str]:
    """Objects reachable from `objs` through the walk's links (a reservation's user and flight)."""
    out = set(objs)
    changed = True
    while changed:
        changed = False
        for key, other in walk.links.items():
            if key.split(".", 1)[0] in out and other is not None and other not in out:
                out.add(other)
                changed = True
    return out


def step_footprint(domain: Domain, walk: Walk, step: WalkStep) -> tuple[set[str], set[str], set[str]]:
    """(reads, writes, reveals): objects a step reads, may change, and makes known."""
    tool = domain.tools[step.tool]
    bound = set(step.binds.values())
    reads = linked_closure(walk, bound) | ({walk.actor} if tool.actor_access else set())
    writes = linked_closure(walk, bound) | set(step.creates.values()) if tool.is_write else set()
    if tool.actor_access == "write":
        writes.add(walk.actor)
    reveals = set(step.creates.values())
    if step.select:
        reveals |= linked_closure(walk, {step.select.object})
    if tool.returns.kind == "record" and tool.returns.var in step.binds:
        reveals |= linked_closure(walk, {step.binds[tool.returns.var]})
    return reads, writes, reveals


def dependencies(domain: Domain, walk: Walk) -> set[tuple[int, int]]:
    """Pairs (i, j), i < j, that must keep their order."""
    fp = [step_footprint(domain, walk, s) for s in walk.steps]
    deps = set()
    for j in range(len(walk.steps)):
        rj, wj, _ = fp[j]
        for i in range(j):
            ri, wi, vi = fp[i]
            if (wi & rj) or (ri & wj) or (wi & wj) or (vi & rj):
                deps.add((i, j))
    return deps


def serialize(walk: Walk, order: list[int]) -> str:
    return _serialize(walk, order)[0]


def _namer(walk: Walk, names: dict[str, str], counters: dict[str, int]):
    """Names objects by order of first appearance (`account#2`), into `names`."""
    def name(obj: str) -> str:
        if obj not in names:
            ent = walk.objects[obj]
            counters[ent] = counters.get(ent, 0) + 1
            names[obj] = f"{ent}#{counters[ent]}"
        return names[obj]
    return name


def _step_entry(walk: Walk, i: int, name) -> list:
    """What a step contributes to the serialization, its objects named by `name`."""
    s = walk.steps[i]
    binds = sorted((v, name(o)) for v, o in sorted(s.binds.items()))
    return [s.tool, binds, sorted(s.args.items()),
            [s.select.reference, name(s.select.object)] if s.select else None, s.ask, s.refuse]


def _serialize(walk: Walk, order: list[int]) -> tuple[str, dict[str, str]]:
    names: dict[str, str] = {walk.actor: "A"}
    name = _namer(walk, names, {})
    steps = [_step_entry(walk, i, name) for i in order]
    for o in sorted(walk.given):
        name(o)
    # records only reached through links get names by following links from named ones
    pending = True
    while pending:
        pending = False
        for key, v in sorted(walk.links.items(), key=lambda kv: (names.get(kv[0].split(".", 1)[0], "~"), kv[0])):
            src = key.split(".", 1)[0]
            if src in names and v is not None and v not in names:
                name(v)
                pending = True
                break
    given = sorted(name(o) for o in walk.given)
    links = sorted((names[k.split(".", 1)[0]] + "." + k.split(".", 1)[1], "null" if v is None else names[v])
                   for k, v in walk.links.items() if k.split(".", 1)[0] in names and (v is None or v in names))
    return json.dumps([steps, given, links], separators=(",", ":")), names


def _least_orders(walk: Walk, deps: set[tuple[int, int]], most: int) -> list[list[int]]:
    """The orders whose serialization can be the smallest, without trying every order.

    A serialization compares step by step (each step's JSON is a whole array, never a prefix of
    another's), and a step's JSON depends only on the steps before it, so the smallest starts with
    the smallest step that may come first; only steps that tie there (same JSON under the names so
    far, e.g. two lookups of like records) need both tried. Independent intents of a long walk
    have thousands of orders but few ties."""
    n = len(walk.steps)
    preds = [frozenset(i for i, j in deps if j == k) for k in range(n)]
    out: list[list[int]] = []

    def step_json(i: int, names: dict, counters: dict) -> str:
        return json.dumps(_step_entry(walk, i, _namer(walk, names, counters)), separators=(",", ":"))

    def rec(order: list[int], names: dict, counters: dict) -> None:
        if len(out) >= most:
            return
        if len(order) == n:
            out.append(list(order))
            return
        done = set(order)
        best, ties = None, []
        for j in range(n):
            if j in done or not preds[j] <= done:
                continue
            nm, ct = dict(names), dict(counters)
            text = step_json(j, nm, ct)
            if best is None or text < best:
                best, ties = text, [(j, nm, ct)]
            elif text == best:
                ties.append((j, nm, ct))
        for j, nm, ct in ties:
            order.append(j)
            rec(order, nm, ct)
            order.pop()

    rec([], {walk.actor: "A"}, {})
    return out


def canonical_form(domain: Domain, walk: Walk, max_orders: int = 5040) -> tuple[str, dict[str, str]]:
    """The walk's key and each object's canonical name (`account#2`): the name says which role an
    object plays in the plan, whatever the walk called it."""
    deps = dependencies(domain, walk)
    best = min((_serialize(walk, order) for order in _least_orders(walk, deps, max_orders)),
               key=lambda s: s[0])
    return hashlib.sha256(best[0].encode()).hexdigest()[:16], best[1]


def canonical_key(domain: Domain, walk: Walk, max_orders: int = 5040) -> str:
    """Key equal for walks that are the same plan up to renaming and independent reordering."""
    return canonical_form(domain, walk, max_orders)[0]
