"""Witness records: the records a quantifier needs to exist for a walk to be buildable.

`any(m in meeting where ...)` holds only if such a meeting exists, a refused `none(...)` fails
only if one does, and a refused `count(i in incident where i.assignee == actor and i.status ==
"in_progress") < 5` fails only with five such incidents. The walk's own records rarely suffice,
so the solver is given optional records (one presence literal each, left to Z3): one per
`any`/`none`, and per `count` as many as its bound asks - up to CAP, past which `check` says the
spec needs more than the solver builds. Witnesses of one quantifier are interchangeable, so they
are present in order (the i+1-th only with the i-th): Z3 never tries the same set of records
in another order. A present witness becomes a record of the initial database (synth.py); the
background fill never undoes what it decides, because background records that make a step
fail are removed on replay (replay.quantifier_blockers).
"""

from __future__ import annotations

from typing import Optional

import z3

from ..plan.walk import Walk
from ..spec import grammar as E
from ..spec.model import Domain, Tool
from .world import Unsupported, World

CAP = 10  # most witness records one count quantifier gets

_FLIP = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "==": "==", "!=": "!="}


def _bound(n: E.Node) -> Optional[int]:
    """The largest value a count is compared with: a constant, or the top of a field's range."""
    while isinstance(n, E.Scale):
        n = n.operand
    if isinstance(n, E.Lit) and n.kind == "int":
        return int(n.value)
    t = n.type
    return int(t.hi) if t is not None and t.kind == "int" and t.hi is not None else None


def _count_demand(op: str, k: Optional[int], want: bool) -> Optional[int]:
    """How many matching records `count op k` needs to come out `want` (None: unbounded)."""
    if not want:
        op = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}[op]
    if op in ("<", "<="):
        return 0
    if op == "!=":
        return 1
    if k is None:
        return None
    return k + 1 if op == ">" else max(k, 0)


def demands(root: E.Node, want: bool) -> list[tuple[E.Quant, Optional[int]]]:
    """Each quantifier of a condition that must come out `want`, with how many records matching
    it the solver should be able to add (None: more than any bound): one for an `any` a step
    needs and for any quantifier of a refused condition, and for a count compared with a bound,
    as many as reaching (or passing) the bound takes."""
    counted: dict[int, Optional[int]] = {}

    def visit(n: E.Node, want: bool) -> None:
        if isinstance(n, E.Not):
            visit(n.operand, not want)
        elif isinstance(n, E.BoolOp):
            for v in n.values:
                visit(v, want)
        elif isinstance(n, E.Compare):
            for q, other, op in ((n.left, n.right, n.op), (n.right, n.left, _FLIP[n.op])):
                if isinstance(q, E.Quant) and q.kind == "count":
                    counted[id(q)] = _count_demand(op, _bound(other), want)

    visit(root, want)
    refused = not want
    out: list[tuple[E.Quant, Optional[int]]] = []
    for q in E.walk(root):
        if not isinstance(q, E.Quant):
            continue
        k: Optional[int] = 1 if refused or q.kind == "any" else 0
        if id(q) in counted and (counted[id(q)] is None or counted[id(q)] > k):
            k = counted[id(q)]
        if k != 0:
            out.append((q, k))
    return out


def over_cap(domain: Domain) -> list[tuple[Tool, object, E.Quant, Optional[int], bool]]:
    """Requirements whose count needs more than CAP witnesses, to hold (False) or to be refused
    (True): (tool, requirement, quantifier, records needed or None if unbounded, refused)."""
    out = []
    for tool in domain.tools.values():
        for req in tool.requires:
            for want in (True, False):
                for q, k in demands(req.expr, want):
                    if q.kind == "count" and (k is None or k > CAP):
                        out.append((tool, req, q, k, not want))
    return out


def _resolve(walk: Walk, step, path: list[str]) -> Optional[str]:
    """The walk object a path from a tool's record variable denotes, if the walk fixes it."""
    if not path:
        return None
    obj = walk.actor if path[0] == "actor" else step.binds.get(path[0])
    for f in path[1:]:
        if obj is None:
            return None
        obj = walk.links.get(f"{obj}.{f}")
    return obj


def add_witnesses(w: World, domain: Domain, walk: Walk) -> list[str]:
    """The optional records of every quantifier the walk's steps need (module docstring), each
    linked to the records its condition names (`i.assignee == actor` links the witness's
    assignee to the walk's actor). Returns their names, in order."""
    out: list[str] = []
    for step in walk.steps:
        tool = domain.tools[step.tool]
        if step.refuse is not None:
            wanted = [(tool.requires[step.refuse - 1].expr, False)]
        else:
            wanted = [(r.expr, True) for r in tool.requires]
        for root, want in wanted:
            for q, k in demands(root, want):
                links: dict[str, str] = {}
                for c in E.conjuncts(q.cond):
                    if isinstance(c, E.Compare) and c.op == "==":
                        for a, b in ((c.left, c.right), (c.right, c.left)):
                            pa, pb = E.path_of(a), E.path_of(b)
                            if pa and len(pa) == 2 and pa[0] == q.var and pb and pb[0] != q.var:
                                target = _resolve(walk, step, pb)
                                if target is not None and a.type is not None and a.type.kind == "ref":
                                    links[pa[1]] = target
                group = []
                for _ in range(min(CAP if k is None else k, CAP)):
                    name = f"w{len(out) + 1}"
                    _witness(w, domain, q.entity, name, dict(links))
                    out.append(name)
                    group.append(name)
                for a, b in zip(group, group[1:]):  # symmetry: present in order
                    w.add(z3.Implies(w.presence(b), w.presence(a)))
    return out


def _witness(w: World, domain: Domain, entity: str, name: str, links: dict[str, str]) -> None:
    ent = domain.entities[entity]
    for f in ent.ref_fields():
        if f.name not in links:
            same = sorted(o for o, e in w.entity_of.items() if e == f.type.entity)
            if not same:
                raise Unsupported(f"no {f.type.entity} record for a witness {entity} to link to")
            links[f.name] = same[0]
    w.add_object(name, entity, links)
    w.object_group[name] = name  # optional: present only if the model says so
