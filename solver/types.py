"""Value types of the spec language and their codecs.

Every value has two forms: the JSON form stored in databases, tool arguments and task files
("2026-12-03", 129.99, "booked") and an internal form the back-ends compute with (day number,
integer cents, the string). Numbers are exact: money is integer minor units everywhere, so the
runtime and Z3 agree to the cent.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Optional

ORDERED_KINDS = {"int", "money", "date", "datetime"}
NUMERIC_KINDS = {"int", "money"}


@dataclass(frozen=True)
class VType:
    """A value type. `kind` is one of int, money, date, datetime, bool, enum, str, ref."""

    kind: str
    values: tuple[str, ...] = ()  # enum values, or the pool's values for a pooled str
    pool: Optional[str] = None  # name of the value pool (str)
    entity: Optional[str] = None  # target entity (ref)
    places: int = 0  # decimal places (money)
    lo: Optional[int] = None  # internal-form bounds
    hi: Optional[int] = None

    def describe(self) -> str:
        if self.kind == "enum":
            return "enum (" + ", ".join(self.values) + ")"
        if self.kind == "ref":
            return f"a {self.entity} record"
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

EPOCH_MINUTES_PER_DAY = 24 * 60


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


def human_date(days: int) -> str:
    """'December 3, 2026' - how a person says a date."""
    d = _dt.date.fromordinal(days)
    return f"{d.strftime('%B')} {d.day}, {d.year}"


# ----------------------------------------------------------------------------- codecs


class ValueError_(ValueError):
    """A JSON value that does not fit its declared type (message is user-facing)."""


def decode(t: VType, value: Any) -> Any:
    """JSON form -> internal form. Raises ValueError_ with a plain message."""
    k = t.kind
    if k == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ValueError_(f"expected a whole number, got {value!r}")
        return value
    if k == "money":
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError_(f"expected an amount such as 12.50, got {value!r}")
        try:
            d = Decimal(str(value))
        except InvalidOperation:
            raise ValueError_(f"expected an amount such as 12.50, got {value!r}") from None
        scaled = d * (10**t.places)
        if scaled != scaled.to_integral_value():
            raise ValueError_(f"{value!r} has more than {t.places} decimal places")
        return int(scaled)
    if k == "date":
        if not isinstance(value, str):
            raise ValueError_(f"expected a date as \"YYYY-MM-DD\", got {value!r}")
        try:
            return parse_date(value)
        except ValueError:
            raise ValueError_(f"expected a date as \"YYYY-MM-DD\", got {value!r}") from None
    if k == "datetime":
        if not isinstance(value, str):
            raise ValueError_(f"expected a date-time as \"YYYY-MM-DDTHH:MM\", got {value!r}")
        try:
            return parse_datetime(value)
        except ValueError:
            raise ValueError_(f"expected a date-time as \"YYYY-MM-DDTHH:MM\", got {value!r}") from None
    if k == "bool":
        if not isinstance(value, bool):
            raise ValueError_(f"expected true or false, got {value!r}")
        return value
    if k == "enum":
        if value not in t.values:
            raise ValueError_(f"expected one of {', '.join(t.values)}; got {value!r}")
        return value
    if k in ("str", "ref"):
        if not isinstance(value, str):
            raise ValueError_(f"expected a string, got {value!r}")
        return value
    raise AssertionError(k)


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
    if k == "bool":
        return "yes" if value else "no"
    return str(value)


def parse_bound(t: VType, raw: Any) -> int:
    """A spec bound (min/max) in JSON form -> internal form."""
    return decode(t, raw.isoformat() if isinstance(raw, (_dt.date, _dt.datetime)) else raw)


def json_schema(t: VType) -> dict:
    """JSON Schema of a tool argument of this type (OpenAI function format)."""
    k = t.kind
    if k == "int":
        s: dict = {"type": "integer"}
    elif k == "money":
        s = {"type": "number"}
    elif k == "date":
        s = {"type": "string", "description": "date as YYYY-MM-DD"}
    elif k == "datetime":
        s = {"type": "string", "description": "date and time as YYYY-MM-DDTHH:MM"}
    elif k == "bool":
        s = {"type": "boolean"}
    elif k == "enum":
        s = {"type": "string", "enum": list(t.values)}
    elif k == "ref":
        s = {"type": "string", "description": f"id of a {t.entity}"}
    else:
        s = {"type": "string"}
    return s
