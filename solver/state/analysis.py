"""What the value ranges alone decide about a spec, asked of Z3 before any planning.

An entity whose invariants no record can meet, a requirement no call can meet (the tool always
refuses), a requirement no call can break (no refusal task can be built on it): `check` reports
these at their line, and `generate` refuses a spec with the first two before doing any work.
Each question is a small Z3 problem over free records linked two levels deep; one Z3 context
serves them all (a context costs megabytes).
"""

from __future__ import annotations

import z3

from ..errors import Finding
from ..spec import grammar as E
from ..spec.model import Domain
from ..spec.nulls import tests_null
from ..spec.types import to_text
from . import witnesses as W
from .world import Obj, Symbols, Unsupported, World


def _record_world(domain: Domain, tool, symbols, ctx=None):
    """A Z3 world with a free record for each of the tool's record variables (and the records they
    link to, two levels deep), its arguments and lets: what a requirement can read."""

    w = World(domain, symbols, ctx, lazy=True)
    env = {}
    shared: set[str] = set()
    w.actor = _linked_records(w, domain, domain.actor, shared)
    env["actor"] = Obj(w.actor, domain.actor)
    for a in tool.args.values():
        if a.is_ref:
            env[a.var] = Obj(_linked_records(w, domain, a.type.entity, shared), a.type.entity)
        else:
            env[a.name] = w.new_var(f"arg.{a.name}", a.type)
    for lname, node, _t in tool.lets:
        env[lname] = w.enc(node, env)
    for oname in list(w.entity_of):
        if oname in shared:
            continue
        ent = domain.entities[w.entity_of[oname]]
        for node, src in ent.invariants:
            if not tests_null(node):  # these records' links are all set: an empty one is the plan's
                w.track(f"{ent.name} rule '{src}'", w.enc(node, {ent.name: Obj(oname, ent.name)}), "invariant")
    return w, env


def static_findings(domain: Domain) -> list[Finding]:
    """What the value ranges alone decide, without planning: invariants no record can meet and
    requirements no call can meet are errors (no task could ever use them - and `generate` would
    only find that out by failing every attempt); requirements that can never fail are info."""

    ctx = z3.Context()  # one context for all these small questions: a context costs megabytes
    broken = invariant_findings(domain, ctx)
    return (broken + requirement_findings(domain, skip={f.where for f in broken}, ctx=ctx)
            + witness_findings(domain) + distinct_findings(domain))


def witness_findings(domain: Domain) -> list[Finding]:
    """Counts whose bound needs more records than the solver adds for one quantifier (a warning:
    the walks that need them are never built)."""
    out = []
    for tool, req, q, k, refused in W.over_cap(domain):
        where = f"{domain.source}:{req.line}" if req.line else domain.source
        need = f"{k}" if k is not None else "an unbounded number of"
        what = "refusing" if refused else "calling"
        out.append(Finding("warning", f"{where}: {what} {tool.name} for '{req.src}' needs {need} {q.entity} "
                           f"records matching {E.unparse(q)}, but the solver adds at most {W.CAP} per count, "
                           f"so no such task is built (hint: compare the count with a bound of at most {W.CAP}, "
                           "or give the field it is compared with a max)", tool.name))
    return out


def distinct_findings(domain: Domain) -> list[Finding]:
    """`a != b` between two record arguments of a tool: it holds in every planned call (the planner
    never names one record twice), so it can never be refused - `distinct(a, b)` can."""
    out = []
    for tool in domain.tools.values():
        ref_vars = {a.var for a in tool.args.values() if a.is_ref}
        for req in tool.requires:
            n = req.expr
            if isinstance(n, E.Compare) and n.op == "!=" and all(
                    isinstance(x, E.Name) and x.id in ref_vars for x in (n.left, n.right)):
                where = f"{domain.source}:{req.line}" if req.line else domain.source
                out.append(Finding("info", f"{where}: '{req.src}' of {tool.name} compares two record arguments; "
                                   "no task asks for one record in both, so it is never refused (hint: write "
                                   f"distinct({n.left.id}, {n.right.id}) to get refusals of the same record named "
                                   "twice)", tool.name))
    return out


def invariant_findings(domain: Domain, ctx=None) -> list[Finding]:
    """Entities whose invariants cannot all hold together with the fields' value ranges: the
    unsat core, in the spec's words, at the line of the first invariant in it."""


    out = []
    symbols = Symbols(domain)
    for ent in domain.entities.values():
        if not ent.invariants:
            continue
        w = World(domain, symbols, ctx, lazy=True)
        try:
            made = _linked_records(w, domain, ent.name)
        except Unsupported:
            continue
        named = {}
        for i, (node, src) in enumerate(ent.invariants):
            if tests_null(node):
                continue  # the free record's links are all set: whether one is empty is the plan's
            try:
                cond = w.enc(node, {ent.name: Obj(made, ent.name)})
            except Unsupported:
                continue
            lit = z3.Bool(f"inv{i}", ctx=w.ctx)
            w.add(z3.Implies(lit, w.as_bool(cond)))
            named[f"inv{i}"] = i
        lits = [z3.Bool(n, ctx=w.ctx) for n in named]
        if not lits or w.check(lits) != z3.unsat:
            continue
        core = sorted(named[c.decl().name()] for c in w.solver.unsat_core() if c.decl().name() in named)
        first = core[0] if core else 0
        line = ent.invariant_lines[first] if first < len(ent.invariant_lines) else 0
        rules = " and ".join(f"'{ent.invariants[i][1]}'" + (f" (line {ent.invariant_lines[i]})"
                                                            if ent.invariant_lines[i] else "") for i in core)
        where = f"{domain.source}:{line}: " if line else f"{domain.source}: "
        out.append(Finding("error", f"{where}no {ent.name} can exist: {rules} cannot hold together with the "
                           f"fields' value ranges ({_bounds(domain, ent.invariants[first][0])}) (hint: loosen the "
                           "rule or widen the field's min/max)", ent.name))
    return out


def _linked_records(w, domain: Domain, entity: str, shared: set = None) -> str:
    """A free record of `entity` in `w`, with the records its ref fields point to (two deep).
    Below that, links go to a record already made: such a record is added to `shared`, as its
    invariants may not hold of links that are not its own (a transfer whose two accounts were
    both set to the one account made already)."""
    counter = [len(w.entity_of)]

    def make(ename: str, depth: int) -> str:
        counter[0] += 1
        name = f"{ename}_{counter[0]}"
        links = {}
        for f in domain.entities[ename].ref_fields():
            if depth < 2:
                links[f.name] = make(f.type.entity, depth + 1)
            elif f.nullable:
                links[f.name] = None  # the chain ends in an empty link, not in a record linked to itself
            else:
                same = [o for o, e in w.entity_of.items() if e == f.type.entity]
                links[f.name] = same[0] if same else (name if f.type.entity == ename else make(f.type.entity, depth + 1))
                if shared is not None and (same or f.type.entity == ename):
                    shared.add(name)
        w.add_object(name, ename, links)
        return name

    return make(entity, 0)


def requirement_findings(domain: Domain, skip: frozenset = frozenset(), ctx=None) -> list[Finding]:
    """Requirements the value ranges make impossible (always false) - and, for information,
    those that can never fail (no refusal task can be built on them)."""


    out = []
    symbols = Symbols(domain)

    for tool in domain.tools.values():
        world = None  # one world per tool, built when a requirement needs it: encoding adds nothing
        for i, req in enumerate(tool.requires):
            # conditions on links between records or over all records depend on which records
            # the plan connects - the planner and solver judge those; value ranges decide the rest
            if any(isinstance(n, E.Quant) or (isinstance(n, E.Compare) and n.left.type is not None
                                              and n.left.type.kind == "ref")
                   or (isinstance(n, E.Call) and n.func == "distinct" and n.args[0].type.kind == "ref")
                   for n in E.walk(req.expr)):
                continue
            try:
                if world is None:
                    try:
                        world = _record_world(domain, tool, symbols, ctx)
                    except Unsupported:
                        world = False
                if world is False:
                    raise Unsupported(tool.name)
                w, env = world
                cond = w.enc(req.expr, env)
            except Unsupported:
                continue
            if skip & set(w.entity_of.values()):  # a record no invariant allows: reported once, above
                continue
            assume = [t.literal for t in w.tracked]
            if isinstance(cond, bool):
                sat_true, sat_false = cond, not cond
            else:
                sat_true = w.solver.check(*assume, cond) == z3.sat
                sat_false = w.solver.check(*assume, z3.Not(cond)) == z3.sat
            where = f"{domain.source}:{req.line}" if req.line else domain.source
            if not sat_true:
                out.append(Finding("error", f"{where}: requirement '{req.src}' of {tool.name} can never hold "
                                   f"with the fields' value ranges, so the tool always refuses "
                                   f"({_bounds(domain, req.expr)}) (hint: fix the condition, or the min/max "
                                   "of the fields it reads)", tool.name))
            elif not sat_false:
                out.append(Finding("info", f"{where}: requirement '{req.src}' of {tool.name} always holds: "
                                   "no refusal task can be built on it", tool.name))
    return out


def _bounds(domain: Domain, node) -> str:

    parts = []
    for n in E.walk(node):
        if isinstance(n, E.Attr) and n.type is not None and n.type.kind in ("int", "money", "date", "datetime") \
                and n.type.lo is not None:
            parts.append(f"{E.unparse(n)} is between {to_text(n.type, n.type.lo)} and {to_text(n.type, n.type.hi)}")
    return "; ".join(dict.fromkeys(parts)) or "see the field bounds"
