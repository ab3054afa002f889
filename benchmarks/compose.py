"""Compose large specs (about 20 to 400 tools) from the six shipped domains, for scale benchmarks.

Each shipped domain becomes a module renamed apart with a prefix (`bank2_`): its entities, tools,
pools, the fields and references of its actor, and every name in its expressions and phrasings.
The six actor entities (airline's user, banking's customer, hr's employee, ...) become one shared
`person`: first and last name and email are shared, every other actor field is the module's
(`air1_membership`, `hr1_manager`). Consecutive modules are linked: a ref field from one module's
main entity to the previous module's, and a read tool that expands it, so the tool graph is
connected across modules. Sizes above six domains repeat domains under new prefixes. Dates are
shifted so every module shares one `today`. A module's requests and descriptions carry its name
("Banking 2: ..."), so two copies of a domain never make a request ambiguous.

    python benchmarks/compose.py                  # all sizes into benchmarks/specs/<size>/
    python benchmarks/compose.py --sizes 20 100

Each size is written as `benchmarks/specs/<size>/composed<size>.yaml` with its phrasings in
`benchmarks/specs/<size>/templates/composed<size>/phrases.yaml`, where `envsynth` finds them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import yaml

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
TEMPLATES = ROOT / "templates"
OUT = Path(__file__).resolve().parent / "specs"

SIZES = (20, 50, 100, 200, 400)
# The order domains are taken in (airline and retail first: the 20-tool spec).
ORDER = ("airline", "retail", "banking", "calendar", "hr", "itsm")
TAGS = {"airline": "air", "retail": "ret", "banking": "bank", "calendar": "cal", "hr": "hr", "itsm": "itsm"}
# The entity of each domain that no tool creates and others link to.
HUBS = {"airline": "flight", "retail": "variant", "banking": "account", "calendar": "room",
        "hr": "onboarding_task", "itsm": "incident"}
ACTOR = "person"
SHARED = ("first_name", "last_name", "email")  # actor fields every module shares
TODAY = dt.date(2026, 11, 25)

_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_TOKEN = re.compile(r"""(?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')"""
                    r"""|(?P<path>[A-Za-z_]\w*(?:\s*\.\s*[A-Za-z_]\w*)*)|(?P<other>.)""", re.S)
_KEYWORDS = {"and", "or", "not", "in", "if", "then", "else", "true", "false", "when", "where",
             "is", "elif", "endif", "for", "endfor", "none", "any", "count", "min", "max", "abs",
             "date", "datetime", "today", "now", "actor"}


def shift_dates(text: str, days: int) -> str:
    """Every ISO date in a spec's text moved by `days` (so a module's own `today` becomes TODAY)."""
    if not days:
        return text

    def move(m: re.Match) -> str:
        d = dt.date(int(m[1]), int(m[2]), int(m[3])) + dt.timedelta(days=days)
        return d.isoformat()
    return _DATE.sub(move, text)


class Module:
    """One shipped domain renamed apart with a prefix."""

    def __init__(self, domain: str, copy: int):
        self.domain, self.copy = domain, copy
        self.prefix = f"{TAGS[domain]}{copy}_"
        self.label = f"{domain.capitalize()} {copy}"
        text = (SPECS / f"{domain}.yaml").read_text()
        today = yaml.safe_load(text)["today"]
        text = shift_dates(text, (TODAY - today).days)
        self.spec = yaml.safe_load(text)
        self.phrases = yaml.safe_load((TEMPLATES / domain / "phrases.yaml").read_text())
        self.actor = self.spec["actor"]
        ents = self.spec["entities"]
        self.ent_map = {e: (ACTOR if e == self.actor else self.prefix + e) for e in ents}
        self.old_entity = {v: k for k, v in self.ent_map.items()}
        self.tool_map = {t: self.prefix + t for t in self.spec["tools"]}
        self.pool_map = {p: self.prefix + p for p in self.spec.get("pools", {})}
        # (old entity, old field) -> new field name: only the actor's own fields move
        self.field_map = {(self.actor, f): self.prefix + f
                          for f in ents[self.actor]["fields"] if f not in SHARED}
        self.actor_refs: dict[str, str] = {}  # old reference name of the actor -> new
        self.hub = HUBS[domain]

    # ---------------------------------------------------------------- names in expressions

    def ref_target(self, ent: Optional[str], field: str) -> Optional[str]:
        if ent is None:
            return None
        f = self.spec["entities"][ent]["fields"].get(field)
        return f["entity"] if f and f.get("type") == "ref" else None

    def field(self, ent: Optional[str], f: str) -> str:
        return self.field_map.get((ent, f), f) if ent is not None else f

    def rewrite(self, text: str, head: Callable[[str], tuple[str, Optional[str]]],
                jinja: bool = False) -> str:
        """`text` with every dotted path renamed: `head(name)` gives the head's new name and
        entity (old name, or None for a scalar), each later step is a field of the one before.
        Quantifier variables (`d in dispute where`) range over their entity. In jinja, only
        the insides of `{{ }}` and `{% %}` are expressions, and names after `|` are filters."""
        if jinja:
            return re.sub(r"(\{\{|\{%)(.*?)(\}\}|%\})",
                          lambda m: m[1] + self.rewrite(m[2], head) + m[3], text, flags=re.S)
        toks = [(m.lastgroup, m.group(0)) for m in _TOKEN.finditer(text)]
        bound: dict[str, str] = {}
        words = [(i, t) for i, (k, t) in enumerate(toks) if k == "path"]
        for j in range(len(words) - 3):
            (_, v), (_, kw), (_, e), (_, w) = words[j:j + 4]
            if kw == "in" and w == "where" and e in self.ent_map:
                bound[v] = e
        out = []
        prev = ""
        for kind, t in toks:
            if kind != "path" or t in _KEYWORDS or prev == "|":
                out.append(t)
            else:
                parts = [p.strip() for p in t.split(".")]
                if parts[0] in bound:
                    new, ent = parts[0], bound[parts[0]]
                else:
                    new, ent = head(parts[0])
                res = [new]
                for p in parts[1:]:
                    res.append(self.field(ent, p) if p != "id" else p)
                    ent = self.ref_target(ent, p) if p != "id" else None
                out.append(".".join(res))
            if not t.isspace():
                prev = t
        return "".join(out)

    def entity_head(self, ent: str) -> Callable[[str], tuple[str, Optional[str]]]:
        """Heads of an expression about one record (invariants, references): its fields."""
        fields = self.spec["entities"][ent]["fields"]

        def head(name: str) -> tuple[str, Optional[str]]:
            if name in fields:
                return self.field(ent, name), self.ref_target(ent, name)
            if name in self.ent_map:
                return self.ent_map[name], name
            return name, None
        return head

    def tool_vars(self, tool: dict) -> dict[str, Optional[str]]:
        """A tool's record variables (old name -> old entity; None for scalars)."""
        out: dict[str, Optional[str]] = {"actor": self.actor, "me": self.actor}
        for a, spec in (tool.get("args") or {}).items():
            if "ref" in spec:
                out[spec.get("as", a[:-3] if a.endswith("_id") else a)] = spec["ref"]
            else:
                out[a[:-3] if a.endswith("_id") else a] = None
        for eff in tool.get("effects") or []:
            if isinstance(eff, dict) and "create" in eff:
                out[eff.get("as", eff["create"])] = eff["create"]
        for name, expr in (tool.get("let") or {}).items():
            out[name] = self._path_entity(str(expr), out)
        return out

    def _path_entity(self, expr: str, vars: dict) -> Optional[str]:
        m = re.fullmatch(r"\s*([A-Za-z_]\w*)((?:\.[A-Za-z_]\w*)*)\s*", expr)
        if not m or m[1] not in vars:
            return None
        ent = vars[m[1]]
        for p in m[2].split(".")[1:]:
            ent = self.ref_target(ent, p)
        return ent

    def tool_head(self, tool: dict) -> Callable[[str], tuple[str, Optional[str]]]:
        vars = self.tool_vars(tool)

        def head(name: str) -> tuple[str, Optional[str]]:
            if name in ("actor", "me"):
                return name, self.actor
            if name in vars:
                return self.ent_map.get(name, name), vars[name]
            if name in self.ent_map:
                return self.ent_map[name], name
            return name, None
        return head

    # ---------------------------------------------------------------- the spec

    def entities(self) -> dict[str, dict]:
        """The module's entities, renamed (the actor's fields and references are merged apart)."""
        out = {}
        for e, body in self.spec["entities"].items():
            if e == self.actor:
                continue
            out[self.ent_map[e]] = self.entity(e, body)
        return out

    def field_spec(self, ent: str, f: dict) -> dict:
        f = dict(f)
        if "pool" in f:
            f["pool"] = self.pool_map[f["pool"]]
        if f.get("type") == "ref":
            f["entity"] = self.ent_map[f["entity"]]
        if "format" in f:
            f["format"] = re.sub(r"\{(\w+)\}", lambda m: "{" + self.field(ent, m[1]) + "}", f["format"])
        if "description" in f:
            f["description"] = f"{f['description']} ({self.label})"
        return f

    def refer(self, ent: str, name: str, r: dict) -> dict:
        r = dict(r)
        h = self.entity_head(ent)
        if "scope" in r:
            r["scope"] = self.rewrite(r["scope"], h)
        if "filter" in r:
            r["filter"] = [self.rewrite(p, h) for p in r["filter"]]
        if "where" in r:
            r["where"] = self.rewrite(str(r["where"]), h)
        if "rank" in r:
            r["rank"] = dict(r["rank"], by=self.rewrite(r["rank"]["by"], h))
        if "description" in r:
            r["description"] = f"{r['description']} ({self.label})"
        return r

    def entity(self, e: str, body: dict) -> dict:
        body = dict(body)
        h = self.entity_head(e)
        body["description"] = f"{self.label}: {body.get('description', e)}".strip()
        if "id" in body:
            body["id"] = dict(body["id"], prefix=f"{TAGS[self.domain].upper()}{self.copy}-{body['id'].get('prefix', '')}")
        body["fields"] = {self.field(e, f): self.field_spec(e, fs) for f, fs in body["fields"].items()}
        if "invariants" in body:
            body["invariants"] = [self.rewrite(str(i), h) for i in body["invariants"]]
        if "label" in body:
            body["label"] = [self.field(e, f) for f in body["label"]]
        if "refer" in body:
            body["refer"] = {n: self.refer(e, n, r) for n, r in body["refer"].items()}
        return body

    def tools(self) -> dict[str, dict]:
        return {self.tool_map[t]: self.tool(body) for t, body in self.spec["tools"].items()}

    def tool(self, body: dict) -> dict:
        h = self.tool_head(body)
        rw = lambda s: self.rewrite(s, h) if isinstance(s, str) else s  # noqa: E731
        vars = self.tool_vars(body)
        out = dict(body)
        out["description"] = f"{self.label}: {body.get('description', '')}".strip()
        if "args" in body:
            args = {}
            for a, spec in body["args"].items():
                spec = dict(spec)
                if "ref" in spec:
                    var = spec.get("as", a[:-3] if a.endswith("_id") else a)
                    if "as" in spec:
                        spec["as"] = self.ent_map.get(var, var)
                    elif var in self.ent_map:
                        a = self.ent_map[var] + "_id"
                    spec["ref"] = self.ent_map[spec["ref"]]
                if "like" in spec:
                    spec["like"] = rw(spec["like"])
                args[a] = spec
            out["args"] = args
        if "let" in body:
            out["let"] = {n: rw(x) for n, x in body["let"].items()}
        if "requires" in body:
            out["requires"] = [dict(r, check=rw(r["check"])) for r in body["requires"]]
            for r in out["requires"]:  # a conditional's fallback: the module's tools, its own phrasings
                if r.get("fallback"):
                    fb = dict(r["fallback"], when=self.when(r["fallback"]["when"]))
                    if fb.get("then"):
                        fb["then"] = [self.tool_map[t] for t in fb["then"]]
                    r["fallback"] = fb
        if "effects" in body:
            effs = []
            for eff in body["effects"]:
                if isinstance(eff, dict):
                    eff = dict(eff)
                    if "create" in eff:
                        ent = eff["create"]
                        eff["create"] = self.ent_map[ent]
                        if "as" in eff:
                            eff["as"] = self.ent_map.get(eff["as"], eff["as"])
                        eff["values"] = {self.field(ent, k): rw(v) for k, v in (eff.get("values") or {}).items()}
                    if "delete" in eff:
                        eff["delete"] = self.ent_map.get(eff["delete"], eff["delete"])
                    effs.append(eff)
                else:
                    effs.append(rw(eff))
            out["effects"] = effs
        if "returns" in body:
            out["returns"] = self.returns(body["returns"], rw, vars)
        if "answer" in body:
            out["answer"] = rw(body["answer"])
        return out

    def returns(self, r: dict, rw, vars: dict) -> dict:
        r = dict(r)
        ent = None
        if "record" in r:
            ent = vars.get(r["record"])
            r["record"] = self.ent_map.get(r["record"], r["record"])
        for k in ("list", "find"):
            if k in r:
                ent = r[k]
                r[k] = self.ent_map[r[k]]
        if "where" in r:
            r["where"] = rw(r["where"])
        if "value" in r:
            r["value"] = rw(r["value"])
        if "expand" in r and ent is not None:
            r["expand"] = [self.rewrite(p, self.entity_head(ent)) for p in r["expand"]]
        if "include" in r:
            r["include"] = {n: dict(inc, list=self.ent_map[inc["list"]], where=rw(inc["where"]))
                            for n, inc in r["include"].items()}
        return r

    # ---------------------------------------------------------------- phrasings

    def tag(self, texts: list, lead: bool = True) -> list:
        """Phrasings that name the module: requests start with it, descriptions end with it."""
        if lead:
            return [f"{self.label}: {t}" for t in texts]
        return [f"{t} ({self.label})" for t in texts]

    def when(self, name: str) -> str:
        """A fallback condition's name in the composed spec (one module's 'full' is not another's)."""
        return re.sub(r"\W+", "_", f"{self.label}_{name}".lower())

    def phrasings(self) -> dict[str, Any]:
        """The module's part of the composed phrases (not intro, connectors or closing)."""
        p = self.phrases
        out: dict[str, Any] = {k: {} for k in ("ids", "refs", "links", "created", "intents",
                                              "identify", "given_ids", "clarify", "conditions")}
        for name, texts in (p.get("conditions") or {}).items():
            out["conditions"][self.when(name)] = texts
        for sect in ("ids", "created", "given_ids", "clarify"):
            for e, texts in (p.get(sect) or {}).items():
                if e != self.actor:
                    out[sect][self.ent_map[e]] = self.tag(texts, lead=sect in ("given_ids", "clarify"))
        for e, refs in (p.get("refs") or {}).items():
            h = self.entity_head(e)
            new = {}
            for rname, texts in refs.items():
                key = self.actor_refs.get(rname, rname) if e == self.actor else rname
                new[key] = self.tag([self.rewrite(t, h, jinja=True) for t in texts], lead=False)
            out["refs"][self.ent_map[e]] = new
        for rname, texts in (p.get("identify") or {}).items():
            h = self.entity_head(self.actor)
            out["identify"][self.actor_refs.get(rname, rname)] = \
                self.tag([self.rewrite(t, h, jinja=True) for t in texts])
        for e, texts in (p.get("links") or {}).items():
            if e == self.actor:
                continue  # links to the shared person: see person_links
            out["links"][self.ent_map[e]] = self.tag(texts if isinstance(texts, list) else
                                                     [t for v in texts.values() for t in v], lead=False)
        for t, texts in (p.get("intents") or {}).items():
            h = self.tool_head(self.spec["tools"][t])
            out["intents"][self.tool_map[t]] = self.tag([self.rewrite(x, h, jinja=True) for x in texts])
        return out

    def person_links(self) -> dict[str, list]:
        """Phrasings for a person reached through one of this module's fields (per field)."""
        out = {}
        for e, body in self.spec["entities"].items():
            for f, fs in body["fields"].items():
                if fs.get("type") == "ref" and fs["entity"] == self.actor:
                    new = self.field(e, f)
                    words = f.replace("_", " ")
                    out[new] = [f"{{% if parent == 'me' %}}my {words} at {self.label}"
                                f"{{% else %}}the {words} of {{{{ parent }}}}{{% endif %}}"]
        return out


def plan(size: int) -> list[tuple[str, int]]:
    """Domains (with copy numbers) whose tools, plus one link tool per module after the first,
    add up to about `size`: domains are taken round-robin, skipping any that would overshoot."""
    counts = {d: len(yaml.safe_load((SPECS / f"{d}.yaml").read_text())["tools"]) for d in ORDER}
    chosen: list[tuple[str, int]] = []
    copies = {d: 0 for d in ORDER}
    total = 0
    limit = size * 1.05
    while True:
        added = False
        for d in ORDER:
            cost = counts[d] + (1 if chosen else 0)
            if total + cost <= limit:
                copies[d] += 1
                chosen.append((d, copies[d]))
                total += cost
                added = True
        if not added:
            return chosen


def person(modules: list[Module]) -> tuple[dict, dict]:
    """The shared actor entity and its phrasings (refs, by new reference name)."""
    firsts, lasts = [], []
    for m in modules:
        pools = m.spec.get("pools", {})
        for name, acc in (("first_name", firsts), ("last_name", lasts)):
            for v in pools.get(m.spec["entities"][m.actor]["fields"][name].get("pool", name), []):
                if v not in acc:
                    acc.append(v)
    fields: dict[str, Any] = {
        "first_name": {"type": "str", "pool": "person_first_name"},
        "last_name": {"type": "str", "pool": "person_last_name"},
        "email": {"type": "str", "unique": True, "format": "{first_name}.{last_name}{n}@example.com"},
    }
    refer: dict[str, Any] = {"by_id": {"id": True, "description": "the person states their id"},
                             "by_email": {"filter": ["email"], "description": "the person states their email"}}
    refs_text: dict[str, list] = {}
    seen: dict[str, str] = {}
    count = slots = 0
    for m in modules:
        body = m.spec["entities"][m.actor]
        count, slots = max(count, body.get("count", 8)), max(slots, body.get("slots", 1))
        for f, fs in body["fields"].items():
            if f not in SHARED:
                fields[m.field(m.actor, f)] = m.field_spec(m.actor, fs)
        for rname, r in (body.get("refer") or {}).items():
            if r.get("id"):
                m.actor_refs[rname] = "by_id"
                continue
            new = m.refer(m.actor, rname, r)
            key = yaml.safe_dump({k: v for k, v in new.items() if k != "description"}, sort_keys=True)
            if new.get("filter") == ["email"] and set(new) <= {"filter", "description"}:
                m.actor_refs[rname] = "by_email"
            elif key in seen:
                m.actor_refs[rname] = seen[key]
            else:
                seen[key] = m.actor_refs[rname] = m.prefix + rname
                refer[m.prefix + rname] = new
    return ({"description": "A person: a customer, employee or user of every service in this spec.",
             "id": {"prefix": "P", "length": 6, "alphabet": "digits"},
             "count": count, "slots": slots, "fields": fields, "refer": refer},
            {"person_first_name": firsts, "person_last_name": lasts})


def link(prev: Module, mod: Module) -> tuple[str, dict, str, dict, list]:
    """A ref field from `mod`'s hub entity to `prev`'s, and a read tool that shows it."""
    field = f"{prev.prefix}{prev.hub}"
    hub = mod.ent_map[mod.hub]
    fs = {"type": "ref", "entity": prev.ent_map[prev.hub],
          "description": f"the {prev.label} {prev.hub.replace('_', ' ')} this {mod.hub.replace('_', ' ')} is linked to"}
    tool_name = f"{mod.prefix}get_{mod.hub}_{prev.prefix}{prev.hub}"
    tool = {"kind": "read",
            "description": f"{mod.label}: show a {mod.hub.replace('_', ' ')} with the {prev.label} "
                           f"{prev.hub.replace('_', ' ')} it is linked to.",
            "args": {f"{hub}_id": {"ref": hub}},
            "returns": {"record": hub, "expand": [field]}}
    return field, fs, tool_name, tool, [hub]


def compose(size: int) -> tuple[dict, dict]:
    """The spec and phrases (as YAML-ready dicts) of the composed spec of about `size` tools."""
    modules = [Module(d, k) for d, k in plan(size)]
    actor, actor_pools = person(modules)
    name = f"composed{size}"
    pools: dict[str, list] = dict(actor_pools)
    entities: dict[str, dict] = {ACTOR: actor}
    tools: dict[str, dict] = {}
    policy = []
    for m in modules:
        pools.update({m.pool_map[p]: v for p, v in (m.spec.get("pools") or {}).items()})
        entities.update(m.entities())
        tools.update(m.tools())
        policy.append(f"{m.label}:\n" + "\n".join("  " + l for l in str(m.spec.get("policy", "")).strip().splitlines()))
    for prev, mod in zip(modules, modules[1:]):
        field, fs, tname, tool, _ = link(prev, mod)
        hub = entities[mod.ent_map[mod.hub]]
        hub["fields"][field] = fs
        if not any(r.get("id") for r in (hub.get("refer") or {}).values()):
            # the link tool takes the hub's id: let the user state it (calendar's rooms and hr's
            # onboarding steps are otherwise only ever described)
            hub["refer"] = {"by_id": {"id": True, "description": f"the person knows the {mod.hub.replace('_', ' ')} id"},
                            **(hub.get("refer") or {})}
        tools[tname] = tool
    spec = {
        "domain": name,
        "title": f"Composed services ({len(modules)} modules, {len(tools)} tools)",
        "description": "You are a support agent for several services at once: "
                       + "; ".join(f"{m.label} ({m.spec.get('title', m.domain)})" for m in modules)
                       + ". Each request names the service it is about.",
        "today": TODAY,
        "actor": ACTOR,
        "policy": "\n".join(policy) + "\n",
        "pools": pools,
        "entities": entities,
        "tools": tools,
    }
    phrases: dict[str, Any] = {
        "intro": ["Hi, I'm {{ me.first_name }} {{ me.last_name }}, email {{ me.email }}"
                  "{% if me_known %}, id {{ me.id }}{% endif %}.",
                  "Hello, this is {{ me.first_name }} {{ me.last_name }} ({{ me.email }})."
                  "{% if me_known %} My id is {{ me.id }}.{% endif %}"],
        "connectors": ["Also, ", "After that, ", "And ", "One more thing: "],
        "closing": ["", " Thanks!", " Thank you for your help."],
    }
    merged: dict[str, dict] = {}
    person_refs: dict[str, list] = {}
    person_links: dict[str, list] = {}
    for m in modules:
        for sect, body in m.phrasings().items():
            if sect == "refs" and ACTOR in body:
                for r, texts in body.pop(ACTOR).items():
                    person_refs.setdefault(r, texts)
            merged.setdefault(sect, {}).update(body)
        person_links.update(m.person_links())
    merged["ids"][ACTOR] = ["the person with id {{ id }}"]
    for mod in modules[1:]:
        merged["ids"].setdefault(mod.ent_map[mod.hub], [f"{mod.label} {mod.hub.replace('_', ' ')} {{{{ id }}}}"])
    merged["refs"][ACTOR] = person_refs
    merged["links"][ACTOR] = person_links
    phrases.update({k: v for k, v in merged.items() if v})
    return spec, phrases


class _Dumper(yaml.SafeDumper):
    """Quotes text that a YAML reader could take for a number (a zip code such as "02139")."""


def _str(dumper: yaml.SafeDumper, s: str) -> yaml.Node:
    style = '"' if re.fullmatch(r"[-+.\d_:eE]+", s) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", s, style=style)


_Dumper.add_representer(str, _str)


def _dump(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, width=120, allow_unicode=True)


def write(size: int, out: Path = OUT) -> Path:
    """Write the composed spec of about `size` tools; returns the spec's path."""
    spec, phrases = compose(size)
    d = out / str(size)
    tdir = d / "templates" / spec["domain"]
    tdir.mkdir(parents=True, exist_ok=True)
    path = d / f"{spec['domain']}.yaml"
    path.write_text(f"# Composed by benchmarks/compose.py: {len(spec['tools'])} tools.\n"
                    + _dump(spec))
    (tdir / "phrases.yaml").write_text(_dump(phrases))
    return path


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    ap.add_argument("-o", "--out", type=Path, default=OUT)
    a = ap.parse_args(argv)
    for s in a.sizes:
        p = write(s, a.out)
        n = len(yaml.safe_load(p.read_text())["tools"])
        print(f"{p}: {n} tools")
    return 0


if __name__ == "__main__":
    sys.exit(main())
