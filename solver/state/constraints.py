"""A walk as a Z3 constraint system: every field of every record it touches a variable, each
step's preconditions on the state threaded through the earlier steps, invariants and ranges in
every state, selected records listed and described uniquely, near misses that change what a
wrong pick would do."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import z3

from ..plan.walk import Walk
from ..spec import grammar as E
from ..spec.meaning import TARGET, describe
from ..spec.model import CreateEffect, Domain, Reference, SetEffect
from . import distractors as D
from .witnesses import add_witnesses
from .world import Obj, Symbols, Unsupported, World


@dataclass
class Plan:
    """A walk's constraint system and the handles later parts (and tests) need."""

    world: World
    arg_terms: list[dict[str, Any]]  # per step: scalar arg -> term/code
    selections: list[tuple[int, str, str, Reference]]  # (step, object, entity, reference)
    states: list[dict]  # state snapshot before each step, and the final one
    requirements: list[tuple[int, str, Any]]  # (step, source text, Z3 condition) of every precondition
    distractors: list = field(default_factory=list)  # distractors.Planned
    witnesses: list = field(default_factory=list)  # records a quantifier may need (kept if the model uses them)
    branches: list = field(default_factory=list)  # (coverage name, Z3 condition): sides the solver may be steered to
    # (object, field) -> FreeField: initial values no constraint reads (no variable; sampled)
    free: dict = field(default_factory=dict)
    free_values: dict = field(default_factory=dict)  # (object, field) -> value, set by the solve


def describe_term(w: World, ref: Reference, o: Obj, target: Obj, actor: Obj):
    """Z3 condition: object `o` fits the description the user gives of `target`."""
    env = w.description_env(ref, o, target, actor)
    parts = [w.enc(p.node, env) for p in describe(w.d, ref).parts]
    if any(x is False for x in parts):
        return False
    parts = [x for x in parts if x is not True]
    return True if not parts else z3.And([w.as_bool(x) for x in parts])


def beats(w: World, ref: Reference, target: Obj, o: Obj):
    """Z3 condition: `target` ranks strictly before `o`."""
    d = describe(w.d, ref)
    return w.enc(d.rank, {d.record: o, TARGET: target})


def build_plan(domain: Domain, walk: Walk, symbols: Symbols, planned: Optional[list] = None,
               ctx: Optional[z3.Context] = None, lazy: bool = True) -> Plan:
    """The walk's constraint system (in `ctx`, a fresh context if None; state/cache.py builds
    each walk's once and copies it into every task's context). `lazy`: fields no constraint reads
    get no variable (`Plan.free`); False makes them all, as tests compare."""
    w = World(domain, symbols, ctx, lazy=lazy)
    w.actor = walk.actor
    actor = Obj(walk.actor, domain.actor)
    for oname in walk.initial_objects():
        ent = walk.objects[oname]
        links = {k.split(".", 1)[1]: v for k, v in walk.links.items() if k.split(".", 1)[0] == oname}
        w.add_object(oname, ent, links)
    planned = planned or []
    D.add_objects(w, domain, planned)
    witnesses = add_witnesses(w, domain, walk)
    initial = walk.initial_objects() + [o for p in planned for o in p.objects] + witnesses
    w.check_invariants(initial, "initially")
    w.check_history(initial, "initially")
    _unique(w, domain, initial, "initially")
    for p in planned:
        if not p.selection:
            D.constrain(w, domain, p, actor, "initially")
    arg_terms: list[dict[str, Any]] = []
    selections = []
    states = []
    requirements = []
    branches: list = []
    for k, step in enumerate(walk.steps):
        tool = domain.tools[step.tool]
        label = f"step {k + 1} ({tool.name})"
        w.step = k
        states.append(w.snapshot())
        args: dict[str, Any] = {}
        for a in tool.args.values():
            if a.is_ref:
                continue
            if a.name in step.args and a.type.kind == "enum":
                args[a.name] = w.I(symbols.of(step.args[a.name]))
            elif a.name in step.args and a.type.kind == "bool":
                args[a.name] = step.args[a.name] == "true"
            else:
                args[a.name] = w.new_var(f"s{k + 1}.{a.name}", a.type)
        arg_terms.append(args)
        env = w.tool_env(tool, step.binds, args)
        if step.select is not None:
            listing = tool.returns.lists()
            target = w.obj(step.select.object)
            ref = domain.entities[listing.entity].refs[step.select.reference]
            if listing.where is not None:
                w.track(f"{label}: the record the user means is listed ({listing.where_src})",
                        w.enc(listing.where, {**env, listing.item: target}), "where")
            w.track(f"{label}: the record fits the description '{ref.name}'",
                    describe_term(w, ref, target, target, actor), "reference")
            for other in sorted(w.exists):
                if other == target.name or w.entity_of[other] != ref.entity:
                    continue
                o = w.obj(other)
                fits = describe_term(w, ref, o, target, actor)
                if ref.rank is not None:
                    clash = z3.And(w.as_bool(fits), z3.Not(beats(w, ref, target, o))) if fits is not False else False
                else:
                    clash = fits
                w.track(f"{label}: {other} must not also fit '{ref.name}'",
                        z3.Not(w.as_bool(clash)) if not isinstance(clash, bool) else (not clash), "reference",
                        objects=(target.name, other))
            selections.append((k, step.select.object, listing.entity, ref))
            for p in planned:
                if p.selection and p.step == k:
                    visible = False
                    if tool.returns.kind != "find":
                        visible = True if listing.where is None else \
                            w.enc(listing.where, {**env, listing.item: w.obj(p.name)})
                    D.constrain(w, domain, p, actor, label, visible)
            env[listing.item] = target
        if step.refuse is not None:
            # the user's request must be refused: the earlier requirements hold, this one fails,
            # and nothing changes; a near miss in the target's place would be allowed
            r = step.refuse - 1
            for i, req in enumerate(tool.requires[:r]):
                cond = w.enc(req.expr, env)
                requirements.append((k, req.src, cond))
                w.track(f"{label} requires {req.src}", cond, "requires")
            if step.conditional:
                # a conditional request fails only for the rule the user anticipated: with that one
                # met it would go through (the other branch of the instruction, tasks/branches.py)
                for req in tool.requires[r + 1:]:
                    w.track(f"{label} (conditional) would pass {req.src} (line {req.line})", w.enc(req.expr, env),
                            "requires")
            failing = tool.requires[r]
            cond = w.enc(failing.expr, env)
            w.track(f"{label} must be refused: {failing.src} (line {failing.line}) is false",
                    (not cond) if isinstance(cond, bool) else z3.Not(cond), "refusal")
            for p, env2 in _swapped_envs(w, walk, planned, k, tool, step, args):
                try:
                    w.track(f"{label}: near miss {p.name} would be allowed", w.enc(failing.expr, env2),
                            "distractor", group=p.name)
                except Unsupported:
                    pass
            continue
        for lname, node, _t in tool.lets:
            if isinstance(node, E.IfElse):
                cond = w.as_bool(w.enc(node.cond, env))
                if not isinstance(cond, bool):
                    branches += [(f"{tool.name}.let.{lname}.then", cond), (f"{tool.name}.let.{lname}.else", z3.Not(cond))]
        for i, req in enumerate(tool.requires):
            cond = w.enc(req.expr, env)
            requirements.append((k, req.src, cond))
            w.track(f"{label} requires {req.src} (line {req.line})", cond, "requires")
            if isinstance(req.expr, E.BoolOp) and req.expr.op == "or":
                for j, v in enumerate(req.expr.values):
                    side = w.as_bool(w.enc(v, env))
                    if not isinstance(side, bool):
                        branches.append((f"{tool.name}.requires[{i + 1}].or[{j + 1}]", side))
        if step.ask and tool.answer is not None and tool.returns.kind != "find":
            _distinct_answers(w, domain, walk, planned, k, tool, step, args, env, label)
        if tool.is_write and planned:
            _distinct_effects(w, walk, planned, k, tool, step, args, env, label)
        pre = w.snapshot()
        pre_exists = set(w.exists)
        touched = w.apply_effects(tool, env, step.creates, label)
        if tool.is_write:
            changes = []
            # touched records' fields in a fixed order (not the state's: a lazy world's follows
            # which field was read first)
            for oname, fname in ((o, f) for o in sorted(touched) if o in w.entity_of
                                 for f in w.d.entities[w.entity_of[o]].fields):
                if (oname, fname) not in w.state or (oname, fname) not in pre:
                    continue
                v, before = w.state[(oname, fname)], pre[(oname, fname)]
                if before is not v:
                    if isinstance(v, Obj) or v is None or before is None:  # a link (None: empty)
                        changes.append(not w.same(v, before))
                    else:
                        changes.append(z3.Not(w.as_bool(w.same(v, before))))
            structural = w.exists != pre_exists
            if not structural:
                if any(c is True for c in changes):
                    pass
                else:
                    real = [c for c in changes if not isinstance(c, bool)]
                    w.track(f"{label} changes something", z3.Or(real) if real else False, "change")
        w.check_invariants(touched, f"after {label}")
        w.check_ranges(touched, pre, f"after {label}")
        created = [o for o in step.creates.values()]
        if created:
            _unique(w, domain, list(w.exists), f"after {label}")
    states.append(w.snapshot())
    states, free = w.freeze(states)
    plan = Plan(w, arg_terms, selections, states, requirements, planned, free=free)
    plan.witnesses = witnesses
    plan.branches = branches
    return plan


def _swap_map(w: World, walk: Walk, target: str, near: str) -> dict[str, str]:
    """Walk objects as they would be if the agent took `near` for `target`: the target and every
    record reached from it through the walk's links."""
    m = {target: near}
    frontier = [target]
    while frontier:
        obj = frontier.pop()
        for key, other in walk.links.items():
            o, f = key.split(".", 1)
            if o == obj and other is not None and other not in m:
                linked = w.state.get((m[obj], f))
                if isinstance(linked, Obj):
                    m[other] = linked.name
                    frontier.append(other)
    return m


def _swapped_envs(w: World, walk: Walk, planned: list, k: int, tool, step, args):
    """Each near miss placed by step k that this step would act on had the agent taken it for
    its target, with the step's environment in that case."""
    for p in planned:
        if p.step > k:
            continue
        m = _swap_map(w, walk, p.target, p.name)
        if not any(o in m for o in step.binds.values()):
            continue
        try:
            yield p, w.tool_env(tool, {v: m.get(o, o) for v, o in step.binds.items()}, args)
        except Unsupported:
            continue


def _distinct_answers(w: World, domain: Domain, walk: Walk, planned: list, k: int, tool, step, args, env,
                      label: str) -> None:
    """A near miss must not give the same answer as its target when the user asks about it
    (another flight with the same status would make a wrong pick pass)."""
    answer = w.enc(tool.answer, env)
    for p, env2 in _swapped_envs(w, walk, planned, k, tool, step, args):
        try:
            other = w.enc(tool.answer, env2)
        except Unsupported:
            continue
        differs = w.same(answer, other)
        differs = (not differs) if isinstance(differs, bool) else z3.Not(differs)
        w.track(f"{label}: near miss {p.name} gives another answer", differs, "distractor", group=p.name)


def _distinct_effects(w: World, walk: Walk, planned: list, k: int, tool, step, args, env, label: str) -> None:
    """A near miss taken for its target must make this write do something else - be refused,
    change another record, or write other values: a write that only copies the target's values
    (a follow-up in the same room, of the same length) would let a wrong pick pass."""
    def differ(a, b):
        s = w.same(a, b)
        return (not s) if isinstance(s, bool) else z3.Not(s)

    def record(e: dict, path: list[str]):
        o = e[path[0]]
        for f in path[1:-1]:
            o = w.field(o, f)
        return o

    for p, env2 in _swapped_envs(w, walk, planned, k, tool, step, args):
        try:
            options = [differ(w.as_bool(w.enc(req.expr, env2)), True) for req in tool.requires]
            for eff in tool.effects:
                if isinstance(eff, SetEffect):
                    options.append(differ(record(env, eff.target), record(env2, eff.target)))
                    options.append(differ(w.enc(eff.value, env), w.enc(eff.value, env2)))
                elif isinstance(eff, CreateEffect):
                    options += [differ(w.enc(node, env), w.enc(node, env2)) for node in eff.values.values()
                                if not (isinstance(node, E.Lit) and node.kind == "generated")]
                else:
                    options.append(differ(env[eff.var], env2[eff.var]))
        except (Unsupported, KeyError):  # reads a record this call creates: the state will differ
            continue
        if any(o is True for o in options):
            continue
        real = [o for o in options if not isinstance(o, bool)]
        w.track(f"{label}: near miss {p.name} would make this write do something else",
                z3.Or(real) if real else False, "distractor", group=p.name)


def _unique(w: World, domain: Domain, objects, label: str) -> None:
    by_entity: dict[str, list[str]] = {}
    for o in sorted(objects):
        if o in w.exists:
            by_entity.setdefault(w.entity_of[o], []).append(o)
    for ent, objs in by_entity.items():
        for f in domain.entities[ent].fields.values():
            if f.unique and len(objs) > 1:
                terms = [w.state[(o, f.name)] for o in objs]
                w.track(f"{label}: {ent}.{f.name} is unique", z3.Distinct(terms), "unique")
