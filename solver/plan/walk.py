"""A walk: a plan over abstract records - the skeleton a task is synthesized from.

A `Walk` is lifted: it says "search flights, select flight1 as the cheapest economy seat, book
it for user1", never which airport or price. The planner (plan/planner.py) finds walks; the
state stage (state/) solves each for a database that makes it executable.
"""

from __future__ import annotations

import hashlib
import json
from typing import Optional

from pydantic import BaseModel, Field, model_serializer

from ..spec.model import Domain


class Selection(BaseModel):
    object: str
    reference: str


class WalkStep(BaseModel):
    tool: str
    binds: dict[str, str] = Field(default_factory=dict, description="record variable -> object")
    args: dict[str, str] = Field(default_factory=dict, description="enum/bool arguments fixed by the plan")
    creates: dict[str, str] = Field(default_factory=dict, description="created record variable -> object")
    select: Optional[Selection] = None
    ask: bool = False
    refuse: Optional[int] = Field(None, description="the request must be refused: this requirement (1-based) fails")
    conditional: bool = Field(False, description="(a refused request) the user said what to do if it is refused: "
                                                 "the walk's next goal is that fallback")

    @model_serializer(mode="wrap")
    def _dump(self, handler):
        # written only when set: walks (and tasks, and their ids) without a conditional are unchanged
        out = handler(self)
        if not self.conditional:
            out.pop("conditional", None)
        return out


class Walk(BaseModel):
    """A plan over abstract objects: the skeleton a task is synthesized from."""

    steps: list[WalkStep]
    objects: dict[str, str] = Field(description="object -> entity (every record the walk touches)")
    given: list[str] = Field(default_factory=list, description="objects whose id the user states")
    links: dict[str, Optional[str]] = Field(
        default_factory=dict, description="'object.field' -> object, initially (None: an empty link)")
    actor: str

    def tool_sequence(self) -> tuple[str, ...]:
        return tuple(s.tool for s in self.steps)

    def key(self) -> str:
        """Identity of the walk (exact form); see `canonical` for the renaming-invariant key."""
        return hashlib.sha256(json.dumps(self.model_dump(), sort_keys=True).encode()).hexdigest()[:16]

    def conditionals(self) -> list[int]:
        """The refused requests the user gave a fallback for (step indices)."""
        return [i for i, s in enumerate(self.steps) if s.conditional]

    def goal_steps(self, domain: Domain) -> list[int]:
        return [i for i, s in enumerate(self.steps) if domain.tools[s.tool].is_write or s.ask]

    def initial_objects(self) -> list[str]:
        created = {o for s in self.steps for o in s.creates.values()}
        return [o for o in self.objects if o not in created]

    def null_links(self) -> list[str]:
        """The 'object.field' links that start out empty (a nullable ref holding null)."""
        return [k for k, v in self.links.items() if v is None]

    def describe(self) -> str:
        parts = []
        for s in self.steps:
            b = ", ".join(f"{k}={v}" for k, v in s.binds.items() if not (s.select and v == s.select.object))
            extra = f" -> {s.select.object} as {s.select.reference}" if s.select else ""
            a = ", ".join(f"{k}={v}" for k, v in s.args.items())
            inner = ", ".join(x for x in (b, a) if x)
            parts.append(f"{s.tool}({inner}){extra}{' [ask]' if s.ask else ''}")
        return " ; ".join(parts)


def slot_names(walk: Walk) -> dict[str, str]:
    """Each object's planner slot (`flight1`, `flight2`, ...) in order of first use, the order the
    planner's symmetry breaking expects; the actor is always slot 1 of its entity; records only
    reached through links come last."""
    order: dict[str, None] = {walk.actor: None}
    for s in walk.steps:
        for _v, o in sorted(s.binds.items()):
            order.setdefault(o, None)
        for o in s.creates.values():
            order.setdefault(o, None)
    for o in walk.given:
        order.setdefault(o, None)
    changed = True
    while changed:
        changed = False
        for k, v in sorted(walk.links.items()):
            if k.split(".", 1)[0] in order and v is not None and v not in order:
                order[v] = None
                changed = True
    counts: dict[str, int] = {}
    names = {}
    for o in order:
        ent = walk.objects[o]
        counts[ent] = counts.get(ent, 0) + 1
        names[o] = f"{ent}{counts[ent]}"
    return names


def renumber(walk: Walk) -> Walk:
    """The walk with its objects renamed to planner slots (`slot_names`)."""
    names = slot_names(walk)
    order = list(names)
    steps = []
    for s in walk.steps:
        steps.append(WalkStep(
            tool=s.tool,
            binds={v: names[o] for v, o in sorted(s.binds.items())},
            args=dict(s.args),
            creates={v: names[o] for v, o in s.creates.items()},
            select=Selection(object=names[s.select.object], reference=s.select.reference) if s.select else None,
            ask=s.ask,
            refuse=s.refuse,
            conditional=s.conditional,
        ))
    return Walk(
        steps=steps,
        objects={names[o]: walk.objects[o] for o in sorted(order, key=lambda x: names[x])},
        given=sorted(names[o] for o in walk.given),
        links=dict(sorted((f"{names[k.split('.', 1)[0]]}.{k.split('.', 1)[1]}", None if v is None else names[v])
                          for k, v in walk.links.items() if k.split(".", 1)[0] in names)),
        actor=names[walk.actor],
    )
