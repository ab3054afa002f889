"""What a user's description of a record means - defined once, read by every back-end.

A reference ("the cheapest flight from SFO to LAX on Dec 3 that is not cancelled") describes
one record of an entity: a candidate *fits* when it belongs to the asking user (scope), its
stated fields equal the values the user states (filter), and it satisfies the fixed condition
(where); of those that fit, the described one is the best by the rank. `describe(ref)` writes
each part as an expression tree over three kinds of names:

- the candidate record: the entity's own name (as in `where`, whose bare field names the
  builder qualified with it), e.g. `flight`;
- `ACTOR`: the user who is asking;
- one name per stated path (`stated_name(i)`): the value the user states for filter path i.

and the rank as `TARGET.<rank> < record.<rank>` (or `>` for a descending rank): the target
ranks strictly before the candidate. Each back-end binds the names its own way - the runtime to
records and decoded stated values, Z3 to objects and the target's terms, the planner to its
atoms - and evaluates the same trees with its walker, so the meaning cannot drift between them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from . import grammar as E
from . import types as T
from .model import Domain, Reference
from .types import VType

ACTOR = "__actor__"
TARGET = "__target__"


def stated_name(i: int) -> str:
    return f"__stated_{i}__"


@dataclass(frozen=True, eq=False)
class Part:
    """One condition of a description: `name` is 'scope', 'where', or the stated path ('flight.date')."""

    kind: str  # scope | filter | where
    name: str
    node: E.Node
    path: tuple = ()  # the filter's path, for a filter part


@dataclass(frozen=True, eq=False)
class Description:
    ref: Reference
    record: str  # the name standing for the candidate record
    parts: tuple[Part, ...]  # scope, then filters, then where - the order every back-end reads them in
    rank: Optional[E.Node]  # the target ranks strictly before the candidate (None: no rank)
    rank_path: tuple = ()

    @property
    def filters(self) -> tuple[Part, ...]:
        return tuple(p for p in self.parts if p.kind == "filter")

    def where_conjuncts(self) -> list[E.Node]:
        """The fixed condition split at its top-level 'and's (near misses break one at a time)."""
        return E.conjuncts(self.ref.where) if self.ref.where is not None else []


def path_node(domain: Domain, base: E.Node, entity: str, path: list[str]) -> E.Node:
    """`base.a.b` as a typed tree, from a record of `entity`."""
    node, ent = base, entity
    for step in path:
        t = VType("ref", entity=ent) if step == "id" else domain.entities[ent].fields[step].type
        node = E.Attr(node, step, type=t)
        if t.kind == "ref":
            ent = t.entity
    return node


def _describe(domain: Domain, ref: Reference) -> Description:
    record = ref.entity
    me = E.Name(record, type=VType("ref", entity=record))
    parts: list[Part] = []
    if ref.scope is not None:
        node = E.Compare("==", path_node(domain, me, record, ref.scope),
                         E.Name(ACTOR, type=VType("ref", entity=domain.actor)), type=T.BOOL)
        parts.append(Part("scope", "scope", node))
    for i, p in enumerate(ref.filter):
        t = domain.path_type(record, p)
        node = E.Compare("==", path_node(domain, me, record, p), E.Name(stated_name(i), type=t), type=T.BOOL)
        parts.append(Part("filter", ".".join(p), node, tuple(p)))
    if ref.where is not None:
        parts.append(Part("where", "where", ref.where))
    rank = None
    if ref.rank is not None:
        rp, order = ref.rank
        target = E.Name(TARGET, type=VType("ref", entity=record))
        rank = E.Compare("<" if order == "asc" else ">", path_node(domain, target, record, rp),
                         path_node(domain, me, record, rp), type=T.BOOL)
    return Description(ref, record, tuple(parts), rank, tuple(ref.rank[0]) if ref.rank else ())


def describe(domain: Domain, ref: Reference) -> Description:
    """The description a reference makes, as expression trees (built once per reference, and
    kept on it: a reference belongs to one domain)."""
    d = ref.__dict__.get("_description")
    if d is None:
        d = ref.__dict__["_description"] = _describe(domain, ref)
    return d
