"""verify's second engine: descriptions and preconditions re-derived in SQL, on SQLite.

The generator decides what a description picks out and whether a call may run with one meaning
of the spec (spec/meaning.py, read by the runtime's evaluator and by the Z3 encoder). A bug in
that meaning would be shared by every check built on it, so a dataset could pass `verify` while
being wrong. This module shares none of it: from the parsed spec alone (entities, each
reference's stated paths, `where`, scope and rank, each tool's `let`s and `requires` as written)
it compiles its own SQL, loads the task's database into an in-memory SQLite table per entity
(values converted by its own rules: money in minor units, dates as day ordinals, datetimes as
minutes), and asks SQLite. It imports the expression tree and the walker's dispatch, nothing
from the runtime, the planner, the state stage or the tasks stage (tests/test_layout.py holds it
to that).

SQL reads like the spec: `the cheapest flight from SFO on 2026-12-03 that is not cancelled` is
`SELECT r.id, r.price FROM flight r WHERE r.origin IS 'SFO' AND r.date IS 740000 AND NOT
(r.status IS 'cancelled')`; the best by price is the target, and any other row as good is a rival.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Optional

from .spec import grammar as E
from .spec import types as T
from .spec.model import Domain, Reference, Tool
from .spec.walker import Walker


class SqlCheckError(Exception):
    """A value or construct the second engine cannot read (reported as a problem, never raised out
    of `verify`)."""


# ----------------------------------------------------------------------------- values


def _q(value: Any) -> str:
    """A SQL literal (values are inlined: they come from the database or the spec, and quoting
    text this way is exact for SQLite)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise SqlCheckError(f"cannot write {value!r} in SQL")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _day(text: str) -> int:
    return date.fromisoformat(text).toordinal()


def sql_value(t: T.VType, value: Any) -> Any:
    """A value in its JSON form (database, arguments, stated values) -> its SQL form."""
    if value is None:
        return None
    k = t.kind
    try:
        if k == "money":
            return int(Decimal(str(value)).scaleb(t.places).to_integral_exact())
        if k == "int":
            return int(value)
        if k == "date":
            return _day(value)
        if k == "datetime":
            day, clock = value.split("T")
            hours, minutes = clock.split(":")
            return _day(day) * 1440 + int(hours) * 60 + int(minutes)
        if k == "time":
            hours, minutes = value.split(":")
            if len(hours) != 2 or len(minutes) != 2:
                raise ValueError("not HH:MM")
            return int(hours) * 60 + int(minutes)
        if k == "bool":
            return 1 if value else 0
    except (ValueError, InvalidOperation, AttributeError) as e:
        raise SqlCheckError(f"cannot read {value!r} as {k}: {e}") from None
    return str(value)


def _internal_to_sql(t: T.VType, value: Any) -> Any:
    """A value the spec holds in the generator's internal form (today, a default) -> SQL form,
    through its JSON spelling (the one form both sides document)."""
    return sql_value(t, T.encode(t, value))


# ----------------------------------------------------------------------------- database


class Database:
    """One task database in SQLite: a table per entity, a column per field (plus `id`)."""

    def __init__(self, domain: Domain, db: dict):
        self.domain = domain
        self.conn = sqlite3.connect(":memory:")
        for ename, ent in domain.entities.items():
            cols = ["id TEXT PRIMARY KEY"] + [_ident(f) for f in ent.fields]
            self.conn.execute(f"CREATE TABLE {_ident(ename)} ({', '.join(cols)})")
            rows = []
            for rid, rec in (db.get(ename) or {}).items():
                rows.append([rid] + [sql_value(f.type, rec.get(fname)) for fname, f in ent.fields.items()])
            if rows:
                marks = ", ".join("?" * (len(ent.fields) + 1))
                self.conn.executemany(f"INSERT INTO {_ident(ename)} VALUES ({marks})", rows)

    def close(self) -> None:
        self.conn.close()

    def value(self, sql: str) -> Any:
        return self.conn.execute(f"SELECT {sql}").fetchone()[0]

    def rows(self, sql: str) -> list[tuple]:
        return self.conn.execute(sql).fetchall()


# ----------------------------------------------------------------------------- expressions

_DAY = 1440  # minutes in a day: datetimes are minutes, dates day numbers, times minutes after midnight


def _floor_mod(sql: str, d: int) -> str:
    """`sql` modulo d with the divisor's sign, as the spec means it (SQLite's % keeps the sign
    of the dividend: -30 % 1440 is -30 there, 1410 in the spec)."""
    return f"((({sql}) % {d} + {d}) % {d})"


@dataclass
class _Scope:
    names: dict[str, str]  # spec name -> SQL expression (a record's id, or a value)
    aliases: dict[str, tuple[str, str]] = field(default_factory=dict)  # id expression -> (alias, entity)


class Compiler(Walker):
    """The spec's expression tree as SQL text: the SQL back-end of the walker."""

    def __init__(self, domain: Domain):
        self.domain = domain
        self.n = 0

    def fresh(self) -> str:
        self.n += 1
        return f"q{self.n}"

    def sql(self, node: E.Node, scope: _Scope) -> str:
        return self.walk(node, scope)

    # record paths: `r.flight.date` is a column of a row, or a lookup of the row a ref names
    def field_of(self, record_sql: str, entity: str, fname: str, scope: _Scope) -> str:
        if fname == "id":
            return record_sql
        alias = scope.aliases.get(record_sql)
        if alias is not None and alias[1] == entity:
            return f"{alias[0]}.{_ident(fname)}"
        return f"(SELECT {_ident(fname)} FROM {_ident(entity)} WHERE id = {record_sql})"

    def lit(self, n: E.Lit, scope: _Scope) -> str:
        t: T.VType = n.type
        if n.kind == "dec":
            return _q(int(Decimal(str(n.value)) * t.scale))
        if n.kind == "const":
            return _q(_internal_to_sql(t, n.value))
        if n.kind == "bool" or isinstance(n.value, bool):
            return _q(bool(n.value))
        if n.kind == "null":
            return "NULL"  # an empty link: compared with IS / IS NOT, so `x IS NULL` is exact
        return _q(n.value)

    def name(self, n: E.Name, scope: _Scope) -> str:
        if n.id in scope.names:
            return scope.names[n.id]
        if n.id == "today":
            return _q(_internal_to_sql(T.DATE, self.domain.today))
        if n.id == "now":
            return _q(_internal_to_sql(T.DATETIME, self.domain.now))
        raise SqlCheckError(f"the name {n.id!r} is not bound")

    def attr(self, n: E.Attr, scope: _Scope) -> str:
        owner: T.VType = n.obj.type
        return self.field_of(self.walk(n.obj, scope), owner.entity, n.name, scope)

    def scale(self, n: E.Scale, scope: _Scope) -> str:
        return f"({self.walk(n.operand, scope)} * {n.factor})"

    def neg(self, n: E.Neg, scope: _Scope) -> str:
        return f"(- {self.walk(n.operand, scope)})"

    def arith(self, n: E.Arith, scope: _Scope) -> str:
        sql = f"({self.walk(n.left, scope)} {n.op} {self.walk(n.right, scope)})"
        if n.type is not None and n.type.kind == "time":  # a clock wraps around midnight
            return _floor_mod(sql, _DAY)
        return sql

    def compare(self, n: E.Compare, scope: _Scope) -> str:
        op = {"==": "IS", "!=": "IS NOT"}.get(n.op, n.op)
        return f"({self.walk(n.left, scope)} {op} {self.walk(n.right, scope)})"

    def inlist(self, n: E.InList, scope: _Scope) -> str:
        item = self.walk(n.item, scope)
        found = " OR ".join(f"{item} IS {self.walk(o, scope)}" for o in n.options) or "0"
        return f"(NOT ({found}))" if n.negated else f"({found})"

    def boolop(self, n: E.BoolOp, scope: _Scope) -> str:
        return "(" + f" {n.op.upper()} ".join(self.walk(v, scope) for v in n.values) + ")"

    def not_(self, n: E.Not, scope: _Scope) -> str:
        return f"(NOT {self.walk(n.operand, scope)})"

    def ifelse(self, n: E.IfElse, scope: _Scope) -> str:
        return (f"(CASE WHEN {self.walk(n.cond, scope)} THEN {self.walk(n.then, scope)} "
                f"ELSE {self.walk(n.other, scope)} END)")

    def quant(self, n: E.Quant, scope: _Scope) -> str:
        alias = self.fresh()
        me = f"{alias}.id"
        inner = _Scope({**scope.names, n.var: me}, {**scope.aliases, me: (alias, n.entity)})
        body = f"FROM {_ident(n.entity)} AS {alias} WHERE {self.walk(n.cond, inner)}"
        if n.kind == "count":
            return f"(SELECT COUNT(*) {body})"
        return f"({'' if n.kind == 'any' else 'NOT '}EXISTS (SELECT 1 {body}))"

    def call(self, n: E.Call, scope: _Scope) -> str:
        if n.func in ("date", "datetime", "time") and len(n.args) == 1:
            text = n.args[0].value if n.args and isinstance(n.args[0], E.Lit) else None
            if not isinstance(text, str):
                raise SqlCheckError(f"{n.func}() needs a literal")
            return _q(sql_value({"date": T.DATE, "datetime": T.DATETIME, "time": T.TIME}[n.func], text))
        args = [self.walk(a, scope) for a in n.args]
        units = {"minutes": 1, "hours": 60, "days": _DAY}
        if n.func in units:
            return f"({args[0]} * {units[n.func]})"
        if n.func == "date_of":  # SQLite's integer '/' truncates towards zero: floor it
            return f"(({args[0]} - {_floor_mod(args[0], _DAY)}) / {_DAY})"
        if n.func == "time_of":
            return _floor_mod(args[0], _DAY)
        if n.func == "datetime":
            return f"({args[0]} * {_DAY} + {args[1]})"
        if n.func == "distinct":
            pairs = [f"{a} IS NOT {b}" for i, a in enumerate(args) for b in args[i + 1:]]
            return "(" + " AND ".join(pairs) + ")"
        if n.func in ("min", "max"):
            return args[0] if len(args) == 1 else f"{n.func}({', '.join(args)})"
        if n.func == "abs":
            return f"abs({args[0]})"
        raise SqlCheckError(f"no SQL for {n.func}()")


# ----------------------------------------------------------------------------- descriptions


@dataclass
class Resolution:
    """What SQLite finds for a description on one database."""

    rows: int  # records of the entity
    fit_stated: int  # records of the user's own with the stated values (where and rank ignored)
    fits: list[str]  # records fitting the whole description (rank ignored), by id
    best: list[str]  # the fitting records no other fitting record ranks before (all of them without a rank)

    @property
    def target(self) -> Optional[str]:
        return self.best[0] if len(self.best) == 1 else None


def _path_sql(c: Compiler, scope: _Scope, record_sql: str, entity: str, path: list[str]) -> str:
    sql, ent = record_sql, entity
    for step in path:
        sql = c.field_of(sql, ent, step, scope)
        if step != "id":
            t = c.domain.entities[ent].fields[step].type
            if t.kind == "ref":
                ent = t.entity
    return sql


def resolve(domain: Domain, database: Database, ref: Reference, stated: dict[str, Any], actor_id: str) -> Resolution:
    """The records a description fits and the best of them, by SQL written from the reference."""
    c = Compiler(domain)
    me = "r.id"
    scope = _Scope({ref.entity: me, "actor": _q(actor_id)}, {me: ("r", ref.entity)})
    owned: list[str] = []
    if ref.scope is not None:
        owned.append(f"{_path_sql(c, scope, me, ref.entity, ref.scope)} IS {_q(actor_id)}")
    for p in ref.filter:
        key = ".".join(p)
        if key not in stated:
            raise SqlCheckError(f"no stated value for {key}")
        value = sql_value(domain.path_type(ref.entity, p), stated[key])
        owned.append(f"{_path_sql(c, scope, me, ref.entity, p)} IS {_q(value)}")
    whole = owned + ([c.sql(ref.where, scope)] if ref.where is not None else [])
    rank = _path_sql(c, scope, me, ref.entity, ref.rank[0]) if ref.rank else "0"
    table = f"{_ident(ref.entity)} AS r"

    def where(conds: list[str]) -> str:
        return " WHERE " + " AND ".join(conds) if conds else ""

    rows = database.rows(f"SELECT COUNT(*) FROM {table}")[0][0]
    fit_stated = database.rows(f"SELECT COUNT(*) FROM {table}{where(owned)}")[0][0]
    found = database.rows(f"SELECT r.id, {rank} FROM {table}{where(whole)} ORDER BY r.id")
    fits = [rid for rid, _ in found]
    if ref.rank is None or not found:
        best = fits
    else:
        top = (min if ref.rank[1] == "asc" else max)(v for _, v in found)
        best = [rid for rid, v in found if v == top]
    return Resolution(rows, fit_stated, fits, best)


# ----------------------------------------------------------------------------- preconditions


def requirements(domain: Domain, database: Database, tool: Tool, arguments: dict, actor_id: Optional[str]) -> list[bool]:
    """Each of the tool's `requires`, in order, evaluated by SQLite for these arguments."""
    c = Compiler(domain)
    names: dict[str, str] = {}
    if actor_id is not None:
        names["actor"] = _q(actor_id)
    for aname, arg in tool.args.items():
        raw = arguments.get(aname)
        if arg.is_ref:
            names[arg.var] = _q(raw)
        else:
            names[aname] = _q(sql_value(arg.type, raw))
    scope = _Scope(names)
    for lname, node, _t in tool.lets:
        scope.names[lname] = f"({c.sql(node, scope)})"
    return [bool(database.value(f"COALESCE(({c.sql(r.expr, scope)}), 0)")) for r in tool.requires]


# ----------------------------------------------------------------------------- rules over records


def breaking(domain: Domain, database: Database, entity: str, node: E.Node) -> list[str]:
    """Ids of the records of `entity` for which a rule over the record (named as the entity, like
    an invariant) does not hold."""
    c = Compiler(domain)
    me = "r.id"
    scope = _Scope({entity: me}, {me: ("r", entity)})
    rows = database.rows(f"SELECT r.id FROM {_ident(entity)} AS r WHERE NOT COALESCE(({c.sql(node, scope)}), 0) "
                         "ORDER BY r.id")
    return [rid for (rid,) in rows]
