"""The pipeline end to end: spec -> walks -> scenarios -> tasks, streamed to disk.

Task i is a pure function of (spec, seed, options, i): its random choices come from a stream
derived from the seed and the index, and every Z3 solve runs in a fresh context. Workers
compute indices in parallel and the parent writes results in index order, so the dataset is
byte-identical whatever the worker count. Tasks go to `tasks.jsonl.partial` line by line
(memory stays flat) and the file is renamed when complete; an interrupted run resumes.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
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
from .plan.facts import AspOptions
from .state.distractors import KINDS, DistractorOptions
from .spec.model import Domain
from .state.analysis import static_findings
from .errors import EnvsynthError, SpecErrors
from .spec.loader import load_domain
from .state.synth import Infeasible, ReplayMismatch, SynthOptions, synthesize
from .tasks.phrases import Templates
from .tasks.derive import derive_task, domain_text, task_json
from .tasks.model import Task
from .verify import check_task
from .plan.canonical import canonical_form, canonical_key
from .coverage import Coverage, reachable_from, task_coverage
from .plan.learning import Learner, learn
from .plan.merge import merge
from .plan.chain import ChainBuilder
from .plan.conditional import continue_with_fallback, fallback_rule
from .tasks.difficulty import DifficultyTarget, profile
from .plan.walk import Walk
from .plan.shapes import Draw, ShapeDraws, ShapeSpace
from .plan.planner import Checker, Planner, WalkStats, sample_walk
from .parallel import fork_map, usable_cores
from .plan.reach import Reach

DRAWN_PER_LENGTH = 8  # walks drawn per length for a goal too large to enumerate


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
    walk_mode: str = "exhaustive"  # exhaustive: enumerate then sample; sampled: clingo draws each walk
    stratify: str = "sequence"  # goal, then tool sequence ("sequence"), or goal only ("goal")
    multi_intent: float = 0.0  # share of tasks merged from several single-intent walks
    max_intents: int = 2
    allow_repeats: bool = False  # allow two tasks of the same shape (and duplicate canonical walks)
    learn: bool = True  # learn nogoods from unsat cores (changes speed, never output)
    refusals: float = 0.0  # share of tasks whose (last) request the policy or the state forbids
    conditionals: float = 0.0  # share of tasks with a request refused for a rule the user gave a fallback for
    difficulty: Optional[str] = None  # a difficulty profile (tasks/difficulty.py) tasks must be on

    def __post_init__(self) -> None:
        """Refuse options that cannot mean anything, in the words of the command-line flags."""
        checks = [
            (self.n >= 1, "-n must be at least 1"),
            (self.max_len >= 1, "--max-len must be at least 1"),
            (self.background >= 0, "--background is a multiplier of 0 or more"),
            (self.distractors >= 0, "--distractors must be 0 or more"),
            (0.0 <= self.multi_intent <= 1.0, "--multi-intent is a share between 0 and 1"),
            (0.0 <= self.refusals <= 1.0, "--refusals is a share between 0 and 1"),
            (0.0 <= self.conditionals <= 1.0, "--conditionals is a share between 0 and 1"),
            (self.max_intents >= 2, "--max-intents must be at least 2 (a merged task has two intents or more)"),
            (self.walk_mode in ("exhaustive", "sampled"), "--walks is 'exhaustive' or 'sampled'"),
            (self.stratify in ("sequence", "goal"), "--stratify is 'sequence' or 'goal'"),
        ]
        for ok, message in checks:
            if not ok:
                raise EnvsynthError(message)
        bad = [k for k in self.distractor_kinds if k not in KINDS]
        if bad:
            raise EnvsynthError(f"unknown distractor kind '{bad[0]}'; choose from {', '.join(KINDS)}")
        if self.difficulty is not None:
            target = DifficultyTarget.parse(self.difficulty)
            self.difficulty = target.text()
            if self.length_mix is None:  # the lengths the profile asks for, equally often
                self.length_mix = target.length_mix()
            lo = target.bounds.get("conditionals", (None, None))[0]
            if lo and not self.conditionals:  # a profile that asks for conditionals gets them
                self.conditionals = 1.0
        if self.length_mix is not None and any(n < 1 or w < 0 for n, w in self.length_mix.items()):
            raise EnvsynthError("--length-mix takes length:weight pairs with lengths from 1 and weights "
                                "of 0 or more, e.g. '1:1,2:2,3:2'")

    def public(self) -> dict:
        """The options that decide the output (learning only changes how much work is done)."""
        d = asdict(self)
        d.pop("learn")
        if d["difficulty"] is None:
            d.pop("difficulty")  # (runs without a profile keep the manifest they always had)
        if not d["conditionals"]:
            d.pop("conditionals")
        d["distractor_kinds"] = list(self.distractor_kinds)
        if self.length_mix is not None:
            d["length_mix"] = {str(k): v for k, v in sorted(self.length_mix.items())}
        return d

    @staticmethod
    def from_public(d: dict) -> "GenerateOptions":
        d = dict(d)
        d.setdefault("learn", True)
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
    counts: Counter = field(default_factory=Counter)  # proposed / solved / feasible / pruned / learned


@dataclass
class WorkItem:
    """One index's work as the parent hands it out: the index and the shape drawn for it."""

    index: int
    draw: Optional[Draw] = None


class Drawer:
    """The parent's side of shape draws: for each index in order, the kind of task (from the
    index's stream, as `Generator.task` decides it again) and the next unused shape of that kind's
    strata. Single-intent walks (by length under a length mix) and refusal walks draw from separate
    streams; merged and sampled tasks have no draw."""

    def __init__(self, gen: "Generator"):
        self.gen = gen
        self.next = 0
        key = f"{gen.options.seed}"
        opts = gen.options
        exhaustive = opts.walk_mode == "exhaustive"
        self.single = ShapeDraws(gen.strata, lambda p: gen.shape_space(False, p), f"{key}/single") \
            if exhaustive and not opts.length_mix else None
        self.lengths = {n: ShapeDraws(gen.by_length[n], lambda p: gen.shape_space(False, p), f"{key}/len{n}")
                        for n in gen.lengths if n in gen.by_length} if exhaustive and opts.length_mix else {}
        self.refusal = ShapeDraws(gen.refusal_strata, lambda p: gen.shape_space(True, p), f"{key}/refusal") \
            if exhaustive else None

    def item(self, index: int) -> WorkItem:
        """The work of `index`; indices must come in order from 0 (a resume replays them)."""
        assert index == self.next, "draws are made for every index in order"
        self.next += 1
        _, refuse, multi, cond = self.gen.kind(index)
        rng = random.Random(f"{self.gen.options.seed}/{index}/draw")  # the draw's own stream
        pool_goal = self.gen.options.stratify == "goal"
        if multi or cond:
            return WorkItem(index)
        if refuse:
            draws = self.refusal
        elif self.lengths:
            # a length beyond the enumerated bound has no draws: the task chains intents (plan/chain.py)
            draws = self.lengths.get(self.gen.length_of(index))
        else:
            draws = self.single
        return WorkItem(index, draws.draw(rng, pool_goal) if draws is not None else None)

    def items(self, start: int = 0) -> Iterator[WorkItem]:
        while self.next < start:
            self.item(self.next)
        while True:
            yield self.item(self.next)


class Generator:
    """A domain's walks and templates, ready to turn task indices into tasks."""

    def __init__(self, domain: Domain, options: GenerateOptions, templates: Optional[Templates] = None,
                 workers: int = 1):
        """`workers`: processes asking a large spec's planner questions while the walks are
        planned (the walks do not depend on it)."""
        self.domain = domain
        self.options = options
        self.templates = templates or Templates(domain)
        missing = self.templates.missing(domain)
        if missing:
            raise EnvsynthError(
                f"templates in {self.templates.directory} lack phrasings for: {', '.join(missing)}")
        problems = self.templates.problems(domain)
        if problems:
            raise SpecErrors(problems)
        impossible = [f.message for f in static_findings(domain) if f.severity == "error"]
        if impossible:  # every attempt would fail on these: say so now, not after a fruitless run
            raise EnvsynthError("no task can use this spec as it is (`envsynth check` says the same):\n  "
                                + "\n  ".join(impossible))
        self.asp_options = AspOptions(default_slots=options.slots)
        self.walk_stats = WalkStats()
        t0 = time.perf_counter()
        self.walks: list[Walk] = []
        self.keys: dict[str, Walk] = {}
        self.planner = Planner(domain, options.slots)
        self.drawn_goals = 0  # goals whose walks are drawn, not enumerated (plan/reach.py: Reach.asked_goals)
        if options.walk_mode == "exhaustive":
            reach = Reach(domain, options.max_len, self.planner)
            large = reach.asked_goals()
            # in a spec where some goal's walk space is too large to enumerate, every goal gets a
            # seeded random draw near it and the walks targeted questions find (one calling each
            # tool it reaches), each from a program grounded once: the pool is a function of
            # (spec, seed, options). The draws come first: a walk drawn near a goal is a walk to
            # it, so only goals the draw found nothing for are asked their own question, and only
            # tools no drawn walk calls are asked about

            def draw_near(g: str) -> list[tuple[Walk, str]]:  # (on a worker: the walks with their keys)
                seed = random.Random(f"{options.seed}/{g}/pool").randrange(2**31)
                return [(w, canonical_key(domain, w)) for w in reach.sample(g, seed, per_length=DRAWN_PER_LENGTH)]

            draws = dict(zip(large, fork_map(draw_near, large, workers)))
            called = {s.tool for found in draws.values() for w, _key in found for s in w.steps}
            drawn = reach.cover(large, called, workers=workers, known=frozenset(g for g in large if draws[g])) \
                if large else {}
            self.drawn_goals = len(large)
            for goal in self.planner.goals():
                if goal in drawn:
                    found = itertools.chain(((w, canonical_key(domain, w)) for w in drawn[goal]), draws.get(goal, []))
                else:
                    found = ((w, canonical_key(domain, w))
                             for w in self.planner.goal_walks(goal, options.max_len, stats=self.walk_stats))
                for w, key in found:
                    if key in self.keys and not options.allow_repeats:
                        continue  # the same plan up to renaming or independent reordering
                    self.keys[key] = w
                    self.walks.append(w)
            if not self.walks:
                raise EnvsynthError(
                    f"no walk of up to {options.max_len} steps reaches a goal in '{domain.name}': "
                    "run `envsynth check` to see which tools cannot be reached")
        # refusal walks: the planner picks ones whose last request can be refused (the refused
        # requirement may be false, say because the record belongs to someone else)
        self.refusal_walks: list[Walk] = []
        if (options.refusals > 0 or options.conditionals > 0) and options.walk_mode == "exhaustive":
            seen: set[str] = set()
            for goal in self.planner.goals():
                if goal in drawn:
                    continue  # (refusals of a goal too large to enumerate are not drawn yet)
                for w in self.planner.goal_walks(goal, options.max_len, refusal=True):
                    key = canonical_key(domain, w)
                    if key in seen and not options.allow_repeats:
                        continue
                    seen.add(key)
                    self.refusal_walks.append(w)
        self.refusal_strata = self._strata(self.refusal_walks)
        # conditional requests: refusal walks refused for a rule the spec gives a fallback for
        self.fallback_walks = [w for w in self.refusal_walks if fallback_rule(domain, w) is not None]
        if options.conditionals > 0 and options.walk_mode == "exhaustive" and not self.fallback_walks:
            raise EnvsynthError(
                f"no request in '{domain.name}' can be refused for a rule with a fallback within {options.max_len} "
                "steps: give a requirement of a write tool `fallback: {when: ..., then: [...]}` "
                "(docs/writing-specs.md, 'Conditional requests'), or drop --conditionals")
        self.fallback_strata = self._strata(self.fallback_walks)
        self.walk_seconds = time.perf_counter() - t0
        # stratify: a goal uniformly, then a tool sequence for it, then a walk - so rare goals and
        # rare sequences are not drowned by common ones; with a length mix, the length first
        self.strata = self._strata(self.walks)
        self.by_length = {n: self._strata(self.walks, n) for n in sorted({len(w.steps) for w in self.walks})}
        # the mix's lengths and weights; empty without a mix or with sampled walks (their draw takes the mix)
        self.lengths: list[int] = []
        self.length_weights: list[float] = []
        if options.length_mix and options.walk_mode == "exhaustive":
            # lengths beyond the enumerated bound are built by chaining intents (plan/chain.py)
            usable = {n: wt for n, wt in options.length_mix.items()
                      if wt > 0 and (n in self.by_length or n > options.max_len)}
            if not usable:
                raise EnvsynthError(f"--length-mix names no length that has walks (lengths: "
                                    f"{sorted(self.by_length)})")
            self.lengths = sorted(usable)
            self.length_weights = [usable[n] for n in self.lengths]
        self.schemas = domain_text(domain).tools
        self.synth_options = SynthOptions(
            background=options.background,
            distractors=DistractorOptions(options.distractors, tuple(options.distractor_kinds)))
        self.learner = Learner()
        self.checked: dict[str, bool] = {}  # merged walk -> accepted by the planner
        self.checker = Checker(domain)  # grounds once per shape of walk, decides each by assumptions
        self._spaces: dict[tuple[bool, int], ShapeSpace] = {}
        self.chains = ChainBuilder(domain, self.walks)  # walks longer than max_len
        self.target = DifficultyTarget.parse(options.difficulty) if options.difficulty else None

    def _strata(self, walks: list[Walk], length: Optional[int] = None) -> list[list[list[int]]]:
        """Positions in `walks` (of `length` steps, if given) by goal, then by tool sequence (both
        in a fixed order)."""
        goals: dict[tuple, dict[tuple, list[int]]] = defaultdict(lambda: defaultdict(list))
        for i, w in enumerate(walks):
            if length is not None and len(w.steps) != length:
                continue
            # a refused request is its own goal per refused requirement, so each rule gets its turn
            g = tuple((w.steps[i].tool, w.steps[i].refuse or 0) for i in w.goal_steps(self.domain))
            goals[g][w.tool_sequence()].append(i)
        return [[goals[g][seq] for seq in sorted(goals[g])] for g in sorted(goals)]

    def _pool(self, refusal: bool) -> list[Walk]:
        return self.refusal_walks if refusal else self.walks

    def pick_walk(self, rng: random.Random, refusal: bool = False, length: Optional[int] = None) -> Optional[Walk]:
        """A walk drawn with replacement (retries, merged intents, sampled mode); under a length
        mix, of `length` steps if given, else of a length drawn from the mix."""
        if self.options.walk_mode == "sampled":
            return self._sample(rng, refusal=refusal)
        strata = self.strata
        if refusal:
            if not self.refusal_strata:
                raise EnvsynthError("no request in this domain can be refused within the walk bound: "
                                    "give write tools requirements that can fail, or drop --refusals")
            strata = self.refusal_strata
        elif self.options.length_mix:
            n = length if length is not None else rng.choices(self.lengths, self.length_weights)[0]
            if n not in self.by_length:
                return self.chains.build(n, rng)
            strata = self.by_length[n]
        goal = strata[rng.randrange(len(strata))]
        if self.options.stratify == "goal":
            pool = [w for seq in goal for w in seq]
        else:
            pool = goal[rng.randrange(len(goal))]
        return self._pool(refusal)[pool[rng.randrange(len(pool))]]

    def shape_space(self, refusal: bool, position: int) -> ShapeSpace:
        """The starting values a walk may be solved with (one planner call per walk, cached)."""
        key = (refusal, position)
        if key not in self._spaces:
            walk = self._pool(refusal)[position]
            self._spaces[key] = ShapeSpace.of(self.domain, walk, self.checker.initial_values(walk))
        return self._spaces[key]

    def drawer(self) -> "Drawer":
        return Drawer(self)

    def _sample(self, rng: random.Random, extra: str = "", refusal: bool = False) -> Walk:
        """A walk drawn by clingo with randomized decisions (spaces too large to enumerate)."""
        lengths = list(range(1, self.options.max_len + 1))
        weights = [self.options.length_mix.get(n, 0.0) for n in lengths] if self.options.length_mix else None
        opts = AspOptions(default_slots=self.options.slots, refusal=refusal)
        for _ in range(20):
            n = rng.choices(lengths, weights)[0] if weights else rng.choice(lengths)
            w = sample_walk(self.domain, n, rng.randrange(2**31), opts, extra_rules=extra)
            if w is not None:
                return w
        raise EnvsynthError(f"clingo found no walk of up to {self.options.max_len} steps")

    def propose(self, rng: random.Random, counts: Counter, refusal: bool = False, multi: bool = False,
                length: Optional[int] = None) -> Optional[Walk]:
        """One walk to solve: single intent (of `length` steps under a length mix), or a merge of
        2 up to max_intents single-intent walks, re-checked by the planner. For a refusal task
        the last request is the refused one."""
        if not multi:
            return self.pick_walk(rng, refusal, None if refusal else length)
        k = rng.randint(2, max(2, self.options.max_intents))
        parts = [self.pick_walk(rng) for _ in range(k - 1)] + [self.pick_walk(rng, refusal)]
        if None in parts:  # a long part the chain builder could not make
            counts["merge_rejected"] += 1
            return None
        walk = parts[0]
        for nxt in parts[1:]:
            walk = merge(self.domain, walk, nxt, rng)
            if walk is None:
                counts["merge_rejected"] += 1
                return None
        key = canonical_key(self.domain, walk)
        if key not in self.checked:
            self.checked[key] = self.checker.accepts(walk)
        if not self.checked[key]:
            counts["merge_rejected"] += 1
            return None
        return walk

    def kind(self, index: int) -> tuple[random.Random, bool, bool, bool]:
        """What kind of task an index is, decided once from the index's own random stream: every
        attempt tries for that kind, so the shares of refusals, multi-intent and conditional tasks
        come out as asked. The rng is returned in the state the rest of the index's draws start
        from (the conditional draw is made only when asked for, so other runs keep their tasks)."""
        rng = random.Random(f"{self.options.seed}/{index}")
        refuse = rng.random() < self.options.refusals
        multi = rng.random() < self.options.multi_intent
        cond = self.options.conditionals > 0 and rng.random() < self.options.conditionals
        return rng, refuse, multi, cond

    def propose_conditional(self, rng: random.Random, counts: Counter) -> Optional[Walk]:
        """A conditional walk: a refusal walk whose refused rule has a fallback, continued by the
        planner with that fallback (plan/conditional.py)."""
        if not self.fallback_strata:
            raise EnvsynthError("conditional requests need exhaustive walks (--walks exhaustive)")
        goal = self.fallback_strata[rng.randrange(len(self.fallback_strata))]
        seq = goal[rng.randrange(len(goal))]
        refused = self.fallback_walks[seq[rng.randrange(len(seq))]]
        walk = continue_with_fallback(self.domain, refused, rng, self.planner, self.options.slots)
        if walk is None:
            counts["merge_rejected"] += 1
        return walk

    def length_of(self, index: int) -> Optional[int]:
        """The length a single-intent task of `index` has under a length mix, decided once from
        the index's own stream: every attempt tries that length, so lengths that fail more often
        (long chains) are not traded for shorter ones on a retry and the mix comes out as asked."""
        if not self.lengths:
            return None
        return random.Random(f"{self.options.seed}/{index}/length").choices(self.lengths, self.length_weights)[0]

    def task(self, item: "int | WorkItem") -> TaskResult:
        """The task of one index: the first attempt solves the shape the parent drew for it (if
        any); retries propose walks as before (drawn with replacement from the index's stream)."""
        if isinstance(item, int):
            item = WorkItem(item)
        index = item.index
        rng, refuse, multi, cond = self.kind(index)
        failures: list[str] = []
        timings: dict[str, float] = {}
        counts: Counter = Counter()
        mismatches = 0
        for attempt in range(self.options.max_attempts):
            shape = item.draw if attempt == 0 else None
            if shape is not None:
                walk = self._pool(refuse)[shape.walk]
            elif cond:
                walk = self.propose_conditional(rng, counts)
            else:
                walk = self.propose(rng, counts, refuse, multi, self.length_of(index))
            seed = rng.randrange(2**31)
            if walk is None:
                continue
            counts["proposed"] += 1
            known = self.learner.match(walk) if self.options.learn else None
            if known is not None:  # the planner learned this pattern is impossible: skip the solver
                counts["pruned"] += 1
                failures.append(f"the walk's conditions cannot all hold: {known.reason}")
                continue
            counts["solved"] += 1
            try:
                sc = synthesize(self.domain, walk, seed, self.synth_options, timings=timings,
                                shape=shape.values if shape else None,
                                fixed=shape.fixed if shape else frozenset())
            except Infeasible as e:
                core = "; ".join(e.core[:4])
                failures.append(f"{e.reason}: {core}" if core else e.reason)
                counts["infeasible"] += 1
                # a core naming the drawn values says nothing about the walk itself
                if "shape" not in e.core_kinds and self.learner.add(
                        learn(walk, e.core, e.core_steps, e.core_kinds, e.core_objects)):
                    counts["learned"] += 1
                continue
            except ReplayMismatch as e:  # a solver/runtime disagreement: never emitted, counted
                mismatches += 1
                failures.append(f"solver and runtime disagree: {e}")
                continue
            counts["feasible"] += 1
            t0 = time.perf_counter()
            try:
                task = derive_task(self.domain, sc, self.templates, index, self.schemas)
            except EnvsynthError as e:  # e.g. the plan relies on a description the user never gives
                failures.append(str(e))
                counts["unrenderable"] += 1
                continue
            timings["render"] = timings.get("render", 0.0) + time.perf_counter() - t0
            t0 = time.perf_counter()
            # the checks `envsynth verify` runs, but its second engine: that stays independent of generation
            check = check_task(self.domain, task, second_engine=False)
            timings["verify"] = timings.get("verify", 0.0) + time.perf_counter() - t0
            if not check.ok:
                failures.append(f"failed its own verification: {check.problems[0]}")
                counts["failed_check"] += 1
                continue
            off = self.target.misses(profile(task)) if self.target else None
            if off:
                failures.append(off)
                counts["off_profile"] += 1
                continue
            t0 = time.perf_counter()
            line = task_json(self.domain, task)
            timings["render"] = timings.get("render", 0.0) + time.perf_counter() - t0
            summary = summarize(self.domain, task)
            return TaskResult(index, line, failures, timings, mismatches, summary, counts)
        return TaskResult(index, None, failures, timings, mismatches, None, counts)


def summarize(domain: Domain, task: Task) -> dict:
    """What the manifest counts about a task (and its shape, for repeat detection)."""
    return {"walk": task.meta.walk, "length": task.difficulty.length,
            "tools": [a.name for a in task.gold_actions],
            "goals": task.difficulty.goals,
            "refusal": bool(task.expected.refusals),
            "instruction": hashlib.sha256(task.instruction.encode()).hexdigest()[:16],
            "shape": task_shape(domain, task),
            "canonical": canonical_key(domain, task.certificate.walk),
            "coverage": task_coverage(domain, task),
            "profile": profile(task)}


def task_shape(domain: Domain, task: Task) -> str:
    """The plan up to renaming and reordering, the enum, bool and pooled values of the records it
    acts on by their role in the plan (not people's names), and its near-miss kinds: two tasks of one shape differ only in
    who asks and in numbers."""
    walk = task.certificate.walk
    key, role = canonical_form(domain, walk)
    values = []
    for obj, ent in walk.objects.items():
        rid = task.certificate.objects.get(obj)
        rec = task.initial_db.get(ent, {}).get(rid)
        if rec is None:
            continue
        label = set(domain.entities[ent].label)
        for f in domain.entities[ent].fields.values():
            # the values a task binds (statuses, routes, topics) - not who the person is
            if f.type.kind in ("enum", "bool") or (f.type.kind == "str" and f.type.values and f.name not in label):
                values.append(f"{role.get(obj, ent)}.{f.name}={rec[f.name]}")
    kinds = sorted(d.kind for d in task.certificate.distractors)
    raw = json.dumps([key, sorted(values), kinds])
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------- workers

_GEN: Optional[Generator] = None


def worker_payload(spec_path: Path, templates: Templates, options: GenerateOptions) -> dict:
    """What a worker needs to build the parent's Generator: texts, not paths (a Ray node need not
    share this machine's files)."""
    return {"spec": spec_path.read_text(encoding="utf-8"), "file": str(spec_path),
            "domain_templates": Path(templates.file).read_text(encoding="utf-8"),
            "options": options.public(), "learn": options.learn}


def build_generator(payload: dict) -> Generator:
    """The Generator a worker_payload describes, the same as the parent's."""
    import tempfile

    from .spec.loader import parse_spec_text

    domain = parse_spec_text(payload["spec"], payload["file"])
    here = tempfile.TemporaryDirectory(prefix="envsynth-")
    tdir = Path(here.name) / domain.name
    tdir.mkdir()
    (tdir / "phrases.yaml").write_text(payload["domain_templates"], encoding="utf-8")
    options = GenerateOptions.from_public(payload["options"])
    options.learn = payload["learn"]
    gen = Generator(domain, options, Templates(domain, tdir))
    gen._template_dir = here  # removed with the worker
    return gen


def _init_worker(payload: dict) -> None:
    global _GEN
    _GEN = build_generator(payload)


def _run_item(item: WorkItem) -> TaskResult:
    assert _GEN is not None
    return _GEN.task(item)


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
    counts: Counter = field(default_factory=Counter)  # proposed, solved, feasible, pruned, learned, ...


def iter_results(spec: str, options: GenerateOptions, workers: Optional[int] = None, start: int = 0,
                 generator: Optional[Generator] = None, ray: Optional[str] = None) -> Iterator[TaskResult]:
    """Task results in index order from `start`, forever (the caller stops). The parent draws each
    index's shape in order (`Drawer`), so the work does not depend on the number of workers.
    `workers`: local processes (None: 1), or with `ray` (a cluster address, or 'auto') Ray actors
    (None: one per CPU of the cluster)."""
    gen = generator or Generator(load_domain(spec), options)
    items = gen.drawer().items(start)
    if ray is not None or (workers or 1) > 1:
        from .spec.loader import resolve_spec_path

        payload = worker_payload(resolve_spec_path(spec), gen.templates, options)
    if ray is not None:
        from .cluster import RayPool

        with RayPool(ray, workers, build_generator, payload) as pool:
            yield from pool.map(items)
        return
    workers = workers or 1
    if workers <= 1:
        for item in items:
            yield gen.task(item)
    global _GEN
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    ctx = mp.get_context(method)
    if method == "fork":
        _GEN = gen  # forked workers inherit the enumerated walks instead of planning again
        init, initargs = None, ()
    else:
        init, initargs = _init_worker, (payload,)
    with ctx.Pool(workers, initializer=init, initargs=initargs) as pool:
        batch = max(32, workers * 16)
        # two batches in flight: the parent draws the next while the workers solve this one
        window = [pool.imap(_run_item, [next(items) for _ in range(batch)], chunksize=4)]
        while True:
            window.append(pool.imap(_run_item, [next(items) for _ in range(batch)], chunksize=4))
            yield from window.pop(0)


CHECKPOINT = 25  # tasks between resume checkpoints
EMPTY_LIMIT = 60  # task indices in a row that yield nothing before the run stops and says why
REPEAT_LIMIT = 400  # consecutive same-shape tasks before generation says the space is exhausted


class _Stats:
    """Streaming dataset statistics for the manifest (counters and hashes: memory stays flat)."""

    def __init__(self):
        self.coverage = Coverage()
        self.instructions: set[str] = set()
        self.shapes: set[str] = set()

    def add(self, summary: dict) -> None:
        self.coverage.add(summary)
        self.instructions.add(summary["instruction"])
        self.shapes.add(summary["shape"])

    def to_json(self, domain: Domain, reachable: Optional[dict] = None) -> dict:
        cov = self.coverage.report(domain, reachable)
        return {
            "distinct_tool_sequences": len(self.coverage.sequences),
            "distinct_instructions": len(self.instructions),
            "distinct_shapes": len(self.shapes),
            **{k: cov[k] for k in ("tools_total", "tools_covered", "edges_total", "edges_covered",
                                   "branches_total", "branches_covered", "multi_intent_share", "refusal_share",
                                   "lengths",
                                   "tool_calls", "tool_sequences", "refusal_reasons", "uncovered_tools",
                                   "uncovered_edges")},
            # (only for a spec that declares fallbacks: other manifests stay as they were)
            **{k: cov[k] for k in ("conditional_share", "conditional_branches") if k in cov},
        }


def generate(spec: str, out_dir: Path, options: GenerateOptions, workers: Optional[int] = None,
             progress: Optional[Callable[[int, int], None]] = None, ray: Optional[str] = None) -> Report:
    """Generate `options.n` verified tasks into `out_dir` (tasks.jsonl, manifest.json, spec.yaml).
    `workers` and `ray` as in iter_results; the output does not depend on either."""
    from .spec.loader import resolve_spec_path

    if workers is not None and workers < 1:
        raise EnvsynthError("workers (-j) must be at least 1")
    if ray is not None:
        from .cluster import import_ray, ray_target

        import_ray()  # not installed, or nothing answers at the address: say so before planning
        ray_target(ray)
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
                stats.add(summarize(domain, Task.model_validate_json(raw)))
            with open(partial, "w", encoding="utf-8") as f:
                f.writelines(kept)
            report.failures.update(saved["failures"])
            report.counts.update(saved.get("counts", {}))
            report.indices, report.mismatches = saved["indices"], saved["mismatches"]
            lines_done, next_index = saved["lines"], saved["next_index"]
    if lines_done == 0:
        partial.write_text("", encoding="utf-8")

    def checkpoint(next_i: int) -> None:
        tmp = state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"key": run_key, "lines": report.tasks, "next_index": next_i,
                                   "failures": dict(report.failures), "counts": dict(report.counts),
                                   "indices": report.indices,
                                   "mismatches": report.mismatches}), encoding="utf-8")
        os.replace(tmp, state_file)

    report.resumed_from = lines_done
    # workers fork from it (or, without fork, plan again); a large spec's walks are planned on
    # as many processes
    gen = Generator(domain, options, workers=(workers or 1) if ray is None else usable_cores())
    report.walk_seconds = gen.walk_seconds
    walk_info = _walk_info(gen)
    report.tasks = lines_done
    if progress:
        progress(report.tasks, options.n)
    streak = empty = 0
    with _naming(partial), open(partial, "a", encoding="utf-8") as out, \
            contextlib.closing(iter_results(str(spec_path), options, workers, next_index, gen, ray)) as results:
        if report.tasks < options.n:  # closing: the workers end as soon as the loop does
            for r in results:
                report.indices += 1
                for k, v in r.timings.items():
                    report.timings[k] = report.timings.get(k, 0.0) + v
                for fmsg in r.failures:
                    report.failures[fmsg] += 1
                report.mismatches += r.mismatches
                report.counts.update(r.counts)
                if r.line is None:
                    empty += 1
                    if empty >= EMPTY_LIMIT:
                        raise EnvsynthError(_no_progress(report, empty, options))
                    continue
                empty = 0
                if r.summary["shape"] in stats.shapes and not options.allow_repeats:
                    report.failures["a task of the same shape was already written"] += 1
                    report.counts["repeats"] += 1
                    streak += 1
                    if streak >= REPEAT_LIMIT:
                        raise EnvsynthError(
                            f"only {len(stats.shapes)} distinct task shapes turned up in {report.indices} tries "
                            f"({streak} repeats in a row): ask for fewer tasks, allow longer walks (--max-len), "
                            "merge intents (--multi-intent), or pass --allow-repeats")
                    continue
                streak = 0
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
            # walks solved per task written (shapes are drawn without replacement: near 1)
            "proposed": report.counts["proposed"],
            "proposals_per_task": round(report.counts["proposed"] / max(report.tasks, 1), 3),
            # solved-infeasible plus pruned: each worker learns on its own, the sum does not vary
            "infeasible": report.counts["infeasible"] + report.counts["pruned"],
            "description_never_given": report.counts["unrenderable"],
            "failed_own_verification": report.counts["failed_check"],
            "same_shape_repeats": report.counts["repeats"],
            "solver_runtime_disagreements": report.mismatches,
            "reasons": dict(sorted(report.failures.most_common(20), key=lambda kv: (-kv[1], kv[0]))),
        },
        "walk_space": walk_info,
        "dataset": stats.to_json(domain, reachable_from(domain, gen.walks, options.max_len)
                                 if options.walk_mode == "exhaustive" else None),
    }
    with _naming(out_dir):
        _write_results(out_dir, spec_path, manifest, partial, final, state_file)
    report.seconds = time.perf_counter() - t_start
    return report


def _write_results(out_dir: Path, spec_path: Path, manifest: dict, partial: Path, final: Path,
                   state_file: Path) -> None:
    (out_dir / "spec.yaml").write_text(spec_path.read_text(encoding="utf-8"), encoding="utf-8")
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(partial, final)
    state_file.unlink(missing_ok=True)


@contextlib.contextmanager
def _naming(path: Path):
    """An OS error while writing (a full disk) names the file it was writing, for the message."""
    try:
        yield
    except OSError as e:
        if not e.filename:
            e.filename = str(path)
        raise


def _no_progress(report: Report, empty: int, options: GenerateOptions) -> str:
    """Why a run stopped: the commonest reasons attempts failed (unsat cores in the spec's words)."""
    top = [f"  {k} x {why}" for why, k in report.failures.most_common(3)]
    return (f"no task could be made from the last {empty} task indices ({empty * options.max_attempts} attempts; "
            f"{report.tasks} tasks written so far, kept for a resume). The commonest reasons:\n" + "\n".join(top)
            + "\nrun `envsynth check` on the spec; with --refusals or --multi-intent, try a smaller share")


def _walk_info(gen: Generator) -> dict:
    if gen.options.walk_mode == "sampled":
        return {"mode": "sampled", "max_len": gen.options.max_len}
    return {
        "mode": "exhaustive",
        "max_len": gen.options.max_len,
        "walks": gen.walk_stats.models,
        "canonical_walks": len(gen.walks),
        "per_length": {str(k): v for k, v in sorted(gen.walk_stats.per_length.items())},
        "tool_sequences": len({w.tool_sequence() for w in gen.walks}),
        "goals": len(gen.strata),
        "refusal_walks": len(gen.refusal_walks),
        **({"drawn_goals": gen.drawn_goals} if gen.drawn_goals else {}),
    }


def generate_tasks(domain: Domain, n: int, seed: int = 0, **kw) -> list[Task]:
    """In-memory generation for small n (the Python API for notebooks and tests)."""
    options = GenerateOptions(n=n, seed=seed, **kw)
    gen = Generator(domain, options)
    out: list[Task] = []
    i = 0
    items = gen.drawer().items()
    while len(out) < n:
        r = gen.task(next(items))
        i += 1
        if r.line is not None:
            out.append(Task.model_validate_json(r.line))
        if i >= len(out) * 50 + EMPTY_LIMIT:
            raise EnvsynthError(f"too many infeasible walks ({len(out)} of {n} tasks from {i} indices): "
                                "see `envsynth check`")
    return out
