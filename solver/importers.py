"""Importers and scaffolds: from an API description (or nothing) to a spec you can finish.

`import_openapi` reads an OpenAPI 3 document, `import_functions` a list of OpenAI function schemas,
`import_mcp` an MCP server's `tools/list` result. Each infers entities and typed fields from the
schemas and tools with typed arguments, and writes what it cannot know - preconditions, effects
of non-CRUD actions, realistic value ranges and pools - as `TODO` gaps. `envsynth check` reports
every gap with its location and what to write, so the author fills them one by one.
`scaffold` writes a small commented spec and templates that already generate tasks.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Optional

import yaml

from .errors import EnvsynthError

MONEY_WORDS = ("price", "amount", "balance", "cost", "total", "fee", "salary", "payment", "charge")
ACTOR_NAMES = ("user", "customer", "member", "owner", "person", "employee", "client", "account", "patient")


def snake(name: str) -> str:
    s = re.sub(r"[^0-9A-Za-z]+", "_", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s)
    s = s.strip("_").lower()
    if not s or s[0].isdigit():
        s = "x_" + s
    return s


class _Builder:
    """Collects entities, pools and tools, then writes the spec text."""

    def __init__(self, domain: str, description: str):
        self.domain = snake(domain) or "imported"
        self.description = description.strip() or f"TODO: what the agent does in the {self.domain} domain"
        self.entities: dict[str, dict] = {}
        self.pools: dict[str, list] = {}
        self.tools: dict[str, dict] = {}
        self.notes: list[str] = []

    # -- schemas -> fields
    def field_of(self, ent: str, fname: str, schema: dict, entity_names: dict[str, str]) -> Optional[dict]:
        if schema.get("$ref"):
            target = entity_names.get(schema["$ref"].split("/")[-1])
            return {"type": "ref", "entity": target} if target else None
        t = schema.get("type")
        fmt = schema.get("format", "")
        low = fname.lower()
        if t == "array" or t == "object":
            self.notes.append(f"{ent}.{fname}: a nested {t}; envsynth models relations with a ref field on the "
                              "related entity instead")
            return None
        if schema.get("enum"):
            return {"type": "enum", "values": [str(v) for v in schema["enum"]]}
        if t == "boolean":
            return {"type": "bool"}
        if t == "integer":
            return {"type": "int", "min": schema.get("minimum", "TODO"), "max": schema.get("maximum", "TODO")}
        if t == "number":
            if not any(w in low for w in MONEY_WORDS):
                self.notes.append(f"{ent}.{fname}: a number; imported as money (2 decimals), change if needed")
            return {"type": "money", "min": schema.get("minimum", "TODO"), "max": schema.get("maximum", "TODO")}
        if t == "string":
            if fmt == "date":
                return {"type": "date", "min": "TODO", "max": "TODO"}
            if fmt == "date-time":
                return {"type": "datetime", "min": "TODO", "max": "TODO"}
            if fmt == "email" or "email" in low:
                return {"type": "str", "format": "TODO: e.g. {first_name}.{last_name}{n}@example.com", "unique": True}
            target = self.ref_target(fname, entity_names)
            if target:
                return {"type": "ref", "entity": target}
            pool = f"{ent}_{fname}"
            self.pools.setdefault(pool, ["TODO: realistic values"])
            return {"type": "str", "pool": pool}
        return None

    @staticmethod
    def ref_target(fname: str, entity_names: dict[str, str]) -> Optional[str]:
        m = re.match(r"^(.*?)_?[iI][dD]$", fname)
        if not m or not m.group(1):
            return None
        base = snake(m.group(1))
        for schema_name, ent in entity_names.items():
            if ent == base or snake(schema_name) == base:
                return ent
        return None

    def add_entity(self, name: str, schema: dict, entity_names: dict[str, str]) -> None:
        fields = {}
        for fname, fs in (schema.get("properties") or {}).items():
            f = snake(fname)
            if f == "id":
                continue
            info = self.field_of(name, f, fs, entity_names)
            if info is not None and info.get("type") == "ref" and f.endswith("_id"):
                f = f[:-3]  # a ref field names the record (loan.member), not its id
            if info is not None:
                if fs.get("description"):
                    info = {**info, "description": fs["description"]}
                fields[f] = info
        if not fields:
            fields = {"name": {"type": "str", "pool": f"{name}_name"}}
            self.pools.setdefault(f"{name}_name", ["TODO: realistic values"])
        entry: dict[str, Any] = {}
        if schema.get("description"):
            entry["description"] = schema["description"]
        entry["count"] = 10
        entry["fields"] = fields
        entry["refer"] = {"by_id": {"id": True}}
        self.entities[name] = entry

    # -- tools
    def add_tool(self, name: str, kind: str, description: str, args: dict, returns: Optional[dict],
                 requires: Optional[list], effects: Optional[list]) -> None:
        tool: dict[str, Any] = {"kind": kind, "description": description or f"TODO: what {name} does"}
        if args:
            tool["args"] = args
        if requires is not None:
            tool["requires"] = requires
        if effects is not None:
            tool["effects"] = effects
        if returns is not None:
            tool["returns"] = returns
        base, n = snake(name), 2
        key = base
        while key in self.tools:
            key = f"{base}_{n}"
            n += 1
        self.tools[key] = tool

    def actor(self) -> str:
        for want in ACTOR_NAMES:
            if want in self.entities:
                return want
        return next(iter(self.entities), "TODO")

    def text(self, source: str) -> str:
        spec: dict[str, Any] = {
            "domain": self.domain,
            "description": self.description,
            "today": "2026-11-25",
            "actor": self.actor(),
        }
        if self.pools:
            spec["pools"] = self.pools
        spec["entities"] = self.entities
        spec["tools"] = self.tools
        body = yaml.safe_dump(spec, sort_keys=False, default_flow_style=None, width=110, allow_unicode=True)
        head = [
            f"# Skeleton spec imported from {source} by `envsynth import`.",
            "# Every TODO is a gap only you can fill: preconditions, effects, realistic values.",
            "# Run `envsynth check <this file>` - it lists each gap with its line and what to write.",
            f"# The actor ({spec['actor']}) is the entity of the person talking to the agent: check it.",
        ]
        if self.notes:
            head.append("# Notes from the import:")
            head += [f"#  - {n}" for n in self.notes]
        return "\n".join(head) + "\n" + body

    def phrases(self) -> str:
        intents = {t: [f"TODO: how a user asks for this ({t}), e.g. \"Please ... {{{{ args }}}}\""]
                   for t, spec in self.tools.items() if spec["kind"] == "write"}
        data = {"intro": ["Hi, I'm {{ me.id }}."], "intents": intents}
        return ("# Phrasings for the tasks of this domain (jinja2). Replace each TODO; see docs/writing-specs.md.\n"
                + yaml.safe_dump(data, sort_keys=False, width=110, allow_unicode=True))


def _schema_entities(doc: dict) -> dict[str, str]:
    schemas = (doc.get("components") or {}).get("schemas") or {}
    return {name: snake(name) for name, s in schemas.items() if s.get("type", "object") == "object"}


def _response_schema(op: dict) -> Optional[dict]:
    for code in ("200", "201", 200, 201):
        r = (op.get("responses") or {}).get(code)
        if r:
            content = r.get("content") or {}
            for media in content.values():
                return media.get("schema")
    return None


def import_openapi(doc: dict, name: Optional[str] = None) -> tuple[str, str]:
    """(spec text, phrases text) for an OpenAPI 3 document."""
    if not isinstance(doc, dict) or "paths" not in doc:
        raise EnvsynthError("this is not an OpenAPI document: it has no 'paths'")
    info = doc.get("info") or {}
    b = _Builder(name or info.get("title", "imported"), info.get("description", ""))
    names = _schema_entities(doc)
    schemas = (doc.get("components") or {}).get("schemas") or {}
    for sname, ent in names.items():
        b.add_entity(ent, schemas[sname], names)
    for path, item in (doc.get("paths") or {}).items():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            op_name = op.get("operationId") or f"{method}_{path}"
            params = (item.get("parameters") or []) + (op.get("parameters") or [])
            args: dict[str, Any] = {}
            bound: Optional[tuple[str, str]] = None  # (var, entity) of the path id
            for p in params:
                pname = snake(p.get("name", ""))
                target = b.ref_target(pname, names)
                if p.get("in") == "path" and target:
                    args[pname] = {"ref": target}
                    bound = (pname[:-3] if pname.endswith("_id") else pname, target)
                elif p.get("in") in ("path", "query"):
                    info_ = b.field_of("args", pname, p.get("schema") or {}, names) or {"type": "str", "pool": "TODO"}
                    if info_.get("type") == "ref":
                        args[pname] = {"ref": info_["entity"]}
                    else:
                        args[pname] = info_
            body = (((op.get("requestBody") or {}).get("content") or {}).get("application/json") or {}).get("schema")
            body_props = {}
            if body:
                if "$ref" in body:
                    body = schemas.get(body["$ref"].split("/")[-1], {})
                for fname, fs in (body.get("properties") or {}).items():
                    f = snake(fname)
                    info_ = b.field_of("args", f, fs, names)
                    if info_ is None:
                        continue
                    if info_.get("type") == "ref":
                        args[f] = {"ref": info_["entity"]}
                    else:
                        args[f] = info_
                    body_props[f] = info_
            resp = _response_schema(op) or {}
            resp_ent = None
            if "$ref" in resp:
                resp_ent = names.get(resp["$ref"].split("/")[-1])
            elif resp.get("type") == "array" and "$ref" in (resp.get("items") or {}):
                resp_ent = names.get(resp["items"]["$ref"].split("/")[-1])
            desc = (op.get("summary") or op.get("description") or "").strip()
            if method == "get":
                if bound and resp.get("type") != "array":
                    b.add_tool(op_name, "read", desc, args, {"record": bound[0]}, None, None)
                else:
                    listed = resp_ent or (bound[1] if bound else "TODO")
                    fields = b.entities.get(listed, {}).get("fields", {})
                    conds = []
                    for a in list(args):
                        if a in fields and "ref" not in args[a]:
                            args[a] = {"like": f"{listed}.{a}"}  # same type as the field it filters
                            conds.append(f"{listed}.{a} == {a}")
                        elif a.endswith("_id") and a[:-3] in fields and "ref" in args[a]:
                            conds.append(f"{listed}.{a[:-3]} == {a[:-3]}")
                    where = " and ".join(conds) if conds else ("TODO: which records are listed, e.g. "
                                                                 f"'{listed}.status == status'")
                    b.add_tool(op_name, "read", desc, args, {"list": listed, "where": where}, None, None)
                continue
            requires = ["TODO: when is this allowed? (a condition, with an error message)"]
            if method == "post" and not bound and resp_ent:
                ent = resp_ent
                fields = b.entities.get(ent, {}).get("fields", {})
                values = {}
                for f, finfo in fields.items():
                    if finfo.get("type") == "ref" and f"{f}_id" in args:
                        values[f] = f  # the record the id argument binds
                    elif f in args:
                        values[f] = f
                    else:
                        values[f] = "TODO"
                effects = [{"create": ent, "values": values}]
                b.add_tool(op_name, "write", desc, args, {"record": ent}, requires, effects)
            elif method == "delete" and bound:
                b.add_tool(op_name, "write", desc, args, None, requires, [{"delete": bound[0]}])
            elif method in ("put", "patch") and bound:
                fields = b.entities.get(bound[1], {}).get("fields", {})
                effects = [f"{bound[0]}.{f} = {f}" for f in body_props if f in fields]
                b.add_tool(op_name, "write", desc, args, {"record": bound[0]}, requires,
                           effects or ["TODO: what this changes"])
            else:
                returns = {"record": bound[0]} if bound else None
                b.add_tool(op_name, "write", desc, args, returns, requires,
                           ["TODO: what this changes, e.g. 'x.status = \"cancelled\"'"])
    return b.text("an OpenAPI document"), b.phrases()


def _from_functions(funcs: list[dict], name: str, source: str) -> tuple[str, str]:
    """Tools from function schemas; entities from the ids they pass around."""
    b = _Builder(name, "")
    ids: dict[str, None] = {}
    for f in funcs:
        for pname in ((f.get("parameters") or {}).get("properties") or {}):
            m = re.match(r"^(.*?)_?[iI][dD]$", snake(pname))
            if m and m.group(1):
                ids.setdefault(snake(m.group(1)), None)
    for ent in ids:
        b.entities[ent] = {"count": 10, "fields": {"name": {"type": "str", "pool": f"{ent}_name"}},
                           "refer": {"by_id": {"id": True}}}
        b.pools[f"{ent}_name"] = ["TODO: realistic values"]
        b.notes.append(f"entity '{ent}' was inferred from id arguments: add its real fields")
    names = {e: e for e in ids}
    for f in funcs:
        fname = f.get("name", "tool")
        desc = f.get("description", "")
        props = (f.get("parameters") or {}).get("properties") or {}
        args: dict[str, Any] = {}
        bound = None
        for pname, ps in props.items():
            p = snake(pname)
            target = b.ref_target(p, names)
            if target:
                args[p] = {"ref": target}
                bound = bound or (p[:-3] if p.endswith("_id") else p)
            else:
                info = b.field_of("args", p, ps, names) or {"type": "str", "pool": "TODO"}
                args[p] = info
        looks_read = re.match(r"^(get|list|find|search|lookup|read|fetch|show|check)", snake(fname))
        if looks_read:
            returns = {"record": bound} if bound else {"value": "TODO: what it returns"}
            b.add_tool(fname, "read", desc, args, returns, None, None)
        else:
            b.add_tool(fname, "write", desc, args, {"record": bound} if bound else None,
                       ["TODO: when is this allowed?"], ["TODO: what this changes"])
    if not b.entities:
        b.entities["user"] = {"count": 5, "fields": {"name": {"type": "str", "pool": "user_name"}},
                              "refer": {"by_id": {"id": True}}}
        b.pools["user_name"] = ["TODO: realistic values"]
    return b.text(source), b.phrases()


def import_functions(data: Any, name: str = "imported") -> tuple[str, str]:
    """OpenAI function schemas: a list of {type: function, function: {...}} or of bare functions."""
    items = data.get("tools", data) if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise EnvsynthError("expected a list of OpenAI function schemas")
    funcs = [x.get("function", x) for x in items if isinstance(x, dict)]
    return _from_functions(funcs, name, "OpenAI function schemas")


def import_mcp(data: Any, name: str = "imported") -> tuple[str, str]:
    """An MCP `tools/list` result: {tools: [{name, description, inputSchema}]}."""
    items = data.get("tools", data) if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise EnvsynthError("expected an MCP tools/list result with a 'tools' list")
    funcs = [{"name": t.get("name"), "description": t.get("description", ""),
              "parameters": t.get("inputSchema") or t.get("input_schema") or {}} for t in items]
    return _from_functions(funcs, name, "an MCP tool list")


def read_document(path: Path) -> Any:
    """An API description (JSON or YAML), read with the same limits as a spec: size, encoding,
    and YAML aliases that would expand without bound."""
    from .errors import SpecError
    from .spec.source import load as load_yaml, read_text

    text = read_text(path, "API description")
    try:
        if path.suffix in (".yaml", ".yml"):
            return load_yaml(text, str(path))[0]
        return json.loads(text)
    except SpecError as e:
        raise EnvsynthError(str(e)) from None
    except json.JSONDecodeError as e:
        raise EnvsynthError(f"{path}:{e.lineno}:{e.colno}: not valid JSON ({e.msg})") from None
    except RecursionError:
        raise EnvsynthError(f"{path}: the document is nested too deeply") from None


def write_skeleton(spec_text: str, phrases: str, domain: str, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    spec_path = out_dir / f"{domain}.yaml"
    tpl = out_dir / "templates" / domain
    tpl.mkdir(parents=True, exist_ok=True)
    spec_path.write_text(spec_text, encoding="utf-8")
    (tpl / "phrases.yaml").write_text(phrases, encoding="utf-8")
    return [spec_path, tpl / "phrases.yaml"]


# ----------------------------------------------------------------------------- scaffold

SCAFFOLD = '''# A starter spec for the "{name}" domain, written by `envsynth new`. It already generates
# verified tasks: `envsynth generate {path} -n 20 -o out && envsynth verify out`.
# Change it step by step, running `envsynth check {path}` after each change.
domain: {name}
title: {title}
description: >
  You are a support agent for {title}. You can look up members and their requests, open new
  requests, and close requests that are resolved.
today: 2026-11-25
actor: member            # the entity of the person talking to the agent

pools:                   # realistic values for text fields
  first_name: [Ava, Liam, Noah, Emma, Mia, Lucas, Sofia, Omar, Priya, Kofi]
  last_name: [Garcia, Smith, Nguyen, Patel, Kim, Okafor, Rossi, Silva]
  topic: [billing question, login problem, broken link, refund request, address change, password reset,
          missing parcel, damaged item, invoice copy, account deletion]

entities:
  member:
    id: {{prefix: "m_", length: 5, alphabet: digits}}
    count: 6               # background records in each task's database
    fields:
      first_name: {{type: str, pool: first_name}}
      last_name: {{type: str, pool: last_name}}
      credit: {{type: money, min: 0, max: 500, typical: [20, 300]}}
    refer:
      by_id: {{id: true}}  # the user states their member id

  request:
    id: {{prefix: "R", length: 5, alphabet: digits}}
    count: 12
    fields:
      member: {{type: ref, entity: member}}
      topic: {{type: str, pool: topic}}
      opened: {{type: date, min: 2026-10-01, max: 2026-11-25}}
      status: {{type: enum, values: [open, resolved, closed]}}
    refer:
      by_id: {{id: true}}  # the user knows the request number
      latest:              # "my most recent request about a login problem that is not closed yet"
        scope: member
        filter: [topic]
        where: status != "closed"
        rank: {{by: opened, order: desc}}

tools:
  get_member:
    kind: read
    description: Get a member's profile and their requests.
    args:
      member_id: {{ref: member}}
    returns:
      record: member
      include:
        requests: {{list: request, where: request.member == member}}
    answer: member.credit    # a user may ask for this

  open_request:
    kind: write
    description: Open a new request for a member about a topic.
    args:
      member_id: {{ref: member}}
      topic: {{like: request.topic}}
    requires:
      - check: none(r in request where r.member == member and r.topic == topic and r.status == "open")
        error: the member already has an open request about this
    effects:
      - create: request
        values: {{member: member, topic: topic, opened: today, status: open}}
    returns: {{record: request}}

  close_request:
    kind: write
    description: Close a resolved request.
    args:
      request_id: {{ref: request}}
    requires:
      - check: request.member == actor
        error: you can only close your own requests
      - check: request.status == "resolved"
        error: only resolved requests can be closed, and this one is still being worked on
    effects:
      - request.status = "closed"
    returns: {{record: request}}
'''

SCAFFOLD_PHRASES = '''# How users phrase requests in the "{name}" domain (jinja2; one variant chosen per task).
intro:
  - "Hi, I'm {{{{ me.first_name }}}} {{{{ me.last_name }}}}{{% if me_known %}} (member {{{{ me.id }}}}){{% endif %}}."
closing: ["", " Thanks!"]
ids:
  member: ["my account"]
  request: ["request {{{{ id }}}}"]
refs:
  request:
    latest:
      - "my most recent request about the {{{{ topic }}}} (the one that isn't closed yet)"
      - "the latest {{{{ topic }}}} request I made that isn't closed yet"
links:
  member: ["me"]
created:
  request: ["the new request"]
intents:
  get_member: ["How much credit do I have left?", "What is my remaining credit?"]
  open_request: ["Please open a request about a {{{{ args.topic }}}} for me.", "I'd like to open a request about this: {{{{ args.topic }}}}."]
  close_request: ["Please close {{{{ request }}}}, it has been resolved.", "You can close {{{{ request }}}} now."]
'''


def scaffold(name: str, out_dir: Path) -> list[Path]:
    """A small commented spec and templates that already generate verified tasks."""
    dname = snake(name)
    if not dname:
        raise EnvsynthError("give the new domain a name, e.g. `envsynth new helpdesk`")
    out_dir.mkdir(parents=True, exist_ok=True)
    spec_path = out_dir / f"{dname}.yaml"
    if spec_path.exists():
        raise EnvsynthError(f"{spec_path} already exists; choose another directory or name")
    title = dname.replace("_", " ").title()
    spec_path.write_text(SCAFFOLD.format(name=dname, title=title, path=spec_path), encoding="utf-8")
    tpl = out_dir / "templates" / dname
    tpl.mkdir(parents=True, exist_ok=True)
    (tpl / "phrases.yaml").write_text(SCAFFOLD_PHRASES.format(name=dname), encoding="utf-8")
    return [spec_path, tpl / "phrases.yaml"]
