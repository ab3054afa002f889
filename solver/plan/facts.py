"""A domain as facts for the planner's logic program (plan/encoding.lp).

The program's rules are the same for every domain; what a spec contributes is data: its record
slots, enum and bool fields, links, tools and arguments, and every condition the planner
reasons about as an expression tree - one `e_*` fact per node - which the program's condition
rules evaluate. Facts are built as clingo symbols (every name from the spec is a string
symbol), so no spelling of a name or value - `S`, `not`, `call`, a quote - can change the
program's meaning.

What the planner cannot decide (numbers, dates, pooled text, quantifiers) compiles to an
`e_unknown` node, which may be true and may be false: the plan over-approximates, and Z3 decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import clingo

from ..spec.model import CreateEffect, DeleteEffect, Domain, SetEffect, Tool
from ..spec import grammar as E
from ..spec.meaning import ACTOR, describe
from ..spec.nulls import nonempty_links
from ..spec.walker import Walker
from ..spec.history import history
from .scope import entities_for, link_closure, returned
from .selection import selectable_references

F, S, N = clingo.Function, clingo.String, clingo.Number
TRUE, FALSE, NONE = F("true"), F("false"), F("none")
NULL = F("null")  # the value of an empty link
# the facts whose argument at this position names a field some condition reads (e_attr) or some
# effect sets (seteff, createval)
FIELD_ARGUMENT = {"e_attr": 2, "seteff": 3, "createval": 2}


@dataclass
class AspOptions:
    slots: dict[str, int] = field(default_factory=dict)  # per entity; default below
    default_slots: int = 2
    max_goals: int = 1  # goal steps per walk; longer multi-intent walks come from merging
    pinned: bool = False  # calls are given by `allow(t,T)` facts (checking one walk grounds little)
    refusal: bool = False  # the walk's last step is a request one of whose requirements fails
    conditional: bool = False  # (with refusal) a refused request may come before the last, followed by its fallback
    tools: Optional[frozenset] = None  # only these tools (and the entities they reach): a question's scope
    target: Optional[str] = None  # walks end in a call of this tool
    # leave out the values of enum and bool fields nothing in the program reads or sets: their
    # starting values are hidden choices that change no walk (the Checker, whose `init/3` answers
    # are the starting values shapes draw from, fills them in: any value)
    read_fields_only: bool = False
    # (with `tools`) one record of each entity the scope holds only because a record links to it
    # through links no rule reads: every such link may point at that one record, so the walks are
    # the same up to which record they point at - a large spec's modules linked in a chain put
    # most of the spec behind such links (Reach's questions; not the Checker's exact walks)
    lean_links: bool = False


def slot_counts(domain: Domain, options: AspOptions) -> dict[str, int]:
    out = {}
    for name, ent in domain.entities.items():
        if name in options.slots:
            out[name] = options.slots[name]
        elif ent.slots is not None:
            out[name] = ent.slots
        elif name == domain.actor:
            out[name] = 1  # one person talks to the agent; their records are "my ..."
        else:
            out[name] = options.default_slots
    return out


def obj_name(entity: str, i: int) -> str:
    return f"{entity}{i}"


def arg_symbol(text: str) -> clingo.Symbol:
    """An enum or bool argument value as a walk records it ("true", "economy") -> its symbol."""
    return F(text) if text in ("true", "false") else S(text)


def value_symbol(value) -> clingo.Symbol:
    """An enum or bool value as the planner writes it."""
    if isinstance(value, bool):
        return TRUE if value else FALSE
    return S(str(value))


@dataclass
class _Scope:
    """How names resolve in one place a condition is written: the call's variables (record
    variables, enum and bool arguments, lets), or a record under test (a reference's or an
    invariant's record), and who is asking."""

    variables: set = field(default_factory=set)  # names bound per call (bind/argval)
    record: Optional[str] = None  # the name standing for the record under test
    actor: str = "actor"  # the name standing for the asking user
    lets: dict = field(default_factory=dict)


class Facts:
    """The facts of one domain under given planner options."""

    def __init__(self, domain: Domain, options: Optional[AspOptions] = None):
        self.d = domain
        self.opt = options or AspOptions()
        self.slots = slot_counts(domain, self.opt)
        if self.opt.tools is not None:
            keep = entities_for(domain, self.opt.tools)
            self.slots = {e: n for e, n in self.slots.items() if e in keep}
        self.atoms: list[clingo.Symbol] = []
        # per atom: its name and what the filters below ask of it (an enumval's field, a slot's
        # entity and number), kept in Python: reading a symbol back through clingo costs more
        self._kinds: list[tuple[str, object]] = []
        self._named: set[str] = set()  # fields some condition reads or some effect sets
        self._next = 0
        self._consts: set = set()  # e_const nodes (the options of an `in` list must be constants)
        self._terms, self._conds = _Terms(self), _Conds(self)
        self.selectable: dict[str, list[str]] = {}  # tool -> references it can resolve
        self._build()

    def text(self) -> str:
        """The facts as program text (each symbol printed by clingo, so strings are quoted)."""
        return "".join(f"{a}.\n" for a in self.atoms)

    # ------------------------------------------------------------------ helpers
    def fact(self, name: str, *args, tag: object = None) -> None:
        self.atoms.append(F(name, list(args)))
        self._kinds.append((name, tag))
        k = FIELD_ARGUMENT.get(name)
        if k is not None:
            self._named.add(args[k].string)

    def node(self, kind: str, *args) -> clingo.Symbol:
        self._next += 1
        n = N(self._next)
        self.fact(kind, n, *args)
        return n

    def child(self, parent: clingo.Symbol, *children: clingo.Symbol) -> None:
        for c in children:
            self.fact("child", parent, c)

    # ------------------------------------------------------------------ expressions
    def term(self, n: E.Node, scope: _Scope) -> Optional[clingo.Symbol]:
        """The node of a value the planner tracks (a record, an enum or bool value), or None."""
        return self._terms.walk(n, scope)

    def cond(self, n: E.Node, scope: _Scope) -> clingo.Symbol:
        """The node of a condition: what may make it true or false is the program's to derive."""
        return self._conds.walk(n, scope)

    def tool_scope(self, tool: Tool, extra: tuple = ()) -> _Scope:
        variables = {a.var for a in tool.args.values() if a.is_ref}
        variables |= {c.var for c in tool.created()}
        variables |= {a.name for a in tool.args.values() if not a.is_ref and a.type.kind in ("enum", "bool")}
        variables |= set(extra)
        return _Scope(variables=variables, lets={name: node for name, node, _t in tool.lets})

    # ------------------------------------------------------------------ the domain
    def _build(self) -> None:
        d, opt = self.d, self.opt
        for ent, n in self.slots.items():
            for i in range(1, n + 1):
                self.fact("slot", S(ent), S(obj_name(ent, i)), N(i), tag=(ent, i))
        self.fact("actor", S(obj_name(d.actor, 1)))
        if opt.pinned:
            self.fact("pinned")
        if opt.refusal:
            self.fact("refusal_mode")
        if opt.conditional:
            self.fact("conditional_mode")
        self.fact("max_goals", N(opt.max_goals))
        if opt.target is not None:
            self.fact("target", S(opt.target))
        for ent in d.entities.values():
            if ent.name not in self.slots:
                continue
            for f in ent.fields.values():
                if f.type.kind == "enum":
                    for v in f.type.values:
                        self.fact("enumval", S(ent.name), S(f.name), S(v), tag=f.name)
                elif f.type.kind == "bool":
                    self.fact("enumval", S(ent.name), S(f.name), TRUE, tag=f.name)
                    self.fact("enumval", S(ent.name), S(f.name), FALSE, tag=f.name)
                elif f.type.kind == "ref":
                    self.fact("reffield", S(ent.name), S(f.name), S(f.type.entity))
                    if f.nullable:
                        self.fact("nullable", S(ent.name), S(f.name))
                    if not f.refer_through:
                        self.fact("noref", S(ent.name), S(f.name))
            if any(r.by_id for r in ent.refs.values()):
                self.fact("idref", S(ent.name))
            for node, _src in ent.invariants:
                self.fact("inv", S(ent.name), self.cond(node, _Scope(record=ent.name)))
            for rule in history(d).for_entity(ent.name):
                self.fact("hist", S(ent.name), self.cond(rule.node, _Scope(record=ent.name)))
        for tool in d.tools.values():
            if opt.tools is None or tool.name in opt.tools:
                self._tool(tool)
        if opt.read_fields_only:
            self._drop_unread_fields()
        if opt.lean_links and opt.tools is not None:
            self._one_record_behind_unread_links()

    def _drop_unread_fields(self) -> None:
        """Drop `enumval` facts of fields no condition reads (e_attr) and no effect sets (seteff,
        createval): a large spec's shared actor carries every module's fields, and each would be
        tracked through every step of every question."""
        self._keep(lambda kind, tag: kind != "enumval" or tag in self._named)

    def _keep(self, wanted) -> None:
        kept = [(a, k) for a, k in zip(self.atoms, self._kinds) if wanted(*k)]
        self.atoms, self._kinds = [a for a, _k in kept], [k for _a, k in kept]

    def _one_record_behind_unread_links(self) -> None:
        """Keep one slot of each entity reached only through links no rule names
        (`FIELD_ARGUMENT`): no rule tells two such records apart, so a walk linking to several can
        link to one. Entities a tool of the scope takes, makes, lists or returns keep their slots."""
        d = self.d
        read = self._named
        start = {d.actor}
        for name in self.opt.tools:
            t = d.tools[name]
            start |= {a.type.entity for a in t.args.values() if a.is_ref} | {c.entity for c in t.created()}
            start |= returned(d, t)
        full = link_closure(d, start, lambda f: f.name in read)
        lean = {e for e in self.slots if e not in full and self.slots[e] > 1}
        if not lean:
            return
        self.slots = {e: 1 if e in lean else n for e, n in self.slots.items()}
        self._keep(lambda kind, tag: not (kind == "slot" and tag[0] in lean and tag[1] > 1))

    def _tool(self, tool: Tool) -> None:
        d, t = self.d, S(tool.name)
        self.fact("tool", t)
        if tool.is_write:
            self.fact("write", t)
        if tool.answer is not None:
            self.fact("answers", t)
        for a in tool.args.values():
            if a.is_ref:
                self.fact("refarg", t, S(a.var), S(a.type.entity))
            elif a.type.kind == "enum":
                for v in a.type.values:
                    self.fact("enumarg", t, S(a.name), S(v))
            elif a.type.kind == "bool":
                self.fact("enumarg", t, S(a.name), TRUE)
                self.fact("enumarg", t, S(a.name), FALSE)
        for c in tool.created():
            self.fact("creates", t, S(c.var), S(c.entity))
        listing = tool.returns.lists()
        if listing is not None:
            required = tool.returns.kind in ("list", "find")
            self.fact("lists", t, S(listing.entity), S(listing.item), F("must" if required else "may"))
            refs = selectable_references(d, tool)
            self.selectable[tool.name] = refs
            for r in refs:
                self.fact("selectable", t, S(r))
        if tool.returns.kind == "record":
            self.fact("returns_record", t, S(tool.returns.var))
        scope = self.tool_scope(tool)
        ref_vars = {a.var for a in tool.args.values() if a.is_ref}
        for j, req in enumerate(tool.requires, 1):
            self.fact("req", t, N(j), self.cond(req.expr, scope))
            # `distinct(source, target)` of two record arguments: refusing it is how a request
            # may name one record twice (encoding.lp otherwise never binds one record to both)
            if isinstance(req.expr, E.Call) and req.expr.func == "distinct":
                names = [a.id for a in req.expr.args if isinstance(a, E.Name) and a.id in ref_vars]
                for v1 in names:
                    for v2 in names:
                        if v1 != v2:
                            self.fact("req_distinct", t, N(j), S(v1), S(v2))
            if self.opt.conditional:  # a rule the user may anticipate, and the requests they may fall back on
                for other in req.fallback_then:
                    self.fact("fallback_tool", t, N(j), S(other))
        if tool.is_write and tool.requires:
            self.fact("has_reqs", t)
        if listing is not None and listing.where is not None:
            self.fact("lwhere", t, self.cond(listing.where, self.tool_scope(tool, (listing.item,))))
        for k, eff in enumerate(tool.effects):
            if isinstance(eff, SetEffect):
                self._set_effect(tool, scope, k, eff)
            elif isinstance(eff, CreateEffect):
                for fname, node in eff.values.items():
                    if not d.entities[eff.entity].fields[fname].symbolic:
                        continue
                    val = self.term(node, scope)
                    if val is not None:
                        self.fact("createval", t, S(eff.var), S(fname), val)
            elif isinstance(eff, DeleteEffect):
                self.fact("deleff", t, S(eff.var))
        for rname in self.selectable.get(tool.name, []):
            # the selected record fits the description's scope and fixed condition (the stated
            # values are numbers, dates and text, Z3's to decide)
            meaning = describe(d, d.entities[listing.entity].refs[rname])
            rscope = _Scope(record=meaning.record, actor=ACTOR)
            for part in meaning.parts:
                if part.kind in ("scope", "where"):
                    self.fact("refcheck", t, S(rname), self.cond(part.node, rscope))
            # a value stated through a link needs the link: no record is described through an
            # empty one ("the change of Ava" when it has no requester)
            for node in nonempty_links(d, meaning):
                self.fact("refcheck", t, S(rname), self.cond(node, rscope))

    def _set_effect(self, tool: Tool, scope: _Scope, k: int, eff: SetEffect) -> None:
        if eff.field_type.kind not in ("enum", "bool", "ref") or eff.op != "=":
            return
        target: E.Node = E.Name(eff.target[0], type=_var_type(self.d, tool, eff.target[0]))
        for s in eff.target[1:-1]:
            target = E.Attr(target, s, type=self.d.entities[target.type.entity].fields[s].type)
        tgt = self.term(target, scope)
        if tgt is None:
            return
        val = self.term(eff.value, scope)
        when = self.cond(eff.when, scope) if eff.when is not None else NONE
        self.fact("seteff", S(tool.name), N(k), tgt, S(eff.target[-1]), val if val is not None else NONE, when)


class _Terms(Walker):
    """The planner back-end for values: records, enum and bool values become e_* nodes; any
    other value (a number, a date, pooled text) is None - the planner does not track it."""

    def __init__(self, facts: Facts):
        self.f = facts

    def missing(self, n: E.Node, scope: _Scope) -> None:
        return None

    def lit(self, n: E.Lit, scope: _Scope) -> Optional[clingo.Symbol]:
        value = None
        if n.kind == "null":
            value = NULL
        elif n.kind == "str" and n.type is not None and n.type.kind == "enum":
            value = S(str(n.value))
        elif n.kind == "bool":
            value = value_symbol(bool(n.value))
        elif n.kind == "const" and n.type is not None and n.type.kind in ("enum", "bool"):
            value = value_symbol(n.value) if n.type.kind == "bool" else S(str(n.value))
        if value is None:
            return None
        out = self.f.node("e_const", value)
        self.f._consts.add(out)
        return out

    def name(self, n: E.Name, scope: _Scope) -> Optional[clingo.Symbol]:
        if n.id == scope.record:
            return self.f.node("e_record")
        if n.id == scope.actor:
            return self.f.node("e_actor")
        if n.id in scope.variables:
            return self.f.node("e_var", S(n.id))
        if n.id in scope.lets:
            return self.walk(scope.lets[n.id], scope)
        return None

    def attr(self, n: E.Attr, scope: _Scope) -> Optional[clingo.Symbol]:
        if n.type is None or n.type.kind not in ("enum", "bool", "ref"):
            return None
        base = self.walk(n.obj, scope)
        if base is None or n.name == "id":
            return base
        out = self.f.node("e_attr", base, S(n.name))
        self.f.child(out, base)
        return out


class _Conds(Walker):
    """The planner back-end for conditions: the symbolic part becomes an e_* tree; what the
    planner cannot decide (numbers, dates, pooled text, quantifiers) is an `e_unknown` node,
    which may be true and may be false - Z3 decides it."""

    def __init__(self, facts: Facts):
        self.f = facts

    def missing(self, n: E.Node, scope: _Scope) -> clingo.Symbol:
        return self.f.node("e_unknown")

    def lit(self, n: E.Lit, scope: _Scope) -> clingo.Symbol:
        if n.kind != "bool":
            return self.missing(n, scope)
        return self.f.node("e_true" if n.value else "e_false")

    def compare(self, n: E.Compare, scope: _Scope) -> clingo.Symbol:
        if n.op not in ("==", "!="):
            return self.missing(n, scope)
        a, b = self.f.term(n.left, scope), self.f.term(n.right, scope)
        if a is None or b is None:
            return self.missing(n, scope)
        out = self.f.node("e_cmp", F("eq" if n.op == "==" else "ne"), a, b)
        self.f.child(out, a, b)
        return out

    def inlist(self, n: E.InList, scope: _Scope) -> clingo.Symbol:
        a = self.f.term(n.item, scope)
        opts = [self.f.term(o, scope) for o in n.options]
        if a is None or any(o is None or o not in self.f._consts for o in opts):
            return self.missing(n, scope)  # the options must be constants
        out = self.f.node("e_in", a, F("neg" if n.negated else "pos"))
        self.f.child(out, a)
        for o in opts:
            self.f.fact("e_opt", out, o)
        return out

    def attr(self, n: E.Attr, scope: _Scope) -> clingo.Symbol:
        t = self.f.term(n, scope) if n.type is not None and n.type.kind == "bool" else None
        if t is None:
            return self.missing(n, scope)
        out = self.f.node("e_boolattr", t)
        self.f.child(out, t)
        return out

    def not_(self, n: E.Not, scope: _Scope) -> clingo.Symbol:
        inner = self.walk(n.operand, scope)
        out = self.f.node("e_not", inner)
        self.f.child(out, inner)
        return out

    def boolop(self, n: E.BoolOp, scope: _Scope) -> clingo.Symbol:
        parts = [self.walk(v, scope) for v in n.values]
        out = self.f.node("e_and" if n.op == "and" else "e_or")
        for p in parts:
            self.f.fact("e_arg", out, p)
            self.f.child(out, p)
        return out

    def call(self, n: E.Call, scope: _Scope) -> clingo.Symbol:
        """`distinct(a, b, ...)` of records or enum values: every pair differs (an `e_cmp ne`
        each, under one `e_and`); other functions compute numbers, Z3's to decide."""
        if n.func != "distinct":
            return self.missing(n, scope)
        terms = [self.f.term(a, scope) for a in n.args]
        if any(t is None for t in terms):
            return self.missing(n, scope)
        out = self.f.node("e_and")
        for i in range(len(terms)):
            for j in range(i + 1, len(terms)):
                ne = self.f.node("e_cmp", F("ne"), terms[i], terms[j])
                self.f.child(ne, terms[i], terms[j])
                self.f.fact("e_arg", out, ne)
                self.f.child(out, ne)
        return out

    def ifelse(self, n: E.IfElse, scope: _Scope) -> clingo.Symbol:
        c, a, b = self.walk(n.cond, scope), self.walk(n.then, scope), self.walk(n.other, scope)
        out = self.f.node("e_ite", c, a, b)
        self.f.child(out, c, a, b)
        return out


def _var_type(domain: Domain, tool: Tool, var: str):
    if var == "actor":
        return _ref_t(domain.actor)
    for a in tool.args.values():
        if a.is_ref and a.var == var:
            return a.type
    for c in tool.created():
        if c.var == var:
            return _ref_t(c.entity)
    for name, _node, t in tool.lets:
        if name == var:
            return t
    raise KeyError(var)


def _ref_t(entity: str):
    from ..spec.types import VType

    return VType("ref", entity=entity)
