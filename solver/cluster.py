"""Ray back-end: an ordered map over a stream of work items, run by actors across a cluster.

Each actor builds its worker object once, from a picklable payload (for generation: the spec and
template *texts*, since a cluster node need not share the driver's files), and then runs
`obj.task(item)` for the items it is handed. Items go to whichever actor is free; results come
back in the order of the items, and at most `window` items are in flight or waiting to be
yielded, so memory stays flat however long the stream. An actor whose node dies is restarted
and its items are retried: each result is a function of its item alone, so the output does not
change. Ray is an optional extra (`pip install 'envsynth[ray]'`), imported only here.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import socket
from collections import deque
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Optional

from .errors import EnvsynthError

INSTALL_HINT = "pip install 'envsynth[ray]'"
# the packages whose versions can change the bytes of a task (solvers, validation, rendering)
OUTPUT_PACKAGES = ("z3-solver", "clingo", "pydantic", "jinja2", "pyyaml", "networkx")
PER_ACTOR = 2  # items queued on each actor, so it never waits for the driver between items


def import_ray():
    """Ray, or a message saying how to install it (never an ImportError traceback)."""
    try:
        import ray
    except ImportError:
        raise EnvsynthError(f"--ray needs Ray, which is not installed in this environment: {INSTALL_HINT} "
                            "(the same on every node of the cluster)") from None
    return ray


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """This package's code and the versions of the packages that decide a task's bytes. Every
    actor must match the driver's, or the output would depend on which node ran an index."""
    pkg = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for p in sorted(pkg.rglob("*")):
        if p.suffix in (".py", ".lp") and "__pycache__" not in p.parts:
            h.update(p.relative_to(pkg).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    for name in OUTPUT_PACKAGES:
        try:
            h.update(f"{name}={metadata.version(name)}\0".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{name}=?\0".encode())
    return h.hexdigest()[:16]


class _Actor:
    """One worker of the pool (made a Ray actor by RayPool): builds its object once."""

    def __init__(self, build: Callable[[Any], Any], payload: Any, fingerprint: str):
        mine = code_fingerprint()
        if mine != fingerprint:
            raise EnvsynthError(
                f"the node {socket.gethostname()} runs different envsynth code or solver versions than this machine "
                f"(fingerprint {mine}, here {fingerprint}), so its tasks would differ: install the same envsynth "
                f"and dependencies on every node ({INSTALL_HINT})")
        self.obj = build(payload)

    def where(self) -> str:
        import ray

        return ray.get_runtime_context().get_node_id()

    def run(self, item: Any) -> Any:
        return self.obj.task(item)


def ray_target(address: str) -> Optional[str]:
    """The address to give ray.init; refuses, in a sentence, one nothing answers at (Ray itself
    would retry for minutes). 'auto': RAY_ADDRESS, else a cluster this machine runs, else a new
    local one."""
    if address == "auto":
        return None
    hostport = address.split("://", 1)[1] if "://" in address else address
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise EnvsynthError(f"--ray takes the HOST:PORT of a Ray cluster's head node (say 10.0.0.5:6379), "
                            f"or nothing for this machine's cluster; not '{address}'")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as e:
        why = e.strerror or str(e) or type(e).__name__
        raise EnvsynthError(f"no Ray cluster answers at {hostport} ({why}): start one there with "
                            f"`ray start --head --port {port}`, or check the address and the firewall") from None
    return address


def _cause(e: BaseException) -> BaseException:
    """The user-facing error inside a Ray error (an actor's EnvsynthError, say), if there is one."""
    seen = set()
    while id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, EnvsynthError):
            return e
        nxt = getattr(e, "cause", None) or getattr(e, "creation_task_error", None) or e.__cause__
        if nxt is None or not isinstance(nxt, BaseException):
            break
        e = nxt
    return e


class RayPool:
    """Actors on a Ray cluster, each holding `build(payload)`; `map` runs items through them in order.

    `address`: 'auto' or HOST:PORT (or ray://HOST:PORT). `actors`: None for one per CPU of the
    cluster. Use as a context manager: leaving it ends the actors and, if it connected, the
    connection (a cluster it started goes with it)."""

    def __init__(self, address: str, actors: Optional[int], build: Callable[[Any], Any], payload: Any):
        self.address, self.requested, self.build, self.payload = address, actors, build, payload
        self.actors: list = []
        self.nodes: list[str] = []
        self._connected = False
        self._pending: dict = {}  # object ref -> (position, actor), of the running map

    def __enter__(self) -> "RayPool":
        ray = self.ray = import_ray()
        if not ray.is_initialized():
            target = ray_target(self.address)
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            kwargs: dict = {"logging_level": logging.ERROR, "log_to_driver": False}
            if target is None:
                kwargs["include_dashboard"] = False
            try:
                ray.init(address=target, **kwargs)
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise EnvsynthError(f"could not connect to the Ray cluster at {self.address}: {e}") from None
            self._connected = True
        try:
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start(self) -> None:
        ray = self.ray
        cpus = int(ray.cluster_resources().get("CPU", 0))
        n = self.requested or cpus
        if n < 1:
            raise EnvsynthError(f"the Ray cluster at {self.address} has no CPUs to run actors on")
        if n > cpus:
            raise EnvsynthError(f"-j {n} asks for more actors than the Ray cluster's {cpus} CPUs (one each): "
                                f"give -j {cpus} or less, or add nodes with `ray start --address ...`")
        remote = ray.remote(num_cpus=1, max_restarts=3, max_task_retries=3)(_Actor)
        fingerprint = code_fingerprint()
        self.actors = [remote.remote(self.build, self.payload, fingerprint) for _ in range(n)]
        self.nodes = self._get([a.where.remote() for a in self.actors])  # each built its object

    def _get(self, refs):
        """ray.get, with an actor's EnvsynthError raised as itself and a lost actor said plainly
        (a bug inside an actor stays an internal error, with its own type and message)."""
        ray = self.ray
        try:
            return ray.get(refs)
        except ray.exceptions.RayError as e:
            cause = _cause(e)
            if isinstance(cause, EnvsynthError):
                raise cause from None
            if isinstance(e, (ray.exceptions.RayActorError, ray.exceptions.NodeDiedError)):
                raise EnvsynthError(f"a Ray actor was lost and could not be restarted ({type(e).__name__}); "
                                    "the tasks written so far are kept: run the same command again to resume") \
                    from None
            if isinstance(cause, Exception) and cause is not e:
                raise cause from None
            raise

    def __exit__(self, *exc) -> None:
        if self._pending:  # let the few queued items finish: killing an actor with work queued is logged as a failure
            self.ray.wait(list(self._pending), num_returns=len(self._pending), timeout=10)
            self._pending = {}
        for a in self.actors:
            try:
                self.ray.kill(a)
            except Exception:  # already gone with its node
                pass
        self.actors = []
        if self._connected:
            self.ray.shutdown()
            self._connected = False

    def describe(self) -> str:
        return f"{len(self.actors)} Ray actors on {len(set(self.nodes))} node(s)"

    def map(self, items: Iterable[Any], window: Optional[int] = None) -> Iterator[Any]:
        """`actor.run(item)` for each item, yielded in the items' order; at most `window` items
        between the oldest not yet yielded and the newest handed out."""
        window = window or len(self.actors) * PER_ACTOR * 4
        free = deque(a for _ in range(PER_ACTOR) for a in self.actors)  # one entry per queue slot
        pending = self._pending = {}
        done: dict[int, Any] = {}  # position -> result, until its turn
        source = iter(items)
        handed = yielded = 0
        exhausted = False
        while True:
            while free and not exhausted and handed - yielded < window:
                try:
                    item = next(source)
                except StopIteration:
                    exhausted = True
                    break
                actor = free.popleft()
                pending[actor.run.remote(item)] = (handed, actor)
                handed += 1
            while yielded in done:
                yield done.pop(yielded)
                yielded += 1
            if not pending:
                if exhausted and yielded == handed:
                    return
                continue
            ready, _ = self.ray.wait(list(pending), num_returns=1)
            for ref in ready:
                pos, actor = pending.pop(ref)
                done[pos] = self._get(ref)
                free.append(actor)
