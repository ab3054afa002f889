"""Stage 1: turn a shape-checked `Spec` into a typed `Domain`, reporting every mistake located.

Fields, entities and pools first (so paths can be resolved), then invariants, references and
tools; each expression is parsed and type-checked once, and what later stages need - the
bare field names of an entity block rewritten to `record.field`, defaults filled in for create
effects - is settled here.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Optional

from . import grammar as E
from . import types as T
from .model import (Arg, CreateEffect, DeleteEffect, Domain, Entity, FieldInfo, ListResult, Reference,
                    Requirement, Returns, SetEffect, Tool, path_type)
from .shape import ArgSpec, Spec
from .nulls import nullable_prefixes
from .typecheck import NAME_RE, RESERVED, Checker, Names, TypeChecker, TypeMistake, did_you_mean
from .types import VType


def _field_type(c: Checker, fs, path, pools: dict[str, list[str]], allow_ref: bool = True) -> Optional[VType]:
    """VType for a FieldSpec/ArgSpec, with located errors."""
    k = fs.type
    if k is None:
        c.err(path, "missing 'type'", "write e.g. 'type: int' (int, money, str, enum, bool, date, datetime, time)")
        return None
    lo = hi = None
    base = {"int": T.INT, "date": T.DATE, "datetime": T.DATETIME, "time": T.TIME, "bool": T.BOOL}.get(k)
    if k == "time":  # a time of day is bounded by the clock unless the spec narrows it
        lo, hi = T.TIME.lo, T.TIME.hi
    if k == "money":
        places = fs.places if fs.places is not None else 2
        if not 0 <= places <= 6:
            c.err(path + ("places",), f"places must be between 0 and 6, not {places}", "money usually has 'places: 2'")
            return None
        base = T.money(places)
    if k == "enum":
        if not fs.values:
            c.err(path + ("type",), "an enum needs its values", "add 'values: [a, b, c]'")
            return None
        if len(set(fs.values)) != len(fs.values):
            c.err(path + ("values",), "enum values must be different from each other")
        for i, v in enumerate(fs.values):
            if not isinstance(v, str) or not v:
                c.err(path + ("values", i), "enum values must be non-empty text")
                return None
        return VType("enum", values=tuple(fs.values))
    if k == "str":
        pool = getattr(fs, "pool", None)
        fmt = getattr(fs, "format", None)
        if pool is not None:
            if pool not in pools:
                c.err(path + ("pool",), f"unknown pool '{pool}'", did_you_mean(pool, pools, "pools"))
                return None
            return VType("str", values=tuple(pools[pool]), pool=pool)
        if fmt is None:
            c.err(path + ("type",), "a str field needs a 'pool' (values to draw from) or a 'format'",
                  "add 'pool: <name>' with the pool under 'pools:', or 'format: \"{first_name}{n}@example.com\"'")
            return None
        return VType("str")
    if k == "ref":
        ent = getattr(fs, "entity", None)
        if not allow_ref:
            c.err(path + ("type",), "use 'ref: <entity>' for an id argument", "write e.g. 'user_id: {ref: user}'")
            return None
        if ent is None:
            c.err(path + ("type",), "a ref field needs 'entity: <name>'")
            return None
        if ent not in c.spec.entities:
            c.err(path + ("entity",), f"unknown entity '{ent}'", did_you_mean(ent, c.spec.entities, "entities"))
            return None
        return VType("ref", entity=ent, nullable=bool(getattr(fs, "nullable", False)))
    assert base is not None
    # numeric / date bounds
    for key in ("min", "max"):
        raw = getattr(fs, key, None)
        if raw is None:
            continue
        try:
            val = T.parse_bound(base, raw)
        except (T.ValueError_, ValueError) as e:
            c.err(path + (key,), f"bad {key} for a {k} field: {e}")
            return None
        if key == "min":
            lo = val
        else:
            hi = val
    if lo is not None and hi is not None and lo > hi:
        c.err(path + ("min",), "min is larger than max", "swap them")
        return None
    if k in ("int", "money", "date", "datetime") and (lo is None or hi is None):
        c.err(path + ("type",), f"{'an' if k[0] in 'aeiou' else 'a'} {k} field needs both 'min' and 'max'",
              "bounds keep generated values realistic and the solver finite, e.g. 'min: 0, max: 500'")
        return None
    return VType(base.kind, places=base.places, lo=lo, hi=hi)


def _typical(c: Checker, fs, t: VType, path) -> Optional[tuple[int, int]]:
    if not getattr(fs, "typical", None):
        return None
    if t.kind not in T.BOUNDED_KINDS or len(fs.typical) != 2:
        c.err(path + ("typical",), "typical must be [low, high] on a number or date field")
        return None
    try:
        lo, hi = (T.parse_bound(t, v) for v in fs.typical)
    except (T.ValueError_, ValueError) as e:
        c.err(path + ("typical",), f"bad typical range: {e}")
        return None
    show = lambda v: T.encode(t, v)  # noqa: E731
    if lo > hi:
        c.err(path + ("typical", 0), f"typical is [low, high], but {show(lo)} is above {show(hi)}", "swap them")
        return None
    for i, v in enumerate((lo, hi)):
        if not (t.lo <= v <= t.hi):
            side = "below min" if v < t.lo else "above max"
            lim = t.lo if v < t.lo else t.hi
            c.err(path + ("typical", i), f"typical {show(v)} is {side} {show(lim)}",
                  f"keep typical within [{show(t.lo)}, {show(t.hi)}], e.g. [{show(t.lo)}, {show(lim)}]")
            return None
    return lo, hi


def _path(c: Checker, entity: str, text: Any, path, what: str, want_ref: Optional[str] = None,
          shown: Optional[str] = None) -> Optional[list[str]]:
    """Resolve a dotted field path from a record of `entity` (`shown`: what the author wrote)."""
    if not isinstance(text, str) or not text:
        c.err(path, f"expected a field path for {what}, e.g. 'origin' or 'flight.date'")
        return None
    shown = shown or text
    steps = text.split(".")
    ent = entity
    for i, s in enumerate(steps):
        fields = c.entities[ent].fields
        if s == "id" and i == len(steps) - 1:
            if want_ref is not None and ent != want_ref:
                c.err(path, f"'{shown}' must lead to a {want_ref} record (it is this {ent} itself)",
                      _to_actor_hint(c, entity, want_ref))
                return None
            return steps
        if s not in fields:
            c.err(path, f"{ent} has no field '{s}' (in {what} '{shown}')",
                  did_you_mean(s, fields, f"fields of {ent}"))
            return None
        ft = fields[s].type
        if i < len(steps) - 1:
            if ft.kind != "ref":
                c.err(path, f"'{s}' is not a reference, so '{shown}' cannot go past it")
                return None
            ent = ft.entity
        elif want_ref is not None and (ft.kind != "ref" or ft.entity != want_ref):
            c.err(path, f"'{shown}' must lead to a {want_ref} record (it is {ft.describe()})",
                  _to_actor_hint(c, entity, want_ref))
            return None
    return steps


def _to_actor_hint(c: Checker, entity: str, want: str) -> str:
    """Paths from a record of `entity` to a `want` record, two links deep, as a suggestion."""
    found = []
    for f in c.entities[entity].ref_fields():
        if f.type.entity == want:
            found.append(f.name)
        else:
            found += [f"{f.name}.{g.name}" for g in c.entities[f.type.entity].ref_fields() if g.type.entity == want]
    return f"write scope: {found[0]}" if found else f"{entity} has no link to a {want}: add a ref field"


def build_domain(spec: Spec, smap=None, file: str = "<spec>", text: str = "") -> Domain:
    """Check meaning and build the typed Domain. Raises SpecErrors with every problem found."""
    from ..errors import SpecErrors

    c = Checker(spec, smap, file)
    if not NAME_RE.match(spec.domain or ""):
        c.err(("domain",), f"domain name '{spec.domain}' must be a plain identifier", "e.g. 'airline'")
    try:
        c.today = T.parse_date(spec.today)
    except ValueError:
        c.err(("today",), f"'{spec.today}' is not a date", "write today: 2026-11-25")
    now = c.today * T.EPOCH_MINUTES_PER_DAY
    if spec.now is not None:
        try:
            now = T.parse_datetime(spec.now)
        except ValueError:
            c.err(("now",), f"'{spec.now}' is not a date-time", "write now: 2026-11-25T09:30")
    if spec.actor not in spec.entities:
        c.err(("actor",), f"unknown entity '{spec.actor}' for actor",
              did_you_mean(spec.actor, spec.entities, "entities"))

    pools: dict[str, list[str]] = {}
    for pname, values in spec.pools.items():
        if not values:
            c.err(("pools", pname), f"pool '{pname}' is empty", "list at least one value")
            continue
        bad = [v for v in values if not isinstance(v, str)]
        if bad:
            c.err(("pools", pname), f"pool '{pname}' must hold text values; {bad[0]!r} is not text", "quote it")
            continue
        if len(set(values)) != len(values):
            seen_v: set = set()
            for i, v in enumerate(values):
                if v in seen_v:
                    c.err(("pools", pname, i), f"pool '{pname}' lists '{v}' twice", f"remove the second '{v}'")
                    break
                seen_v.add(v)
        pools[pname] = list(dict.fromkeys(values))

    # entities: fields first (so paths can be resolved), then invariants and references
    for ename, es in spec.entities.items():
        p = ("entities", ename)
        if not NAME_RE.match(ename) or ename in RESERVED:
            c.err(p, f"'{ename}' cannot be an entity name", "use a plain identifier that is not a keyword", key=True)
        fields: dict[str, FieldInfo] = {}
        if not es.fields:
            c.err(p + ("fields",), f"entity '{ename}' has no fields")
        for fname, fs in es.fields.items():
            fp = p + ("fields", fname)
            if not NAME_RE.match(fname) or fname in RESERVED:
                c.err(fp, f"'{fname}' cannot be a field name",
                      "'id' is added automatically; use a plain identifier that is not a keyword", key=True)
                continue
            t = _field_type(c, fs, fp, pools)
            if t is None:
                continue
            if fs.unique and t.kind not in ("str", "int"):
                c.err(fp + ("unique",), "only str and int fields can be unique")
            for key in ("nullable", "refer_through"):
                if key in fs.model_fields_set and t.kind != "ref":
                    c.err(fp + (key,), f"'{key}' is only for ref fields, and {ename}.{fname} is {t.describe()}",
                          f"remove '{key}'", key=True)
            info = FieldInfo(fname, t, unique=fs.unique, format=fs.format, vary=fs.vary,
                             description=fs.description or "", refer_through=fs.refer_through)
            info.typical = _typical(c, fs, t, fp)
            if fs.default is not None:
                try:
                    info.default = T.decode(t, fs.default) if t.kind != "date" else T.parse_date(str(fs.default))
                except (T.ValueError_, ValueError) as e:
                    c.err(fp + ("default",), f"default does not fit the field: {e}")
            fields[fname] = info
        if es.label is not None:
            label = []
            for i, lf in enumerate(es.label):
                if lf not in fields:
                    c.err(p + ("label", i), f"'{lf}' is not a field of {ename}", did_you_mean(lf, fields, "fields"))
                else:
                    label.append(lf)
        else:
            label = [f.name for f in fields.values()
                     if f.type.kind == "str" and f.type.values and not f.unique and "name" in f.name]
        c.entities[ename] = Entity(
            ename, fields, es.id.prefix, es.id.length, es.id.alphabet, [], {}, es.count, es.description or "",
            label, es.slots,
        )
    for ename, ent in c.entities.items():
        for fname, info in ent.fields.items():
            if info.format:
                for m in re.finditer(r"\{([^}]*)\}", info.format):
                    ph = m.group(1)
                    if ph != "n" and ph not in ent.fields:
                        c.err_at(("entities", ename, "fields", fname, "format"), m.start(),
                                 f"format placeholder '{{{ph}}}' is not a field of {ename}",
                                 did_you_mean(ph, list(ent.fields) + ["n"], "placeholders"))

    for ename, es in spec.entities.items():
        if ename not in c.entities:
            continue
        ent = c.entities[ename]
        p = ("entities", ename)
        env = Names({ename: VType("ref", entity=ename)}, implicit=ename)
        for i, inv in enumerate(es.invariants):
            node = c.check_bool(inv, p + ("invariants", i), env)
            if node is not None:
                _qualify(node, ename, ent)
                ent.invariants.append((node, inv))
                ent.invariant_lines.append(c.smap.pos(p + ("invariants", i)).line if c.smap else 0)
        for rname, rs in es.refer.items():
            rp = p + ("refer", rname)
            ref = _build_reference(c, ename, rname, rs, rp, env, spec.actor)
            if ref:
                ent.refs[rname] = ref

    tools: dict[str, Tool] = {}
    for tname, ts in spec.tools.items():
        t = _build_tool(c, tname, ts, ("tools", tname))
        if t:
            tools[tname] = t
    for tname, t in tools.items():  # a fallback names goal tools (checked once every tool is built)
        for i, req in enumerate(t.requires):
            for j, other in enumerate(req.fallback_then):
                fp = ("tools", tname, "requires", i, "fallback", "then", j) if spec.tools[tname].requires[i].fallback.then \
                    else ("tools", tname, "requires", i, "fallback")
                if other not in tools:
                    c.err(fp, f"fallback of {tname} names '{other}', which is not a tool",
                          did_you_mean(other, tools, "tools"))
                elif not tools[other].is_goal:
                    c.err(fp, f"fallback of {tname} names '{other}', which cannot end a request",
                          "a fallback is a request: name a write tool, or a read tool with an 'answer:'")
            if req.fallback_when is not None and not t.is_write:
                c.err(("tools", tname, "requires", i, "fallback"), f"{tname} is a read tool: it is never refused as a request",
                      "declare fallbacks on the requirements of write tools")
    if not spec.tools:
        c.err(("tools",), "the spec has no tools", "add at least one read and one write tool")
    elif tools and not any(t.is_goal for t in tools.values()):
        c.err(("tools",), "no tool can end a task", "add a write tool, or an 'answer:' to a read tool")

    if c.errors:
        raise SpecErrors(c.errors)
    dumped = spec.model_dump(mode="json", by_alias=True)
    for es in dumped.get("entities", {}).values():
        for fs in es.get("fields", {}).values():
            # keys added to the format later hash only when written: a spec that does not use
            # them keeps its hash (and so its seeds and its datasets)
            for key, default in (("nullable", False), ("refer_through", True)):
                if fs.get(key) == default:
                    fs.pop(key)
    for ts in dumped.get("tools", {}).values():
        for rs in ts.get("requires", []):
            if isinstance(rs, dict) and rs.get("fallback") is None:
                rs.pop("fallback", None)
    canon = json.dumps(dumped, sort_keys=True)
    return Domain(
        name=spec.domain,
        title=spec.title or spec.domain,
        description=spec.description or "",
        version=spec.version,
        today=c.today,
        actor=spec.actor,
        now=now,
        policy=spec.policy or "",
        pools=pools,
        entities=c.entities,
        tools=tools,
        source=file,
        spec_hash=hashlib.sha256(canon.encode()).hexdigest()[:16],
        raw=spec,
    )


def _qualify(node: E.Node, var: str, ent: Entity) -> None:
    """Rewrite bare field names in an entity-scoped expression to `var.field`, in place."""
    for n in E.walk(node):
        for attr in ("obj", "operand", "left", "right", "item", "cond", "then", "other"):
            child = getattr(n, attr, None)
            if isinstance(child, E.Name) and child.id in ent.fields and child.id != var:
                new = E.Attr(E.Name(var, offset=child.offset, type=VType("ref", entity=ent.name)),
                             child.id, offset=child.offset, type=child.type)
                setattr(n, attr, new)
        for lst_attr in ("values", "options", "args"):
            lst = getattr(n, lst_attr, None)
            if isinstance(lst, list):
                for i, child in enumerate(lst):
                    if isinstance(child, E.Name) and child.id in ent.fields and child.id != var:
                        lst[i] = E.Attr(E.Name(var, offset=child.offset, type=VType("ref", entity=ent.name)),
                                        child.id, offset=child.offset, type=child.type)
    if isinstance(node, E.Name):  # pragma: no cover - a bare bool field as a whole condition
        pass


def _build_reference(c: Checker, ename: str, rname: str, rs, rp, env: Names, actor: str) -> Optional[Reference]:
    if not NAME_RE.match(rname):
        c.err(rp, f"'{rname}' cannot be a reference name", "use a plain identifier", key=True)
        return None
    if rs.id:
        if rs.filter or rs.where or rs.rank or rs.scope:
            c.err(rp + ("id",), "'id: true' means the user knows the id; it cannot be combined with filter/where/rank/scope",
                  "make a separate reference for the description")
            return None
        return Reference(rname, ename, True, [], None, None, None, None, rs.description or "")
    if not rs.filter and not rs.where and not rs.rank and not rs.scope:
        c.err(rp, f"reference '{rname}' does not describe anything",
              "give 'id: true', or a 'filter' of fields the user states, with an optional 'rank'")
        return None
    filt = []
    for i, f in enumerate(rs.filter):
        pth = _path(c, ename, f, rp + ("filter", i), "filter")
        if pth:
            filt.append(pth)
    where = None
    if rs.where is not None:
        where = c.check_bool(rs.where, rp + ("where",), env)
        if where is not None:
            _qualify(where, ename, c.entities[ename])
    scope = None
    if rs.scope is not None:
        scope = _path(c, ename, rs.scope, rp + ("scope",), "scope", want_ref=actor)
    rank = None
    if rs.rank is not None:
        rpth = _path(c, ename, rs.rank.by, rp + ("rank", "by"), "rank")
        if rpth:
            t = c_path_type(c, ename, rpth)
            empty = nullable_prefixes(c.entities, ename, rpth)
            if not t.ordered:
                c.err(rp + ("rank", "by"), f"cannot rank by '{rs.rank.by}': it is not a number or date",
                      "rank by a money, int, date or datetime field")
            elif empty:
                c.err(rp + ("rank", "by"), f"cannot rank by '{rs.rank.by}': {'.'.join(empty[0])} may be null, and a "
                      "record without it has no value to rank by",
                      "rank by a field of the record itself, or make the link not nullable")
            else:
                rank = (rpth, rs.rank.order)
    line = c.smap.pos(rp, key=True).line if c.smap else 0
    return Reference(rname, ename, False, filt, where, rs.where, scope, rank, rs.description or "", line)


def _arg(c: Checker, tname: str, aname: str, a: ArgSpec, ap, pools) -> Optional[Arg]:
    if not NAME_RE.match(aname) or aname in RESERVED:
        c.err(ap, f"'{aname}' cannot be an argument name", "use a plain identifier that is not a keyword", key=True)
        return None
    if a.ref is not None:
        if a.ref not in c.entities:
            c.err(ap + ("ref",), f"unknown entity '{a.ref}'", did_you_mean(a.ref, c.entities, "entities"))
            return None
        if a.type not in (None, "ref"):
            c.err(ap + ("type",), "an argument with 'ref' is an id; remove 'type'")
            return None
        var = a.as_ or (aname[:-3] if aname.endswith("_id") and len(aname) > 3 else aname)
        return Arg(aname, VType("ref", entity=a.ref), var, a.description or "")
    if a.as_ is not None:
        c.err(ap + ("as",), "'as' names the record bound by a 'ref' argument", "remove it, or add 'ref: <entity>'")
        return None
    if a.like is not None:
        parts = a.like.split(".")
        if len(parts) < 2 or parts[0] not in c.entities:
            c.err(ap + ("like",), f"'like' needs 'entity.field', got '{a.like}'",
                  did_you_mean(parts[0], c.entities, "entities") if parts else "")
            return None
        pth = _path(c, parts[0], ".".join(parts[1:]), ap + ("like",), "like", shown=a.like)
        if not pth:
            return None
        t = c_path_type(c, parts[0], pth)
        if t.kind == "ref":
            c.err(ap + ("like",), "'like' must name a value field; for ids use 'ref: <entity>'")
            return None
        return Arg(aname, t, None, a.description or "")
    t = _field_type(c, a, ap, pools, allow_ref=False)
    if t is None:
        return None
    return Arg(aname, t, None, a.description or "")


def c_path_type(c: Checker, entity: str, path: list[str]) -> VType:
    return path_type(c.entities, entity, path)


def _build_tool(c: Checker, tname: str, ts, tp) -> Optional[Tool]:
    if not NAME_RE.match(tname):
        c.err(tp, f"'{tname}' cannot be a tool name", "tool names are identifiers like 'book_reservation'", key=True)
        return None
    n_err = len(c.errors)
    # `actor` is the person talking to the agent (their record), in every tool
    names: dict[str, VType] = {"actor": VType("ref", entity=c.spec.actor)} if c.spec.actor in c.entities else {}
    args: dict[str, Arg] = {}
    for aname, a in ts.args.items():
        arg = _arg(c, tname, aname, a, tp + ("args", aname), c.spec.pools)
        if arg is None:
            continue
        key = arg.var if arg.is_ref else aname
        if key == "actor":
            c.err(tp + ("args", aname), "'actor' is the person talking to the agent, not an argument",
                  "use 'actor' in conditions directly, or name this record with 'as: <other name>'")
            continue
        if key in names:
            c.err(tp + ("args", aname), f"the name '{key}' is bound twice in tool '{tname}'",
                  "give one of the id arguments 'as: <other name>'", key=True)
            continue
        names[key] = arg.type
        args[aname] = arg
    env = Names(names)
    lets = []
    let_bounds: dict[str, tuple] = {}
    for lname, lsrc in ts.let.items():
        lp = tp + ("let", lname)
        if isinstance(lsrc, (int, float)) and not isinstance(lsrc, bool):
            lsrc = str(lsrc)
        if not NAME_RE.match(lname) or lname in RESERVED or lname in names:
            c.err(lp, f"'{lname}' cannot be used as a let name here", "pick a new identifier", key=True)
            continue
        node, lt = c.check_value(lsrc, lp, env)
        if node is not None:
            lets.append((lname, node, lt))
            names[lname] = lt
            if node.bounds is not None:
                let_bounds[lname] = node.bounds
            env = Names(names, bounds=let_bounds)
    requires = []
    for i, r in enumerate(ts.requires):
        # a plain-string item has no 'check' key in the source map; pos() falls back to the item
        node = c.check_bool(r.check, tp + ("requires", i, "check"), env)
        if node is not None:
            line = c.smap.pos(tp + ("requires", i, "check")).line if c.smap else 0
            req = Requirement(node, r.check, r.error or f"requirement not met: {r.check}", line)
            if r.fallback is not None:
                fp = tp + ("requires", i, "fallback")
                if not NAME_RE.match(r.fallback.when):
                    c.err(fp + ("when",), f"fallback 'when: {r.fallback.when}' is not a name",
                          "write an identifier such as 'full': its phrasings go under conditions.full in phrases.yaml")
                req.fallback_when = r.fallback.when
                req.fallback_then = tuple(r.fallback.then if r.fallback.then is not None else [tname])
            requires.append(req)
    effects = []
    created_vars: dict[str, str] = {}
    if ts.kind == "read" and ts.effects:
        c.err(tp + ("effects",), f"read tool '{tname}' has effects", "make it 'kind: write', or remove the effects",
              key=True)
    if ts.kind == "write" and not ts.effects:
        c.err(tp + ("kind",), f"write tool '{tname}' has no effects",
              "list what it changes under 'effects:', or make it 'kind: read'")
    for i, ef in enumerate(ts.effects):
        ep = tp + ("effects", i)
        kinds = [k for k in ("set", "create", "delete") if getattr(ef, k) is not None]
        if len(kinds) != 1:
            c.err(ep, "an effect is one statement ('x.f = v'), or one 'create:' or 'delete:'",
                  "split it into separate list items")
            continue
        if ef.set is not None:
            if ef.values is not None or ef.as_ is not None:
                c.err(ep, "'values'/'as' belong to a 'create:' effect")
                continue
            eff = _set_effect(c, ef.set, ep, env)
            if eff:
                effects.append(eff)
        elif ef.create is not None:
            eff = _create_effect(c, ef, ep, env, names)
            if eff:
                effects.append(eff)
                created_vars[eff.var] = eff.entity
                names[eff.var] = VType("ref", entity=eff.entity)
                env = Names(names, bounds=let_bounds)
        else:
            if ef.delete not in names or names[ef.delete].kind != "ref":
                c.err(ep + ("delete",), f"'{ef.delete}' is not a record variable of this tool",
                      did_you_mean(str(ef.delete), [k for k, v in names.items() if v.kind == "ref"], "records"))
                continue
            effects.append(DeleteEffect(ef.delete, f"delete {ef.delete}"))
    returns = _returns(c, ts.returns, tp + ("returns",), env, names)
    answer = answer_t = None
    if ts.answer is not None:
        if ts.kind != "read":
            c.err(tp + ("answer",), "only read tools have an 'answer'",
                  "a write tool's outcome is its state change")
        else:
            aenv = env
            if returns and returns.kind == "find" and returns.listing:
                aenv = Names({**names, returns.listing.item: VType("ref", entity=returns.listing.entity)},
                             bounds=let_bounds)
            answer, answer_t = c.check_value(ts.answer, tp + ("answer",), aenv)
    if len(c.errors) > n_err or returns is None:
        return None
    return Tool(tname, ts.kind, ts.description, args, lets, requires, effects, returns,
                answer, ts.answer, answer_t)


def _set_effect(c: Checker, src: str, ep, env: Names) -> Optional[SetEffect]:
    ep = ep + ("set",)  # a plain-string effect has no 'set' key; positions fall back to the item
    node = c.parse(src, ep, effect=True)
    if node is None:
        return None
    target = E.path_of(node.target)
    if target is None or len(target) < 2:
        c.err_at(ep, node.offset, "the target of an effect must be 'record.field'")
        return None
    try:
        tt = TypeChecker(c, env).tc(node.target)
        vt = TypeChecker(c, env).tc(node.value)
        if node.when is not None:
            wt = TypeChecker(c, env).tc(node.when)
            if wt.kind != "bool":
                c.err_at(ep, node.when.offset, "'when' needs a condition")
                return None
    except TypeMistake as e:
        c.err_at(ep, e.offset, e.message, e.hint)
        return None
    if target[-1] == "id":
        c.err_at(ep, node.target.offset, "ids cannot be changed",
                 "ids are fixed; to get a record with another id, create a new record instead")
        return None
    if node.op in ("+=", "-=") and tt.kind == "time":
        tgt = ".".join(target)
        c.err_at(ep, node.op_offset, f"'{node.op}' does not move a time of day ({tgt} is a time)",
                 f"write '{tgt} = {tgt} {node.op[0]} {E.unparse(node.value)}' (it wraps around midnight)")
        return None
    if node.op in ("+=", "-=") and tt.kind not in ("int", "money", "date", "datetime"):
        c.err_at(ep, node.op_offset, f"'{node.op}' needs a number or date field, but {'.'.join(target)} is {tt.describe()}",
                 "use '=' to set it")
        return None
    if node.op == "=" and tt.kind in ("date", "datetime") and vt.kind == "int":
        tgt = ".".join(target)
        v = E.unparse(node.value)
        c.err_at(ep, node.value.offset, f"{tgt} is a {tt.kind}, and {v} is a number",
                 f"to move it, write '{tgt} += {v}'; to set it, write '{tgt} = today + {v}'")
        return None
    holder = _Holder(node.value)
    try:
        if node.op == "=":
            tc = TypeChecker(c, env)
            _, _, holder.v = tc._unify_nodes(node.value, node.target, holder.v, tt, vt)
        else:
            if tt.kind == "datetime" and vt.kind == "duration":
                pass  # moves it by that many minutes
            elif tt.kind in ("date", "datetime"):
                if vt.kind != "int":
                    raise TypeMistake(node.value.offset, f"add a whole number of {'days' if tt.kind == 'date' else 'minutes'} to a {tt.kind}")
            else:
                tc = TypeChecker(c, env)
                if vt.kind not in T.NUMERIC_KINDS:
                    raise TypeMistake(node.value.offset, f"cannot add {vt.describe()} to {tt.describe()}")
                if tt.kind == "int" and vt.kind == "money":
                    raise TypeMistake(node.value.offset, f"{'.'.join(target)} is a whole number but the value is money")
                _, _, holder.v = tc._unify_nodes(node.value, node.target, holder.v, tt, vt)
    except TypeMistake as e:
        c.err_at(ep, e.offset, e.message, e.hint)
        return None
    return SetEffect(target, node.op, holder.v, node.when, src, tt)


class _Holder:
    def __init__(self, v):
        self.v = v


def _create_effect(c: Checker, ef, ep, env: Names, names) -> Optional[CreateEffect]:
    ename = ef.create
    if ename not in c.entities:
        c.err(ep + ("create",), f"unknown entity '{ename}'", did_you_mean(str(ename), c.entities, "entities"))
        return None
    var = ef.as_ or ename
    if var in names:
        c.err(ep + ("as",) if ef.as_ else ep + ("create",), f"'{var}' is already a name in this tool",
              "add 'as: new_<name>' to name the created record")
        return None
    ent = c.entities[ename]
    values: dict[str, E.Node] = {}
    given = ef.values or {}
    for fname, raw in given.items():
        vp = ep + ("values", fname)
        if fname not in ent.fields:
            c.err(vp, f"{ename} has no field '{fname}'", did_you_mean(fname, ent.fields, f"fields of {ename}"), key=True)
            continue
        ft = ent.fields[fname].type
        if raw is None:
            src = "null"  # YAML's null: no record
        elif isinstance(raw, bool):
            src = "true" if raw else "false"
        elif isinstance(raw, (int, float)):
            src = str(raw)
        else:
            src = raw
        if ft.kind in ("date", "datetime") and isinstance(raw, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2})?", raw):
            src = f'{ft.kind}("{raw}")'  # a bare date, as in field bounds
        elif ft.kind == "time" and isinstance(raw, str) and re.fullmatch(r"\d{2}:\d{2}", raw):
            src = f'time("{raw}")'  # a bare time of day
        node = c.parse(src, vp)
        if node is None:
            values[fname] = None  # reported; do not also say it is missing
            continue
        if isinstance(node, E.Name) and node.id not in env.names and node.id not in ("today", "now") and \
                (ft.kind == "enum" or (ft.kind == "str" and ft.values)):
            # a bare value: status: booked, title: Dune
            node = E.Lit(node.id, "str", offset=node.offset)
        try:
            vt = TypeChecker(c, env).tc(node)
            target = E.Name(f"{ename}.{fname}", type=ft)
            _, _, node = TypeChecker(c, env)._unify_nodes(node, target, node, ft, vt)
        except TypeMistake as e:
            c.err_at(vp, e.offset, f"{ename}.{fname}: {e.message}", e.hint)
            values[fname] = None
            continue
        values[fname] = node
    unknown = [f for f in given if f not in ent.fields]
    for fname, info in ent.fields.items():
        if fname in values:
            continue
        if unknown:  # a misspelled field name is the likelier mistake: it was reported
            values[fname] = None
            continue
        if info.default is not None:
            lit = E.Lit(info.default, "const", type=info.type)
            values[fname] = lit
        elif info.nullable:
            values[fname] = E.Lit(None, "null", type=info.type)  # a link nobody set: no record yet
        elif info.format:
            values[fname] = E.Lit(None, "generated", type=info.type)
        else:
            c.err(ep + ("values",) if ef.values is not None else ep + ("create",),
                  f"creating a {ename} does not set '{fname}', and the field has no default",
                  f"add '{fname}: <value>' under 'values:', or 'default:' to the field")
    if any(v is None for v in values.values()):
        return None
    return CreateEffect(ename, var, values, f"create {ename} as {var}")


def _listing(c: Checker, ls_entity: str, where_src, as_, expand, lp, env_names: dict) -> Optional[ListResult]:
    if ls_entity not in c.entities:
        c.err(lp, f"unknown entity '{ls_entity}'", did_you_mean(str(ls_entity), c.entities, "entities"))
        return None
    item = as_ or ls_entity
    if item in env_names:
        c.err(lp, f"'{item}' is already a name in this tool", "add 'as: <item name>' to name the listed records")
        return None
    names = {**env_names, item: VType("ref", entity=ls_entity)}
    where = None
    if where_src is not None:
        where = c.check_bool(where_src, lp[:-1] + ("where",), Names(names))
        if where is None:
            return None
    exp = []
    for i, x in enumerate(expand):
        pth = _path(c, ls_entity, x, lp[:-1] + ("expand", i), "expand")
        if pth:
            if c_path_type(c, ls_entity, pth).kind != "ref":
                c.err(lp[:-1] + ("expand", i), f"'{x}' is not a reference to expand")
                continue
            exp.append(pth)
    return ListResult(ls_entity, where, where_src, item, exp)


def _returns(c: Checker, rs, rp, env: Names, names: dict) -> Optional[Returns]:
    if rs is None:
        return Returns("none")
    kinds = [k for k in ("record", "list", "find", "value") if getattr(rs, k) is not None]
    if len(kinds) > 1:
        c.err(rp, f"'returns' has both '{kinds[0]}' and '{kinds[1]}'", "a tool returns one thing: record, list, find or value")
        return None
    if not kinds:
        c.err(rp, "'returns' needs one of: record, list, find, value")
        return None
    k = kinds[0]
    if k == "record":
        var = rs.record
        if var not in names or names[var].kind != "ref":
            c.err(rp + ("record",), f"'{var}' is not a record variable of this tool",
                  did_you_mean(str(var), [n for n, t in names.items() if t.kind == "ref"], "records"))
            return None
        ent = names[var].entity
        if rs.where is not None:
            c.err(rp + ("where",), "'where' belongs to 'list' or 'find'")
            return None
        exp = []
        for i, x in enumerate(rs.expand):
            pth = _path(c, ent, x, rp + ("expand", i), "expand")
            if pth:
                if c_path_type(c, ent, pth).kind != "ref":
                    c.err(rp + ("expand", i), f"'{x}' is not a reference to expand",
                          "expand embeds the records that ref fields point to; list ref fields only")
                    continue
                exp.append(pth)
        include = {}
        for iname, ls in rs.include.items():
            lr = _listing(c, ls.list, ls.where, ls.as_, ls.expand, rp + ("include", iname, "list"), names)
            if lr:
                if lr.where is None:
                    c.err(rp + ("include", iname), "an included list needs a 'where' that ties it to the record",
                          f"e.g. where: \"{lr.item}.{ent} == {var}\"")
                    continue
                include[iname] = lr
        if len(include) > 1:
            c.err(rp + ("include",), "a tool can include at most one related list")
            return None
        return Returns("record", var=var, expand=exp, include=include)
    if k in ("list", "find"):
        lr = _listing(c, getattr(rs, k), rs.where, rs.as_, rs.expand, rp + (k,), names)
        if lr is None:
            return None
        if k == "find" and lr.where is None:
            c.err(rp + (k,), "'find' needs a 'where' naming the record, e.g. where: \"user.email == email\"")
            return None
        if rs.include:
            c.err(rp + ("include",), "'include' belongs to 'record' returns")
            return None
        return Returns(k, listing=lr)
    node, t = c.check_value(rs.value, rp + ("value",), env)
    if node is None:
        return None
    return Returns("value", value=node, value_type=t)
