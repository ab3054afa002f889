"""The typed model of a domain: what every stage reads, never the raw spec.

`build.build_domain` makes a `Domain` from a shape-checked `Spec` (spec/shape.py): every
expression parsed once (spec/grammar.py) and typed (spec/typecheck.py), names, fields and
references resolved. Records, tools and references here are plain dataclasses; what a
reference *means* (which records fit a description) is defined once in spec/meaning.py.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Optional

from . import grammar as E
from .shape import Spec
from .types import VType


@dataclass
class FieldInfo:
    name: str
    type: VType
    unique: bool = False
    format: Optional[str] = None
    typical: Optional[tuple[int, int]] = None
    default: Any = None  # internal form
    vary: bool = True
    description: str = ""
    refer_through: bool = True  # ref: users may describe the linked record through this link

    @property
    def nullable(self) -> bool:
        """A ref field whose link may be empty (`null`)."""
        return self.type.nullable

    @property
    def symbolic(self) -> bool:
        """Fields the ASP planner reasons about (finite, small): enum, bool, ref."""
        return self.type.kind in ("enum", "bool", "ref")


@dataclass
class Reference:
    """A way to describe one record: by id, or by stated field values + fixed condition + rank."""

    name: str
    entity: str
    by_id: bool
    filter: list[list[str]]  # paths from the record, e.g. [["origin"], ["flight", "date"]]
    where: Optional[E.Node]
    where_src: Optional[str]
    scope: Optional[list[str]]  # path from the record to the actor, e.g. ["user"]
    rank: Optional[tuple[list[str], str]]  # (path, "asc"|"desc")
    description: str = ""
    line: int = 0  # where it is written (check's findings point there)

    @property
    def needs_selection(self) -> bool:
        return not self.by_id


@dataclass
class Entity:
    name: str
    fields: dict[str, FieldInfo]
    id_prefix: str
    id_length: int
    id_alphabet: str
    invariants: list[tuple[E.Node, str]]
    refs: dict[str, Reference]
    count: int
    description: str = ""
    label: list[str] = field(default_factory=list)  # what people call a record by (names)
    slots: Optional[int] = None  # planner slots (records of this entity one walk may involve)
    invariant_lines: list[int] = field(default_factory=list)  # where each invariant is written

    def ref_fields(self) -> list[FieldInfo]:
        return [f for f in self.fields.values() if f.type.kind == "ref"]


@dataclass
class Arg:
    name: str
    type: VType  # ref type for id arguments
    var: Optional[str]  # bound record variable (ref args)
    description: str = ""

    @property
    def is_ref(self) -> bool:
        return self.type.kind == "ref"


@dataclass
class Requirement:
    expr: E.Node
    src: str
    error: str
    line: int = 0  # where it is written (for unsat cores in the spec's own words)
    # a conditional workflow: when this rule refuses, the user's request may go on with a fallback
    # of one of these goal tools (`fallback: {when, then}`); `when` names the condition's phrasings
    fallback_when: Optional[str] = None
    fallback_then: tuple = ()


@dataclass
class SetEffect:
    target: list[str]  # path: [var, (ref...), field]
    op: str
    value: E.Node
    when: Optional[E.Node]
    src: str
    field_type: VType


@dataclass
class CreateEffect:
    entity: str
    var: str
    values: dict[str, E.Node]  # every field of the entity, defaults filled in
    src: str


@dataclass
class DeleteEffect:
    var: str
    src: str


@dataclass
class ListResult:
    entity: str
    where: Optional[E.Node]
    where_src: Optional[str]
    item: str  # variable naming the listed record inside `where`
    expand: list[list[str]]


@dataclass
class Returns:
    kind: str  # record | list | find | value | none
    var: Optional[str] = None  # record
    listing: Optional[ListResult] = None  # list/find
    value: Optional[E.Node] = None
    value_type: Optional[VType] = None
    expand: list[list[str]] = field(default_factory=list)
    include: dict[str, ListResult] = field(default_factory=dict)

    def lists(self) -> Optional[ListResult]:
        """The candidate list a step of this tool can select a record from, if any."""
        if self.kind in ("list", "find"):
            return self.listing
        if self.include:
            return next(iter(self.include.values()))
        return None


@dataclass
class Tool:
    name: str
    kind: str  # read | write
    description: str
    args: dict[str, Arg]
    lets: list[tuple[str, E.Node, VType]]
    requires: list[Requirement]
    effects: list  # SetEffect | CreateEffect | DeleteEffect
    returns: Returns
    answer: Optional[E.Node]
    answer_src: Optional[str]
    answer_type: Optional[VType]

    @property
    def is_write(self) -> bool:
        return self.kind == "write"

    @property
    def is_goal(self) -> bool:
        """A walk may end here: a state change, or an answer the user asked for."""
        return self.is_write or self.answer is not None

    def record_vars(self) -> dict[str, str]:
        """Bound record variables (ref args) -> entity."""
        return {a.var: a.type.entity for a in self.args.values() if a.is_ref}

    def created(self) -> list[CreateEffect]:
        return [e for e in self.effects if isinstance(e, CreateEffect)]

    @functools.cached_property
    def actor_access(self) -> str:
        """'write' if an effect changes a field of the person asking (`actor.balance -= x`),
        'read' if the tool reads one (`actor.role == "manager"`), else '': a step that reads or
        writes the actor's state depends on the steps that change it. Comparing a record with
        `actor` (who owns it) reads no state."""
        if any(isinstance(e, SetEffect) and e.target[0] == "actor" for e in self.effects):
            return "write"
        nodes = [r.expr for r in self.requires] + [n for _name, n, _t in self.lets]
        for r in (self.returns.listing, *self.returns.include.values()):
            if r is not None and r.where is not None:
                nodes.append(r.where)
        if self.answer is not None:
            nodes.append(self.answer)
        if self.returns.value is not None:
            nodes.append(self.returns.value)
        for eff in self.effects:
            if isinstance(eff, SetEffect):
                nodes += [eff.value] + ([eff.when] if eff.when is not None else [])
            elif isinstance(eff, CreateEffect):
                nodes += list(eff.values.values())
        reads = any(isinstance(n, E.Attr) and isinstance(n.obj, E.Name) and n.obj.id == "actor"
                    for root in nodes for n in E.walk(root))
        return "read" if reads else ""


@dataclass
class Domain:
    name: str
    title: str
    description: str
    version: int
    today: int
    actor: str
    policy: str
    pools: dict[str, list[str]]
    entities: dict[str, Entity]
    tools: dict[str, Tool]
    source: str  # file path
    spec_hash: str
    raw: Spec = field(repr=False, default=None)  # type: ignore[assignment]
    now: int = 0  # minutes; today at 00:00 unless the spec says

    def field(self, entity: str, name: str) -> FieldInfo:
        return self.entities[entity].fields[name]

    def path_type(self, entity: str, path: list[str]) -> VType:
        """Type of `record.path` for a record of `entity`."""
        return path_type(self.entities, entity, path)

    def symbols(self) -> list[str]:
        """Every enum value and pool value: the Z3 encoding numbers strings by this table."""
        seen: dict[str, None] = {}
        for pool in self.pools.values():
            for v in pool:
                seen.setdefault(v, None)
        for ent in self.entities.values():
            for f in ent.fields.values():
                for v in f.type.values:
                    seen.setdefault(v, None)
        for tool in self.tools.values():
            for a in tool.args.values():
                for v in a.type.values:
                    seen.setdefault(v, None)
        return list(seen)


def lit_value(n: E.Lit) -> Any:
    """Internal value of a typed literal."""
    t: VType = n.type
    if n.kind == "dec":
        return int(Decimal(str(n.value)) * t.scale)
    return n.value


def path_type(entities: dict[str, Entity], entity: str, path: list[str]) -> VType:
    """Type of `record.path` for a record of `entity` (`id` steps stay on the record)."""
    t = VType("ref", entity=entity)
    for step in path:
        if step == "id":
            continue
        t = entities[t.entity].fields[step].type
    return t
