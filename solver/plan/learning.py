"""Feasibility learning: an unsat core from Z3 becomes a constraint the planner keeps.

When Z3 proves a walk impossible (two bookings on a balance that cannot cover both), the core
says which steps clash. If the clash involves only preconditions, list conditions, changes and
invariants of the first m steps, then *every* walk that starts with those m steps, up to
renaming, is impossible too - later steps cannot change what the earlier ones needed. That
prefix becomes a nogood: matched in Python against walks from the enumerated pool, and added as
an ASP integrity constraint when clingo samples walks. Cores that involve descriptions or
uniqueness depend on records used later, so they teach only the exact walk.

Learning changes how much work is done, never which task an index produces: a learned nogood
only ever skips an attempt that would have failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .facts import S, arg_symbol
from .canonical import linked_closure, serialize
from .walk import Walk

PREFIX_KINDS = {"requires", "where", "change", "invariant", "range", "reference"}


@dataclass(frozen=True)
class Nogood:
    length: int  # leading steps the pattern covers (the whole walk when not generalizable)
    key: str
    reason: str
    asp: str = field(compare=False, default="")


def _prefix(walk: Walk, m: int) -> Walk:
    steps = walk.steps[:m]
    named = {walk.actor}
    for s in steps:
        named |= set(s.binds.values()) | set(s.creates.values())
    named = linked_closure(walk, named)
    return Walk(steps=steps, objects={o: e for o, e in walk.objects.items() if o in named},
                given=[o for o in walk.given if o in named],
                links={k: v for k, v in walk.links.items() if k.split(".", 1)[0] in named},
                actor=walk.actor)


def prefix_key(walk: Walk, m: int) -> str:
    return serialize(_prefix(walk, m), list(range(m)))


def first_use(walk: Walk, obj: str) -> int:
    if obj in walk.given or obj == walk.actor:
        return 0
    for i, s in enumerate(walk.steps):
        if obj in s.binds.values() or obj in s.creates.values():
            return i
    return len(walk.steps) - 1  # only reached through links: keep the whole walk


def learn(walk: Walk, core: list[str], steps: list[int], kinds: list[str],
          objects: Optional[list[tuple]] = None) -> Optional[Nogood]:
    """A nogood from an unsat core: the shortest prefix holding every clashing condition and
    every record those conditions compare (a description's rivals exist from the start, so the
    prefix must reach the step where each is first used)."""
    if not core:
        return None
    reason = "; ".join(core[:4])
    objects = objects or [()] * len(core)
    if set(kinds) <= PREFIX_KINDS and steps and max(steps) >= 0:
        m = 0
        for st, objs in zip(steps, objects):
            m = max(m, st + 1, *[first_use(walk, o) + 1 for o in objs if o in walk.objects])
    else:
        m = len(walk.steps)
    return Nogood(m, prefix_key(walk, m), reason, to_asp(_prefix(walk, m), whole=(m == len(walk.steps))))


def to_asp(prefix: Walk, whole: bool) -> str:
    """The nogood as one ASP integrity constraint over the planner's atoms."""
    var: dict[str, str] = {}

    def v(o: str) -> str:
        if o not in var:
            var[o] = f"O{len(var)}"
        return var[o]

    body = []
    for i, s in enumerate(prefix.steps, 1):
        body.append(f"call({i},{S(s.tool)})")
        for name, o in sorted(s.binds.items()):
            body.append(f"bind({i},{S(name)},{v(o)})")
        for a, x in sorted(s.args.items()):
            body.append(f"argval({i},{S(a)},{arg_symbol(x)})")
        if s.select:
            body.append(f"select({i},{v(s.select.object)},{S(s.select.reference)})")
        body.append(f"ask({i})" if s.ask else f"not ask({i})")
    for o in prefix.given:
        body.append(f"given({v(o)})")
    for k, o2 in sorted(prefix.links.items(), key=lambda kv: kv[0]):
        o, f = k.split(".", 1)
        if o not in var:
            continue
        if o2 is None:
            body.append(f"nolink({v(o)},{S(f)})")  # learned with the link empty: only then
        elif o2 in var:
            body.append(f"link({v(o)},{S(f)},{v(o2)})")
        else:
            body.append(f"not nolink({v(o)},{S(f)})")  # learned with some record there, never with none
    by_entity: dict[str, list[str]] = {}
    for o in var:
        by_entity.setdefault(prefix.objects[o], []).append(var[o])
    for ent, vs in sorted(by_entity.items()):
        for x in vs:
            body.append(f"slot({S(ent)},{x},_)")
        for a in range(len(vs)):
            for b in range(a + 1, len(vs)):
                body.append(f"{vs[a]} != {vs[b]}")
    if whole:
        body.append(f"#count {{ S : call(S,_) }} = {len(prefix.steps)}")
    return ":- " + ", ".join(body) + "."


class Learner:
    """The nogoods learned so far."""

    def __init__(self):
        self.by_length: dict[int, dict[str, Nogood]] = {}

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_length.values())

    def add(self, ng: Optional[Nogood]) -> bool:
        if ng is None:
            return False
        table = self.by_length.setdefault(ng.length, {})
        if ng.key in table:
            return False
        table[ng.key] = ng
        return True

    def match(self, walk: Walk) -> Optional[Nogood]:
        for m, table in self.by_length.items():
            if m <= len(walk.steps):
                ng = table.get(prefix_key(walk, m))
                if ng is not None and (m < len(walk.steps) or ng.length == len(walk.steps)):
                    return ng
        return None

    def asp(self) -> str:
        return "\n".join(ng.asp for t in self.by_length.values() for ng in t.values()) + "\n"
