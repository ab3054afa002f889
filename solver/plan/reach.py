"""Reachability as targeted solver calls: is there a walk of at most L steps to goal G that calls
tool T - one question, one small program, instead of enumerating every walk of G.

A goal's scope (plan/scope.py) is every lookup that could feed it; in a large spec that is most
of the spec (every module's lookups that find the shared actor feed every module), and both the
program grounded for it and its walk space grow with the spec. A question about one tool needs
much less. In a walk with a single goal every other step is consumed by a later one, so from T
the consumers lead to G: the walk holds a feeding chain T -> ... -> G of at least d(T,G)+1 steps,
and every other tool U of the walk reaches that chain through k >= d(U, chain) new steps. So a
walk of at most L steps calling T uses only tools U with d(U, C) <= L - 1 - d(T,G), where C is
the tools on some feeding path from T to G within the bound. The question is asked of programs
grounded for C widened by a budget b = 0, 1, ... up to that bound: a walk found in a smaller
program is a walk of the whole one (the entities are closed under links, as the Checker's
programs are), and the last budget is exact, so "no walk" is a proof, not a guess.

In a large spec that exact chain is most of the graph (a lookup that reveals a person feeds every
tool that takes one), so `cover` first asks each tool's question of a few small scopes built
around it (`quick_scopes`: the tool with the goals it feeds directly, and so on, each with a
supplier for every record they need). A walk found there is a walk of the whole program; when
none is found the exact question above is asked, so the answers are the same, only cheaper.
"""

from __future__ import annotations

from collections import deque
from typing import Iterable, Optional

from ..spec.model import Domain
from ..parallel import mapper
from .facts import AspOptions, N, F
from .planner import Planner, RANDOM_DECISIONS, control, horizon, walk_from_model, object_entities
from .walk import Walk

# a goal whose scope holds more tools than this has its walks asked for (targeted questions,
# sampled draws) instead of enumerated: every shipped domain's goals (at most 11) stay
# enumerated, a composed spec's cross-module goals (23 tools at 47, ~200 at 414) do not
ENUMERATE_SCOPE = 12

# tool questions asked at once by `cover` (a fixed number, so the questions do not depend on the
# number of workers; a tool a walk of its batch reaches is asked anyway)
TOOL_BATCH = 8

# the question "the walk calls T" (T is given as a fact); grounded with each check(t)
CALLS = """
#program check(t).
calls_asked(t) :- asked(T), call(S,T), S <= t.
:- query(t), asked(_), not calls_asked(t).
"""


def walks_of(domain: Domain, options: AspOptions, max_len: int, asked: Optional[str] = None,
             min_len: int = 1, seed: Optional[int] = None, per_length: int = 1,
             first_only: bool = True) -> list[Walk]:
    """Walks of lengths min_len..max_len under `options` (calling `asked`, if given), from one
    program grounded step by step: up to `per_length` of each length, stopping at the first
    length that has one when `first_only`. With `seed`, clingo decides at random, so the walks
    are a varied draw - a function of the program and the seed, like every clingo answer."""
    args = [str(per_length), "--project=show"] + ([f"--seed={seed}"] + RANDOM_DECISIONS if seed is not None else [])
    extra = CALLS + (f'\n#program base.\nasked("{asked}").\n' if asked is not None else "")
    ctl, facts = control(domain, options, args, extra)
    ctl.ground([("base", [])])
    objects = object_entities(facts)
    out: list[Walk] = []
    for t in range(1, max_len + 1):
        horizon(ctl, t)
        if t < min_len:
            continue
        with ctl.solve(yield_=True) as handle:
            for model in handle:
                out.append(walk_from_model(model.symbols(shown=True), t, f"{domain.actor}1", objects))
        if out and first_only:
            break
    return out


def first_walk(domain: Domain, options: AspOptions, max_len: int, asked: Optional[str] = None) -> Optional[Walk]:
    """A walk of the shortest length that has one (calling `asked`, if given), or None."""
    found = walks_of(domain, options, max_len, asked)
    return found[0] if found else None


class Reach:
    """Targeted reachability questions over one domain's feeding graph (plan/scope.py)."""

    def __init__(self, domain: Domain, max_len: int, planner: Optional[Planner] = None):
        self.domain = domain
        self.max_len = max_len
        self.planner = planner or Planner(domain)
        self.fed_by = self.planner.scopes.fed_by
        self.feeds: dict[str, list[str]] = {t: [] for t in domain.tools}
        for b, us in self.fed_by.items():
            for u in us:
                self.feeds[u].append(b)
        self.solves = 0  # questions asked of the solver (for reports and tests)
        self.quick_hits = 0  # questions answered by a small scope (quick_scopes, goal_walk)

    @staticmethod
    def _bfs(start: Iterable[str], edges: dict[str, list[str]], limit: int) -> dict[str, int]:
        seen = {s: 0 for s in start}
        queue = deque(seen)
        while queue:
            t = queue.popleft()
            if seen[t] >= limit:
                continue
            for u in edges[t]:
                if u not in seen:
                    seen[u] = seen[t] + 1
                    queue.append(u)
        return seen

    def bound(self, tool: str, goals: Iterable[str]) -> Optional[int]:
        """The largest useful budget for a question about `tool` and walks to one of `goals`
        (None: the tool feeds none of them within the bound)."""
        to_goal = self._bfs(sorted(goals), self.fed_by, self.max_len - 1)
        if tool not in to_goal:
            return None
        return self.max_len - 1 - to_goal[tool]

    def scope(self, tool: str, goals: Iterable[str], budget: int) -> frozenset[str]:
        """The tools a walk of <= max_len steps to one of `goals` that calls `tool` can use,
        when the tools off the chains from `tool` to those goals are at most `budget` feeding
        steps from them."""
        room = self.max_len - 1
        to_goal = self._bfs(sorted(goals), self.fed_by, room)
        from_tool = self._bfs([tool], self.feeds, room)
        chain = {x for x in from_tool if x in to_goal and from_tool[x] + to_goal[x] <= room}
        return frozenset(self._bfs(sorted(chain), self.fed_by, budget))

    def options(self, goal: Optional[str], tools: frozenset) -> AspOptions:
        return AspOptions(default_slots=self.planner.default_slots, target=goal, tools=tools, read_fields_only=True,
                          lean_links=True)

    def walk_calling(self, tool: str, goals: Iterable[str]) -> Optional[Walk]:
        """A walk of at most max_len steps that calls `tool` and ends in one of `goals` (or in
        another goal the chains from the tool pass through: any walk found is a walk), or None
        when there is none (proved by the last, exact, question)."""
        goals = sorted(goals)
        top = self.bound(tool, goals)
        if top is None:
            return None
        last: Optional[frozenset] = None
        for budget in range(top + 1):
            tools = self.scope(tool, goals, budget)
            if tools == last:
                continue  # widening added nothing: the same question again
            last = tools
            self.solves += 1
            target = goals[0] if len(goals) == 1 else None
            w = first_walk(self.domain, self.options(target, tools), self.max_len,
                           None if [tool] == goals else tool)
            if w is not None:
                return w
        return None

    def _supply(self, tools: set[str], tool: str, depth: int = 2) -> None:
        """Add to `tools` a supplier for each record `tool` takes that none of them reveals (the
        one needing least itself, then by name), and theirs, `depth` deep. The actor needs no
        supplier: the user says who they are."""
        scopes = self.planner.scopes
        for ent in sorted(scopes.needs[tool] - {self.domain.actor}):
            if depth == 0 or any(ent in scopes.provides.get(u, ()) for u in tools if u != tool):
                continue
            options = sorted((len(scopes.needs[u]), u) for u, out in scopes.provides.items() if ent in out and u != tool)
            if options:
                u = options[0][1]
                tools.add(u)
                self._supply(tools, u, depth - 1)

    def quick_scopes(self, tool: str) -> list[frozenset]:
        """Small scopes likely to hold a walk that calls `tool` (one ending in any goal): the
        tool with the goals it feeds directly, those taking what only it gives first (4, then 8
        more); the tool alone, when it is a goal itself; the tool with lookups it feeds and a
        goal each of those feeds (4) - each with its suppliers. Capped, since a lookup that
        reveals a person feeds every goal that takes one."""
        scopes = self.planner.scopes
        goals = set(self.planner.goals())
        given = scopes.provides.get(tool, set()) | {self.domain.actor}

        def rank(c: str, *more: str) -> tuple:
            # consumers of what only this tool gives first (not the shared actor's entity: every
            # module's goals take a person), then those needing least else
            own = len(scopes.needs[c] & (given - {self.domain.actor}))
            return (-own, sum(len(scopes.needs[n] - given) for n in (c, *more)), c)

        direct = sorted((c for c in self.feeds[tool] if c in goals), key=rank)
        two = []
        for c in self.feeds[tool]:
            ends = [] if c in goals else sorted(self.feeds[c], key=lambda g: (g not in goals, rank(g)))
            if ends and ends[0] in goals:
                two.append((rank(c, ends[0]), c, ends[0]))
        starts = [[tool, *direct[:4]], [tool, *direct[4:12]], [tool] if tool in goals else [],
                  [tool] + [x for _n, c, g in sorted(two)[:4] for x in (c, g)]]
        out: list[frozenset] = []
        for start in starts:
            if not start or (len(start) < 2 and tool not in goals):
                continue
            tools = set(start)
            for t in sorted(tools):
                self._supply(tools, t)
            if frozenset(tools) not in out:
                out.append(frozenset(tools))
        return out

    def quick_walk(self, tool: str) -> Optional[Walk]:
        """A walk of at most max_len steps calling `tool`, found in one of its quick scopes, or
        None (which proves nothing: ask `walk_calling`)."""
        for tools in self.quick_scopes(tool):
            self.solves += 1
            w = first_walk(self.domain, self.options(None, tools), self.max_len, tool)
            if w is not None:
                self.quick_hits += 1
                return w
        return None

    def goal_walk(self, goal: str) -> Optional[Walk]:
        """A walk to `goal` at all (is the goal feasible for the planner?), or None: asked first
        of the goal with its suppliers (quick; a walk there is a walk), then exactly."""
        tools = {goal}
        self._supply(tools, goal)
        self.solves += 1
        w = first_walk(self.domain, self.options(goal, frozenset(tools)), self.max_len)
        if w is not None:
            self.quick_hits += 1
            return w
        return self.walk_calling(goal, [goal])

    def enumerable(self, goal: str) -> bool:
        """Is the goal's walk space small enough to enumerate (its scope, ENUMERATE_SCOPE)?"""
        return len(self.planner.scopes.tools_for(goal, self.max_len)) <= ENUMERATE_SCOPE

    def asked_goals(self) -> list[str]:
        """The goals to ask targeted questions of instead of enumerating: none when every goal is
        small enough to enumerate, else all of them - in a spec that large even a small goal's
        walks are too many (every combination of the shared actor's links is a walk of its own:
        3,362 one-step walks of one goal at 200 tools)."""
        goals = self.planner.goals()
        return [] if all(self.enumerable(g) for g in goals) else goals

    def near_scope(self, goal: str, feeders: int = 6) -> frozenset:
        """The goal, a few of the lookups that feed it (those giving what the goal takes besides
        the actor first) and the suppliers of each: where `sample` draws varied walks to it."""
        scopes = self.planner.scopes
        actor = self.domain.actor

        def rank(u: str) -> tuple:
            own = len(scopes.needs[goal] & (scopes.provides.get(u, set()) - {actor}))
            return (-own, len(scopes.needs[u]), u)

        tools = {goal, *sorted(self.fed_by[goal], key=rank)[:feeders]}
        for t in sorted(tools):
            self._supply(tools, t)
        return frozenset(tools)

    def cover(self, goals: Optional[list[str]] = None, reached: Optional[set] = None,
              workers: int = 1, known: frozenset = frozenset()) -> dict[str, list[Walk]]:
        """Walks that together call every tool some walk of at most max_len steps to one of
        `goals` calls, by the goal they end in: first a walk to each goal, then for each tool no
        walk found so far calls, one question "a walk to any of these goals calls it". (A walk
        found may end in a goal not asked about - it still shows the tool reachable; it is kept
        under that goal when the caller asked for it.)

        The questions are independent, so `workers` processes ask them: the goals' all at once,
        the tools' TOOL_BATCH at a time (the next batch is the first tools still unreached), so
        which questions are asked, and so the answer, does not depend on `workers`.

        `known`: goals the caller already has a walk to (a draw near the goal found one): their
        own question is not asked, and the tools' questions may end in them."""
        goals = self.planner.goals() if goals is None else goals
        out: dict[str, list[Walk]] = {g: [] for g in goals}
        # (a tool's quick walk may end in any goal, the exact question in one of `goals`: both
        # show the tool reachable, and a walk is kept under its goal when that goal was asked)
        reached = set() if reached is None else reached  # (grows: the caller's known tools)

        def ask(question: tuple) -> tuple:  # (the workers fork before `live` is known: it is passed)
            solves, quick = self.solves, self.quick_hits
            kind, name, live = question
            w = self.goal_walk(name) if kind == "goal" else (self.quick_walk(name) or self.walk_calling(name, live))
            counted = self.solves - solves, self.quick_hits - quick
            self.solves, self.quick_hits = solves, quick  # (`take` counts them, wherever this ran)
            return (w, *counted)

        def take(answers: list) -> None:
            for w, solves, quick in answers:
                self.solves += solves
                self.quick_hits += quick
                if w is not None:
                    end = w.steps[-1].tool
                    if end in out:
                        out[end].append(w)
                    reached.update(s.tool for s in w.steps)

        with mapper(ask, workers) as run:
            take(run([("goal", g, ()) for g in goals if g not in known]))
            live = tuple(g for g in goals if out[g] or g in known)
            pending = [t for t in sorted(self.domain.tools) if t not in reached]
            while pending and live:
                batch, pending = pending[:TOOL_BATCH], pending[TOOL_BATCH:]
                take(run([("tool", t, live) for t in batch]))
                pending = [t for t in pending if t not in reached]
        return out

    def sample(self, goal: str, seed: int, per_length: int = 1) -> list[Walk]:
        """Walks to `goal` drawn with randomized decisions from one program grounded for the
        goal's near scope (`near_scope`; all its feeders within a step were most of a large spec):
        up to `per_length` of each length, a function of (spec, goal, seed)."""
        tools = self.near_scope(goal)
        return walks_of(self.domain, self.options(goal, tools), self.max_len, seed=seed,
                        per_length=per_length, first_only=False)


def reachable_tools(domain: Domain, max_len: int, planner: Optional[Planner] = None) -> set[str]:
    """Every tool some single-goal walk of at most `max_len` steps calls, by targeted questions."""
    walks = Reach(domain, max_len, planner).cover()
    return {s.tool for ws in walks.values() for w in ws for s in w.steps}
