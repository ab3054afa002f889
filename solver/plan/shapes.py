"""Task shapes drawn without replacement, so a run does not solve a task only to drop it as a repeat.

A task's *shape* (`generate.task_shape`) is its walk up to renaming plus the enum, bool and pooled
values of the records it starts from. Two tasks of one walk repeat a shape when the solver happens
to pick the same values - banking's few-field walks did so for most proposals. So the values are
drawn here, before solving: a walk's `ShapeSpace` is the product, over its initial records'
fields, of the values each may start with (enum and bool fields: the planner's brave
consequences, `Checker.initial_values`; pooled text fields: the pool), and `ShapeDraws` hands out,
per stratum (goal, then tool sequence, then walk), the next unused point of a seeded permutation
of each walk's space. Enum and bool values are then hard constraints of the solve (an impossible
combination fails with a core of kind "shape", which teaches no nogood); pooled values are hints.

Draws depend only on the seed and on the draws before them, never on results or timing: the parent
process draws for every index in order and any number of workers get the same work.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Callable, Optional

from ..spec.model import Domain
from .walk import Walk


@dataclass(frozen=True)
class Axis:
    obj: str  # the walk's object
    field: str
    values: tuple  # in the walk's value form: str for enums and pools, bool for bools
    fixed: bool  # enum/bool: a hard constraint; pooled text: a hint


class ShapeSpace:
    """The value combinations one walk's initial records may take, numbered 0..size-1."""

    def __init__(self, axes: list[Axis]):
        self.axes = axes
        self.size = 1
        for a in axes:
            self.size *= len(a.values)

    @staticmethod
    def empty() -> "ShapeSpace":
        """No shape at all (the walk is no plan): drawing it removes the walk."""
        space = ShapeSpace([])
        space.size = 0
        return space

    @staticmethod
    def of(domain: Domain, walk: Walk, starts: Optional[dict[tuple[str, str], list[str]]]) -> "ShapeSpace":
        """`starts`: the planner's possible starting values of enum and bool fields (None: the
        walk is no plan - an empty space, nothing to draw)."""
        if starts is None:
            return ShapeSpace.empty()
        axes = []
        for obj in walk.initial_objects():
            ent = domain.entities[walk.objects[obj]]
            label = set(ent.label)
            for f in ent.fields.values():
                kind = f.type.kind
                if kind in ("enum", "bool"):
                    vals = starts.get((obj, f.name))
                    if vals is None:  # a field the planner does not model: any value of its type
                        vals = ["false", "true"] if kind == "bool" else list(f.type.values)
                    if kind == "bool":
                        vals = [v == "true" for v in vals]
                    axes.append(Axis(obj, f.name, tuple(vals), True))
                elif kind == "str" and f.type.values and f.name not in label:
                    axes.append(Axis(obj, f.name, tuple(f.type.values), False))
        return ShapeSpace(axes)

    def point(self, k: int) -> dict[str, object]:
        """The k-th combination as {"object.field": value} (mixed radix over the axes)."""
        out: dict[str, object] = {}
        for a in self.axes:
            k, r = divmod(k, len(a.values))
            out[f"{a.obj}.{a.field}"] = a.values[r]
        return out

    def fixed(self) -> set[str]:
        return {f"{a.obj}.{a.field}" for a in self.axes if a.fixed}


class Permutation:
    """A seeded bijection of range(size): a four-round Feistel network on the next even power of
    two, cycle-walked back into range. O(1) memory for any size (a space can be 12^20 points)."""

    def __init__(self, size: int, key: str):
        self.size = size
        bits = max(2, (max(size - 1, 1)).bit_length())
        bits += bits % 2
        self.half = bits // 2
        self.mask = (1 << self.half) - 1
        self.keys = [hashlib.blake2b(f"{key}/{r}".encode(), digest_size=8).digest() for r in range(4)]

    def _round(self, r: int, x: int) -> int:
        h = hashlib.blake2b(x.to_bytes(16, "little"), digest_size=8, key=self.keys[r]).digest()
        return int.from_bytes(h, "little") & self.mask

    def __call__(self, k: int) -> int:
        x = k
        while True:
            left, right = x >> self.half, x & self.mask
            for r in range(4):
                left, right = right, left ^ self._round(r, right)
            x = (left << self.half) | right
            if x < self.size:
                return x


@dataclass
class Draw:
    """What the parent decided for one index: the walk (its position in the Generator's list) and
    the starting values to solve it with."""

    walk: int
    values: dict[str, object]
    fixed: frozenset


class ShapeDraws:
    """Stratified draws without replacement: a goal uniformly, then a tool sequence, then a walk,
    then the walk's next unused shape; walks, sequences and goals whose shapes are used up leave
    the draw. `strata` holds walk positions (goal -> sequence -> walks)."""

    def __init__(self, strata: list[list[list[int]]], space_of: Callable[[int], ShapeSpace], key: str):
        self.strata = [[list(seq) for seq in goal if seq] for goal in strata]
        self.strata = [g for g in self.strata if g]
        self.space_of = space_of
        self.key = key
        self.used: dict[int, int] = {}
        self.perms: dict[int, Permutation] = {}

    def exhausted(self) -> bool:
        return not self.strata

    def draw(self, rng: random.Random, pool_goal: bool = False) -> Optional[Draw]:
        """The next shape, or None when every walk's shapes are used. Below the goal (drawn
        uniformly), the least drawn tool sequence and then the least drawn walk go first (ties at
        random), so a run covers every walk before it repeats one. `pool_goal`: pick among the
        goal's walks directly (stratify by goal only)."""
        while self.strata:
            gi = rng.randrange(len(self.strata))
            goal = self.strata[gi]
            if pool_goal:
                flat = [(si, wi) for si, seq in enumerate(goal) for wi in range(len(seq))]
                si, wi = self._least(rng, flat, lambda c: self.used.get(goal[c[0]][c[1]], 0))
            else:
                si = self._least(rng, list(range(len(goal))),
                                 lambda i: sum(self.used.get(w, 0) for w in goal[i]))
                wi = self._least(rng, list(range(len(goal[si]))), lambda i: self.used.get(goal[si][i], 0))
            walk = goal[si][wi]
            space = self.space_of(walk)
            k = self.used.get(walk, 0)
            if k >= space.size:
                goal[si].pop(wi)
                if not goal[si]:
                    goal.pop(si)
                if not goal:
                    self.strata.pop(gi)
                continue
            self.used[walk] = k + 1
            if walk not in self.perms:
                self.perms[walk] = Permutation(space.size, f"{self.key}/{walk}")
            return Draw(walk, space.point(self.perms[walk](k)), frozenset(space.fixed()))
        return None

    @staticmethod
    def _least(rng: random.Random, choices: list, uses: Callable) -> object:
        counts = [uses(c) for c in choices]
        low = min(counts)
        best = [c for c, n in zip(choices, counts) if n == low]
        return best[rng.randrange(len(best))]
