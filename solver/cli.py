"""The `envsynth` command line: a thin layer over the Python API.

Every command turns user mistakes into a located message and a non-zero exit, never a
traceback (set ENVSYNTH_DEBUG=1 to see one for an internal error).
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from .errors import EnvsynthError, SpecErrors

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Synthesize provably valid tool-use environments for LLM agents from constraint specs.",
    pretty_exceptions_enable=False,
)
out = Console(soft_wrap=True, emoji=False)
err = Console(stderr=True, soft_wrap=True, emoji=False)


def friendly(fn):
    """Report EnvsynthErrors as messages; internal errors as one line unless ENVSYNTH_DEBUG is set."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SpecErrors as e:
            # plain text, never wrapped: editors and CI parse file:line:col
            sys.stderr.write(str(e) + "\n")
            raise typer.Exit(1)
        except EnvsynthError as e:
            sys.stderr.write(f"error: {e}\n")
            raise typer.Exit(1)
        except OSError as e:  # a path the user gave: a file where a folder should be, read-only, full disk
            sys.stderr.write(f"error: {io_message(e)}\n")
            raise typer.Exit(1)
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as e:  # pragma: no cover - a bug, said plainly
            if os.environ.get("ENVSYNTH_DEBUG"):
                raise
            err.print(f"internal error: {type(e).__name__}: {e}\n(rerun with ENVSYNTH_DEBUG=1 for the traceback)",
                      markup=False, highlight=False)
            raise typer.Exit(70)

    return wrapper


def io_message(e: OSError) -> str:
    """An operating-system error on a path the user gave, in plain words with what to do."""
    import errno

    where = f"{e.filename}: " if e.filename else ""
    advice = {
        errno.EEXIST: "a file is in the way where a folder is needed; give another path",
        errno.ENOTDIR: "part of this path is a file, not a folder; give another path",
        errno.EISDIR: "this is a folder, not a file",
        errno.EROFS: "the file system there is read-only; choose a folder you can write to",
        errno.EACCES: "no permission to write there; choose a folder you can write to",
        errno.EPERM: "no permission to write there; choose a folder you can write to",
        errno.ENOSPC: "the disk is full; free some space or write elsewhere (a resume picks up where this stopped)",
        errno.EFBIG: "the file grew past the size this system allows; write elsewhere",
        errno.ENOENT: "no such file or folder",
    }.get(e.errno, "")
    return f"{where}{e.strerror or e}" + (f" ({advice})" if advice else "")


SPEC_HELP = "A spec file (path/to/domain.yaml) or the name of a shipped spec (airline, retail, ...)."


@app.command()
@friendly
def check(
    spec: str = typer.Argument(..., help=SPEC_HELP),
    max_len: int = typer.Option(4, "--max-len", min=1, help="Longest walk to consider when checking reachability."),
    json_out: bool = typer.Option(False, "--json", help="Print the findings as one JSON object."),
    workers: Optional[int] = typer.Option(None, "-j", "--workers", min=1,
                                          help="Processes for a large spec's planner questions (default: the usable cores; the findings do not depend on it)."),
):
    """Check a spec: located errors, lints, reachability and feasibility of every tool.

    Exit status: 0 clean, 1 errors, 3 warnings only."""
    from .check import check_domain
    from .parallel import usable_cores
    from .spec.loader import load_domain

    domain = load_domain(spec)
    report = check_domain(domain, max_len=max_len, workers=workers or usable_cores())
    if json_out:
        print(json.dumps({
            "domain": domain.name,
            "errors": [f.message for f in report.errors],
            "warnings": [f.message for f in report.warnings],
            "info": [f.message for f in report.findings if f.severity == "info"],
            "walks": report.walks,
            "walks_per_length": report.per_length,
            "tools": len(domain.tools),
            "tools_reached": sorted(report.tools_reached),
            "feasible_goals": sorted(report.feasible_goals),
            **({"targeted_goals": report.targeted} if report.targeted else {}),
        }, indent=2))
        raise typer.Exit(report.exit_code)
    refs = sum(len(e.refs) for e in domain.entities.values())
    out.print(f"[bold]{domain.name}[/bold] ({domain.source}): {len(domain.entities)} entities, "
              f"{len(domain.tools)} tools, {refs} references")
    if report.planned and report.targeted:
        out.print(f"tools reached within {max_len} steps: {len(report.tools_reached)}/{len(domain.tools)}; "
                  f"goals shown feasible: {len(report.feasible_goals)}")
        out.print(f"some goals have too many walks to enumerate, so every goal's reachable tools were asked "
                  f"of the solver, a question at a time ({report.targeted} goals; walks not counted)")
    elif report.planned:
        out.print(f"walks up to {max_len} steps: {report.walks} "
                  f"({', '.join(f'length {k}: {v}' for k, v in report.per_length.items())}); "
                  f"tools reached: {len(report.tools_reached)}/{len(domain.tools)}; "
                  f"goals shown feasible: {len(report.feasible_goals)}")
    else:
        out.print("walks not planned: fix the errors below first")
    for f in report.findings:
        style = {"error": "red", "warning": "yellow"}.get(f.severity, "blue")
        out.print(f"[{style}]{f.severity}[/{style}]: ", end="")
        out.print(f.message, markup=False, highlight=False)
    if not report.errors and not report.warnings:
        out.print("[green]ok[/green]: no problems found")
    raise typer.Exit(report.exit_code)


@app.command()
@friendly
def graph(
    spec: str = typer.Argument(..., help=SPEC_HELP),
    output: Path = typer.Option(..., "-o", "--output", help="Output path; writes .dot, .json and .png (when possible)."),
):
    """Write the tool dependency graph (DOT, JSON and a picture when graphviz or matplotlib is present)."""
    from .plan.graph import build_graph, write_graph
    from .spec.loader import load_domain

    g = build_graph(load_domain(spec))
    for p in write_graph(g, output):
        out.print(f"wrote {p}")
    out.print(f"{g.number_of_nodes()} tools, {g.number_of_edges()} edges")


@app.command()
@friendly
def walks(
    spec: str = typer.Argument(..., help=SPEC_HELP),
    max_len: int = typer.Option(3, "--max-len", min=1, help="Longest walk, in tool calls."),
    n: Optional[int] = typer.Option(None, "-n", min=1, help="Stop after this many walks."),
    sample: bool = typer.Option(False, "--sample", help="Draw N random walks (by --seed) instead of enumerating."),
    seed: int = typer.Option(0, "--seed"),
    goals: int = typer.Option(1, "--goals", min=1, help="Goal steps per walk (more: multi-intent plans)."),
    allow_repeats: bool = typer.Option(False, "--allow-repeats",
                                       help="Also print walks equal to an earlier one up to renaming/reordering."),
    show_asp: bool = typer.Option(False, "--show-asp", help="Print the planner's program (its rules, then the spec as facts) instead."),
):
    """Enumerate walks (plans over abstract objects) as JSON lines, shortest first, one per
    canonical form; or draw a random sample of them."""
    import random as _random
    import time as _time

    from .plan.facts import AspOptions
    from .plan.planner import program_text
    from .plan.canonical import canonical_key
    from .spec.loader import load_domain
    from .plan.planner import WalkStats, enumerate_walks, sample_walk

    domain = load_domain(spec)
    asp = AspOptions(max_goals=goals)
    if show_asp:
        print(program_text(domain, asp))
        return
    seen: set[str] = set()
    per_length: dict[int, int] = {}
    total = 0
    t0 = _time.perf_counter()
    if sample:
        rng = _random.Random(seed)
        source = (sample_walk(domain, rng.randint(1, max_len), rng.randrange(2**31), asp) for _ in range(n or 10))
    else:
        source = enumerate_walks(domain, max_len=max_len, options=asp, stats=WalkStats())
    for w in source:
        if w is None:
            continue
        total += 1
        key = canonical_key(domain, w)
        if key in seen and not allow_repeats:
            continue
        seen.add(key)
        per_length[len(w.steps)] = per_length.get(len(w.steps), 0) + 1
        print(json.dumps({"walk": w.describe(), "canonical": key, **w.model_dump()}, sort_keys=True))
        if n is not None and not sample and len(seen) >= n:
            break
    secs = _time.perf_counter() - t0
    err.print(f"{total} walks, {len(seen)} canonical ({dict(sorted(per_length.items()))}) in {secs:.2f}s "
              f"({total / secs if secs else 0:.0f} walks/s)")


@app.command()
@friendly
def generate(
    spec: str = typer.Argument(..., help=SPEC_HELP),
    n: int = typer.Option(100, "-n", help="Number of tasks."),
    seed: int = typer.Option(0, "--seed", help="Seed; same spec, seed and options give byte-identical output."),
    output: Path = typer.Option(Path("out"), "-o", "--output", help="Output directory."),
    workers: Optional[int] = typer.Option(
        None, "--workers", "-j", min=1,
        help="Worker processes (default: the cores this process may use), or Ray actors with --ray "
             "(default: one per CPU of the cluster). Output does not depend on it."),
    ray: Optional[str] = typer.Option(
        None, "--ray", metavar="[ADDRESS]",
        help="Spread the work over a Ray cluster: the HOST:PORT of its head node, or no value for this "
             "machine's cluster (RAY_ADDRESS, a running `ray start`, else a new local one). Same output. "
             "Needs: pip install 'envsynth[ray]'."),
    max_len: int = typer.Option(4, "--max-len", help="Longest walk, in tool calls."),
    background: float = typer.Option(1.0, "--background", help="Multiplier on each entity's background record count."),
    distractors: int = typer.Option(3, "--distractors", help="Near-miss records per description (0: none)."),
    distractor_kinds: str = typer.Option(
        "all", "--distractor-kinds", help="Comma list of: outranked, state_trap, off_by_one, look_alike."),
    length_mix: Optional[str] = typer.Option(
        None, "--length-mix", help="Target mix of walk lengths, e.g. '1:1,2:2,3:2,4:1' (weights); lengths "
        "beyond --max-len are built by chaining intents that share records, ranges share a weight: '2:1,10-15:1'."),
    difficulty: Optional[str] = typer.Option(
        None, "--difficulty", help="A difficulty profile every task must be on: easy, medium, hard, expert, or "
        "bounds on length, intents, compared, near_misses, conditionals, e.g. 'length=8-12,near_misses=1-'."),
    multi_intent: float = typer.Option(0.0, "--multi-intent", help="Share of tasks merged from several intents (0-1)."),
    refusals: float = typer.Option(0.0, "--refusals", help="Share of tasks whose request must be refused (0-1)."),
    conditionals: float = typer.Option(0.0, "--conditionals", help="Share of tasks with a conditional request: refused "
                                       "for a rule with a fallback, which the user asks for instead (0-1)."),
    max_intents: int = typer.Option(2, "--max-intents", help="Most intents in one merged task."),
    walk_mode: str = typer.Option("exhaustive", "--walks",
                                  help="exhaustive: enumerate all walks, then sample; sampled: clingo draws each walk."),
    stratify: str = typer.Option("sequence", "--stratify", help="Sample walks by goal then tool sequence ('sequence') or by goal ('goal')."),
    allow_repeats: bool = typer.Option(False, "--allow-repeats", help="Allow two tasks of the same shape."),
    no_learn: bool = typer.Option(False, "--no-learn", help="Do not learn nogoods from infeasible walks."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
):
    """Generate N verified tasks into DIR (tasks.jsonl, manifest.json, spec.yaml)."""
    from .state.distractors import KINDS
    from .generate import GenerateOptions, generate as run
    from .parallel import usable_cores
    from .spec.loader import resolve_spec_path

    kinds = KINDS if distractor_kinds == "all" else tuple(k.strip() for k in distractor_kinds.split(",") if k.strip())
    from .tasks.difficulty import parse_length_mix

    mix = parse_length_mix(length_mix) if length_mix else None
    options = GenerateOptions(n=n, seed=seed, max_len=max_len, background=background, distractors=distractors,
                              distractor_kinds=kinds, length_mix=mix, multi_intent=multi_intent,
                              max_intents=max_intents, walk_mode=walk_mode, stratify=stratify,
                              allow_repeats=allow_repeats, learn=not no_learn, refusals=refusals, conditionals=conditionals,
                              difficulty=difficulty)
    resolve_spec_path(spec)  # a bad spec name fails before the progress bar shows
    progress = Progress(TextColumn("[bold]generating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        TimeRemainingColumn(), console=err, disable=quiet, transient=False)
    with progress:
        bar = progress.add_task("tasks", total=n)
        local = workers or usable_cores()  # with --ray, None: one actor per CPU of the cluster
        report = run(spec, output, options, workers=workers if ray is not None else local, ray=ray,
                     progress=lambda done, total: progress.update(bar, completed=done))
    rate = report.tasks / report.seconds if report.seconds else 0.0
    err.print(f"{report.tasks} tasks in {report.seconds:.1f}s ({rate:.1f} tasks/s) -> {output}/tasks.jsonl")
    if report.resumed_from:
        err.print(f"resumed after {report.resumed_from} tasks already on disk")
    c = report.counts
    if c["proposed"]:
        skipped = [(c["infeasible"] + c["pruned"], "infeasible walks"
                    + (f" ({c['pruned']} pruned by {c['learned']} learned nogoods)" if c["pruned"] else "")),
                   (c["unrenderable"], "relied on a description the templates never give the user"),
                   (c["failed_check"], "failed their own verification"),
                   (c["repeats"], "repeated the shape of a task already written"),
                   (c["merge_rejected"], "merges the planner rejected"),
                   (c["off_profile"], "were off the difficulty profile")]
        parts = [f"{k} {what}" for k, what in skipped if k]
        if parts:
            err.print(f"{c['proposed']} walks proposed for {report.tasks - report.resumed_from} tasks; not written: "
                      + ", ".join(parts) + " (all reasons in manifest.json; nothing unverified is ever written)")
            top = [(why, k) for why, k in report.failures.most_common() if "same shape" not in why][:2]
            for why, k in top:
                err.print(f"  {k} x {why if len(why) <= 200 else why[:197] + '...'}", markup=False, highlight=False)
    if report.mismatches:
        err.print(f"[red]{report.mismatches} solver/runtime disagreements[/red] (no such task was written)")


@app.command()
@friendly
def verify(
    directory: Path = typer.Argument(..., help="A dataset directory (tasks.jsonl + spec.yaml) or a tasks.jsonl file."),
    spec: Optional[str] = typer.Option(None, "--spec", help="Check against this spec instead of DIR/spec.yaml."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
):
    """Re-check every task without the solvers; non-zero exit if any task fails."""
    from .verify import count_tasks, iter_checks, tasks_file

    failures = []
    total = descriptions = preconditions = 0
    with Progress(TextColumn("[bold]verifying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, disable=quiet) as progress:
        bar = progress.add_task("tasks", total=count_tasks(tasks_file(directory)))
        for r in iter_checks(directory, spec):
            total += 1
            descriptions += r.sql_descriptions
            preconditions += r.sql_requirements
            if not r.ok:
                failures.append(r)
            progress.advance(bar)
    for r in failures:
        out.print(f"[red]FAIL[/red] {r.id}: ", end="")
        out.print("; ".join(r.problems), markup=False, highlight=False)
    if failures:
        out.print(f"{len(failures)} of {total} tasks failed verification")
        raise typer.Exit(1)
    out.print(f"[green]ok[/green]: {total} tasks verified (gold replays and scores 1.0, doing nothing scores 0, "
              "every description picks out its target); the second engine (SQL on SQLite) agrees on "
              f"{descriptions} descriptions and {preconditions} preconditions")


@app.command()
@friendly
def stats(
    directory: Path = typer.Argument(..., help="A dataset directory (tasks.jsonl + spec.yaml)."),
    spec: Optional[str] = typer.Option(None, "--spec"),
    max_len: Optional[int] = typer.Option(None, "--max-len", min=1, help="Walk bound for reachability (default: the dataset's)."),
    json_out: bool = typer.Option(False, "--json", help="Print one JSON object."),
    buckets: Optional[str] = typer.Option(
        None, "--buckets", help="Lengths that start the coverage buckets, e.g. '2,5,10,15' (default: the "
        "dataset's --length-mix; ranges count from their start)."),
):
    """Coverage of a dataset: tools, graph edges and precondition branches exercised, tool
    sequences, lengths, multi-intent share, coverage per length bucket and the difficulty
    distribution - and what no task covers, with why."""
    from .coverage import Coverage, asked_lengths, coverage_report, walk_bound
    from .generate import summarize
    from .verify import dataset_spec, iter_tasks, tasks_file

    path = tasks_file(directory)
    domain = dataset_spec(path.parent, spec)
    bound = walk_bound(path.parent, max_len)
    cov = Coverage()
    for task in iter_tasks(path):
        cov.add(summarize(domain, task))
    try:
        lengths = [int(x) for x in buckets.split(",")] if buckets else asked_lengths(path.parent)
    except ValueError:
        raise EnvsynthError("--buckets takes lengths separated by commas, e.g. '2,5,10,15'") from None
    report = coverage_report(domain, cov, bound, _bucket_starts(lengths))
    if json_out:
        print(json.dumps(report))
        return
    out.print(f"[bold]{domain.name}[/bold]: {report['tasks']} tasks")
    longest = max((int(k) for k in report["lengths"]), default=bound)
    out.print(f"tools covered {report['tools_covered']}/{report['tools_total']}; graph edges covered "
              f"{report['edges_covered']}/{report['edges_total']} ({report['edges_reachable_covered']}/"
              f"{report['edges_reachable']} of those a single intent of up to {bound} steps exercises); precondition "
              f"branches {report['branches_covered']}/{report['branches_total']}; multi-intent share "
              f"{report['multi_intent_share']}")
    out.print(f"single-intent walks of up to {bound} steps: {report['canonical_walks']} canonical, "
              f"{report['canonical_walks_covered']} of them used by some task"
              + (f"; tasks of {bound + 1}-{longest} steps chain several intents" if longest > bound else ""))
    out.print("lengths: " + ", ".join(f"{k}: {v}" for k, v in report["lengths"].items()))
    if len(report["by_length"]) > 1:
        table = Table("length", "tasks", "tools", "edges", "branches", "edges no shorter bucket covers")
        for name, b in report["by_length"].items():
            table.add_row(name, str(b["tasks"]), f"{b['tools_covered']}/{b['tools_total']}",
                          f"{b['edges_covered']}/{b['edges_total']}", f"{b['branches_covered']}/{b['branches_total']}",
                          str(len(b["edges_only_here"])))
        out.print(table)
    out.print("difficulty: " + "; ".join(
        f"{dim} " + ", ".join(f"{v}: {c}" for v, c in dist.items()) for dim, dist in report["difficulty"].items()),
        markup=False)
    if cov.refusals:
        out.print(f"refusal share {report['refusal_share']} ({cov.refusals} tasks); refusal reasons covered "
                  f"{report['refusal_reasons_covered']}/{report['refusal_reasons_total']} of those some "
                  f"single-intent walk of up to {bound} steps can refuse by", markup=False)
        for reason, why in report["uncovered_refusal_reasons"].items():
            out.print(f"  no task refuses by {reason}: {why}", markup=False)
    if report.get("conditional_branches"):
        out.print(f"conditional share {report['conditional_share']}; conditional branches covered "
                  f"{report['conditional_branches_covered']}/{len(report['conditional_branches'])} (refused, then the "
                  "fallback; verify checks the other branch of each)", markup=False)
        for branch, c in report["conditional_branches"].items():
            out.print(f"  {branch}: {c} tasks" if c else f"  {branch}: no task (not sampled: ask --conditionals)",
                      markup=False)
    table = Table("tool sequence", "tasks")
    for seq, c in list(report["tool_sequences"].items())[:15]:
        table.add_row(seq, str(c))
    out.print(table)
    for kind in ("tools", "edges"):
        missing = report[f"uncovered_{kind}"]
        if missing:
            counts = report.get(f"uncovered_{kind[:-1]}_reasons")
            out.print(f"not covered ({kind})" + (": " + ", ".join(f"{c} {r}" for r, c in counts.items()) if counts else "")
                      + (f" - at every length up to {longest} unless a bound is said" if kind == "edges" else "") + ":",
                      markup=False)
            for item, why in missing.items():
                out.print(f"  {item.replace('|', ' -> ', 1).replace('|', ' ')}: {why}", markup=False)
    if report["uncovered_branches"]:
        out.print("branches not taken: " + ", ".join(report["uncovered_branches"]), markup=False)


STANDARD_BUCKETS = (1, 2, 5, 8, 12, 16)


def _bucket_starts(lengths: list[int]) -> list[int]:
    """Bucket starts from asked-for lengths: each, when there are a few; when a mix names many
    (ranges: '1-4:1,8-12:1'), the standard buckets from its shortest length on."""
    asked = sorted(set(lengths))
    if len(asked) <= 6:
        return asked
    return [asked[0]] + [n for n in STANDARD_BUCKETS if n > asked[0]]


@app.command()
@friendly
def report(
    directory: Path = typer.Argument(..., help="A dataset directory (tasks.jsonl + spec.yaml)."),
    evals: Optional[list[Path]] = typer.Option(None, "--eval", help="A results directory of `envsynth eval --out` (repeat for several)."),
    output: Path = typer.Option(Path("report.html"), "-o", "--output", help="The HTML file to write."),
    spec: Optional[str] = typer.Option(None, "--spec", help="Use this spec instead of DIR/spec.yaml."),
    max_len: Optional[int] = typer.Option(None, "--max-len", min=1, help="Walk bound for reachability (default: the dataset's)."),
    max_transcripts: int = typer.Option(200, "--max-transcripts", min=0, help="Failing transcripts rendered per agent."),
):
    """Write one self-contained HTML page: coverage, length and difficulty, the tool graph, and per
    agent reward by length, near-miss kind and refusal, pass^k and the failing transcripts."""
    from .report import build_report

    result = build_report(directory, evals or [], output, spec=spec, max_len=max_len, max_transcripts=max_transcripts)
    failing = sum(r["failing_episodes"] for r in result.runs)
    out.print(f"wrote {result.path}: {len(result.figures)} plots, {len(result.runs)} agent runs, "
              f"{failing} failing episodes", highlight=False)


@app.command()
@friendly
def show(
    directory: Path = typer.Argument(..., help="A dataset directory or a tasks.jsonl file."),
    n: int = typer.Option(10, "-n", min=1, help="How many tasks to show (from the top, or after --skip)."),
    skip: int = typer.Option(0, "--skip", min=0, help="Tasks to skip first."),
    task_id: Optional[str] = typer.Option(None, "--id", help="Show only the task with this id."),
    tool: Optional[str] = typer.Option(None, "--tool", help="Only tasks whose gold trajectory calls this tool."),
):
    """Read tasks the way a reviewer does: each instruction next to its gold actions, the answers
    and refusals it expects, and the near misses planted around it."""
    from .verify import iter_tasks, tasks_file

    path = tasks_file(directory)
    shown = seen = 0
    for task in iter_tasks(path):
        if task_id is not None and task.id != task_id:
            continue
        if tool is not None and tool not in {a.name for a in task.gold_actions}:
            continue
        seen += 1
        if seen <= skip:
            continue
        n_steps = task.difficulty.length
        out.rule(f"[bold]{task.id}[/bold]  {n_steps} step{'' if n_steps == 1 else 's'}", align="left")
        out.print(task.instruction, highlight=False)
        for i, a in enumerate(task.gold_actions, 1):
            out.print(f"  [cyan]{i}. {a.name}[/cyan]({json.dumps(a.arguments, ensure_ascii=False)})", highlight=False)
        for r in task.expected.refusals:
            out.print(f"  [yellow]refuse[/yellow] {r.tool}({json.dumps(r.arguments, ensure_ascii=False)}): "
                      f"{r.error}  [dim]({r.requirement})[/dim]", highlight=False)
        for ans in task.expected.answers:
            if not any(r.step == ans.step for r in task.expected.refusals):
                out.print(f"  [green]answer[/green] {ans.value}", highlight=False)
        for d in task.certificate.distractors:
            where = ("listed before the target" if d.before_target else "listed with the target") if d.visible \
                else "in the database, for an agent that searches carelessly"
            out.print(f"  [dim]near miss {d.id} ({d.kind}) for {d.target}: {d.breaks}; {where}[/dim]", highlight=False)
        shown += 1
        if shown >= n:
            break
    if shown == 0:
        raise EnvsynthError("no task matches" if (task_id or tool or skip) else f"{path} holds no tasks")


@app.command(name="eval")
@friendly
def eval_(
    directory: Path = typer.Argument(..., help="A dataset directory (tasks.jsonl + spec.yaml)."),
    agent: str = typer.Option("oracle", "--agent", "-a",
                              help="openai:MODEL (any OpenAI-compatible endpoint), oracle, noop, random, "
                                   "distractor-blind, exploit, or package.module:Class."),
    trials: int = typer.Option(1, "--trials", "-k", min=1, help="Trials per task for a stochastic agent (pass^k)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed: built-in agents' randomness (default 0); "
                                                             "sent to the model as seed+trial for openai:."),
    spec: Optional[str] = typer.Option(None, "--spec", help="Use this spec instead of DIR/spec.yaml."),
    json_out: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="The endpoint, e.g. http://localhost:8000/v1 "
                                                                    "(default: the OpenAI API)."),
    api_key_env: Optional[str] = typer.Option(None, "--api-key-env", help="Environment variable holding the API key "
                                                                          "(default OPENAI_API_KEY; none needed with --base-url)."),
    user: str = typer.Option("none", "--user", help="none (the whole request in one message), scripted (a rule-based "
                                                    "user who gives facts when asked), or llm:MODEL."),
    max_turns: int = typer.Option(30, "--max-turns", min=1, help="Agent turns (completions) per episode."),
    temperature: float = typer.Option(0.0, "--temperature", min=0.0),
    concurrency: int = typer.Option(4, "-j", "--concurrency", min=1, help="Episodes played at once (openai: agents)."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Results directory (results.jsonl, transcripts.jsonl, "
                                                               "summary.json); default DIR/evals/<agent>-<user>/ for "
                                                               "openai: agents. An existing one is resumed."),
    price_in: Optional[float] = typer.Option(None, "--price-in", min=0.0, help="USD per million prompt tokens (cost)."),
    price_out: Optional[float] = typer.Option(None, "--price-out", min=0.0, help="USD per million completion tokens."),
    retries: int = typer.Option(6, "--retries", min=0, help="Client retries per request on 429/5xx/connection "
                                                            "errors (with backoff), then up to 2 slower rounds."),
):
    """Run an agent on every task (same scoring as verify): mean reward by length and near-miss kind.

    With --agent openai:MODEL it plays a tool-calling model at any OpenAI-compatible endpoint, with a
    simulated user (--user), writes every result and transcript as it goes and resumes an interrupted run."""
    from .play.agents import evaluate, load_agent
    from .play.results import ResultsDir
    from .play.session import (LLMAgent, UserFactory, failed_episode, play_builtin, play_llm, run_eval,
                               summarize)
    from .verify import dataset_spec, iter_tasks, tasks_file

    path = tasks_file(directory)
    domain = dataset_spec(path.parent, spec)
    users = UserFactory(user)  # validates the mode before anything runs
    built = None
    if agent.startswith("openai:"):
        from .play.llm import Endpoint, api_key

        model = agent[len("openai:"):].strip()
        if not model:
            raise EnvsynthError("give the model after openai:, e.g. --agent openai:gpt-4o-mini")
        key = api_key(api_key_env, base_url)
        llm = LLMAgent(Endpoint(model, base_url, key, retries), temperature, seed, max_turns, price_in, price_out)
        if users.kind == "llm":
            users.endpoint = Endpoint(users.model, base_url, key, retries)
        users.temperature, users.seed = temperature, seed
        name, mode, runs = llm.name, users.mode, trials

        def play(task, trial):
            return play_llm(domain, task, trial, llm, users)
        if out_dir is None:
            slug = re.sub(r"[^\w.-]+", "-", f"{agent}-{user}").strip("-")
            out_dir = path.parent / "evals" / slug
    else:
        if users.kind != "none":
            raise EnvsynthError(f"--user {user} needs a conversational agent (--agent openai:MODEL); "
                                f"built-in agents read the whole request")
        built = load_agent(agent)
        if out_dir is None:  # no results directory: the summary only, as before
            summary = evaluate(domain, iter_tasks(path), built, trials=trials, seed=seed or 0)
            _print_eval(summary.to_json(), json_out)
            return
        name, mode = getattr(built, "name", type(built).__name__), "none"
        runs = trials if getattr(built, "stochastic", False) else 1
        concurrency = 1  # built-in agents may keep state across episodes (exploit's tallies)

        def play(task, trial):
            return play_builtin(domain, task, trial, built, seed or 0)
    tasks = list(iter_tasks(path))
    results = ResultsDir(out_dir)
    other = next((r for r in results.results() if (r.agent, r.user) != (name, mode)), None)
    if other is not None:
        raise EnvsynthError(f"{out_dir} holds results of agent {other.agent} with user {other.user}, not {name} "
                            f"with user {mode}: give another --out (or delete it) to start a new run")
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("reward {task.fields[mean]}"),
                        TimeElapsedColumn(), TimeRemainingColumn(), console=err, transient=True)
    total = len({t.id for t in tasks}) * runs
    done_before = len(results.done())
    rewards: list[float] = []
    with progress:
        bar = progress.add_task(f"{name} ({mode})", total=total, completed=min(done_before, total), mean="-")

        def on_episode(r):
            rewards.append(r.reward)
            progress.update(bar, advance=1, mean=f"{sum(rewards) / len(rewards):.3f}")

        report = run_eval(tasks, play, results, trials=runs, concurrency=concurrency, on_episode=on_episode,
                          failed_result=failed_episode(name, mode))
    extra = {}
    if callable(getattr(built, "report", None)):
        extra = {name: built.report()}
    data = summarize(tasks, results, runs, name, mode, extra)
    results.write_summary(data)
    _print_eval(data, json_out)
    if not json_out:
        out.print(f"played {report.played}, already done {report.skipped}; results in {out_dir}")
    if report.stopped:
        sys.stderr.write(f"error: stopped early: {report.stopped}\n"
                         f"{report.failed} episode(s) failed and {data['incomplete']} of {report.planned} are not done; "
                         f"run the same command again to resume (results in {out_dir})\n")
        raise typer.Exit(1)


def _print_eval(data: dict, json_out: bool) -> None:
    if json_out:
        print(json.dumps(data))
        return
    out.print(f"[bold]{data['agent']}[/bold] on {data['tasks']} tasks: mean reward {data['mean_reward']}"
              + (f" ({data['trials']} trials)" if data["trials"] > 1 else "")
              + (f", user {data['user']}" if data.get("user", "none") != "none" else ""))
    wd = data["with_distractors"]
    out.print(f"tasks with a near miss listed before the target: {wd['tasks']}, mean reward {wd['mean_reward']}")
    table = Table("bucket", "tasks", "mean reward")
    for k, v in data["by_length"].items():
        table.add_row(f"length {k}", str(v["tasks"]), str(v["mean_reward"]))
    for k, v in data["by_distractor_kind"].items():
        table.add_row(f"near miss: {k}", str(v["tasks"]), str(v["mean_reward"]))
    out.print(table)
    if "pass_hat_k" in data:
        out.print("pass^k: " + ", ".join(f"k={k}: {v}" for k, v in data["pass_hat_k"].items()))
    if "tokens" in data and str(data["agent"]).startswith("openai:"):
        tk = data["tokens"]
        out.print(f"tokens: {tk['prompt']} prompt, {tk['completion']} completion"
                  + (f" (user model: {tk['user_prompt']} + {tk['user_completion']})" if tk["user_prompt"] else "")
                  + (f"; cost ${data['cost_usd']}" if data.get("cost_usd") is not None else "")
                  + f"; mean turns {data['mean_turns']}, mean tool calls {data['mean_tool_calls']}")
        if data.get("errors"):
            out.print("episodes that ended abnormally: " + ", ".join(f"{k}: {v}" for k, v in data["errors"].items()))
    report = data.get(data["agent"])
    if isinstance(report, dict) and "strategies" in report:
        table = Table("strategy", "attempts", "scored without doing the task", "example task")
        for name, st in report["strategies"].items():
            table.add_row(name, str(st["attempts"]), str(st["scored"]), st.get("example_task", ""))
        out.print(table)
        out.print(f"attempts set aside because they did the task: {report['attempts_that_did_the_task']}")


@app.command()
@friendly
def new(
    name: str = typer.Argument(..., help="Name of the new domain, e.g. helpdesk."),
    output: Path = typer.Option(Path("."), "-o", "--output", help="Directory to write NAME.yaml and templates/NAME/."),
):
    """Write a commented starter spec and templates that already generate verified tasks."""
    from .importers import scaffold

    written = scaffold(name, output)
    for p in written:
        out.print(f"wrote {p}")
    out.print(f"next: envsynth check {written[0]}  (then edit, check again, generate)")


@app.command(name="import")
@friendly
def import_(
    kind: str = typer.Argument(..., help="openapi, openai (function schemas) or mcp (a tools/list result)."),
    source: Path = typer.Argument(..., help="The document (JSON or YAML)."),
    output: Path = typer.Option(Path("."), "-o", "--output", help="Directory for the skeleton spec and templates."),
    name: Optional[str] = typer.Option(None, "--name", help="Domain name (default: from the document)."),
):
    """Turn an API description into a skeleton spec; `envsynth check` then walks you through its gaps."""
    from .importers import import_functions, import_mcp, import_openapi, read_document, write_skeleton

    if not source.exists():
        raise EnvsynthError(f"no file at {source}")
    doc = read_document(source)
    if kind == "openapi":
        spec_text, phrases = import_openapi(doc, name)
    elif kind == "openai":
        spec_text, phrases = import_functions(doc, name or source.stem)
    elif kind == "mcp":
        spec_text, phrases = import_mcp(doc, name or source.stem)
    else:
        raise EnvsynthError(f"unknown import kind '{kind}': use openapi, openai or mcp")
    domain = yaml_domain(spec_text)
    for p in write_skeleton(spec_text, phrases, domain, output):
        out.print(f"wrote {p}")
    gaps = spec_text.count("TODO")
    out.print(f"{gaps} gaps to fill: run `envsynth check {output / (domain + '.yaml')}` to go through them")


@app.command(name="export")
@friendly
def export_(
    fmt: str = typer.Argument(..., metavar="FORMAT", help="tau2, mcp, verifiers, openenv or hf."),
    directory: Path = typer.Argument(..., help="A dataset directory made by `envsynth generate`."),
    output: Path = typer.Option(..., "-o", "--output", help="A new (or empty) folder to write the export to."),
):
    """Write a dataset as a harness takes it: a tau2-bench domain package, an MCP server, a
    verifiers taskset, an OpenEnv environment, or HF datasets files with a TRL environment class."""
    from .export import export

    report = export(fmt, directory, output)
    out.print(f"wrote {report.format} export of {report.tasks} tasks to {report.out}"
              + (f" (package {report.package})" if report.package else ""), highlight=False)
    for note in report.notes:
        out.print(f"  {note}", markup=False, highlight=False)
    if report.next_steps:
        out.print("next:")
        for cmd in report.next_steps:
            out.print(f"  {cmd}", markup=False, highlight=False)


@app.command()
@friendly
def paraphrase(
    directory: Path = typer.Argument(..., help="A dataset directory (tasks.jsonl + spec.yaml)."),
    model: str = typer.Option(..., "--model", "-m", help="openai:MODEL - any OpenAI-compatible chat endpoint."),
    base_url: Optional[str] = typer.Option(None, "--base-url", help="The endpoint (default: the client's, "
                                           "OPENAI_BASE_URL or api.openai.com)."),
    api_key_env: str = typer.Option("OPENAI_API_KEY", "--api-key-env", help="Variable holding the API key."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Folder for the paraphrased dataset."),
    in_place: bool = typer.Option(False, "--in-place", help="Rewrite DIR itself instead of writing -o OUT."),
    temperature: float = typer.Option(0.7, "--temperature"),
    seed: Optional[int] = typer.Option(0, "--seed", help="Sent to the server (honoured where supported)."),
    jobs: int = typer.Option(4, "-j", "--jobs", min=1, help="Requests in flight at once."),
    spec: Optional[str] = typer.Option(None, "--spec", help="Use this spec instead of DIR/spec.yaml."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
):
    """Reword each instruction with a model; keep a rewrite only if the fact check passes (every id,
    name, date, amount and qualifier still there, nothing new asserted). Resumes where it stopped."""
    from .paraphrase import ParaphraseOptions, model_name, paraphrase_dataset

    model_name(model)  # a malformed --model is said before any progress is drawn
    opts = ParaphraseOptions(model=model, base_url=base_url, api_key_env=api_key_env, temperature=temperature,
                             seed=seed, concurrency=jobs)
    with Progress(TextColumn("[bold]paraphrasing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, disable=quiet) as progress:
        bar = progress.add_task("tasks", total=None)
        s = paraphrase_dataset(directory, output, opts, in_place=in_place, spec=spec,
                               progress=lambda done, total: progress.update(bar, completed=done, total=total))
    where = directory if in_place else output
    out.print(f"{s.tasks} instructions: {s.accepted} paraphrased ({s.unchanged} unchanged), {s.rejected} rejected by "
              f"the fact check, {s.no_reply} without a reply - written to {where}", markup=False, highlight=False)
    for kind, n in s.rejected_by_reason.items():
        out.print(f"  rejected for {kind}: {n}", markup=False, highlight=False)
    for e in s.errors[:5]:
        out.print(f"  no reply: {e}", markup=False, highlight=False)
    if s.no_reply:
        out.print("run the same command again to retry the instructions without a reply", markup=False)


def yaml_domain(spec_text: str) -> str:
    import yaml as _yaml

    return _yaml.safe_load(spec_text)["domain"]


@app.command()
@friendly
def schema(output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write to a file instead of stdout.")):
    """Print the JSON Schema of the spec format (point your editor's YAML plugin at it)."""
    from .spec.shape import Spec

    text = json.dumps(Spec.model_json_schema(), indent=2) + "\n"
    if output:
        output.write_text(text, encoding="utf-8")
        out.print(f"wrote {output}")
    else:
        print(text, end="")


def optional_ray_value(argv: list[str]) -> list[str]:
    """`generate --ray` with no address means 'auto' (typer options cannot take an optional value)."""
    out = list(argv)
    if "generate" in out:
        for i in range(len(out) - 1, -1, -1):
            if out[i] == "--ray" and (i + 1 == len(out) or out[i + 1].startswith("-")):
                out.insert(i + 1, "auto")
    return out


def main() -> None:
    app(args=optional_ray_value(sys.argv[1:]))


if __name__ == "__main__":  # pragma: no cover
    main()
