"""Value types of the spec language and their codecs.

Every value has two forms: the JSON form stored in databases, tool arguments and task files
("2026-12-03", 129.99, "booked") and an internal form the back-ends compute with (day number,
integer cents, the string). Numbers are exact: money is integer minor units everywhere, so the
runtime and Z3 agree to the cent.
"""

from __future__ import annotations

import datetime as _dt
import random
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Optional

ORDERED_KINDS = {"int", "money", "date", "datetime", "time", "duration"}
NUMERIC_KINDS = {"int", "money"}
BOUNDED_KINDS = {"int", "money", "date", "datetime", "time"}  # field kinds with [min, max]
MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True)
class VType:
    """A value type. `kind` is one of int, money, date, datetime, time, bool, enum, str, ref, or
    duration (expressions only: minutes, like the difference of two datetimes)."""

    kind: str
    values: tuple[str, ...] = ()  # enum values, or the pool's values for a pooled str
    pool: Optional[str] = None  # name of the value pool (str)
    entity: Optional[str] = None  # target entity (ref)
    places: int = 0  # decimal places (money)
    lo: Optional[int] = None  # internal-form bounds
    hi: Optional[int] = None
    nullable: bool = False  # ref: the link may be empty (`null`)

    def describe(self) -> str:
        if self.kind == "enum":
            return "enum (" + ", ".join(self.values) + ")"
        if self.kind == "ref":
            return f"a {self.entity} record" + (" or null" if self.nullable else "")
        if self.kind == "null":
            return "null"
        if self.kind == "str" and self.pool:
            return f"str (pool {self.pool})"
        return self.kind

    @property
    def ordered(self) -> bool:
        return self.kind in ORDERED_KINDS

    @property
    def scale(self) -> int:
        return 10**self.places if self.kind == "money" else 1


STRLIT = VType("strlit")  # a string literal whose type is fixed by what it is compared with
BOOL = VType("bool")
INT = VType("int")
DATE = VType("date")
DATETIME = VType("datetime")
NULL = VType("null")  # the `null` literal: no record (only a nullable ref can hold it)
TIME = VType("time", lo=0, hi=MINUTES_PER_DAY - 1)  # minutes after midnight
DURATION = VType("duration")  # minutes, possibly negative


def money(places: int = 2) -> VType:
    return VType("money", places=places)


def same_kind(a: VType, b: VType) -> bool:
    if a.kind != b.kind:
        return False
    if a.kind == "ref":
        return a.entity == b.entity
    if a.kind == "money":
        return a.places == b.places
    return True


# ----------------------------------------------------------------------------- dates

EPOCH_MINUTES_PER_DAY = MINUTES_PER_DAY
DURATION_UNITS = {"minutes": 1, "hours": 60, "days": MINUTES_PER_DAY}  # minutes(n), hours(n), days(n)


def parse_date(text: str) -> int:
    return _dt.date.fromisoformat(str(text)).toordinal()


def format_date(days: int) -> str:
    return _dt.date.fromordinal(days).isoformat()


def parse_datetime(text: str) -> int:
    d = _dt.datetime.fromisoformat(str(text))
    return d.date().toordinal() * EPOCH_MINUTES_PER_DAY + d.hour * 60 + d.minute


def format_datetime(minutes: int) -> str:
    day, rest = divmod(minutes, EPOCH_MINUTES_PER_DAY)
    d = _dt.date.fromordinal(day)
    return f"{d.isoformat()}T{rest // 60:02d}:{rest % 60:02d}"


_TIME_RE = re.compile(r"(\d{2}):(\d{2})")


def parse_time(text: str) -> int:
    """"14:30" -> 870 (minutes after midnight); ValueError otherwise."""
    m = _TIME_RE.fullmatch(str(text))
    if m is None:
        raise ValueError("a time of day is written HH:MM, e.g. 14:30")
    hour, minute = int(m.group(1)), int(m.group(2))
    if hour > 23 or minute > 59:
        raise ValueError("a time of day is between 00:00 and 23:59")
    return hour * 60 + minute


def format_time(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def human_date(days: int) -> str:
    """'December 3, 2026' - how a person says a date."""
    d = _dt.date.fromordinal(days)
    return f"{d.strftime('%B')} {d.day}, {d.year}"


# ----------------------------------------------------------------------------- codecs


class ValueError_(ValueError):
    """A JSON value that does not fit its declared type (message is user-facing)."""


MAX_TEXT = 2000  # longest text value a tool argument or a stored field may hold
MAX_MAGNITUDE = 10**15  # no number in a spec's domain comes near this; beyond it is garbage
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME_RE = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2})(?::00)?")


def show(value: Any, limit: int = 60) -> str:
    """A short, safe rendering of any JSON-ish value for an error message: never calls repr() on
    what could be huge (ints over 4,300 digits raise, deep lists recurse)."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        if abs(value) >= 10**40:
            digits = int(value.bit_length() * 0.30103) + 1
            return f"a number with about {digits} digits"
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        text = value if len(value) <= limit else value[:limit] + f"... ({len(value)} characters)"
        return ascii(text) if not is_unicode(text) else repr(text)
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def _number(value: Any, what: str) -> Decimal:
    """A finite JSON number (or numeric text) as a Decimal, refusing NaN, infinities and values so
    large they cannot be an amount or a count."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError_(f"expected {what}, got {show(value)}")
    if isinstance(value, int):
        if abs(value) > MAX_MAGNITUDE:
            raise ValueError_(f"{show(value)} is far out of range")
        return Decimal(value)
    if isinstance(value, str):
        if len(value) > 40:
            raise ValueError_(f"expected {what}, got {show(value)}")
        try:
            d = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError_(f"expected {what}, got {show(value)}") from None
    else:
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError_(f"expected {what}, got {show(value)}")
        d = Decimal(repr(value))
    if not d.is_finite():
        raise ValueError_(f"expected {what}, got {show(value)}")
    if d.adjusted() > 15:
        raise ValueError_(f"{show(value)} is far out of range")
    return d


def decode(t: VType, value: Any) -> Any:
    """JSON form -> internal form. Raises ValueError_ with a plain message; never anything else,
    whatever the input (bounds are `check_range`'s job)."""
    k = t.kind
    if k == "int":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError_(f"expected a whole number, got {show(value)}")
        d = _number(value, "a whole number")
        if d != d.to_integral_value():
            raise ValueError_(f"expected a whole number, got {show(value)}")
        return int(d)
    if k == "money":
        d = _number(value, "an amount such as 12.50")
        scaled = d.scaleb(t.places)
        if scaled != scaled.to_integral_value():
            raise ValueError_(f"{show(value)} has more than {t.places} decimal places")
        return int(scaled)
    if k == "date":
        if not isinstance(value, str) or not _DATE_RE.fullmatch(value):
            raise ValueError_(f"expected a date as \"YYYY-MM-DD\", got {show(value)}")
        try:
            return parse_date(value)
        except ValueError:
            raise ValueError_(f"{show(value)} is not a real date") from None
    if k == "datetime":
        m = _DATETIME_RE.fullmatch(value) if isinstance(value, str) else None
        if m is None:
            raise ValueError_(f"expected a date-time as \"YYYY-MM-DDTHH:MM\", got {show(value)}")
        try:
            day = parse_date(m.group(1))
        except ValueError:
            raise ValueError_(f"{show(value)} is not a real date") from None
        hour, minute = int(m.group(2)), int(m.group(3))
        if hour > 23 or minute > 59:
            raise ValueError_(f"{show(value)} is not a real time of day")
        return day * EPOCH_MINUTES_PER_DAY + hour * 60 + minute
    if k == "time":
        if not isinstance(value, str):
            raise ValueError_(f"expected a time of day as \"HH:MM\", got {show(value)}")
        try:
            return parse_time(value)
        except ValueError:
            raise ValueError_(f"expected a time of day as \"HH:MM\" (00:00 to 23:59), got {show(value)}") from None
    if k == "bool":
        if not isinstance(value, bool):
            raise ValueError_(f"expected true or false, got {show(value)}")
        return value
    if k == "enum":
        if not isinstance(value, str) or value not in t.values:
            raise ValueError_(f"expected one of {', '.join(t.values)}; got {show(value)}")
        return value
    if k in ("str", "ref"):
        if not isinstance(value, str):
            raise ValueError_(f"expected a string, got {show(value)}")
        if len(value) > MAX_TEXT:
            raise ValueError_(f"the text is too long ({len(value)} characters; at most {MAX_TEXT})")
        if not is_unicode(value):
            raise ValueError_("the text is not valid Unicode (it holds a lone surrogate)")
        return value
    raise AssertionError(k)


def is_unicode(text: str) -> bool:
    """Text that can be written as UTF-8 (JSON's "\\ud800" decodes to a lone surrogate, which
    cannot): storing it would make the database unhashable and every later answer unsendable."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_range(t: VType, value: Any) -> Optional[str]:
    """Why an internal value lies outside its type's [min, max] (in the JSON form a user reads),
    or None when it is inside (or the type has no bounds)."""
    if t.kind not in ORDERED_KINDS or isinstance(value, bool):
        return None
    if t.lo is not None and value < t.lo:
        return f"below the minimum {to_text(t, t.lo)}"
    if t.hi is not None and value > t.hi:
        return f"above the maximum {to_text(t, t.hi)}"
    return None


def encode(t: VType, value: Any) -> Any:
    """Internal form -> JSON form."""
    k = t.kind
    if k == "money":
        if t.places == 0:
            return int(value)
        q = Decimal(int(value)).scaleb(-t.places)
        f = float(q)
        return int(f) if f.is_integer() else f
    if k == "date":
        return format_date(value)
    if k == "datetime":
        return format_datetime(value)
    if k == "time":
        return format_time(value)
    return value


def to_text(t: VType, value: Any) -> str:
    """Internal form -> the canonical text an agent is expected to say (answers)."""
    k = t.kind
    if k == "money":
        if t.places == 0:
            return str(int(value))
        return f"{Decimal(int(value)).scaleb(-t.places):.{t.places}f}"
    if k == "date":
        return format_date(value)
    if k == "datetime":
        return format_datetime(value).replace("T", " ")
    if k == "time":
        return format_time(value)
    if k == "duration":
        return f"{value} minutes"
    if k == "bool":
        return "yes" if value else "no"
    return str(value)


def parse_bound(t: VType, raw: Any) -> int:
    """A spec bound (min/max) in JSON form -> internal form."""
    if t.kind == "time" and isinstance(raw, int) and not isinstance(raw, bool):
        raise ValueError_(f"write the time in quotes as \"HH:MM\", e.g. \"{raw // 60:02d}:{raw % 60:02d}\"")
    return decode(t, raw.isoformat() if isinstance(raw, (_dt.date, _dt.datetime)) else raw)


def json_schema(t: VType) -> dict:
    """JSON Schema of a tool argument of this type (OpenAI function format), bounds included:
    the schema an agent reads is the check the runtime makes."""
    k = t.kind
    if k == "int":
        s: dict = {"type": "integer"}
    elif k == "money":
        s = {"type": "number"}
    elif k == "date":
        s = {"type": "string", "description": "date as YYYY-MM-DD"}
    elif k == "datetime":
        s = {"type": "string", "description": "date and time as YYYY-MM-DDTHH:MM"}
    elif k == "time":
        s = {"type": "string", "description": "time of day as HH:MM"}
    elif k == "bool":
        s = {"type": "boolean"}
    elif k == "enum":
        s = {"type": "string", "enum": list(t.values)}
    elif k == "ref":
        s = {"type": "string", "description": f"id of a {t.entity}"}
    else:
        s = {"type": "string"}
    if k in ("int", "money"):
        if t.lo is not None:
            s["minimum"] = encode(t, t.lo)
        if t.hi is not None:
            s["maximum"] = encode(t, t.hi)
    elif k in ("date", "datetime", "time") and t.lo is not None and t.hi is not None:
        s["description"] += f", from {encode(t, t.lo)} to {encode(t, t.hi)}"
    return s


def sample(t: VType, rng: random.Random, typical=None) -> Any:
    """A realistic value of a type (internal form)."""
    k = t.kind
    if k in ("int", "date"):
        lo, hi = typical or (t.lo, t.hi)
        return rng.randint(lo, hi)
    if k in ("datetime", "time"):
        lo, hi = typical or (t.lo, t.hi)
        v = rng.randint(lo, hi)
        return max(t.lo, min(t.hi, v - v % 15))
    if k == "money":
        lo, hi = typical or (t.lo, t.hi)
        scale = t.scale
        units = rng.randint(lo // scale, max(lo // scale, hi // scale))
        cents = rng.choice([0, 0, 0, 0, 99, 99, 50, 49, 95]) if scale > 1 else 0
        v = units * scale + (cents if scale >= 100 else 0)
        return max(t.lo, min(t.hi, v))
    if k == "bool":
        return rng.random() < 0.5
    if k in ("enum", "str"):
        return rng.choice(t.values)
    raise AssertionError(k)
