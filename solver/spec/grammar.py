"""The spec's expression language: lexer, parser and AST.

Conditions (`requires`, `where`, invariants), computed values (`let`, `returns.value`) and
effects (`user.balance -= price when cabin == "business"`) are all written in this one small
language. It is parsed once into the AST below; `typecheck` annotates it, and three back-ends
read it: `runtime` (plain Python), `z3enc` (Z3 terms) and `aspenc` (the symbolic part as ASP).

Grammar (lowest precedence first)::

    expr    := 'if' expr 'then' expr 'else' expr | or
    or      := and ('or' and)*
    and     := not ('and' not)*
    not     := 'not' not | cmp
    cmp     := sum (('=='|'!='|'<'|'<='|'>'|'>=') sum | 'not'? 'in' '[' expr,* ']')?
    sum     := prod (('+'|'-') prod)*
    prod    := unary ('*' unary)*
    unary   := '-' unary | postfix
    postfix := atom ('.' NAME)*
    atom    := INT | DECIMAL | STRING | 'true' | 'false' | 'null' | NAME | NAME '(' expr,* ')' | '(' expr ')'

    effect  := path ('=' | '+=' | '-=') expr ('when' expr)?
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional, Union


class ExprSyntaxError(Exception):
    """A parse error at `offset` characters into the source text."""

    def __init__(self, message: str, offset: int, hint: str = ""):
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.hint = hint


# ----------------------------------------------------------------------------- tokens

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<dec>\d+\.\d+)
  | (?P<int>\d+)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<=|>=|\+=|-=|[-+*<>=().,\[\]])
  """,
    re.VERBOSE,
)

KEYWORDS = {"and", "or", "not", "in", "if", "then", "else", "true", "false", "when", "null"}


@dataclass(frozen=True)
class Token:
    kind: str  # int, dec, str, name, kw, op, eof
    text: str
    offset: int


def tokenize(src: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(src):
        m = _TOKEN_RE.match(src, pos)
        if not m:
            ch = src[pos]
            hint = ""
            if ch == "&":
                hint = "write 'and' instead of '&&' or '&'"
            elif ch == "|":
                hint = "write 'or' instead of '||' or '|'"
            elif ch == "!":
                hint = "write 'not' instead of '!' (or '!=' for 'not equal')"
            elif ch == "/":
                hint = "division is not supported: multiply by a constant instead"
            elif ch in "$€£":
                hint = f"write amounts as plain numbers, without '{ch}': 5 or 12.50"
            elif ch in "\"'":
                hint = "close the string with a matching quote"
            raise ExprSyntaxError(f"unexpected character {ch!r}", pos, hint)
        kind = m.lastgroup
        text = m.group(0)
        if kind != "ws":
            if kind == "name" and text in KEYWORDS:
                kind = "kw"
            tokens.append(Token(kind, text, pos))
        pos = m.end()
    tokens.append(Token("eof", "", len(src)))
    return tokens


# ----------------------------------------------------------------------------- AST


@dataclass(eq=False)
class Node:
    """Base of all expression nodes. `offset` points into the source for error messages;
    `type` is filled in by the type checker."""

    offset: int = field(default=0, kw_only=True)
    type: object = field(default=None, kw_only=True, repr=False)
    # (lo, hi) in internal units when the type checker knows them (field bounds, literals and what
    # is computed from them): what lets a product of two variables stay linear for the solver
    bounds: Optional[tuple] = field(default=None, kw_only=True, repr=False)


@dataclass(eq=False)
class Lit(Node):
    value: Union[int, str, bool]
    kind: str  # "int", "dec" (value is the source text), "str", "bool", "null" (no record)


@dataclass(eq=False)
class Name(Node):
    id: str


@dataclass(eq=False)
class Attr(Node):
    obj: Node
    name: str


@dataclass(eq=False)
class Neg(Node):
    operand: Node


@dataclass(eq=False)
class Arith(Node):
    """`a + b`, `a - b`, `a * b`. A product of two variables carries `small`: which factor has a
    small known range ("left"/"right") and that range, set by the type checker; the solver
    writes that factor in binary, so the product is a sum of shifted copies of the other."""

    op: str  # + - *
    left: Node
    right: Node
    small: Optional[tuple] = None  # ("left" | "right", lo, hi) for a product of two variables


@dataclass(eq=False)
class Compare(Node):
    op: str  # == != < <= > >=
    left: Node
    right: Node


@dataclass(eq=False)
class InList(Node):
    item: Node
    options: list[Node]
    negated: bool = False


@dataclass(eq=False)
class BoolOp(Node):
    op: str  # and / or
    values: list[Node]


@dataclass(eq=False)
class Not(Node):
    operand: Node


@dataclass(eq=False)
class IfElse(Node):
    cond: Node
    then: Node
    other: Node


@dataclass(eq=False)
class Call(Node):
    func: str
    args: list[Node]


@dataclass(eq=False)
class Quant(Node):
    """`any(m in meeting where cond)`, `none(...)` or `count(...)`: over every record of an
    entity (calendar overlaps, "no other open incident", limits on how many)."""

    kind: str  # any | none | count
    var: str
    entity: str
    cond: Node


@dataclass(eq=False)
class Scale(Node):
    """`operand * factor`, inserted by the type checker where a whole number meets money
    (`balance >= 50` compares cents with 50 * 100)."""

    operand: Node
    factor: int


@dataclass(eq=False)
class Effect:
    """`target op value [when cond]`, with target a path `var.field` (or `var.ref.field`)."""

    target: Node
    op: str  # = += -=
    value: Node
    when: Optional[Node]
    offset: int = 0
    op_offset: int = 0


QUANTIFIERS = {
    "any": "any(m in meeting where m.room == room): true if some record fits",
    "none": "none(m in meeting where m.room == room): true if no record fits",
    "count": "count(r in reservation where r.user == user): how many records fit",
}

FUNCTIONS = {
    "date": "date(\"2026-12-03\"): a date literal",
    "datetime": "datetime(\"2026-12-03T14:30\"): a date-time literal; datetime(d, t): the date d at the time of day t",
    "time": "time(\"14:30\"): a time-of-day literal",
    "date_of": "date_of(dt): the date of a date-time",
    "time_of": "time_of(dt): the time of day of a date-time",
    "minutes": "minutes(n): a duration of n minutes",
    "hours": "hours(n): a duration of n hours",
    "days": "days(n): a duration of n days (of 24 hours)",
    "min": "min(a, b, ...): the smallest of numbers or dates",
    "max": "max(a, b, ...): the largest of numbers or dates",
    "abs": "abs(x): absolute value",
    "distinct": "distinct(a, b, ...): true when no two of the values are the same (records by id)",
}


# ----------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, src: str):
        self.src = src
        self.tokens = tokenize(src)
        self.i = 0

    # helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        t = self.tokens[self.i]
        self.i += 1
        return t

    def at(self, kind: str, text: Optional[str] = None) -> bool:
        t = self.tok
        return t.kind == kind and (text is None or t.text == text)

    def accept(self, kind: str, text: Optional[str] = None) -> Optional[Token]:
        if self.at(kind, text):
            return self.advance()
        return None

    def expect(self, kind: str, text: Optional[str], what: str) -> Token:
        if self.at(kind, text):
            return self.advance()
        self.fail(f"expected {what}")

    def fail(self, message: str, hint: str = "") -> None:
        t = self.tok
        found = "the end of the expression" if t.kind == "eof" else repr(t.text)
        if not hint and t.kind == "op" and t.text == "=":
            hint = "use '==' to compare"
        raise ExprSyntaxError(f"{message}, found {found}", t.offset, hint)

    # grammar
    def parse_expr(self) -> Node:
        if self.at("kw", "if"):
            start = self.advance().offset
            cond = self.parse_expr()
            self.expect("kw", "then", "'then' after the condition of 'if'")
            then = self.parse_expr()
            self.expect("kw", "else", "'else' after 'if ... then ...'")
            other = self.parse_expr()
            return IfElse(cond, then, other, offset=start)
        return self.parse_or()

    def parse_or(self) -> Node:
        first = self.parse_and()
        values = [first]
        while self.accept("kw", "or"):
            values.append(self.parse_and())
        return values[0] if len(values) == 1 else BoolOp("or", values, offset=first.offset)

    def parse_and(self) -> Node:
        first = self.parse_not()
        values = [first]
        while self.accept("kw", "and"):
            values.append(self.parse_not())
        return values[0] if len(values) == 1 else BoolOp("and", values, offset=first.offset)

    def parse_not(self) -> Node:
        if self.at("kw", "not"):
            start = self.advance().offset
            return Not(self.parse_not(), offset=start)
        return self.parse_cmp()

    def parse_cmp(self) -> Node:
        left = self.parse_sum()
        t = self.tok
        if t.kind == "op" and t.text in ("==", "!=", "<", "<=", ">", ">="):
            self.advance()
            right = self.parse_sum()
            node = Compare(t.text, left, right, offset=t.offset)
            nxt = self.tok
            if nxt.kind == "op" and nxt.text in ("==", "!=", "<", "<=", ">", ">="):
                raise ExprSyntaxError(
                    "comparisons cannot be chained", nxt.offset, "write 'a < b and b < c'"
                )
            return node
        negated = False
        if self.at("kw", "not") and self.tokens[self.i + 1].kind == "kw" and self.tokens[self.i + 1].text == "in":
            self.advance()
            negated = True
        if self.at("kw", "in"):
            start = self.advance().offset
            if self.at("op", "("):
                self.fail("expected '[' to start the list after 'in'", 'write the list in square brackets: in ["a", "b"]')
            self.expect("op", "[", "'[' to start the list after 'in'")
            options = []
            if not self.at("op", "]"):
                options.append(self.parse_sum())
                while self.accept("op", ","):
                    options.append(self.parse_sum())
            self.expect("op", "]", "']' to close the list, or ',' between items")
            return InList(left, options, negated, offset=start)
        if t.kind == "op" and t.text == "=":
            raise ExprSyntaxError("'=' is not a comparison", t.offset, "use '==' to compare")
        return left

    def parse_sum(self) -> Node:
        left = self.parse_prod()
        while self.tok.kind == "op" and self.tok.text in ("+", "-"):
            t = self.advance()
            right = self.parse_prod()
            left = Arith(t.text, left, right, offset=t.offset)
        return left

    def parse_prod(self) -> Node:
        left = self.parse_unary()
        while self.at("op", "*"):
            t = self.advance()
            right = self.parse_unary()
            left = Arith("*", left, right, offset=t.offset)
        return left

    def parse_unary(self) -> Node:
        if self.at("op", "-"):
            start = self.advance().offset
            return Neg(self.parse_unary(), offset=start)
        return self.parse_postfix()

    def parse_postfix(self) -> Node:
        node = self.parse_atom()
        while self.at("op", "."):
            self.advance()
            t = self.tok
            if t.kind not in ("name", "kw"):
                self.fail("expected a field name after '.'")
            self.advance()
            node = Attr(node, t.text, offset=t.offset)
        return node

    def parse_atom(self) -> Node:
        t = self.tok
        if t.kind == "int":
            self.advance()
            return Lit(int(t.text), "int", offset=t.offset)
        if t.kind == "dec":
            self.advance()
            return Lit(t.text, "dec", offset=t.offset)
        if t.kind == "str":
            self.advance()
            body = t.text[1:-1]
            body = re.sub(r"\\(.)", r"\1", body)
            return Lit(body, "str", offset=t.offset)
        if t.kind == "kw" and t.text in ("true", "false"):
            self.advance()
            return Lit(t.text == "true", "bool", offset=t.offset)
        if t.kind == "kw" and t.text == "null":
            self.advance()
            return Lit(None, "null", offset=t.offset)
        if t.kind == "name":
            self.advance()
            if t.text in QUANTIFIERS and self.at("op", "(") and self.tokens[self.i + 1].kind == "name" \
                    and self.tokens[self.i + 2].kind == "kw" and self.tokens[self.i + 2].text == "in":
                self.advance()
                var = self.advance().text
                self.advance()  # in
                ent = self.tok
                if ent.kind != "name":
                    self.fail(f"expected an entity name after '{var} in'")
                self.advance()
                w = self.tok
                if not (w.kind == "name" and w.text == "where"):
                    self.fail(f"expected 'where' after '{t.text}({var} in {ent.text}'")
                self.advance()
                cond = self.parse_expr()
                self.expect("op", ")", f"')' to close {t.text}(...)")
                return Quant(t.text, var, ent.text, cond, offset=t.offset)
            if self.at("op", "("):
                self.advance()
                args = []
                if not self.at("op", ")"):
                    args.append(self.parse_expr())
                    while self.accept("op", ","):
                        args.append(self.parse_expr())
                self.expect("op", ")", "')' to close the call, or ',' between arguments")
                return Call(t.text, args, offset=t.offset)
            return Name(t.text, offset=t.offset)
        if self.accept("op", "("):
            inner = self.parse_expr()
            self.expect("op", ")", "')' to close '('")
            return inner
        if t.kind == "eof":
            self.fail("expected a value")
        if t.kind == "kw":
            self.fail(f"expected a value before '{t.text}'")
        self.fail("expected a value")

    def finish(self) -> None:
        if self.tok.kind != "eof":
            t = self.tok
            hint = ""
            prev = self.tokens[self.i - 1] if self.i else None
            if t.kind == "op" and t.text == "=":
                hint = "use '==' to compare"
            elif t.kind == "name" and t.text in ("is", "equals"):
                hint = "use '==' to compare"
            elif t.kind == "name" and t.text in ("day", "days", "week", "weeks", "minute", "minutes", "hour", "hours") \
                    and prev is not None and prev.kind == "int":
                n = prev.text
                if t.text.startswith("week"):
                    n, unit = f"{7 * int(prev.text)}", "days"
                else:
                    unit = t.text if t.text.endswith("s") else t.text + "s"
                hint = (f"dates add whole days: write 'today + {n}'; date-times and times add durations: "
                        f"write 'now + days({n})'" if unit == "days"
                        else f"write the duration as {unit}({n}) (date-times and times add durations)")
            elif t.kind in ("name", "str", "int", "dec"):
                hint = "join conditions with 'and' / 'or'"
            raise ExprSyntaxError(f"unexpected {t.text!r} after a complete expression", t.offset, hint)


def parse_expr(src: str) -> Node:
    """Parse one expression; raises ExprSyntaxError with an offset into `src`."""
    if not src.strip():
        raise ExprSyntaxError("the expression is empty", 0, "write a condition such as 'x.status == \"open\"'")
    p = _Parser(src)
    try:
        node = p.parse_expr()
    except RecursionError:
        raise ExprSyntaxError("the expression is nested too deeply", 0,
                              "split it into 'let' definitions or separate requirements") from None
    p.finish()
    return node


def parse_effect(src: str) -> Effect:
    """Parse `path = expr`, `path += expr` or `path -= expr`, optionally followed by `when cond`."""
    if not src.strip():
        raise ExprSyntaxError("the effect is empty", 0, "write e.g. 'user.balance -= price'")
    p = _Parser(src)
    target = p.parse_postfix()
    if not isinstance(target, Attr):
        raise ExprSyntaxError(
            "an effect must assign to a field",
            target.offset,
            "write 'record.field = value', e.g. 'reservation.status = \"cancelled\"'",
        )
    t = p.tok
    if not (t.kind == "op" and t.text in ("=", "+=", "-=")):
        hint = "use '=' to assign (not '==')" if t.text == "==" else "write '=', '+=' or '-=' after the field"
        raise ExprSyntaxError(f"expected '=', '+=' or '-=', found {t.text or 'the end'!r}", t.offset, hint)
    p.advance()
    try:
        value = p.parse_expr()
        when = p.parse_expr() if p.accept("kw", "when") else None
    except RecursionError:
        raise ExprSyntaxError("the effect is nested too deeply", 0, "split it with 'let' definitions") from None
    if p.at("kw", "if"):
        raise ExprSyntaxError("unexpected 'if' after a complete effect", p.tok.offset,
                              "to make an effect conditional, write '... when <condition>'")
    p.finish()
    return Effect(target, t.text, value, when, offset=target.offset, op_offset=t.offset)


# ----------------------------------------------------------------------------- utilities


def walk(node: Node):
    """Yield every node of the tree (pre-order)."""
    yield node
    if isinstance(node, Attr):
        yield from walk(node.obj)
    elif isinstance(node, (Neg, Not, Scale)):
        yield from walk(node.operand)
    elif isinstance(node, (Arith, Compare)):
        yield from walk(node.left)
        yield from walk(node.right)
    elif isinstance(node, InList):
        yield from walk(node.item)
        for o in node.options:
            yield from walk(o)
    elif isinstance(node, BoolOp):
        for v in node.values:
            yield from walk(v)
    elif isinstance(node, IfElse):
        yield from walk(node.cond)
        yield from walk(node.then)
        yield from walk(node.other)
    elif isinstance(node, Call):
        for a in node.args:
            yield from walk(a)
    elif isinstance(node, Quant):
        yield from walk(node.cond)


def path_of(node: Node) -> Optional[list[str]]:
    """`a.b.c` -> ["a", "b", "c"]; None when the node is not a plain path."""
    if isinstance(node, Name):
        return [node.id]
    if isinstance(node, Attr):
        base = path_of(node.obj)
        return None if base is None else base + [node.name]
    return None


def conjuncts(node: Node) -> list[Node]:
    """Split a condition at its top-level 'and's."""
    if isinstance(node, BoolOp) and node.op == "and":
        out: list[Node] = []
        for v in node.values:
            out.extend(conjuncts(v))
        return out
    return [node]


def unparse(node: Node) -> str:
    """Readable source for a node (used in messages and certificates)."""
    if isinstance(node, Lit):
        if node.kind == "str":
            return '"' + str(node.value).replace('"', '\\"') + '"'
        if node.kind == "bool":
            return "true" if node.value else "false"
        if node.kind == "null":
            return "null"
        return str(node.value)
    if isinstance(node, Name):
        return node.id
    if isinstance(node, Attr):
        return f"{unparse(node.obj)}.{node.name}"
    if isinstance(node, Neg):
        return f"-{_paren(node.operand)}"
    if isinstance(node, Arith):
        return f"{_paren(node.left)} {node.op} {_paren(node.right)}"
    if isinstance(node, Compare):
        return f"{_paren(node.left, arith_ok=True)} {node.op} {_paren(node.right, arith_ok=True)}"
    if isinstance(node, InList):
        kw = "not in" if node.negated else "in"
        return f"{_paren(node.item, arith_ok=True)} {kw} [{', '.join(unparse(o) for o in node.options)}]"
    if isinstance(node, BoolOp):
        return f" {node.op} ".join(_paren(v) for v in node.values)
    if isinstance(node, Not):
        return f"not {_paren(node.operand)}"
    if isinstance(node, IfElse):
        return f"if {unparse(node.cond)} then {unparse(node.then)} else {unparse(node.other)}"
    if isinstance(node, Call):
        return f"{node.func}({', '.join(unparse(a) for a in node.args)})"
    if isinstance(node, Scale):
        return unparse(node.operand)
    if isinstance(node, Quant):
        return f"{node.kind}({node.var} in {node.entity} where {unparse(node.cond)})"
    raise TypeError(node)


def _paren(node: Node, arith_ok: bool = False) -> str:
    s = unparse(node)
    if isinstance(node, Arith) and arith_ok:
        return s
    if isinstance(node, (BoolOp, Compare, Arith, IfElse, InList, Not)):
        return f"({s})"
    return s
