"""The type checker of the expression language: every name, field and operand gets a type, and
every mistake a located message with what to write instead.

A `Checker` holds the errors of one spec; `TypeChecker` is the type-checking back-end of the
expression tree (a `Walker`): it annotates each node with its type, inserts `Scale` nodes where
a whole number meets money, and fixes the type of string literals from what they are compared
with.
"""

from __future__ import annotations

import difflib
import re
from typing import Any, Optional

from ..errors import SpecError
from . import grammar as E
from . import types as T
from .model import Entity
from .shape import Spec
from .types import VType
from .walker import Walker

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RESERVED = E.KEYWORDS | {"today", "now", "id", "actor"}


def suggest(word: str, options) -> str:
    opts = list(options)
    close = difflib.get_close_matches(word, opts, n=1, cutoff=0.6)
    return close[0] if close else ""


def did_you_mean(word: str, options, what: str) -> str:
    opts = sorted(options)
    s = suggest(word, opts)
    listed = ", ".join(opts) if len(opts) <= 12 else ", ".join(opts[:12]) + ", ..."
    if s:
        return f"did you mean '{s}'? ({what}: {listed})"
    return f"{what}: {listed}" if opts else ""


MAX_FACTOR_SPAN = 1000  # a product of two variables needs a factor with at most this many + 1 values


class Names:
    """Names visible in one expression: record variables and typed values (with the bounds of
    `let` values, when known)."""

    def __init__(self, names: dict[str, VType], implicit: Optional[str] = None,
                 bounds: Optional[dict[str, tuple]] = None):
        self.names = dict(names)
        self.implicit = implicit  # bare field names resolve on this record variable
        self.bounds = dict(bounds or {})


class Checker:
    def __init__(self, spec: Spec, smap, file: str):
        self.spec = spec
        self.smap = smap
        self.file = file
        self.errors: list[SpecError] = []
        self.today = 0
        self.entities: dict[str, Entity] = {}

    # --- error helpers
    def err(self, path, message: str, hint: str = "", key: bool = False) -> None:
        pos = self.smap.pos(path, key=key) if self.smap else None
        line, col = (pos.line, pos.col) if pos else (1, 1)
        self.errors.append(
            SpecError(message, self.file, line, col, hint,
                      source_line=self.smap.line_text(line) if self.smap else "")
        )

    def err_at(self, path, offset: int, message: str, hint: str = "") -> None:
        if self.smap:
            line, col = self.smap.expr_pos(path, offset)
            src = self.smap.line_text(line)
        else:
            line, col, src = 1, 1, ""
        self.errors.append(SpecError(message, self.file, line, col, hint, source_line=src))

    def is_value(self, word: str) -> bool:
        """Is `word` one of the spec's enum or pool values (written without quotes)?"""
        if any(word in vs for vs in self.spec.pools.values()):
            return True
        return any(fs.values and word in fs.values for es in self.spec.entities.values() for fs in es.fields.values())

    # --- expressions
    def parse(self, src: Any, path, effect: bool = False):
        if not isinstance(src, str):
            self.err(path, f"expected an expression in quotes, got {src!r}",
                     "write the condition as text, e.g. 'flight.seats > 0'")
            return None
        try:
            return E.parse_effect(src) if effect else E.parse_expr(src)
        except E.ExprSyntaxError as e:
            self.err_at(path, e.offset, e.message, e.hint)
            return None

    def check_bool(self, src: Any, path, env: Names) -> Optional[E.Node]:
        node = self.parse(src, path)
        if node is None:
            return None
        t = self.typecheck(node, env, path)
        if t is None:
            return None
        if t.kind != "bool":
            self.err_at(path, node.offset, f"this must be a condition (true or false), but it is {t.describe()}",
                        "compare it with something, e.g. 'x > 0' or 'x == \"open\"'")
            return None
        return node

    def check_value(self, src: Any, path, env: Names) -> tuple[Optional[E.Node], Optional[VType]]:
        node = self.parse(src, path)
        if node is None:
            return None, None
        t = self.typecheck(node, env, path)
        if t is None:
            return None, None
        if t.kind == "strlit":
            self.err_at(path, node.offset, "a bare string has no type here",
                        "compare it with a field, or use it as a field's value")
            return None, None
        return node, t

    def typecheck(self, node: E.Node, env: Names, path) -> Optional[VType]:
        try:
            return TypeChecker(self, env).tc(node)
        except TypeMistake as e:
            self.err_at(path, e.offset, e.message, e.hint)
            return None


class TypeMistake(Exception):
    def __init__(self, offset: int, message: str, hint: str = ""):
        self.offset, self.message, self.hint = offset, message, hint


class TypeChecker(Walker):
    """The typing back-end of the expression tree: `tc(node)` types a node and its children."""

    def __init__(self, checker: Checker, env: Names):
        self.c = checker
        self.env = env

    def fail(self, node: E.Node, message: str, hint: str = ""):
        raise TypeMistake(node.offset, message, hint)

    def tc(self, n: E.Node) -> VType:
        t = self.walk(n)
        n.type = t
        n.bounds = self._bounds(n, t)
        return t

    def _bounds(self, n: E.Node, t: VType) -> Optional[tuple]:
        """(lo, hi) of a number-like node, from literals, field and argument bounds and what is
        computed from them; None when unknown."""
        if t.kind not in T.ORDERED_KINDS:
            return None
        if isinstance(n, E.Lit):
            if n.kind == "int":
                return (n.value, n.value)
            return None
        if isinstance(n, E.Name):
            if n.id in self.env.bounds:
                return self.env.bounds[n.id]
            return (t.lo, t.hi) if t.lo is not None and t.hi is not None else None
        if isinstance(n, E.Attr):
            return (t.lo, t.hi) if t.lo is not None and t.hi is not None else None
        if t.kind == "time":
            return (T.TIME.lo, T.TIME.hi)
        if isinstance(n, (E.Neg, E.Scale)):
            b = n.operand.bounds
            if b is None:
                return None
            return (-b[1], -b[0]) if isinstance(n, E.Neg) else (b[0] * n.factor, b[1] * n.factor)
        if isinstance(n, E.Arith):
            a, b = n.left.bounds, n.right.bounds
            if a is None or b is None:
                return None
            if n.op == "+":
                return (a[0] + b[0], a[1] + b[1])
            if n.op == "-":
                return (a[0] - b[1], a[1] - b[0])
            corners = [x * y for x in a for y in b]
            return (min(corners), max(corners))
        if isinstance(n, E.IfElse):
            a, b = n.then.bounds, n.other.bounds
            return None if a is None or b is None else (min(a[0], b[0]), max(a[1], b[1]))
        if isinstance(n, E.Call):
            bs = [a.bounds for a in n.args]
            if n.func in T.DURATION_UNITS and bs and bs[0] is not None:
                f = T.DURATION_UNITS[n.func]
                return (bs[0][0] * f, bs[0][1] * f)
            if n.func in ("min", "max") and all(b is not None for b in bs):
                pick = min if n.func == "min" else max
                return (pick(b[0] for b in bs), pick(b[1] for b in bs))
        return None

    def lit(self, n: E.Lit, env=None) -> VType:
        if n.kind == "int":
            return T.INT
        if n.kind == "dec":
            places = len(str(n.value).split(".")[1])
            if places > 2:
                self.fail(n, f"{n.value} has more than 2 decimal places", "amounts are exact to the cent")
            return T.money(2)
        if n.kind == "bool":
            return T.BOOL
        if n.kind == "null":
            return T.NULL
        return T.STRLIT

    def name(self, n: E.Name, env=None) -> VType:
        if n.id in self.env.names:
            return self.env.names[n.id]
        if n.id == "today":
            return T.DATE
        if n.id == "now":
            return T.DATETIME
        if self.env.implicit:
            ent = self.env.names[self.env.implicit].entity
            fields = self.c.entities[ent].fields
            if n.id in fields:
                # bare field name inside an entity block: rewrite to record.field
                return fields[n.id].type
            hint = did_you_mean(n.id, list(fields) + [k for k in self.env.names], f"fields of {ent}")
            self.fail(n, f"'{n.id}' is not a field of {ent}", hint)
        hint = did_you_mean(n.id, self.env.names, "names available here")
        if self.c.is_value(n.id):
            hint = f'put the value in quotes: "{n.id}"'
        self.fail(n, f"unknown name '{n.id}'", hint)

    def attr(self, n: E.Attr, env=None) -> VType:
        base = self.tc(n.obj)
        if base.kind != "ref":
            self.fail(n, f"'.{n.name}' needs a record, but {E.unparse(n.obj)} is {base.describe()}")
        if n.name == "id":
            return base
        if base.nullable:
            self.fail(n, f"{E.unparse(n.obj)} may be null, so '.{n.name}' cannot be read through it",
                      f"compare the link itself ({E.unparse(n.obj)} == null, {E.unparse(n.obj)} == actor), "
                      "or read the field on a tool argument that names the record")
        ent = self.c.entities[base.entity]
        if n.name not in ent.fields:
            self.fail(n, f"{base.entity} has no field '{n.name}'",
                      did_you_mean(n.name, list(ent.fields) + ["id"], f"fields of {base.entity}"))
        return ent.fields[n.name].type

    def neg(self, n: E.Neg, env=None) -> VType:
        t = self.tc(n.operand)
        if t.kind not in T.NUMERIC_KINDS and t.kind != "duration":
            self.fail(n, f"cannot negate {t.describe()}")
        return t

    def arith(self, n: E.Arith, env=None) -> VType:
        return self._arith(n)

    def compare(self, n: E.Compare, env=None) -> VType:
        lt, rt = self.tc(n.left), self.tc(n.right)
        common = self._unify(n, "left", "right", lt, rt)
        if n.op not in ("==", "!=") and not common.ordered:
            self.fail(n, f"'{n.op}' needs numbers or dates, but these are {common.describe()}",
                      "only '==' and '!=' compare text, enums, booleans and records")
        return T.BOOL

    def inlist(self, n: E.InList, env=None) -> VType:
        it = self.tc(n.item)
        if not n.options:
            self.fail(n, "the list after 'in' is empty")
        for i, o in enumerate(n.options):
            ot = self.tc(o)
            if it.kind == "null" or ot.kind == "null":
                self.fail(o if ot.kind == "null" else n.item, "null cannot be listed after 'in'",
                          "test it on its own: x == null or x in [...]")
            it = self._unify_list(n, i, it, ot)
        return T.BOOL

    def boolop(self, n: E.BoolOp, env=None) -> VType:
        for v in n.values:
            vt = self.tc(v)
            if vt.kind != "bool":
                self.fail(v, f"'{n.op}' joins conditions, but this is {vt.describe()}")
        return T.BOOL

    def not_(self, n: E.Not, env=None) -> VType:
        t = self.tc(n.operand)
        if t.kind != "bool":
            self.fail(n, f"'not' needs a condition, but this is {t.describe()}")
        return T.BOOL

    def ifelse(self, n: E.IfElse, env=None) -> VType:
        ct = self.tc(n.cond)
        if ct.kind != "bool":
            self.fail(n.cond, f"the condition of 'if' must be true or false, but it is {ct.describe()}")
        a, b = self.tc(n.then), self.tc(n.other)
        return self._unify(n, "then", "other", a, b)

    def call(self, n: E.Call, env=None) -> VType:
        return self._call(n)

    def scale(self, n: E.Scale, env=None) -> VType:
        return self.tc(n.operand)

    def quant(self, n: E.Quant, env=None) -> VType:
        if n.entity not in self.c.entities:
            self.fail(n, f"unknown entity '{n.entity}' in {n.kind}(...)",
                      did_you_mean(n.entity, self.c.entities, "entities"))
        if n.var in self.env.names or n.var in RESERVED:
            self.fail(n, f"'{n.var}' is already a name here", f"pick another name, e.g. {n.var}2")
        inner = TypeChecker(self.c, Names({**self.env.names, n.var: VType("ref", entity=n.entity)},
                                        implicit=self.env.implicit))
        ct = inner.tc(n.cond)
        if ct.kind != "bool":
            self.fail(n.cond, f"the condition of {n.kind}(...) must be true or false, but it is {ct.describe()}")
        return T.INT if n.kind == "count" else T.BOOL

    def _call(self, n: E.Call) -> VType:
        if n.func == "datetime" and len(n.args) == 2:
            d, t = self.tc(n.args[0]), self.tc(n.args[1])
            if d.kind != "date" or t.kind != "time":
                self.fail(n, f"datetime(d, t) takes a date and a time of day, got {d.describe()} and {t.describe()}",
                          'e.g. datetime(meeting.date, time("09:00")), or datetime("2026-12-03T14:30") for a fixed one')
            return T.DATETIME
        if n.func in ("date", "datetime", "time"):
            if len(n.args) != 1 or not (isinstance(n.args[0], E.Lit) and n.args[0].kind == "str"):
                self.fail(n, f"{n.func}() takes one quoted text, e.g. {E.FUNCTIONS[n.func]}")
            parse = {"date": T.parse_date, "datetime": T.parse_datetime, "time": T.parse_time}[n.func]
            try:
                n.const = parse(n.args[0].value)
            except ValueError as e:
                why = str(e) if "must be" in str(e) or "out of range" in str(e) or "time of day" in str(e) \
                    else E.FUNCTIONS[n.func]
                self.fail(n.args[0], f"{n.args[0].value!r} is not a valid {n.func}", why)
            n.bounds = (n.const, n.const)
            return {"date": T.DATE, "datetime": T.DATETIME, "time": T.TIME}[n.func]
        if n.func in ("date_of", "time_of"):
            if len(n.args) != 1:
                self.fail(n, f"{n.func}() takes one date-time, e.g. {E.FUNCTIONS[n.func]}")
            t = self.tc(n.args[0])
            if t.kind != "datetime":
                self.fail(n, f"{n.func}() needs a date-time, got {t.describe()}", E.FUNCTIONS[n.func])
            return T.DATE if n.func == "date_of" else T.TIME
        if n.func in T.DURATION_UNITS:
            if len(n.args) != 1:
                self.fail(n, f"{n.func}() takes one whole number, e.g. {E.FUNCTIONS[n.func]}")
            t = self.tc(n.args[0])
            if t.kind != "int":
                self.fail(n, f"{n.func}() needs a whole number, got {t.describe()}", E.FUNCTIONS[n.func])
            return T.DURATION
        if n.func in ("min", "max"):
            if len(n.args) < 2:
                self.fail(n, f"{n.func}() needs at least two values")
            t = self.tc(n.args[0])
            for i in range(1, len(n.args)):
                t2 = self.tc(n.args[i])
                t = self._unify_args(n, i, t, t2)
            if not t.ordered:
                self.fail(n, f"{n.func}() needs numbers or dates, got {t.describe()}")
            return t
        if n.func == "abs":
            if len(n.args) != 1:
                self.fail(n, "abs() takes one value")
            t = self.tc(n.args[0])
            if t.kind not in T.NUMERIC_KINDS and t.kind != "duration":
                self.fail(n, f"abs() needs a number or a duration, got {t.describe()}")
            return t
        if n.func == "distinct":
            return self._distinct(n)
        self.fail(n, f"unknown function '{n.func}'", did_you_mean(n.func, E.FUNCTIONS, "functions"))

    def _distinct(self, n: E.Call) -> VType:
        """`distinct(source, target)`: values of one type, none named twice (a record argument
        compared with itself is always the same, so the rule could never hold)."""
        if len(n.args) < 2:
            self.fail(n, "distinct() needs at least two values", "e.g. distinct(source, target)")
        seen: dict[str, int] = {}
        for i, a in enumerate(n.args):
            text = E.unparse(a)
            if text in seen:
                self.fail(a, f"distinct() names {text} twice, so it can never hold",
                          "name each argument once: distinct(source, target)")
            seen[text] = i
        types = [self.tc(a) for a in n.args]
        for i in range(1, len(n.args)):
            a, b = types[0], types[i]
            if a.kind == "ref" and b.kind == "ref" and a.entity != b.entity:
                self.fail(n.args[i], f"distinct() compares {E.unparse(n.args[0])} ({a.describe()}) with "
                          f"{E.unparse(n.args[i])} ({b.describe()}): records of different entities always differ",
                          "compare records of one entity: distinct(source, target)")
            if (a.kind == "ref") != (b.kind == "ref"):
                self.fail(n.args[i], f"distinct() compares {E.unparse(n.args[0])} ({a.describe()}) with "
                          f"{E.unparse(n.args[i])} ({b.describe()})",
                          "give distinct() values of one type: two records of one entity, two dates, ...")
            self._unify_args(n, i, types[0], types[i])
        return T.BOOL

    def _arith(self, n: E.Arith) -> VType:
        lt, rt = self.tc(n.left), self.tc(n.right)
        if n.op == "*":
            return self._product(n, lt, rt)
        # + and -
        kinds = (lt.kind, rt.kind)
        if "duration" in kinds or "time" in kinds:
            return self._clock(n, lt, rt)
        if lt.kind in ("date", "datetime") or rt.kind in ("date", "datetime"):
            if lt.kind in ("date", "datetime") and rt.kind == "int":
                return lt
            if n.op == "+" and rt.kind in ("date", "datetime") and lt.kind == "int":
                return rt
            if n.op == "-" and lt.kind == rt.kind:
                return T.INT if lt.kind == "date" else T.DURATION
            self.fail(n, f"cannot compute {lt.describe()} {n.op} {rt.describe()}",
                      "add or subtract a whole number of days to a date, a duration (hours(2)) to a date-time, "
                      "or subtract two dates or two date-times")
        if lt.kind in T.NUMERIC_KINDS and rt.kind in T.NUMERIC_KINDS:
            return self._unify(n, "left", "right", lt, rt)
        self.fail(n, f"cannot compute {lt.describe()} {n.op} {rt.describe()}", "only numbers, money and dates have arithmetic")

    def _clock(self, n: E.Arith, lt: VType, rt: VType) -> VType:
        """+ and - with durations and times of day: datetime/time +- duration, duration +- duration,
        time - time (a duration). A time plus a duration wraps around midnight."""
        a, b = lt.kind, rt.kind
        if a == b == "duration":
            return T.DURATION
        if a in ("datetime", "time") and b == "duration":
            return lt if a == "datetime" else T.TIME
        if n.op == "+" and a == "duration" and b in ("datetime", "time"):
            return rt if b == "datetime" else T.TIME
        if n.op == "-" and a == b == "time":
            return T.DURATION
        if "int" in (a, b) and "duration" in (a, b):
            self.fail(n, f"cannot compute {lt.describe()} {n.op} {rt.describe()}",
                      "say the number's unit: minutes(30), hours(2) or days(1)")
        if "date" in (a, b) and "duration" in (a, b):
            self.fail(n, f"cannot compute {lt.describe()} {n.op} {rt.describe()}",
                      "a date moves by whole days (date + 3); for a moment in time use a date-time: "
                      'datetime(d, time("09:00")) + hours(2)')
        if "time" in (a, b) and "int" in (a, b):
            self.fail(n, f"cannot compute {lt.describe()} {n.op} {rt.describe()}",
                      "a time of day moves by a duration: t + minutes(30), t - hours(1)")
        self.fail(n, f"cannot compute {lt.describe()} {n.op} {rt.describe()}",
                  "durations add to date-times, times of day and other durations; two times of day subtract")

    def _product(self, n: E.Arith, lt: VType, rt: VType) -> VType:
        kinds = {lt.kind, rt.kind}
        if lt.kind == "int" and rt.kind == "int":
            out = T.INT
        elif kinds in ({"money", "int"}, {"duration", "int"}):
            out = lt if lt.kind != "int" else rt
        else:
            self.fail(n, f"cannot multiply {lt.describe()} by {rt.describe()}",
                      "multiply amounts and durations by whole numbers only")
        if _is_const(n.left) or _is_const(n.right):
            return out
        # a product of two variables: one factor needs a small known range (binary in the solver)
        best = None
        for side, node in (("left", n.left), ("right", n.right)):
            b = node.bounds
            if b is not None and b[1] - b[0] <= MAX_FACTOR_SPAN:
                if best is None or b[1] - b[0] < best[2] - best[1]:
                    best = (side, b[0], b[1])
        if best is None:
            ranges = [f"{E.unparse(x)} {'has no known range' if x.bounds is None else f'ranges over {x.bounds[1] - x.bounds[0] + 1} values'}"
                      for x in (n.left, n.right)]
            self.fail(n, f"multiplying two values needs one of them to have a small known range ({'; '.join(ranges)})",
                      f"give one factor bounds at most {MAX_FACTOR_SPAN} apart - an int field or argument with "
                      "min and max, e.g. 'quantity: {type: int, min: 1, max: 10}' - or multiply by a constant: '2 * x'")
        n.small = best
        return out

    # unification with int -> money promotion and string literals
    def _unify(self, n: E.Node, a_attr: str, b_attr: str, a: VType, b: VType) -> VType:
        a_node, b_node = getattr(n, a_attr), getattr(n, b_attr)
        out, a_new, b_new = self._unify_nodes(n, a_node, b_node, a, b)
        setattr(n, a_attr, a_new)
        setattr(n, b_attr, b_new)
        return out

    def _unify_list(self, n: E.InList, i: int, a: VType, b: VType) -> VType:
        out, item, opt = self._unify_nodes(n, n.item, n.options[i], a, b)
        n.item, n.options[i] = item, opt
        return out

    def _unify_args(self, n: E.Call, i: int, a: VType, b: VType) -> VType:
        out = a
        for j in range(i):
            out, n.args[j], n.args[i] = self._unify_nodes(n, n.args[j], n.args[i], n.args[j].type, b)
        return out

    def _unify_nodes(self, n, an, bn, a: VType, b: VType):
        if a.kind == "null" or b.kind == "null":
            return self._unify_null(n, an, bn, a, b)
        if a.kind == "strlit" and b.kind == "strlit":
            self.fail(n, "this compares two fixed texts", "compare a field or argument with a text")
        if a.kind == "strlit":
            self._literal_fits(bn, an, b)
            an.type = b
            return b, an, bn
        if b.kind == "strlit":
            self._literal_fits(an, bn, a)
            bn.type = a
            return a, an, bn
        if a.kind == "money" and b.kind == "int":
            return a, an, _scale(bn, a.scale)
        if b.kind == "money" and a.kind == "int":
            return b, _scale(an, b.scale), bn
        if a.kind == "money" and b.kind == "money" and a.places != b.places:
            if a.places > b.places:
                return a, an, _scale(bn, 10 ** (a.places - b.places))
            return b, _scale(an, 10 ** (b.places - a.places)), bn
        if a.kind == "str" and b.kind == "enum" or a.kind == "enum" and b.kind == "str":
            return a, an, bn
        if a.kind == "enum" and b.kind == "enum":
            if not set(a.values) & set(b.values):
                self.fail(n, f"these can never be equal: {a.describe()} vs {b.describe()}")
            return a, an, bn
        if not T.same_kind(a, b):
            hint = "both sides must have the same type (money with money or whole numbers, dates with dates, ...)"
            if {a.kind, b.kind} == {"duration", "int"}:
                hint = "say the number's unit: minutes(90), hours(24) or days(2)"
            elif {a.kind, b.kind} == {"time", "datetime"}:
                hint = "compare time_of(x) with a time of day, or x with datetime(d, t)"
            self.fail(n, f"cannot compare {a.describe()} with {b.describe()}", hint)
        return a, an, bn

    def _unify_null(self, n, an, bn, a: VType, b: VType):
        """`null` meets a link that may be empty: a ref field declared `nullable: true`."""
        other, ot, null = (bn, b, an) if a.kind == "null" else (an, a, bn)
        if ot.kind == "null":
            self.fail(n, "this compares null with null", "compare a link with null")
        if ot.kind != "ref":
            self.fail(null, f"only a link to a record can be null, and {E.unparse(other)} is {ot.describe()}",
                      "null means 'no record': use it with a ref field declared 'nullable: true'")
        if not ot.nullable:
            self.fail(null, f"{E.unparse(other)} is never null",
                      "declare the ref field 'nullable: true' if it may have no record")
        null.type = ot
        return ot, an, bn

    def _literal_fits(self, other: E.Node, lit: E.Node, t: VType) -> None:
        v = lit.value
        if t.kind == "enum":
            if v not in t.values:
                s = suggest(v, t.values)
                hint = f"did you mean \"{s}\"? " if s else ""
                self.fail(lit, f"\"{v}\" is not a value of {E.unparse(other)}",
                          f"{hint}(values: {', '.join(t.values)})")
        elif t.kind == "str":
            if t.values and v not in t.values:
                s = suggest(v, t.values)
                self.fail(lit, f"\"{v}\" is not in the pool {t.pool}",
                          f"did you mean \"{s}\"?" if s else "add it to the pool or use a pool value")
        elif t.kind in ("date", "datetime", "time"):
            self.fail(lit, f"a {t.kind} cannot be compared with a bare text",
                      f"write {t.kind}(\"{v}\")")
        else:
            looks_numeric = re.fullmatch(r"-?\d+(\.\d+)?", str(v)) is not None
            self.fail(lit, f"cannot compare {t.describe()} with the text \"{v}\"",
                      f"write the number without quotes: {v}" if looks_numeric and t.kind in T.NUMERIC_KINDS else "")


def _is_const(n: E.Node) -> bool:
    if isinstance(n, E.Lit):
        return n.kind in ("int", "dec")
    if isinstance(n, E.Neg):
        return _is_const(n.operand)
    if isinstance(n, E.Scale):
        return _is_const(n.operand)
    return False


def _scale(n: E.Node, factor: int) -> E.Node:
    if factor == 1:
        return n
    b = n.bounds
    return E.Scale(n, factor, offset=n.offset, bounds=None if b is None else (b[0] * factor, b[1] * factor))
