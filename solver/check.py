"""`envsynth check`: everything a spec author needs to hear before generating.

Errors (the spec is malformed) come from the loader with file:line:column. Warnings come from
the tool graph (arguments nobody can supply, effects nobody reads), the templates (goals or
references without a phrasing), the planner (tools no walk within the bound reaches) and the
solver (tools every walk to them is numerically impossible for, with the unsat core).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

from .aspenc import AspOptions
from .domain import Domain
from .errors import EnvsynthError
from .graph import build_graph, lint_graph
from .synth import Infeasible, ReplayMismatch, synthesize
from .tasks import Templates
from .walks import WalkStats, enumerate_walks


@dataclass
class Finding:
    severity: str  # error | warning | info
    message: str
    where: str = ""


@dataclass
class CheckReport:
    domain: Domain
    findings: list[Finding] = field(default_factory=list)
    walks: int = 0
    per_length: dict[int, int] = field(default_factory=dict)
    tools_reached: set[str] = field(default_factory=set)
    feasible_goals: set[str] = field(default_factory=set)

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


def check_domain(domain: Domain, max_len: int = 4, samples: int = 3, seed: int = 0) -> CheckReport:
    report = CheckReport(domain)
    g = build_graph(domain)
    for lint in lint_graph(domain, g):
        report.findings.append(Finding(lint.severity, lint.message, lint.tool or ""))
    try:
        tpl = Templates(domain)
        for m in tpl.missing(domain):
            report.findings.append(Finding("warning", f"no phrasing for '{m}' in {tpl.directory}/phrases.yaml: "
                                           "tasks that need it cannot be rendered", m))
    except EnvsynthError as e:
        report.findings.append(Finding("warning", str(e)))
    stats = WalkStats()
    by_tool: dict[str, list] = {}
    for w in enumerate_walks(domain, max_len=max_len, options=AspOptions(), stats=stats):
        report.walks += 1
        for s in w.steps:
            by_tool.setdefault(s.tool, []).append(w)
    report.per_length = dict(sorted(stats.per_length.items()))
    report.tools_reached = set(by_tool)
    for t in domain.tools.values():
        if t.name not in by_tool:
            report.findings.append(Finding(
                "warning", f"no walk of up to {max_len} steps calls {t.name}: "
                + _why_unreachable(domain, t.name), t.name))
    # numeric feasibility: try a few walks per goal tool
    cores: dict[str, Counter] = {}
    for t in domain.tools.values():
        if not t.is_goal or t.name not in by_tool:
            continue
        walks = [w for w in by_tool[t.name] if any(w.steps[i].tool == t.name for i in w.goal_steps(domain))]
        ok = False
        for k, w in enumerate(walks[: max(samples, 1) * 4]):
            try:
                synthesize(domain, w, seed + k)
                ok = True
                break
            except Infeasible as e:
                cores.setdefault(t.name, Counter()).update(e.core or [e.reason])
            except ReplayMismatch as e:
                report.findings.append(Finding("error", f"internal disagreement on {t.name}: {e}", t.name))
                break
        if ok:
            report.feasible_goals.add(t.name)
        elif walks and t.name in cores:
            top = "; ".join(c for c, _n in cores[t.name].most_common(4))
            report.findings.append(Finding("warning", f"{t.name} is never achievable: every walk tried is "
                                           f"impossible because {top}", t.name))
    return report


def _why_unreachable(domain: Domain, tool_name: str) -> str:
    tool = domain.tools[tool_name]
    given = {e.name for e in domain.entities.values() if any(r.by_id for r in e.refs.values())}
    for a in tool.args.values():
        if a.is_ref and a.type.entity not in given:
            return (f"its argument '{a.name}' needs a {a.type.entity} id, which the user cannot state and "
                    "no tool within reach returns")
    if not tool.is_goal:
        return "it is a read tool with no 'answer' and its results feed no other tool"
    return "its preconditions cannot hold together with the ways to reach it (see the ASP program: envsynth walks --show-asp)"
