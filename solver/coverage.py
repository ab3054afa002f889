"""Coverage: which of the domain's behaviours a dataset exercises, and why the rest is missing.

Per task: the tools called, the tool-graph edges the plan uses (a step that reveals, creates or
changes what a later step needs), and the precondition branches taken (each side of an `or`,
each arm of an `if`). Per dataset (`envsynth stats`, and the manifest): totals against what the
spec allows, tool sequences, lengths, the multi-intent share - and for every tool or edge no task
covers, whether it is unreachable within the walk bound, infeasible, or just not sampled.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Optional

from .spec import grammar as E
from .plan.canonical import step_footprint
from .spec.model import Domain
from .plan.graph import var_entity, build_graph
from .runtime.execute import Runtime
from .plan.walk import Walk


def domain_branches(domain: Domain) -> list[str]:
    """Every precondition branch the spec has."""
    out = []
    for tool in domain.tools.values():
        for i, req in enumerate(tool.requires):
            if isinstance(req.expr, E.BoolOp) and req.expr.op == "or":
                out += [f"{tool.name}.requires[{i + 1}].or[{j + 1}]" for j in range(len(req.expr.values))]
            else:
                out.append(f"{tool.name}.requires[{i + 1}]")
        for name, node, _t in tool.lets:
            if isinstance(node, E.IfElse):
                out += [f"{tool.name}.let.{name}.then", f"{tool.name}.let.{name}.else"]
    return out


def graph_edges(domain: Domain) -> set[tuple[str, str, str]]:
    g = build_graph(domain)
    return {(u, v, d["kind"]) for u, v, d in g.edges(data=True)}


def walk_edges(domain: Domain, walk: Walk, allowed: Optional[set] = None) -> set[tuple[str, str, str]]:
    """Graph edges a walk exercises: i -> j when step i reveals/creates a record step j acts on,
    or changes a record step j's preconditions read."""
    fp = [step_footprint(domain, walk, s) for s in walk.steps]
    out = set()
    known = set(walk.given) | {walk.actor}
    for i, si in enumerate(walk.steps):
        ri, wi, vi = fp[i]
        new = vi - known
        created = set(si.creates.values())
        selected = {si.select.object} if si.select else set()
        for j in range(i + 1, len(walk.steps)):
            sj = walk.steps[j]
            tool_j = domain.tools[sj.tool]
            args = {sj.binds[a.var] for a in tool_j.args.values() if a.is_ref and a.var in sj.binds}
            if args & created & new:
                out.add((si.tool, sj.tool, "creates"))
            if args & selected & new:
                out.add((si.tool, sj.tool, "select"))
            if args & (new - created - selected):
                out.add((si.tool, sj.tool, "ids"))
            if domain.tools[si.tool].is_write and (wi & fp[j][0]):
                out.add((si.tool, sj.tool, "enables"))
        known |= vi
    if allowed is not None:
        out &= allowed
    return out


def task_coverage(domain: Domain, task) -> dict:
    """Tools, edges and precondition branches one task exercises (replayed on the runtime)."""
    rt = Runtime(domain, task.initial_db, task.certificate.actor)
    branches = set()
    for a in task.gold_actions:
        tool = domain.tools[a.name]
        env = rt.bind_arguments(tool, a.arguments)
        for name, node, _t in tool.lets:
            if isinstance(node, E.IfElse):
                branches.add(f"{tool.name}.let.{name}.{'then' if rt.ev.eval(node.cond, env) else 'else'}")
            env[name] = rt.ev.eval(node, env)
        for i, req in enumerate(tool.requires):
            if isinstance(req.expr, E.BoolOp) and req.expr.op == "or":
                for j, v in enumerate(req.expr.values):
                    if rt.ev.eval(v, env):
                        branches.add(f"{tool.name}.requires[{i + 1}].or[{j + 1}]")
            else:
                branches.add(f"{tool.name}.requires[{i + 1}]")
        rt.call(a.name, a.arguments)
    edges = sorted("|".join(e) for e in walk_edges(domain, task.certificate.walk))
    return {"tools": sorted({a.name for a in task.gold_actions}), "edges": edges, "branches": sorted(branches),
            "refusals": refusal_reasons(task.certificate.walk),
            "conditionals": conditional_branches(domain, task.certificate.walk)}


def declared_conditionals(domain: Domain) -> list[str]:
    """Every conditional branch the spec declares: `tool.requires[k] -> fallback tool`."""
    return [f"{t.name}.requires[{k}] -> {other}" for t in domain.tools.values()
            for k, r in enumerate(t.requires, 1) for other in r.fallback_then]


def conditional_branches(domain: Domain, walk: Walk) -> list[str]:
    """The refused branches of a walk's conditional requests, with the fallback taken."""
    goals = walk.goal_steps(domain)
    out = []
    for k in walk.conditionals():
        nxt = next((g for g in goals if g > k), None)
        if nxt is not None:
            out.append(f"{walk.steps[k].tool}.requires[{walk.steps[k].refuse}] -> {walk.steps[nxt].tool}")
    return sorted(out)


def refusal_reasons(walk: Walk) -> list[str]:
    """The requirements a walk's refused requests fail, as `tool.requires[k]` (1-based)."""
    return sorted(f"{s.tool}.requires[{s.refuse}]" for s in walk.steps if s.refuse is not None)


@dataclass
class Coverage:
    """Streaming counters over a dataset's tasks."""

    tools: Counter = field(default_factory=Counter)
    edges: Counter = field(default_factory=Counter)
    branches: Counter = field(default_factory=Counter)
    refused: Counter = field(default_factory=Counter)  # requirement -> tasks refusing by it
    conditionals: Counter = field(default_factory=Counter)  # conditional branch -> tasks taking it
    sequences: Counter = field(default_factory=Counter)
    lengths: Counter = field(default_factory=Counter)
    multi: int = 0
    refusals: int = 0
    tasks: int = 0
    walks: set = field(default_factory=set)  # canonical keys of the tasks' walks
    per_length: dict = field(default_factory=dict)  # length -> tasks, and the tools, edges, branches covered
    profiles: dict = field(default_factory=dict)  # difficulty dimension -> Counter of values

    def add(self, summary: dict) -> None:
        self.tasks += 1
        self.walks.add(summary["canonical"])
        cov = summary["coverage"]
        self.tools.update(cov["tools"])
        self.edges.update(cov["edges"])
        self.branches.update(cov["branches"])
        self.refused.update(cov["refusals"])
        self.conditionals.update(cov.get("conditionals", []))
        self.sequences[summary["walk"]] += 1
        self.lengths[summary["length"]] += 1
        self.multi += summary.get("goals", 1) > 1
        at = self.per_length.setdefault(summary["length"], {"tasks": 0, "tools": set(), "edges": set(), "branches": set()})
        at["tasks"] += 1
        for kind in ("tools", "edges", "branches"):
            at[kind] |= set(cov[kind])
        for dim, v in summary.get("profile", {}).items():
            self.profiles.setdefault(dim, Counter())[v] += 1
        self.refusals += bool(summary.get("refusal"))

    def by_length(self, domain: Domain, lengths: Iterable[int]) -> dict:
        """Coverage of tools, edges and branches per length bucket (`tasks.difficulty.bucket`: the
        lengths asked for start the buckets), and what each bucket covers that no shorter one does."""
        from .tasks.difficulty import bucket

        asked = sorted(set(lengths))
        groups: dict[str, dict] = {}
        for n in sorted(self.per_length):
            at = self.per_length[n]
            g = groups.setdefault(bucket(n, asked), {"tasks": 0, "tools": set(), "edges": set(), "branches": set()})
            g["tasks"] += at["tasks"]
            for kind in ("tools", "edges", "branches"):
                g[kind] |= at[kind]
        spec = {"tools": set(domain.tools), "edges": {"|".join(e) for e in graph_edges(domain)},
                "branches": set(domain_branches(domain))}
        totals = {k: len(v) for k, v in spec.items()}
        for g in groups.values():  # counted against the spec's, as the totals are
            for k in spec:
                g[k] &= spec[k]
        out, before = {}, {"tools": set(), "edges": set(), "branches": set()}
        for name, g in groups.items():
            out[name] = {"tasks": g["tasks"],
                         **{f"{k}_covered": len(g[k]) for k in totals},
                         **{f"{k}_total": t for k, t in totals.items()},
                         "edges_only_here": sorted(g["edges"] - before["edges"])}
            for k in before:
                before[k] |= g[k]
        return out

    def difficulty(self) -> dict:
        """The distribution of each difficulty dimension over the tasks (value -> tasks)."""
        return {dim: {str(v): c for v, c in sorted(self.profiles[dim].items())} for dim in sorted(self.profiles)}

    def report(self, domain: Domain, reachable: Optional[dict] = None) -> dict:
        """Totals against the spec, and what is missing with why (`reachable` comes from
        `reachable_within`: tools/edges some walk within the bound exercises, and those shown
        infeasible)."""
        all_tools = sorted(domain.tools)
        all_edges = sorted("|".join(e) for e in graph_edges(domain))
        all_branches = domain_branches(domain)
        missing_tools = {}
        for t in all_tools:
            if t not in self.tools:
                missing_tools[t] = _why(t, reachable, "tools")
        missing_edges = {}
        for e in all_edges:
            if e not in self.edges:
                missing_edges[e] = _why(e, reachable, "edges")
        out = {
            "tasks": self.tasks,
            "tools_total": len(all_tools),
            "tools_covered": sum(1 for t in all_tools if t in self.tools),
            "edges_total": len(all_edges),
            "edges_covered": sum(1 for e in all_edges if e in self.edges),
            "branches_total": len(all_branches),
            "branches_covered": sum(1 for b in all_branches if b in self.branches),
            "multi_intent_share": round(self.multi / self.tasks, 4) if self.tasks else 0.0,
            "refusal_share": round(self.refusals / self.tasks, 4) if self.tasks else 0.0,
            "lengths": {str(k): v for k, v in sorted(self.lengths.items())},
            "tool_sequences": dict(self.sequences.most_common()),
            "tool_calls": dict(sorted(self.tools.items())),
            "uncovered_tools": missing_tools,
            "uncovered_edges": missing_edges,
            "uncovered_branches": [b for b in all_branches if b not in self.branches],
            "refusal_reasons": dict(sorted(self.refused.items())),
        }
        declared = declared_conditionals(domain)
        if declared:  # conditional requests: the refused branch of each declared fallback (the other
            # branch, where the first option succeeds, is what `verify` checks for every such task)
            out["conditional_branches"] = {b: self.conditionals.get(b, 0) for b in declared}
            out["conditional_branches_covered"] = sum(1 for b in declared if self.conditionals.get(b))
            with_cond = sum(c for v, c in self.profiles.get("conditionals", Counter()).items() if v)
            out["conditional_share"] = round(with_cond / self.tasks, 4) if self.tasks else 0.0
        if reachable is not None:
            out["edges_reachable"] = len(reachable["edges"])
            out["edges_reachable_covered"] = sum(1 for e in reachable["edges"] if e in self.edges)
            out["canonical_walks"] = len(reachable["canonical"])
            out["canonical_walks_covered"] = len(reachable["canonical"] & self.walks)
        if reachable is not None and "refusals" in reachable:  # reachable_within(..., refusals=True)
            out["refusal_reasons_total"] = len(reachable["refusals"])
            out["refusal_reasons_covered"] = len(reachable["refusals"] & set(self.refused))
            out["uncovered_refusal_reasons"] = {r: "not sampled" for r in sorted(reachable["refusals"] - set(self.refused))}
        return out


def _why(item: str, reachable: Optional[dict], kind: str) -> str:
    """A placeholder until `explain_uncovered` asks the solvers."""
    if reachable is None:
        return "not covered"
    if item not in reachable[kind]:
        return f"no single-intent walk of up to {reachable['max_len']} steps has it"
    return "not sampled"


EXAMPLES = 4  # walks kept per tool and per edge, to explain what no task covers


def reachable_from(domain: Domain, walks: Iterable[Walk], max_len: int) -> dict:
    """Tools and edges the given walks exercise, their canonical keys, and a few example walks
    per tool and per edge (in the walks' order, so explanations are deterministic)."""
    from .plan.canonical import canonical_key

    allowed = graph_edges(domain)
    tools, edges, keys = set(), set(), set()
    examples: dict[str, list[Walk]] = {}
    for w in walks:
        key = canonical_key(domain, w)
        if key in keys:
            continue
        keys.add(key)
        w_tools = {s.tool for s in w.steps}
        w_edges = {"|".join(e) for e in walk_edges(domain, w, allowed)}
        tools |= w_tools
        edges |= w_edges
        for item in w_tools | w_edges:
            ex = examples.setdefault(item, [])
            if len(ex) < EXAMPLES:
                ex.append(w)
    return {"max_len": max_len, "tools": tools, "edges": edges, "canonical": keys, "examples": examples}


def reachable_within(domain: Domain, max_len: int, refusals: bool = False) -> dict:
    """`reachable_from` every single-intent walk of up to `max_len` steps; with `refusals`, also
    the requirements some refusal walk within the bound fails (the reasons a dataset can hold).
    Asked one goal at a time, so only one goal's walks are held at once."""
    from .plan.planner import Planner

    planner = Planner(domain)
    out = reachable_from(domain, (w for g in planner.goals() for w in planner.goal_walks(g, max_len)), max_len)
    if refusals:
        out["refusals"] = set()
        for g in planner.goals():
            for w in planner.goal_walks(g, max_len, refusal=True):
                for r in refusal_reasons(w):
                    out["refusals"].add(r)
                    ex = out["examples"].setdefault(r, [])
                    if len(ex) < EXAMPLES:
                        ex.append(w)
    return out


REASONS = ("never", "unreachable", "infeasible", "not built", "not sampled")  # an explanation's first word(s)
PROVE_LEN = 6  # the longest walk the targeted solve asks clingo for (each length one solve)
PROVE_SLOTS = 2  # records of each kind in the targeted solve (the planner's default)


def reason_code(why: str) -> str:
    """The kind of an explanation: the REASONS entry it starts with."""
    return next((r for r in REASONS if why.startswith(r)), "other")


def _linked_entities(domain: Domain, entity: str) -> set[str]:
    """Entities one or more links away from `entity` (a reservation's flight and user, ...)."""
    out: set[str] = set()
    frontier = [entity]
    while frontier:
        for f in domain.entities[frontier.pop()].ref_fields():
            if f.type.entity not in out:
                out.add(f.type.entity)
                frontier.append(f.type.entity)
    return out


def never_edge(domain: Domain, edge: str) -> Optional[str]:
    """A proof, for walks of any length, that no walk exercises `edge` (as `walk_edges` counts
    it), in the spec's terms; None when there is none. Two arguments, both for `ids` edges (B acts
    on a record A newly reveals that A neither created nor selected), each per graph edge u->v:
    - the record is of the user's own kind, of which a walk has one - the user, known from the
      start (one slot: facts.slot_counts; merges map each intent's user to the same one);
    - A reveals records of that kind only as its own argument (which the agent must already know,
      the planner's rule) or by creating or selecting them: none is one link or more away from
      what it returns or lists."""
    a, b, kind = edge.split("|")
    if kind != "ids":
        return None
    tool = domain.tools[a]
    g = build_graph(domain)
    entities = {d["entity"] for u, v, d in g.edges(data=True) if u == a and v == b and d["kind"] == kind}
    actor_alone = domain.entities[domain.actor].slots in (None, 1) and \
        not any(c.entity == domain.actor for t in domain.tools.values() for c in t.created())
    r = tool.returns
    revealed: set[str] = set()  # kinds A can newly reveal without creating or selecting them
    if r.kind == "record":
        returned_is_arg = any(x.is_ref and x.var == r.var for x in tool.args.values()) or \
            any(c.var == r.var for c in tool.created())
        ent = var_entity(domain, tool, r.var)
        revealed |= _linked_entities(domain, ent) | (set() if returned_is_arg else {ent})
        for lr in r.include.values():
            revealed |= _linked_entities(domain, lr.entity)
    elif r.kind in ("list", "find"):
        revealed |= _linked_entities(domain, r.listing.entity)
    why = []
    for ent in sorted(entities):
        if ent == domain.actor and actor_alone:
            why.append(f"the {ent} {b} takes is the user themself, known from the start (a task has one {ent})")
        elif ent not in revealed:
            how = f"returns the {ent} it is given" if r.kind == "record" and ent == var_entity(domain, tool, r.var) \
                else f"reveals no {ent} it did not create or list"
            why.append(f"{a} {how}, and {b} can only act on a {ent} the agent already knows")
        else:
            return None
    return "never: " + "; ".join(why) + " (for walks of any length)"


def edge_rules(domain: Domain, edge: str) -> str:
    """clingo rules asking the planner for a walk that exercises `edge` (`walk_edges`' meaning,
    loosened where the planner's knowledge differs, so that no walk with the edge is excluded:
    an unsatisfiable answer is a proof; a walk found is re-checked with `walk_edges`)."""
    a, b, kind = edge.split("|")
    A, B = f'"{a}"', f'"{b}"'
    out = ["#program check(t)."]
    if kind == "enables":
        for name, tool, step in (("e_wr", a, "S"), ("e_rd", b, "T")):
            out.append(f"{name}({step},O) :- call({step},\"{tool}\"), bind({step},_,O).")
            out.append(f"{name}({step},P) :- {name}({step},O), link(O,_,P).")
        if domain.tools[a].actor_access == "write":
            out.append(f"e_wr(S,O) :- call(S,{A}), actor(O).")
        if domain.tools[b].actor_access:
            out.append(f"e_rd(T,O) :- call(T,{B}), actor(O).")
        out.append(f"e_hit(t) :- call(S,{A}), call(T,{B}), S < T, T <= t, e_wr(S,O), e_rd(T,O).")
    else:
        cond = {"creates": "new(S,_,O)", "select": "select(S,O,_)",
                "ids": "e_rev(S,O), not known(O,S), not new(S,_,O), not select(S,O,_), not actor(O)"}[kind]
        out += [f"e_rev(S,O) :- call(S,{A}), select(S,O,_).",
                f"e_rev(S,O) :- call(S,{A}), returns_record({A},V), bind(S,V,O).",
                "e_rev(S,P) :- e_rev(S,O), link(O,_,P)."]
        out.append(f"e_hit(t) :- call(S,{A}), call(T,{B}), S < T, T <= t, refarg({B},V,_), bind(T,V,O), {cond}.")
    out.append(":- query(t), not e_hit(t).")
    return "\n".join(out) + "\n"


def targeted_walk(domain: Domain, edge: str, most: int, seed: int = 0, draws: int = 3) -> tuple[Optional[Walk], int]:
    """The shortest walk (any number of intents, PROVE_SLOTS records of a kind, every request
    carried out) that exercises `edge`, asked of clingo one length at a time from 2 to `most`;
    and the longest length searched. (None, most) is a proof that there is none that short."""
    from .plan.facts import AspOptions
    from .plan.planner import sample_walk

    rules = edge_rules(domain, edge)
    for n in range(2, most + 1):
        opts = AspOptions(default_slots=PROVE_SLOTS, max_goals=n)
        for k in range(draws):  # the loosened rules may admit a walk `walk_edges` does not count
            w = sample_walk(domain, n, seed + k, opts, extra_rules=rules)
            if w is None:
                break  # unsatisfiable at this length: no other seed finds one
            if edge in {"|".join(e) for e in walk_edges(domain, w)}:
                return w, n
    return None, most


def explain_uncovered(domain: Domain, report: dict, reachable: dict, seed: int = 0,
                      lengths: Iterable[int] = (), longest: Optional[int] = None, prove_len: int = PROVE_LEN) -> None:
    """Replace the guesses in `report['uncovered_tools']`, `['uncovered_edges']` and
    `['uncovered_refusal_reasons']` with what the solvers say, true for every length a task can
    have (single intents of up to `reachable['max_len']` steps, and chains of them up to
    `longest`); walks shown are put in the length buckets `lengths` start. Each uncovered edge gets the first of these that holds:
    - *never*: a structural proof for any length (`never_edge`);
    - *not sampled*: a walk the generator builds - one intent, or two chained as `--length-mix`
      and `--multi-intent` chain them (merge, re-checked by the planner) - exercises it and Z3
      solves it;
    - *not built*: clingo, asked for a walk through the edge (`targeted_walk`), finds one Z3
      solves, but it is no walk the generator's chaining made;
    - *infeasible*: every walk found through it is one Z3 proves impossible (the clash, in the
      spec's words);
    - *unreachable within N steps*: clingo proves that no walk of up to N steps exercises it.
    A tool no single intent calls is never called: longer tasks only chain single intents."""
    import random

    from .plan.graph import why_unreachable
    from .plan.merge import merge
    from .state.synth import Infeasible, ReplayMismatch, synthesize
    from .plan.planner import Checker
    from .tasks.difficulty import bucket

    checker = Checker(domain)
    n = reachable["max_len"]
    examples = reachable["examples"]
    allowed = graph_edges(domain)
    asked = sorted(set(lengths))
    longest = max(asked + [n, longest or 0])

    def seq(w: Walk) -> str:
        k = len(w.goal_steps(domain))
        at = f"{len(w.steps)} step{'s' if len(w.steps) != 1 else ''}, {k} intent{'s' if k != 1 else ''}"
        if asked:
            at += f", length bucket {bucket(len(w.steps), asked)}"
        return " > ".join(w.tool_sequence()) + f" ({at})"

    def first_solved(walks: Iterable[Walk], reasons: Counter) -> Optional[Walk]:
        for k, w in enumerate(walks):
            try:
                synthesize(domain, w, seed + k)
                return w
            except Infeasible as e:
                reasons.update(e.core or [e.reason])
            except ReplayMismatch as e:
                reasons[f"the solver and the runtime disagree ({e})"] += 1
        return None

    def infeasible(reasons: Counter, what: str) -> str:
        top = "; ".join(r for r, _n in reasons.most_common(3))
        return f"infeasible: every {what} tried through it is impossible because {top}"

    def solvable(item: str) -> str:
        reasons: Counter = Counter()
        w = first_solved(examples.get(item, []), reasons)
        return f"not sampled: {seq(w)} solves (ask for more tasks)" if w else infeasible(reasons, "walk")

    def merges(edge: str) -> tuple[list[Walk], int]:
        """Merges of an example walk through the edge's first tool with one through its second
        that exercise the edge and that the planner accepts, both ways the generator merges (the
        chain builder's, through the records it shares first, and multi-intent's); and how many
        merges were tried."""
        first_tool, second_tool, _kind = edge.split("|")
        found: list[Walk] = []
        tried = 0
        for a in examples.get(first_tool, []):
            for b in examples.get(second_tool, []):
                for shared in (True, False, False):  # merge picks what to unify by seed
                    tried += 1
                    m = merge(domain, a, b, random.Random(seed + tried), prefer_shared=shared)
                    if m is not None and edge in {"|".join(e) for e in walk_edges(domain, m, allowed)} \
                            and checker.accepts(m):
                        found.append(m)
                        if len(found) == EXAMPLES:
                            return found, tried
        return found, tried

    def edge_reason(edge: str) -> str:
        proof = never_edge(domain, edge)
        if proof is not None:
            return proof
        if edge in reachable["edges"]:
            return solvable(edge)
        reasons: Counter = Counter()
        found, tried = merges(edge)
        w = first_solved(found, reasons)
        if w is not None:
            return f"not sampled: needs two intents in one task, e.g. {seq(w)}, which solves (ask for more tasks)"
        most = min(prove_len, longest)
        t, searched = targeted_walk(domain, edge, most, seed)
        if t is not None:
            w = first_solved([t], reasons)
            if w is not None:
                if found:  # the generator's own chains through it are impossible, this walk is not
                    top = "; ".join(r for r, _n in reasons.most_common(2))
                    return (f"not built: {seq(w)} has it and solves, but the {len(found)} chains of two intents "
                            f"the generator builds through it that were tried are impossible because {top}")
                return (f"not built: {seq(w)} has it and solves, but no single intent of up to {n} steps has it "
                        f"and none of {tried} chains of two intents merged as the generator merges them does (it "
                        "chains an intent to an earlier one only through a record that one acts on or creates, "
                        "which the user then names)")
        if reasons:
            return infeasible(reasons, "merged walk" if found and t is None else "walk")
        a, b, kind = edge.split("|")
        what = {"ids": f"reveals a record {b} then acts on", "select": f"picks out a record {b} then acts on",
                "creates": f"creates a record {b} then acts on", "enables": f"changes a record {b} then reads"}[kind]
        beyond = f"; tasks of {searched + 1}-{longest} steps were not searched" if longest > searched else ""
        return (f"unreachable within {searched} steps: clingo proves no walk of up to {searched} steps (any number of "
                f"intents, {PROVE_SLOTS} records of each kind) has a step of {a} that {what}{beyond}")

    for t in report["uncovered_tools"]:
        if t in reachable["tools"]:
            report["uncovered_tools"][t] = solvable(t)
        else:
            report["uncovered_tools"][t] = (
                f"never: no single-intent walk of up to {n} steps calls it, and longer tasks only chain such walks "
                f"({why_unreachable(domain, t)})")
    for e in report["uncovered_edges"]:
        report["uncovered_edges"][e] = edge_reason(e)
    for kind in ("tool", "edge"):
        report[f"uncovered_{kind}_reasons"] = dict(sorted(Counter(
            reason_code(w) for w in report[f"uncovered_{kind}s"].values()).items()))
    for r in report.get("uncovered_refusal_reasons", {}):
        report["uncovered_refusal_reasons"][r] = solvable(r)


def walk_bound(directory, given: Optional[int] = None) -> int:
    """The walk bound coverage is measured within: the one given, else the one the dataset was
    generated with (its manifest's `max_len`), else 4."""
    import json
    from pathlib import Path

    from .errors import EnvsynthError

    if given is not None:
        return given
    manifest = Path(directory) / "manifest.json"
    if manifest.exists():
        try:
            bound = json.loads(manifest.read_text(encoding="utf-8")).get("options", {}).get("max_len")
        except ValueError:
            raise EnvsynthError(f"{manifest} is not JSON; remove it or pass --max-len") from None
        if bound:
            return bound
    return 4


def coverage_report(domain: Domain, counters: Coverage, bound: int, lengths: Optional[Iterable[int]] = None) -> dict:
    """What a dataset's counters cover of what the spec allows within `bound` steps, and why each
    uncovered tool, edge and refusal reason is missing (the slow part) - as `stats` prints it;
    with coverage per length bucket (`lengths` start the buckets) and the difficulty distribution."""
    reachable = reachable_within(domain, bound, refusals=counters.refusals > 0)
    report = counters.report(domain, reachable)
    explain_uncovered(domain, report, reachable, lengths=lengths or [], longest=max(counters.lengths, default=bound))
    report["by_length"] = counters.by_length(domain, lengths or [])
    report["difficulty"] = counters.difficulty()
    return report


def mix_starts(mix: dict) -> list[int]:
    """The lengths that start the buckets of a length mix: each range of `--length-mix` (a run of
    consecutive lengths sharing one weight, as `parse_length_mix` spreads it) is one bucket, so
    '1-4:1,5-7:1,8-11:1,12-16:1' gives 1, 5, 8, 12. (Two adjacent ranges of equal per-length
    weight read as one.)"""
    starts: list[int] = []
    prev = None
    for n, w in sorted((int(k), v) for k, v in mix.items() if v):
        if prev is None or n != prev[0] + 1 or abs(w - prev[1]) > 1e-9:
            starts.append(n)
        prev = (n, w)
    return starts


def asked_lengths(directory) -> list[int]:
    """The lengths that start the buckets of a dataset's length mix (its manifest's), to bucket
    coverage by: each length of a mix of a few, else each range's start (`mix_starts`)."""
    import json
    from pathlib import Path

    manifest = Path(directory) / "manifest.json"
    if not manifest.exists():
        return []
    try:
        mix = json.loads(manifest.read_text(encoding="utf-8")).get("options", {}).get("length_mix") or {}
    except ValueError:
        return []  # walk_bound already says the manifest is not JSON
    asked = sorted(int(k) for k, w in mix.items() if w)
    return asked if len(asked) <= 6 else mix_starts(mix)  # a few lengths: a bucket each
