"""Load a spec from a file or a shipped name, with located, plain-language errors.

`load_domain("airline")` finds the shipped spec; `load_domain("path/to/x.yaml")` reads a file.
Shape errors from pydantic are translated into sentences that point at the offending key and
say what to write; meaning errors come from `domain.build_domain`.
"""

from __future__ import annotations

import types as _pytypes
import typing
from pathlib import Path
from typing import Any, Optional, Union

from pydantic import BaseModel, ValidationError

from .. import registry
from .build import build_domain
from .model import Domain
from .typecheck import did_you_mean, suggest
from ..errors import EnvsynthError, SpecError, SpecErrors
from .shape import Spec
from .source import SourceMap, load as load_yaml, read_text

KEY_HINTS = {
    "domain": "name the domain, e.g. 'domain: airline'",
    "today": "the date tasks happen on, e.g. 'today: 2026-11-25'",
    "actor": "the entity of the person talking to the agent, e.g. 'actor: user'",
    "entities": "describe the records under 'entities:'",
    "tools": "describe the agent's tools under 'tools:'",
    "fields": "list the entity's fields under 'fields:'",
    "kind": "write 'kind: read' or 'kind: write'",
    "description": "one sentence an agent reads to decide when to call the tool",
    "type": "one of int, money, str, enum, bool, date, datetime, time, ref",
    "check": "the condition, e.g. 'check: \"flight.seats > 0\"'",
    "by": "the field to rank by, e.g. 'by: price'",
    "list": "the entity to list, e.g. 'list: reservation'",
}


def _unwrap(ann: Any) -> Any:
    origin = typing.get_origin(ann)
    if origin in (Union, _pytypes.UnionType):
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        if models:
            return models[0]
        return args[0] if args else ann
    return ann


def _model_at(loc: tuple) -> Optional[type[BaseModel]]:
    """The pydantic model that validates the mapping at `loc` (for 'allowed keys' hints)."""
    cur: Any = Spec
    for step in loc:
        cur = _unwrap(cur)
        if isinstance(cur, type) and issubclass(cur, BaseModel):
            fld = None
            for name, f in cur.model_fields.items():
                if step in (name, f.alias):
                    fld = f
            if fld is None:
                return None
            cur = fld.annotation
            continue
        origin = typing.get_origin(cur)
        if origin in (dict, list):
            cur = typing.get_args(cur)[-1]
            continue
        return None
    cur = _unwrap(cur)
    return cur if isinstance(cur, type) and issubclass(cur, BaseModel) else None


def _keys_of(model: type[BaseModel]) -> list[str]:
    return [f.alias or n for n, f in model.model_fields.items()]


def _where(loc: tuple) -> str:
    """'tool book_flight', 'field price of entity flight', ... for messages."""
    names = {"entities": "entity", "tools": "tool", "fields": "field", "args": "argument",
             "refer": "reference", "pools": "pool", "let": "let", "include": "included list"}
    parts = []
    i = 0
    while i < len(loc):
        step = loc[i]
        if isinstance(step, str) and step in names and i + 1 < len(loc):
            parts.append(f"{names[step]} '{loc[i + 1]}'")
            i += 2
            continue
        if isinstance(step, int):
            parts.append(f"item {step + 1}")
        else:
            parts.append(f"'{step}'")
        i += 1
    return " of ".join(reversed(parts)) if parts else "the top level"


def _translate(e: ValidationError, smap: SourceMap) -> list[SpecError]:
    out: list[SpecError] = []
    seen: set[tuple] = set()
    errors = e.errors()
    # a misspelled required key shows up twice (unknown 'feilds', missing 'fields'): keep one
    extra = {(tuple(x["loc"][:-1]), str(x["loc"][-1])) for x in errors if x["type"] == "extra_forbidden"}
    explained = set()
    for parent, key in extra:
        model = _model_at(parent)


        s = suggest(key, _keys_of(model)) if model else ""
        if s:
            explained.add(parent + (s,))
    errors = [x for x in errors if not (x["type"] == "missing" and tuple(x["loc"]) in explained)]
    fieldish = {}
    for x in errors:
        if x["type"] == "extra_forbidden" and isinstance(x.get("input"), dict) and "type" in x["input"]:
            fieldish.setdefault(tuple(x["loc"][:-1]), x)
    errors = [x for x in errors
              if not (x["type"] == "extra_forbidden" and tuple(x["loc"][:-1]) in fieldish
                      and fieldish[tuple(x["loc"][:-1])] is not x)
              and not (x["type"] == "missing" and tuple(x["loc"][:-1]) in fieldish and x["loc"][-1] == "fields")]
    for err in errors:
        loc = tuple(err["loc"])
        typ = err["type"]
        # union members report one error each; keep the first per location
        base_loc = tuple(x for x in loc if x not in ("bool", "int", "float", "str", "function-before[_from_str(), RequireSpec]"))
        base_loc = tuple(x for x in base_loc if not (isinstance(x, str) and x.startswith("function-")))
        if base_loc in seen:
            continue
        seen.add(base_loc)
        loc = base_loc
        value = err.get("input")
        key = loc[-1] if loc else ""
        subject = (f"item {key + 1} of {_where(loc[:-1])}" if isinstance(key, int)
                   else f"'{key}' in {_where(loc[:-1])}")
        if typ == "extra_forbidden":
            model = _model_at(loc[:-1])
            allowed = _keys_of(model) if model else []
            hint = did_you_mean(str(key), allowed, "allowed here")
            if model is not None and model.__name__ == "EntitySpec" and isinstance(value, dict) and "type" in value:
                hint = "these look like fields: put them under 'fields:'"
            elif model is not None and model.__name__ == "ArgSpec" and key == "entity":
                arg = loc[-2]
                hint = f"an id argument is written '{arg}: {{ref: {value}}}'"
            if " " in str(key) or value is None:
                hint = ("this looks like the rest of a text cut at a comma inside { }: "
                        "put the whole text in quotes") if " " in str(key) else hint
            msg = f"unknown key '{key}' in {_where(loc[:-1])}"
            pos = smap.pos(loc, key=True)
        elif typ == "missing":
            msg = f"{_where(loc[:-1])} is missing '{key}'"
            hint = KEY_HINTS.get(str(key), f"add '{key}: ...'")
            pos = smap.pos(loc[:-1], key=True)
        elif typ == "literal_error":
            expected = err.get("ctx", {}).get("expected", "")
            msg = f"{value!r} is not allowed for '{key}' in {_where(loc[:-1])}"
            s = did_you_mean(str(value), [x.strip(" '") for x in expected.replace(" or ", ",").split(",")], "expected")
            hint = s or f"expected {expected}"
            pos = smap.pos(loc)
        elif typ in ("dict_type", "model_type", "model_attributes_type"):
            pos = smap.pos(loc)
            if not loc:
                msg, hint = "the spec should be a block of 'key: value' lines", "start with 'domain: <name>'"
            elif isinstance(value, list):
                msg = f"{subject} should be 'name: ...' lines, not a list"
                hint = "remove the '- ' in front of each entry"
            elif isinstance(value, str) and "fields" in loc and value in ("int", "money", "str", "enum", "bool",
                                                                           "date", "datetime", "time", "ref"):
                extra = {"enum": ", values: [...]", "str": ", pool: <pool>", "ref": ", entity: <entity>"}.get(
                    value, ", min: ..., max: ...")
                msg = f"{subject} should say its type as a block, not just '{value}'"
                hint = f"write {key}: {{type: {value}{extra}}}"
            elif isinstance(value, str) and key == "returns":
                msg = f"{subject} should say what it returns, not just '{value}'"
                hint = f"write 'returns: {{record: {value}}}' (or list:, find:, value:)"
            else:
                msg = f"{subject} should be a block of 'key: value' lines, not {value!r}"
                hint = "indent the entries under it"
        elif typ == "list_type":
            msg = f"'{key}' in {_where(loc[:-1])} should be a list, not {value!r}"
            hint = "write a '- item' per line, or [a, b, c]"
            pos = smap.pos(loc)
        elif typ in ("greater_than_equal", "less_than_equal"):
            msg = f"'{key}' in {_where(loc[:-1])}: {err['msg'].lower()}"
            hint = ""
            pos = smap.pos(loc)
        else:
            what = {"string_type": "text", "int_type": "a whole number", "bool_type": "true or false",
                    "int_parsing": "a whole number", "bool_parsing": "true or false",
                    "float_type": "a number"}.get(typ, err["msg"].lower())
            msg = f"{subject} should be {what}, not {value!r}"
            hint = (f'write "{value}" in quotes' if typ == "string_type" and isinstance(value, (int, float))
                    else "quote text values" if typ == "string_type" else "")
            if key == "today" and typ == "string_type":
                hint = "write the date as YYYY-MM-DD, e.g. today: 2026-11-25"
            pos = smap.pos(loc)
        out.append(SpecError(msg, smap.file, pos.line, pos.col, hint, source_line=smap.line_text(pos.line)))
    return out


GAP_HINTS = {
    "requires": "write when the call is allowed, e.g. check: 'order.status == \"pending\"', with an "
                "error: message saying why it is refused",
    "effects": "write what the call changes, e.g. 'order.status = \"cancelled\"' or "
               "'account.balance -= amount' (read tools have no effects)",
    "min": "give the smallest realistic value",
    "max": "give the largest realistic value",
    "pool": "name a list of realistic values under 'pools:' and refer to it here",
    "values": "list the allowed values, e.g. [open, closed]",
    "kind": "write 'read' (looks things up) or 'write' (changes something)",
    "refer": "say how a user names a record: {id: true}, or a filter of fields they state",
    "returns": "say what the tool returns: {record: var}, {list: entity, where: ...} or {value: expr}",
    "where": "write the condition a listed record satisfies, e.g. 'pet.status == status'",
    "entity": "name the entity this id refers to",
    "type": "one of int, money, str, enum, bool, date, datetime, time, ref",
    "create_values": "the value the new record gets for this field: an argument, 'today', a constant "
                     "(e.g. active), or remove the field here and give it a 'default:'",
    "pool_values": "list realistic values, e.g. [Ava, Liam, Noah] (tasks draw names and labels from them)",
    "format": "how to build the text from other fields, e.g. '{first_name}.{last_name}{n}@example.com' "
              "({n} keeps it unique)",
}


def find_gaps(data: Any, smap: SourceMap, path: tuple = ()) -> list[SpecError]:
    """Values an importer or scaffold left as 'TODO ...': each a located error saying what to write."""
    out: list[SpecError] = []
    if isinstance(data, dict):
        for k, v in data.items():
            out += find_gaps(v, smap, path + (k,))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += find_gaps(v, smap, path + (i,))
    elif isinstance(data, str) and data.strip().upper().startswith("TODO"):
        key = next((p for p in reversed(path) if isinstance(p, str) and p in GAP_HINTS), "")
        if "effects" in path and "values" in path:
            key = "create_values"
        elif path and path[0] == "pools":
            key = "pool_values"
        elif "format" in path:
            key = "format"
        note = data.strip()[4:].lstrip(" :-")
        pos = smap.pos(path)
        msg = f"gap to fill in {_where(path[:-1]) if path else 'the spec'}" + (f": {note}" if note else "")
        out.append(SpecError(msg, smap.file, pos.line, pos.col, GAP_HINTS.get(key, "replace the TODO with a value"),
                             source_line=smap.line_text(pos.line)))
    return out


def parse_spec_text(text: str, file: str = "<spec>") -> Domain:
    """Parse and check spec text; raises SpecErrors (located) on any mistake."""
    try:
        data, smap = load_yaml(text, file)
    except SpecError as e:
        e.source_line = e.source_line or (text.splitlines()[e.line - 1] if 0 < e.line <= len(text.splitlines()) else "")
        raise SpecErrors([e]) from None
    if not isinstance(data, dict):
        raise SpecErrors([SpecError("the spec should be a block of 'key: value' lines", file, 1, 1,
                                    "start with 'domain: <name>'")])
    gaps = find_gaps(data, smap)
    if gaps:
        raise SpecErrors(gaps)
    try:
        spec = Spec.model_validate(data)
    except ValidationError as e:
        raise SpecErrors(_translate(e, smap)) from None
    return build_domain(spec, smap, file, text)


def resolve_spec_path(spec: Union[str, Path]) -> Path:
    """A path to a spec file, or the name of a shipped spec ('airline')."""
    p = Path(spec)
    if p.is_file():
        return p
    if p.suffix in (".yaml", ".yml"):
        raise EnvsynthError(f"no spec file at {p}")
    # a directory (say, a dataset generated into ./airline) is never a spec: try the shipped name
    shipped = registry.shipped_spec(str(spec))
    if shipped is not None:
        return shipped
    if p.is_dir():
        specs = sorted(p.glob("*.yaml"))
        hint = f" (it holds {', '.join(x.name for x in specs[:3])})" if specs else ""
        raise EnvsynthError(f"'{spec}' is a directory, not a spec file{hint}; give the path of the YAML file")
    names = registry.shipped_names()
    raise EnvsynthError(
        f"'{spec}' is neither a spec file nor a shipped spec. " + did_you_mean(str(spec), names, "shipped specs")
    )


def load_domain(spec: Union[str, Path]) -> Domain:
    """Load and check a spec by file path or shipped name. Raises SpecErrors / EnvsynthError."""
    path = resolve_spec_path(spec)
    return parse_spec_text(read_text(path, "spec"), str(path))
