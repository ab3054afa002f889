"""A domain's phrasings (`templates/<domain>/phrases.yaml`): loaded with positions, checked whole.

The user's request is rendered from jinja2 templates, one list of phrasings per purpose (the
intro, how each record is described, each request). A mistake in one - a syntax error, a name
the renderer never passes, a field the record lacks - would otherwise surface in the middle of
`generate`, on whichever task first picks it. `Templates.problems` compiles every phrasing and
renders it against every context it can receive, so `check` reports each mistake at its
file:line:column with what the phrasing may use instead.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any, Optional

import jinja2
import jinja2.meta

from ..spec import types as T
from ..spec.model import Domain
from ..errors import EnvsynthError, SpecError, SpecErrors
from ..registry import template_dir_for
from ..spec.source import load as load_yaml, read_text


def human_date(v: Any) -> str:
    try:
        return T.human_date(T.parse_date(str(v)))
    except ValueError:
        return str(v)


def money_text(v: Any) -> str:
    return f"${float(v):,.2f}"


def _words(v: Any) -> str:
    return str(v).replace("_", " ")


def clock(v: Any) -> str:
    """A time of day as people say it: 14 or "14:00" -> "2 PM", "09:30" -> "9:30 AM"."""
    text = str(v).strip()
    m = re.fullmatch(r"(?:\d{4}-\d{2}-\d{2}[ T])?(\d{1,2})(?::(\d{2}))?(?::\d{2})?", text)
    if m is None or int(m.group(1)) > 23:
        return text
    h, mins = int(m.group(1)), int(m.group(2) or 0)
    suffix = "AM" if h < 12 else "PM"
    h12 = h % 12 or 12
    return f"{h12} {suffix}" if mins == 0 else f"{h12}:{mins:02d} {suffix}"


def human_datetime(v: Any) -> str:
    """"2026-12-08 14:00" -> "December 8, 2026 at 2 PM"."""
    day, _, hm = str(v).replace("T", " ").partition(" ")
    return f"{human_date(day)} at {clock(hm)}" if hm else human_date(day)


def is_me(v: Any) -> bool:
    """Whether a record in a phrasing is the user themself ({% if patient is me %})."""
    return bool(getattr(v, "is_me", False))


def possessive(v: Any) -> str:
    """"my" for the user, "<description>'s" for anyone else: {{ patient|possessive }} insurance."""
    if is_me(v):
        return "my"
    text = str(v)
    return text + ("'" if text.endswith("s") else "'s")


class Named(str):
    """A record's description as text that knows whether it is the user ("me")."""

    is_me = False

    def __new__(cls, text: str, is_me: bool = False) -> "Named":
        obj = super().__new__(cls, text)
        obj.is_me = is_me
        return obj


FILTERS = {"human_date": human_date, "human_datetime": human_datetime, "clock": clock, "money": money_text,
           "words": _words, "possessive": possessive}
TESTS = {"me": is_me}

# the sentences and words the renderer writes on its own, where a domain's phrases.yaml has no
# phrasing for them (docs/writing-specs.md, "What the renderer adds", lists each one)
DEFAULTS = {
    "intro": "Hi, I'm {{ me.first_name }}.",
    "identify": "You can find {{ phrase }}.",
    "connectors": "Also, ",
    "clarify": "{{ value }} is {{ phrase }}.",
    "given_ids": "My <entity> number is {{ id }}.",
    "given_ids (the user)": "My id is {{ id }}.",
    "given_ids (another of one kind)": "I also have <entity> {{ id }}.",
    "ids": "<entity> {{ id }}",
    "created": "the new <entity>",
    "links": "the <field> of {{ parent }}",
    "links (of the user)": "my <field>",
    "earlier": " (the one I mentioned before)",
    "closing": "",
}


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    """{"flight.date": d} -> {"flight": {"date": d}}: stated values as template variables."""
    out: dict[str, Any] = {}
    for k, v in flat.items():
        parts = k.split(".")
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = v
    return out


# what each section's phrasings are rendered with (see tasks.derive_task), by section
SECTIONS = {
    "intro": "the user's introduction: me (their record), me_known (whether they give their id)",
    "ids": "a record the user names by id, per entity: id",
    "refs": "a description of a record, per entity and reference: the stated fields",
    "created": "a record the request creates, per entity: nothing",
    "again": "a record described in an earlier request, said again, per entity: its fields",
    "earlier": "words after a description said again once another record of its kind was named: nothing",
    "links": "a record reached through a link, per entity (and field): parent, field",
    "intents": "a request, per tool: args, me, and the tool's record variables",
    "identify": "how the user lets the agent find them, per reference: phrase and the stated fields",
    "connectors": "words joining two requests: nothing",
    "conditions": "a request and its fallback, per rule's `fallback: {when}`: request, fallback (its text, "
                  "first word lowercased), args (the refused request's values)",
    "clarify": "which record a description means, per entity: value, phrase",
    "given_ids": "an id the user states on the way, per entity: id",
    "closing": "the last words of the request: nothing",
}


def fallback_conditions(domain: Domain) -> dict[str, str]:
    """Each `fallback: {when}` name the spec declares -> the tool whose rule declares it."""
    return {r.fallback_when: t.name for t in domain.tools.values() for r in t.requires if r.fallback_when}


class Templates:
    """The phrases of one domain, compiled once."""

    def __init__(self, domain: Domain, directory: Optional[Path] = None):
        directory = directory or template_dir_for(domain.name, Path(domain.source))
        if directory is None or not (directory / "phrases.yaml").exists():
            raise EnvsynthError(
                f"no templates for domain '{domain.name}': expected templates/{domain.name}/phrases.yaml "
                "beside the spec (run `envsynth new` for a starter)"
            )
        self.directory = directory
        self.file = str(directory / "phrases.yaml")
        self.env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False,
                                      keep_trailing_newline=False)
        self.env.filters.update(FILTERS)
        self.env.tests.update(TESTS)
        text = read_text(directory / "phrases.yaml", "phrases")
        raw: Any = {}
        self.smap = None
        if text.strip():
            try:
                raw, self.smap = load_yaml(text, self.file)
            except SpecError as e:
                raise SpecErrors([e]) from None
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise SpecErrors([SpecError("phrases.yaml should be a block of 'section: phrasings' lines", self.file,
                                        1, 1, f"sections: {', '.join(SECTIONS)}")])
        self.raw = raw
        self._cache: dict[str, jinja2.Template] = {}
        self._where: dict[str, tuple] = {}  # phrasing text -> its path in the file (for errors)
        self._index(raw, ())

    def _index(self, node: Any, path: tuple) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                self._index(v, path + (k,))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                self._index(v, path + (i,))
        elif isinstance(node, str):
            self._where.setdefault(node, path)

    def options(self, *path: str) -> list[str]:
        node: Any = self.raw
        for p in path:
            if not isinstance(node, dict) or p not in node:
                return []
            node = node[p]
        if isinstance(node, str):
            return [node]
        return list(node) if isinstance(node, list) else []

    def render(self, text: str, **ctx: Any) -> str:
        try:
            tpl = self._cache.get(text)
            if tpl is None:
                tpl = self._cache[text] = self.env.from_string(text)
            return tpl.render(**ctx)
        except jinja2.TemplateError as e:
            raise EnvsynthError(self._locate(text, e).format()) from None

    def pick(self, rng: random.Random, path: tuple[str, ...], default: Optional[str], **ctx: Any) -> str:
        opts = self.options(*path)
        if not opts:
            if default is None:
                raise EnvsynthError(f"templates/{'/'.join(path)}: no phrasing for this in "
                                    f"{self.directory / 'phrases.yaml'}")
            opts = [default]
        return self.render(rng.choice(opts), **ctx)

    def missing(self, domain: Domain) -> list[str]:
        """Phrases a domain's goals and references need but the templates lack (or left TODO)."""
        out = []
        for tool in domain.tools.values():
            opts = self.options("intents", tool.name)
            if tool.is_goal and (not opts or any(str(o).strip().upper().startswith("TODO") for o in opts)):
                out.append(f"intents.{tool.name}")
        for ent in domain.entities.values():
            for r in ent.refs.values():
                if not r.by_id and not self.options("refs", ent.name, r.name):
                    out.append(f"refs.{ent.name}.{r.name}")
        for when in sorted(fallback_conditions(domain)):
            if not self.options("conditions", when):
                out.append(f"conditions.{when}")
        return out

    # ------------------------------------------------------------------ checking
    def _locate(self, text: str, e: Exception, path: Optional[tuple] = None) -> SpecError:
        """A template error at its place in phrases.yaml, in the author's terms."""
        path = path if path is not None else self._where.get(text, ())
        line, col, src = 1, 1, ""
        if self.smap is not None:
            pos = self.smap.pos(path)
            line, col = pos.line, pos.col
            inner = getattr(e, "lineno", None) or 1
            if pos.style in ("|", ">"):
                line, col = pos.line + inner, 1
            elif inner > 1:
                line += inner - 1
            src = self.smap.line_text(line)
        where = ".".join(str(p) for p in path if not isinstance(p, int))
        if isinstance(e, jinja2.TemplateAssertionError):
            msg = f"template error in {where}: {e.message}"
            hint = f"the filters are {', '.join(FILTERS)} and jinja2's own (upper, title, ...)"
        elif isinstance(e, jinja2.TemplateSyntaxError):
            msg = f"template syntax error in {where}: {e.message}"
            hint = "variables are written {{ name }}, conditions {% if x %}...{% endif %}"
        elif isinstance(e, jinja2.UndefinedError):
            hint = f"{where.split('.')[0]} phrasings get {SECTIONS.get(str(path[0]) if path else '', 'their context')}"
            m = re.search(r"'([^']*)' has no attribute '([^']*)'", e.message or "")
            if m and m.group(1).endswith("_Record object"):
                msg = (f"{where}: a record in a request renders as the user's description of it and has no "
                       f"field '{m.group(2)}'")
                hint = "write the record variable alone ({{ flight }}), or the request's own values as {{ args.<name> }}"
            elif m:
                msg = f"{where}: no field '{m.group(2)}' here"
            else:
                msg = f"{where} uses something the renderer does not pass: {e.message}"
        else:
            msg = f"{where} cannot be rendered: {e}"
            hint = ""
        return SpecError(msg, self.file, line, col, hint, source_line=src)

    def _at(self, path: tuple, message: str, hint: str = "", key: bool = False) -> SpecError:
        pos = self.smap.pos(path, key=key) if self.smap else None
        line, col = (pos.line, pos.col) if pos else (1, 1)
        return SpecError(message, self.file, line, col, hint,
                         source_line=self.smap.line_text(line) if self.smap else "")

    def problems(self, domain: Domain) -> list[SpecError]:
        """Every phrasing compiled and rendered with the context it gets in `derive_task`."""
        out: list[SpecError] = []
        for section, body in self.raw.items():
            if section not in SECTIONS:
                from ..spec.typecheck import did_you_mean

                out.append(self._at((section,), f"unknown section '{section}' in phrases.yaml",
                                    did_you_mean(str(section), SECTIONS, "sections"), key=True))
                continue
            for path, ctx in _contexts(domain, section, body):
                for i, text in enumerate(self._phrasings(path)):
                    where = path + (i,) if isinstance(_get(self.raw, path), list) else path
                    if not isinstance(text, str):
                        out.append(self._at(where, f"{'.'.join(map(str, path))}: a phrasing must be text, "
                                            f"not {T.show(text)}", "quote it"))
                        continue
                    problem = self._try(text, ctx, where)
                    if problem is not None:
                        out.append(problem)
        return out

    def _phrasings(self, path: tuple) -> list:
        node = _get(self.raw, path)
        return node if isinstance(node, list) else [node]

    def _try(self, text: str, ctx: dict, path: tuple) -> Optional[SpecError]:
        try:
            ast = self.env.parse(text)
            unknown = sorted(jinja2.meta.find_undeclared_variables(ast) - set(ctx))
        except jinja2.TemplateSyntaxError as e:  # also an unknown filter (TemplateAssertionError)
            return self._locate(text, e, path)
        if unknown:
            from ..spec.typecheck import suggest

            where = ".".join(str(p) for p in path if not isinstance(p, int))
            err = self._locate(text, jinja2.TemplateError(""), path)
            names = {k: k for k in ctx if k != "args"}
            names.update({k: f"args.{k}" for k in (ctx.get("args") or {})})
            close = suggest(unknown[0], names)
            err.message = f"unknown variable '{unknown[0]}' in {where}"
            err.hint = (f"did you mean '{{{{ {names[close]} }}}}'? " if close else "") + \
                f"(this phrasing can use: {', '.join(sorted(names.values()))})"
            return err
        try:
            self.env.from_string(text).render(**ctx)
        except jinja2.TemplateError as e:
            return self._locate(text, e, path)
        except (TypeError, ValueError, ArithmeticError) as e:  # a filter given the wrong kind of value
            return self._locate(text, jinja2.TemplateError(f"{type(e).__name__}: {e}"), path)
        return None


# what a rendered sample must not contain: (pattern, what it is, how to write it instead)
_ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
_RAW_MONEY = re.compile(r"(?<![\d$,.])1234\.5\d?\b")  # the sample amount, not through |money
_CLOCK_24H = re.compile(r"\b\d{1,2}:\d{2}\b(?!\s*[AaPp]\.?[Mm])")
THIRD_PERSON_ME = re.compile(r"\b(?:of|about|from|for whom is) me\b(?=\s*[.?!,;)]|$)|\bme's\b|\bme (?:is|has|was|does)\b"
                              r"|(?:^|[.!?]\s+)Me\b", re.I)
TEXT_PATTERNS = [
    (_ISO_DATE, "writes a date as {found} inside a sentence",
     "people write dates as December 3, 2026: use {{ x|human_date }} (or |human_datetime)"),
    (_RAW_MONEY, "writes an amount of money as {found}", "use {{ x|money }} ($1,234.50)"),
    (_CLOCK_24H, "writes a time of day as {found}", "say it as people do: {{ x|clock }} (2 PM)"),
]
SAMPLE_MONEY = 1234.5


def sentences_of(text: str) -> list[str]:
    return [x.strip().lower() for x in re.split(r"(?<=[.!?])\s+", text) if x.strip()]


class _Me(str):
    """The user as a record variable in a sample: renders "me", like the renderer does."""

    is_me = True


def text_problems(tpl: "Templates", domain: Domain) -> list[SpecError]:
    """Phrasings that render text people do not write: dates, money and times in storage form
    ("on 2026-12-15", "1234.5", "15:00"), the user in the third person ("the status of me"),
    or one sentence twice. Each phrasing is rendered with sample values (the user's own record
    where a record variable can be the user) and read; warnings at the phrasing's line."""
    out: list[SpecError] = []
    seen: set = set()
    for section, body in tpl.raw.items():
        if section not in SECTIONS:
            continue
        for path, ctx in _contexts(domain, section, body, money=SAMPLE_MONEY):
            variants = [("", ctx)]
            for var in _me_vars(domain, path, ctx):
                variants.append((var, {**ctx, var: _Me("me")}))
            phrasings = tpl._phrasings(path)
            for i, text in enumerate(phrasings):
                if not isinstance(text, str):
                    continue
                where = path + (i,) if isinstance(_get(tpl.raw, path), list) else path
                for var, c in variants:
                    try:
                        rendered = tpl.env.from_string(text).render(**c)
                    except (jinja2.TemplateError, TypeError, ValueError, ArithmeticError):
                        break  # `problems` reports it
                    name = ".".join(str(p) for p in path)
                    found = []
                    if not var:
                        for rx, what, hint in TEXT_PATTERNS:
                            m = rx.search(rendered)
                            if m:
                                found.append((f"{name} {what.format(found=m.group(0))}", hint))
                        sents = sentences_of(rendered)
                        if len(sents) != len(set(sents)):
                            found.append((f"{name} says one sentence twice", "say each thing once"))
                    else:
                        m = THIRD_PERSON_ME.search(rendered)
                        if m:
                            field = "parent" if var == "parent" else var
                            found.append((
                                f"{name} makes the user a third person when {{{{ {field} }}}} is the user "
                                f"themself: \"{rendered.strip()}\"",
                                f"the user renders as \"me\": write {{{{ {field}|possessive }}}} ... (\"my\" for the "
                                f"user) or {{% if {field} is me %}}my ...{{% else %}}the ... of {{{{ {field} }}}}{{% endif %}}"))
                    for msg, hint in found:
                        if (where, msg) not in seen:
                            seen.add((where, msg))
                            err = tpl._at(where, msg, hint)
                            err.severity = "warning"
                            out.append(err)
    return out


def _me_vars(domain: Domain, path: tuple, ctx: dict) -> list[str]:
    """The record variables of a phrasing that can be the user themself."""
    if path[0] == "intents":
        tool = domain.tools.get(path[1])
        if tool is None:
            return []
        return [v for v, e in tool.record_vars().items() if e == domain.actor and v in ctx]
    if path[0] == "links" and len(path) >= 2:
        target = path[1]
        fields = [path[2]] if len(path) > 2 else None
        actor = domain.entities.get(domain.actor)
        if actor is None:
            return []
        for f in actor.fields.values():
            if f.type.kind == "ref" and f.type.entity == target and (fields is None or f.name in fields):
                return ["parent"]
    return []


def _get(node: Any, path: tuple) -> Any:
    for p in path:
        node = node[p]
    return node


class _Record:
    """A record in a request ("{{ flight }}"): it renders as its description and has no fields."""

    __slots__ = ()

    def __str__(self) -> str:
        return "the record"


def example_value(t: T.VType, money: Optional[float] = None) -> Any:
    """A JSON value of the type, for rendering phrasings in `check`."""
    if t.kind == "money" and money is not None:
        return money
    if t.kind == "ref":
        return "X123"
    if t.kind in ("enum",) or (t.kind == "str" and t.values):
        return t.values[0]
    if t.kind == "str":
        return "text"
    if t.kind == "bool":
        return True
    lo = t.lo if t.lo is not None else 0
    return T.encode(t, lo)


def _record(domain: Domain, entity: str, money: Optional[float] = None) -> dict:
    ent = domain.entities[entity]
    return {"id": "X123", **{f.name: example_value(f.type, money) for f in ent.fields.values()}}


def _contexts(domain: Domain, section: str, body: Any, money: Optional[float] = None):
    """(path, context) for every phrasing list of a section, as `derive_task` renders them
    (`money`: the sample amount, for `text_problems` to see whether a phrasing formats it)."""
    def sample(t: T.VType) -> Any:
        return example_value(t, money)

    me = _record(domain, domain.actor, money)
    if section == "intro":
        yield (section,), {"me": me, "me_known": True}
    elif section in ("connectors", "closing", "earlier"):
        yield (section,), {}
    elif not isinstance(body, dict):
        return
    elif section == "again":
        for ent in body:
            if ent in domain.entities:
                yield (section, ent), _record(domain, ent, money)
    elif section in ("ids", "given_ids", "created"):
        for ent in body:
            yield (section, ent), ({} if section == "created" else {"id": "X123"})
    elif section == "links":
        for ent, sub in body.items():
            ctx = {"parent": "the record", "field": "field"}
            if isinstance(sub, dict):
                for field in sub:
                    yield (section, ent, field), ctx
            else:
                yield (section, ent), ctx
    elif section == "clarify":
        for ent in body:
            yield (section, ent), {"value": "Orion", "phrase": "the record"}
    elif section == "refs":
        for ent, refs in body.items():
            if ent not in domain.entities or not isinstance(refs, dict):
                continue
            for rname in refs:
                ref = domain.entities[ent].refs.get(rname)
                if ref is None:
                    continue
                stated = {".".join(p): sample(domain.path_type(ent, p)) for p in ref.filter}
                yield (section, ent, rname), nest(stated)
    elif section == "identify":
        for rname in body:
            ref = domain.entities[domain.actor].refs.get(rname)
            stated = {".".join(p): sample(domain.path_type(domain.actor, p)) for p in ref.filter} if ref else {}
            yield (section, rname), {"phrase": "the user", **nest(stated)}
    elif section == "conditions":
        tools = fallback_conditions(domain)
        for when in body:
            tool = domain.tools.get(tools.get(when, ""))
            args = {a.name: sample(a.type) for a in tool.args.values() if not a.is_ref} if tool else {}
            yield (section, when), {"request": "Please book it.", "fallback": "please book the other one.", "args": args}
    elif section == "intents":
        for tname in body:
            tool = domain.tools.get(tname)
            if tool is None:
                continue
            ctx: dict[str, Any] = {"me": me, "args": {a.name: sample(a.type) for a in tool.args.values()
                                                     if not a.is_ref}}
            created = {e.var for e in tool.created()}
            for var in tool.record_vars():
                if var not in created:
                    ctx[var] = _Record()
            listing = tool.returns.lists()
            if listing is not None:
                ctx.setdefault(listing.item, _Record())
            yield (section, tname), ctx
