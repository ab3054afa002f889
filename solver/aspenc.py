"""The symbolic part of a domain as an incremental ASP program (clingo), generated from the spec.

Walks are planned over abstract object slots (user1, flight1, flight2, ...), lifted: no
concrete values. ASP tracks what is finite and small - which records exist, which record a ref
field points to, enum and bool fields, which ids the agent knows - and leaves numbers, dates
and pooled strings to Z3. Every condition is compiled to a *may-be-true* and a *may-be-false*
predicate, so a mixed condition (`status == "booked" and balance >= price`) over-approximates
soundly, under negation too.

Program parts (clingo multi-shot): `base` (domain facts, initial state), `step(t)` (the t-th
call and the state after it), `check(t)` (a walk of exactly t steps ending in a goal).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Optional

from . import expr as E
from .domain import CreateEffect, DeleteEffect, Domain, Reference, SetEffect, Tool

_IDENT = re.compile(r"^[a-z][A-Za-z0-9_]*$")


def q(name: str) -> str:
    """An ASP constant for a name: bare when it is a valid identifier, else a string."""
    return name if _IDENT.match(name) else '"' + name.replace('"', '\\"') + '"'


@dataclass
class AspOptions:
    slots: dict[str, int] = field(default_factory=dict)  # per entity; default below
    default_slots: int = 2
    max_goals: int = 1  # goal steps per walk; longer multi-intent walks come from merging
    pinned: bool = False  # calls are given by `allow(t,T)` facts (checking one walk grounds little)
    refusal: bool = False  # the walk's last step is a request one of whose requirements fails


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


class _Ctx:
    """Where a condition is compiled: how record variables, args and lets become body literals."""

    def __init__(self, guard: str, records: dict[str, str], args: dict[str, str], lets: dict[str, E.Node]):
        self.guard = guard  # body literal(s) binding S, e.g. 'call(S,book)'
        self.records = records  # var -> literal template with {X}, e.g. 'bind(S,user,{X})'
        self.args = args  # enum/bool arg name -> literal template with {X}
        self.lets = lets


class AspProgram:
    """Builds the ASP text for a domain. `parts` maps part name -> program text."""

    def __init__(self, domain: Domain, options: Optional[AspOptions] = None):
        self.d = domain
        self.opt = options or AspOptions()
        self.slots = slot_counts(domain, self.opt)
        self.base: list[str] = []
        self.step: list[str] = []
        self.check: list[str] = []
        self._n = 0
        self._var = 0
        self.selectable: dict[str, list[str]] = {}  # tool -> references it can resolve
        self._build()

    # ----------------------------------------------------------------- helpers
    def fresh_pred(self, stem: str) -> str:
        self._n += 1
        return f"c{self._n}_{stem}"

    def fresh_var(self) -> str:
        self._var += 1
        return f"X{self._var}"

    def symbolic_type(self, t) -> bool:
        return t is not None and t.kind in ("enum", "bool", "ref")

    # ----------------------------------------------------------------- terms
    def term(self, n: E.Node, ctx: _Ctx) -> Optional[tuple[list[str], str]]:
        """(body literals, ASP term) for a symbolic value, or None when it is not symbolic."""
        if isinstance(n, E.Lit):
            if n.kind == "str" and n.type is not None and n.type.kind == "enum":
                return [], q(str(n.value))
            if n.kind == "bool":
                return [], "true" if n.value else "false"
            if n.kind == "const" and n.type is not None and n.type.kind in ("enum", "bool"):
                return [], q(str(n.value).lower() if n.type.kind == "bool" else str(n.value))
            return None
        if isinstance(n, E.Name):
            if n.id in ctx.records:
                x = self.fresh_var()
                return [ctx.records[n.id].format(X=x)], x
            if n.id in ctx.args:
                x = self.fresh_var()
                return [ctx.args[n.id].format(X=x)], x
            if n.id in ctx.lets:
                return self.term(ctx.lets[n.id], ctx)
            return None
        if isinstance(n, E.Attr):
            if not self.symbolic_type(n.type):
                return None
            base = self.term(n.obj, ctx)
            if base is None:
                return None
            lits, x = base
            if n.name == "id":
                return lits, x
            y = self.fresh_var()
            return lits + [f"val({x},{q(n.name)},{y},S)"], y
        return None

    # ----------------------------------------------------------------- conditions
    def cond(self, n: E.Node, ctx: _Ctx) -> tuple[Optional[str], Optional[str]]:
        """Predicates (may_true, may_false) of arity 1 (the step). None means 'always'."""
        rules = self.step
        if isinstance(n, E.Lit) and n.kind == "bool":
            return (None, "false_") if n.value else ("false_", None)
        if isinstance(n, E.Compare) and n.op in ("==", "!="):
            a, b = self.term(n.left, ctx), self.term(n.right, ctx)
            if a is None or b is None:
                return None, None
            mt, mf = self.fresh_pred("t"), self.fresh_pred("f")
            body = [ctx.guard] + a[0] + b[0]
            eq, ne = f"{a[1]}={b[1]}", f"{a[1]}!={b[1]}"
            if n.op == "!=":
                eq, ne = ne, eq
            rules.append(f"{mt}(S) :- {', '.join(body + [eq])}.")
            rules.append(f"{mf}(S) :- {', '.join(body + [ne])}.")
            return mt, mf
        if isinstance(n, E.InList):
            a = self.term(n.item, ctx)
            opts = [self.term(o, ctx) for o in n.options]
            if a is None or any(o is None or o[0] for o in opts):
                return None, None
            mt, mf = self.fresh_pred("t"), self.fresh_pred("f")
            pos, neg = (mt, mf) if not n.negated else (mf, mt)
            for o in opts:
                rules.append(f"{pos}(S) :- {', '.join([ctx.guard] + a[0] + [f'{a[1]}={o[1]}'])}.")
            rules.append(f"{neg}(S) :- {', '.join([ctx.guard] + a[0] + [f'{a[1]}!={o[1]}' for o in opts])}.")
            return mt, mf
        if isinstance(n, E.Attr) and n.type is not None and n.type.kind == "bool":
            t = self.term(n, ctx)
            if t is None:
                return None, None
            mt, mf = self.fresh_pred("t"), self.fresh_pred("f")
            rules.append(f"{mt}(S) :- {', '.join([ctx.guard] + t[0] + [f'{t[1]}=true'])}.")
            rules.append(f"{mf}(S) :- {', '.join([ctx.guard] + t[0] + [f'{t[1]}=false'])}.")
            return mt, mf
        if isinstance(n, E.Not):
            a_t, a_f = self.cond(n.operand, ctx)
            return a_f, a_t
        if isinstance(n, E.BoolOp):
            parts = [self.cond(v, ctx) for v in n.values]
            if n.op == "and":
                return self._conj([p[0] for p in parts], ctx), self._disj([p[1] for p in parts], ctx)
            return self._disj([p[0] for p in parts], ctx), self._conj([p[1] for p in parts], ctx)
        if isinstance(n, E.IfElse):
            c_t, c_f = self.cond(n.cond, ctx)
            a_t, a_f = self.cond(n.then, ctx)
            b_t, b_f = self.cond(n.other, ctx)
            mt = self._disj([self._conj([c_t, a_t], ctx), self._conj([c_f, b_t], ctx)], ctx)
            mf = self._disj([self._conj([c_t, a_f], ctx), self._conj([c_f, b_f], ctx)], ctx)
            return mt, mf
        return None, None  # numeric, dates, pooled strings: Z3 decides

    def _conj(self, preds: list[Optional[str]], ctx: _Ctx) -> Optional[str]:
        real = [p for p in preds if p is not None]
        if not real:
            return None
        if "false_" in real:
            return "false_"
        if len(real) == 1:
            return real[0]
        p = self.fresh_pred("and")
        self.step.append(f"{p}(S) :- {', '.join([ctx.guard] + [f'{r}(S)' for r in real])}.")
        return p

    def _disj(self, preds: list[Optional[str]], ctx: _Ctx) -> Optional[str]:
        if any(p is None for p in preds):
            return None
        real = [p for p in preds if p != "false_"]
        if not real:
            return "false_"
        if len(real) == 1:
            return real[0]
        p = self.fresh_pred("or")
        for r in real:
            self.step.append(f"{p}(S) :- {ctx.guard}, {r}(S).")
        return p

    def require(self, pred: Optional[str], ctx: _Ctx, why: str) -> None:
        if pred is None:
            return
        if pred == "false_":
            self.step.append(f":- {ctx.guard}.  % {why}")
        else:
            self.step.append(f":- {ctx.guard}, not {pred}(S).  % {why}")

    # ----------------------------------------------------------------- contexts
    def tool_ctx(self, tool: Tool, extra_records: Optional[dict[str, str]] = None) -> _Ctx:
        t = q(tool.name)
        records = {a.var: f"bind(S,{q(a.var)},{{X}})" for a in tool.args.values() if a.is_ref}
        records["actor"] = "actor({X})"
        for c in tool.created():
            records[c.var] = f"bind(S,{q(c.var)},{{X}})"
        records.update(extra_records or {})
        args = {
            a.name: f"argval(S,{q(a.name)},{{X}})"
            for a in tool.args.values()
            if not a.is_ref and a.type.kind in ("enum", "bool")
        }
        lets = {name: node for name, node, _t in tool.lets}
        return _Ctx(f"call(S,{t})", records, args, lets)

    # ----------------------------------------------------------------- program
    def _build(self) -> None:
        d = self.d
        B, P, C = self.base, self.step, self.check
        B.append("% ---- domain facts, generated from the spec")
        for ent, n in self.slots.items():
            for i in range(1, n + 1):
                B.append(f"slot({q(ent)},{q(obj_name(ent, i))},{i}).")
        B.append(f"actor({q(obj_name(d.actor, 1))}).")
        for ent in d.entities.values():
            for f in ent.fields.values():
                if f.type.kind == "enum":
                    for v in f.type.values:
                        B.append(f"enumval({q(ent.name)},{q(f.name)},{q(v)}).")
                elif f.type.kind == "bool":
                    B.append(f"enumval({q(ent.name)},{q(f.name)},true). enumval({q(ent.name)},{q(f.name)},false).")
                elif f.type.kind == "ref":
                    B.append(f"reffield({q(ent.name)},{q(f.name)},{q(f.type.entity)}).")
            if any(r.by_id for r in ent.refs.values()):
                B.append(f"idref({q(ent.name)}).")
        for tool in d.tools.values():
            t = q(tool.name)
            B.append(f"tool({t}).")
            if tool.is_write:
                B.append(f"write({t}).")
            if tool.answer is not None:
                B.append(f"answers({t}).")
            for a in tool.args.values():
                if a.is_ref:
                    B.append(f"refarg({t},{q(a.var)},{q(a.type.entity)}).")
                elif a.type.kind == "enum":
                    for v in a.type.values:
                        B.append(f"enumarg({t},{q(a.name)},{q(v)}).")
                elif a.type.kind == "bool":
                    B.append(f"enumarg({t},{q(a.name)},true). enumarg({t},{q(a.name)},false).")
            for c in tool.created():
                B.append(f"creates({t},{q(c.var)},{q(c.entity)}).")
            listing = tool.returns.lists()
            if listing is not None:
                required = tool.returns.kind in ("list", "find")
                B.append(f"lists({t},{q(listing.entity)},{q(listing.item)},{'must' if required else 'may'}).")
                refs = selectable_references(d, tool)
                self.selectable[tool.name] = refs
                for r in refs:
                    B.append(f"selectable({t},{q(r)}).")
            if tool.returns.kind == "record":
                B.append(f"returns_record({t},{q(tool.returns.var)}).")
        B.append("")
        B.append("% ---- the initial state: which slots exist, their enum/bool fields and links")
        B.append("{ init_exists(O) } :- slot(E,O,_).")
        B.append("init_exists(O) :- actor(O).")
        B.append("1 { init(O,F,V) : enumval(E,F,V) } 1 :- init_exists(O), slot(E,O,_), enumval(E,F,_).")
        B.append("1 { init(O,F,P) : slot(E2,P,_) } 1 :- init_exists(O), slot(E,O,_), reffield(E,F,E2).")
        B.append(":- init(O,F,P), slot(E,O,_), reffield(E,F,_), not init_exists(P).")
        B.append("link(O,F,P) :- init(O,F,P), slot(E,O,_), reffield(E,F,_).")
        B.append("val(O,F,V,1) :- init(O,F,V).")
        B.append("exists(O,1) :- init_exists(O).")
        B.append("{ given(O) } :- init_exists(O), slot(E,O,_), idref(E).")
        B.append("known(O,1) :- given(O).")
        B.append("false_(0) :- #false.")
        B.append("refuse_at(0) :- #false. refuse(0,0) :- #false. refusal_mode :- #false.")
        if self.opt.refusal:
            B.append("refusal_mode.")

        P.append("% ---- step t: one tool call and the state after it")
        P.append("#external query(t).")
        P.append("step(t).")
        if self.opt.pinned:
            P.append("1 { call(t,T) : tool(T), allow(t,T) } 1.")
        else:
            P.append("1 { call(t,T) : tool(T) } 1.")
        P.append("1 { bind(t,V,O) : slot(E,O,_) } 1 :- call(t,T), refarg(T,V,E).")
        P.append("1 { argval(t,A,X) : enumarg(T,A,X) } 1 :- call(t,T), enumarg(T,A,_).")
        P.append("1 { new(t,V,O) : slot(E,O,_) } 1 :- call(t,T), creates(T,V,E), not refuse_at(t).")
        P.append("{ refuse_at(t) } :- call(t,T), write(T), refusal_mode.")
        P.append("bind(t,V,O) :- new(t,V,O).")
        P.append(":- new(t,_,O), exists(O,t).")
        P.append(":- new(t,_,O), init_exists(O).")
        P.append(":- new(t,V1,O), new(t,V2,O), V1 != V2.")
        P.append("1 { select(t,O,R) : slot(E,O,_), selectable(T,R) } 1 :- call(t,T), lists(T,E,_,must).")
        P.append("{ select(t,O,R) : slot(E,O,_), selectable(T,R) } 1 :- call(t,T), lists(T,E,_,may).")
        P.append("bind(t,I,O) :- select(t,O,_), call(t,T), lists(T,_,I,_).")
        P.append("{ ask(t) } :- call(t,T), answers(T).")
        P.append("% ids the agent must know, records that must exist")
        P.append(":- call(t,T), refarg(T,V,_), bind(t,V,O), not known(O,t).")
        P.append(":- call(t,T), refarg(T,V,_), bind(t,V,O), not exists(O,t).")
        P.append(":- select(t,O,_), known(O,t).")
        P.append(":- select(t,O,_), not exists(O,t).")
        P.append(":- step(S), S < t, select(t,O,R), select(S,O,R2), R != R2.")
        P.append("% knowledge flows from results")
        P.append("known(O,t+1) :- known(O,t).")
        P.append("known(O,t+1) :- select(t,O,_).")
        P.append("known(O,t+1) :- call(t,T), returns_record(T,V), bind(t,V,O), not refuse_at(t).")
        P.append("known(P,t+1) :- call(t,T), returns_record(T,V), bind(t,V,O), val(O,F,P,t+1), slot(E,O,_), reffield(E,F,_), not refuse_at(t).")
        P.append("known(P,t+1) :- select(t,O,_), val(O,F,P,t), slot(E,O,_), reffield(E,F,_).")
        P.append("% frame: existence and symbolic values persist unless changed")
        P.append("exists(O,t+1) :- exists(O,t), not deleted(O,t).")
        P.append("exists(O,t+1) :- new(t,_,O).")
        P.append("val(O,F,V,t+1) :- val(O,F,V,t), exists(O,t+1), not changed(O,F,t).")
        P.append("changed(O,F,t) :- set(t,O,F,_).")
        P.append("val(O,F,V,t+1) :- set(t,O,F,V).")
        P.append("goal(t) :- call(t,T), write(T).")
        P.append("goal(t) :- ask(t).")
        P.append("provides(t,O) :- known(O,t+1), not known(O,t).")
        P.append("needs(t,O) :- call(t,T), refarg(T,V,_), bind(t,V,O).")
        P.append("consumed(S,t) :- step(S), S < t, provides(S,O), needs(t,O).")
        P.append("% the same call twice is pointless")
        P.append("differs(S,t) :- step(S), S < t, call(S,T), call(t,T), bind(S,V,O1), bind(t,V,O2), O1 != O2.")
        P.append("differs(S,t) :- step(S), S < t, call(S,T), call(t,T), argval(S,A,X1), argval(t,A,X2), X1 != X2.")
        P.append("differs(S,t) :- step(S), S < t, call(S,T), call(t,T), select(S,O1,_), select(t,O2,_), O1 != O2.")
        P.append(":- step(S), S < t, call(S,T), call(t,T), not differs(S,t).")
        P.append("% ---- per-tool rules")
        for tool in d.tools.values():
            self._tool_rules(tool)
        P.append("% ---- entity invariants: their symbolic part holds for every record in every state")
        for ent in d.entities.values():
            for node, src in ent.invariants:
                for i in range(1, self.slots.get(ent.name, 0) + 1):
                    o = q(obj_name(ent.name, i))
                    ictx = _Ctx(f"exists({o},S)", {ent.name: f"{{X}}={o}"}, {}, {})
                    mt, _ = self.cond(node, ictx)
                    if mt is not None:
                        self.require(mt, ictx, f"{ent.name} invariant: {src}")

        C.append("% ---- a walk of exactly t steps")
        C.append(":- query(t), not goal(t).")
        C.append(":- query(t), refusal_mode, not refuse_at(t).  % a refusal walk ends in the refused request")
        C.append(":- query(t), refuse_at(S), S < t.")
        C.append(f":- query(t), #count {{ S : goal(S), S <= t }} > {self.opt.max_goals}.")
        C.append("consumed_by(S,t) :- consumed(S,T2), T2 <= t.")
        C.append(":- query(t), step(S), S < t, not goal(S), not consumed_by(S,t).")
        C.append("touched(O,t) :- bind(S,_,O), S <= t.")
        C.append("touched(O,t) :- given(O).")
        C.append("touched(O,t) :- actor(O).")
        C.append("touched(P,t) :- touched(O,t), link(O,_,P).")
        C.append(":- query(t), init_exists(O), not touched(O,t).")
        C.append("bound(O,t) :- bind(S,_,O), S <= t.")
        C.append(":- query(t), given(O), not bound(O,t).  % the user only states ids the agent uses")
        C.append("selected(O,t) :- select(S,O,_), S <= t.")
        C.append(":- query(t), actor(O), bound(O,t), not given(O), not selected(O,t).  % who the user is comes from the user")
        C.append("used_later(S,t) :- select(S,O,_), bind(S2,_,O), S < S2, S2 <= t.")
        C.append(":- query(t), select(S,_,_), not used_later(S,t).  % a record is picked out to be acted on")
        C.append("% symmetry: slots of one entity are used in order of first use")
        C.append("used(O,t) :- init_exists(O).")
        C.append("used(O,t) :- new(S,_,O), S <= t.")
        C.append(":- query(t), slot(E,O,I), slot(E,O2,I-1), used(O,t), not used(O2,t).")
        C.append("first(O,F,t) :- used(O,t), F = #min { S : bind(S,_,O), S <= t; t+1 : used(O,t) }.")
        C.append("% (the actor is not interchangeable with other people: the order starts after it)")
        C.append(":- query(t), slot(E,O,I), slot(E,O2,I-1), not actor(O2), first(O,F,t), first(O2,F2,t), F < F2.")

    def _tool_rules(self, tool: Tool) -> None:
        P = self.step
        ctx = self.tool_ctx(tool)
        t = q(tool.name)
        # preconditions: all may hold - except at a refused request, where one may fail (and
        # those before it may hold); a refused request changes nothing
        conds = [self.cond(req.expr, ctx) for req in tool.requires]
        normal = _Ctx(f"call(S,{t}), not refuse_at(S)", ctx.records, ctx.args, ctx.lets)
        for req, (mt, _mf) in zip(tool.requires, conds):
            self.require(mt, normal, f"{tool.name}: {req.src}")
        if tool.is_write and tool.requires:
            P.append(f"1 {{ {'; '.join(f'refuse(S,{j + 1})' for j in range(len(conds)))} }} 1 :- "
                     f"call(S,{t}), refuse_at(S).")
            for j, (_mt, mf) in enumerate(conds):
                if mf == "false_":
                    P.append(f":- call(S,{t}), refuse(S,{j + 1}).  % {tool.name}: requirement {j + 1} cannot fail")
                elif mf is not None:
                    P.append(f":- call(S,{t}), refuse(S,{j + 1}), not {mf}(S).")
                for i in range(j):
                    mt = conds[i][0]
                    if mt == "false_":
                        P.append(f":- call(S,{t}), refuse(S,{j + 1}).")
                    elif mt is not None:
                        P.append(f":- call(S,{t}), refuse(S,{j + 1}), not {mt}(S).")
        ctx = _Ctx(f"call(S,{t}), not refuse_at(S)", ctx.records, ctx.args, ctx.lets)
        # candidate list: the selected record satisfies the list's condition
        listing = tool.returns.lists()
        if listing is not None and listing.where is not None:
            lctx = self.tool_ctx(tool, {listing.item: f"bind(S,{q(listing.item)},{{X}})"})
            lctx.guard = f"call(S,{t}), select(S,_,_)"
            mt, _ = self.cond(listing.where, lctx)
            self.require(mt, lctx, f"{tool.name}: selected record is listed")
        # effects on symbolic fields
        for k, eff in enumerate(tool.effects):
            if isinstance(eff, SetEffect):
                self._set_rule(tool, ctx, k, eff)
            elif isinstance(eff, CreateEffect):
                for fname, node in eff.values.items():
                    info = self.d.entities[eff.entity].fields[fname]
                    if not info.symbolic:
                        continue
                    val = self.term(node, ctx)
                    if val is None:
                        continue
                    body = [ctx.guard, f"new(S,{q(eff.var)},O)"] + val[0]
                    P.append(f"val(O,{q(fname)},{val[1]},S+1) :- {', '.join(body)}.")
            elif isinstance(eff, DeleteEffect):
                P.append(f"deleted(O,S) :- call(S,{t}), not refuse_at(S), bind(S,{q(eff.var)},O).")
        # references resolvable from this tool's list
        for rname in self.selectable.get(tool.name, []):
            ref = self.d.entities[listing.entity].refs[rname]
            rctx = _Ctx(f"call(S,{t}), select(S,_,{q(rname)})",
                        {ref.entity: f"select(S,{{X}},{q(rname)})", "__actor__": "actor({X})"}, {}, {})
            if ref.where is not None:
                mt, _ = self.cond(ref.where, rctx)
                self.require(mt, rctx, f"reference {rname}: {ref.where_src}")
            if ref.scope is not None:
                node = E.Name(ref.entity, type=_ref_t(ref.entity))
                ent = ref.entity
                for stepname in ref.scope:
                    ft = self.d.entities[ent].fields[stepname].type
                    node = E.Attr(node, stepname, type=ft)
                    ent = ft.entity
                cmp = E.Compare("==", node, E.Name("__actor__", type=_ref_t(self.d.actor)), type=_bool_t())
                mt, _ = self.cond(cmp, rctx)
                self.require(mt, rctx, f"reference {rname}: scope {'.'.join(ref.scope)}")

    def _set_rule(self, tool: Tool, ctx: _Ctx, k: int, eff: SetEffect) -> None:
        if not self.symbolic_type(eff.field_type) or eff.op != "=":
            return
        P = self.step
        # target object: path without the last field
        target_node: E.Node = E.Name(eff.target[0])
        tt = self._var_type(tool, eff.target[0])
        target_node.type = tt
        for s in eff.target[1:-1]:
            ft = self.d.entities[target_node.type.entity].fields[s].type
            target_node = E.Attr(target_node, s, type=ft)
        tgt = self.term(target_node, ctx)
        val = self.term(eff.value, ctx)
        if tgt is None:
            return
        body = [ctx.guard] + tgt[0]
        fld = q(eff.target[-1])
        if eff.when is not None:
            w_t, w_f = self.cond(eff.when, ctx)
            fire = self.fresh_pred("fire")
            P.append(f"{{ {fire}(S) }} :- {ctx.guard}.")
            if w_t is not None:
                P.append(f":- {fire}(S), not {w_t}(S).")
            if w_f is not None:
                P.append(f":- {ctx.guard}, not {fire}(S), not {w_f}(S).")
            body.append(f"{fire}(S)")
        if val is None:
            # value unknown to ASP (computed): any value of the field's domain
            P.append(f"1 {{ set(S,{tgt[1]},{fld},V) : enumval(_,{fld},V) }} 1 :- {', '.join(body)}.")
        else:
            P.append(f"set(S,{tgt[1]},{fld},{val[1]}) :- {', '.join(body + val[0])}.")

    def _var_type(self, tool: Tool, var: str):
        if var == "actor":
            return _ref_t(self.d.actor)
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

    def parts(self) -> dict[str, str]:
        def fix(lines: list[str]) -> str:
            return "\n".join(lines) + "\n"

        return {"base": fix(self.base), "step": _subst_step(fix(self.step)), "check": fix(self.check)}

    def text(self, horizon: int) -> str:
        """The whole program for one horizon, for reading (`envsynth walks --show-asp`)."""
        out = ["#program base.", self.parts()["base"]]
        out.append("#program step(t).")
        out.append(self.parts()["step"])
        out.append("#program check(t).")
        out.append(self.parts()["check"])
        return "\n".join(out)


def _subst_step(text: str) -> str:
    """Per-tool rules are written over a step variable S; inside part step(t) S is t.

    Rules that relate two steps (`step(S), S < t`) keep their own S; those lines already use
    t explicitly and contain 'step(S)', so they are left alone."""
    out = []
    for line in text.splitlines():
        if "step(S)" in line or line.startswith("%"):
            out.append(line)
            continue
        line = re.sub(r"\bS\+1\b", "t+1", line)
        line = re.sub(r"\bS\b", "t", line)
        out.append(line)
    return "\n".join(out) + "\n"


def _ref_t(entity: str):
    from .types import VType

    return VType("ref", entity=entity)


def _bool_t():
    from .types import BOOL

    return BOOL


def _links_to(listing, record_vars: set) -> list[list[str]]:
    """Link paths from the listed item to a record variable: `item.a.b == var` gives [a, b]."""
    out = []
    if listing.where is None:
        return out
    for c in E.conjuncts(listing.where):
        if isinstance(c, E.Compare) and c.op == "==":
            for a, b in ((c.left, c.right), (c.right, c.left)):
                pa, pb = E.path_of(a), E.path_of(b)
                if pa and pb and pa[0] == listing.item and len(pa) >= 2 and len(pb) == 1 and pb[0] in record_vars:
                    out.append(pa[1:])
    return out


def _goes_through(ref: Reference, path: list[str]) -> bool:
    """The description singles out the record at the end of `path`: it is the user ("my order"
    with scope [user]), or the user states a field of it ("the next booking of Orion"). A scope
    that merely passes through it ("a transfer I sent", scope from_account.owner) does not say
    which of the user's accounts to look in."""
    n = len(path)
    return ref.scope == path or any(p[:n] == path and len(p) > n for p in ref.filter)


@dataclass
class _Listing:
    """What a tool's candidate list offers for picking a record out of it."""

    listing: Any  # ListResult
    pinned: dict[str, list[str]]  # scalar argument -> the listed record's path it filters on
    scalar_args: list[str]
    anchors: list[list[str]]  # link paths from the listed record to a record the tool was given


def _listing(tool: Tool) -> Optional[_Listing]:
    listing = tool.returns.lists()
    if listing is None:
        return None
    pinned: dict[str, list[str]] = {}
    if listing.where is not None:
        for c in E.conjuncts(listing.where):
            if isinstance(c, E.Compare) and c.op == "==":
                for a, b in ((c.left, c.right), (c.right, c.left)):
                    pa, pb = E.path_of(a), E.path_of(b)
                    if pa and pb and pa[0] == listing.item and len(pb) == 1 and pb[0] in tool.args:
                        pinned[pb[0]] = pa[1:]
    scalar_args = [a.name for a in tool.args.values() if not a.is_ref]
    # an included list hangs off the returned record through a link (order.user == user, or
    # appointment.pet.owner == owner): a description fits when it names that record - "my ..."
    # (scope) or a stated field of it. A list filtered by a record argument (meeting.room == room)
    # is searched because the user speaks of that record: the description must go through that
    # link ("my next meeting in Orion"), not around it ("my next meeting titled Standup" is found
    # from the user's own list)
    if tool.returns.kind == "record":
        anchors = _links_to(listing, {tool.returns.var})
    elif tool.returns.kind == "list":
        anchors = _links_to(listing, {a.var for a in tool.args.values() if a.is_ref})
    else:
        anchors = []
    return _Listing(listing, pinned, scalar_args, anchors)


def selectable_references(domain: Domain, tool: Tool) -> list[str]:
    """References that can pick one record out of this tool's candidate list.

    A reference fits when the list has the reference's entity; every scalar argument of the
    tool is pinned by the list condition to a field the reference's filter states (so the user's
    description supplies the search arguments); for a list hanging off a record the tool was
    given, the description goes through that record; and the agent can see every field the
    description states (`_hidden`)."""
    lst = _listing(tool)
    if lst is None:
        return []
    out = []
    for rname, ref in domain.entities[lst.listing.entity].refs.items():
        if ref.by_id:
            continue
        if any(a not in lst.pinned or lst.pinned[a] not in ref.filter for a in lst.scalar_args):
            continue
        if (lst.anchors or tool.returns.kind == "record") and not any(_goes_through(ref, a) for a in lst.anchors):
            continue
        if hidden_fields(tool, ref, lst):
            continue
        out.append(rname)
    return out


def hidden_fields(tool: Tool, ref: Reference, lst: Optional[_Listing] = None) -> list[list[str]]:
    """Paths a description states through a link that the tool's listed records do not show: the
    agent sees a linked record's id, not its fields, unless the list `expand`s the link, the
    tool's search pins the value, or the link leads to the record the tool was asked about."""
    lst = lst or _listing(tool)
    if lst is None or lst.listing.entity != ref.entity:
        return []
    stated = list(ref.filter) + ([ref.rank[0]] if ref.rank else []) + ([ref.scope] if ref.scope else [])
    out = []
    for path in stated:
        shown = path[:-1] if path[-1] == "id" else path  # a link's id is the link field itself
        prefix = shown[:-1]
        if not prefix or path in lst.pinned.values() or shown in lst.anchors or prefix in lst.anchors:
            continue  # a field of the listed record, a searched value, or what the list hangs off
        if not any(e[:len(prefix)] == prefix for e in lst.listing.expand):
            out.append(path)
    return out
