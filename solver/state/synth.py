"""Stage 4: solve for a database that makes a walk executable, and check its descriptions.

For one walk and one seed: the walk's constraint system (constraints.py) is solved with seeded
realistic hints (solve.py); the model becomes records, with ids, generated text and background
records (fill.py); the walk is replayed on the plain-Python runtime and cross-checked against the
model, and every description is checked to pick out one record (replay.py). The result is a
`Scenario` (scenario.py), a function of (walk, seed) only.
"""

from __future__ import annotations

import random
from typing import Any, Optional

import z3

from ..plan.walk import Walk
from ..spec import types as T
from ..spec.model import Domain
from .fill import add_background, assign_ids, distractor_records, fill_generated, remove_background
from .replay import cross_check, first_ambiguity, check_unique, quantifier_blockers, replay_walk
from .scenario import Infeasible, ReplayMismatch, ReplayRecord, Scenario, StepFailed, SynthOptions
from .cache import PlanCache
from .solve import model_value, solve_walk
from .world import SYMBOL_BASE, Symbols

__all__ = ["synthesize", "Infeasible", "ReplayMismatch", "Scenario", "SynthOptions"]


def synthesize(domain: Domain, walk: Walk, seed: int, options: Optional[SynthOptions] = None,
               symbols: Optional[Symbols] = None, timings: Optional[dict] = None,
               shape: Optional[dict] = None, fixed: frozenset = frozenset(),
               cache: Optional[PlanCache] = None) -> Scenario:
    """Solve `walk` into a checked Scenario, or raise Infeasible with the reason.

    `shape`: starting values drawn for the walk's records ({"object.field": value}, plan/shapes.py);
    those named in `fixed` must hold (a core of kind "shape" if they cannot), the rest are hints.

    `cache`: where the walk's encoding is built once (state/cache.py; the domain's own if None) -
    the result is the same whichever cache, hit or miss.

    `timings`, when given, accumulates seconds per part: solve, fill, replay, unique (the uniqueness checks)."""
    import time

    timings = timings if timings is not None else {}
    clock = [time.perf_counter()]

    def lap(name: str) -> None:
        now = time.perf_counter()
        timings[name] = timings.get(name, 0.0) + now - clock[0]
        clock[0] = now

    options = options or SynthOptions()
    rng = random.Random(seed)
    symbols = symbols or Symbols(domain)
    try:
        plan, model, solve_rec = solve_walk(domain, walk, rng, options, symbols, shape, fixed, cache)
    finally:
        lap("solve")
    w = plan.world

    # --- concrete records for the walk's initial objects and the near misses kept
    present = [o for o in plan.witnesses if z3.is_true(model.eval(w.presence(o), model_completion=True))]
    objects = walk.initial_objects() + [o for p in plan.distractors for o in p.objects] + present
    entity_of = {o: w.entity_of[o] for o in objects}
    ids = assign_ids(domain, walk, plan, model, entity_of, rng)
    db: dict[str, dict] = {e: {} for e in domain.entities}
    initial_state = plan.states[0]
    for oname in objects:
        ent = domain.entities[entity_of[oname]]
        rec: dict[str, Any] = {"id": ids[oname]}
        for f in ent.fields.values():
            if (oname, f.name) in plan.free:  # read by no constraint: the value sampled for it
                value = plan.free_values.get((oname, f.name))
                rec[f.name] = None if value is None else T.encode(f.type, value)
                continue
            term = initial_state[(oname, f.name)]
            if f.type.kind == "ref":
                rec[f.name] = None if term is None else ids[term.name]
            elif f.type.kind == "str" and not f.type.values:
                rec[f.name] = None  # generated below
            else:
                rec[f.name] = T.encode(f.type, model_value(w, model, term, f.type))
        db[ent.name][ids[oname]] = rec
    symbol_text = fill_generated(domain, db, objects, entity_of, ids, initial_state, model)

    # --- scalar arguments of every call
    arg_values: list[dict[str, Any]] = []
    for k, step in enumerate(walk.steps):
        tool = domain.tools[step.tool]
        vals = {}
        for a in tool.args.values():
            if a.is_ref:
                continue
            term = plan.arg_terms[k][a.name]
            if a.type.kind == "str" and not a.type.values:
                # a generated string (an email): the text of the record holding the same symbol
                code = model.eval(term, model_completion=True).as_long()
                vals[a.name] = symbol_text.get(code) or f"unknown-{code - SYMBOL_BASE}"
            else:
                vals[a.name] = T.encode(a.type, model_value(w, model, term, a.type))
        arg_values.append(vals)

    # --- background records, then replay and keep only background that leaves every
    #     description unique
    n_background = add_background(domain, db, ids, walk, rng, options)
    lap("fill")
    for _attempt in range(50):
        try:
            replay = replay_walk(domain, walk, db, ids, arg_values)
        except StepFailed as e:
            blockers = quantifier_blockers(domain, walk, e, set(ids.values()), ids[walk.actor])
            if not blockers:
                raise
            for entity, rid in blockers:
                remove_background(domain, db, entity, rid)
                n_background -= 1
            continue
        bad = first_ambiguity(domain, walk, replay, ids)
        if bad is None:
            break
        entity, rid = bad
        if rid in set(ids.values()) or rid not in db.get(entity, {}):
            raise Infeasible(f"walk record {rid} competes with a selected record")
        remove_background(domain, db, entity, rid)
        n_background -= 1
    else:
        raise Infeasible("could not place background records without ambiguity")

    gold, outputs, answers, final_db, snapshots, all_ids = replay
    compared = cross_check(domain, walk, w, model, plan.states[-1], final_db, all_ids)
    lap("replay")
    checks = [
        check_unique(domain, snapshots[k], ref, all_ids[obj], all_ids[walk.actor], k)
        for (k, obj, _e, ref) in plan.selections
    ]
    lap("unique")
    records = distractor_records(domain, walk, plan, all_ids, outputs)
    return Scenario(
        walk=walk,
        seed=seed,
        initial_db=db,
        ids=all_ids,
        gold=gold,
        outputs=outputs,
        answers=answers,
        final_db=final_db,
        selections=checks,
        distractors=records,
        solve=solve_rec,
        replay=ReplayRecord(
            steps=sum(1 for st in walk.steps if st.refuse is None),
            succeeded=sum(1 for st, out in zip(walk.steps, outputs) if st.refuse is None
                          and not (isinstance(out, str) and out.startswith("Error:"))),
            refused=sum(1 for st, out in zip(walk.steps, outputs) if st.refuse is not None
                        and out == f"Error: {domain.tools[st.tool].requires[st.refuse - 1].error}"),
            fields_compared=compared,
            background_records=n_background,
        ),
    )
