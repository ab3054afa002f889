"""What part of a domain a planning question needs.

A walk with one goal is the goal's call and the lookups that feed it: every other step reveals
an id a later step takes (plan/encoding.lp: a step that is not a goal must be consumed). So the
only tools that can appear in a walk of at most `n` steps ending in goal G are G and the read
tools that feed G through at most n-1 such links - G's *scope*. Grounding the planner's program
for the scope alone, and for the entities those tools can touch, gives the same walks as
grounding it for the whole spec (tests/test_walkspace.py checks this on every shipped domain),
at a cost that grows with the question instead of with the number of tools in the spec.

The links are read from the tools exactly as the program reads them: a record result reveals
the record and the records its ref fields point to, a list (or an included list) reveals the
listed records and theirs, and a created record is known once the tool returns it.
"""

from __future__ import annotations

from collections import deque
from typing import Callable, Iterable

from ..spec.model import Domain, FieldInfo, Tool


def _linked(domain: Domain, entity: str) -> set[str]:
    return {entity} | {f.type.entity for f in domain.entities[entity].ref_fields()}


def returned(domain: Domain, tool: Tool) -> set[str]:
    """Entities of the records a successful call of `tool` returns: its record (and the records
    included with it), or the records it lists."""
    out: set[str] = set()
    r = tool.returns
    if r.kind == "record":
        ent = tool.record_vars().get(r.var) or next((c.entity for c in tool.created() if c.var == r.var), None)
        if ent is None and r.var == "actor":
            ent = domain.actor
        if ent is not None:
            out.add(ent)
        out |= {lr.entity for lr in r.include.values()}
    elif r.kind in ("list", "find") and r.listing is not None:
        out.add(r.listing.entity)
    return out


def reveals(domain: Domain, tool: Tool) -> set[str]:
    """Entities whose ids a successful call of `tool` can make known: the records it returns and
    the ones they link to."""
    return {e for ent in returned(domain, tool) for e in _linked(domain, ent)}


def feeds(domain: Domain, tool: Tool, actor_slots: int = 1) -> set[str]:
    """Entities whose ids a call of `tool` can be the first to make known - what it can feed a
    later step with. The actor, when it is the only record of its entity, is never learned from
    a lookup's result: a walk has the user state who they are or picks them out of a list
    (encoding.lp: "who the user is comes from the user", and a known record is never selected),
    so only a tool listing the actor's entity feeds it. Without this every module's lookups that
    show a link to the shared actor would feed every other module's tools."""
    out = reveals(domain, tool)
    if actor_slots == 1 and domain.actor in out:
        lst = tool.returns.lists()
        if lst is None or lst.entity != domain.actor:
            out.discard(domain.actor)
    return out


class Scopes:
    """The feeding relation of one domain's tools, computed once, and the scopes it gives."""

    def __init__(self, domain: Domain, actor_slots: int = 1):
        self.domain = domain
        needs = {t.name: {a.type.entity for a in t.args.values() if a.is_ref} for t in domain.tools.values()}
        # a read tool (not a goal step in a single-goal walk) can feed any tool whose record
        # arguments it reveals; writes are goals, so they never feed another step of such a walk
        self.needs = needs  # entities each tool takes as record arguments
        self.provides: dict[str, set[str]] = {}  # entities each read tool can feed a later step
        self.fed_by: dict[str, list[str]] = {name: [] for name in domain.tools}
        for a in domain.tools.values():
            if a.is_write:
                continue
            out = self.provides[a.name] = feeds(domain, a, actor_slots)
            for b, ents in needs.items():
                if b != a.name and out & ents:
                    self.fed_by[b].append(a.name)
        for b in self.fed_by:
            self.fed_by[b].sort()

    def tools_for(self, goal: str, max_len: int) -> frozenset[str]:
        """`goal` and every read tool that can feed it within a walk of `max_len` steps."""
        seen = {goal: 0}
        queue = deque([goal])
        while queue:
            t = queue.popleft()
            if seen[t] >= max_len - 1:
                continue
            for u in self.fed_by[t]:
                if u not in seen:
                    seen[u] = seen[t] + 1
                    queue.append(u)
        return frozenset(seen)


def entities_for(domain: Domain, tools: Iterable[str]) -> frozenset[str]:
    """The entities those tools can bind, list, create or reach through links (and the actor)."""
    start = {domain.actor}
    for name in tools:
        t = domain.tools[name]
        start |= {a.type.entity for a in t.args.values() if a.is_ref}
        start |= {c.entity for c in t.created()}
        start |= reveals(domain, t)
    return link_closure(domain, start)


def link_closure(domain: Domain, start: Iterable[str],
                 follows: Callable[[FieldInfo], bool] = lambda f: True) -> frozenset[str]:
    """`start` and every entity reached from it through the ref fields `follows` admits."""
    out: set[str] = set()
    stack = sorted(start)
    while stack:
        e = stack.pop()
        if e in out:
            continue
        out.add(e)
        stack.extend(f.type.entity for f in domain.entities[e].ref_fields() if follows(f))
    return frozenset(out)
