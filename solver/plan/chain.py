"""Long walks (8-20 steps) by goal-directed chaining of intents that share records.

Enumerating every walk up to 8 steps and beyond is out of reach, and asking clingo for one long
walk directly is slow (benchmarks/long_horizon.py measures both). A long task is instead built
the way long requests are made: one intent, then the next acting on what the earlier ones
returned or changed - the reservation the first step books is the one whose bags are added
next, the ticket the first opens is the one escalated later, the refund of one pays for the
next (the same user's balance). Each extension is a merge (plan/merge.py) with the record it
shares chosen first among those the walk created, then those it changed, then those it looked
up; an independent intent of the same user is the fallback. Every extension is re-checked by
the planner (`Checker`), cached by canonical key, so a long walk is a plan like any other; the
result is a function of the pool of single-intent walks and the rng.
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Optional

from ..spec.model import Domain
from .canonical import canonical_key
from .merge import merge, shared_records
from .planner import Checker
from .walk import Walk


class WideChecker(Checker):
    """The planner's `Checker`, with programs grounded for every tool, a generous goal bound and
    slot counts rounded up to a multiple of SLOTS: the same decisions (a tool the walk does not
    call is assumed uncalled, a slot it does not use cannot exist, a bound of as many goals as
    steps bounds nothing), from far fewer programs - the long walks built here would otherwise
    each have a shape of their own, grounded for one check."""

    SLOTS = 4
    KEEP = 24

    def _shape(self, key: tuple):
        slots, _goals, refusal, n, _tools = key
        have = dict(slots)
        wide = {e: max(1, -(-have.get(e, 1) // self.SLOTS)) * self.SLOTS for e in sorted(self.domain.entities)}
        return super()._shape((tuple(sorted(wide.items())), n, refusal, n, frozenset(self.domain.tools)))


class ChainBuilder:
    """Builds walks of an exact length from a pool of single-intent walks of one domain."""

    TRIES = 6  # fresh starts per requested walk
    CANDIDATES = 8  # intents tried for each extension before the start is abandoned

    def __init__(self, domain: Domain, pool: list[Walk], checker: Optional[Checker] = None):
        self.domain = domain
        self.checker = checker or WideChecker(domain)
        self.accepted: dict[str, bool] = {}  # canonical key -> the planner accepts the walk
        # by goal (the tools of its goal steps), in a fixed order, each goal's walks by length
        by_goal: dict[tuple, list[Walk]] = defaultdict(list)
        for w in pool:
            by_goal[tuple(w.steps[i].tool for i in w.goal_steps(domain))].append(w)
        self.goals = [by_goal[g] for g in sorted(by_goal)]
        # the entities a walk's user names records of (what a later intent can be chained through)
        self.named = {id(w): {w.objects[o] for o in w.given if o != w.actor} for w in pool}

    def accepts(self, walk: Walk) -> bool:
        key = canonical_key(self.domain, walk)
        if key not in self.accepted:
            self.accepted[key] = self.checker.accepts(walk)
        return self.accepted[key]

    def _pick(self, rng: random.Random, walks: list[Walk], most: int) -> Optional[Walk]:
        fits = [w for w in walks if len(w.steps) <= most]
        return fits[rng.randrange(len(fits))] if fits else None

    def _candidates(self, walk: Walk, most: int, rng: random.Random) -> list[Walk]:
        """Intents to try next: goals with a walk that names a record of an entity the walk
        already has (to be chained through it) first, in random order; then the others."""
        have = {walk.objects[o] for o in shared_records(self.domain, walk)}
        sharing, other = [], []
        for goal in self.goals:
            (sharing if any(self.named[id(w)] & have for w in goal) else other).append(goal)
        rng.shuffle(sharing)
        rng.shuffle(other)
        out = []
        for goal in sharing + other:
            named = [w for w in goal if self.named[id(w)] & have] if goal in sharing else goal
            w = self._pick(rng, named, most)
            if w is not None:
                out.append(w)
            if len(out) >= self.CANDIDATES:
                break
        return out

    def build(self, length: int, rng: random.Random) -> Optional[Walk]:
        """A walk of exactly `length` steps (None if none turned up in a few starts)."""
        for _ in range(self.TRIES):
            goal = self.goals[rng.randrange(len(self.goals))]
            walk = self._pick(rng, goal, length)
            while walk is not None and len(walk.steps) < length:
                walk = self._extend(walk, length, rng)
            if walk is not None and len(walk.steps) == length:
                return walk
        return None

    def _extend(self, walk: Walk, length: int, rng: random.Random) -> Optional[Walk]:
        """`walk` and one more intent (at most `length` steps in all), accepted by the planner."""
        most = length - len(walk.steps)
        for cand in self._candidates(walk, most + 1, rng):  # +1: a repeated lookup may be pruned
            m = merge(self.domain, walk, cand, rng, prefer_shared=True)
            if m is None or not len(walk.steps) < len(m.steps) <= length:
                continue
            if self.accepts(m):
                return m
        return None
