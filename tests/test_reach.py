"""Targeted reachability (plan/reach.py) against exhaustive enumeration: the same tools."""

import pytest

from envsynth.check import check_domain
from envsynth.plan import reach as R
from envsynth.plan.planner import Planner
from envsynth.spec.loader import load_domain

CASES = [(d, 2) for d in ("airline", "banking", "calendar", "hr", "itsm", "retail")] + \
        [("airline", 4), ("banking", 3), ("retail", 3)]


@pytest.mark.parametrize("name,max_len", CASES)
def test_targeted_reachability_equals_enumeration(name, max_len):
    """At max_len 2 banking, calendar and retail have tools no walk reaches: both the proofs of
    "no walk" and the walks found must agree with the full enumeration."""
    domain = load_domain(f"specs/{name}.yaml")
    planner = Planner(domain)
    enumerated = {s.tool for g in planner.goals() for w in planner.goal_walks(g, max_len) for s in w.steps}
    assert R.reachable_tools(domain, max_len, planner) == enumerated


def test_some_domain_has_unreachable_tools_at_two_steps():
    """(So the test above exercises the "no walk" answers, not only found walks.)"""
    domain = load_domain("specs/retail.yaml")
    assert R.reachable_tools(domain, 2) != set(domain.tools)


def test_every_found_walk_is_a_plan():
    from envsynth.plan.planner import Checker

    domain = load_domain("specs/banking.yaml")
    checker = Checker(domain)
    for walks in R.Reach(domain, 3).cover().values():
        for w in walks:
            assert checker.accepts(w)


def test_check_asks_large_goals_targeted_questions(monkeypatch):
    """A goal over the enumeration limit is asked, not enumerated: check reaches the same tools
    and shows the same goals feasible."""
    domain = load_domain("specs/banking.yaml")
    full = check_domain(domain, max_len=3)
    monkeypatch.setattr(R, "ENUMERATE_SCOPE", 0)
    asked = check_domain(domain, max_len=3)
    assert asked.targeted == len(Planner(domain).goals()) and asked.walks == 0
    assert asked.tools_reached == full.tools_reached
    assert asked.feasible_goals == full.feasible_goals


def test_generate_draws_walks_for_large_goals(monkeypatch):
    from envsynth.generate import generate_tasks

    monkeypatch.setattr(R, "ENUMERATE_SCOPE", 0)
    domain = load_domain("specs/airline.yaml")
    a = generate_tasks(domain, 6, seed=3)
    b = generate_tasks(domain, 6, seed=3)
    assert [t.model_dump_json() for t in a] == [t.model_dump_json() for t in b]
    assert len({t.meta.walk for t in a}) > 1


@pytest.mark.parametrize("name", ["banking", "itsm", "hr"])
def test_quick_walks_are_plans_that_call_their_tool(name, monkeypatch):
    """A tool's question is first asked of small scopes around it (Reach.quick_scopes): what is
    found there must be a plan of the whole spec and call the tool asked about. Catches a quick
    walk that is not solved for its tool (the CALLS constraint dropped) or a scope whose walks the
    full program would reject."""
    from envsynth.plan.planner import Checker

    domain = load_domain(f"specs/{name}.yaml")
    reach = R.Reach(domain, 3)
    found = []
    quick = R.Reach.quick_walk

    def spy(self, tool):
        w = quick(self, tool)
        if w is not None:
            found.append((tool, w))
        return w

    monkeypatch.setattr(R.Reach, "quick_walk", spy)
    walks = reach.cover()
    assert found and reach.quick_hits >= len(found)  # (goal questions have quick answers too)
    checker = Checker(domain)
    for tool, w in found:
        assert tool in [s.tool for s in w.steps]
        assert len(w.steps) <= 3 and checker.accepts(w)
    for goal, ws in walks.items():  # the goals' quick answers among them
        assert all(w.steps[-1].tool == goal and checker.accepts(w) for w in ws)


def test_quick_scopes_change_no_answer(monkeypatch):
    """Without the quick scopes every tool question goes to the exact one: the same tools."""
    domain = load_domain("specs/itsm.yaml")
    with_quick = R.reachable_tools(domain, 3)
    monkeypatch.setattr(R.Reach, "quick_scopes", lambda self, tool: [])
    assert R.reachable_tools(domain, 3) == with_quick


def test_check_asks_every_goal_once_one_is_too_large(monkeypatch):
    """When some goals are over the enumeration limit and others not, check asks all of them
    (enumerating the small ones of a large spec cost more than asking): same answers, no walks
    counted."""
    domain = load_domain("specs/banking.yaml")
    full = check_domain(domain, max_len=3)
    monkeypatch.setattr(R, "ENUMERATE_SCOPE", 5)  # banking's goal scopes: 4, 4, 4, 6, 6, 7
    mixed = check_domain(domain, max_len=3)
    assert mixed.targeted == len(Planner(domain).goals()) and mixed.walks == 0
    assert mixed.tools_reached == full.tools_reached
    assert mixed.feasible_goals == full.feasible_goals


def test_cover_is_the_same_on_any_number_of_workers():
    """Questions asked on forked workers (solver/parallel.py) give the walks one process gives,
    in the same order, and the same solve counts. Catches a batch that depends on the number of
    workers, answers taken in the order they finish, or counts lost in the workers."""
    domain = load_domain("specs/itsm.yaml")
    runs = []
    for workers in (1, 2, 3):
        reach = R.Reach(domain, 3)
        walks = reach.cover(workers=workers)
        runs.append(({g: [w.model_dump_json() for w in ws] for g, ws in walks.items()}, reach.solves, reach.quick_hits))
    assert runs[0] == runs[1] == runs[2]
    assert runs[0][1] > len(runs[0][0])  # tool questions were asked too (batches ran)


def test_fork_map_keeps_item_order():
    """Answers come in item order even when later items finish first (every 7th is slow), and
    the workers, not this process, compute them."""
    import os
    import time

    from envsynth.parallel import fork_map

    def slow_square(x):
        time.sleep(0.05 if x % 7 == 0 else 0)
        return x * x, os.getpid()

    items = list(range(40))
    answers = fork_map(slow_square, items, 3)
    assert [y for y, _pid in answers] == [x * x for x in items]
    assert os.getpid() not in {pid for _y, pid in answers}


def test_check_outcomes_computed_ahead_change_nothing(monkeypatch):
    """A large spec's walks are solved and rendered ahead on workers (check._ahead) and the
    sequential pass only looks them up: the same report with 1 or 2 workers or with no cache;
    the pass solves none of the walks computed ahead again; and what it solves without the cache
    - which walk, which seed - was computed ahead. Catches a cache keyed by another walk or seed
    than the pass asks for, and answers that depend on the number of workers."""
    import envsynth.check as C

    domain = load_domain("specs/banking.yaml")
    monkeypatch.setattr(R, "ENUMERATE_SCOPE", 0)

    def report(workers):
        r = check_domain(domain, max_len=3, workers=workers)
        return [f.message for f in r.findings], sorted(r.feasible_goals), sorted(r.tools_reached)

    calls: list[tuple] = []
    mark: list[int] = []
    solve, ahead = C._walk_outcome, C._ahead

    def spy(domain, walk, tpl, goal, seed):
        calls.append((walk.model_dump_json(), seed))
        return solve(domain, walk, tpl, goal, seed)

    monkeypatch.setattr(C, "_walk_outcome", spy)
    monkeypatch.setattr(C, "_ahead", lambda *a: (lambda out: mark.append(len(calls)) or out)(ahead(*a)))
    one = report(1)
    computed_ahead, in_pass = calls[:mark[0]], calls[mark[0]:]
    assert computed_ahead and not set(in_pass) & set(computed_ahead)
    assert len(set(computed_ahead)) == len(computed_ahead)  # (each walk solved once, for both uses)
    assert report(2) == one
    monkeypatch.setattr(C, "_ahead", lambda *a: {})
    calls.clear()
    assert report(1) == one
    assert set(calls) <= set(computed_ahead) | set(in_pass)


@pytest.mark.parametrize("name", ["airline", "hr", "itsm"])
def test_unread_fields_change_no_walk(name):
    """Reach's programs leave out the values of fields nothing reads or sets
    (AspOptions.read_fields_only): every goal's walks are the same as with them. Catches dropping
    a field a condition reads (planted: airline's get_flight_status walks changed). (Dropping a
    field only an effect sets changes no walk of these domains: their effects set constants.)"""
    from dataclasses import replace

    from envsynth.plan.facts import Facts
    from envsynth.plan.planner import enumerate_walks

    domain = load_domain(f"specs/{name}.yaml")
    planner = Planner(domain)
    dropped = 0
    for goal in planner.goals():
        full = planner.options(goal, 3)
        lean = replace(full, read_fields_only=True)
        dropped += len(Facts(domain, full).atoms) - len(Facts(domain, lean).atoms)
        walks = [w.model_dump_json() for w in enumerate_walks(domain, 3, options=full)]
        assert walks == [w.model_dump_json() for w in enumerate_walks(domain, 3, options=lean)], goal
    assert dropped > 0  # (some field is unread, so the option was exercised)


@pytest.fixture(scope="module")
def composed50(tmp_path_factory):
    from test_compose import compose

    return load_domain(compose.write(50, tmp_path_factory.mktemp("c50")))


def test_the_checkers_lean_programs_give_the_full_programs_answers(composed50):
    """The Checker grounds its per-walk-shape programs without the values of fields nothing reads
    (read_fields_only); the starting values it reports (the shape space generate draws from) and
    the merged walks it accepts are those of the full program. Catches leaving an unread field out
    of initial_values (planted: every space of these walks differed) and dropping a field some
    rule reads (the spaces and acceptances would differ)."""
    import random

    from envsynth.generate import GenerateOptions, Generator
    from envsynth.plan.merge import merge
    from envsynth.plan.planner import Checker

    for domain, max_len in ((composed50, 2), (load_domain("specs/banking.yaml"), 3)):
        gen = Generator(domain, GenerateOptions(seed=4, max_len=max_len), workers=1)
        lean, full = Checker(domain), Checker(domain, read_fields_only=False)
        walks = gen.walks[:: max(1, len(gen.walks) // 25)]
        for w in walks:
            assert lean.initial_values(w) == full.initial_values(w), w.tool_sequence()
        rng = random.Random(0)
        merged = [m for m in (merge(domain, rng.choice(gen.walks), rng.choice(gen.walks), rng) for _ in range(25)) if m]
        assert merged
        assert [lean.accepts(m) for m in merged] == [full.accepts(m) for m in merged]


def test_generate_asks_no_question_a_draw_answered(composed50, monkeypatch):
    """Generate draws walks near every goal of a large spec first, then asks a goal's own question
    only when its draw found nothing, and a tool's only when no walk calls it yet - and its pool
    still calls every tool the targeted questions reach. Catches asking the questions anyway
    (planted: every goal asked) and dropping the tool questions (tools would be missing)."""
    from envsynth.generate import GenerateOptions, Generator

    asked: list[str] = []
    real = R.Reach.goal_walk
    monkeypatch.setattr(R.Reach, "goal_walk", lambda self, g: asked.append(g) or real(self, g))
    gen = Generator(composed50, GenerateOptions(seed=1, max_len=2), workers=1)
    assert gen.drawn_goals > 0
    assert asked == []  # (every goal of this spec is reached by its draw)
    pool = {s.tool for w in gen.walks for s in w.steps}
    assert pool == R.reachable_tools(composed50, 2)


@pytest.mark.parametrize("name", ["composed50", "airline", "retail", "calendar"])
def test_one_record_behind_unread_links_changes_no_answer(name, composed50):
    """Reach's questions keep one record of each entity their scope holds only behind links no
    rule reads (AspOptions.lean_links): every question - a walk in each goal's draw scope and
    quick scopes, with and without the tool asked about - has a walk exactly when the full
    program has one, and each walk found is a plan of the full program (the Checker's exact
    check). Catches leaning an entity a rule reads through a link, or one a tool takes (planted:
    answers differ), and walks the full program would not accept."""
    from dataclasses import replace

    from envsynth.plan.facts import Facts
    from envsynth.plan.planner import Checker

    domain = composed50 if name == "composed50" else load_domain(f"specs/{name}.yaml")
    reach, checker = R.Reach(domain, 3), Checker(domain)
    leaned = 0
    for goal in reach.planner.goals():
        for tools in [reach.near_scope(goal), *reach.quick_scopes(goal)]:
            lean = reach.options(goal, tools)
            full = replace(lean, lean_links=False)
            if Facts(domain, lean).slots == Facts(domain, full).slots:
                continue
            leaned += 1
            for asked in (None, *sorted(tools)[:2]):
                a = R.first_walk(domain, lean, 3, asked)
                b = R.first_walk(domain, full, 3, asked)
                assert (a is None) == (b is None), (goal, sorted(tools), asked)
                assert a is None or checker.accepts(a), (goal, a.tool_sequence())
    assert leaned > 0
