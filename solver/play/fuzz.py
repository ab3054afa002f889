"""Hostile tool calls against `Environment.call`, and the invariants every call must keep.

Why: an agent can send anything - a list as the tool name, "Infinity" as an amount, a 5000-digit
number, JSON nested 5000 deep, someone else's id, a gold call twice. Whatever it sends, the
environment must answer with text, refuse with "Error: ..." and change nothing (not even its id
counters), or accept only calls within the spec and leave a database that still satisfies it.
An environment that raises, or that drifts on refused calls, silently mis-scores episodes of a
training run. `fuzz_tasks` plays such calls through the public API only and reports every
broken invariant as a `Finding`; it is deterministic for a seed.
"""

from __future__ import annotations

import json
import math
import random
import traceback
from collections import Counter
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Optional, Union

from ..spec import types as T
from ..spec.model import Domain, Tool
from .environment import Environment
from ..runtime.execute import Evaluator, Ref, db_hash
from ..tasks.model import Task

CATEGORIES = (
    "exception",  # env.call raised
    "not_text",  # env.call returned something that is not a str, or text that is not valid Unicode
    "changed_after_error",  # an "Error:" answer, but the database or the id counters changed
    "out_of_bounds_accepted",  # an accepted call had an argument outside its declared type or bounds
    "bad_record_after_write",  # an accepted call left a record that breaks its entity's declaration
    "score_raises",  # env.score() or json.dumps(db) raised after the calls
    "gold_broken_by_errors",  # refused calls changed what the gold actions produce afterwards
    "checker_error",  # the fuzzer's own checks could not run (its bug, or a db it cannot read)
)

ERROR_PREFIX = "Error:"
GOLD_CHECK_FAILED_CALLS = 20  # failed calls (refused or raising) played before the gold actions
GOLD_CHECK_ATTEMPTS = 60  # candidate calls tried to collect them


# ----------------------------------------------------------------------------- hostile values


def nested_list(depth: int) -> list:
    """[[[...]]] `depth` deep, built without recursion."""
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


HUGE_INT = 10**5000  # str() of it raises ValueError (int max str digits), so does repr()
LONG_TEXT = "x" * 100_000
DEEP_LIST = nested_list(3000)
UNICODE_TEXT = "Zoë 🚀 \u202e\u200b\u0000 \ud800"  # a lone surrogate cannot be encoded as UTF-8
INF = float("inf")

# numbers no count or amount can be, and text that trips number parsers
NUMBER_EXTREMES: tuple[Any, ...] = (
    INF, -INF, float("nan"), "Infinity", "-Infinity", "NaN", "sNaN", "1e999999", "-1e999999",
    HUGE_INT, -HUGE_INT, 1e308, -1e308, 5e-324, 2**63, 2**64, True, False,
)
TEXT_EXTREMES: tuple[Any, ...] = ("", " ", LONG_TEXT, UNICODE_TEXT, "\ud800", "null")
# the wrong JSON type for anything, and the extremes of every type
GENERIC_VALUES: tuple[Any, ...] = (None, 0, -1, 1.5, -0.0, "0", [], [1], {}, {"a": 1}, DEEP_LIST,
                                   *NUMBER_EXTREMES, *TEXT_EXTREMES)
DATE_TEXTS = ("9999-12-25", "9999-12-31", "0001-01-01", "2026-02-30", "2026-12-03T10:00", "2026-13-01",
              "20261203", "2026-W49-4", " 2026-12-03", "2026-12-03 ", "+2026-12-03", "12/03/2026")
DATETIME_TEXTS = ("9999-12-31T23:59", "0001-01-01T00:00", "2026-12-03", "2026-12-03T24:00",
                  "2026-12-03T10:00+14:00", "2026-12-03T10:00:59.999999", "2026-02-30T10:00", "2026-12-03 10:00")
BOOL_LOOKALIKES = ("true", "false", 1, 0, "yes")
# raw JSON literals Python's json module accepts (or chokes on) where a number belongs
JSON_LITERALS = ("NaN", "Infinity", "-Infinity", "1e999999", "-1e999999", "1" + "0" * 5000, "-0", "1.0e-400")
JSON_TEXTS = ("not json", "{", "}", "[" * 5000, '{"a":' * 5000, "null", "42", '"text"', "[]", "   ",
              '{"a": 1, "a": 2}', "\ud800")
BAD_NAMES: tuple[Any, ...] = ([], {}, None, 0, -1, 1.5, True, HUGE_INT, ("tuple",))
UNKNOWN_NAMES = ("", " ", "delete_all_records", "__init__", "__class__", "_call", "call", "bind_arguments",
                 LONG_TEXT, UNICODE_TEXT)


def _outside_enum(v: str) -> list[str]:
    """Strings that look like `v` but are not it."""
    return [v.upper(), v.title(), " " + v, v + " ", v + "\n", v[:-1], v + "x", v.replace("e", "\u0435")]


@lru_cache(maxsize=None)
def edge_values(t: T.VType) -> tuple[Any, ...]:
    """Values at and just past the edges of type `t`: extremes of its kind, its bounds (accepted),
    bounds +/- 1 (and +/- one minor unit of money), look-alikes of enum values, malformed and
    far-off dates."""
    enc = lambda v: T.encode(t, v)  # noqa: E731
    k = t.kind
    out: list[Any] = list(NUMBER_EXTREMES if k in T.NUMERIC_KINDS else TEXT_EXTREMES)
    if k in ("int", "money") and t.lo is not None and t.hi is not None:
        out += [enc(t.lo), enc(t.hi), enc(t.lo - 1), enc(t.hi + 1), -enc(t.hi), enc(-t.hi), 0, -1]
        out += [enc(t.lo - t.scale), enc(t.hi + t.scale), str(enc(t.hi + 1)), str(enc(t.lo)), float(enc(t.hi + 1))]
        if k == "money":
            out += [enc(t.lo) + 10.0 ** -(t.places + 1), str(Decimal(t.hi + 1).scaleb(-t.places))]
    elif k in ("date", "datetime") and t.lo is not None and t.hi is not None:
        last = T.parse_date("9999-12-31") * (T.EPOCH_MINUTES_PER_DAY if k == "datetime" else 1)
        out += [enc(v) for v in (t.lo, t.hi, t.lo - 1, t.hi + 1) if 1 <= v <= last]
        out += list(DATE_TEXTS + DATETIME_TEXTS)
    elif k == "time" and t.lo is not None and t.hi is not None:
        out += [enc(v) for v in (t.lo, t.hi, t.lo - 1, t.hi + 1) if 0 <= v < T.MINUTES_PER_DAY]
        out += ["24:00", "9:30", "14:30:00", "2 PM", "12:60", "-01:00", "1430"]
    elif k == "enum":
        out += [x for v in t.values for x in _outside_enum(v)]
    elif k == "bool":
        out += list(BOOL_LOOKALIKES)
    elif k == "str":
        out += [x for v in t.values[:3] for x in _outside_enum(v)]
    return tuple(out)


def hostile_value(t: T.VType, rng: random.Random) -> Any:
    """Mostly a value at the edge of `t` or extreme for its kind, else any hostile value."""
    return rng.choice(edge_values(t) if rng.random() < 0.7 else GENERIC_VALUES)


def valid_value(t: T.VType, rng: random.Random) -> Any:
    """A JSON value of type `t` within its bounds, often on or next to one of them."""
    if t.ordered and t.lo is not None and t.hi is not None:
        lo, hi = t.lo, t.hi
        return T.encode(t, rng.choice([lo, hi, min(lo + 1, hi), max(hi - 1, lo), rng.randint(lo, hi)]))
    if t.kind in ("enum", "str") and t.values:
        return rng.choice(t.values)
    if t.kind == "bool":
        return rng.random() < 0.5
    return "test"


# ----------------------------------------------------------------------------- safe text


def _nesting(obj: Any) -> int:
    """How deep [[[...]]] goes, without recursion."""
    depth = 0
    while isinstance(obj, list) and obj and depth < 100_000:
        obj, depth = obj[0], depth + 1
    return depth


def safe_repr(obj: Any, limit: int = 160, _depth: int = 0) -> str:
    """A short repr that never raises: plain repr() fails on a 5000-digit int or a list 3000 deep."""
    if isinstance(obj, bool) or obj is None or isinstance(obj, float):
        text = repr(obj)
    elif isinstance(obj, int):
        digits = int(obj.bit_length() * 0.30103) + 1
        text = repr(obj) if digits < 40 else f"<{'-' if obj < 0 else ''}int of ~{digits} digits>"
    elif isinstance(obj, str):
        text = repr(obj) if len(obj) <= 60 else repr(obj[:40]) + f"+<{len(obj) - 40} more chars>"
    elif isinstance(obj, (list, tuple, dict)):
        deep = _nesting(obj) if isinstance(obj, list) else 0
        if deep > 3 or _depth >= 3:
            text = f"<list nested {deep} deep>" if deep > 3 else f"<{type(obj).__name__}>"
        elif isinstance(obj, dict):
            items = [f"{safe_repr(k, 40, _depth + 1)}: {safe_repr(v, 60, _depth + 1)}"
                     for k, v in list(obj.items())[:6]]
            text = "{" + ", ".join(items + (["..."] if len(obj) > 6 else [])) + "}"
        else:
            items = [safe_repr(v, 60, _depth + 1) for v in list(obj)[:6]]
            text = ("[" if isinstance(obj, list) else "(") + ", ".join(items + (["..."] if len(obj) > 6 else [])) \
                + ("]" if isinstance(obj, list) else ")")
    else:
        text = f"<{type(obj).__name__}>"
    return clean_text(text, limit)


def clean_text(text: str, limit: int = 300) -> str:
    """Truncated and printable (lone surrogates escaped), so reports can be printed and dumped."""
    if len(text) > limit:
        text = text[:limit] + f"...<{len(text) - limit} more chars>"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def describe_exception(exc: BaseException) -> str:
    """'TypeError: unhashable type: list at runtime.py:197 in _call' (innermost envsynth frame)."""
    try:
        message = str(exc)
    except Exception:  # noqa: BLE001 - str() of an exception carrying a huge int raises too
        message = "<message cannot be printed>"
    frames = traceback.extract_tb(exc.__traceback__)
    package = str(Path(__file__).parent)
    ours = [f for f in frames if f.filename.startswith(package) and not f.filename.endswith("fuzz.py")]
    where = ours[-1] if ours else (frames[-1] if frames else None)
    at = f" at {Path(where.filename).name}:{where.lineno} in {where.name}" if where else ""
    return clean_text(f"{type(exc).__name__}: {clean_text(message, 160)}{at}", 400)


# ----------------------------------------------------------------------------- report


@dataclass(frozen=True)
class Finding:
    """One broken invariant, with the call that broke it (as short, safe reprs)."""

    domain: str
    task_id: str
    call: str
    arguments: str
    category: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.category}] {self.domain}/{self.task_id}: {self.call}({self.arguments}) -> {self.detail}"


@dataclass
class FuzzReport:
    """What one fuzzing run did and found; counts are exact, findings are all kept."""

    domain: str
    tasks: int = 0
    calls: int = 0
    refused: int = 0  # calls answered "Error: ..."
    accepted: int = 0
    gold_checks: int = 0  # tasks whose gold actions were replayed after 20 failed calls
    counts: Counter = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list, repr=False)

    def add(self, finding: Finding) -> None:
        self.counts[finding.category] += 1
        self.findings.append(finding)

    def first(self, category: str, n: int = 3) -> list[Finding]:
        return [f for f in self.findings if f.category == category][:n]

    def as_dict(self, examples: int = 3) -> dict[str, Any]:
        return {"domain": self.domain, "tasks": self.tasks, "calls": self.calls, "refused": self.refused,
                "accepted": self.accepted, "gold_checks": self.gold_checks,
                "counts": {c: self.counts[c] for c in CATEGORIES},
                "examples": {c: [asdict(f) for f in self.first(c, examples)] for c in CATEGORIES if self.counts[c]}}


# ----------------------------------------------------------------------------- checks


def value_problem(t: T.VType, value: Any) -> Optional[str]:
    """Why a JSON value is not a value of type `t` within its bounds (types.decode rules), or None."""
    if isinstance(value, bool) and t.kind in T.ORDERED_KINDS:
        return f"a boolean {value} for a {t.kind}"
    try:
        internal = T.decode(t, value)
        outside = t.ordered and t.lo is not None and t.hi is not None and not (t.lo <= internal <= t.hi)
    except Exception as e:  # noqa: BLE001 - decode raising anything but ValueError_ still means "not a value"
        return f"{safe_repr(value)} is not a {t.describe()} ({type(e).__name__})"
    if outside:
        return f"{safe_repr(value)} is outside [{T.encode(t, t.lo)}, {T.encode(t, t.hi)}]"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value} is not a finite number"
    return None


def effective_arguments(arguments: Any) -> tuple[Any, Optional[str]]:
    """The arguments Environment.call works with: JSON text decoded, None meaning no arguments."""
    if arguments is None:
        return {}, None
    if isinstance(arguments, str):
        if not arguments.strip():
            return {}, None
        try:
            return json.loads(arguments), None
        except Exception as e:  # noqa: BLE001 - the fuzzer records whatever fails, it must not fail itself
            return None, f"arguments are not valid JSON ({type(e).__name__})"
    return arguments, None


def argument_violations(domain: Domain, name: Any, arguments: Any, db: dict) -> list[str]:
    """Why a call should have been refused, judged on the database before it."""
    tool = domain.tools.get(name) if isinstance(name, str) else None
    if tool is None:
        return [f"unknown tool {safe_repr(name)}"]
    args, problem = effective_arguments(arguments)
    if problem:
        return [problem]
    if not isinstance(args, dict):
        return [f"arguments are a {type(args).__name__}, not an object"]
    out = [f"unknown argument {safe_repr(k)}" for k in args if k not in tool.args]
    for aname, arg in tool.args.items():
        if aname not in args:
            out.append(f"missing argument '{aname}'")
            continue
        value = args[aname]
        if arg.is_ref:
            if not isinstance(value, str) or value not in db.get(arg.type.entity, {}):
                out.append(f"'{aname}' = {safe_repr(value)} is no {arg.type.entity} id")
        else:
            why = value_problem(arg.type, value)
            if why:
                out.append(f"'{aname}': {why}")
    return out


def _unencodable(value: Any) -> Optional[str]:
    """Text a database file cannot hold (a lone surrogate is no UTF-8)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as e:
            around = safe_repr(value[max(0, e.start - 20):e.start + 5])
            return f"text that is no valid Unicode (a lone surrogate at {e.start}: {around})"
    return None


def _unique_key(value: Any) -> Optional[str]:
    """How a unique field's value is compared (its JSON), None when it is no JSON."""
    try:
        return json.dumps(value, sort_keys=True)
    except Exception:  # noqa: BLE001 - the fuzzer records whatever fails, it must not fail itself
        return None  # not JSON: already reported as a field that does not decode


def record_problems(domain: Domain, db: dict) -> tuple[set[str], list[str]]:
    """Every way the database breaks its declaration (field types and bounds, dangling refs,
    duplicate unique values, entity invariants), and the checks that could not be evaluated."""
    problems: set[str] = set()
    checker_errors: list[str] = []
    ev = Evaluator(domain, db)
    for ename in sorted(db):
        ent, table = domain.entities.get(ename), db[ename]
        if ent is None or not isinstance(table, dict):
            problems.add(f"table {safe_repr(ename)} is not an entity's table")
            continue
        seen: dict[str, dict[str, str]] = {f: {} for f, info in ent.fields.items() if info.unique}
        for rid in sorted(table, key=str):
            rec, at = table[rid], f"{ename} {safe_repr(rid)}"
            if not isinstance(rec, dict):
                problems.add(f"{at} is a {type(rec).__name__}, not a record")
                continue
            bad = [f"{at} has id {safe_repr(rec.get('id'))}"] if rec.get("id") != rid else []
            bad += [f"{at} has unknown field {safe_repr(k)}" for k in rec if k != "id" and k not in ent.fields]
            for fname, info in ent.fields.items():
                value = rec.get(fname)
                if fname not in rec:
                    bad.append(f"{at} has no field {fname}")
                elif info.type.kind == "ref":
                    if value is None and info.nullable:
                        pass  # an empty link the spec allows
                    elif not isinstance(value, str) or value not in db.get(info.type.entity, {}):
                        bad.append(f"{at}.{fname} = {safe_repr(value)} points to a missing {info.type.entity}")
                else:
                    why = value_problem(info.type, value) or _unencodable(value)
                    if why:
                        bad.append(f"{at}.{fname}: {why}")
                if fname in seen and (key := _unique_key(value)) is not None:
                    if key in seen[fname]:
                        bad.append(f"{at}.{fname} = {safe_repr(value)} duplicates {ename} {seen[fname][key]}")
                    seen[fname].setdefault(key, safe_repr(rid))
            problems.update(bad)
            if bad:
                continue  # invariants read fields; one that does not decode is reported above
            for node, src in ent.invariants:
                try:
                    holds = ev.eval(node, {ename: Ref(ename, rid)})
                except Exception as e:  # noqa: BLE001 - the fuzzer records whatever fails, it must not fail itself
                    checker_errors.append(f"invariant '{src}' on {at}: {describe_exception(e)}")
                    continue
                if not holds:
                    problems.add(f"{at} breaks the invariant '{src}'")
    return problems, checker_errors


def snapshot(db: Any) -> Any:
    """A copy of the database deep enough to notice any change (records are flat JSON objects)."""
    try:
        return {e: {i: dict(r) if isinstance(r, dict) else r for i, r in t.items()} for e, t in db.items()}
    except Exception:  # noqa: BLE001 - the fuzzer records whatever fails, it must not fail itself
        return None  # not a table of records: compared as "changed"


def same(a: Any, b: Any) -> bool:
    """Equal snapshots; never raises (comparing values nested thousands deep can)."""
    try:
        return a is not None and a == b
    except Exception:  # noqa: BLE001 - the fuzzer records whatever fails, it must not fail itself
        return False


def counter_moves(before: dict, after: dict) -> str:
    """'id counters moved: order 3->4', or '' when none did."""
    moved = [f"{k} {before.get(k)}->{after.get(k)}" for k in sorted(set(before) | set(after), key=str)
             if before.get(k) != after.get(k)]
    return "id counters moved: " + ", ".join(moved) if moved else ""


# ----------------------------------------------------------------------------- calls


Call = tuple[Any, Any]  # (tool name, arguments) exactly as handed to Environment.call

STRATEGIES = (  # (name, weight)
    ("bad_value", 6), ("gold_mutated", 4), ("gold_nudged", 4), ("bad_id", 3), ("bad_arguments", 3),
    ("gold_repeat", 2), ("gold_shuffled", 2), ("plausible", 2), ("missing_key", 1), ("unknown_key", 1),
    ("unknown_tool", 1), ("bad_name", 1),
)
# before a gold replay: calls that reach the gold tools' effects (and their id counters), and refuse
GOLD_CHECK_STRATEGIES = (("gold_mutated", 5), ("gold_nudged", 3), ("gold_repeat", 1), ("bad_value", 1))


class CallMaker:
    """Draws hostile calls for one task: every tool in turn, the task's gold actions, its ids."""

    def __init__(self, domain: Domain, task: Task, rng: random.Random):
        self.domain, self.task, self.rng = domain, task, rng
        self.tools = sorted(domain.tools.values(), key=lambda t: t.name)
        rng.shuffle(self.tools)
        self.ref_tools = [t for t in self.tools if any(a.is_ref for a in t.args.values())] or self.tools
        self.gold: list[Call] = [(g.name, g.arguments) for g in task.gold_actions]
        self.shuffled = list(self.gold)
        rng.shuffle(self.shuffled)
        self.turns: Counter = Counter()

    def next(self, db: dict, strategies: tuple[tuple[str, int], ...] = STRATEGIES) -> Call:
        names, weights = zip(*strategies)
        strategy = self.rng.choices(names, weights)[0]
        if strategy.startswith("gold") and not self.gold:
            strategy = "bad_value"
        return getattr(self, "_" + strategy)(db)

    # -- helpers
    def _turn(self, pool: list, key: str) -> Any:
        """Round robin, so every tool is called."""
        item = pool[self.turns[key] % len(pool)]
        self.turns[key] += 1
        return item

    def _ids(self, db: dict, entity: str) -> list[str]:
        return sorted(db.get(entity, {}), key=str)

    def _valid_id(self, db: dict, entity: str) -> str:
        ids = self._ids(db, entity)
        actor = self.task.certificate.actor
        if entity == self.domain.actor and actor and self.rng.random() < 0.5:
            return actor
        return self.rng.choice(ids) if ids else "none"

    def plausible(self, tool: Tool, db: dict) -> dict:
        """Arguments a careful agent might send: a gold call's, or valid values and real ids."""
        golds = [a for n, a in self.gold if n == tool.name]
        if golds and self.rng.random() < 0.7:
            return dict(self.rng.choice(golds))
        return {a.name: self._valid_id(db, a.type.entity) if a.is_ref else valid_value(a.type, self.rng)
                for a in tool.args.values()}

    def hostile_id(self, db: dict, entity: str) -> Any:
        """Someone else's record, another entity's id, a missing id, an id with whitespace..."""
        others = [i for e in sorted(db) if e != entity for i in self._ids(db, e)]
        real = self._valid_id(db, entity)
        choices: list[Any] = [
            self.rng.choice(self._ids(db, entity) or [real]), self.rng.choice(others or [real]),
            "", " ", "NONE", real + " ", " " + real, real + "\n", "\t" + real, real.lower(), real.upper(),
            real[:-1], real + real[-1:], real + "\u200b", real.replace("0", "\uff10"),
            int(real) if real.isascii() and real.isdigit() else 0, [real], {"id": real}, None,
            HUGE_INT, LONG_TEXT, DEEP_LIST,
        ]
        return self.rng.choice(choices)

    def mutate(self, tool: Optional[Tool], args: dict, db: dict, valid: bool = False) -> dict:
        """`args` with one argument (a value rather than an id, mostly) replaced by a hostile
        value of its type - or, with `valid`, by another value within its bounds (another real id)."""
        args = dict(args)
        known = [tool.args[a] for a in sorted(args) if tool is not None and a in tool.args]
        if not known:
            args[self.rng.choice(["extra", "id", ""])] = self.rng.choice(GENERIC_VALUES)
            return args
        values = [a for a in known if not a.is_ref]
        arg = self.rng.choice(values if values and self.rng.random() < 0.7 else known)
        if arg.is_ref:
            args[arg.name] = (self._valid_id if valid else self.hostile_id)(db, arg.type.entity)
        else:
            args[arg.name] = (valid_value if valid else hostile_value)(arg.type, self.rng)
        return args

    # -- strategies: each returns one call
    def _bad_value(self, db: dict) -> Call:
        tool = self._turn(self.tools, "tool")
        return tool.name, self.mutate(tool, self.plausible(tool, db), db)

    def _plausible(self, db: dict) -> Call:
        tool = self._turn(self.tools, "tool")
        return tool.name, self.plausible(tool, db)

    def _bad_id(self, db: dict) -> Call:
        tool = self._turn(self.ref_tools, "ref_tool")
        args = self.plausible(tool, db)
        ref = self.rng.choice([a for a in tool.args.values() if a.is_ref] or [None])
        if ref is None:
            return tool.name, self.mutate(tool, args, db)
        return tool.name, {**args, ref.name: self.hostile_id(db, ref.type.entity)}

    def _missing_key(self, db: dict) -> Call:
        tool = self._turn(self.tools, "tool")
        args = self.plausible(tool, db)
        if args:
            args.pop(self.rng.choice(sorted(args)))
        return tool.name, args

    def _unknown_key(self, db: dict) -> Call:
        tool = self._turn(self.tools, "tool")
        args = self.plausible(tool, db)
        key = self.rng.choice(sorted(args) or ["id"])
        extra = self.rng.choice([key.upper(), key + " ", "", "__proto__", "extra", "id", 1, None])
        if self.rng.random() < 0.5 and key in args:
            args[extra] = args.pop(key)  # renamed
        else:
            args[extra] = args.get(key, 1)  # added
        return tool.name, args

    def _bad_arguments(self, db: dict) -> Call:
        tool = self._turn(self.tools, "tool")
        args = self.plausible(tool, db)
        kind = self.rng.randrange(4)
        if kind == 0:  # not an object at all
            return tool.name, self.rng.choice([[], [args], None, 0, -1, 1.5, True, HUGE_INT, DEEP_LIST, LONG_TEXT])
        if kind == 1:  # text that is not JSON of an object
            return tool.name, self.rng.choice(JSON_TEXTS)
        if args and kind == 2:  # JSON text with a raw literal where a value belongs
            key = self.rng.choice(sorted(args))
            text = json.dumps({**args, key: "__HOSTILE__"})
            return tool.name, text.replace('"__HOSTILE__"', self.rng.choice(JSON_LITERALS))
        return tool.name, json.dumps(args)  # valid JSON text

    def _unknown_tool(self, db: dict) -> Call:
        tool = self._turn(self.tools, "tool")
        variants = [tool.name.upper(), tool.name + " ", " " + tool.name, tool.name + "\n", tool.name + "s",
                    tool.name.replace("e", "\u0435"), *UNKNOWN_NAMES]
        return self.rng.choice(variants), self.plausible(tool, db)

    def _bad_name(self, db: dict) -> Call:
        tool = self._turn(self.tools, "tool")
        name = self.rng.choice([*BAD_NAMES, [tool.name], {"name": tool.name}])
        return name, self.plausible(tool, db)

    def _gold_mutated(self, db: dict) -> Call:
        name, args = self.rng.choice(self.gold)
        return name, self.mutate(self.domain.tools.get(name), args, db)

    def _gold_nudged(self, db: dict) -> Call:
        """A gold call with one value moved within its bounds, or another real id: passes the
        argument checks and reaches preconditions, effects and invariants (late refusals)."""
        name, args = self.rng.choice(self.gold)
        return name, self.mutate(self.domain.tools.get(name), args, db, valid=True)

    def _gold_repeat(self, db: dict) -> Call:
        name, args = self.rng.choice(self.gold)
        return name, dict(args)

    def _gold_shuffled(self, db: dict) -> Call:
        name, args = self._turn(self.shuffled, "shuffled")
        return name, dict(args)


# ----------------------------------------------------------------------------- playing


class Probe:
    """One Environment, every call checked against the invariants."""

    def __init__(self, domain: Domain, task: Task, report: FuzzReport):
        self.domain, self.task, self.report = domain, task, report
        self.env = Environment(domain, task)
        self.changed = False  # did the last call change the database or the id counters
        self.known, errors = record_problems(domain, self.env.runtime.db)  # the initial db's own
        for e in errors:
            self.find("(initial database)", None, "checker_error", e)

    @property
    def db(self) -> dict:
        return self.env.runtime.db

    @property
    def faults(self) -> list:
        """Bugs the environment caught itself and answered as errors (if it keeps such a list)."""
        return list(getattr(self.env, "faults", None) or ())

    def find(self, name: Any, arguments: Any, category: str, detail: str, shown: Optional[str] = None) -> None:
        """Record a finding; `shown` replaces the rendering of `arguments` when given."""
        plain = isinstance(name, str) and name.replace(".", "_").isidentifier() and name.isascii() and len(name) < 80
        call = name if plain else safe_repr(name)
        args = shown if shown is not None else safe_repr(arguments, 240)
        self.report.add(Finding(self.domain.name, self.task.id, call, args, category, clean_text(detail)))

    def call(self, name: Any, arguments: Any) -> Optional[str]:
        """Play one call; its answer, or None when it raised or was not text."""
        runtime = self.env.runtime
        before, before_created = snapshot(runtime.db), dict(runtime.created)
        faults_before = len(self.faults)
        self.report.calls += 1
        try:
            result: Any = self.env.call(name, arguments)
            raised = None
        except Exception as e:  # noqa: BLE001 - exactly the bug class looked for: it must not escape
            result, raised = None, e
        changed_db, moved = not same(before, runtime.db), counter_moves(before_created, runtime.created)
        self.changed = changed_db or bool(moved)
        if raised is not None:
            self.find(name, arguments, "exception", describe_exception(raised))
            self._check_unchanged(name, arguments, changed_db, moved, f"raised {type(raised).__name__}")
            return None
        for fault in self.faults[faults_before:]:  # an exception Environment.call caught and turned into an error
            self.find(name, arguments, "exception", "caught inside Environment.call: " + clean_text(str(fault), 300))
        if not isinstance(result, str):
            self.find(name, arguments, "not_text", f"returned a {type(result).__name__}: {safe_repr(result)}")
            return None
        bad_text = _unencodable(result)
        if bad_text:  # a harness cannot send it on to a model
            self.find(name, arguments, "not_text", f"the answer is {bad_text}")
        if result.startswith(ERROR_PREFIX):
            self.report.refused += 1
            self._check_unchanged(name, arguments, changed_db, moved, f"answered {clean_text(result, 120)!r}")
            return result
        self.report.accepted += 1
        for why in argument_violations(self.domain, name, arguments, before or {}):
            self.find(name, arguments, "out_of_bounds_accepted", f"{why} (answer: {clean_text(result, 80)})")
        if changed_db:
            self._check_records(name, arguments)
        return result

    def _check_unchanged(self, name: Any, arguments: Any, changed_db: bool, moved: str, how: str) -> None:
        """A failed call (refused, or raising) must leave the database and the id counters as they were."""
        if changed_db or moved:
            what = "; ".join(x for x in ("the database changed" if changed_db else "", moved) if x)
            self.find(name, arguments, "changed_after_error", f"{what}; the call {how}")

    def _check_records(self, name: Any, arguments: Any) -> None:
        """After a write: problems of the database that were not there before it."""
        try:
            problems, errors = record_problems(self.domain, self.db)
        except Exception as e:  # noqa: BLE001 - the fuzzer records whatever fails, it must not fail itself
            self.find(name, arguments, "checker_error", "record check failed: " + describe_exception(e))
            return
        new = sorted(problems - self.known)
        self.known |= problems
        for p in new[:3]:
            more = f" (+{len(new) - 3} more)" if len(new) > 3 else ""
            self.find(name, arguments, "bad_record_after_write", p + more)
        for e in errors[:1]:
            self.find(name, arguments, "checker_error", e)

    def check_score(self) -> None:
        """After the calls: the episode must still be scorable and its database JSON."""
        for what, on, fn in (("env.score", "", self.env.score),
                             ("json.dumps", "db", lambda: json.dumps(self.db, allow_nan=False))):
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - the fuzzer records whatever fails, it must not fail itself
                self.find(what, None, "score_raises", describe_exception(e), shown=on)

    def hash(self) -> Optional[str]:
        try:
            return db_hash(self.db)
        except Exception:  # noqa: BLE001 - the fuzzer records whatever fails, it must not fail itself
            return None  # reported by check_score


def _gold_hash(domain: Domain, task: Task, report: FuzzReport, probe: Optional[Probe] = None) -> Optional[str]:
    """Hash of the database after the gold actions (on `probe`, else on a fresh environment)."""
    probe = probe or Probe(domain, task, report)
    for g in task.gold_actions:
        probe.call(g.name, dict(g.arguments))
    return probe.hash()


def _failed(answer: Optional[str]) -> bool:
    """Refused, or raised (a harness catching the exception would carry on with the episode)."""
    return answer is None or answer.startswith(ERROR_PREFIX)


def _replay_failures(domain: Domain, task: Task, report: FuzzReport, failed: list[Call]) -> Probe:
    """A fresh environment on which exactly the calls in `failed` were played, each failing. A
    call that passes now (it failed only because of an accepted call before it) is dropped from
    `failed` and the replay starts over."""
    while True:
        probe = Probe(domain, task, report)
        passed = next((i for i, c in enumerate(failed) if not _failed(probe.call(*c))), None)
        if passed is None:
            return probe
        del failed[passed]


def check_gold_after_errors(domain: Domain, task: Task, maker: CallMaker, report: FuzzReport) -> None:
    """Failed calls must leave no trace: after 20 of them on one environment (an accepted call
    that changed the state restarts it with only the failed ones), the gold actions give the
    same final database as on a fresh environment - ids of created records included."""
    if not task.gold_actions:
        return
    expected = _gold_hash(domain, task, report)
    probe, failed = Probe(domain, task, report), []
    for _ in range(GOLD_CHECK_ATTEMPTS):
        if len(failed) >= GOLD_CHECK_FAILED_CALLS:
            break
        call = maker.next(probe.db, GOLD_CHECK_STRATEGIES)
        if _failed(probe.call(*call)):
            failed.append(call)
        elif probe.changed:
            probe = _replay_failures(domain, task, report, failed)
        # else: accepted, but state and counters as before (a read): it leaves nothing to undo
    if len(failed) < GOLD_CHECK_FAILED_CALLS:
        return
    report.gold_checks += 1
    fresh, counters = dict(Environment(domain, task).runtime.created), dict(probe.env.runtime.created)
    got = _gold_hash(domain, task, report, probe)
    if expected is not None and got != expected:
        end = "another database" if got is not None else "a database that cannot be hashed"
        detail = (f"after {len(failed)} failed calls the gold actions end in {end}; "
                  f"{counter_moves(fresh, counters) or 'id counters unchanged'}")
        names = ", ".join(n if isinstance(n, str) else safe_repr(n) for n, _ in failed)
        probe.find("gold_replay_after", None, "gold_broken_by_errors", detail, shown=clean_text(names, 240))


def fuzz_tasks(domain: Domain, tasks: Iterable[Union[Task, dict]], calls_per_task: int, seed: int,
               gold_check: bool = True) -> FuzzReport:
    """Play `calls_per_task` hostile calls on a fresh Environment per task, check every
    invariant after each, then the score, then the gold actions after failed calls."""
    report = FuzzReport(domain.name)
    for raw in tasks:
        task = raw if isinstance(raw, Task) else Task.model_validate(raw)
        rng = random.Random(f"{seed}/{domain.name}/{task.id}")
        maker = CallMaker(domain, task, rng)
        probe = Probe(domain, task, report)
        for _ in range(calls_per_task):
            probe.call(*maker.next(probe.db))
        probe.check_score()
        if gold_check:
            check_gold_after_errors(domain, task, maker, report)
        report.tasks += 1
    return report
