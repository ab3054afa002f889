"""Independent questions on every core: a function mapped over items by forked processes.

The planner's questions about a large spec (a walk to each goal, a walk calling each tool, a
draw near each goal) are independent of each other, and each is a function of its item alone,
so mapping them over processes gives the answers a single process gives, in item order. The
processes are forked, so they inherit the function and everything it closes over (a domain, a
planner's scopes) instead of having it pickled; only the items and the answers cross.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
from typing import Callable, Iterator, Optional, Sequence, TypeVar

X = TypeVar("X")
Y = TypeVar("Y")

_FN: Optional[Callable] = None  # the function the forked workers run (inherited, not pickled)


def usable_cores() -> int:
    """The cores this process may run on (a container's or taskset's share, not the machine's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _call(x):
    assert _FN is not None
    return _FN(x)


def can_fork() -> bool:
    """Forked workers are possible here: the platform forks, and this process is not itself a
    pool's worker (those may not have children)."""
    return "fork" in mp.get_all_start_methods() and not mp.current_process().daemon


@contextlib.contextmanager
def mapper(fn: Callable[[X], Y], workers: int) -> Iterator[Callable[[Sequence[X]], list[Y]]]:
    """A `map(items) -> answers` running `fn` on `workers` forked processes for the duration of
    the block (in this process when one worker is asked for, or none can be forked). `fn` is
    fixed when the block opens: the workers fork then."""
    global _FN
    if workers <= 1 or not can_fork():
        yield lambda items: [fn(x) for x in items]
        return
    _FN = fn
    try:
        with mp.get_context("fork").Pool(workers) as pool:
            yield lambda items: pool.map(_call, list(items), chunksize=1) if len(items) > 1 else [fn(x) for x in items]
    finally:
        _FN = None


def fork_map(fn: Callable[[X], Y], items: Sequence[X], workers: int) -> list[Y]:
    """`[fn(x) for x in items]` on up to `workers` forked processes, in item order."""
    with mapper(fn, min(workers, len(items))) as run:
        return run(items)
