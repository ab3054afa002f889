"""Stage 4b: near-miss records, solved for by Z3 - never guessed.

For every description a walk relies on, records that come close and are wrong:

- `off_by_one`: fits every stated part but one (another date, another origin), and ranks better
  than the target, so a reader who skips that part picks it;
- `outranked`: fits the whole description but loses on the rank by a small margin (a price just
  above the cheapest, an order one day older than the most recent);
- `state_trap`: fits the stated values but fails the fixed condition (a cancelled flight, a
  returned item), and ranks better, so a reader who ignores the state picks it;
- `look_alike`: same name(s) and same named parent as the target (a namesake user, another
  variant of the same product), but not the record described.

Each is an extra object in the walk's Z3 model with the constraints of its kind; the walk's own
uniqueness constraints already cover every object, so a near miss can never become a second
answer, and no walk step touches it. A near miss the numbers cannot accommodate is dropped (and
counted), never the task.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Optional

import z3

from ..spec import grammar as E
from ..spec.meaning import TARGET, describe
from ..spec.model import Domain, Reference
from ..plan.walk import Walk
from .world import Obj, World

KINDS = ("outranked", "state_trap", "off_by_one", "look_alike")


@dataclass
class DistractorOptions:
    per_reference: int = 3  # 0 turns distractors off
    kinds: tuple[str, ...] = KINDS


@dataclass
class Planned:
    """One near miss, planned before solving."""

    name: str  # the root object
    kind: str
    step: int  # the selection step it targets (0-based), or the first use of a given object
    reference: str
    entity: str
    target: str  # the walk object it imitates
    part: Any = None  # filter path (list) / where conjunct (Node) / None
    breaks: str = ""  # the part of the description it breaks, in words
    objects: list[str] = field(default_factory=list)  # root and its cloned linked records
    templates: dict[str, str] = field(default_factory=dict)  # each of those -> the record it imitates
    tied: set = field(default_factory=set)  # (object, field) meant to equal the target's (hints copy them)
    visible: Any = None  # Z3 condition: listed by the tool at that step
    selection: bool = True  # False for namesakes of records the user names by id


def _label(domain: Domain, entity: str) -> list[str]:
    """The fields people call a record by (first and last name, a product's name)."""
    return domain.entities[entity].label


def _named_parents(domain: Domain, ref: Reference) -> list[str]:
    """Ref fields to records with a name, other than the owner ("my ...")."""
    owner = ref.scope[0] if ref.scope else None
    return [f.name for f in domain.entities[ref.entity].ref_fields()
            if _label(domain, f.type.entity) and f.name != owner]


def applicable(domain: Domain, ref: Reference) -> list[tuple[str, Any, str]]:
    """(kind, part, words) options for a reference, in priority order."""
    out: list[tuple[str, Any, str]] = []
    if ref.rank is not None:
        out.append(("outranked", None, f"ranks just behind the target on {'.'.join(ref.rank[0])}"))
    if ref.where is not None:
        for c in E.conjuncts(ref.where):
            out.append(("state_trap", c, f"fails the condition {E.unparse(c)}"))
    for p in ref.filter:
        last = domain.path_type(ref.entity, p)
        info = _field_at(domain, ref.entity, p)
        if info is not None and info.vary and last.kind != "ref":
            out.append(("off_by_one", p, f"another {'.'.join(p)}"))
    if _label(domain, ref.entity) or _named_parents(domain, ref):
        parent = _named_parents(domain, ref)
        words = f"same {parent[0]}, another {ref.entity}" if not _label(domain, ref.entity) else "same name, another record"
        out.append(("look_alike", None, words))
    return out


def _field_at(domain: Domain, entity: str, path: list[str]):
    ent = entity
    info = None
    for s in path:
        info = domain.entities[ent].fields.get(s)
        if info is None:
            return None
        if info.type.kind == "ref":
            ent = info.type.entity
    return info


def plan(domain: Domain, walk: Walk, rng: random.Random, options: DistractorOptions) -> list[Planned]:
    """Which near misses to build for this walk (before any solving)."""
    if options.per_reference <= 0:
        return []
    initial = set(walk.initial_objects())
    out: list[Planned] = []
    n = 0
    for k, step in enumerate(walk.steps):
        if step.select is None or step.select.object not in initial:
            continue
        tool = domain.tools[step.tool]
        entity = tool.returns.lists().entity
        ref = domain.entities[entity].refs[step.select.reference]
        options_here = [o for o in applicable(domain, ref) if o[0] in options.kinds]
        # one per kind first (in priority order), a random part within the kind
        by_kind: dict[str, list] = {}
        for o in options_here:
            by_kind.setdefault(o[0], []).append(o)
        chosen = []
        for kind in KINDS:
            if kind in by_kind and len(chosen) < options.per_reference:
                chosen.append(rng.choice(by_kind[kind]))
        for kind, part, words in chosen:
            n += 1
            out.append(Planned(f"x{n}", kind, k, ref.name, entity, step.select.object, part, words))
    # namesakes of records the user names by id (another user called Ava Kim)
    if "look_alike" in options.kinds:
        for obj in walk.given:
            entity = walk.objects[obj]
            if not _label(domain, entity):
                continue
            first = next((k for k, s in enumerate(walk.steps) if obj in s.binds.values()), 0)
            n += 1
            out.append(Planned(f"x{n}", "look_alike", first, "by_id", entity, obj, None,
                               "same name, another record", selection=False))
    return out


def add_objects(w: World, domain: Domain, planned: list[Planned]) -> None:
    """Create the near-miss records (and clones of the linked records they must differ in)."""
    for p in planned:
        varied: list[list[str]] = []
        if p.kind == "off_by_one":
            varied = [p.part]
        elif p.kind == "outranked":
            varied = [domain.entities[p.entity].refs[p.reference].rank[0]]
        elif p.kind == "state_trap":
            varied = [q[1:] for q in _paths_in(p.part)]
        elif p.kind == "look_alike" and not p.selection:
            # a namesake has its own links (its own manager, its own accounts): taking it for the
            # target must lead elsewhere, not to the target's records
            varied = [[f.name, "id"] for f in domain.entities[p.entity].ref_fields()]
        made: list[str] = []
        _make(w, domain, p.entity, p.target, varied, p.name, made, p.templates)
        p.objects = [p.name] + [x for x in made if x != p.name]
        p.tied = _tied(domain, p)
        for o in p.objects:
            w.object_group[o] = p.name


def _tied(domain: Domain, p: Planned) -> set:
    """The (object, field) pairs of a near miss that its description makes equal (or close) to
    the target's: the values it states, ranks by or tests - and, for a look-alike, its name."""
    if p.kind == "look_alike":
        return {(p.name, f) for f in _label(domain, p.entity)}
    if p.reference == "by_id":
        return set()
    ref = domain.entities[p.entity].refs[p.reference]
    paths = list(ref.filter) + ([ref.rank[0]] if ref.rank else [])
    if ref.where is not None:
        paths += [q[1:] for q in _paths_in(ref.where)]
    out = set()
    for path in paths:
        obj = p.name
        for step in path[:-1]:
            clone = f"{obj}_{step}"
            if clone not in p.templates:
                obj = None
                break
            obj = clone
        if obj is not None and path:
            out.add((obj, path[-1]))
    return out


def _paths_in(node: E.Node) -> list[list[str]]:
    out = []
    for n in E.walk(node):
        if isinstance(n, E.Attr):
            pth = E.path_of(n)
            if pth:
                out.append(pth)
    return out


def _make(w: World, domain: Domain, entity: str, template: str, varied: list[list[str]], name: str,
          made: list[str], templates: Optional[dict] = None) -> str:
    """A new record of `entity` linked like `template`, except that links a varied path runs
    through point to fresh clones (a reservation on *another* flight, for another date)."""
    links = {}
    for f in domain.entities[entity].ref_fields():
        linked = w.state[(template, f.name)]
        sub = [q[1:] for q in varied if q and q[0] == f.name and len(q) > 1]
        if linked is None:  # an empty link stays empty: there is no record to clone
            links[f.name] = None
        elif sub:
            links[f.name] = _make(w, domain, f.type.entity, linked.name, sub, f"{name}_{f.name}", made, templates)
        else:
            links[f.name] = linked.name
    w.add_object(name, entity, links)
    made.append(name)
    if templates is not None:
        templates[name] = template
    return name


def _near(w: World, t, a, b):
    """a is close to b but not equal (a 'near miss' of a value)."""
    if t.kind in ("date",):
        return z3.And(a != b, a - b <= 3, b - a <= 3)
    if t.kind == "datetime":
        return z3.And(a != b, a - b <= 3 * 1440, b - a <= 3 * 1440)
    if t.kind == "time":  # within an hour and a half on the same day
        return z3.And(a != b, a - b <= 90, b - a <= 90)
    if t.kind in ("int", "money"):
        span = max(1, ((t.hi or 0) - (t.lo or 0)) // 5)
        return z3.And(a != b, a - b <= span, b - a <= span)
    return z3.Not(w.as_bool(w.same(a, b)))


def _parts(w: World, domain: Domain, ref: Reference, o: Obj, target: Obj, actor: Obj) -> list[tuple[Any, Any]]:
    """The description's parts (spec/meaning.py) as Z3 conditions on `o`, the fixed condition
    split at its 'and's: a near miss breaks exactly one of them."""
    d = describe(domain, ref)
    env = w.description_env(ref, o, target, actor)
    parts: list[tuple[Any, Any]] = []
    for part in d.parts:
        if part.kind == "scope":
            parts.append(("scope", w.enc(part.node, env)))
        elif part.kind == "filter":
            parts.append((("filter", part.path), w.enc(part.node, env)))
    for i, c in enumerate(d.where_conjuncts()):
        parts.append((("where", i), w.enc(c, {ref.entity: o})))
    return parts


def _and(w: World, conds: list) -> Any:
    if any(c is False for c in conds):
        return False
    real = [w.as_bool(c) for c in conds if c is not True]
    return True if not real else (real[0] if len(real) == 1 else z3.And(real))


def constrain(w: World, domain: Domain, p: Planned, actor: Obj, label: str, visible: Any = None) -> None:
    """Add the constraints that make `p` a near miss of its kind (state at the selection step)."""
    d, target = w.obj(p.name), w.obj(p.target)
    p.visible = visible
    if not p.selection:  # a namesake of a record the user names by id
        same = [w.same(w.field(d, f), w.field(target, f)) for f in _label(domain, p.entity)]
        w.track(f"{label}: {p.name} has the same name as {p.target}", _and(w, same), "distractor", group=p.name)
        return
    ref = domain.entities[p.entity].refs[p.reference]
    parts = _parts(w, domain, ref, d, target, actor)
    conds = []
    if p.kind == "off_by_one":
        key = ("filter", tuple(p.part))
        conds += [c for k, c in parts if k != key]
        t = domain.path_type(p.entity, p.part)
        conds.append(_near(w, t, w.path(d, p.part), w.path(target, p.part)))
    elif p.kind == "outranked":
        conds += [c for _k, c in parts]
        rp = ref.rank[0]
        t = domain.path_type(p.entity, rp)
        a, b = w.path(d, rp), w.path(target, rp)
        span = _rank_margin(t)
        conds += [w.as_bool(_ranks_before(w, domain, ref, target, d)), a - b <= span, b - a <= span]
    elif p.kind == "state_trap":
        idx = next(i for i, c in enumerate(E.conjuncts(ref.where)) if c is p.part)
        conds += [c for k, c in parts if k != ("where", idx)]
        conds.append(z3.Not(w.as_bool(w.enc(p.part, {ref.entity: d}))))
    elif p.kind == "look_alike":
        conds += [w.same(w.field(d, f), w.field(target, f)) for f in _label(domain, p.entity)]
        # named parents are shared by construction; it must not fit the description
        conds.append(z3.Not(w.as_bool(_and(w, [c for _k, c in parts]))))
    if p.kind in ("off_by_one", "state_trap") and ref.rank is not None:
        conds.append(w.as_bool(_ranks_before(w, domain, ref, d, target)))  # tempting: it looks like the better pick
    w.track(f"{label}: near miss {p.name} ({p.kind}: {p.breaks}) for '{p.reference}'", _and(w, conds),
            "distractor", group=p.name)


def _ranks_before(w: World, domain: Domain, ref: Reference, a: Obj, b: Obj):
    """Z3 condition: `a` ranks strictly before `b` (the description's rank, spec/meaning.py)."""
    d = describe(domain, ref)
    return w.enc(d.rank, {d.record: b, TARGET: a})


def _rank_margin(t) -> int:
    if t.kind == "money":
        return max(t.scale, (t.hi - t.lo) // 20)  # a price just above: within 5% of the range
    if t.kind == "date":
        return 3
    if t.kind == "datetime":
        return 3 * 1440
    if t.kind == "time":
        return 60
    return max(1, ((t.hi or 0) - (t.lo or 0)) // 10)
