"""Conditional workflows: a request, and what to do instead if it is refused, in one instruction
("book me on flight HA1234; if it is full, the earliest flight from LAX to PHX that day instead").

A conditional walk is a refusal walk - its last request refused for a rule the spec marks with
`fallback:` (the user anticipates it: a full cabin, a variant out of stock) - continued by the
planner itself: the refused walk is pinned as the prefix of a longer walk, and clingo finds the
rest, ending in one of the goal tools the rule names. The planner's own rules (encoding.lp,
conditional mode) then say what makes it a conditional and not two unrelated intents: the refused
step is marked `conditional`, the next goal is the fallback, it succeeds, it calls a tool the
rule allows, and a fallback of another tool acts on a record of the refused request. Composing
this way (rather than relaxing enumeration for every walk) keeps ordinary walks exactly as they
were - the relaxation exists only in conditional mode, for declared fallbacks.
"""

from __future__ import annotations

import random
from typing import Optional

from ..spec.model import Domain
from .facts import AspOptions
from .planner import Planner, sample_walk
from .walk import Walk, renumber

EXTRA = 3  # steps a fallback may add (lookups, then its goal)


def fallback_rule(domain: Domain, walk: Walk):
    """The requirement the walk's last (refused) request fails, if the spec gives it a fallback."""
    last = walk.steps[-1]
    if last.refuse is None:
        return None
    req = domain.tools[last.tool].requires[last.refuse - 1]
    return req if req.fallback_then else None


def _pin(walk: Walk) -> str:
    """Constraints that make the planner's first steps exactly `walk`, its last step conditional."""
    q = lambda x: '"' + str(x).replace('"', '\\"') + '"'  # noqa: E731
    rules = []
    for i, s in enumerate(walk.steps, 1):
        rules.append(f":- not call({i},{q(s.tool)}).")
        rules += [f":- not bind({i},{q(v)},{q(o)})." for v, o in s.binds.items()]
        rules += [f":- not argval({i},{q(a)},{x if x in ('true', 'false') else q(x)})." for a, x in s.args.items()]
        rules += [f":- not new({i},{q(v)},{q(o)})." for v, o in s.creates.items()]
        if s.select is not None:
            rules.append(f":- not select({i},{q(s.select.object)},{q(s.select.reference)}).")
        else:
            rules.append(f":- select({i},_,_).")
        rules.append(f":- not ask({i})." if s.ask else f":- ask({i}).")
        rules.append(f":- not refuse({i},{s.refuse})." if s.refuse is not None else f":- refuse_at({i}).")
    rules.append(f":- not conditional({len(walk.steps)}).")
    rules += [f":- not given({q(o)})." for o in walk.given]
    for k, v in walk.links.items():
        o, f = k.split(".", 1)
        rules.append(f":- not link({q(o)},{q(f)},{q(v)})." if v is not None else f":- not nolink({q(o)},{q(f)}).")
    return "\n#program base.\n" + "\n".join(rules) + "\n"


def continue_with_fallback(domain: Domain, refused: Walk, rng: random.Random, planner: Optional[Planner] = None,
                           default_slots: int = 2, extra: int = EXTRA) -> Optional[Walk]:
    """The refused walk continued by a fallback the planner finds (None if the walk's refused rule
    has no fallback, or no continuation of up to `extra` steps exists)."""
    req = fallback_rule(domain, refused)
    if req is None:
        return None
    planner = planner or Planner(domain, default_slots)
    walk = renumber(refused)
    prefix = len(walk.steps)
    pinned = _pin(walk)
    lengths = list(range(prefix + 1, prefix + extra + 1))
    rng.shuffle(lengths)
    targets = sorted(req.fallback_then)
    rng.shuffle(targets)
    for target in targets:
        for n in lengths:
            tools = planner.scopes.tools_for(target, n - prefix) | {s.tool for s in walk.steps}
            opts = AspOptions(default_slots=default_slots, refusal=True, conditional=True, max_goals=2,
                              target=target, tools=frozenset(tools))
            found = sample_walk(domain, n, rng.randrange(2**31), opts, extra_rules=pinned)
            if found is not None:
                return found
    return None
