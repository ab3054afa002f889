"""The pipeline end to end: spec -> walks -> scenarios -> tasks, streamed to disk.

Task i is a pure function of (spec, seed, options, i): its random choices come from a stream
derived from the seed and the index, and every Z3 solve runs in a fresh context. Workers
compute indices in parallel and the parent writes results in index order, so the dataset is
byte-identical whatever the worker count. Tasks go to `tasks.jsonl.partial` line by line
(memory stays flat) and the file is renamed when complete; an interrupted run resumes.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import random
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Optional

from . import __version__
from .aspenc import AspOptions
from .distractors import KINDS, DistractorOptions
from .domain import Domain
from .errors import EnvsynthError
from .loader import load_domain
from .synth import Infeasible, ReplayMismatch, SynthOptions, synthesize
from .tasks import Task, Templates, derive_task, tool_schemas
from .verify import check_task
from .walks import Walk, WalkStats, enumerate_walks


@dataclass
class GenerateOptions:
    n: int = 100
    seed: int = 0
    max_len: int = 4
    background: float = 1.0
    max_attempts: int = 12
    slots: int = 2
    distractors: int = 3  # near misses per description (0: none)
    distractor_kinds: tuple = KINDS
    length_mix: Optional[dict] = None  # walk length -> weight; None: every goal equally often

    def public(self) -> dict:
        d = asdict(self)
        d["distractor_kinds"] = list(self.distractor_kinds)
        if self.length_mix is not None:
            d["length_mix"] = {str(k): v for k, v in sorted(self.length_mix.items())}
        return d

    @staticmethod
    def from_public(d: dict) -> "GenerateOptions":
        d = dict(d)
        d["distractor_kinds"] = tuple(d.get("distractor_kinds", KINDS))
        if d.get("length_mix") is not None:
            d["length_mix"] = {int(k): v for k, v in d["length_mix"].items()}
        return GenerateOptions(**d)


@dataclass
class TaskResult:
    index: int
    line: Optional[str]
    failures: list[str]
    timings: dict[str, float]
    mismatches: int = 0
    summary: Optional[dict] = None  # what the manifest counts, so the parent never re-parses lines


class Generator:
    """A domain's walks and templates, ready to turn task indices into tasks."""

    def __init__(self, domain: Domain, options: GenerateOptions, templates: Optional[Templates] = None):
        self.domain = domain
        self.options = options
        self.templates = templates or Templates(domain)
        missing = self.templates.missing(domain)
        if missing:
            raise EnvsynthError(
                f"templates in {self.templates.directory} lack phrasings for: {', '.join(missing)}")
        self.walk_stats = WalkStats()
        t0 = time.perf_counter()
        self.walks: list[Walk] = list(enumerate_walks(
            domain, max_len=options.max_len, options=AspOptions(default_slots=options.slots), stats=self.walk_stats))
        self.walk_seconds = time.perf_counter() - t0
        if not self.walks:
            raise EnvsynthError(
                f"no walk of up to {options.max_len} steps reaches a goal in '{domain.name}': "
                "run `envsynth check` to see which tools cannot be reached")
        # stratify by goal: pick a goal uniformly, then a walk for it, so rare goals are not drowned;
        # with a length mix, pick the length first
        strata: dict[tuple, list[Walk]] = defaultdict(list)
        for w in self.walks:
            strata[tuple(domain.tools[w.steps[i].tool].name for i in w.goal_steps(domain))].append(w)
        self.strata = [strata[k] for k in sorted(strata)]
        by_length: dict[int, dict[tuple, list[Walk]]] = defaultdict(lambda: defaultdict(list))
        for key in sorted(strata):
            for w in strata[key]:
                by_length[len(w.steps)][key].append(w)
        self.by_length = {n: [g[k] for k in sorted(g)] for n, g in by_length.items()}
        if options.length_mix:
            usable = {n: wt for n, wt in options.length_mix.items() if wt > 0 and n in self.by_length}
            if not usable:
                raise EnvsynthError(f"--length-mix names no length that has walks (lengths: "
                                    f"{sorted(self.by_length)})")
            self.lengths = sorted(usable)
            self.length_weights = [usable[n] for n in self.lengths]
        self.schemas = tool_schemas(domain)
        self.synth_options = SynthOptions(
            background=options.background,
            distractors=DistractorOptions(options.distractors, tuple(options.distractor_kinds)))

    def pick_walk(self, rng: random.Random) -> Walk:
        strata = self.strata
        if self.options.length_mix:
            n = rng.choices(self.lengths, self.length_weights)[0]
            strata = self.by_length[n]
        stratum = strata[rng.randrange(len(strata))]
        return stratum[rng.randrange(len(stratum))]

    def task(self, index: int) -> TaskResult:
        rng = random.Random(f"{self.options.seed}/{index}")
        failures: list[str] = []
        timings: dict[str, float] = {}
        mismatches = 0
        for _attempt in range(self.options.max_attempts):
            walk = self.pick_walk(rng)
            seed = rng.randrange(2**31)
            try:
                sc = synthesize(self.domain, walk, seed, self.synth_options, timings=timings)
            except Infeasible as e:
                core = "; ".join(e.core[:3])
                failures.append(f"{e.reason}: {core}" if core else e.reason)
                continue
            except ReplayMismatch as e:  # a solver/runtime disagreement: never emitted, counted
                mismatches += 1
                failures.append(f"solver and runtime disagree: {e}")
                continue
            t0 = time.perf_counter()
            task = derive_task(self.domain, sc, self.templates, index, self.schemas)
            timings["render"] = timings.get("render", 0.0) + time.perf_counter() - t0
            t0 = time.perf_counter()
            check = check_task(self.domain, task)  # the same check `envsynth verify` runs
            timings["verify"] = timings.get("verify", 0.0) + time.perf_counter() - t0
            if not check.ok:
                failures.append(f"failed its own verification: {check.problems[0]}")
                continue
            t0 = time.perf_counter()
            line = json.dumps(task.model_dump(mode="json"), sort_keys=True, ensure_ascii=False,
                              separators=(",", ":"))
            timings["render"] = timings.get("render", 0.0) + time.perf_counter() - t0
            summary = {"walk": task.meta.walk, "length": task.difficulty.length,
                       "tools": [a.name for a in task.gold_actions],
                       "instruction": hashlib.sha256(task.instruction.encode()).hexdigest()[:16]}
            return TaskResult(index, line, failures, timings, mismatches, summary)
        return TaskResult(index, None, failures, timings, mismatches)


# ----------------------------------------------------------------------------- workers

_GEN: Optional[Generator] = None


def _init_worker(spec: str, options: dict) -> None:
    global _GEN
    _GEN = Generator(load_domain(spec), GenerateOptions.from_public(options))


def _run_index(index: int) -> TaskResult:
    assert _GEN is not None
    return _GEN.task(index)


@dataclass
class Report:
    """What a run did (the manifest holds the deterministic part)."""

    tasks: int = 0
    indices: int = 0
    failures: Counter = field(default_factory=Counter)
    mismatches: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    walk_seconds: float = 0.0
    resumed_from: int = 0


def iter_results(spec: str, options: GenerateOptions, workers: int = 1, start: int = 0,
                 generator: Optional[Generator] = None) -> Iterator[TaskResult]:
    """Task results in index order from `start`, forever (the caller stops)."""
    if workers <= 1:
        gen = generator or Generator(load_domain(spec), options)
        i = start
        while True:
            yield gen.task(i)
            i += 1
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    ctx = mp.get_context(method)
    with ctx.Pool(workers, initializer=_init_worker, initargs=(spec, options.public())) as pool:
        i = start
        batch = max(32, workers * 16)
        while True:
            for r in pool.imap(_run_index, range(i, i + batch), chunksize=4):
                yield r
            i += batch


CHECKPOINT = 25  # tasks between resume checkpoints


class _Stats:
    """Streaming dataset statistics for the manifest (counters only: memory stays flat)."""

    def __init__(self):
        self.sequences: Counter = Counter()
        self.lengths: Counter = Counter()
        self.tools: Counter = Counter()
        self.instructions: set[str] = set()

    def add(self, summary: dict) -> None:
        self.sequences[summary["walk"]] += 1
        self.lengths[str(summary["length"])] += 1
        for name in summary["tools"]:
            self.tools[name] += 1
        self.instructions.add(summary["instruction"])

    @staticmethod
    def summarize(task: dict) -> dict:
        return {"walk": task["meta"]["walk"], "length": task["difficulty"]["length"],
                "tools": [a["name"] for a in task["gold_actions"]],
                "instruction": hashlib.sha256(task["instruction"].encode()).hexdigest()[:16]}

    def to_json(self) -> dict:
        return {
            "distinct_tool_sequences": len(self.sequences),
            "distinct_instructions": len(self.instructions),
            "lengths": dict(sorted(self.lengths.items())),
            "tool_calls": dict(sorted(self.tools.items())),
            "tool_sequences": dict(self.sequences.most_common()),
        }


def generate(spec: str, out_dir: Path, options: GenerateOptions, workers: int = 1,
             progress: Optional[Callable[[int, int], None]] = None) -> Report:
    """Generate `options.n` verified tasks into `out_dir` (tasks.jsonl, manifest.json, spec.yaml)."""
    from .loader import resolve_spec_path

    t_start = time.perf_counter()
    spec_path = resolve_spec_path(spec)
    domain = load_domain(spec_path)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / "tasks.jsonl"
    partial = out_dir / "tasks.jsonl.partial"
    state_file = out_dir / ".generate-state.json"
    run_key = {"spec_hash": domain.spec_hash, "options": options.public(), "version": __version__}

    # resume: a checkpoint (every CHECKPOINT tasks) records how many lines of the partial file
    # are final and which index comes next, with the attempt counters up to there
    stats = _Stats()
    report = Report()
    saved = json.loads(state_file.read_text()) if state_file.exists() else {}
    lines_done = next_index = 0
    if partial.exists() and saved.get("key") == run_key:
        kept = []
        with open(partial, encoding="utf-8") as f:
            for raw in f:
                if len(kept) == saved["lines"]:
                    break
                kept.append(raw)
        if len(kept) == saved["lines"]:
            for raw in kept:
                stats.add(_Stats.summarize(json.loads(raw)))
            with open(partial, "w", encoding="utf-8") as f:
                f.writelines(kept)
            report.failures.update(saved["failures"])
            report.indices, report.mismatches = saved["indices"], saved["mismatches"]
            lines_done, next_index = saved["lines"], saved["next_index"]
    if lines_done == 0:
        partial.write_text("", encoding="utf-8")

    def checkpoint(next_i: int) -> None:
        tmp = state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"key": run_key, "lines": report.tasks, "next_index": next_i,
                                   "failures": dict(report.failures), "indices": report.indices,
                                   "mismatches": report.mismatches}), encoding="utf-8")
        os.replace(tmp, state_file)

    report.resumed_from = lines_done
    gen = None
    if workers <= 1:
        gen = Generator(domain, options)
        report.walk_seconds = gen.walk_seconds
        walk_info = _walk_info(gen)
    else:
        probe = Generator(domain, options)  # walks are enumerated once more per worker
        report.walk_seconds = probe.walk_seconds
        walk_info = _walk_info(probe)
    report.tasks = lines_done
    if progress:
        progress(report.tasks, options.n)
    with open(partial, "a", encoding="utf-8") as out:
        if report.tasks < options.n:
            for r in iter_results(str(spec_path), options, workers, next_index, gen):
                report.indices += 1
                for k, v in r.timings.items():
                    report.timings[k] = report.timings.get(k, 0.0) + v
                for fmsg in r.failures:
                    report.failures[fmsg] += 1
                report.mismatches += r.mismatches
                if r.line is None:
                    continue
                out.write(r.line + "\n")
                stats.add(r.summary)
                report.tasks += 1
                if report.tasks % CHECKPOINT == 0:
                    out.flush()
                    checkpoint(r.index + 1)
                if progress:
                    progress(report.tasks, options.n)
                if report.tasks >= options.n:
                    break
    manifest = {
        "envsynth_version": __version__,
        "domain": domain.name,
        "spec_hash": domain.spec_hash,
        "options": options.public(),
        "tasks": report.tasks,
        "attempts": {
            "task_indices": report.indices,
            "infeasible": sum(report.failures.values()) - report.mismatches,
            "solver_runtime_disagreements": report.mismatches,
            "reasons": dict(sorted(report.failures.most_common(20), key=lambda kv: (-kv[1], kv[0]))),
        },
        "walk_space": walk_info,
        "dataset": stats.to_json(),
    }
    (out_dir / "spec.yaml").write_text(spec_path.read_text(encoding="utf-8"), encoding="utf-8")
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(partial, final)
    state_file.unlink(missing_ok=True)
    report.seconds = time.perf_counter() - t_start
    return report


def _walk_info(gen: Generator) -> dict:
    return {
        "max_len": gen.options.max_len,
        "walks": len(gen.walks),
        "per_length": {str(k): v for k, v in sorted(gen.walk_stats.per_length.items())},
        "tool_sequences": len({w.tool_sequence() for w in gen.walks}),
        "goals": len(gen.strata),
    }


def generate_tasks(domain: Domain, n: int, seed: int = 0, **kw) -> list[Task]:
    """In-memory generation for small n (the Python API for notebooks and tests)."""
    options = GenerateOptions(n=n, seed=seed, **kw)
    gen = Generator(domain, options)
    out: list[Task] = []
    i = 0
    while len(out) < n:
        r = gen.task(i)
        i += 1
        if r.line is not None:
            out.append(Task.model_validate_json(r.line))
        if i > n * 50:
            raise EnvsynthError("too many infeasible walks: see `envsynth check`")
    return out
