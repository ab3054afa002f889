"""Z3 encoding of the spec language: values, expressions, and a walk's state threaded step by step.

Each task gets its own `z3.Context`, so a model depends only on (walk, seed, options) - not on
what a worker solved before - which keeps datasets byte-identical across worker counts.

Values: numbers, money (integer minor units), dates (day numbers) and datetimes (minutes) are
Ints; bools are Bools; enum and pooled strings are Ints coding the string (one table per
domain, so `cabin == reservation.cabin` compares codes); generated strings (emails) are Int
symbols kept distinct; records are Python-level object names, because a walk fixes which
record every variable and ref field denotes.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Optional, Union

import z3

from ..spec import grammar as E
from ..spec.meaning import ACTOR, TARGET, describe, stated_name
from ..spec.history import history
from ..spec.walker import COMPARE, Arithmetic
from ..spec.model import CreateEffect, DeleteEffect, Domain, SetEffect, Tool, lit_value
from ..spec.types import VType

SYMBOL_BASE = 1_000_000  # codes of generated strings start here


def _keep_freed_memory() -> None:
    """Every task builds (and frees) a fresh Z3 context. glibc hands the freed memory back to the
    OS and the next context faults it in again, which made creating one ~7 ms instead of ~1 ms.
    Raising malloc's trim and mmap thresholds keeps it in the process (Linux/glibc only)."""
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
        libc.mallopt(m_trim_threshold, 256 << 20)
        libc.mallopt(m_top_pad, 64 << 20)
        libc.mallopt(m_mmap_threshold, 32 << 20)
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        pass


_keep_freed_memory()


RLIMIT = 50_000_000  # Z3 resource units one solver may spend; tasks here use under 60,000


def lia_solver(ctx: z3.Context) -> z3.Solver:
    """A QF_LIA solver in `ctx`. (z3.SolverFor builds the logic's name in the global context,
    and once that global context exists every new Context costs ~10x more to create.)

    Its work is capped by a resource limit, not a timeout: a check that would run away returns
    'unknown' (the walk is skipped, with that reason) after the same amount of work on every
    machine, so the dataset stays byte-identical however fast the machine is."""
    sym = z3.z3core.Z3_mk_string_symbol(ctx.ref(), "QF_LIA")
    s = z3.Solver(z3.z3core.Z3_mk_solver_for_logic(ctx.ref(), sym), ctx)
    s.set("rlimit", RLIMIT)
    return s


class Unsupported(Exception):
    """A construct the solver cannot encode for this walk (the walk is skipped, with the reason)."""


@dataclass(frozen=True)
class Obj:
    """A record inside the encoding: an abstract object name (user1, flight2, distractor d3)."""

    name: str
    entity: str


Value = Union[z3.ExprRef, Obj, bool, int]


class Symbols:
    """Codes for every string an enum or pool can hold."""

    def __init__(self, domain: Domain):
        self.code: dict[str, int] = {}
        for s in domain.symbols():
            self.code.setdefault(s, len(self.code))
        self.names = {v: k for k, v in self.code.items()}

    def copy(self) -> "Symbols":
        other = object.__new__(Symbols)
        other.code, other.names = dict(self.code), dict(self.names)
        return other

    def of(self, s: str) -> int:
        if s not in self.code:
            self.code[s] = len(self.code)
            self.names[self.code[s]] = s
        return self.code[s]


@dataclass
class Var:
    """A decision variable with what sampling a realistic hint needs."""

    term: z3.ExprRef
    type: VType
    label: str
    typical: Optional[tuple[int, int]] = None


@dataclass
class Tracked:
    label: str  # human wording, used for unsat cores
    literal: z3.BoolRef
    kind: str  # requires | where | reference | invariant | unique | change | distractor
    name: str = ""  # the literal's name (cores are matched by name, not by printing terms)
    group: str = ""  # soft constraints that are dropped together (one near-miss record)
    step: int = -1  # the walk step it belongs to (-1: the initial state)
    objects: tuple = ()  # objects it compares (descriptions): learning needs them in the prefix


class _LazyFields(dict):
    """(object, field) -> term, where a value field's variable is made when first read: a question
    about one requirement reads a few of the hundreds of fields a large spec's records carry, and
    a walk's constraints read a few of the fields of the records it touches.

    A snapshot (the state before a step) shares the registry of fields not read yet: a field first
    read after the snapshot was taken had not changed by then (any write reads it first), so the
    snapshot's value is the same initial variable."""

    def __init__(self, world: "World", pending: Optional[dict] = None, made: Optional[dict] = None):
        super().__init__()
        self.world = world
        self.pending: dict[tuple[str, str], "FreeField"] = {} if pending is None else pending
        self.made: dict[tuple[str, str], z3.ExprRef] = {} if made is None else made  # initial variables

    def __missing__(self, key):
        if key not in self.made:
            if key not in self.pending:
                raise KeyError(key)
            f = self.pending.pop(key)
            self.made[key] = self.world.new_var(f.label, f.type, f.typical)
        term = self[key] = self.made[key]
        return term

    def __contains__(self, key) -> bool:  # read (here or through another view), not pending
        return dict.__contains__(self, key) or key in self.made

    def get(self, key, default=None):
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        return self.made.get(key, default)

    def snapshot(self) -> "_LazyFields":
        view = _LazyFields(self.world, self.pending, self.made)
        view.update(self)
        return view


@dataclass(frozen=True)
class FreeField:
    """A value field no constraint of the walk read: it has no variable, and takes a value sampled
    from its type (what its hint would have made it) when the database is written."""

    label: str
    type: VType
    typical: Optional[tuple[int, int]] = None


class World:
    """One walk's constraint system: objects, their field terms per state, tracked constraints.
    `lazy`: value fields get variables only when read. A walk's world is built lazy and then
    frozen (`freeze`): the fields nothing read are free, valued by sampling, not by the solver -
    a large spec's shared record carries every module's fields, and most walks read few."""

    def __init__(self, domain: Domain, symbols: Symbols, ctx: Optional[z3.Context] = None, lazy: bool = False):
        self.d = domain
        self.sym = symbols
        self.ctx = ctx or z3.Context()  # shared only by callers that solve many small questions
        self.solver = lia_solver(self.ctx)
        self.vars: dict[str, Var] = {}
        self.tracked: list[Tracked] = []
        # (object, field) -> value, current state
        self.state: dict[tuple[str, str], Value] = _LazyFields(self) if lazy else {}
        self.entity_of: dict[str, str] = {}
        self.exists: set[str] = set()
        self.symbol_vars: list[z3.ArithRef] = []
        self.step = -1  # the step being encoded (tracked constraints remember it)
        self.actor: Optional[str] = None  # the walk's actor object
        self._presence: dict[str, z3.BoolRef] = {}
        self.encoder = Z3Terms(self)
        self.object_group: dict[str, str] = {}  # near-miss object -> its group
        self._fresh = 0

    def copy_into(self, ctx: z3.Context, solver: z3.Solver, symbols: Symbols, term) -> "World":
        """This world in another context: `solver` holds the translated assertions, `term` maps
        each of this world's terms to its copy (state/cache.py)."""
        w = object.__new__(World)
        w.d, w.sym, w.ctx, w.solver = self.d, symbols, ctx, solver
        w.vars = {k: Var(term(v.term), v.type, v.label, v.typical) for k, v in self.vars.items()}
        w.tracked = [Tracked(t.label, term(t.literal), t.kind, t.name, t.group, t.step, t.objects)
                     for t in self.tracked]
        assert not isinstance(self.state, _LazyFields), "only a frozen world is copied"
        w.state = {k: term(v) for k, v in self.state.items()}
        w.entity_of, w.exists = dict(self.entity_of), set(self.exists)
        w.symbol_vars = [term(v) for v in self.symbol_vars]
        w.step, w.actor = self.step, self.actor
        w._presence = {g: term(v) for g, v in self._presence.items()}
        w.encoder = Z3Terms(w)
        w.object_group = dict(self.object_group)
        w._fresh = self._fresh
        return w

    def fresh(self) -> int:
        """A new number for auxiliary variables (a product's bits): deterministic per walk."""
        self._fresh += 1
        return self._fresh

    # ------------------------------------------------------------ basics
    def I(self, v: int) -> z3.ArithRef:
        return z3.IntVal(v, ctx=self.ctx)

    def B(self, v: bool) -> z3.BoolRef:
        return z3.BoolVal(bool(v), ctx=self.ctx)

    def as_bool(self, v: Value) -> z3.BoolRef:
        if isinstance(v, bool):
            return self.B(v)
        return v

    def new_var(self, label: str, t: VType, typical=None) -> z3.ExprRef:
        if t.kind == "bool":
            term = z3.Bool(label, ctx=self.ctx)
        else:
            term = z3.Int(label, ctx=self.ctx)
        self.vars[label] = Var(term, t, label, typical)
        for c in self.domain_constraints(term, t):
            self.add(c)
        return term

    def domain_constraints(self, term, t: VType) -> list:
        if t.kind in ("int", "money", "date", "datetime", "time"):
            out = []
            if t.lo is not None:
                out.append(term >= t.lo)
            if t.hi is not None:
                out.append(term <= t.hi)
            return out
        if t.kind in ("enum",) or (t.kind == "str" and t.values):
            codes = sorted(self.sym.of(v) for v in t.values)
            if codes == list(range(codes[0], codes[-1] + 1)):
                return [term >= codes[0], term <= codes[-1]]
            return [z3.Or([term == c for c in codes])]
        if t.kind == "str":
            self.symbol_vars.append(term)
            return [term >= SYMBOL_BASE]
        return []

    def add(self, cond: z3.BoolRef) -> None:
        """`solver.add(cond)` for a Boolean term built in this context, without z3's sort check."""
        z3.Z3_solver_assert(self.ctx.ref(), self.solver.solver, cond.as_ast())

    def check(self, literals: list) -> z3.CheckSatResult:
        """`solver.check(*literals)` for literals known to be Boolean constants: skips z3's sort
        check per literal, which costs more than the search itself on these small problems."""
        arr = (z3.Ast * len(literals))(*(lit.as_ast() for lit in literals))
        return z3.CheckSatResult(z3.Z3_solver_check_assumptions(self.ctx.ref(), self.solver.solver,
                                                                len(literals), arr))

    def presence(self, group: str) -> z3.BoolRef:
        """The literal saying a near-miss record (and its clones) is in the database."""
        if group not in self._presence:
            self._presence[group] = z3.Bool(f"present_{group}", ctx=self.ctx)
        return self._presence[group]

    def track(self, label: str, cond: Value, kind: str, group: str = "", objects: tuple = ()) -> None:
        if group:
            # a near miss's constraints hang on its presence literal: assumed while it is kept,
            # assumed false once dropped - so nothing (a quantifier) can lean on a dropped record
            lit = self.presence(group)
            name = lit.decl().name()
        else:
            name = f"t{len(self.tracked)}"
            lit = z3.Bool(name, ctx=self.ctx)
        self.tracked.append(Tracked(label, lit, kind, name, group, self.step, objects))
        self.add(z3.Implies(lit, self.as_bool(cond)))

    # ------------------------------------------------------------ objects
    def add_object(self, name: str, entity: str, links: dict[str, str], prefix: str = "") -> None:
        """An object existing in the initial state: a fresh variable for every value field."""
        ent = self.d.entities[entity]
        self.entity_of[name] = entity
        self.exists.add(name)
        for f in ent.fields.values():
            if f.type.kind == "ref":
                if f.nullable and f.name in links and links[f.name] is None:
                    self.state[(name, f.name)] = None  # an empty link, as the walk says
                    continue
                target = links.get(f.name)
                if target is None:
                    raise Unsupported(f"{name}.{f.name} has no linked record")
                self.state[(name, f.name)] = Obj(target, f.type.entity)
            elif isinstance(self.state, _LazyFields):
                self.state.pending[(name, f.name)] = FreeField(f"{prefix}{name}.{f.name}", f.type, f.typical)
            else:
                self.state[(name, f.name)] = self.new_var(f"{prefix}{name}.{f.name}", f.type, f.typical)

    def obj(self, name: str) -> Obj:
        return Obj(name, self.entity_of[name])

    def path(self, o: Obj, path: list[str]) -> Value:
        """`o.a.b` in the current state (None past an empty link)."""
        v: Value = o
        for s in path:
            v = self.field(v, s)
        return v

    @staticmethod
    def same(a: Value, b: Value):
        """Equality of two values: decided in Python for records and empty links (None), a Z3
        term otherwise."""
        if isinstance(a, Obj) or isinstance(b, Obj) or a is None or b is None:
            if a is None or b is None:
                return a is None and b is None
            return isinstance(a, Obj) and isinstance(b, Obj) and a.name == b.name
        return a == b

    def field(self, o: Optional[Obj], fname: str) -> Value:
        if o is None:
            return None  # read through an empty link (descriptions only): fits no stated value
        if fname == "id":
            return o
        if o.name not in self.exists:
            raise Unsupported(f"{o.name} is read after it was deleted")
        return self.state[(o.name, fname)]

    # ------------------------------------------------------------ expressions
    def enc(self, n: E.Node, env: dict[str, Value]) -> Value:
        """The Z3 term (or Python constant, or record) of an expression in `env`."""
        return self.encoder.walk(n, env)

    def _coerce_bool(self, v: Value):
        if isinstance(v, bool):
            return self.B(v)
        return v

    # ------------------------------------------------------------ tools
    def tool_env(self, tool: Tool, binds: dict[str, str], args: dict[str, Value]) -> dict[str, Value]:
        env: dict[str, Value] = {}
        if self.actor is not None:
            env["actor"] = self.obj(self.actor)
        for a in tool.args.values():
            if a.is_ref:
                env[a.var] = self.obj(binds[a.var])
            else:
                env[a.name] = args[a.name]
        for lname, node, _t in tool.lets:
            env[lname] = self.enc(node, env)
        return env

    def apply_effects(self, tool: Tool, env: dict[str, Value], creates: dict[str, str], label: str) -> set[str]:
        """Thread the state through one call's effects; returns the objects it touched.

        Same semantics as the runtime: targets and values are read on the pre-state, then the
        effects are applied in order (so two `+=` on one field add up)."""
        plan = []
        for eff in tool.effects:
            if isinstance(eff, SetEffect):
                when = self.enc(eff.when, env) if eff.when is not None else True
                target = env[eff.target[0]]
                for s in eff.target[1:-1]:
                    target = self.field(target, s)
                if not isinstance(target, Obj):
                    raise Unsupported("effect target is not a record")
                plan.append(("set", target.name, eff.target[-1], eff.op, self.enc(eff.value, env), when))
            elif isinstance(eff, CreateEffect):
                name = creates[eff.var]
                env[eff.var] = Obj(name, eff.entity)
                self.entity_of[name] = eff.entity
                values = {}
                for fname, node in eff.values.items():
                    info = self.d.entities[eff.entity].fields[fname]
                    if isinstance(node, E.Lit) and node.kind == "generated":
                        values[fname] = self.new_var(f"{name}.{fname}", info.type)
                    else:
                        values[fname] = self.enc(node, env)
                plan.append(("create", name, values))
            elif isinstance(eff, DeleteEffect):
                plan.append(("delete", env[eff.var].name))
        touched: set[str] = set()
        for item in plan:
            if item[0] == "set":
                _, oname, fname, op, value, when = item
                cur = self.state[(oname, fname)]
                if isinstance(cur, Obj) or isinstance(value, Obj) or cur is None or value is None:
                    if when is not True:
                        if when is False:
                            continue
                        raise Unsupported("a link changed under a condition the solver decides")
                    new = value
                elif op == "=":
                    new = value if when is True else (cur if when is False else z3.If(when, self._coerce_bool(value), self._coerce_bool(cur)))
                else:
                    delta = value if op == "+=" else -value
                    if when is False:
                        continue
                    new = cur + delta if when is True else cur + z3.If(when, delta, self.I(0))
                self.state[(oname, fname)] = new
                touched.add(oname)
            elif item[0] == "create":
                _, oname, values = item
                for fname, v in values.items():
                    self.state[(oname, fname)] = v
                self.exists.add(oname)
                touched.add(oname)
            else:
                self.exists.discard(item[1])
                touched.add(item[1])
        return touched

    def check_invariants(self, objects, label: str) -> None:
        for oname in sorted(objects):
            if oname not in self.exists:
                continue
            ent = self.d.entities[self.entity_of[oname]]
            for node, src in ent.invariants:
                self.track(f"{label}: {ent.name} rule '{src}'", self.enc(node, {ent.name: self.obj(oname)}), "invariant")

    def check_history(self, objects, label: str) -> None:
        """Records that exist before the walk keep the rules the tool that made them leaves
        behind (spec/history.py): they are records the domain's own tools could have made."""
        rules = history(self.d)
        for oname in sorted(objects):
            if oname not in self.exists:
                continue
            ent = self.entity_of[oname]
            for r in rules.for_entity(ent):
                self.track(f"{label}: {ent} made by {r.tool}: '{r.text}'", self.enc(r.node, {ent: self.obj(oname)}),
                           "invariant")

    def check_ranges(self, objects, before: dict, label: str) -> None:
        """Fields keep to their declared [min, max] in every state, as the runtime requires of
        every write: a field an effect changed (or a created record's) is bounded again."""
        for oname in sorted(objects):
            if oname not in self.exists:
                continue
            ent = self.d.entities[self.entity_of[oname]]
            for f in ent.fields.values():
                if (oname, f.name) not in self.state:
                    continue  # never read, so never changed (a lazy world)
                term = self.state[(oname, f.name)]
                if f.type.kind not in ("int", "money", "date", "datetime", "time") or before.get((oname, f.name)) is term:
                    continue
                if isinstance(term, (bool, Obj)):
                    continue
                bounds = self.domain_constraints(term, f.type) if not isinstance(term, int) else []
                if isinstance(term, int):
                    ok = (f.type.lo is None or term >= f.type.lo) and (f.type.hi is None or term <= f.type.hi)
                    self.track(f"{label}: {ent.name}.{f.name} stays within its range", ok, "range")
                elif bounds:
                    self.track(f"{label}: {ent.name}.{f.name} stays within its range", z3.And(bounds), "range")

    def description_env(self, ref, o: Obj, target: Obj, actor: Obj) -> dict:
        """The names of a description (spec/meaning.py) bound for Z3: the candidate `o`, the
        user, the target, and as stated values the target's own fields (the user describes it)."""
        d = describe(self.d, ref)
        env: dict = {d.record: o, ACTOR: actor, TARGET: target}
        for i, part in enumerate(d.filters):
            env[stated_name(i)] = self.path(target, list(part.path))
        return env

    def snapshot(self) -> dict[tuple[str, str], Value]:
        if isinstance(self.state, _LazyFields):
            return self.state.snapshot()
        return dict(self.state)

    def freeze(self, states: list[dict]) -> tuple[list[dict], dict[tuple[str, str], FreeField]]:
        """End of the build: the current state and `states` (snapshots) become plain dicts, and
        the fields never read are returned as free, in the order their records were added."""
        if not isinstance(self.state, _LazyFields):
            return states, {}
        free = dict(self.state.pending)
        made = self.state.made

        def plain(view: dict) -> dict:  # a field read after `view` was taken is unchanged there: initial
            d = dict(view)
            for k, term in made.items():
                d.setdefault(k, term)
            return d

        frozen = [plain(s) for s in states]
        self.state = plain(self.state)
        return frozen, free


class Z3Terms(Arithmetic):
    """The Z3 back-end of the expression tree. Records are Python-level objects (a walk fixes
    which record every variable denotes), so conditions on them are decided here, as Python
    booleans; everything else becomes a term. Constants fold as they go (`x and False` is False)."""

    def __init__(self, world: "World"):
        # a proxy, not the world itself: world -> encoder -> world would be a cycle, and every
        # task's Z3 context would then wait for the garbage collector instead of going at once
        self.w = weakref.proxy(world)

    def constant(self, v: int) -> Value:
        return self.w.I(v)

    def floordiv(self, a: Value, d: int) -> Value:
        return a // d if isinstance(a, int) else a / d  # Z3's integer '/' is floor division for d > 0

    def floormod(self, a: Value, d: int) -> Value:
        return a % d  # Z3's mod: the remainder in [0, d) for d > 0

    def product(self, a: Value, b: Value, small: tuple) -> Value:
        """x * y with x of a small range [lo, hi] (the type checker found it): x is written in
        binary, x = lo + sum(bit_i * 2^i), and the product is lo*y + the sum of y*2^i over the set
        bits - linear, so the solver stays in QF_LIA. The bits are fresh per use."""
        side, lo, hi = small
        x, y = (a, b) if side == "left" else (b, a)
        if isinstance(x, int) or z3.is_int_value(x):
            return x * y
        w = self.w
        if isinstance(y, int):
            y = w.I(y)
        k = w.fresh()
        bits = [z3.Bool(f"bit{k}_{i}", ctx=w.ctx) for i in range((hi - lo).bit_length())]
        zero = w.I(0)
        w.add(x == lo + z3.Sum([zero] + [z3.If(b_, w.I(1 << i), zero) for i, b_ in enumerate(bits)]))
        return lo * y + z3.Sum([zero] + [z3.If(b_, y * (1 << i), zero) for i, b_ in enumerate(bits)])

    def lit(self, n: E.Lit, env: dict) -> Value:
        w, t = self.w, n.type
        if n.kind == "null":
            return None
        if n.kind == "bool":
            return bool(n.value)
        if n.kind == "const":
            if t.kind in ("enum", "str"):
                return w.I(w.sym.of(n.value))
            if t.kind == "bool":
                return bool(n.value)
            return w.I(n.value)
        if n.kind == "str":
            return w.I(w.sym.of(n.value))
        return w.I(lit_value(n))

    def name(self, n: E.Name, env: dict) -> Value:
        if n.id in env:
            return env[n.id]
        if n.id == "today":
            return self.w.I(self.w.d.today)
        if n.id == "now":
            return self.w.I(self.w.d.now)
        raise Unsupported(f"unknown name {n.id}")

    def attr(self, n: E.Attr, env: dict) -> Value:
        base = self.walk(n.obj, env)
        if base is None and n.obj.type is not None and n.obj.type.kind == "ref":
            return None
        if not isinstance(base, Obj):
            raise Unsupported(f"{E.unparse(n)}: the record is not fixed by the walk")
        return self.w.field(base, n.name)

    def compare(self, n: E.Compare, env: dict) -> Value:
        a, b = self.walk(n.left, env), self.walk(n.right, env)
        if isinstance(a, Obj) or isinstance(b, Obj) or a is None or b is None:
            if n.op not in ("==", "!="):
                return False  # an order against a value past an empty link (SQL: NULL, false)
            same = self.w.same(a, b)
            return same if n.op == "==" else not same
        if isinstance(a, bool) and isinstance(b, bool):
            return (a == b) if n.op == "==" else (a != b)
        coerce = self.w._coerce_bool
        return COMPARE[n.op](coerce(a), coerce(b))

    def inlist(self, n: E.InList, env: dict) -> Value:
        item = self.walk(n.item, env)
        opts = [self.walk(o, env) for o in n.options]
        if isinstance(item, Obj):
            found = any(isinstance(o, Obj) and o.name == item.name for o in opts)
            return not found if n.negated else found
        coerce = self.w._coerce_bool
        disj = z3.Or([coerce(item) == coerce(o) for o in opts])
        return z3.Not(disj) if n.negated else disj

    def boolop(self, n: E.BoolOp, env: dict) -> Value:
        vals = [self.walk(v, env) for v in n.values]
        if n.op == "and":
            if any(v is False for v in vals):
                return False
            rest = [v for v in vals if v is not True]
            return True if not rest else (rest[0] if len(rest) == 1 else z3.And(rest))
        if any(v is True for v in vals):
            return True
        rest = [v for v in vals if v is not False]
        return False if not rest else (rest[0] if len(rest) == 1 else z3.Or(rest))

    def not_(self, n: E.Not, env: dict) -> Value:
        v = self.walk(n.operand, env)
        return (not v) if isinstance(v, bool) else z3.Not(v)

    def ifelse(self, n: E.IfElse, env: dict) -> Value:
        c = self.walk(n.cond, env)
        if isinstance(c, bool):
            return self.walk(n.then if c else n.other, env)
        a, b = self.walk(n.then, env), self.walk(n.other, env)
        if isinstance(a, Obj) or isinstance(b, Obj):
            if isinstance(a, Obj) and isinstance(b, Obj) and a.name == b.name:
                return a
            raise Unsupported("a record chosen by a condition the solver decides")
        coerce = self.w._coerce_bool
        return z3.If(c, coerce(a), coerce(b))

    def quant(self, n: E.Quant, env: dict) -> Value:
        # over the records in the model; background records are checked on replay
        w = self.w
        parts = []
        for oname in sorted(w.exists):
            if w.entity_of[oname] != n.entity:
                continue
            v = self.walk(n.cond, {**env, n.var: w.obj(oname)})
            if oname in w.object_group and v is not False:
                v = z3.And(w.presence(w.object_group[oname]), w.as_bool(v))
            parts.append(v)
        if n.kind == "count":
            total = w.I(0)
            for v in parts:
                if v is True:
                    total = total + 1
                elif v is not False:
                    total = total + z3.If(v, w.I(1), w.I(0))
            return total
        real = [v for v in parts if not isinstance(v, bool)]
        some = any(v is True for v in parts)
        if n.kind == "any":
            return True if some else (z3.Or(real) if real else False)
        return False if some else (z3.Not(z3.Or(real)) if real else True)

    def call(self, n: E.Call, env: dict) -> Value:
        v = self.clock(n, env)
        if v is not None:
            return v
        vals = [self.walk(a, env) for a in n.args]
        if n.func == "distinct":
            # records are fixed by the walk (decided here); other values pairwise by Z3
            pairs = [self.w.same(a, b) for i, a in enumerate(vals) for b in vals[i + 1:]]
            if any(p is True for p in pairs):
                return False
            real = [z3.Not(self.w._coerce_bool(p)) for p in pairs if p is not False]
            return True if not real else (real[0] if len(real) == 1 else z3.And(real))
        if n.func == "abs":
            return z3.If(vals[0] >= 0, vals[0], -vals[0])
        out = vals[0]
        for v in vals[1:]:
            out = z3.If(v < out, v, out) if n.func == "min" else z3.If(v > out, v, out)
        return out
