"""Merge walks into longer multi-intent walks ("cancel my Boston trip, then book the cheapest
flight to Denver on the 12th").

Two single-intent walks of the same user merge by running one after the other. They *chain*
when the second acts on a record the first creates ("book it, then add two bags to that new
reservation"): the record the second walk names by id becomes the one the first created, and
the records it is linked to follow. The result is re-checked by the planner (`check_walk`) and,
like every walk, solved by Z3 - a merged walk is a real walk, not glued text.
"""

from __future__ import annotations

import random
from typing import Optional

from ..spec.model import Domain
from ..spec import grammar as E
from .walk import Selection, Walk, WalkStep, renumber


def _rename(walk: Walk, mapping: dict[str, str]) -> Walk:
    m = lambda o: mapping.get(o, o)  # noqa: E731
    return Walk(
        steps=[WalkStep(tool=s.tool, binds={v: m(o) for v, o in s.binds.items()}, args=dict(s.args),
                        creates={v: m(o) for v, o in s.creates.items()},
                        select=Selection(object=m(s.select.object), reference=s.select.reference) if s.select else None,
                        ask=s.ask, refuse=s.refuse, conditional=s.conditional) for s in walk.steps],
        objects={m(o): e for o, e in walk.objects.items()},
        given=sorted({m(o) for o in walk.given}),
        links={f"{m(k.split('.', 1)[0])}.{k.split('.', 1)[1]}": m(v) for k, v in walk.links.items()},
        actor=m(walk.actor),
    )


def created_links(domain: Domain, walk: Walk) -> dict[str, dict[str, str]]:
    """For each record the walk creates: the records its ref fields are set to at creation."""
    out: dict[str, dict[str, str]] = {}
    for s in walk.steps:
        tool = domain.tools[s.tool]
        for eff in tool.created():
            obj = s.creates.get(eff.var)
            if obj is None:
                continue
            links = {}
            for fname, node in eff.values.items():
                if domain.entities[eff.entity].fields[fname].type.kind == "ref" and isinstance(node, E.Name):
                    target = s.binds.get(node.id)
                    if target is not None:
                        links[fname] = target
            out[obj] = links
    return out


def shared_records(domain: Domain, walk: Walk) -> dict[str, int]:
    """The records of `walk` a later intent can act on, ranked (0 first): 0 created by the walk,
    1 changed by one of its writes, 2 only looked up or named. The actor is not among them."""
    from .canonical import step_footprint

    rank: dict[str, int] = {}
    for s in walk.steps:
        for o in s.binds.values():
            rank[o] = min(rank.get(o, 2), 2)
        if domain.tools[s.tool].is_write and s.refuse is None:
            for o in step_footprint(domain, walk, s)[1] & set(s.binds.values()):
                rank[o] = min(rank[o], 1)
        for o in s.creates.values():
            rank[o] = 0
    rank.pop(walk.actor, None)
    return rank


def merge(domain: Domain, first: Walk, second: Walk, rng: random.Random, chain: bool = True,
          prefer_shared: bool = False) -> Optional[Walk]:
    """`first` then `second`, for the same user; chained through a created record when possible.
    With `prefer_shared` (the long-walk builder, plan/chain.py) it always chains when it can, through
    the records `shared_records` ranks first: created by `first`, else changed by it, else involved."""
    b = _rename(second, {o: f"m_{o}" for o in second.objects if o != second.actor} | {second.actor: first.actor})
    unify: dict[str, str] = {}
    if chain:
        made = created_links(domain, first)
        # the second request acts on a record the first one created, or on one it already
        # involved ("send $200 from my Household account, then another $300 from it")
        known = {o for s in first.steps for o in list(s.binds.values()) + list(s.creates.values())}
        options = [(g, c) for g in b.given for c in sorted(known | set(made))
                   if b.objects[g] == first.objects.get(c) and g != b.actor and c != first.actor]
        if prefer_shared and options:
            rank = shared_records(domain, first)
            best = min(rank[c] for _g, c in options)
            options = [(g, c) for g, c in options if rank[c] == best]
        elif options and not any(c in made for _g, c in options) and rng.random() < 0.4:
            options = []  # keep some same-user merges about unrelated records
        if options:
            g, c = rng.choice(sorted(options))
            unify[g] = c
            # the records the named one links to become the created record's links
            frontier = [(g, c)]
            while frontier:
                src, dst = frontier.pop()
                for key, v in list(b.links.items()):
                    o, f = key.split(".", 1)
                    if o == src and f in made.get(dst, {}):
                        target = made[dst][f]
                        if v not in unify and b.objects.get(v) == first.objects.get(target):
                            unify[v] = target
    merged_b = _rename(b, unify)
    # a record unified into one the first walk creates is not stated by the user, and its links
    # are set by the creating step
    created = {o for s in first.steps for o in s.creates.values()}
    # chained through a record the first request found (a search, a description), the user
    # asks about "that one" and does not state it: stating it too makes finding it a step the
    # plan need not take, and the planner rejects the walk (most of itsm's chains died so)
    found = {c for c in unify.values() if c not in first.given} if prefer_shared else set()
    given = sorted((set(first.given) | set(merged_b.given)) - created - found)
    links = dict(first.links)
    for k, v in merged_b.links.items():
        if k.split(".", 1)[0] not in created:
            links.setdefault(k, v)
    objects = dict(first.objects)
    for o, e in merged_b.objects.items():
        objects.setdefault(o, e)
    # an object the second walk selects must not be one the first already revealed
    walk = Walk(steps=list(first.steps) + list(merged_b.steps), objects=objects, given=given,
                links=links, actor=first.actor)
    used = set()
    for s in walk.steps:
        used |= set(s.binds.values()) | set(s.creates.values())
    walk.objects = {o: e for o, e in walk.objects.items() if o in used or o == walk.actor or
                    any(v == o for v in walk.links.values())}
    walk = _prune(domain, walk, len(first.steps))
    return renumber(walk) if walk is not None else None


def _prune(domain: Domain, walk: Walk, start: int) -> Optional[Walk]:
    """Drop steps of the second part that only look up what the agent already knows (finding the
    same user again, reading a reservation it just created)."""
    known = set(walk.given)
    links: dict[str, list[str]] = {}
    for k, v in walk.links.items():
        if v is not None:
            links.setdefault(k.split(".", 1)[0], []).append(v)

    def reveal(objs) -> set:
        out = set()
        stack = list(objs)
        while stack:
            o = stack.pop()
            if o in out:
                continue
            out.add(o)
            stack.extend(links.get(o, []))
        return out

    keep = []
    for i, s in enumerate(walk.steps):
        tool = domain.tools[s.tool]
        new: set = set()
        if s.select:
            new |= reveal({s.select.object})
        if tool.returns.kind == "record" and tool.returns.var in s.binds:
            new |= reveal({s.binds[tool.returns.var]})
        creates = set(s.creates.values())
        goal = tool.is_write or s.ask
        if i >= start and not goal and (new - {s.binds.get(tool.returns.var or "")}) <= known and not creates:
            if s.select is None or s.select.object in known:
                continue  # nothing new
        known |= new | (creates if tool.returns.kind == "record" and tool.returns.var in s.creates else set())
        keep.append(s)
    if not keep:
        return None
    return Walk(steps=keep, objects=walk.objects, given=walk.given, links=walk.links, actor=walk.actor)
