"""What a record's history implies about it: the rules its creating tool leaves behind.

A record in an initial database stands for one the domain's own tools made. When the tool that
creates it checked something about it that can never change afterwards, that check still holds
today - and a generated database must keep it, or the world is one the rules could not produce
(a dispute opened 90 days after its transfer, two open disputes on one transfer). This module
derives those rules from the spec, as expressions over the created record, for every back-end:

- a requirement on fields nobody changes afterwards, with the tool's arguments read back from the
  fields the creation stored them in and `today` from the field stamped with the creation date:
  `today - transfer.date <= 60` becomes `dispute.opened - dispute.transfer.date <= 60`;
- every field stamped with `today` (or `now`) is not in the future;
- "no other record like it" (`none(d in dispute where d.transfer == transfer and d.status ==
  "open")`): while the record is still in the state it was created in, and that state cannot be
  re-entered, no other record of the entity is in it with the same values - the later of two
  would have been refused;
- what the creation does to a record it links to (`slot.status = "booked"` when an appointment
  is booked): that holds while the new record stays in its created state, if every tool that
  changes it back also moves the record out of that state (cancelling frees the slot); and when
  the tool needed it to be otherwise first (`slot.status == "open"`), no two records in their
  created state share the linked record (no double booking).

What cannot be derived is said, with the invariant that would state it (`check` reports these):
requirements that count, quantifiers over other entities, effects on linked records that other
tools undo on their own. Requirements on the caller (`actor`) or on fields that change later constrain nothing
today: a later change explains any value. Fields of records no tool creates (flights, accounts)
count as changing: the operator keeps those records, outside the tools.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from . import grammar as E
from . import types as T
from .model import CreateEffect, Domain, Entity, SetEffect, Tool
from .types import VType


@dataclass(frozen=True)
class CreationRule:
    """A rule every record of `entity` keeps, because `tool` created it: `node` is an expression
    over the record (named as the entity, like an invariant)."""

    entity: str
    tool: str
    node: E.Node
    text: str  # the rule in the spec's words, over the record
    because: str  # the requirement (or stamp) it comes from
    line: int = 0


@dataclass(frozen=True)
class Unguaranteed:
    """A requirement of a creating tool that generated databases do not keep, and why."""

    entity: str
    tool: str
    requirement: str
    reason: str
    suggestion: str
    line: int = 0


@dataclass(frozen=True)
class History:
    rules: tuple[CreationRule, ...]
    unguaranteed: tuple[Unguaranteed, ...]

    def for_entity(self, entity: str) -> list[CreationRule]:
        return [r for r in self.rules if r.entity == entity]


class _NotDerivable(Exception):
    def __init__(self, reason: str, quiet: bool = False):
        super().__init__(reason)
        self.reason, self.quiet = reason, quiet


OPERATOR = E.Name("the operator")  # stands for changes made outside the tools


def mutable_fields(domain: Domain) -> dict[tuple[str, str], list[E.Node]]:
    """(entity, field) -> the values tools set it to (a field absent here never changes). Records
    of an entity no tool creates (flights, accounts) are kept by the operator, outside the tools:
    any of their fields may have changed since (a flight cancelled, an account frozen)."""
    out: dict[tuple[str, str], list[E.Node]] = {}
    created = {e.entity for t in domain.tools.values() for e in t.created()}
    for ename, ent in domain.entities.items():
        if ename not in created:
            for fname in ent.fields:
                out[(ename, fname)] = [OPERATOR]
    for tool in domain.tools.values():
        for eff in tool.effects:
            if isinstance(eff, SetEffect):
                ent = _target_entity(domain, tool, eff)
                if ent is not None:
                    out.setdefault((ent, eff.target[-1]), []).append(eff.value)
    return out


class _Rewriter:
    """A creating tool's requirement rewritten over the record it creates."""

    def __init__(self, domain: Domain, tool: Tool, eff: CreateEffect, mutable: dict):
        self.domain, self.tool, self.eff, self.mutable = domain, tool, eff, mutable
        self.ent: Entity = domain.entities[eff.entity]
        self.me = E.Name(eff.entity, type=VType("ref", entity=eff.entity))
        self.stamp: dict[str, str] = {}  # today/now -> field stamped with it
        self.binds: dict[str, str] = {}  # argument / record variable -> field storing it
        for fname, node in eff.values.items():
            if isinstance(node, E.Name):
                if node.id in ("today", "now"):
                    self.stamp.setdefault(node.id, fname)
                else:
                    self.binds.setdefault(node.id, fname)
        self.lets = {name: node for name, node, _t in tool.lets}

    def field(self, fname: str) -> E.Node:
        return E.Attr(self.me, fname, type=self.ent.fields[fname].type)

    def rewrite(self, n: E.Node, bound: frozenset = frozenset(), sticky: Optional[str] = None) -> E.Node:
        """A copy of `n` over the created record; raises _NotDerivable. Inside a quantifier
        (`bound` names its variable) the one changing field read may be the `sticky` one."""
        if isinstance(n, E.Name):
            if n.id in bound:
                return n
            if n.id in self.lets:
                return self.rewrite(self.lets[n.id], bound, sticky)
            if n.id in ("today", "now"):
                if n.id not in self.stamp:  # (then it says nothing about today: creation was earlier)
                    raise _NotDerivable(f"no field of {self.ent.name} records the date it was made", quiet=True)
                return self.field(self.stamp[n.id])
            if n.id == "actor":
                raise _NotDerivable("it is about the caller", quiet=True)
            if n.id in self.binds:
                fname = self.binds[n.id]
                if (self.ent.name, fname) in self.mutable:
                    raise _NotDerivable(f"{self.ent.name}.{fname} changes later", quiet=True)
                return self.field(fname)
            # an argument the record keeps only through a computation (a local hour stored in
            # UTC): what the tool checked of it is not read back (state it as an invariant)
            raise _NotDerivable(f"'{n.id}' is not stored in the {self.ent.name} it creates", quiet=True)
        if isinstance(n, E.Attr):
            obj = self.rewrite(n.obj, bound, sticky)
            owner = n.obj.type
            if n.name != "id" and owner is not None and owner.kind == "ref" and (owner.entity, n.name) in self.mutable:
                on_bound = isinstance(n.obj, E.Name) and n.obj.id in bound
                if not (on_bound and n.name == sticky):
                    raise _NotDerivable(f"{owner.entity}.{n.name} changes later", quiet=not on_bound)
            return E.Attr(obj, n.name, type=n.type)
        if isinstance(n, E.Quant):
            raise _NotDerivable("it counts or searches other records")
        return _copy(n, lambda c: self.rewrite(c, bound, sticky))


def _copy(n: E.Node, f) -> E.Node:
    """A node with its children mapped by `f` (same class, same type)."""
    t = n.type
    if isinstance(n, (E.Lit,)):
        return n
    if isinstance(n, E.Neg):
        return E.Neg(f(n.operand), type=t)
    if isinstance(n, E.Scale):
        return E.Scale(f(n.operand), n.factor, type=t)
    if isinstance(n, E.Arith):
        return E.Arith(n.op, f(n.left), f(n.right), n.small, type=t, bounds=n.bounds)
    if isinstance(n, E.Compare):
        return E.Compare(n.op, f(n.left), f(n.right), type=t)
    if isinstance(n, E.InList):
        return E.InList(f(n.item), [f(o) for o in n.options], n.negated, type=t)
    if isinstance(n, E.BoolOp):
        return E.BoolOp(n.op, [f(v) for v in n.values], type=t)
    if isinstance(n, E.Not):
        return E.Not(f(n.operand), type=t)
    if isinstance(n, E.IfElse):
        return E.IfElse(f(n.cond), f(n.then), f(n.other), type=t)
    if isinstance(n, E.Call):
        c = E.Call(n.func, [f(a) for a in n.args], type=t)
        if hasattr(n, "const"):
            c.const = n.const
        return c
    raise _NotDerivable(f"no rule for {type(n).__name__}")


def _sticky(domain: Domain, mutable: dict, eff: CreateEffect, cond: E.Node, var: str) -> Optional[tuple[str, E.Node]]:
    """The conjunct `var.f == V` of `cond` where V is the value creation gives f and no tool ever
    sets f to V again: the state a record is in from its creation until it leaves for good."""
    for c in E.conjuncts(cond):
        if not (isinstance(c, E.Compare) and c.op == "=="):
            continue
        for side, other in ((c.left, c.right), (c.right, c.left)):
            if isinstance(side, E.Attr) and isinstance(side.obj, E.Name) and side.obj.id == var \
                    and isinstance(other, E.Lit):
                created = eff.values.get(side.name)
                if not isinstance(created, E.Lit) or created.value != other.value:
                    continue
                sets = mutable.get((eff.entity, side.name), [])
                if all(isinstance(v, E.Lit) and v.value != other.value for v in sets):
                    return side.name, other
    return None


def _none_rule(rw: _Rewriter, q: E.Quant) -> E.Node:
    """`none(d in E where cond(d, args))` at creation -> while in its created state, no other
    record of E is in it with the same values."""
    if q.entity != rw.ent.name:
        raise _NotDerivable(f"it searches {q.entity} records, which may have changed since")
    sticky = _sticky(rw.domain, rw.mutable, rw.eff, q.cond, q.var)
    if sticky is None:
        raise _NotDerivable("it searches records whose state may come back (no state a record leaves for good)")
    fname, value = sticky
    inner = rw.rewrite(q.cond, frozenset({q.var}), fname)
    other = E.Name(q.var, type=VType("ref", entity=q.entity))
    distinct = E.Compare("!=", other, rw.me, type=T.BOOL)
    body = E.BoolOp("and", [distinct, inner], type=T.BOOL)
    none = E.Quant("none", q.var, q.entity, body, type=T.BOOL)
    left_state = E.Compare("!=", rw.field(fname), value, type=T.BOOL)
    return E.BoolOp("or", [left_state, none], type=T.BOOL)


def _reads_changing_state(node: E.Node, mutable: dict) -> bool:
    """Does a requirement read the caller, or a field some tool changes, outside any quantifier?
    Then whatever it said at creation, a later change explains any value today."""
    inside = {id(m) for q in E.walk(node) if isinstance(q, E.Quant) for m in E.walk(q.cond)}
    for n in E.walk(node):
        if id(n) in inside:
            continue
        if isinstance(n, E.Name) and n.id == "actor":
            return True
        if isinstance(n, E.Attr) and n.obj.type is not None and n.obj.type.kind == "ref" and \
                (n.obj.type.entity, n.name) in mutable:
            return True
    return False


def _created_state(domain: Domain, mutable: dict, eff: CreateEffect) -> list[tuple[str, E.Lit]]:
    """Fields whose creation value no tool sets again: (field, value) - a record still showing it
    has been in its created state since it was made."""
    out = []
    for fname, node in eff.values.items():
        if isinstance(node, E.Lit) and node.kind in ("str", "const", "bool") and (eff.entity, fname) in mutable:
            if all(isinstance(v, E.Lit) and v.value != node.value for v in mutable[(eff.entity, fname)]):
                out.append((fname, node))
    return out


def _effect_rules(domain: Domain, mutable: dict, tool: Tool, eff: CreateEffect, rw: "_Rewriter"):
    """What making a record does to a record it links to (booking an appointment takes its slot):
    `(rule, because)` pairs, and `(requirement-like text, reason)` for what cannot be carried over.

    `V.f = Y` on the record V the new one stores in field `link` holds for as long as the new
    record stays in its created state - if every other tool that changes V's f also moves the
    record out of that state (cancelling the appointment frees its slot), and nothing moves the
    link. When the tool also required V.f to be something else than Y (the slot was open), no two
    records in their created state share V (the later would have been refused)."""
    rules, missing = [], []
    ename = eff.entity
    states = _created_state(domain, mutable, eff)
    for other in tool.effects:
        if not (isinstance(other, SetEffect) and other.op == "=" and len(other.target) == 2
                and isinstance(other.value, E.Lit)):
            continue
        var, f = other.target
        link = rw.binds.get(var)
        if link is None or other.when is not None:
            continue
        lent = domain.entities[ename].fields[link].type.entity
        what = f"{var}.{f} = {E.unparse(other.value)}"
        if (ename, link) in mutable:
            missing.append((what, f"{ename}.{link} changes later"))
            continue
        state = None
        for sf, sv in states:
            if _undone_only_with(domain, lent, f, other.value, ename, link, sf, sv):
                state = (sf, sv)
                break
        if state is None:
            missing.append((what, f"a tool changes {lent}.{f} without moving the {ename} out of the state it was made in"))
            continue
        sf, sv = state
        me_state = E.Compare("!=", rw.field(sf), sv, type=T.BOOL)
        linked = E.Attr(rw.field(link), f, type=domain.entities[lent].fields[f].type)
        holds = E.Compare("==", linked, other.value, type=T.BOOL)
        rules.append((E.BoolOp("or", [me_state, holds], type=T.BOOL), f"{tool.name} sets {what}"))
        if any(_requires_other_than(r.expr, var, f, other.value) for r in tool.requires):
            o = E.Name("other", type=VType("ref", entity=ename))
            body = E.BoolOp("and", [
                E.Compare("!=", o, rw.me, type=T.BOOL),
                E.Compare("==", E.Attr(o, link, type=VType("ref", entity=lent)), rw.field(link), type=T.BOOL),
                E.Compare("==", E.Attr(o, sf, type=rw.ent.fields[sf].type), sv, type=T.BOOL)], type=T.BOOL)
            excl = E.BoolOp("or", [me_state, E.Quant("none", "other", ename, body, type=T.BOOL)], type=T.BOOL)
            rules.append((excl, f"{tool.name} needs {var}.{f} to differ from {E.unparse(other.value)} and sets it"))
    return rules, missing


def _undone_only_with(domain: Domain, lent: str, f: str, value: E.Lit, ename: str, link: str, sf: str,
                      sv: E.Lit) -> bool:
    """Does every effect that sets lent.f to something else than `value` come with the linking
    record leaving its created state (`X.link.f = ...` together with `X.sf = <not sv>`)?"""
    for tool in domain.tools.values():
        vars_ = dict(tool.record_vars())
        for eff in tool.effects:
            if not isinstance(eff, SetEffect):
                continue
            target_ent = _target_entity(domain, tool, eff)
            if target_ent != lent or eff.target[-1] != f:
                continue
            if isinstance(eff.value, E.Lit) and eff.value.value == value.value:
                continue
            # it must be X.link.f, with X of the created entity, and the tool must move X out of sv
            if not (len(eff.target) == 3 and eff.target[1] == link and vars_.get(eff.target[0]) == ename):
                return False
            x = eff.target[0]
            if not any(isinstance(e, SetEffect) and e.target == [x, sf] and e.when is None and
                       isinstance(e.value, E.Lit) and e.value.value != sv.value for e in tool.effects):
                return False
    return True


def _target_entity(domain: Domain, tool: Tool, eff: SetEffect) -> Optional[str]:
    vars_ = dict(tool.record_vars())
    vars_.update({e.var: e.entity for e in tool.created()})
    vars_["actor"] = domain.actor
    ent = vars_.get(eff.target[0])
    for step in eff.target[1:-1]:
        if ent is None:
            return None
        ft = domain.entities[ent].fields[step].type
        ent = ft.entity if ft.kind == "ref" else None
    return ent


def _requires_other_than(node: E.Node, var: str, f: str, value: E.Lit) -> bool:
    """Does the requirement say var.f is something other than `value` (== X with X != value, or != value)?"""
    for c in E.conjuncts(node):
        if isinstance(c, E.Compare) and c.op in ("==", "!="):
            for side, other in ((c.left, c.right), (c.right, c.left)):
                if E.path_of(side) == [var, f] and isinstance(other, E.Lit):
                    if (c.op == "==") == (other.value != value.value):
                        return True
    return False


def _derive(domain: Domain) -> History:
    mutable = mutable_fields(domain)
    rules: list[CreationRule] = []
    missing: list[Unguaranteed] = []
    for tool in domain.tools.values():
        for eff in tool.created():
            rw = _Rewriter(domain, tool, eff, mutable)
            ename = eff.entity
            for stamp, fname in rw.stamp.items():
                if (ename, fname) in mutable:
                    continue
                t = T.DATE if stamp == "today" else T.DATETIME
                node = E.Compare("<=", rw.field(fname), E.Name(stamp, type=t), type=T.BOOL)
                rules.append(CreationRule(ename, tool.name, node, f"{ename}.{fname} <= {stamp}",
                                          f"{tool.name} stamps {fname} with {stamp}"))
            effect_rules, effect_missing = _effect_rules(domain, mutable, tool, eff, rw)
            for node, because in effect_rules:
                rules.append(CreationRule(ename, tool.name, node, E.unparse(node), because))
            for what, reason in effect_missing:
                missing.append(Unguaranteed(
                    ename, tool.name, f"(effect) {what}", reason,
                    f"if a {ename} keeps this while it lasts, write it as an invariant of {ename}", 0))
            for req in tool.requires:
                node = req.expr
                try:
                    if isinstance(node, E.Quant) and node.kind == "none":
                        new = _none_rule(rw, node)
                    elif isinstance(node, E.Not) and isinstance(node.operand, E.Quant) and node.operand.kind == "any":
                        q = node.operand
                        new = _none_rule(rw, E.Quant("none", q.var, q.entity, q.cond, type=T.BOOL))
                    else:
                        new = rw.rewrite(node)
                except _NotDerivable as e:
                    searches_own = any(isinstance(q, E.Quant) and q.entity == ename for q in E.walk(node))
                    if not e.quiet and (searches_own or not _reads_changing_state(node, mutable)) and \
                            (ename, req.src) not in {(u.entity, u.requirement) for u in missing}:
                        missing.append(Unguaranteed(
                            ename, tool.name, req.src, e.reason,
                            f"if every {ename} keeps this, write it as an invariant of {ename} (a rule "
                            f"over the record's own fields, e.g. with none(...) or count(...)); "
                            f"otherwise generated databases may hold {ename} records {tool.name} would refuse",
                            req.line))
                    continue
                if E.unparse(new) not in {r.text for r in rules if r.entity == ename}:
                    rules.append(CreationRule(ename, tool.name, new, E.unparse(new), f"{tool.name} requires {req.src}",
                                              req.line))
    return History(tuple(rules), tuple(missing))


def history(domain: Domain) -> History:
    """The creation rules of a domain (derived once, kept on the domain)."""
    h = domain.__dict__.get("_history")
    if h is None:
        h = domain.__dict__["_history"] = _derive(domain)
    return h
