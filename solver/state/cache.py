"""A walk's encoding built once and copied into each task's own Z3 context.

Building a walk's constraint system term by term through z3's Python API costs more than solving
it, and a walk is solved many times (once per task drawn for it, each with other hints). So the
system is built once per *encoding key* - everything `build_plan` reads: the walk, the near
misses planned for it and the string codes - in a long-lived build context that is never solved
in, and every task gets a copy made by Z3's own AST translation into a fresh context.

Why this keeps a task a function of (walk, seed, index): the copy is made by translating the
same terms in the same order, so the task's context holds the same terms, created in the same
order, whether the entry was built for this task or for an earlier one, in this process or
another. The build context's history (other walks built before) changes no term: z3's API makes
terms as asked, without normalising, and equal terms are one term in any context. Every task goes
through the copy - a cache miss builds the entry and then copies it like a hit does - so there
is one path, not two.
"""

from __future__ import annotations

import copy
import weakref
from collections import OrderedDict
from typing import Any, Optional

import z3

from ..plan.walk import Walk
from ..spec import grammar as E
from ..spec.model import Domain
from .constraints import Plan, build_plan
from .world import Symbols, Unsupported, lia_solver


def planned_key(p) -> tuple:
    """What `build_plan` reads of one planned near miss (distractors.Planned)."""
    part = p.part
    if isinstance(part, E.Node):
        part = ("node", E.unparse(part))
    elif part is not None:
        part = tuple(part)
    return (p.name, p.kind, p.step, p.reference, p.entity, p.target, part, p.breaks, p.selection)


def encoding_key(walk: Walk, planned: list, symbols: Symbols) -> tuple:
    """Everything the encoding of `walk` depends on, for one domain."""
    return (walk.model_dump_json(), tuple(planned_key(p) for p in planned), tuple(symbols.code.items()))


class _Entry:
    """One built encoding: the plan in the build context and the terms to copy, in order."""

    def __init__(self, plan: Plan, symbols: Symbols):
        self.plan = plan
        self.symbols = symbols  # the string codes as the build left them
        w = plan.world
        vec = z3.AstVector(z3.z3core.Z3_solver_get_assertions(w.ctx.ref(), w.solver.solver), w.ctx)
        self.asserted = len(vec)
        self.index: dict[int, int] = {}
        self.kinds: list[type] = []
        self._keep: list = []  # the terms indexed by id(): kept alive so their ids stay theirs
        for term in _terms(plan):
            if id(term) not in self.index:
                self.index[id(term)] = len(self.kinds)
                self.kinds.append(type(term))
                self._keep.append(term)
                vec.push(term)
        self.vector = vec
        w.solver = None  # the build context is never solved in

    def copy_into(self) -> Plan:
        """The plan in a fresh context of its own, holding a translated copy of every term."""
        ctx = z3.Context()
        solver = lia_solver(ctx)
        ref = ctx.ref()
        raw = z3.z3core.Z3_ast_vector_translate(self.vector.ctx.ref(), self.vector.vector, ref)
        moved = z3.AstVector(raw, ctx)
        get = z3.z3core.Z3_ast_vector_get
        for i in range(self.asserted):
            z3.z3core.Z3_solver_assert(ref, solver.solver, get(ref, moved.vector, i))
        kinds = self.kinds
        base = self.asserted
        new = [kinds[i](get(ref, moved.vector, base + i), ctx) for i in range(len(kinds))]
        index = self.index

        def f(v: Any) -> Any:
            return new[index[id(v)]] if isinstance(v, z3.ExprRef) else v

        src = self.plan
        world = src.world.copy_into(ctx, solver, self.symbols.copy(), f)
        distractors = []
        for p in src.distractors:
            q = copy.copy(p)
            q.visible = f(p.visible)
            distractors.append(q)
        return Plan(
            world=world,
            arg_terms=[{k: f(v) for k, v in d.items()} for d in src.arg_terms],
            selections=list(src.selections),
            states=[{k: f(v) for k, v in s.items()} for s in src.states],
            requirements=[(k, s, f(c)) for k, s, c in src.requirements],
            distractors=distractors,
            witnesses=list(src.witnesses),
            branches=[(name, f(c)) for name, c in src.branches],
            free=src.free,
        )


def _terms(plan: Plan):
    """Every Z3 term a plan holds, in a fixed order (the order decides the copy's term ids)."""
    w = plan.world
    for v in w.vars.values():
        yield v.term
    for t in w.tracked:
        yield t.literal
    for g in sorted(w._presence):
        yield w._presence[g]
    yield from w.symbol_vars
    for states in (plan.states, [w.state]):
        for s in states:
            for v in s.values():
                if isinstance(v, z3.ExprRef):
                    yield v
    for d in plan.arg_terms:
        for v in d.values():
            if isinstance(v, z3.ExprRef):
                yield v
    for _k, _s, c in plan.requirements:
        if isinstance(c, z3.ExprRef):
            yield c
    for _n, c in plan.branches:
        yield c
    for p in plan.distractors:
        if isinstance(p.visible, z3.ExprRef):
            yield p.visible


class PlanCache:
    """Built encodings of one domain's walks (at most `limit`, least recently used dropped)."""

    def __init__(self, domain: Domain, limit: int = 512):
        self.domain = weakref.ref(domain)
        self.limit = limit
        self.ctx = z3.Context()  # the build context: terms only, never solved in
        self.entries: OrderedDict[tuple, Any] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def plan(self, domain: Domain, walk: Walk, symbols: Symbols, planned: list) -> Plan:
        """The encoding of `walk` with these near misses in a fresh context (raises Unsupported
        as build_plan does)."""
        assert self.domain() is domain, "a PlanCache serves one domain"
        key = encoding_key(walk, planned, symbols)
        entry = self.entries.get(key)
        if entry is None:
            self.misses += 1
            built = symbols.copy()
            try:
                entry = _Entry(build_plan(domain, walk, built, planned, ctx=self.ctx), built)
            except Unsupported as e:
                entry = e
            self.entries[key] = entry
            if len(self.entries) > self.limit:
                self.entries.popitem(last=False)
        else:
            self.hits += 1
            self.entries.move_to_end(key)
        if isinstance(entry, Unsupported):
            raise Unsupported(str(entry))
        return entry.copy_into()


_CACHES: dict[int, PlanCache] = {}


def plan_cache(domain: Domain) -> PlanCache:
    """The process's cache for `domain` (dropped with the domain)."""
    cache = _CACHES.get(id(domain))
    if cache is None or cache.domain() is not domain:
        cache = _CACHES[id(domain)] = PlanCache(domain)
        weakref.finalize(domain, _CACHES.pop, id(domain), None)
    return cache
