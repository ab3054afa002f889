"""The `envsynth` command line: a thin layer over the Python API.

Every command turns user mistakes into a located message and a non-zero exit, never a
traceback (set ENVSYNTH_DEBUG=1 to see one for an internal error).
"""

from __future__ import annotations

import functools
import json
import os
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
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


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
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as e:  # pragma: no cover - a bug, said plainly
            if os.environ.get("ENVSYNTH_DEBUG"):
                raise
            err.print(f"internal error: {type(e).__name__}: {e}\n(rerun with ENVSYNTH_DEBUG=1 for the traceback)",
                      markup=False, highlight=False)
            raise typer.Exit(70)

    return wrapper


SPEC_HELP = "A spec file (path/to/domain.yaml) or the name of a shipped spec (airline, retail, ...)."


@app.command()
@friendly
def check(
    spec: str = typer.Argument(..., help=SPEC_HELP),
    max_len: int = typer.Option(4, "--max-len", help="Longest walk to consider when checking reachability."),
    json_out: bool = typer.Option(False, "--json", help="Print the findings as one JSON object."),
):
    """Check a spec: located errors, lints, reachability and feasibility of every tool.

    Exit status: 0 clean, 1 errors, 3 warnings only."""
    from .check import check_domain
    from .loader import load_domain

    domain = load_domain(spec)
    report = check_domain(domain, max_len=max_len)
    if json_out:
        print(json.dumps({
            "domain": domain.name,
            "errors": [f.message for f in report.errors],
            "warnings": [f.message for f in report.warnings],
            "walks": report.walks,
            "walks_per_length": report.per_length,
            "tools": len(domain.tools),
            "tools_reached": sorted(report.tools_reached),
            "feasible_goals": sorted(report.feasible_goals),
        }, indent=2))
        raise typer.Exit(report.exit_code)
    refs = sum(len(e.refs) for e in domain.entities.values())
    out.print(f"[bold]{domain.name}[/bold] ({domain.source}): {len(domain.entities)} entities, "
              f"{len(domain.tools)} tools, {refs} references")
    out.print(f"walks up to {max_len} steps: {report.walks} "
              f"({', '.join(f'{k} steps: {v}' for k, v in report.per_length.items())}); "
              f"tools reached: {len(report.tools_reached)}/{len(domain.tools)}; "
              f"goals shown feasible: {len(report.feasible_goals)}")
    for f in report.findings:
        style = "red" if f.severity == "error" else "yellow"
        out.print(f"[{style}]{f.severity}[/{style}]: ", end="")
        out.print(f.message, markup=False, highlight=False)
    if not report.findings:
        out.print("[green]ok[/green]: no problems found")
    raise typer.Exit(report.exit_code)


@app.command()
@friendly
def graph(
    spec: str = typer.Argument(..., help=SPEC_HELP),
    output: Path = typer.Option(..., "-o", "--output", help="Output path; writes .dot, .json and .png (when possible)."),
):
    """Write the tool dependency graph (DOT, JSON and a picture when graphviz or matplotlib is present)."""
    from .graph import build_graph, write_graph
    from .loader import load_domain

    g = build_graph(load_domain(spec))
    for p in write_graph(g, output):
        out.print(f"wrote {p}")
    out.print(f"{g.number_of_nodes()} tools, {g.number_of_edges()} edges")


@app.command()
@friendly
def walks(
    spec: str = typer.Argument(..., help=SPEC_HELP),
    max_len: int = typer.Option(3, "--max-len", help="Longest walk, in tool calls."),
    n: Optional[int] = typer.Option(None, "-n", help="Stop after this many walks."),
    show_asp: bool = typer.Option(False, "--show-asp", help="Print the generated ASP program instead."),
):
    """Enumerate walks (plans over abstract objects) as JSON lines, shortest first."""
    from .aspenc import AspProgram
    from .loader import load_domain
    from .walks import WalkStats, enumerate_walks

    domain = load_domain(spec)
    if show_asp:
        print(AspProgram(domain).text(max_len))
        return
    stats = WalkStats()
    for w in enumerate_walks(domain, max_len=max_len, limit=n, stats=stats):
        print(json.dumps({"walk": w.describe(), **w.model_dump()}, sort_keys=True))
    err.print(f"{stats.models} walks ({dict(sorted(stats.per_length.items()))}) in {stats.seconds:.2f}s")


@app.command()
@friendly
def generate(
    spec: str = typer.Argument(..., help=SPEC_HELP),
    n: int = typer.Option(100, "-n", help="Number of tasks."),
    seed: int = typer.Option(0, "--seed", help="Seed; same spec, seed and options give byte-identical output."),
    output: Path = typer.Option(Path("out"), "-o", "--output", help="Output directory."),
    workers: int = typer.Option(1, "--workers", "-j", help="Worker processes (output does not depend on it)."),
    max_len: int = typer.Option(4, "--max-len", help="Longest walk, in tool calls."),
    background: float = typer.Option(1.0, "--background", help="Multiplier on each entity's background record count."),
    distractors: int = typer.Option(3, "--distractors", help="Near-miss records per description (0: none)."),
    distractor_kinds: str = typer.Option(
        "all", "--distractor-kinds", help="Comma list of: outranked, state_trap, off_by_one, look_alike."),
    length_mix: Optional[str] = typer.Option(
        None, "--length-mix", help="Target mix of walk lengths, e.g. '1:1,2:2,3:2,4:1' (weights)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
):
    """Generate N verified tasks into DIR (tasks.jsonl, manifest.json, spec.yaml)."""
    from .distractors import KINDS
    from .generate import GenerateOptions, generate as run

    if n < 1:
        raise EnvsynthError("-n must be at least 1")
    if distractors < 0:
        raise EnvsynthError("--distractors must be 0 or more")
    kinds = KINDS if distractor_kinds == "all" else tuple(k.strip() for k in distractor_kinds.split(",") if k.strip())
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise EnvsynthError(f"unknown distractor kind '{bad[0]}'; choose from {', '.join(KINDS)}")
    mix = None
    if length_mix:
        try:
            mix = {int(a): float(b) for a, b in (part.split(":") for part in length_mix.split(","))}
        except ValueError:
            raise EnvsynthError("--length-mix takes length:weight pairs, e.g. '1:1,2:2,3:2'") from None
    options = GenerateOptions(n=n, seed=seed, max_len=max_len, background=background, distractors=distractors,
                              distractor_kinds=kinds, length_mix=mix)
    progress = Progress(TextColumn("[bold]generating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        TimeRemainingColumn(), console=err, disable=quiet, transient=False)
    with progress:
        bar = progress.add_task("tasks", total=n)
        report = run(spec, output, options, workers=workers,
                     progress=lambda done, total: progress.update(bar, completed=done))
    rate = report.tasks / report.seconds if report.seconds else 0.0
    err.print(f"{report.tasks} tasks in {report.seconds:.1f}s ({rate:.1f} tasks/s) -> {output}/tasks.jsonl")
    if report.resumed_from:
        err.print(f"resumed after {report.resumed_from} tasks already on disk")
    infeasible = sum(report.failures.values())
    if infeasible:
        err.print(f"{infeasible} walks were infeasible and skipped (reasons in manifest.json)")
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
    from .verify import verify_dir

    failures = []
    total = 0

    def on_task(r):
        nonlocal total
        total += 1
        if not r.ok:
            failures.append(r)

    with Progress(TextColumn("[bold]verifying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, disable=quiet) as progress:
        bar = progress.add_task("tasks", total=None)

        def tick(r):
            on_task(r)
            progress.advance(bar)

        verify_dir(directory, spec, tick)
    for r in failures:
        out.print(f"[red]FAIL[/red] {r.id}: ", end="")
        out.print("; ".join(r.problems), markup=False, highlight=False)
    if failures:
        out.print(f"{len(failures)} of {total} tasks failed verification")
        raise typer.Exit(1)
    out.print(f"[green]ok[/green]: {total} tasks verified (gold replays and scores 1.0, doing nothing scores 0, "
              "every description picks out its target)")


@app.command(name="eval")
@friendly
def eval_(
    directory: Path = typer.Argument(..., help="A dataset directory (tasks.jsonl + spec.yaml)."),
    agent: str = typer.Option("oracle", "--agent", "-a",
                              help="oracle, noop, random, distractor-blind, or package.module:Class."),
    trials: int = typer.Option(1, "--trials", "-k", help="Trials per task for a stochastic agent (pass^k)."),
    seed: int = typer.Option(0, "--seed"),
    spec: Optional[str] = typer.Option(None, "--spec", help="Use this spec instead of DIR/spec.yaml."),
    json_out: bool = typer.Option(False, "--json", help="Print the summary as one JSON object."),
):
    """Run an agent on every task (same scoring as verify): mean reward by length and near-miss kind."""
    from .agents import evaluate, load_agent
    from .verify import dataset_spec, iter_tasks

    directory = Path(directory)
    tasks_file = directory / "tasks.jsonl" if directory.is_dir() else directory
    if not tasks_file.exists():
        raise EnvsynthError(f"no tasks.jsonl in {directory}")
    domain = dataset_spec(tasks_file.parent, spec)
    summary = evaluate(domain, iter_tasks(tasks_file), load_agent(agent), trials=trials, seed=seed)
    data = summary.to_json()
    if json_out:
        print(json.dumps(data))
        return
    out.print(f"[bold]{data['agent']}[/bold] on {data['tasks']} tasks: mean reward {data['mean_reward']}"
              + (f" ({data['trials']} trials)" if data["trials"] > 1 else ""))
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


@app.command()
@friendly
def schema(output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write to a file instead of stdout.")):
    """Print the JSON Schema of the spec format (point your editor's YAML plugin at it)."""
    from .spec import Spec

    text = json.dumps(Spec.model_json_schema(), indent=2) + "\n"
    if output:
        output.write_text(text, encoding="utf-8")
        out.print(f"wrote {output}")
    else:
        print(text, end="")


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
