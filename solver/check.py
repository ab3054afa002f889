"""`envsynth check`: everything a spec author needs to hear before generating.

Errors (the spec is malformed) come from the loader with file:line:column. Warnings come from
the tool graph (arguments nobody can supply, effects nobody reads), the templates (goals or
references without a phrasing), the planner (tools no walk within the bound reaches) and the
solver (tools every walk to them is numerically impossible for, with the unsat core).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

from .plan.facts import AspOptions
from .spec import grammar as E
from .spec.history import history
from .spec.model import Domain
from .errors import EnvsynthError, Finding, SpecError, SpecErrors
from .plan.graph import build_graph, lint_graph, why_unreachable
from .state.analysis import static_findings
from .state.synth import Infeasible, ReplayMismatch, SynthOptions, synthesize
from .tasks.phrases import TEXT_PATTERNS, Templates, text_problems, THIRD_PERSON_ME, sentences_of
from .tasks.derive import derive_task
from .plan.planner import Planner, WalkStats
from .plan.reach import Reach
from .parallel import fork_map


# the walks check solves need no background records: whether a goal's numbers can hold and how
# its request reads do not depend on them, and filling every entity of a large spec per solve
# was a third of check's time
CHECK_SYNTH = SynthOptions(background=0.0)


@dataclass
class CheckReport:
    domain: Domain
    findings: list[Finding] = field(default_factory=list)
    walks: int = 0
    per_length: dict[int, int] = field(default_factory=dict)
    tools_reached: set[str] = field(default_factory=set)
    feasible_goals: set[str] = field(default_factory=set)
    planned: bool = False  # walks were enumerated (not when static errors stop the check first)
    targeted: int = 0  # goals asked targeted questions (plan/reach.py), when some goal is too large to enumerate

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def exit_code(self) -> int:
        """0 clean, 1 errors, 3 warnings only."""
        if self.errors:
            return 1
        return 3 if self.warnings else 0


def check_domain(domain: Domain, max_len: int = 4, samples: int = 3, seed: int = 0,
                 workers: int = 1) -> CheckReport:
    """Every finding for `domain`. `workers`: processes asking the planner's targeted questions
    of a large spec (the report does not depend on it)."""
    report = CheckReport(domain)
    g = build_graph(domain)
    for lint in lint_graph(domain, g):
        report.findings.append(Finding(lint.severity, lint.message, lint.tool or ""))
    report.findings += static_findings(domain)
    report.findings += reference_findings(domain)
    report.findings += policy_findings(domain)
    report.findings += history_findings(domain)
    tpl = None
    try:
        tpl = Templates(domain)
        for m in tpl.missing(domain):
            report.findings.append(Finding("warning", f"no phrasing for '{m}' in {tpl.directory}/phrases.yaml: "
                                           "tasks that need it cannot be rendered", m))
        report.findings += [located(e) for e in tpl.problems(domain)]
        report.findings += link_findings(domain, tpl)
        if not any(f.severity == "error" for f in report.findings):
            report.findings += [located(e) for e in text_problems(tpl, domain)]
    except SpecErrors as e:
        report.findings += [located(x) for x in e.errors]
        tpl = None
    except EnvsynthError as e:
        report.findings.append(Finding("warning", str(e)))
    if report.errors:  # a spec whose rules cannot hold, or phrasings that cannot render: say so first
        return report
    stats = WalkStats()
    report.planned = True
    planner = Planner(domain)
    reach = Reach(domain, max_len, planner)
    cores: dict[str, Counter] = {}
    rendered: set = set()
    later: list[Finding] = []  # said after the reachability warnings
    # one goal at a time (each asked of a program grounded for its scope): the walks of one goal
    # are all this holds at once. A spec with any goal too large to enumerate is asked targeted
    # questions for every goal instead (plan/reach.py, Reach.asked_goals): a walk to each, and a
    # walk per tool no walk found calls - its walk count would be partial anyway, and enumerating
    # even a small goal's walks there costs more than asking
    large = reach.asked_goals()
    small = [] if large else planner.goals()
    for goal in small:
        walks = planner.goal_walks(goal, max_len, stats=stats)
        report.walks += len(walks)
        for w in walks:
            report.tools_reached |= {s.tool for s in w.steps}
        _goal_feasibility(domain, goal, walks, tpl, seed, samples, report, cores, rendered, later)
    if large:
        asked = reach.cover(large, report.tools_reached, workers=workers)
        report.targeted = len(large)
        ahead = _ahead(domain, tpl, large, asked, seed, workers)
        for goal in large:
            # more walks to try the goal's numbers on, drawn at random near the goal, when the ones
            # the questions found are all impossible
            _goal_feasibility(domain, goal, asked[goal], tpl, seed, samples, report, cores, rendered, later,
                              more=lambda g=goal: reach.sample(g, seed, per_length=samples), ahead=ahead)
    report.per_length = dict(sorted(stats.per_length.items()))
    for t in domain.tools.values():
        if t.name not in report.tools_reached:
            report.findings.append(Finding("warning", f"no walk of up to {max_len} steps calls {t.name}: "
                                           + why_unreachable(domain, t.name), t.name))
    report.findings += later
    return report


def _walk_outcome(domain: Domain, walk, tpl, goal: str, seed: int) -> tuple:
    """What check learns from one walk, solved once: ("ok", the findings of rendering a task of
    it - None without templates), ("infeasible", the core's conditions) or ("mismatch", what
    disagreed). Plain data and a pure function of its arguments, so it can be computed ahead on
    a worker; the same solve says whether the goal is feasible and how its request reads."""
    try:
        sc = synthesize(domain, walk, seed, CHECK_SYNTH)
    except Infeasible as e:
        return ("infeasible", list(e.core or [e.reason]))
    except ReplayMismatch as e:
        return ("mismatch", str(e))
    if tpl is None:
        return ("ok", None)
    try:
        task = derive_task(domain, sc, tpl, 0)
        return ("ok", [Finding("warning", f"a rendered {goal} request {problem}: \"{task.instruction}\"", goal)
                       for problem in sample_text_problems(task.instruction)])
    except EnvsynthError as e:
        steps = " > ".join(s.tool for s in walk.steps)
        names = " or ".join("{{ %s }}" % a.var for a in domain.tools[goal].args.values() if a.is_ref)
        return ("ok", [Finding(
            "warning", f"a {goal} task ({steps}) cannot be rendered: {e}. In {tpl.directory}/phrases.yaml, "
            f"let intents.{goal} name the record through its description ({names or 'a record variable'}) "
            "rather than fixed words", goal)])


def _ahead(domain: Domain, tpl, goals: list[str], asked: dict, seed: int, workers: int) -> dict:
    """The outcomes `_goal_feasibility` will most likely ask for - every walk of every goal (a
    large spec's goals have a few walks each) - computed on `workers` processes: goal -> walk
    index -> outcome. Only a cache: the sequential pass decides as it would without it."""
    jobs = [(g, k) for g in goals for k in range(len(asked[g]))]
    outcomes = fork_map(lambda job: _walk_outcome(domain, asked[job[0]][job[1]], tpl, job[0], seed + job[1]),
                        jobs, workers)
    out: dict[str, dict[int, tuple]] = {}
    for (g, k), o in zip(jobs, outcomes):
        out.setdefault(g, {})[k] = o
    return out


def _goal_feasibility(domain: Domain, goal: str, walks: list, tpl, seed: int, samples: int, report: "CheckReport",
                      cores: dict, rendered: set, later: list[Finding], more=None, ahead: Optional[dict] = None) -> None:
    """Numeric feasibility of one goal: try a few of its walks with Z3 (then `more()`'s, if all
    fail); render samples of it (from the same solves: walk k with seed + k). `ahead`: outcomes
    computed beforehand (_ahead)."""
    if not walks:
        return
    known = dict((ahead or {}).get(goal, {}))  # walks[k] -> its outcome

    def outcome(k: int, w) -> tuple:
        if k not in known:
            known[k] = _walk_outcome(domain, w, tpl, goal, seed + k)
        return known[k]

    ok = False
    first = walks[: max(samples, 1) * 4]
    for k, w in enumerate(_then(first, more) if more is not None else first):
        # (the draws of `more` come after `first`: their outcomes are not walks[k]'s)
        out = outcome(k, w) if k < len(first) else _walk_outcome(domain, w, tpl, goal, seed + k)
        if out[0] == "ok":
            ok = True
            break
        if out[0] == "infeasible":
            cores.setdefault(goal, Counter()).update(out[1])
        else:
            later.append(Finding("error", f"internal disagreement on {goal}: {out[1]}", goal))
            break
    if ok:
        report.feasible_goals.add(goal)
        if tpl is not None:
            _render_samples(walks, goal, samples, rendered, later, outcome)
    elif goal in cores:
        top = "; ".join(c for c, _n in cores[goal].most_common(4))
        later.append(Finding("warning", f"{goal} is never achievable: every walk tried is "
                             f"impossible because {top}", goal))


def _then(first: list, more):
    yield from first
    yield from more()


def _render_samples(walks: list, goal: str, samples: int, rendered: set, findings: list[Finding], outcome) -> None:
    """Render tasks for walks that describe records in ways not rendered yet: a phrasing that
    never gives the description a plan relies on ("the cheapest ...") shows up here, with the
    fix, instead of as skipped attempts in `generate`. `outcome(k, walk)`: walk k solved and
    rendered (once per walk: the feasibility pass's solves are reused)."""
    tried = 0
    for k, w in enumerate(walks):
        ways = {(s.tool, s.select.reference) for s in w.steps if s.select} | {(goal, "")}
        if ways <= rendered or tried >= samples * 2:
            continue
        tried += 1
        out = outcome(k, w)
        if out[0] != "ok":
            continue
        rendered |= ways
        findings += out[1]


def sample_text_problems(text: str) -> list[str]:
    """What a rendered request says that people do not write (the phrasing-level check,
    `text_problems`, has found the ones a single phrasing causes, at their line)."""
    out = []
    sents = sentences_of(text)
    if len(sents) != len(set(sents)):
        out.append("says one sentence twice")
    for rx, what, _hint in TEXT_PATTERNS[:1] + TEXT_PATTERNS[2:]:  # amounts: the sample is the spec's
        m = rx.search(text)
        if m:
            out.append(what.format(found=m.group(0)))
    m = THIRD_PERSON_ME.search(text)
    if m:
        out.append(f"makes the user a third person (\"{m.group(0).strip()}\")")
    return out


RULE_LIKE = re.compile(r"\b(only|must|cannot|can ?not|can't|never|not allowed|may not|at most|at least|"
                       r"no more than|within \d+|up to \d+|neither|nor)\b", re.I)


def history_findings(domain: Domain) -> list[Finding]:
    """Rules a creating tool checks that envsynth cannot carry over to the records already in a
    generated database (spec/history.py): say which, and how to state them as invariants. The
    derived rules themselves are info: generated records keep them."""
    out = []
    h = history(domain)
    for u in h.unguaranteed:
        where = f"{domain.source}:{u.line}: " if u.line else f"{domain.source}: "
        # an invariant of the entity that searches its records is taken as the author's statement of it
        stated = any(isinstance(q, E.Quant) and q.entity == u.entity
                     for node, _src in domain.entities[u.entity].invariants for q in E.walk(node))
        if stated:
            out.append(Finding("info", f"{where}{u.tool} requires `{u.requirement}` when it makes a {u.entity}; "
                               f"generated records keep it only as far as the invariants of {u.entity} say it "
                               f"({u.reason})", "history"))
            continue
        out.append(Finding("warning", f"{where}{u.tool} requires `{u.requirement}` when it makes a {u.entity}, "
                           f"but records already in a generated database need not keep it: {u.reason} (hint: "
                           f"{u.suggestion})", "history"))
    for r in h.rules:
        where = f"{domain.source}:{r.line}: " if r.line else f"{domain.source}: "
        out.append(Finding("info", f"{where}every {r.entity} already in a database keeps `{r.text}` "
                           f"(because {r.because})", "history"))
    return out


def policy_findings(domain: Domain) -> list[Finding]:
    """Rule-like sentences of the policy prose ("only pending orders can be cancelled") that no
    requirement or invariant says: the agent would read a rule the runtime never enforces. A
    sentence counts as enforced when at least half of its key terms occur in the requirements of
    one tool (their error messages and conditions) or in an entity's invariants."""
    from .play import scoring as S

    texts = []
    for tool in domain.tools.values():
        # `actor` in a condition is the person talking to the agent: that is what "act only as the
        # signed-in employee" or "on behalf of someone else" says in prose
        words = " ".join(f"{r.error} {r.src.replace('.', ' ').replace('_', ' ')}"
                         + (" signed in behalf someone else talking to" if "actor" in r.src else "")
                         for r in tool.requires)
        if words:
            texts.append(words)
    for ent in domain.entities.values():
        if ent.invariants:
            texts.append(ent.name + " " + " ".join(src.replace(".", " ").replace("_", " ") for _n, src in ent.invariants))
    said = [S._said_terms(t) for t in texts]
    skip = {S.stem(w) for w in S.STOPWORDS} | {S.stem(w) for w in ("act", "user", "customer", "agent", "person",
                                                                    "employee", domain.actor)}
    source = ""
    try:
        source = open(domain.source, encoding="utf-8").read()
    except OSError:
        pass
    out = []
    for sentence in _sentences(domain.policy):
        if not RULE_LIKE.search(sentence):
            continue
        terms = S._terms(sentence, skip)
        if not terms:
            continue
        best = max((sum(1 for t in terms if t & x) / len(terms) for x in said), default=0.0)
        if best >= 0.5:
            continue
        head = " ".join(sentence.split()[:4])
        pos = source.find(head)
        line = source.count("\n", 0, pos) + 1 if pos >= 0 else 0
        where = f"{domain.source}:{line}: " if line else f"{domain.source}: "
        out.append(Finding("warning", f"{where}the policy says \"{sentence}\", but no requirement checks it, so "
                           "an agent that breaks it is not refused (hint: add a requirement with this as its error "
                           "to the tool it governs, or reword the sentence as guidance)", "policy"))
    return out


def _sentences(text: str) -> list[str]:
    """Sentences and bullet points of a prose block, one line each."""
    out = []
    for part in re.split(r"(?m)^\s*[-*]\s+|(?<=[.;!?])\s+", text or ""):
        part = " ".join(part.split())
        if len(part) > 3:
            out.append(part)
    return out


def located(e: SpecError) -> Finding:
    """A located problem (file:line:col: message - hint) as a check finding."""
    hint = f" (hint: {e.hint})" if e.hint else ""
    return Finding(e.severity, f"{e.file}:{e.line}:{e.col}: {e.message}{hint}")


def link_findings(domain: Domain, tpl: Templates) -> list[Finding]:
    """Phrasings written for a link declared `refer_through: false`: the planner never has the
    user describe a record through it, so the phrasing is never said."""
    out = []
    for ent in domain.entities.values():
        for f in ent.ref_fields():
            if not f.refer_through and tpl.options("links", f.type.entity, f.name):
                out.append(Finding("warning", f"{tpl.directory}/phrases.yaml: links.{f.type.entity}.{f.name} is never "
                                   f"said: {ent.name}.{f.name} is declared 'refer_through: false', so no user describes "
                                   f"a {f.type.entity} through it (hint: remove the phrasing, or the declaration)",
                                   f.name))
    return out


def reference_findings(domain: Domain) -> list[Finding]:
    """References no tool can resolve, and ones that can only be unique by luck."""
    from .plan.selection import hidden_fields, selectable_references

    usable: set[tuple[str, str]] = set()
    for tool in domain.tools.values():
        lst = tool.returns.lists()
        if lst is not None:
            usable |= {(lst.entity, r) for r in selectable_references(domain, tool)}
    out = []
    for ent in domain.entities.values():
        for ref in ent.refs.values():
            if ref.by_id:
                continue
            if (ent.name, ref.name) not in usable:
                hint = ""
                for tool in domain.tools.values():
                    hidden = hidden_fields(tool, ref)
                    if hidden:
                        links = sorted({".".join(p[:-1] if p[-1] != "id" else p[:-2]) for p in hidden})
                        hint = (f"; {tool.name} lists {ent.name} records, but the agent would see "
                                f"{' and '.join(links)} only as an id, not the "
                                f"{', '.join('.'.join(p) for p in hidden)} the user states: add "
                                f"'expand: [{', '.join(links)}]' to its returns")
                        break
                where = f"{domain.source}:{ref.line}: " if ref.line else ""
                out.append(Finding("warning", f"{where}reference '{ref.name}' of {ent.name} can never be used: no tool lists "
                                   f"{ent.name} records so that this description picks one out (a list tool whose "
                                   "arguments the description states, or an included list of the user's records)"
                                   + hint, ref.name))
            if not ref.filter and ref.rank is None and ref.scope is None:
                where = f"{domain.source}:{ref.line}: " if ref.line else ""
                out.append(Finding("warning", f"{where}reference '{ref.name}' of {ent.name} names a record only by a fixed "
                                   "condition: it stays unique only while no other record meets it; add a filter "
                                   "of values the user states, a scope ('my ...') or a rank", ref.name))
    return out
