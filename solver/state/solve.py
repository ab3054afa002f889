"""Solving a walk's constraints into a model, steered toward realistic values by seeded hints.

The walk's constraints are hard; near-miss records are soft (one presence literal each); hints
are softest - a hint in an unsat core is dropped and re-sampled. Half the tasks are steered to a
rare side of a branch their plan passes. The result depends only on (walk, seed)."""

from __future__ import annotations

import random
from typing import Any, Optional

import z3

from ..plan.walk import Walk
from ..spec import types as T
from ..spec.model import Domain
from . import distractors as D
from .cache import PlanCache, plan_cache
from .constraints import Plan
from .scenario import Infeasible, SolveRecord, SynthOptions
from .world import Obj, Symbols, Unsupported, World


STEER_SHARE = 0.5  # share of tasks steered to a random branch side


def solve(plan: Plan, rng: random.Random, rounds: int = 2, shape: Optional[dict] = None,
          fixed: frozenset = frozenset()) -> tuple[z3.ModelRef, SolveRecord, set[str]]:
    """Find a model, steering values toward seeded realistic hints.

    The walk's constraints are hard. Near-miss constraints are soft, by record: when they clash
    with the walk (the target's price is already the lowest possible), that near miss is dropped.
    Hints are softest: a hint in an unsat core is dropped first and re-sampled next round.
    Returns the model, the record, and the near misses kept."""
    w = plan.world
    shape = shape or {}
    for label in sorted(fixed):  # the drawn starting values: as hard as the walk's own conditions
        var = w.vars.get(label)
        if var is not None:
            value = shape[label]
            val = w.B(value) if var.type.kind == "bool" else w.I(hint_code(w, var.type, value))
            w.track(f"the drawn starting value {label} = {str(value).lower() if isinstance(value, bool) else value}",
                    var.term == val, "shape")
    hard = [t.literal for t in w.tracked if not t.group]
    soft: dict[str, list] = {}
    for t in w.tracked:
        if t.group:
            soft.setdefault(t.group, []).append(t)
    group_of = {t.name: t.group for t in w.tracked if t.group}
    kept_groups = set(soft)
    hint_vars = [v for v in w.vars.values() if not (v.type.kind == "str" and not v.type.values)]
    hints: dict[str, z3.BoolRef] = {}
    hint_var: dict[str, str] = {}
    checks = 0
    dropped_total = 0

    def add_hint(var, value) -> None:
        name = f"h{len(hint_var)}"
        lit = z3.Bool(name, ctx=w.ctx)
        val = w.B(value) if var.type.kind == "bool" else w.I(hint_code(w, var.type, value))
        w.add(z3.Implies(lit, var.term == val))
        hints[name] = lit
        hint_var[name] = var.label

    # a near miss starts from its target's values (it differs in one part), so its hints copy the
    # target's: far fewer clashes than sampling every field afresh
    templates = {o: t for p in plan.distractors for o, t in p.templates.items()}
    tied = {pair for p in plan.distractors for pair in p.tied}
    first: dict[str, Any] = {}
    for var in hint_vars:
        obj, _, fname = var.label.partition(".")
        src = templates.get(obj) if (obj, fname) in tied else None
        value = first.get(f"{src}.{fname}") if src else None
        if value is None and var.label in shape:
            value = shape[var.label]
        if value is None:
            value = T.sample(var.type, rng, var.typical)
        first[var.label] = value
        add_hint(var, value)
    # fields no constraint reads have no variable: they take the value their hint would have
    # forced (a near miss's tied field its target's, a drawn starting value, else a sample)
    free_values: dict[tuple[str, str], Any] = {}
    for (obj, fname), ff in plan.free.items():
        if ff.type.kind == "str" and not ff.type.values:
            continue  # generated text (fill.py writes it)
        src = templates.get(obj) if (obj, fname) in tied else None
        value = (first.get(f"{src}.{fname}", free_values.get((src, fname)))) if src else None
        if value is None and ff.label in shape:
            value = shape[ff.label]
        if value is None:
            value = T.sample(ff.type, rng, ff.typical)
        free_values[(obj, fname)] = value
    plan.free_values = free_values
    order = list(hints)
    rng.shuffle(order)
    active = list(order)
    # steer half the tasks to one side of a branch the walk passes (a meeting across midnight, the
    # second way to meet an `or`): sampled values take the common side almost always
    steer: list = []
    if plan.branches and rng.random() < STEER_SHARE:
        _name, cond = plan.branches[rng.randrange(len(plan.branches))]
        lit = z3.Bool("steer", ctx=w.ctx)
        w.add(z3.Implies(lit, cond))
        steer.append(lit)
    for round_no in range(rounds + 1):
        while True:
            checks += 1
            soft_lits = [w.presence(g) if g in kept_groups else z3.Not(w.presence(g)) for g in sorted(soft)]
            r = w.check(hard + soft_lits + steer + [hints[h] for h in active])
            if r == z3.sat:
                break
            if r != z3.unsat:
                raise Infeasible("the solver gave up on this walk")
            core = {c.decl().name() for c in w.solver.unsat_core()}
            core_hints = [h for h in active if h in core]
            if core_hints:
                # drop every hint in the core at once; dropped variables get fresh hints next round
                for h in core_hints:
                    active.remove(h)
                dropped_total += len(core_hints)
                continue
            if steer and "steer" in core:
                steer = []
                continue
            clashing = {group_of[c] for c in core if c in group_of}
            if clashing:
                kept_groups -= clashing
                continue
            items = [t for t in w.tracked if t.name in core and not t.group]
            raise Infeasible("the walk's conditions cannot all hold", [t.label for t in items],
                             [t.step for t in items], [t.kind for t in items], [t.objects for t in items])
        if round_no == rounds:
            break
        # re-hint variables whose hints were dropped, with fresh samples
        kept_vars = {hint_var[h] for h in active}
        redo = [v for v in hint_vars if v.label not in kept_vars]
        if not redo:
            break
        fresh = []
        for var in redo:
            before = set(hints)
            add_hint(var, T.sample(var.type, rng, var.typical))
            fresh.extend(h for h in hints if h not in before)
        active.extend(fresh)
    model = w.solver.model()
    rec = SolveRecord(
        variables=len(w.vars),
        constraints=len(w.tracked),
        checks=checks,
        hints_kept=len({hint_var[h] for h in active}),
        hints_dropped=dropped_total,
        distractors_planned=len(soft),
        distractors_dropped=len(soft) - len(kept_groups),
    )
    return model, rec, kept_groups


def hint_code(w: World, t: T.VType, value: Any) -> int:
    if t.kind in ("enum", "str"):
        return w.sym.of(value)
    return int(value)


def model_value(w: World, model: z3.ModelRef, term, t: T.VType) -> Any:
    """Internal-form value of a term in the model."""
    if isinstance(term, Obj):
        return term
    if isinstance(term, bool):
        return term
    v = model.eval(term, model_completion=True)
    if t.kind == "bool":
        return z3.is_true(v)
    n = v.as_long()
    if t.kind == "enum" or (t.kind == "str" and t.values):
        return w.sym.names[n]
    return n


def solve_walk(domain: Domain, walk: Walk, rng: random.Random, options: SynthOptions,
               symbols: Symbols, shape: Optional[dict] = None,
               fixed: frozenset = frozenset(), cache: Optional[PlanCache] = None
               ) -> tuple[Plan, z3.ModelRef, SolveRecord]:
    """Encode and solve one walk: the Z3 part of `synthesize`, deterministic in `rng`'s state.
    The encoding comes from `cache` (the domain's own if None): built once per walk and near-miss
    plan, copied into this task's own context. `plan.distractors` is left holding only the near
    misses the model keeps."""
    planned = D.plan(domain, walk, rng, options.distractors)
    try:
        plan = (cache or plan_cache(domain)).plan(domain, walk, symbols, planned)
    except Unsupported as e:
        raise Infeasible(f"not encodable: {e}") from None
    model, rec, kept = solve(plan, rng, options.hint_rounds, shape, fixed)
    plan.distractors = [p for p in plan.distractors if p.name in kept]
    return plan, model, rec
