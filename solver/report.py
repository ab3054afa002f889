"""`envsynth report`: one self-contained HTML page a person reads about a dataset and its evals.

The page shows the dataset's coverage (computed as `envsynth stats` does: the same `Coverage`
counters, reachability bound and explanations), its length and difficulty distributions, the
tool graph with what the tasks cover drawn on it, and, per agent of each results directory
(`envsynth eval --out`): mean reward by length, by near-miss kind and by refusal, pass^k over
the trials of each task (tau-bench's formula, `agents.pass_hat_k`), token and cost totals when
recorded, and every failing episode with its transcript rendered further down the same page.

Plots are matplotlib PNGs embedded as data URIs; styles are inline; the page loads nothing from
the network and runs no script, so it can be mailed, archived or opened offline.
"""

from __future__ import annotations

import base64
import html
import io
import json
import os
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional

from .errors import EnvsynthError
from .play.agents import pass_hat_k
from .play.results import RESULTS, TRANSCRIPTS, EpisodeResult, Transcript
from .tasks.model import Task

KIND_COLORS = {"ids": "#444444", "select": "#1f6fd1", "creates": "#1b8a3a", "enables": "#d1431f"}
MAX_TRANSCRIPTS = 200  # failing transcripts rendered per agent; the rest are listed without one
FOLD = 25  # a list of failing episodes longer than this starts folded


# ----------------------------------------------------------------------------- the dataset


@dataclass
class TaskBrief:
    """What the page shows about a task next to a failing transcript."""

    id: str
    instruction: str
    gold: list[str]
    refusals: list[str]
    answers: list[str]


@dataclass
class DatasetFacts:
    domain: Any
    directory: Path
    bound: int
    coverage: dict  # Coverage.report + explain_uncovered: exactly what `envsynth stats --json` prints
    lengths: Counter = field(default_factory=Counter)
    goals: Counter = field(default_factory=Counter)
    candidates: Counter = field(default_factory=Counter)
    near_miss_tasks: Counter = field(default_factory=Counter)  # kind -> tasks with one
    near_miss_records: Counter = field(default_factory=Counter)  # kind -> near-miss records
    with_near_miss: int = 0  # tasks planting any near miss
    before_target: int = 0  # tasks listing a near miss before its target
    refusals: int = 0
    tasks: dict[str, TaskBrief] = field(default_factory=dict)
    counters: Any = None  # coverage.Coverage over the tasks

    @property
    def count(self) -> int:
        return self.counters.tasks


def read_dataset(directory: Path, spec: Optional[str] = None, max_len: Optional[int] = None) -> DatasetFacts:
    """Read a dataset once: the difficulty counts and the coverage counters (`add_coverage`
    then reports them as `envsynth stats` does)."""
    from .coverage import Coverage, walk_bound
    from .generate import summarize
    from .verify import dataset_spec, iter_tasks, tasks_file

    directory = Path(directory)
    if not directory.exists():
        raise EnvsynthError(f"no dataset at {directory} (give a directory made by `envsynth generate`)")
    path = tasks_file(directory)
    domain = dataset_spec(path.parent, spec)
    bound = walk_bound(path.parent, max_len)
    cov = Coverage()
    facts = DatasetFacts(domain=domain, directory=path.parent, bound=bound, coverage={})
    for task in iter_tasks(path):
        cov.add(summarize(domain, task))
        _count(facts, task)
    if cov.tasks == 0:
        raise EnvsynthError(f"{path} holds no tasks")
    facts.counters = cov
    return facts


def add_coverage(facts: DatasetFacts) -> None:
    """What `envsynth stats` reports: the counters against what the spec allows within the walk
    bound, and why each uncovered tool, edge and refusal reason is missing (the slow part)."""
    from .coverage import coverage_report

    facts.coverage = coverage_report(facts.domain, facts.counters, facts.bound)


def _count(facts: DatasetFacts, task: Task) -> None:
    d = task.difficulty
    facts.lengths[d.length] += 1
    facts.goals[d.goals] += 1
    facts.candidates[d.candidates] += 1
    for kind, n in d.distractors.items():
        facts.near_miss_tasks[kind] += 1
        facts.near_miss_records[kind] += n
    facts.with_near_miss += bool(d.distractors)
    facts.before_target += any(x.before_target for x in task.certificate.distractors)
    facts.refusals += bool(task.expected.refusals)
    refused = {r.step for r in task.expected.refusals}
    facts.tasks[task.id] = TaskBrief(
        id=task.id, instruction=task.instruction,
        gold=[f"{a.name}({json.dumps(a.arguments, ensure_ascii=False)})" for a in task.gold_actions],
        refusals=[f"{r.tool}({json.dumps(r.arguments, ensure_ascii=False)}): {r.error}" for r in task.expected.refusals],
        answers=[a.value for a in task.expected.answers if a.step not in refused])


# ----------------------------------------------------------------------------- eval results


@dataclass
class AgentRun:
    """The episodes of one agent (and user mode) in one results directory."""

    source: Path
    agent: str
    user: str
    episodes: list[EpisodeResult]
    transcripts: dict[tuple[str, int], Transcript]
    unreadable: list[int] = field(default_factory=list)  # line numbers of results.jsonl
    retried: int = 0  # episodes recorded as 'play again' (outside the agent's doing), left out

    @property
    def label(self) -> str:
        return self.agent + (f" (user: {self.user})" if self.user and self.user != "none" else "")

    def per_task(self) -> dict[str, list[EpisodeResult]]:
        out: dict[str, list[EpisodeResult]] = defaultdict(list)
        for r in self.episodes:
            out[r.task_id].append(r)
        return out

    def summary(self) -> dict:
        """Mean rewards (per task over its trials, then over tasks, as `envsynth eval` does),
        buckets, pass^k and totals."""
        tasks = self.per_task()
        first = {t: rs[0] for t, rs in tasks.items()}
        mean_of = {t: sum(r.reward for r in rs) / len(rs) for t, rs in tasks.items()}

        def bucket(keys: Iterable[str]) -> dict:
            vals = [mean_of[t] for t in keys]
            return {"tasks": len(vals), "mean_reward": _mean(vals)}

        by_length = {str(n): bucket(t for t in tasks if first[t].length == n)
                     for n in sorted({r.length for r in first.values()})}
        kinds = sorted({k for r in first.values() for k in r.distractor_kinds})
        by_kind = {k: bucket(t for t in tasks if k in first[t].distractor_kinds) for k in kinds}
        plain = [t for t in tasks if not first[t].distractor_kinds]
        if plain:
            by_kind["none"] = bucket(plain)
        by_refusal = {}
        for name, flag in (("refuse", True), ("do", False)):
            keys = [t for t in tasks if first[t].refusal == flag]
            if keys:
                by_refusal[name] = bucket(keys)
        trials = Counter(len(rs) for rs in tasks.values())
        out = {
            "agent": self.agent, "user": self.user, "source": str(self.source),
            "tasks": len(tasks), "episodes": len(self.episodes),
            "trials": {str(k): v for k, v in sorted(trials.items())},
            "mean_reward": _mean(list(mean_of.values())),
            "with_distractors": bucket(t for t in tasks if first[t].near_miss_before_target),
            "by_length": by_length, "by_distractor_kind": by_kind, "by_refusal": by_refusal,
            "failing_episodes": sum(1 for r in self.episodes if r.reward < 1.0),
            "errors": sum(1 for r in self.episodes if r.error),
            "pass_hat_k": pass_hat_ks(tasks.values()),
        }
        totals = {
            "prompt_tokens": sum(r.prompt_tokens for r in self.episodes),
            "completion_tokens": sum(r.completion_tokens for r in self.episodes),
            "user_prompt_tokens": sum(getattr(r, "user_prompt_tokens", 0) for r in self.episodes),
            "user_completion_tokens": sum(getattr(r, "user_completion_tokens", 0) for r in self.episodes),
            "seconds": round(sum(r.seconds for r in self.episodes), 2),
            "turns": sum(r.turns for r in self.episodes),
            "tool_calls": sum(r.tool_calls for r in self.episodes),
        }
        costs = [r.cost for r in self.episodes if r.cost is not None]
        if costs:
            totals["cost"] = round(sum(costs), 6)
        out["totals"] = totals
        return out


def pass_hat_ks(per_task: Iterable[list[EpisodeResult]]) -> dict[str, float]:
    """pass^k for k = 1 .. the fewest trials any task has: per task `pass_hat_k(successes, its
    trials, k)` (success: reward 1.0), averaged over tasks - as `envsynth eval -k` reports it."""
    groups = [rs for rs in per_task if rs]
    if not groups:
        return {}
    kmax = min(len(rs) for rs in groups)
    out = {}
    for k in range(1, kmax + 1):
        vals = [pass_hat_k(sum(1 for r in rs if r.reward == 1.0), len(rs), k) for rs in groups]
        out[str(k)] = round(sum(vals) / len(vals), 4)
    return out


def _mean(xs: list[float]) -> Optional[float]:
    return round(sum(xs) / len(xs), 4) if xs else None


def read_results(directory: Path) -> list[AgentRun]:
    """The runs in one results directory, one per (agent, user mode); the last record of each
    (task, trial) counts. Missing or unreadable files are errors the user can fix."""
    directory = Path(directory)
    if not directory.exists():
        raise EnvsynthError(f"no results directory at {directory} (make one with `envsynth eval DIR --out {directory}`)")
    if not directory.is_dir():
        raise EnvsynthError(f"{directory} is a file; --eval takes the results directory `envsynth eval --out` wrote")
    f = directory / RESULTS
    if not f.exists():
        raise EnvsynthError(f"{directory} has no {RESULTS}: is it a results directory written by `envsynth eval --out`?")
    latest: dict[tuple[str, str, str, int], EpisodeResult] = {}
    bad: list[int] = []
    with open(f, encoding="utf-8", errors="replace") as fh:
        lines = fh.read().splitlines()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            r = EpisodeResult.model_validate_json(line)
        except ValueError:
            bad.append(n)
            continue
        latest[(r.agent, r.user, r.task_id, r.trial)] = r
    if not latest:
        what = f"none of its {len(bad)} lines is an episode result" if bad else "it is empty"
        raise EnvsynthError(f"{f}: {what} (is it a results directory written by `envsynth eval --out`?)")
    transcripts: dict[tuple[str, int], Transcript] = {}
    tf = directory / TRANSCRIPTS
    if tf.exists():
        with open(tf, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.strip():
                    try:
                        t = Transcript.model_validate_json(line)
                    except ValueError:
                        continue
                    transcripts[(t.task_id, t.trial)] = t
    runs: dict[tuple[str, str], AgentRun] = {}
    for (agent, user, _t, _k), r in latest.items():
        run = runs.setdefault((agent, user), AgentRun(directory, agent, user, [], transcripts, list(bad)))
        if getattr(r, "retry", False):
            run.retried += 1
        else:
            run.episodes.append(r)
    return [runs[k] for k in sorted(runs)]


# ----------------------------------------------------------------------------- plots


def _plt():
    try:
        os.environ.setdefault("MPLBACKEND", "Agg")
        from matplotlib.figure import Figure
    except ImportError:
        raise EnvsynthError("the report draws its plots with matplotlib, which is not installed: "
                            "pip install 'envsynth[report]' (or pip install matplotlib)") from None
    return Figure


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _bars(title: str, labels: list[str], values: list[float], notes: Optional[list[str]] = None,
          ylabel: str = "", ylim: Optional[float] = None, color: str = "#4c72b0", width: float = 3.9,
          counts: bool = True) -> str:
    """A bar chart; `counts`: whole-number y ticks."""
    from matplotlib.ticker import MaxNLocator

    Figure = _plt()
    rotate = sum(len(x) + 2 for x in labels) > 36
    fig = Figure(figsize=(max(width, 0.5 * len(labels) + 1.2), 2.7 + (0.5 if rotate else 0)))
    ax = fig.add_subplot()
    xs = list(range(len(labels)))
    ax.bar(xs, values, color=color, width=0.62)
    ax.set_xticks(xs, labels, rotation=30 if rotate else 0, ha="right" if rotate else "center")
    ax.set_xlim(-0.6, max(len(labels), 3) - 0.4)  # one bar stays a bar, not a wall
    top = ylim if ylim is not None else max(list(values) + [1]) * 1.2
    ax.set_ylim(0, top)
    if counts:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    elif top <= 1.3:
        ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    for x, v, note in zip(xs, values, notes or [""] * len(values)):
        ax.text(x, v + top * 0.02, note, ha="center", va="bottom", fontsize=8, color="#333333")
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel, fontsize=9)
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(labelsize=8)
    return _png(fig)


def _reward_bars(title: str, buckets: dict[str, dict], xlabel_of=lambda k: k) -> str:
    labels = [xlabel_of(k) for k in buckets]
    values = [b["mean_reward"] or 0.0 for b in buckets.values()]
    notes = [f"{b['mean_reward']:.2f}\nn={b['tasks']}" for b in buckets.values()]
    return _bars(title, labels, values, notes, ylabel="mean reward", ylim=1.25, color="#55a868", counts=False)


def _pass_k_plot(title: str, series: dict[str, dict[str, float]]) -> str:
    Figure = _plt()
    fig = Figure(figsize=(3.9, 2.7))
    ax = fig.add_subplot()
    for name, values in series.items():
        ks = [int(k) for k in values]
        ax.plot(ks, list(values.values()), marker="o", label=name)
        for k, v in zip(ks, values.values()):
            ax.annotate(f"{v:.2f}", (k, v), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
    ax.set_ylim(0, 1.12)
    ax.set_xlabel("k (all of k trials succeed)", fontsize=9)
    ax.set_ylabel("pass^k", fontsize=9)
    kmax = max((int(k) for v in series.values() for k in v), default=1)
    ax.set_xticks(range(1, kmax + 1))
    ax.set_title(title, fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(labelsize=8)
    if len(series) > 1:
        ax.legend(fontsize=8)
    return _png(fig)


def _coverage_plot(cov: dict) -> str:
    rows = [("tools", cov["tools_covered"], cov["tools_total"]),
            ("graph edges", cov["edges_covered"], cov["edges_total"])]
    if "edges_reachable" in cov:
        rows.append(("edges reachable", cov["edges_reachable_covered"], cov["edges_reachable"]))
    rows.append(("precondition branches", cov["branches_covered"], cov["branches_total"]))
    if "canonical_walks" in cov:
        rows.append(("canonical walks", cov["canonical_walks_covered"], cov["canonical_walks"]))
    if cov.get("refusal_reasons_total"):
        rows.append(("refusal reasons", cov["refusal_reasons_covered"], cov["refusal_reasons_total"]))
    Figure = _plt()
    fig = Figure(figsize=(5.2, 0.42 * len(rows) + 0.9))
    ax = fig.add_subplot()
    ys = list(range(len(rows)))[::-1]
    shares = [c / t if t else 0.0 for _n, c, t in rows]
    ax.barh(ys, [1.0] * len(rows), color="#e6e6e6", height=0.6)
    ax.barh(ys, shares, color="#4c72b0", height=0.6)
    for y, (_n, c, t), s in zip(ys, rows, shares):
        ax.text(1.02, y, f"{c}/{t} ({s:.0%})", va="center", fontsize=8)
    ax.set_yticks(ys, [n for n, _c, _t in rows])
    ax.set_xlim(0, 1.25)
    ax.set_xticks([0, 0.5, 1.0], ["0", "50%", "100%"])
    ax.set_title("covered by the dataset's tasks", fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(labelsize=8)
    return _png(fig)


def _graph_plot(domain, cov: dict) -> str:
    """The tool graph: writes as squares, reads as circles, tools no task calls hollow; each
    edge coloured by its strongest kind, solid and dark when some task exercises it."""
    import networkx as nx

    from .plan.graph import build_graph

    g = build_graph(domain)
    uncovered_edges = set(cov["uncovered_edges"])
    called = set(cov["tool_calls"])
    simple = nx.DiGraph()
    simple.add_nodes_from(g.nodes(data=True))
    for u, v, d in g.edges(data=True):
        e = simple.get_edge_data(u, v)
        key = f"{u}|{v}|{d['kind']}"
        kinds = (e["kinds"] if e else set()) | {d["kind"]}
        covered = (e["covered"] if e else False) or key not in uncovered_edges
        simple.add_edge(u, v, kinds=kinds, covered=covered)
    order = sorted(simple.nodes, key=lambda n: (simple.nodes[n].get("kind") == "write", n))
    n = len(order)
    pos = nx.circular_layout(order) if n > 1 else {order[0]: (0.0, 0.0)}
    pos = {k: pos[k] for k in order}
    Figure = _plt()
    fig = Figure(figsize=(9.5, 7.5))
    ax = fig.add_subplot()
    rank = ["creates", "enables", "select", "ids"]
    for covered in (False, True):
        edges = [(u, v) for u, v, d in simple.edges(data=True) if d["covered"] == covered]
        colors = [KIND_COLORS[min(simple[u][v]["kinds"], key=rank.index)] for u, v in edges]
        if edges:
            nx.draw_networkx_edges(simple, pos, edgelist=edges, ax=ax, edge_color=colors,
                                   width=2.4 if covered else 0.8, alpha=0.95 if covered else 0.22,
                                   arrows=True, arrowsize=14 if covered else 8, node_size=900,
                                   connectionstyle="arc3,rad=0.08")
    for shape, kind in (("s", "write"), ("o", "read")):
        for hit in (True, False):
            nodes = [x for x in order if (simple.nodes[x].get("kind") == "write") == (kind == "write") and (x in called) == hit]
            if nodes:
                nx.draw_networkx_nodes(simple, pos, nodelist=nodes, ax=ax, node_shape=shape, node_size=900,
                                       node_color="#f2b134" if kind == "write" and hit else "#8fb8e8" if hit else "white",
                                       edgecolors="#333333" if hit else "#c0392b",
                                       linewidths=1.0 if hit else 1.8)
    for name, (x, y) in pos.items():
        ax.text(x * 1.16, y * 1.16, name, fontsize=9, ha="left" if x > 0.05 else "right" if x < -0.05 else "center",
                va="center", bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="none", alpha=0.85))
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=c, lw=2.4, label=f"{k} (exercised)") for k, c in KIND_COLORS.items()]
    handles += [Line2D([], [], color="#888888", lw=0.8, alpha=0.5, label="not exercised by any task"),
                Line2D([], [], marker="s", ls="", mfc="#f2b134", mec="#333333", ms=10, label="write tool"),
                Line2D([], [], marker="o", ls="", mfc="#8fb8e8", mec="#333333", ms=10, label="read tool"),
                Line2D([], [], marker="o", ls="", mfc="white", mec="#c0392b", mew=1.8, ms=10, label="no task calls it")]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    ax.set_xlim(-1.75, 1.75)
    ax.set_ylim(-1.3, 1.3)
    ax.set_aspect("equal")
    ax.axis("off")
    return _png(fig)


# ----------------------------------------------------------------------------- the page


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)


def transcript_anchor(run_index: int, task_id: str, trial: int) -> str:
    return f"tr-{run_index}-{slug(task_id)}-{trial}"


@dataclass
class Page:
    parts: list[str] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.parts.append(text)

    def figure(self, fig_id: str, png: str, caption: str, alt: str) -> None:
        self.figures.append(fig_id)
        self.add(f'<figure id="{fig_id}"><img alt="{_e(alt)}" src="data:image/png;base64,{png}">'
                 f"<figcaption>{caption}</figcaption></figure>")


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:0;color:#222;background:#fafafa}
main{max-width:1180px;margin:0 auto;padding:16px 28px 60px}
h1{font-size:1.6em;margin:.4em 0 .1em}h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:1.8em}
h3{margin-top:1.4em}nav{background:#fff;border:1px solid #e2e2e2;padding:8px 14px;border-radius:6px}
nav a{margin-right:14px}.muted{color:#666}.grid{display:flex;flex-wrap:wrap;gap:12px}
figure{background:#fff;border:1px solid #e2e2e2;border-radius:6px;margin:0;padding:8px;box-sizing:border-box}
.grid figure{width:calc(33.33% - 8px)}.grid.two figure{width:calc(50% - 6px)}
figure img{display:block;width:100%;height:auto}figcaption{font-size:.85em;color:#555;margin-top:4px}
td.id{white-space:nowrap}.row{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
table{border-collapse:collapse;background:#fff;margin:8px 0;font-size:.92em}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f0f0f0}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.kpi{display:inline-block;background:#fff;border:1px solid #e2e2e2;border-radius:6px;padding:6px 12px;margin:0 8px 8px 0}
.kpi b{display:block;font-size:1.4em}.warn{background:#fff4e5;border:1px solid #f0c27b;padding:6px 10px;border-radius:6px}
.transcript{background:#fff;border:1px solid #ccc;border-radius:6px;padding:10px 14px;margin:18px 0}
.msg{border-left:4px solid #bbb;margin:6px 0;padding:2px 10px}.msg .role{font-weight:600;font-size:.85em;color:#555}
.msg.system{border-color:#999}.msg.user{border-color:#1f6fd1}.msg.assistant{border-color:#1b8a3a}.msg.tool{border-color:#8e44ad}
.msg.error{background:#fdecea}pre{white-space:pre-wrap;word-break:break-word;margin:2px 0;font-size:.82em;max-height:12em;overflow:auto}
summary h3{display:inline;margin:0}details{margin:1.2em 0 .4em}summary{cursor:pointer}
.expected{background:#f4f8ff;border:1px solid #cfe0f7;border-radius:6px;padding:6px 10px;font-size:.9em}
"""


def render(facts: DatasetFacts, runs: list[AgentRun], max_transcripts: int = MAX_TRANSCRIPTS) -> tuple[str, list[str]]:
    """The page, and the ids of its figures in order."""
    page = Page()
    cov = facts.coverage
    name = facts.domain.name
    summaries = [r.summary() for r in runs]
    page.add(f"<h1>envsynth report: {_e(name)}</h1>"
             f'<p class="muted">dataset {_e(facts.directory)}: {facts.count} tasks; '
             f"walk bound {facts.bound} steps; {len(runs)} agent run{'s' if len(runs) != 1 else ''}</p>")
    links = ['<a href="#coverage">coverage</a>', '<a href="#difficulty">difficulty</a>', '<a href="#tool-graph">tool graph</a>']
    if len(runs) > 1:
        links.append('<a href="#agents">agents</a>')
    links += [f'<a href="#eval-{i}">{_e(r.label)}</a>' for i, r in enumerate(runs, 1)]
    page.add("<nav>" + "".join(links) + "</nav>")
    _coverage_section(page, facts)
    _difficulty_section(page, facts)
    page.add('<section id="tool-graph"><h2>Tool graph</h2>'
             f'<p class="muted">{len(cov["tool_calls"])} of {cov["tools_total"]} tools called by some task; '
             f'{cov["edges_covered"]} of {cov["edges_total"]} edges exercised. An edge A &rarr; B: A reveals ids B takes '
             "(ids), lists records a user describes for B (select), creates what B acts on (creates), or changes "
             "what B's preconditions read (enables).</p>")
    page.figure("fig-tool-graph", _graph_plot(facts.domain, cov), "The tool dependency graph with the dataset's coverage.",
                f"tool graph of {name}")
    page.add("</section>")
    if len(runs) > 1:
        _agents_section(page, runs, summaries)
    shown = [_eval_section(page, facts, i, run, s, max_transcripts)
             for i, (run, s) in enumerate(zip(runs, summaries), 1)]
    if any(shown):
        page.add('<section id="transcripts"><h2>Transcripts of failing episodes</h2>')
        for i, (run, episodes) in enumerate(zip(runs, shown), 1):
            if episodes:
                page.add(f"<h3>{_e(run.label)}</h3>")
            for r in episodes:
                page.add(_transcript_html(facts, i, r, run.transcripts[r.key]))
        page.add("</section>")
    doc = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
           f"<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>envsynth report: {_e(name)}</title>"
           f"<style>{CSS}</style></head><body><main>" + "\n".join(page.parts) + "</main></body></html>\n")
    return doc, page.figures


def _kpi(label: str, value: Any) -> str:
    return f'<span class="kpi"><b>{_e(value)}</b>{_e(label)}</span>'


def _coverage_section(page: Page, facts: DatasetFacts) -> None:
    cov = facts.coverage
    page.add('<section id="coverage"><h2>Coverage</h2>'
             '<p class="muted">As <code>envsynth stats</code> computes it.</p><div>'
             + _kpi("tools covered", f"{cov['tools_covered']}/{cov['tools_total']}")
             + _kpi("graph edges covered", f"{cov['edges_covered']}/{cov['edges_total']}")
             + _kpi("precondition branches", f"{cov['branches_covered']}/{cov['branches_total']}")
             + _kpi("multi-intent share", cov["multi_intent_share"])
             + _kpi("refusal share", cov["refusal_share"]) + "</div>")
    page.add('<div class="grid two">')
    page.figure("fig-coverage", _coverage_plot(cov), f"Share of what the spec allows that some task exercises "
                f"(edges reachable: by a single-intent walk within {facts.bound} steps).", "coverage bars")
    calls = cov["tool_calls"]
    tools = sorted(facts.domain.tools)
    page.figure("fig-tool-calls", _bars("tasks calling each tool (gold)", tools, [calls.get(t, 0) for t in tools],
                                        [str(calls.get(t, 0)) for t in tools], ylabel="tasks"),
                "Tools with no bar are called by no task; why is listed below." if cov["uncovered_tools"]
                else "Every tool is called by some task.", "tool calls")
    page.add("</div>")
    tools = cov["uncovered_tools"]
    if tools:
        page.add(f'<h3>Tools no task calls ({len(tools)})</h3><table id="uncovered-tools"><tr><th>tool</th><th>why</th></tr>'
                 + "".join(f"<tr><td>{_e(t)}</td><td>{_e(why)}</td></tr>" for t, why in tools.items()) + "</table>")
    folded = [("uncovered-edges", "graph edges no task exercises", "edge",
               {f"{e.replace('|', ' → ', 1).replace('|', ' (')})": w for e, w in cov["uncovered_edges"].items()}),
              ("uncovered-refusals", "refusal reasons no task uses", "requirement",
               cov.get("uncovered_refusal_reasons", {}))]
    for table_id, title, what, items in folded:
        if items:
            page.add(f"<details><summary><b>{len(items)} {title}</b> (with why)</summary>"
                     f'<table id="{table_id}"><tr><th>{what}</th><th>why</th></tr>'
                     + "".join(f"<tr><td>{_e(a)}</td><td>{_e(b)}</td></tr>" for a, b in items.items()) + "</table></details>")
    if cov["uncovered_branches"]:
        page.add(f'<details><summary><b>{len(cov["uncovered_branches"])} precondition branches no task takes</b></summary><p>'
                 + _e(", ".join(cov["uncovered_branches"])) + "</p></details>")
    seqs = list(cov["tool_sequences"].items())
    page.add(f"<h3>Tool sequences ({len(seqs)})</h3><table><tr><th>gold tool sequence</th><th>tasks</th></tr>"
             + "".join(f'<tr><td>{_e(s or "(none: refused at once)")}</td><td class="num">{c}</td></tr>' for s, c in seqs[:30])
             + "</table>" + (f'<p class="muted">and {len(seqs) - 30} more</p>' if len(seqs) > 30 else ""))
    page.add("</section>")


def _difficulty_section(page: Page, facts: DatasetFacts) -> None:
    n = facts.count
    page.add('<section id="difficulty"><h2>Length and difficulty</h2><div class="grid">')

    def hist(fig_id: str, counter: Counter, title: str, xlabel: str, caption: str) -> None:
        keys = sorted(counter)
        page.figure(fig_id, _bars(title, [str(k) for k in keys], [counter[k] for k in keys],
                                  [str(counter[k]) for k in keys], ylabel="tasks"), caption, title)

    hist("fig-length", facts.lengths, "tasks by length (gold tool calls)", "tool calls",
         "Length 0: a request refused before any call is needed." if facts.lengths[0] else "Tool calls in the gold trajectory.")
    hist("fig-goals", facts.goals, "tasks by number of intents (goals)", "goals", "More than one: multi-intent tasks.")
    hist("fig-candidates", facts.candidates, "tasks by largest list to pick from", "candidates",
         "The most records the agent must choose a described one from (0: no choice).")
    kinds = sorted(facts.near_miss_tasks)
    labels = kinds + ["none"]
    none = n - facts.with_near_miss
    values = [facts.near_miss_tasks[k] for k in kinds] + [none]
    page.figure("fig-near-miss", _bars("tasks by near-miss kind", labels, values, [str(v) for v in values],
                                       ylabel="tasks", color="#c44e52"),
                f"A task can plant several kinds; {facts.before_target} tasks list a near miss before its target.",
                "near-miss kinds")
    page.figure("fig-refusal", _bars("tasks by refusal", ["must refuse", "must act"],
                                     [facts.refusals, n - facts.refusals],
                                     [f"{facts.refusals} ({facts.refusals / n:.0%})", f"{n - facts.refusals}"],
                                     ylabel="tasks", color="#8172b2"),
                f"Refusal share {facts.refusals / n:.2f}: the request breaks a rule and the agent must say why.",
                "refusal share")
    page.add("</div></section>")


def _agents_section(page: Page, runs: list[AgentRun], summaries: list[dict]) -> None:
    page.add('<section id="agents"><h2>Agents</h2><table id="agents-table"><tr><th>agent</th><th>results</th>'
             "<th>tasks</th><th>episodes</th><th>mean reward</th><th>pass^k (largest k)</th><th>failing episodes</th></tr>")
    for i, (run, s) in enumerate(zip(runs, summaries), 1):
        pk = s["pass_hat_k"]
        last = f"k={max(pk, key=int)}: {pk[max(pk, key=int)]}" if len(pk) > 1 else "-"
        page.add(f'<tr><td><a href="#eval-{i}">{_e(run.label)}</a></td><td>{_e(run.source)}</td>'
                 f'<td class="num">{s["tasks"]}</td><td class="num">{s["episodes"]}</td>'
                 f'<td class="num">{s["mean_reward"]}</td><td>{last}</td><td class="num">{s["failing_episodes"]}</td></tr>')
    page.add("</table>")
    labels = [r.label for r in runs]
    values = [s["mean_reward"] or 0.0 for s in summaries]
    page.add('<div class="grid">')
    page.figure("fig-agents", _bars("mean reward per agent", labels, values, [f"{v:.2f}" for v in values],
                                    ylabel="mean reward", ylim=1.2, color="#55a868", counts=False),
                "Mean over tasks of each task's mean reward over its trials.", "mean reward per agent")
    series = {r.label: s["pass_hat_k"] for r, s in zip(runs, summaries) if len(s["pass_hat_k"]) > 1}
    if series:
        page.figure("fig-agents-pass-k", _pass_k_plot("pass^k per agent", series),
                    "Agents run with several trials per task.", "pass^k per agent")
    page.add("</div></section>")


def _eval_section(page: Page, facts: DatasetFacts, i: int, run: AgentRun, s: dict,
                  max_transcripts: int) -> list[EpisodeResult]:
    """One agent's section; returns the failing episodes whose transcripts the page renders."""
    page.add(f'<section id="eval-{i}"><h2>{_e(run.label)}</h2><p class="muted">results {_e(run.source)}</p>')
    trials = s["trials"]
    trial_text = ", ".join(f"{v} tasks x {k}" for k, v in trials.items())
    page.add("<div>" + _kpi("mean reward", s["mean_reward"]) + _kpi("tasks", s["tasks"])
             + _kpi("episodes", s["episodes"]) + _kpi("failing episodes", s["failing_episodes"])
             + _kpi("trials per task", trial_text) + "</div>")
    unknown = sorted({r.task_id for r in run.episodes} - set(facts.tasks))
    if unknown:
        page.add(f'<p class="warn">{len(unknown)} tasks in these results are not in this dataset (e.g. '
                 f"{_e(unknown[0])}): were they made from another dataset?</p>")
    if run.unreadable:
        page.add(f'<p class="warn">{len(run.unreadable)} unreadable lines in {RESULTS} (lines '
                 f"{_e(', '.join(map(str, run.unreadable[:10])))}{' ...' if len(run.unreadable) > 10 else ''}) "
                 "were left out; a line cut short by a kill is replayed by a resumed eval.</p>")
    if run.retried:
        page.add(f'<p class="warn">{run.retried} episodes are marked to play again (they failed for a reason outside '
                 "the agent) and are left out; resume the eval to play them.</p>")
    t = s["totals"]
    rows = [("agent prompt tokens", t["prompt_tokens"]), ("agent completion tokens", t["completion_tokens"]),
            ("user prompt tokens", t["user_prompt_tokens"]), ("user completion tokens", t["user_completion_tokens"])]
    rows = [(k, v) for k, v in rows if v]
    if "cost" in t:
        rows.append(("cost", f"{t['cost']:.4f}"))
    rows += [("turns", t["turns"]), ("tool calls", t["tool_calls"]), ("seconds", t["seconds"])]
    if s["errors"]:
        rows.append(("episodes that ended abnormally", s["errors"]))
    pk = s["pass_hat_k"]
    page.add('<div class="row">'
             f'<table id="totals-{i}"><tr><th colspan="2">totals</th></tr>'
             + "".join(f'<tr><td>{_e(k)}</td><td class="num">{_e(v)}</td></tr>' for k, v in rows)
             + ("" if t["prompt_tokens"] or "cost" in t else '<tr><td colspan="2" class="muted">no tokens or cost recorded</td></tr>')
             + "</table>"
             + f'<table id="pass-k-{i}"><tr><th>k</th>' + "".join(f"<th>{k}</th>" for k in pk) + "</tr><tr><td>pass^k</td>"
             + "".join(f'<td class="num" data-k="{k}">{v}</td>' for k, v in pk.items()) + "</tr>"
             + ("" if len(pk) > 1 else f'<tr><td colspan="{len(pk) + 1}" class="muted">one trial per task: pass^k needs '
                                       "more (<code>envsynth eval --trials K</code>)</td></tr>")
             + "</table></div>")
    page.add('<div class="grid">')
    page.figure(f"fig-eval-{i}-length", _reward_bars("mean reward by length", s["by_length"], lambda k: f"{k}"),
                "x: gold tool calls; n: tasks.", f"{run.label}: reward by length")
    page.figure(f"fig-eval-{i}-near-miss", _reward_bars("mean reward by near-miss kind", s["by_distractor_kind"]),
                f"Tasks planting each kind (a task may plant several); none: no near miss. "
                f"With a near miss listed before the target: mean reward {s['with_distractors']['mean_reward']} over "
                f"{s['with_distractors']['tasks']} tasks.", f"{run.label}: reward by near-miss kind")
    page.figure(f"fig-eval-{i}-refusal", _reward_bars("mean reward by refusal", s["by_refusal"],
                                                      lambda k: {"refuse": "must refuse", "do": "must act"}[k]),
                "Tasks whose request must be refused, and the rest.", f"{run.label}: reward by refusal")
    if len(pk) > 1:
        page.figure(f"fig-eval-{i}-pass-k", _pass_k_plot("pass^k", {run.label: pk}),
                    "The chance that k trials of a task, drawn from those run, all succeed; averaged over tasks.",
                    f"{run.label}: pass^k")
    page.add("</div>")
    shown = _failing(page, facts, i, run, max_transcripts)
    page.add("</section>")
    return shown


def _why_failed(r: EpisodeResult) -> str:
    parts = []
    if r.error:
        parts.append(f"ended abnormally: {r.error}")
    if not r.db_match:
        parts.append("final database differs from the expected one")
    if not r.answers_communicated:
        parts.append("not told: " + "; ".join(r.missing) if r.missing else "answers not communicated")
    if r.failed_calls:
        parts.append(f"{r.failed_calls} failed call{'s' if r.failed_calls != 1 else ''}")
    return "; ".join(parts) or f"reward {r.reward}"


def _failing(page: Page, facts: DatasetFacts, i: int, run: AgentRun, max_transcripts: int) -> list[EpisodeResult]:
    failing = sorted((r for r in run.episodes if r.reward < 1.0), key=lambda r: (r.task_id, r.trial))
    if not failing:
        page.add(f'<h3 id="failing-{i}">Failing episodes (0)</h3><p class="muted">None: every episode scored 1.0.</p>')
        return []
    shown: list[EpisodeResult] = []
    # a long list starts folded (a click opens it; no script)
    page.add(f'<details id="failing-{i}"{" open" if len(failing) <= FOLD else ""}><summary><h3>Failing episodes '
             f'({len(failing)})</h3></summary><table class="failing"><tr><th>task</th><th>trial</th><th>length</th><th>near misses</th>'
             "<th>refusal</th><th>why</th><th>transcript</th></tr>")
    for r in failing:
        has = r.key in run.transcripts and len(shown) < max_transcripts
        if has:
            shown.append(r)
            link = f'<a href="#{transcript_anchor(i, r.task_id, r.trial)}">transcript</a>'
        else:
            link = '<span class="muted">not recorded</span>' if r.key not in run.transcripts else \
                '<span class="muted">not rendered (limit)</span>'
        page.add(f'<tr><td class="id">{_e(r.task_id)}</td><td>{r.trial}</td><td>{r.length}</td>'
                 f"<td>{_e(', '.join(r.distractor_kinds) or '-')}</td><td>{'yes' if r.refusal else ''}</td>"
                 f"<td>{_e(_why_failed(r))}</td><td>{link}</td></tr>")
    page.add("</table>")
    if len(shown) < len(failing):
        page.add(f'<p class="muted">{len(failing) - len(shown)} failing episodes have no transcript here '
                 f"(not in {TRANSCRIPTS}, or past the {max_transcripts} rendered per agent: --max-transcripts).</p>")
    page.add("</details>")
    return shown


def _transcript_html(facts: DatasetFacts, i: int, r: EpisodeResult, t: Transcript) -> str:
    out = [f'<div class="transcript" id="{transcript_anchor(i, r.task_id, r.trial)}">'
           f"<h4>{_e(r.task_id)} trial {r.trial}: reward {r.reward} "
           f'<a href="#failing-{i}" class="muted">(back to the list)</a></h4>'
           f"<p>{_e(_why_failed(r))}</p>"]
    brief = facts.tasks.get(r.task_id)
    if brief is not None:
        exp = ["<b>Expected</b> (gold):"]
        exp += [f"<div><code>{_e(g)}</code></div>" for g in brief.gold] or ["<div>no tool call</div>"]
        exp += [f"<div>refuse <code>{_e(x)}</code></div>" for x in brief.refusals]
        exp += [f"<div>tell the user: <code>{_e(a)}</code></div>" for a in brief.answers]
        out.append('<div class="expected">' + "".join(exp) + "</div>")
    for m in t.messages:
        role = str(m.get("role", "?"))
        content = m.get("content")
        if isinstance(content, list):  # content parts
            content = "\n".join(str(p.get("text", p)) if isinstance(p, dict) else str(p) for p in content)
        err = role == "tool" and isinstance(content, str) and content.startswith("Error")
        body = []
        if content:
            body.append(f"<pre>{_e(_pretty(content) if role == 'tool' else content)}</pre>")
        for call in m.get("tool_calls") or []:
            fn = call.get("function", {}) if isinstance(call, dict) else {}
            body.append(f"<pre>&#8594; {_e(fn.get('name', '?'))}({_e(_pretty(fn.get('arguments', '')))})</pre>")
        label = role + (f" ({m['name']})" if m.get("name") else "")
        if role == "system":
            out.append(f'<details class="msg system"><summary class="role">system (policy)</summary>{"".join(body)}</details>')
        else:
            out.append(f'<div class="msg {_e(role)}{" error" if err else ""}"><div class="role">{_e(label)}</div>'
                       + "".join(body) + "</div>")
    out.append("</div>")
    return "".join(out)


def _pretty(text: Any) -> str:
    if not isinstance(text, str):
        return json.dumps(text, ensure_ascii=False)
    try:
        return json.dumps(json.loads(text), ensure_ascii=False)
    except ValueError:
        return text


# ----------------------------------------------------------------------------- entry point


@dataclass
class ReportResult:
    path: Path
    figures: list[str]
    runs: list[dict]
    coverage: dict


def build_report(dataset: Path, evals: Iterable[Path] = (), output: Path = Path("report.html"),
                 spec: Optional[str] = None, max_len: Optional[int] = None,
                 max_transcripts: int = MAX_TRANSCRIPTS) -> ReportResult:
    """Write the report page for a dataset and any number of eval results directories."""
    _plt()  # fail early, before the coverage work, when matplotlib is missing
    output = Path(output)
    if output.is_dir():
        raise EnvsynthError(f"{output} is a folder; give the HTML file to write (-o {output / 'report.html'})")
    output.parent.mkdir(parents=True, exist_ok=True)
    runs: list[AgentRun] = []
    for d in evals:
        runs += read_results(Path(d))
    facts = read_dataset(dataset, spec, max_len)
    for run in runs:
        if not any(r.task_id in facts.tasks for r in run.episodes):
            raise EnvsynthError(f"the results in {run.source} ({run.label}) name none of the {facts.count} tasks in "
                                f"{facts.directory}: give the dataset that eval ran on")
    add_coverage(facts)
    text, figures = render(facts, runs, max_transcripts)
    output.write_text(text, encoding="utf-8")
    return ReportResult(output, figures, [r.summary() for r in runs], facts.coverage)
