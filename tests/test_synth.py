"""State synthesis (Z3): the solver and the runtime agree; values look real; uniqueness checks hold."""

import random
import sys
from pathlib import Path
import statistics

import pytest
import z3

from envsynth.runtime import references as R
from envsynth.spec.loader import load_domain
from envsynth.runtime.execute import Runtime
from envsynth.state.replay import check_unique
from envsynth.state.solve import solve_walk
from envsynth.state.synth import Infeasible, SynthOptions, synthesize
from envsynth.plan.planner import enumerate_walks
from envsynth.state.world import Symbols, World

DATA = Path(__file__).parent / "data"
sys.path.insert(0, str(Path(__file__).parent))  # tests/engines.py


@pytest.mark.parametrize("name", ["airline", "retail"])
def test_runtime_and_solver_agree_on_every_precondition(name):
    """Along every gold walk, each precondition is true in the Z3 model and true when the
    runtime evaluates it on the replayed database."""
    from envsynth.spec.loader import load_domain

    d = load_domain(name)
    checked = 0
    for i, walk in enumerate(enumerate_walks(d, max_len=4)):
        seed = 1000 + i
        sc = synthesize(d, walk, seed)
        plan, model, _ = solve_walk(d, walk, random.Random(seed), SynthOptions(), Symbols(d))
        rt = Runtime(d, sc.initial_db, sc.ids[walk.actor])
        by_step = {}
        for k, src, cond in plan.requirements:
            by_step.setdefault(k, []).append((src, cond))
        for k, call in enumerate(sc.gold):
            tool = d.tools[call.name]
            env = rt.bind_arguments(tool, call.arguments)
            rt.eval_lets(tool, env)
            for (src, cond), req in zip(by_step.get(k, []), tool.requires):
                assert req.src == src
                in_z3 = cond if isinstance(cond, bool) else z3.is_true(model.eval(cond, model_completion=True))
                assert in_z3, f"{walk.describe()} step {k + 1}: Z3 model violates {src}"
                assert rt.ev.eval(req.expr, env), f"{walk.describe()} step {k + 1}: runtime finds {src} false"
                checked += 1
            assert rt.call(call.name, call.arguments).ok
        assert rt.hash() == Runtime(d, sc.final_db).hash()
    assert checked > 20


def test_values_are_spread_not_on_bounds(airline):
    """A solver left alone puts numbers on bounds; seeded hints keep them realistic."""
    balances, prices = [], []
    for i, walk in enumerate(list(enumerate_walks(airline, max_len=3)) * 3):
        sc = synthesize(airline, walk, i)
        for oid in sc.ids.values():
            u = sc.initial_db["user"].get(oid)
            if u:
                balances.append(u["balance"])
            f = sc.initial_db["flight"].get(oid)
            if f:
                prices.append(f["economy_price"])
    assert len(set(balances)) > 0.8 * len(balances)
    assert len(set(prices)) > 0.8 * len(prices)
    at_bounds = sum(1 for b in balances if b in (0, 5000)) + sum(1 for p in prices if p in (79, 900))
    assert at_bounds <= 0.05 * (len(balances) + len(prices))
    assert statistics.pstdev(prices) > 50


def test_infeasible_walk_reports_the_clash_in_spec_words():
    d = load_domain(DATA / "shop.yaml")
    walk = next(w for w in enumerate_walks(d, max_len=1) if w.steps[0].tool == "buy_car")
    with pytest.raises(Infeasible) as e:
        synthesize(d, walk, 0)
    assert any("customer.credit >= 20000" in c for c in e.value.core)


def test_uniqueness_check_catches_a_planted_twin(airline):
    walk = next(w for w in enumerate_walks(airline, max_len=2) if any(s.select for s in w.steps))
    sc = synthesize(airline, walk, 3)
    proof = sc.selections[0]
    assert proof.check == "exhaustive" and proof.rivals == 0 and 1 <= proof.fits <= proof.fit_stated <= proof.candidates
    db = {e: {i: dict(r) for i, r in t.items()} for e, t in sc.initial_db.items()}
    ref = airline.entities[proof.entity].refs[proof.reference]
    twin = dict(db[proof.entity][proof.target], id="ZZ9999")
    db[proof.entity]["ZZ9999"] = twin
    actor = sc.ids[walk.actor]
    assert R.resolve(airline, ref, db, proof.stated, actor) is None
    assert R.rivals(airline, ref, db, proof.target, proof.stated, actor) == ["ZZ9999"]
    with pytest.raises(Exception, match="uniqueness check failed.*ZZ9999 fits as well"):
        check_unique(airline, db, ref, proof.target, actor, proof.step - 1)


def test_background_fills_the_database(airline):
    walk = next(enumerate_walks(airline, max_len=1))
    small = synthesize(airline, walk, 1, SynthOptions(background=0.0))
    big = synthesize(airline, walk, 1, SynthOptions(background=2.0))
    assert small.replay.background_records == 0
    assert sum(len(t) for t in big.initial_db.values()) > sum(len(t) for t in small.initial_db.values()) + 40


def test_rare_branches_are_steered_to(tmp_path):
    """Sampled values almost never start a meeting on the UTC day before its local date (an
    organizer far east of UTC booking at 07:00: the `then` side of `prev_day: if date_of(start) <
    date ...`, a let added to calendar's schedule_meeting here); steering half the tasks to a
    random branch side does (and without steering this test fails)."""
    import shutil

    from envsynth.coverage import task_coverage
    from envsynth.generate import Generator, GenerateOptions
    from envsynth.spec.loader import load_domain
    from envsynth.tasks.derive import derive_task

    root = Path(__file__).resolve().parents[1]
    text = (root / "specs" / "calendar.yaml").read_text(encoding="utf-8")
    anchor = "      end: start + minutes(duration)\n"
    assert anchor in text
    text = text.replace(anchor, anchor + "      prev_day: 'if date_of(start) < date then 1 else 0'\n", 1)
    (tmp_path / "calendar.yaml").write_text(text, encoding="utf-8")
    shutil.copytree(root / "templates" / "calendar", tmp_path / "templates" / "calendar")
    d = load_domain(str(tmp_path / "calendar.yaml"))
    g = Generator(d, GenerateOptions(n=1, seed=1))
    walk = next(w for w in enumerate_walks(d, max_len=2) if w.steps[-1].tool == "schedule_meeting")
    taken = set()
    for seed in range(30):
        sc = synthesize(d, walk, seed, g.synth_options)
        taken |= set(task_coverage(d, derive_task(d, sc, g.templates, 0, g.schemas))["branches"])
    assert {"schedule_meeting.let.prev_day.then", "schedule_meeting.let.prev_day.else"} <= taken


def test_background_meets_invariants_that_define_a_field(airline):
    """airline's `paid == <the cabin's fare + surcharge>`: a sampled amount almost never meets it,
    so the fill computes it - without that, 8 of 10 background reservations were dropped."""
    walk = next(enumerate_walks(airline, max_len=1))
    sizes = [len(synthesize(airline, walk, seed).initial_db["reservation"]) for seed in range(4)]
    assert min(sizes) >= 8, sizes


def test_background_records_leave_nullable_links_empty_in_a_realistic_share():
    """hr: some background employees have no manager (the head of the company), most have one,
    nobody manages themself; itsm: exactly the new incidents have no assignee (the invariants
    tie it to the state). Catches a fill that never empties a nullable link (planted: `empty`
    always false - no background employee is without a manager) or one that ignores the rules
    tying it to a state (the itsm check)."""
    from envsynth.generate import generate_tasks

    hr = load_domain("hr")
    empty = total = 0
    for task in generate_tasks(hr, n=6, seed=4):
        plan = set(task.certificate.objects.values()) | {x.id for x in task.certificate.distractors}
        for rid, r in task.initial_db["employee"].items():
            assert r["manager"] != rid
            if rid not in plan:
                total += 1
                empty += r["manager"] is None
    assert total > 20 and 0 < empty < total / 3, (empty, total)
    itsm = load_domain("itsm")
    for task in generate_tasks(itsm, n=4, seed=4):
        for r in task.initial_db["incident"].values():
            assert (r["assignee"] is None) == (r["status"] == "new"), r
        for r in task.initial_db["change_request"].values():
            assert (r["approver"] is None) == (r["status"] in ("draft", "requested")), r


def test_solver_and_runtime_agree_on_an_empty_link():
    """itsm: "resolve INC1" refused because nobody is assigned to it - Z3 keeps the assignee
    empty, the database stores null, and the runtime refuses for that reason. Catches the solver
    reading an empty link as a record (planted: World.same treating None as equal to anything -
    the first requirement then holds in Z3 and the walk is infeasible)."""
    from envsynth.plan.planner import Planner

    d = load_domain("itsm")
    walk = next(w for w in Planner(d).goal_walks("resolve_incident", 1, refusal=True)
                if w.steps[0].refuse == 1 and w.links["incident1.assignee"] is None)
    sc = synthesize(d, walk, 3)
    inc = sc.initial_db["incident"][sc.ids["incident1"]]
    assert inc["assignee"] is None and inc["status"] == "new"
    out = Runtime(d, sc.initial_db, sc.ids[walk.actor]).call("resolve_incident", sc.gold[0].arguments)
    assert out.output == "Error: only the agent assigned to the incident can resolve it"


# ----------------------------------------------------------------------------- times, durations, products


def _clock_disagreements(domain, n=40):
    from engines import in_python, in_sql, in_z3, records

    out = []
    for rec in records(domain, n):
        for name, node, _t in domain.tools["probe"].lets:
            values = (in_python(domain, rec, node), in_z3(domain, rec, node), in_sql(domain, rec, node))
            if len(set(values)) != 1:
                out.append((name, rec, values))
    return out


def test_three_engines_agree_on_times_durations_and_products():
    """Every let of tests/data/clock.yaml - times that wrap past midnight both ways, date_of /
    time_of / datetime(d, t), durations, products with negative factors and a factor of span
    1000 - has one value in the runtime, in Z3 (products in binary) and in SQL."""
    from engines import clock_domain

    assert _clock_disagreements(clock_domain()) == []


def test_product_bits_must_cover_the_factor(monkeypatch):
    """A planted encoding bug - one bit too few for the small factor - makes Z3 unable to
    represent half the factor's range, and the three-engine check fails."""
    from engines import clock_domain
    from envsynth.state import world

    real = world.Z3Terms.product

    def planted(self, a, b, small):
        side, lo, hi = small
        return real(self, a, b, (side, lo, lo + (hi - lo) // 2))

    monkeypatch.setattr(world.Z3Terms, "product", planted)
    with pytest.raises(AssertionError):
        _clock_disagreements(clock_domain(), n=8)


def test_z3_floor_modulo_is_pythons(monkeypatch):
    """A time of day minus hours wraps to the day before (00:30 - 1 hour is 23:30): a planted
    truncating modulo in the Z3 back-end disagrees with the runtime."""
    from engines import clock_domain
    from envsynth.state import world

    monkeypatch.setattr(world.Z3Terms, "floormod", lambda self, a, d: z3.If(a >= 0, a % d, -((-a) % d)))
    assert _clock_disagreements(clock_domain(), n=12)


def test_products_stay_linear_and_exact():
    """`quantity * price` is encoded without a nonlinear term, and every value of the small
    factor gives the exact product (a plain LIA solver decides it)."""
    from engines import clock_domain

    d = clock_domain()
    node = next(n for name, n, _t in d.tools["probe"].lets if name == "small_big")
    assert node.small == ("left", -7, 9)
    w = World(d, Symbols(d))
    w.add_object("s1", "slot", {})
    term = w.enc(node, {"slot": w.obj("s1")})
    assert not any(isinstance(x, z3.ArithRef) and x.decl().kind() == z3.Z3_OP_MUL
                   and all(not z3.is_int_value(c) for c in x.children())
                   for x in _subterms(term)), "a product of two variables reached Z3"
    units, big = w.state[("s1", "units")], w.state[("s1", "big")]
    for u in (-7, -1, 0, 5, 9):
        w.solver.push()
        w.add(units == u)
        w.add(big == -99_999)
        assert w.solver.check() == z3.sat
        assert w.solver.model().eval(term).as_long() == u * -99_999
        w.solver.pop()


def _subterms(t):
    seen, stack = set(), [t]
    while stack:
        x = stack.pop()
        if x.get_id() in seen:
            continue
        seen.add(x.get_id())
        yield x
        stack.extend(x.children())


# ---------------------------------------------------------------- witnesses of counting quantifiers

def _count_refusals(domain, goal: str, max_len: int = 2):
    from envsynth.plan.planner import Planner

    j = next(i for i, r in enumerate(domain.tools[goal].requires, 1) if r.src.startswith("count("))
    walks = [w for w in Planner(domain).goal_walks(goal, max_len, refusal=True) if w.steps[-1].refuse == j]
    assert walks, f"the planner plans no refusal of {goal}'s count"
    return walks, domain.tools[goal].requires[j - 1]


def test_witness_demand_follows_the_bound():
    """How many records a count needs, read from its comparison and whether it must hold."""
    from envsynth.spec.grammar import parse_expr
    from envsynth.state.witnesses import CAP, demands

    d = load_domain("itsm")
    tool = d.tools["assign_to_me"]
    count = tool.requires[-1].expr  # count(...) < 5, typed
    assert [k for _q, k in demands(count, False)] == [5]  # refused: five in progress
    assert [k for _q, k in demands(count, True)] == []  # holds with none at all
    neg = parse_expr("not (x < 5)")
    neg.operand.left = count.left  # not (count < 5), which must hold: five again
    assert [k for _q, k in demands(neg, True)] == [5]
    # and the spec-level report: none of the shipped counts needs more than the cap
    from envsynth.state.witnesses import over_cap
    assert CAP >= 5 and not over_cap(d)


def test_a_refused_count_gets_as_many_witnesses_as_its_bound():
    """itsm's "at most 5 incidents in progress": refusing it needs five in progress for the agent,
    in the database the solver builds, and the runtime refuses the request for that rule."""
    d = load_domain("itsm")
    for goal in ("assign_to_me", "reassign_incident"):
        walks, req = _count_refusals(d, goal)
        built = 0
        for i, w in enumerate(walks[:6]):
            sc = synthesize(d, w, i)
            step = w.steps[-1]
            holder = sc.ids[w.actor if goal == "assign_to_me" else step.binds["new_assignee"]]
            busy = [r for r in sc.initial_db["incident"].values()
                    if r["assignee"] == holder and r["status"] == "in_progress"]
            assert len(busy) >= 5, (goal, busy)
            assert sc.outputs[-1] == f"Error: {req.error}"
            assert sc.replay.refused == 1
            built += 1
        assert built


def test_one_witness_per_count_cannot_build_the_refusal(monkeypatch):
    """The planted bug: one witness per quantifier (as before) - no database reaches five."""
    import envsynth.state.witnesses as W

    d = load_domain("itsm")
    walks, _req = _count_refusals(d, "assign_to_me")
    monkeypatch.setattr(W, "CAP", 1)
    with pytest.raises(Infeasible):
        synthesize(d, walks[0], 0)


def test_witnesses_of_one_count_are_present_in_order():
    """Symmetry breaking: the i+1-th witness of a count only with the i-th."""
    from envsynth.state.solve import solve_walk as _solve

    d = load_domain("itsm")
    walks, _req = _count_refusals(d, "assign_to_me")
    plan, model, _rec = _solve(d, walks[0], random.Random(0), SynthOptions(), Symbols(d))
    w = plan.world
    assert len(plan.witnesses) >= 5
    first, second = plan.witnesses[:2]
    assert w.solver.check(w.presence(second), z3.Not(w.presence(first))) == z3.unsat
    present = [z3.is_true(model.eval(w.presence(o), model_completion=True)) for o in plan.witnesses]
    assert present == sorted(present, reverse=True)  # a prefix of them


def test_a_transfer_to_the_same_account_is_built_as_a_refusal():
    """distinct(source, target) in Z3: the walk that names one account twice solves into a task
    whose request the runtime refuses for that rule (and replay agrees with the model)."""
    from envsynth.plan.planner import Planner

    d = load_domain("banking")
    rule = next(r for r in d.tools["transfer_money"].requires if r.src.startswith("distinct("))
    walks = [w for w in Planner(d).goal_walks("transfer_money", 2, refusal=True)
             if w.steps[-1].binds["source"] == w.steps[-1].binds["target"]]
    assert walks
    for i, w in enumerate(walks[:4]):
        sc = synthesize(d, w, i)
        assert sc.outputs[-1] == f"Error: {rule.error}"
        assert sc.replay.refused == 1
