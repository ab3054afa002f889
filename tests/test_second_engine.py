"""verify's second engine (SQL on SQLite) - independent of the generator, and able to fail.

What each test can catch:
- the agreement test: the SQL compiler or the runtime misreading a construct of a shipped spec
  (they disagree on some description or precondition of a real dataset);
- the differential test: the same, off the gold path - random calls with random records and
  values, where most preconditions fail (the gold only exercises the passing side);
- the planted-bug tests: a bug in the one meaning the generator's back-ends share (descriptions,
  comparison operators) yields tasks that pass every first-engine check - they read the spec
  through the same code - and only the second engine rejects them.
- the layout test: the second engine importing generator code (then it would share its bugs).
"""

from __future__ import annotations

import ast
import operator
import random
from pathlib import Path

import pytest

import envsynth.spec.meaning as meaning
from envsynth import sqlcheck
from envsynth.generate import generate_tasks
from envsynth.runtime import references as R
from envsynth.runtime.execute import Runtime
from envsynth.spec import types as T
from envsynth.spec import walker
from envsynth.spec.loader import load_domain
from envsynth.verify import check_task

ROOT = Path(__file__).resolve().parent.parent


def test_second_engine_imports_nothing_of_the_generator():
    """Only the parsed spec (model, expression tree, walker dispatch, value types) may be shared."""
    tree = ast.parse((ROOT / "solver" / "sqlcheck.py").read_text(encoding="utf-8"))
    allowed = {"spec", "spec.grammar", "spec.model", "spec.walker", "spec.types", ""}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            assert (node.module or "") in allowed, f"sqlcheck imports {node.module} (line {node.lineno})"


@pytest.mark.regeneration
@pytest.mark.parametrize("name", ["airline", "calendar", "banking"])
def test_sql_agrees_with_every_certificate(name):
    domain = load_domain(name)
    descriptions = requirements = 0
    for task in generate_tasks(domain, n=25, seed=21, refusals=0.3, multi_intent=0.3):
        result = check_task(domain, task)
        assert result.ok, (task.id, result.problems)
        descriptions += result.sql_descriptions
        requirements += result.sql_requirements
    assert descriptions > 5 and requirements > 25


@pytest.mark.parametrize("name", ["airline", "retail", "hr", "itsm", "calendar", "banking"])
def test_sql_and_runtime_agree_off_the_gold_path(name):
    """Random calls on generated databases: SQLite's verdict on every precondition is the
    runtime's (which one fails first, or none), and every reference resolves to the same record."""
    domain = load_domain(name)
    rng = random.Random(f"differential/{name}")
    compared = resolved = 0
    for task in generate_tasks(domain, n=4, seed=5):
        db = task.initial_db
        base = sqlcheck.Database(domain, db)
        actor = task.certificate.actor
        for tool in domain.tools.values():
            for _ in range(12):
                args = {}
                for a in tool.args.values():
                    if a.is_ref:
                        pool = sorted(db.get(a.type.entity, {}))
                        args[a.name] = rng.choice(pool) if pool else "missing"
                    elif a.type.kind == "str" and not a.type.values:
                        args[a.name] = rng.choice(["a note", "Dana Reyes"])  # free text
                    else:
                        args[a.name] = T.encode(a.type, T.sample(a.type, rng))
                out = Runtime(domain, db, actor).call(tool.name, args)
                holds = sqlcheck.requirements(domain, base, tool, args, actor)
                first = next((r.error for r, ok in zip(tool.requires, holds) if not ok), None)
                runtime_first = out.output[len("Error: "):] if not out.ok else None
                if runtime_first is not None and not any(runtime_first == r.error for r in tool.requires):
                    continue  # refused before the preconditions (a bad value, a missing record)
                assert first == runtime_first, (tool.name, args, first, runtime_first)
                compared += 1
        for ent in domain.entities.values():
            for ref in ent.refs.values():
                if ref.by_id:
                    continue
                for rid in sorted(db.get(ent.name, {}))[:6]:
                    stated = R.stated_values(domain, ref, db, rid)
                    got = sqlcheck.resolve(domain, base, ref, stated, actor)
                    assert got.target == R.resolve(domain, ref, db, stated, actor), (ref.name, rid)
                    resolved += 1
        base.close()
    assert compared > 20 and resolved > 0


def _flip_rank(real):
    def planted(domain, ref):
        d = real(domain, ref)
        if d.rank is None:
            return d
        op = ">" if d.rank.op == "<" else "<"
        return meaning.Description(d.ref, d.record, d.parts, meaning.E.Compare(op, d.rank.left, d.rank.right,
                                                                                type=d.rank.type), d.rank_path)
    return planted


def test_planted_rank_bug_is_caught_only_by_the_second_engine(monkeypatch):
    """'The cheapest' read as 'the dearest' in the one meaning every generator back-end shares."""
    monkeypatch.setattr(meaning, "_describe", _flip_rank(meaning._describe))
    domain = load_domain("airline")  # a fresh load: descriptions are cached on the references
    tasks = [t for t in generate_tasks(domain, n=30, seed=4)
             if any(s.rank and s.fits > 1 for s in t.certificate.selections)]  # the rank decides
    assert tasks, "the planted bug should still let tasks with a ranked description through"
    for task in tasks:
        assert check_task(domain, task, second_engine=False).ok  # the first engine shares the bug
        problems = check_task(domain, task).problems
        assert any(p.startswith("second engine:") and "picks" in p for p in problems), problems


def test_planted_condition_bug_is_caught_only_by_the_second_engine(monkeypatch):
    """A description's fixed condition (`where`) dropped from the shared meaning."""
    real = meaning._describe

    def planted(domain, ref):
        d = real(domain, ref)
        return meaning.Description(d.ref, d.record, tuple(p for p in d.parts if p.kind != "where"), d.rank, d.rank_path)

    monkeypatch.setattr(meaning, "_describe", planted)
    domain = load_domain("airline")
    caught = 0
    for task in generate_tasks(domain, n=40, seed=8):
        if not any(s.where for s in task.certificate.selections):
            continue
        assert check_task(domain, task, second_engine=False).ok
        problems = check_task(domain, task).problems
        caught += any(p.startswith("second engine:") for p in problems)
    assert caught > 0


def test_planted_operator_bug_is_caught_by_the_second_engine(monkeypatch):
    """`>=` read as `>` by both the runtime and Z3 (they share the operator table): gold calls
    that sit exactly on a boundary break the spec's rule as written, and SQL says so."""
    monkeypatch.setitem(walker.COMPARE, ">=", operator.gt)
    monkeypatch.setitem(walker.COMPARE, "<=", operator.lt)
    caught = checked = 0
    for name in ("airline", "banking", "calendar"):
        domain = load_domain(name)
        for task in generate_tasks(domain, n=25, seed=2):
            checked += 1
            problems = check_task(domain, task).problems
            caught += any(p.startswith("second engine:") for p in problems)
    assert checked and caught > 0


@pytest.mark.parametrize("name", ["itsm", "hr"])
def test_sql_and_runtime_agree_on_empty_links(name):
    """Every record of generated itsm and hr databases against every invariant, several about
    empty links (`status != "new" or assignee == null`): SQLite and the runtime find the same
    records breaking each, on the databases and on copies with links emptied and filled at random.
    Catches the SQL of `null` drifting (planted: compiling it as '' - a new incident with no
    assignee then breaks its invariant in SQL only)."""
    domain = load_domain(name)
    rng = random.Random(f"nulls/{name}")
    compared = empties = 0
    for task in generate_tasks(domain, n=3, seed=3):
        for trial in range(4):
            db = {e: {i: dict(r) for i, r in t.items()} for e, t in task.initial_db.items()}
            if trial:
                for ent in domain.entities.values():
                    for f in ent.ref_fields():
                        if f.nullable:
                            pool = sorted(db[f.type.entity])
                            for r in db[ent.name].values():
                                r[f.name] = None if rng.random() < 0.5 else rng.choice(pool)
            empties += sum(r[f.name] is None for ent in domain.entities.values() for f in ent.ref_fields()
                           if f.nullable for r in db[ent.name].values())
            base = sqlcheck.Database(domain, db)
            ev = Runtime(domain, db).ev
            for ent in domain.entities.values():
                for node, src in ent.invariants:
                    runtime = sorted(rid for rid in db[ent.name]
                                     if not ev.eval(node, {ent.name: R.Ref(ent.name, rid)}))
                    assert sqlcheck.breaking(domain, base, ent.name, node) == runtime, (src, trial)
                    compared += 1
            base.close()
    assert compared > 10 and empties > 0


def test_sql_floor_modulo_is_the_spec_s(monkeypatch):
    """SQLite's % keeps the dividend's sign (-30 % 1440 is -30); the spec's time of day wraps
    (00:30 minus an hour is 23:30). The second engine computes the spec's modulo on its own -
    and a planted plain % makes it disagree with the runtime on tests/data/clock.yaml."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from engines import clock_domain, in_python, in_sql, records

    d = clock_domain()
    lets = d.tools["probe"].lets

    def disagreements():
        return sum(in_python(d, rec, node) != in_sql(d, rec, node) for rec in records(d, 24) for _n, node, _t in lets)

    assert disagreements() == 0
    monkeypatch.setattr(sqlcheck, "_floor_mod", lambda sql, m: f"(({sql}) % {m})")
    assert disagreements() > 0


def test_second_engine_checks_invariants_of_initial_records():
    """An initial record that breaks its entity's invariant (an item priced off its variant) is
    reported by the SQL engine too, not only by the runtime's replay."""
    domain = load_domain("retail")
    task = generate_tasks(domain, n=1, seed=3)[0]
    bad = task.model_copy(deep=True)
    item = sorted(bad.initial_db["order_item"])[0]
    bad.initial_db["order_item"][item]["price"] += 1
    problems = check_task(domain, bad).problems
    assert any(p.startswith("second engine:") and item in p and "invariant 'price == variant.price'" in p
               for p in problems), problems


def _task_of(domain, walk, seed: int = 0):
    from envsynth.state.synth import synthesize
    from envsynth.tasks.derive import derive_task, tool_schemas
    from envsynth.tasks.phrases import Templates

    return derive_task(domain, synthesize(domain, walk, seed), Templates(domain), 0, tool_schemas(domain))


def _refusal_walks(domain, goal: str, prefix: str, max_len: int = 2):
    from envsynth.plan.planner import Planner

    j = next(i for i, r in enumerate(domain.tools[goal].requires, 1) if r.src.startswith(prefix))
    return [w for w in Planner(domain).goal_walks(goal, max_len, refusal=True) if w.steps[-1].refuse == j]


def test_sql_rederives_the_count_a_refusal_rests_on():
    """itsm's "at most 5 in progress" refusal: SQLite counts the agent's incidents itself. With
    one of the five put back in the queue the request would succeed, and SQL says so."""
    import copy

    domain = load_domain("itsm")
    task = _task_of(domain, _refusal_walks(domain, "assign_to_me", "count(")[0])
    result = check_task(domain, task)
    assert result.ok, result.problems
    refusal = task.expected.refusals[0]
    assert refusal.requirement.startswith("count(")
    actor = task.certificate.actor
    busy = [r for r in task.initial_db["incident"].values()
            if r["assignee"] == actor and r["status"] == "in_progress" and r["resolution_note"] == "no note"]
    broken = copy.deepcopy(task)
    broken.initial_db["incident"][busy[0]["id"]]["status"] = "new"
    from envsynth.play.environment import Environment
    from envsynth.runtime.execute import copy_db
    from envsynth.verify import second_engine_problems

    problems, _d, _r = second_engine_problems(domain, broken, [copy_db(Environment(domain, broken).runtime.db)])
    assert any("fails on nothing in SQL" in p for p in problems), problems


def test_sql_refuses_a_transfer_to_the_same_account():
    """distinct(source, target) in SQL: the banking task that asks to send money from an account
    to itself is refused for that rule by SQLite too; two accounts pass it."""
    domain = load_domain("banking")
    task = _task_of(domain, _refusal_walks(domain, "transfer_money", "distinct(")[0])
    result = check_task(domain, task)
    assert result.ok, result.problems
    tool = domain.tools["transfer_money"]
    j = next(i for i, r in enumerate(tool.requires) if r.src.startswith("distinct("))
    base = sqlcheck.Database(domain, task.initial_db)
    accounts = sorted(task.initial_db["account"])
    same = sqlcheck.requirements(domain, base, tool, {"from_account_id": accounts[0], "to_account_id": accounts[0],
                                                     "amount": "10.00"}, task.certificate.actor)
    other = sqlcheck.requirements(domain, base, tool, {"from_account_id": accounts[0], "to_account_id": accounts[1],
                                                      "amount": "10.00"}, task.certificate.actor)
    base.close()
    assert same[j] is False and other[j] is True


def test_sql_checks_the_invariants_of_the_initial_records():
    """A record no invariant allows (a witness or background record the solver got wrong) is
    reported by the second engine: here an account that sent more today than its daily limit."""
    domain = load_domain("banking")
    task = generate_tasks(domain, n=1, seed=3)[0]
    acc = sorted(task.initial_db["account"].values(), key=lambda r: r["id"])[0]
    acc["daily_limit"], acc["transferred_today"] = "500.00", "600.00"
    from envsynth.verify import second_engine_problems

    problems, _d, _r = second_engine_problems(domain, task, [task.initial_db] * (len(task.gold_actions) + 1))
    assert any(f"account {acc['id']} in the initial database breaks the invariant 'transferred_today <= daily_limit'"
               in p for p in problems), problems
