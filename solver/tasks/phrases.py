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


def _money(v: Any) -> str:
    return f"${float(v):,.2f}"


def _words(v: Any) -> str:
    return str(v).replace("_", " ")


FILTERS = {"human_date": human_date, "money": _money, "words": _words}


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
    "links": "a record reached through a link, per entity (and field): parent, field",
    "intents": "a request, per tool: args, me, and the tool's record variables",
    "identify": "how the user lets the agent find them, per reference: phrase and the stated fields",
    "connectors": "words joining two requests: nothing",
    "clarify": "which record a description means, per entity: value, phrase",
    "given_ids": "an id the user states on the way, per entity: id",
    "closing": "the last words of the request: nothing",
}


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


def _get(node: Any, path: tuple) -> Any:
    for p in path:
        node = node[p]
    return node


class _Record:
    """A record in a request ("{{ flight }}"): it renders as its description and has no fields."""

    __slots__ = ()

    def __str__(self) -> str:
        return "the record"


def example_value(t: T.VType) -> Any:
    """A JSON value of the type, for rendering phrasings in `check`."""
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


def _record(domain: Domain, entity: str) -> dict:
    ent = domain.entities[entity]
    return {"id": "X123", **{f.name: example_value(f.type) for f in ent.fields.values()}}


def _contexts(domain: Domain, section: str, body: Any):
    """(path, context) for every phrasing list of a section, as `derive_task` renders them."""
    me = _record(domain, domain.actor)
    if section == "intro":
        yield (section,), {"me": me, "me_known": True}
    elif section in ("connectors", "closing"):
        yield (section,), {}
    elif not isinstance(body, dict):
        return
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
                stated = {".".join(p): example_value(domain.path_type(ent, p)) for p in ref.filter}
                yield (section, ent, rname), nest(stated)
    elif section == "identify":
        for rname in body:
            ref = domain.entities[domain.actor].refs.get(rname)
            stated = {".".join(p): example_value(domain.path_type(domain.actor, p)) for p in ref.filter} if ref else {}
            yield (section, rname), {"phrase": "the user", **nest(stated)}
    elif section == "intents":
        for tname in body:
            tool = domain.tools.get(tname)
            if tool is None:
                continue
            ctx: dict[str, Any] = {"me": me, "args": {a.name: example_value(a.type) for a in tool.args.values()
                                                     if not a.is_ref}}
            created = {e.var for e in tool.created()}
            for var in tool.record_vars():
                if var not in created:
                    ctx[var] = _Record()
            listing = tool.returns.lists()
            if listing is not None:
                ctx.setdefault(listing.item, _Record())
            yield (section, tname), ctx
