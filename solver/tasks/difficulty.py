"""The difficulty profile of a task, and targets `generate --difficulty` can ask for.

Five dimensions, each read off what the task already certifies (so the profile of a task on disk
is the profile it was generated with, and no field is added to tasks.jsonl):

- length: gold steps (tool calls the agent makes);
- intents: requests in the task (goal steps: writes, and questions answered);
- compared: records the agent must weigh against each other to pick out the described ones -
  over every description, the user's records with the stated values (`fit_stated`, which the
  second engine re-derives in SQL), of which the description's other conditions keep one;
- near_misses: near-miss records listed before their target (an agent that takes the first
  plausible record acts on one of them);
- conditionals: requests the user anticipates may be refused and gives a fallback for (steps the
  walk marks `conditional`: refused, then the fallback; plan/conditional.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..errors import EnvsynthError

DIMENSIONS = ("length", "intents", "compared", "near_misses", "conditionals")

# named profiles: bounds per dimension (lo, hi), None for no bound
PROFILES: dict[str, dict[str, tuple[Optional[int], Optional[int]]]] = {
    "easy": {"length": (1, 3)},
    "medium": {"length": (4, 7)},
    "hard": {"length": (8, 12), "intents": (3, None), "near_misses": (1, None)},
    "expert": {"length": (12, 20), "intents": (4, None), "compared": (4, None), "near_misses": (2, None)},
}
LONGEST = 20  # the longest length a profile without an upper length bound asks for


def profile(task) -> dict[str, int]:
    """The task's value on each dimension."""
    walk = task.certificate.walk
    return {
        "length": task.difficulty.length,
        "intents": task.difficulty.goals,
        "compared": sum(p.fit_stated for p in task.certificate.selections),
        "near_misses": task.difficulty.visible_distractors,
        "conditionals": len(walk.conditionals()),
    }


@dataclass(frozen=True)
class DifficultyTarget:
    """Bounds on some dimensions; a task is on target when every bounded value is within."""

    bounds: dict = field(default_factory=dict)  # dimension -> (lo or None, hi or None)

    @staticmethod
    def parse(text: str) -> "DifficultyTarget":
        """A named profile (easy, medium, hard, expert), or `dim=lo-hi` pairs separated by commas
        (`length=8-12,near_misses=1-`; `intents=3` is exactly 3; `-5` at most 5), or a profile
        name followed by pairs that override it (`hard,compared=6-`)."""
        bounds: dict = {}
        for part in (p.strip() for p in text.split(",") if p.strip()):
            if part in PROFILES:
                bounds.update(PROFILES[part])
                continue
            name, eq, value = part.partition("=")
            name = name.strip()
            if not eq or name not in DIMENSIONS:
                raise EnvsynthError(
                    f"--difficulty: '{part}' is neither a profile ({', '.join(PROFILES)}) nor dimension=lo-hi "
                    f"with a dimension of {', '.join(DIMENSIONS)} (e.g. 'length=8-12,near_misses=1-')")
            lo, dash, hi = value.strip().partition("-")
            try:
                lo_n = int(lo) if lo else None
                hi_n = (int(hi) if hi else None) if dash else lo_n
            except ValueError:
                raise EnvsynthError(f"--difficulty: '{part}': bounds are whole numbers, e.g. {name}=2-5") from None
            if lo_n is None and hi_n is None:
                raise EnvsynthError(f"--difficulty: '{part}' bounds nothing; write e.g. {name}=2-5")
            if (lo_n is not None and lo_n < 0) or (lo_n is not None and hi_n is not None and hi_n < lo_n):
                raise EnvsynthError(f"--difficulty: '{part}': the bounds must be 0 or more, low before high")
            bounds[name] = (lo_n, hi_n)
        if not bounds:
            raise EnvsynthError("--difficulty names no profile and no bound")
        return DifficultyTarget(dict(sorted(bounds.items())))

    def text(self) -> str:
        """The canonical spelling (what the manifest records)."""
        def b(lo, hi):
            return str(lo) if lo == hi else f"{'' if lo is None else lo}-{'' if hi is None else hi}"
        return ",".join(f"{k}={b(*v)}" for k, v in sorted(self.bounds.items()))

    def misses(self, values: dict[str, int]) -> Optional[str]:
        """Why a task with these values is off target (None when it is on target)."""
        for dim, (lo, hi) in sorted(self.bounds.items()):
            v = values[dim]
            if (lo is not None and v < lo) or (hi is not None and v > hi):
                want = f"{lo if lo is not None else 0}-{hi if hi is not None else ''}"
                return f"off the difficulty profile: {dim} {v}, asked {want}"
        return None

    def length_mix(self) -> Optional[dict[int, float]]:
        """The lengths the profile asks for, equally weighted (None when it bounds no length)."""
        if "length" not in self.bounds:
            return None
        lo, hi = self.bounds["length"]
        lo = max(lo or 1, 1)
        hi = hi if hi is not None else max(lo, LONGEST)
        return {n: 1.0 for n in range(lo, hi + 1)}


def parse_length_mix(text: str) -> dict[int, float]:
    """`--length-mix`: `length:weight` pairs; a range `lo-hi:weight` shares its weight equally
    among its lengths ('2:1,5:1,10-15:1': a third of the tasks have 10 to 15 steps)."""
    mix: dict[int, float] = {}
    try:
        for part in text.split(","):
            lengths, weight = part.split(":")
            lo, dash, hi = lengths.strip().partition("-")
            span = range(int(lo), int(hi) + 1) if dash else [int(lo)]
            if not span:
                raise ValueError
            for n in span:
                mix[n] = mix.get(n, 0.0) + float(weight) / len(span)
    except ValueError:
        raise EnvsynthError("--length-mix takes length:weight pairs, lengths or ranges lo-hi, e.g. "
                            "'2:1,5:1,10:1,15:1' or '1-4:1,8-12:1'") from None
    return dict(sorted(mix.items()))


def bucket(length: int, lengths: list[int]) -> str:
    """The length bucket a task falls in, named by its range: from the longest asked-for length
    not above it to just below the next one ('5-9' for a mix of 2, 5, 10 and 15; '15+' for the
    last); with no length asked for at or below it, its own length."""
    asked = sorted(set(lengths))
    below = [n for n in asked if n <= length]
    if not below:
        return str(length)
    above = [n for n in asked if n > length]
    lo = below[-1]
    if not above:
        return f"{lo}+" if lo != length or len(asked) > 1 else str(lo)
    return str(lo) if above[0] == lo + 1 else f"{lo}-{above[0] - 1}"
