"""Stage 4: solve for a database that makes a walk executable, and prove its references unique.

For one walk and one seed: every field of every record the walk touches becomes a Z3 variable;
each step's preconditions must hold on the state threaded through the earlier steps; entity
invariants hold in every state; selected records are listed by the tool that lists them, fit
the user's description, and beat every other record of the walk on it. Values are steered to
look realistic by seeded hints (assumptions dropped one by one from unsat cores), then the
database is filled with background records, replayed on the plain-Python runtime, cross-checked
against the Z3 model, and each description is proven to pick out one record by an UNSAT query
over the final database.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Optional

import z3
from pydantic import BaseModel, Field

from ..spec import grammar as E
from ..runtime import references as R
from ..spec import types as T
from ..spec.meaning import TARGET, describe
from ..spec.model import CreateEffect, Domain, Reference, SetEffect
from ..errors import ToolError
from ..runtime.execute import Evaluator, Ref, Runtime, copy_db, format_field, listed_ids, make_id
from . import distractors as D
from .distractors import DistractorOptions
from ..plan.walk import Walk
from .world import SYMBOL_BASE, Obj, Symbols, Unsupported, World, lia_solver


# ----------------------------------------------------------------------------- artefacts


class GoldCall(BaseModel):
    name: str
    arguments: dict[str, Any]


class SelectionProof(BaseModel):
    """Why a description picks out exactly one record."""

    step: int
    reference: str
    entity: str
    target: str
    stated: dict[str, Any] = Field(description="values the user states (path -> value)")
    where: Optional[str] = None
    scope: Optional[str] = None
    rank: Optional[str] = None
    candidates: int = Field(description="records of the entity in the database at that step")
    fit_filter: int = Field(description="records matching the stated values (ignoring rank/where)")
    solver: str = Field(description="'unsat': no other record fits the description as well")
    query: str


class DistractorRecord(BaseModel):
    """A near miss in the initial database and what it gets wrong."""

    id: str
    entity: str
    kind: str = Field(description="off_by_one | outranked | state_trap | look_alike")
    reference: str
    step: int
    target: str
    breaks: str = Field(description="the part of the description it does not fit")
    visible: bool = Field(description="listed by the tool the agent uses at that step")
    before_target: bool = Field(description="listed before the target (a careless reader takes it)")
    linked: list[str] = Field(default_factory=list, description="records created alongside it (e.g. its other flight)")


class SolveRecord(BaseModel):
    variables: int
    constraints: int
    checks: int
    hints_kept: int
    hints_dropped: int
    distractors_planned: int = 0
    distractors_dropped: int = 0


class Scenario(BaseModel):
    """A solved walk: initial database, concrete gold calls, and the proofs they rest on."""

    walk: Walk
    seed: int
    initial_db: dict
    ids: dict[str, str] = Field(description="walk object -> record id (created ones after replay)")
    gold: list[GoldCall]
    outputs: list[Any]
    answers: list[Optional[str]]
    final_db: dict
    selections: list[SelectionProof]
    distractors: list[DistractorRecord] = Field(default_factory=list)
    solve: SolveRecord
    background: int


@dataclass
class SynthOptions:
    background: float = 1.0  # multiplier on each entity's `count`
    hint_rounds: int = 2
    distractors: DistractorOptions = field(default_factory=DistractorOptions)


class Infeasible(Exception):
    """The walk cannot be made executable; `core` names the clashing conditions, `core_steps`
    and `core_kinds` say where they come from (what feasibility learning generalizes)."""

    def __init__(self, reason: str, core: Optional[list[str]] = None, core_steps: Optional[list[int]] = None,
                 core_kinds: Optional[list[str]] = None, core_objects: Optional[list[tuple]] = None):
        super().__init__(reason)
        self.reason = reason
        self.core = core or []
        self.core_steps = core_steps or []
        self.core_kinds = core_kinds or []
        self.core_objects = core_objects or []


# ----------------------------------------------------------------------------- the solver part


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


def build_plan(domain: Domain, walk: Walk, symbols: Symbols, planned: Optional[list] = None) -> Plan:
    w = World(domain, symbols)
    w.actor = walk.actor
    actor = Obj(walk.actor, domain.actor)
    for oname in walk.initial_objects():
        ent = walk.objects[oname]
        links = {k.split(".", 1)[1]: v for k, v in walk.links.items() if k.split(".", 1)[0] == oname}
        w.add_object(oname, ent, links)
    planned = planned or []
    D.add_objects(w, domain, planned)
    witnesses = _add_witnesses(w, domain, walk)
    initial = walk.initial_objects() + [o for p in planned for o in p.objects] + witnesses
    w.check_invariants(initial, "initially")
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
            for (oname, fname), v in w.state.items():
                if oname in touched and (oname, fname) in pre and pre[(oname, fname)] is not v:
                    changes.append(z3.Not(w.as_bool(w.same(v, pre[(oname, fname)]))) if not isinstance(v, Obj)
                                   else (not (isinstance(pre[(oname, fname)], Obj) and pre[(oname, fname)].name == v.name)))
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
    plan = Plan(w, arg_terms, selections, states, requirements, planned)
    plan.witnesses = witnesses
    plan.branches = branches
    return plan


def _resolve(walk: Walk, step, path: list[str]) -> Optional[str]:
    """The walk object a path from a tool's record variable denotes, if the walk fixes it."""
    if not path:
        return None
    obj = walk.actor if path[0] == "actor" else step.binds.get(path[0])
    for f in path[1:]:
        if obj is None:
            return None
        obj = walk.links.get(f"{obj}.{f}")
    return obj


def _add_witnesses(w: World, domain: Domain, walk: Walk) -> list[str]:
    """Records a quantifier may need to exist: one per `any(...)` a step requires, and per
    quantifier in a refused requirement (`none(m in meeting where m.room == room ...)` fails only
    if such a meeting exists). Each is optional - its presence literal is left to the solver - and
    linked to the records the quantifier's condition names."""
    out: list[str] = []
    for k, step in enumerate(walk.steps):
        tool = domain.tools[step.tool]
        if step.refuse is not None:
            roots = [tool.requires[step.refuse - 1].expr]
            wanted = ("any", "none", "count")
        else:
            roots = [r.expr for r in tool.requires]
            wanted = ("any",)
        for root in roots:
            for q in E.walk(root):
                if not isinstance(q, E.Quant) or q.kind not in wanted:
                    continue
                links: dict[str, str] = {}
                for c in E.conjuncts(q.cond):
                    if isinstance(c, E.Compare) and c.op == "==":
                        for a, b in ((c.left, c.right), (c.right, c.left)):
                            pa, pb = E.path_of(a), E.path_of(b)
                            if pa and len(pa) == 2 and pa[0] == q.var and pb and pb[0] != q.var:
                                target = _resolve(walk, step, pb)
                                if target is not None and a.type is not None and a.type.kind == "ref":
                                    links[pa[1]] = target
                name = f"w{len(out) + 1}"
                _witness(w, domain, q.entity, name, links)
                out.append(name)
    return out


def _witness(w: World, domain: Domain, entity: str, name: str, links: dict[str, str]) -> None:
    ent = domain.entities[entity]
    for f in ent.ref_fields():
        if f.name not in links:
            same = sorted(o for o, e in w.entity_of.items() if e == f.type.entity)
            if not same:
                raise Unsupported(f"no {f.type.entity} record for a witness {entity} to link to")
            links[f.name] = same[0]
    w.add_object(name, entity, links)
    w.object_group[name] = name  # optional: present only if the model says so


def _swap_map(w: World, walk: Walk, target: str, near: str) -> dict[str, str]:
    """Walk objects as they would be if the agent took `near` for `target`: the target and every
    record reached from it through the walk's links."""
    m = {target: near}
    frontier = [target]
    while frontier:
        obj = frontier.pop()
        for key, other in walk.links.items():
            o, f = key.split(".", 1)
            if o == obj and other not in m:
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


STEER_SHARE = 0.5  # share of tasks steered to a random branch side


def solve(plan: Plan, rng: random.Random, rounds: int = 2) -> tuple[z3.ModelRef, SolveRecord, set[str]]:
    """Find a model, steering values toward seeded realistic hints.

    The walk's constraints are hard. Near-miss constraints are soft, by record: when they clash
    with the walk (the target's price is already the lowest possible), that near miss is dropped.
    Hints are softest: a hint in an unsat core is dropped first and re-sampled next round.
    Returns the model, the record, and the near misses kept."""
    w = plan.world
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
        val = w.B(value) if var.type.kind == "bool" else w.I(_hint_code(w, var.type, value))
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
        if value is None:
            value = T.sample(var.type, rng, var.typical)
        first[var.label] = value
        add_hint(var, value)
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


def _hint_code(w: World, t: T.VType, value: Any) -> int:
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


# ----------------------------------------------------------------------------- the whole stage


def solve_walk(domain: Domain, walk: Walk, rng: random.Random, options: SynthOptions,
               symbols: Symbols) -> tuple[Plan, z3.ModelRef, SolveRecord]:
    """Encode and solve one walk: the Z3 part of `synthesize`, deterministic in `rng`'s state.
    `plan.distractors` is left holding only the near misses the model keeps."""
    planned = D.plan(domain, walk, rng, options.distractors)
    try:
        plan = build_plan(domain, walk, symbols, planned)
    except Unsupported as e:
        raise Infeasible(f"not encodable: {e}") from None
    model, rec, kept = solve(plan, rng, options.hint_rounds)
    plan.distractors = [p for p in plan.distractors if p.name in kept]
    return plan, model, rec


def synthesize(domain: Domain, walk: Walk, seed: int, options: Optional[SynthOptions] = None,
               symbols: Optional[Symbols] = None, timings: Optional[dict] = None) -> Scenario:
    """Solve `walk` into a checked Scenario, or raise Infeasible with the reason.

    `timings`, when given, accumulates seconds per part: solve, fill, replay, proofs."""
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
        plan, model, solve_rec = solve_walk(domain, walk, rng, options, symbols)
    finally:
        lap("solve")
    w = plan.world

    # --- concrete records for the walk's initial objects and the near misses kept
    present = [o for o in plan.witnesses if z3.is_true(model.eval(w.presence(o), model_completion=True))]
    objects = walk.initial_objects() + [o for p in plan.distractors for o in p.objects] + present
    entity_of = {o: w.entity_of[o] for o in objects}
    ids = _assign_ids(domain, walk, plan, model, entity_of, rng)
    db: dict[str, dict] = {e: {} for e in domain.entities}
    initial_state = plan.states[0]
    for oname in objects:
        ent = domain.entities[entity_of[oname]]
        rec: dict[str, Any] = {"id": ids[oname]}
        for f in ent.fields.values():
            term = initial_state[(oname, f.name)]
            if f.type.kind == "ref":
                rec[f.name] = ids[term.name]
            elif f.type.kind == "str" and not f.type.values:
                rec[f.name] = None  # generated below
            else:
                rec[f.name] = T.encode(f.type, model_value(w, model, term, f.type))
        db[ent.name][ids[oname]] = rec
    symbol_text = _fill_generated(domain, db, objects, entity_of, ids, initial_state, model)

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
    n_background = _add_background(domain, db, ids, walk, rng, options)
    lap("fill")
    for _attempt in range(50):
        try:
            replay = _replay(domain, walk, db, ids, arg_values)
        except StepFailed as e:
            blockers = _quantifier_blockers(domain, walk, e, set(ids.values()), ids[walk.actor])
            if not blockers:
                raise
            for entity, rid in blockers:
                _remove_background(domain, db, entity, rid)
                n_background -= 1
            continue
        bad = _first_ambiguity(domain, walk, replay, ids)
        if bad is None:
            break
        entity, rid = bad
        if rid in set(ids.values()) or rid not in db.get(entity, {}):
            raise Infeasible(f"walk record {rid} competes with a selected record")
        _remove_background(domain, db, entity, rid)
        n_background -= 1
    else:
        raise Infeasible("could not place background records without ambiguity")

    gold, outputs, answers, final_db, snapshots, all_ids = replay
    _cross_check(domain, walk, w, model, plan.states[-1], final_db, all_ids)
    lap("replay")
    proofs = [
        prove_unique(domain, snapshots[k], ref, all_ids[obj], all_ids[walk.actor], k, symbols, w.ctx)
        for (k, obj, _e, ref) in plan.selections
    ]
    lap("proofs")
    records = _distractor_records(domain, walk, plan, all_ids, outputs)
    return Scenario(
        walk=walk,
        seed=seed,
        initial_db=db,
        ids=all_ids,
        gold=gold,
        outputs=outputs,
        answers=answers,
        final_db=final_db,
        selections=proofs,
        distractors=records,
        solve=solve_rec,
        background=n_background,
    )


def _assign_ids(domain: Domain, walk: Walk, plan: Plan, model, entity_of: dict[str, str],
                rng: random.Random) -> dict[str, str]:
    """Random ids, except that a listed near miss gets an id that sorts before its target's:
    listings come in id order, so the record a careless reader takes first is the wrong one."""
    ids: dict[str, str] = {}
    taken: dict[str, set[str]] = {e: set() for e in domain.entities}

    def fresh(ent_name: str, below: Optional[str] = None) -> str:
        ent = domain.entities[ent_name]
        best = None
        for _ in range(200):
            new_id = make_id(ent, rng)
            if new_id in taken[ent_name]:
                continue
            if below is None or new_id < below:
                best = new_id
                break
        if best is None:  # no room below: any free id (the record says it is not listed first)
            while True:
                best = make_id(ent, rng)
                if best not in taken[ent_name]:
                    break
        taken[ent_name].add(best)
        return best

    targets = {p.target for p in plan.distractors if p.selection}
    for oname in walk.initial_objects():
        ent = walk.objects[oname]
        if oname in targets:
            # leave room below the target for its near misses
            cands = sorted({make_id(domain.entities[ent], rng) for _ in range(4)} - taken[ent])
            ids[oname] = cands[-1]
            taken[ent].add(cands[-1])
        else:
            ids[oname] = fresh(ent)
    for p in plan.distractors:
        shown = p.selection and (p.visible is True or (
            p.visible is not None and p.visible is not False
            and z3.is_true(model.eval(p.visible, model_completion=True))))
        for o in p.objects:
            below = ids[p.target] if (o == p.name and shown) else None
            ids[o] = fresh(entity_of[o], below)
    for o in entity_of:  # witnesses and anything else without an id yet
        if o not in ids:
            ids[o] = fresh(entity_of[o])
    return ids


def _distractor_records(domain: Domain, walk: Walk, plan: Plan, ids: dict[str, str], outputs: list) -> list:
    out = []
    for p in plan.distractors:
        listed = listed_ids(outputs[p.step]) if p.selection else []
        rid, tid = ids[p.name], ids[p.target]
        visible = rid in listed
        before = visible and tid in listed and listed.index(rid) < listed.index(tid)
        out.append(DistractorRecord(
            id=rid, entity=p.entity, kind=p.kind, reference=p.reference, step=p.step + 1, target=tid,
            breaks=p.breaks, visible=visible, before_target=before,
            linked=[ids[o] for o in p.objects[1:]],
        ))
    return out


def _fill_generated(domain: Domain, db: dict, objects: list[str], entity_of: dict[str, str],
                    ids: dict[str, str], state: dict, model) -> dict[int, str]:
    """Render generated strings (emails) from the record's other fields; equal symbols share text.
    Returns symbol code -> text."""
    by_symbol: dict[int, str] = {}
    for oname in objects:
        ent = domain.entities[entity_of[oname]]
        for f in ent.fields.values():
            if f.type.kind != "str" or f.type.values:
                continue
            rec = db[ent.name][ids[oname]]
            code = model.eval(state[(oname, f.name)], model_completion=True).as_long()
            if code in by_symbol:
                rec[f.name] = by_symbol[code]
                continue
            used = {r.get(f.name) for r in db[ent.name].values()}
            n = 1
            while True:
                text = format_field(f.format or "{n}", rec, n)
                if text not in used:
                    break
                n += 1
            rec[f.name] = text
            by_symbol[code] = text
    return by_symbol


def _add_background(domain: Domain, db: dict, ids: dict[str, str], walk: Walk, rng: random.Random,
                    options: SynthOptions) -> int:
    """Fill each entity up to its `count` with records that obey the spec's invariants."""
    order = _entity_order(domain)
    protected = set(ids.values())  # walk records and near misses: background never links to them
    actor_id = ids[walk.actor]  # ... except the user's own record: other records of theirs are realistic
    added = 0
    for ename in order:
        ent = domain.entities[ename]
        want = int(round(ent.count * options.background))
        for _ in range(want):
            for _try in range(20):
                rid = make_id(ent, rng)
                if rid in db[ename]:
                    continue
                rec: dict[str, Any] = {"id": rid}
                ok = True
                for f in ent.fields.values():
                    if f.type.kind == "ref":
                        pool = [i for i in db[f.type.entity] if i not in protected or i == actor_id]
                        if not pool:
                            ok = False
                            break
                        rec[f.name] = rng.choice(sorted(pool))
                    elif f.type.kind == "str" and not f.type.values:
                        rec[f.name] = None
                    else:
                        rec[f.name] = T.encode(f.type, T.sample(f.type, rng, f.typical))
                if not ok:
                    break
                for f in ent.fields.values():
                    if f.type.kind == "str" and not f.type.values:
                        used = {r.get(f.name) for r in db[ename].values()}
                        n = 1
                        while format_field(f.format or "{n}", rec, n) in used:
                            n += 1
                        rec[f.name] = format_field(f.format or "{n}", rec, n)
                if not _record_ok(domain, db, ename, rec):
                    continue
                db[ename][rid] = rec
                added += 1
                break
    return added


def _record_ok(domain: Domain, db: dict, ename: str, rec: dict) -> bool:
    ent = domain.entities[ename]
    for f in ent.fields.values():
        if f.unique and not (f.type.kind == "str" and not f.type.values):
            if any(r.get(f.name) == rec[f.name] for r in db[ename].values()):
                return False
    trial = {**db, ename: {**db[ename], rec["id"]: rec}}
    ev = Evaluator(domain, trial)
    return all(ev.eval(node, {ename: Ref(ename, rec["id"])}) for node, _src in ent.invariants)


def _entity_order(domain: Domain) -> list[str]:
    """Entities so that referenced ones come first."""
    done: list[str] = []

    def visit(name: str, stack: tuple = ()) -> None:
        if name in done or name in stack:
            return
        for f in domain.entities[name].ref_fields():
            visit(f.type.entity, stack + (name,))
        done.append(name)

    for name in domain.entities:
        visit(name)
    return done


def _remove_background(domain: Domain, db: dict, entity: str, rid: str) -> None:
    db[entity].pop(rid, None)
    for ename, ent in domain.entities.items():
        for f in ent.ref_fields():
            if f.type.entity == entity:
                for oid in [i for i, r in db[ename].items() if r.get(f.name) == rid]:
                    _remove_background(domain, db, ename, oid)


def _replay(domain: Domain, walk: Walk, db: dict, ids: dict[str, str], arg_values: list[dict]):
    """Run the walk's calls on the runtime; returns gold calls, outputs, answers, final db,
    the database before each step, and ids including created records."""
    rt = Runtime(domain, db, ids[walk.actor])
    all_ids = dict(ids)
    gold, outputs, answers, snapshots = [], [], [], []
    for k, step in enumerate(walk.steps):
        tool = domain.tools[step.tool]
        args: dict[str, Any] = {}
        for a in tool.args.values():
            if a.is_ref:
                args[a.name] = all_ids[step.binds[a.var]]
            else:
                args[a.name] = arg_values[k][a.name]
        snapshots.append(copy_db(rt.db))
        if step.refuse is not None:
            # the call the user asks for must fail with exactly the refused requirement's message
            probe = Runtime(domain, rt.db, ids[walk.actor])
            rec = probe.call(step.tool, args)
            expected = tool.requires[step.refuse - 1].error
            if rec.ok or rec.output != f"Error: {expected}":
                raise ReplayMismatch(f"step {k + 1}: the refused call gave {rec.output!r}, expected {expected!r}")
            gold.append(GoldCall(name=step.tool, arguments=args))
            outputs.append(rec.output)
            answers.append(expected)
            continue
        rec = rt.call(step.tool, args)
        if not rec.ok:
            raise StepFailed(k, args, snapshots[-1], rec.output)
        for var, new_id in (rec.created or {}).items():
            all_ids[step.creates[var]] = new_id
        gold.append(GoldCall(name=step.tool, arguments=args))
        outputs.append(rec.output)
        answers.append(rec.answer if step.ask else None)
    return gold, outputs, answers, rt.db, snapshots, all_ids


class ReplayMismatch(Exception):
    """The runtime disagrees with the solver: a bug, never a task."""


class StepFailed(ReplayMismatch):
    """A gold step failed on replay; when background records caused it (a quantifier over all
    records: a meeting already in the room), those records are removed and the replay redone."""

    def __init__(self, step: int, arguments: dict, db: dict, message: str):
        super().__init__(f"step {step + 1} failed on replay: {message}")
        self.step, self.arguments, self.db = step, arguments, db  # (not .args: Exception owns it)


def _quantifier_blockers(domain: Domain, walk: Walk, err: StepFailed, walk_ids: set, actor_id: str) -> list:
    """Background records a failing step's quantifiers range over and that decide them."""
    tool = domain.tools[walk.steps[err.step].tool]
    rt = Runtime(domain, err.db, actor_id)
    try:
        env = rt.bind_arguments(tool, err.arguments)
        rt.eval_lets(tool, env)
    except ToolError:  # the step could not even bind: not a quantifier problem
        return []
    out = []
    nodes = [r.expr for r in tool.requires] + [n for _l, n, _t in tool.lets]
    for root in nodes:
        for q in E.walk(root):
            if isinstance(q, E.Quant):
                for rid in sorted(err.db.get(q.entity, {})):
                    if rid in walk_ids:
                        continue
                    try:
                        if rt.ev.eval(q.cond, {**env, q.var: Ref(q.entity, rid)}):
                            out.append((q.entity, rid))
                    except ToolError:  # a record the condition reads is gone
                        continue
    return out


def _first_ambiguity(domain: Domain, walk: Walk, replay, ids: dict[str, str]) -> Optional[tuple[str, str]]:
    """A background record that is a second answer to a description - or a careless fit listed
    before the target (the designed near misses are the traps; background should not be one by
    accident, e.g. an order that happens to have the same status as the one asked about)."""
    _gold, outs, _ans, _final, snapshots, all_ids = replay
    actor_id = all_ids[walk.actor]
    walk_ids = set(all_ids.values())  # walk records, near misses and records the walk creates
    for k, step in enumerate(walk.steps):
        if step.select is None:
            continue
        tool = domain.tools[step.tool]
        ent = tool.returns.lists().entity
        ref = domain.entities[ent].refs[step.select.reference]
        db = snapshots[k]
        target = all_ids[step.select.object]
        stated = R.stated_values(domain, ref, db, target)
        rivals = R.rivals(domain, ref, db, target, stated, actor_id)
        if rivals:
            return ent, rivals[0]
        listed = listed_ids(outs[k])
        for rid in listed[: listed.index(target)] if target in listed else []:
            if rid not in walk_ids and R.careless_fit(domain, ref, db, rid, stated, actor_id):
                return ent, rid
        if not R.satisfies(domain, ref, db, target, stated, actor_id):
            raise ReplayMismatch(f"step {k + 1}: the selected record does not fit its own description")
    return None


def _cross_check(domain: Domain, walk: Walk, w: World, model, final_state: dict, final_db: dict,
                 all_ids: dict[str, str]) -> None:
    """Every field the solver predicts for the end of the walk equals what the runtime computed."""
    for (oname, fname), term in final_state.items():
        if oname not in w.exists or oname not in all_ids:  # dropped near misses are not in the db
            continue
        ent = domain.entities[w.entity_of[oname]]
        f = ent.fields[fname]
        rid = all_ids[oname]
        actual = final_db[ent.name][rid][fname]
        if f.type.kind == "ref":
            if all_ids.get(term.name) != actual:
                raise ReplayMismatch(f"{oname}.{fname}: solver {term.name}, runtime {actual}")
            continue
        if f.type.kind == "str" and not f.type.values:
            continue
        predicted = T.encode(f.type, model_value(w, model, term, f.type))
        if predicted != actual:
            raise ReplayMismatch(f"{oname}.{fname}: solver {predicted!r}, runtime {actual!r}")


# ----------------------------------------------------------------------------- uniqueness proof


def prove_unique(domain: Domain, db: dict, ref: Reference, target_id: str, actor_id: str, step: int,
                 symbols: Symbols, ctx: Optional[z3.Context] = None) -> SelectionProof:
    """UNSAT check over the concrete database: no record other than the target fits the
    description at least as well. The query is built from the reference's definition, with
    each record's values as constants, and decided by Z3."""
    ctx = ctx or z3.Context()
    s = lia_solver(ctx)
    ev = Evaluator(domain, db)
    ent = ref.entity
    stated = R.stated_values(domain, ref, db, target_id)
    rows = sorted(db.get(ent, {}))
    idx = z3.Int("row", ctx=ctx)

    d = describe(domain, ref)

    def row_fits(rid: str):
        rec = Ref(ent, rid)
        conds = [bool(ev.eval(p.node, R.bindings(domain, d, rid, stated, actor_id))) for p in d.parts]
        if d.rank is not None:  # at least as good as the target: the target does not rank before it
            conds.append(not ev.eval(d.rank, {d.record: rec, TARGET: Ref(ent, target_id)}))
        return z3.BoolVal(all(conds), ctx=ctx)

    others = [i for i, rid in enumerate(rows) if rid != target_id]
    s.add(z3.Or([z3.And(idx == i, row_fits(rows[i])) for i in others]) if others else z3.BoolVal(False, ctx=ctx))
    result = str(s.check())
    fit_filter = len(R.candidates(domain, ref, db, stated, actor_id, skip={"where", "rank"}))
    rank = f"{'.'.join(ref.rank[0])} {ref.rank[1]}" if ref.rank else None
    wording = " and ".join(f"{k} = {v}" for k, v in stated.items())
    if ref.where_src:
        wording += f" and {ref.where_src}" if wording else ref.where_src
    if ref.scope:
        wording += f" and {'.'.join(ref.scope)} = the user"
    better = ""
    if ref.rank:
        better = f" with {'.'.join(ref.rank[0])} {'<=' if ref.rank[1] == 'asc' else '>='} the target's"
    proof = SelectionProof(
        step=step + 1,
        reference=ref.name,
        entity=ent,
        target=target_id,
        stated=stated,
        where=ref.where_src,
        scope=".".join(ref.scope) if ref.scope else None,
        rank=rank,
        candidates=len(rows),
        fit_filter=fit_filter,
        solver=result,
        query=f"exists {ent} r != {target_id}: {wording}{better}",
    )
    if result != "unsat":
        raise ReplayMismatch(f"uniqueness proof failed for {ref.name} at step {step + 1}: {result}")
    return proof
