"""One traversal of the expression tree, for every back-end.

The spec language is parsed once into the tree of spec/grammar.py. Each back-end - the type
checker, the plain-Python evaluator (runtime), the Z3 encoder (state), the planner's facts
(plan) - is a `Walker` subclass with one method per kind of node; `walk` dispatches on the
node's class. Adding a construct to the language means adding a node class and one method per
back-end - and a back-end that lacks it fails loudly (`missing`) instead of quietly treating
it as something else. The operator tables are shared: `a + b` and `a <= b` mean the same in
Python and on Z3 terms, so both back-ends take them from here.
"""

from __future__ import annotations

import operator
from typing import Any, Callable

from . import grammar as E
from .types import DURATION_UNITS, MINUTES_PER_DAY

ARITH: dict[str, Callable[[Any, Any], Any]] = {"+": operator.add, "-": operator.sub, "*": operator.mul}
COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
}

# node class -> the method a walker implements for it
METHODS: dict[type, str] = {
    E.Lit: "lit", E.Name: "name", E.Attr: "attr", E.Scale: "scale", E.Neg: "neg", E.Arith: "arith",
    E.Compare: "compare", E.InList: "inlist", E.BoolOp: "boolop", E.Not: "not_", E.IfElse: "ifelse",
    E.Quant: "quant", E.Call: "call",
}


class Walker:
    """Subclasses implement the methods of `METHODS` they support, each `(node, env) -> value`;
    `walk(node, env)` calls the one for the node's class, `missing` for any other. The dispatch
    table is built once per class (walkers are created per database or per task, often)."""

    _dispatch: dict[type, Callable] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._dispatch = {node: getattr(cls, name, None) or Walker._missing for node, name in METHODS.items()}

    def walk(self, n: E.Node, env: Any = None) -> Any:
        return self._dispatch[n.__class__](self, n, env)

    def _missing(self, n: E.Node, env: Any) -> Any:
        return self.missing(n, env)

    def missing(self, n: E.Node, env: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no rule for {type(n).__name__}")


class Arithmetic(Walker):
    """Numbers mean the same on every back-end that computes with them: Python ints (the runtime)
    and Z3 integer terms (the solver) share these rules - money is whole minor units on both."""

    def scale(self, n: E.Scale, env: Any) -> Any:
        return self.walk(n.operand, env) * n.factor

    def neg(self, n: E.Neg, env: Any) -> Any:
        return -self.walk(n.operand, env)

    def arith(self, n: E.Arith, env: Any) -> Any:
        a, b = self.walk(n.left, env), self.walk(n.right, env)
        if n.small is not None:
            return self.product(a, b, n.small)
        v = ARITH[n.op](a, b)
        if n.type is not None and n.type.kind == "time":  # a time of day wraps around midnight
            v = self.floormod(v, MINUTES_PER_DAY)
        return v

    # floor division and modulo (the remainder has the divisor's sign): Python's // and %, and
    # what the Z3 and SQL back-ends must compute too - 00:30 minus an hour is 23:30
    def floordiv(self, a: Any, d: int) -> Any:
        return a // d

    def floormod(self, a: Any, d: int) -> Any:
        return a % d

    def product(self, a: Any, b: Any, small: tuple) -> Any:
        """A product of two variables (`small` says which factor has a small range)."""
        return a * b

    def clock(self, n: E.Call, env: Any) -> Any:
        """The time functions - time/date/datetime literals, datetime(d, t), date_of, time_of,
        minutes/hours/days - on minutes and day numbers; None for any other function."""
        f = n.func
        if getattr(n, "const", None) is not None:
            return self.constant(n.const)
        if f in DURATION_UNITS:
            return self.walk(n.args[0], env) * DURATION_UNITS[f]
        if f == "date_of":
            return self.floordiv(self.walk(n.args[0], env), MINUTES_PER_DAY)
        if f == "time_of":
            return self.floormod(self.walk(n.args[0], env), MINUTES_PER_DAY)
        if f == "datetime" and len(n.args) == 2:
            return self.walk(n.args[0], env) * MINUTES_PER_DAY + self.walk(n.args[1], env)
        return None

    def constant(self, v: int) -> Any:
        return v
