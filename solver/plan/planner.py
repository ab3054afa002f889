"""Stage 3: walks - plans over abstract records - enumerated, sampled and checked by clingo.

The program is plan/encoding.lp plus the domain's facts (plan/facts.py). It is grounded
incrementally, one step at a time (clingo multi-shot): `enumerate_walks` solves for every walk
of each length, `sample_walk` draws one with randomized decisions, and `Checker` grounds a
program once per shape of walk and then decides any number of walks of that shape by solving
under assumptions - how merged multi-intent walks are re-checked.
"""

from __future__ import annotations

import json
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from importlib import resources
from typing import Iterator, Optional

import clingo

from ..spec.model import Domain
from .walk import Selection, Walk, WalkStep, renumber, slot_names
from .facts import AspOptions, Facts, S, N, F, arg_symbol, slot_counts
from .scope import entities_for

SHOW = """
#show call/2. #show bind/3. #show argval/3. #show new/3. #show select/3.
#show given/1. #show ask/1. #show link/3. #show refuse/2. #show nolink/2. #show conditional/1.
"""
RANDOM_DECISIONS = ["--sign-def=rnd", "--rand-freq=0.5"]


def encoding() -> str:
    """The domain-independent rules (plan/encoding.lp)."""
    return resources.files(__package__).joinpath("encoding.lp").read_text(encoding="utf-8")


@dataclass
class WalkStats:
    per_length: Counter = field(default_factory=Counter)
    models: int = 0
    seconds: float = 0.0


def program_text(domain: Domain, options: Optional[AspOptions] = None) -> str:
    """The whole program for reading (`envsynth walks --show-asp`): rules, then the facts."""
    return encoding() + "\n% ---- the domain, as facts\n#program base.\n" + Facts(domain, options).text()


def control(domain: Domain, options: Optional[AspOptions], args: list[str], extra: str = "") -> tuple[clingo.Control, Facts]:
    facts = Facts(domain, options)
    ctl = clingo.Control(args + ["--warn=none"])
    ctl.add("base", [], facts.text() + extra)
    ctl.add("base", [], SHOW)
    ctl.add("base", [], encoding())
    return ctl, facts


def _sym(x: clingo.Symbol) -> str:
    if x.type == clingo.SymbolType.String:
        return x.string
    if x.type == clingo.SymbolType.Number:
        return str(x.number)
    return str(x)


def _decode(a: clingo.Symbol, cache: dict) -> tuple:
    """(name, arguments as Python values) of a shown atom. The same few atoms recur in every
    model, and reading a symbol through clingo's C interface costs more than the search: each is
    read once."""
    out = cache.get(a)
    if out is None:
        args = tuple(x.number if x.type == clingo.SymbolType.Number else _sym(x) for x in a.arguments)
        out = cache[a] = (a.name, args)
    return out


def walk_from_model(symbols: list[clingo.Symbol], length: int, actor: str, object_entity: dict[str, str],
                    cache: Optional[dict] = None) -> Walk:
    cache = {} if cache is None else cache
    tools = [""] * length
    binds: list[dict] = [{} for _ in range(length)]
    argv: list[dict] = [{} for _ in range(length)]
    creates: list[dict] = [{} for _ in range(length)]
    select: list = [None] * length
    ask = [False] * length
    refuse: list = [None] * length
    conditional = [False] * length
    given, links = [], {}
    for a in symbols:
        name, args = _decode(a, cache)
        if name == "call":
            tools[args[0] - 1] = args[1]
        elif name == "bind":
            binds[args[0] - 1][args[1]] = args[2]
        elif name == "argval":
            argv[args[0] - 1][args[1]] = str(args[2])
        elif name == "new":
            creates[args[0] - 1][args[1]] = args[2]
        elif name == "select":
            select[args[0] - 1] = Selection.model_construct(object=args[1], reference=args[2])
        elif name == "ask":
            ask[args[0] - 1] = True
        elif name == "refuse":
            refuse[args[0] - 1] = args[1]
        elif name == "conditional":
            conditional[args[0] - 1] = True
        elif name == "given":
            given.append(args[0])
        elif name == "link":
            links[f"{args[0]}.{args[1]}"] = args[2]
        elif name == "nolink":
            links[f"{args[0]}.{args[1]}"] = None  # an empty link
    used: dict[str, None] = {actor: None}
    steps = []
    for i in range(length):
        b = dict(sorted(binds[i].items()))
        steps.append(WalkStep.model_construct(tool=tools[i], binds=b, args=dict(sorted(argv[i].items())),
                                              creates=creates[i], select=select[i], ask=ask[i], refuse=refuse[i],
                                              conditional=conditional[i]))
        for o in list(b.values()) + list(creates[i].values()):
            used.setdefault(o, None)
    for o in given:
        used.setdefault(o, None)
    changed = True
    while changed:
        changed = False
        for k, v in links.items():
            if k.split(".")[0] in used and v is not None and v not in used:
                used[v] = None
                changed = True
    links = {k: v for k, v in sorted(links.items()) if k.split(".")[0] in used}
    objects = {o: object_entity[o] for o in sorted(used)}
    return Walk.model_construct(steps=steps, objects=objects, given=sorted(given), links=links, actor=actor)


def object_entities(facts: Facts) -> dict[str, str]:
    return {f"{ent}{i}": ent for ent, n in facts.slots.items() for i in range(1, n + 1)}


def horizon(ctl: clingo.Control, t: int) -> None:
    """Ground step t of an incrementally grounded program and move the query there: walks of
    exactly t steps are asked next (grounding 1..t-1 stays)."""
    ctl.ground([("step", [N(t)]), ("check", [N(t)])])
    if t > 1:
        ctl.release_external(F("query", [N(t - 1)]))
    ctl.assign_external(F("query", [N(t)]), True)


def enumerate_walks(
    domain: Domain,
    max_len: int = 3,
    min_len: int = 1,
    limit: Optional[int] = None,
    options: Optional[AspOptions] = None,
    stats: Optional[WalkStats] = None,
    clingo_args: Optional[list[str]] = None,
) -> Iterator[Walk]:
    """Yield every walk of length min_len..max_len (shortest first, then in a fixed order that
    does not depend on clingo's search), up to `limit` in total."""
    ctl, facts = control(domain, options, ["0", "--project=show"] + (clingo_args or []))
    ctl.ground([("base", [])])
    object_entity = object_entities(facts)
    actor = f"{domain.actor}1"
    produced = 0
    cache: dict = {}
    stats = stats if stats is not None else WalkStats()
    for t in range(1, max_len + 1):
        start = time.perf_counter()
        horizon(ctl, t)
        if t < min_len:
            continue
        # models come in the order of clingo's search, which any change to the program (or a
        # clingo upgrade) reshuffles; walks of one length are yielded sorted instead, so what a
        # dataset is made of depends on the walk space alone
        found = []
        with ctl.solve(yield_=True) as handle:
            for model in handle:
                w = walk_from_model(model.symbols(shown=True), t, actor, object_entity, cache)
                found.append((json.dumps(w.model_dump(), sort_keys=True), w))
        found.sort(key=lambda kw: kw[0])
        stats.seconds += time.perf_counter() - start
        for _key, w in found:
            stats.models += 1
            stats.per_length[t] += 1
            yield w
            produced += 1
            if limit is not None and produced >= limit:
                return


class Planner:
    """The planner of one domain, asked one goal at a time.

    Each question - the walks that end in goal G, a walk drawn for G - is answered by a program
    grounded for G's scope only (plan/scope.py: G and the lookups that can feed it), so its cost
    grows with what is asked, not with the size of the spec; the answers are the walks the whole
    program has that end in G. Walks of each goal come shortest first, then in a fixed order."""

    def __init__(self, domain: Domain, default_slots: int = 2):
        from .scope import Scopes

        self.domain = domain
        self.default_slots = default_slots
        self.scopes = Scopes(domain, slot_counts(domain, AspOptions(default_slots=default_slots))[domain.actor])

    def goals(self) -> list[str]:
        """The tools a walk can end in, in the order the spec writes them."""
        return [t.name for t in self.domain.tools.values() if t.is_goal]

    def options(self, goal: str, max_len: int, refusal: bool = False) -> AspOptions:
        return AspOptions(default_slots=self.default_slots, refusal=refusal, target=goal,
                          tools=self.scopes.tools_for(goal, max_len))

    def goal_walks(self, goal: str, max_len: int, refusal: bool = False,
                   stats: Optional[WalkStats] = None) -> list[Walk]:
        """Every walk of up to `max_len` steps whose (only) goal is a call of `goal` - with
        `refusal`, a call of it that is refused."""
        if refusal and not self.domain.tools[goal].is_write:
            return []
        return list(enumerate_walks(self.domain, max_len=max_len, options=self.options(goal, max_len, refusal),
                                    stats=stats))

    def sample(self, goal: str, length: int, seed: int, refusal: bool = False, extra_rules: str = "") -> Optional[Walk]:
        """One walk of exactly `length` steps ending in `goal`, drawn with randomized decisions."""
        return sample_walk(self.domain, length, seed, self.options(goal, length, refusal), extra_rules=extra_rules)


def sample_walk(domain: Domain, length: int, seed: int, options: Optional[AspOptions] = None,
                randomize: bool = True, extra_rules: str = "") -> Optional[Walk]:
    """One walk of exactly `length` steps, drawn by clingo with randomized decisions.

    clingo's seed alone barely moves its first answer (1 distinct walk in 60 seeds on airline,
    see benchmarks/bench.py); randomizing sign and variable choices gives near-uniform variety.
    A fresh Control per draw keeps the result a function of (program, seed) only, so sampled
    datasets stay deterministic whatever the worker count. `extra_rules` adds learned nogoods."""
    args = ["1", "--project=show", f"--seed={seed}"] + (RANDOM_DECISIONS if randomize else [])
    ctl, facts = control(domain, options, args, extra_rules)
    ctl.ground([("base", [])] + [("step", [N(t)]) for t in range(1, length + 1)]
               + [("check", [N(length)])])
    for t in range(1, length + 1):
        ctl.assign_external(F("query", [N(t)]), t == length)
    with ctl.solve(yield_=True) as handle:
        for model in handle:
            return walk_from_model(model.symbols(shown=True), length, f"{domain.actor}1", object_entities(facts))
    return None


class Checker:
    """Decides whether exact walks are plans the planner accepts (merged walks must satisfy every
    rule a planned one does). One program is grounded per shape - slots, goals, refusal, length,
    and the tools the walk calls (no other tool's atoms would be anything but false) - and each
    walk is a set of assumptions on its atoms: what the walk does is assumed true, every other
    choice of the same kind false."""

    KEEP = 16  # grounded shapes kept (each holds tens of MB): memory is bounded, and a domain that
    # meets more shapes re-grounds the least recently used (6 cost retail 40% of its multi-intent speed)

    def __init__(self, domain: Domain, extra_rules: str = "", read_fields_only: bool = True):
        self.domain = domain
        self.extra_rules = extra_rules  # learned nogoods, say
        # programs without the values of fields nothing reads or sets: the same plans and
        # starting values (initial_values fills the unread fields in), a third less to ground
        # where a shared record carries every module's fields
        self.read_fields_only = read_fields_only
        self._controls: OrderedDict[tuple, tuple[clingo.Control, dict[str, dict]]] = OrderedDict()

    def _shape(self, key: tuple) -> tuple[clingo.Control, dict[str, dict]]:
        if key in self._controls:
            self._controls.move_to_end(key)
        else:
            while len(self._controls) >= self.KEEP:
                self._controls.popitem(last=False)
            slots, goals, refusal, n, tools = key  # refusal: False, True, or "conditional"
            options = AspOptions(slots=dict(slots), max_goals=goals, refusal=bool(refusal),
                                 conditional=refusal == "conditional", tools=tools,
                                 read_fields_only=self.read_fields_only)
            ctl, _facts = control(self.domain, options, ["1"], self.extra_rules + "\n#show init/3.")
            ctl.ground([("base", [])] + [("step", [N(t)]) for t in range(1, n + 1)] + [("check", [N(n)])])
            ctl.assign_external(F("query", [N(n)]), True)
            for t in range(1, n):
                ctl.assign_external(F("query", [N(t)]), False)
            # each choice atom's program literal, looked up once: assumptions are then plain
            # literals (a symbol per assumption cost a lookup per atom per check)
            choices: dict[str, dict] = {}
            for name, arity in (("call", 2), ("bind", 3), ("argval", 3), ("new", 3), ("select", 3), ("ask", 1),
                                ("refuse", 2), ("refuse_at", 1), ("conditional", 1), ("given", 1), ("link", 3),
                                ("nolink", 2)):
                choices[name] = {a.symbol: a.literal for a in ctl.symbolic_atoms.by_signature(name, arity)}
            self._controls[key] = (ctl, choices)
        return self._controls[key]

    def _assume(self, walk: Walk):
        """The grounded program for the walk's shape and the walk as assumptions on it (None when
        the walk uses an atom the program cannot even derive), with the walk's objects' slots."""
        domain = self.domain
        names = slot_names(walk)
        w = renumber(walk)
        # the planner's usual slots, or more where the walk needs them: few shapes, each
        # grounded once (a walk does not have to use every slot)
        slots = slot_counts(domain, AspOptions())
        for o, ent in w.objects.items():
            slots[ent] = max(slots[ent], int(o[len(ent):]))
        goals = len(w.goal_steps(domain))
        refusal = "conditional" if any(s.conditional for s in w.steps) else any(s.refuse is not None for s in w.steps)
        # grounded for the walk's own tools only: every other tool's call would be assumed false
        tools = frozenset(s.tool for s in w.steps)
        slots = {e: n for e, n in slots.items() if e in entities_for(domain, tools)}
        ctl, choices = self._shape((tuple(sorted(slots.items())), max(goals, 1), refusal, len(w.steps), tools))
        want: set = set()
        for i, s in enumerate(w.steps, 1):
            want.add(F("call", [N(i), S(s.tool)]))
            want |= {F("bind", [N(i), S(v), S(o)]) for v, o in s.binds.items()}
            want |= {F("argval", [N(i), S(a), arg_symbol(x)]) for a, x in s.args.items()}
            want |= {F("new", [N(i), S(v), S(o)]) for v, o in s.creates.items()}
            if s.select:
                want.add(F("select", [N(i), S(s.select.object), S(s.select.reference)]))
            if s.ask:
                want.add(F("ask", [N(i)]))
            if s.refuse is not None:
                want |= {F("refuse", [N(i), N(s.refuse)]), F("refuse_at", [N(i)])}
            if s.conditional:
                want.add(F("conditional", [N(i)]))
        want |= {F("given", [S(o)]) for o in w.given}
        want |= {F("link", [S(k.split(".", 1)[0]), S(k.split(".", 1)[1]), S(v)]) if v is not None
                 else F("nolink", [S(k.split(".", 1)[0]), S(k.split(".", 1)[1])]) for k, v in w.links.items()}
        if any(a not in choices[a.name] for a in want):
            return ctl, None, names
        links = ("link", "nolink")
        assumptions = [lit if a in want else -lit
                       for name, atoms in choices.items() if name not in links for a, lit in atoms.items()]
        assumptions += [choices[a.name][a] for a in want if a.name in links]
        return ctl, assumptions, names

    def accepts(self, walk: Walk) -> bool:
        ctl, assumptions, _names = self._assume(walk)
        return assumptions is not None and ctl.solve(assumptions=assumptions).satisfiable

    def initial_values(self, walk: Walk) -> Optional[dict[tuple[str, str], list[str]]]:
        """For each enum and bool field of each record the walk starts with, the values it may
        start with in some plan of this walk (the planner's brave consequences: one solve), as
        the walk writes them ("true", "booked"); None if the walk is no plan. Joint constraints
        between fields are not in it: the product of these sets over-approximates."""
        ctl, assumptions, names = self._assume(walk)
        if assumptions is None:
            return None
        back = {v: k for k, v in names.items()}
        conf = ctl.configuration.solve
        conf.enum_mode, conf.models = "brave", "0"
        last = None
        try:
            with ctl.solve(assumptions=assumptions, yield_=True) as handle:
                for model in handle:
                    last = model.symbols(shown=True)
        finally:
            conf.enum_mode, conf.models = "auto", "1"
        if last is None:
            return None
        out: dict[tuple[str, str], list[str]] = {}
        for a in last:
            if a.name != "init" or len(a.arguments) != 3:
                continue
            obj, field, value = (_sym(x) for x in a.arguments)
            if obj not in back:
                continue
            kind = self.domain.entities[walk.objects[back[obj]]].fields[field].type.kind
            if kind in ("enum", "bool"):
                out.setdefault((back[obj], field), []).append(value)
        # the program tracks only the fields some rule reads or sets (`read_fields_only`: a large
        # spec's shared record has every module's); a field nothing reads may start with any value
        for obj in walk.initial_objects():
            for f in self.domain.entities[walk.objects[obj]].fields.values():
                if (obj, f.name) not in out and f.type.kind in ("enum", "bool"):
                    out[(obj, f.name)] = list(f.type.values) if f.type.kind == "enum" else ["false", "true"]
        return {k: sorted(v) for k, v in sorted(out.items())}


def check_walk(domain: Domain, walk: Walk, extra_rules: str = "") -> bool:
    """Is this exact walk a plan the planner accepts? (One walk; `Checker` for many.)"""
    return Checker(domain, extra_rules).accepts(walk)
