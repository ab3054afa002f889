"""Conditional workflows: "book HA1234; if it is full, the earliest flight that day instead".

The planner continues a refused request with the user's fallback (plan/conditional.py, conditional
mode in encoding.lp); the instruction says both options; verify checks the refused branch, and the
other branch - the same instruction where the first option succeeds (tasks/branches.py) - whose
gold is the first option and where taking the fallback scores 0. Planted bugs show each check bites.
"""

from __future__ import annotations

import random

import pytest

from envsynth.generate import generate_tasks
from envsynth.play.environment import Environment
from envsynth.plan.conditional import continue_with_fallback, fallback_rule
from envsynth.plan.planner import Checker, Planner
from envsynth.spec.loader import load_domain
from envsynth.tasks.branches import other_branch
from envsynth.tasks.difficulty import profile
from envsynth.verify import check_task


@pytest.fixture(scope="module")
def air_tasks(airline):
    return generate_tasks(airline, 3, seed=5, difficulty="conditionals=1-")


def _conditional_walk(domain, seed=0):
    planner = Planner(domain)
    for goal in planner.goals():
        for w in planner.goal_walks(goal, 4, refusal=True):
            if fallback_rule(domain, w) is not None:
                c = continue_with_fallback(domain, w, random.Random(seed), planner)
                if c is not None:
                    return c
    raise AssertionError("no conditional walk")


def test_planner_continues_a_refused_request_with_its_fallback(airline, retail):
    for domain, fallback in ((airline, "book_reservation"), (retail, "return_item")):
        w = _conditional_walk(domain)
        k = w.conditionals()
        assert len(k) == 1 and w.steps[k[0]].refuse is not None and k[0] < len(w.steps) - 1
        assert w.steps[-1].tool == fallback and w.steps[-1].refuse is None
        assert Checker(domain).accepts(w)


def test_checker_refuses_a_refused_step_mid_walk_without_a_declared_fallback(airline, retail):
    import copy

    w = _conditional_walk(airline)
    k = w.conditionals()[0]
    # an ordinary walk keeps its meaning: a refused request before the last step is no plan
    plain = w.model_copy(deep=True)
    plain.steps[k].conditional = False
    assert not Checker(airline).accepts(plain)
    # the fallback must be a tool the rule names
    other = copy.deepcopy(airline)
    req = other.tools["book_reservation"].requires[w.steps[k].refuse - 1]
    req.fallback_then = ("cancel_reservation",)
    assert not Checker(other).accepts(w)


def test_a_fallback_of_another_tool_acts_on_the_refused_record(retail):
    """'Exchange it; if that is out of stock, return it': the return is of the same item, for every
    continuation the planner draws."""
    planner = Planner(retail)
    refused = [w for g in planner.goals() for w in planner.goal_walks(g, 4, refusal=True) if fallback_rule(retail, w)]
    for seed in range(12):
        w = continue_with_fallback(retail, refused[seed % len(refused)], random.Random(seed), planner)
        k = w.conditionals()[0]
        assert w.steps[-1].binds["item"] == w.steps[k].binds["item"], w.describe()


def test_conditional_tasks_render_both_options_and_verify(airline, air_tasks):
    for t in air_tasks:
        assert profile(t)["conditionals"] == 1
        k = t.certificate.walk.conditionals()[0]
        refusal = next(r for r in t.expected.refusals if r.step == k + 1)
        assert refusal.tool == "book_reservation" and "seats" in refusal.requirement
        assert t.gold_actions[-1].name == "book_reservation"
        assert any(w in t.instruction for w in ("If there are no", "In case that cabin", "sold out"))
        assert check_task(airline, t).ok, check_task(airline, t).problems


def test_other_branch_has_the_first_option_as_gold(airline, air_tasks):
    for t in air_tasks:
        b = other_branch(airline, t)
        assert b is not None and b.instruction == t.instruction
        k = t.certificate.walk.conditionals()[0]
        first = next(r for r in t.expected.refusals if r.step == k + 1)
        assert (b.gold_actions[-1].name, b.gold_actions[-1].arguments) == (first.tool, first.arguments)
        assert check_task(airline, b).ok, check_task(airline, b).problems
        # an agent that goes straight to the fallback is wrong in this world
        env = Environment(airline, b)
        for g in t.gold_actions:
            env.call(g.name, g.arguments)
        for a in t.expected.answers:
            env.say(a.value)
        assert env.score().reward == 0.0


def test_skipping_the_check_scores_nothing(airline, air_tasks):
    """The refused branch: the fallback's final state is right, but an agent that never tried the
    first option nor looked at its records cannot know why it was not done - it scores 0."""
    for t in air_tasks:
        k = t.certificate.walk.conditionals()[0]
        first = next(r for r in t.expected.refusals if r.step == k + 1)
        env = Environment(airline, t)
        for g in t.gold_actions:
            env.call(g.name, g.arguments)
        env.say(f"I could not do it: {first.error}.")
        flight = first.arguments["flight_id"]
        shown = any(flight in str(c.output) or flight in str(c.arguments) for c in env.calls)
        assert env.score().reward == (1.0 if shown else 0.0)


def test_planted_fallback_taken_when_the_first_option_succeeds(airline, air_tasks):
    """Planted bug: the world lets the first option through, yet the task takes the fallback."""
    t = air_tasks[0]
    b = other_branch(airline, t)
    bad = t.model_copy(update={"initial_db": b.initial_db})
    problems = check_task(airline, bad).problems
    assert any("would succeed: it is not a refusal" in p for p in problems), problems


def test_planted_conditional_without_a_fallback_rule(airline, air_tasks):
    """Planted bug: a step marked conditional whose refusal is for a rule without a fallback, or whose
    next request is not the allowed fallback."""
    t = air_tasks[0]
    k = t.certificate.walk.conditionals()[0]
    walk = t.certificate.walk.model_copy(deep=True)
    walk.steps[k].conditional = False
    walk.steps[0 if k else 1].conditional = True
    bad = t.model_copy(update={"certificate": t.certificate.model_copy(update={"walk": walk})})
    assert any("marked conditional" in p for p in check_task(airline, bad).problems)


def test_planted_branch_repair_that_changes_nothing(airline, air_tasks, monkeypatch):
    """Planted bug: the other branch's world is the refused world itself - verify says so."""
    import envsynth.tasks.branches as B

    t = air_tasks[0]
    monkeypatch.setattr(B, "_candidates", lambda domain, entity, field, current: [current])
    assert other_branch(airline, t) is None
    assert any("no world found in which the first option succeeds" in p for p in check_task(airline, t).problems)


def test_spec_errors_for_fallbacks(tmp_path):
    from envsynth.errors import SpecErrors
    from envsynth.spec.loader import load_domain as load

    text = open(load_domain("airline").source, encoding="utf-8").read()
    bad = text.replace("fallback: {when: full, then: [book_reservation]}", "fallback: {when: full, then: [book_reservaton]}")
    p = tmp_path / "airline.yaml"
    p.write_text(bad, encoding="utf-8")
    with pytest.raises(SpecErrors) as e:
        load(p)
    msg = str(e.value)
    assert "not a tool" in msg and "did you mean 'book_reservation'" in msg and "airline.yaml:" in msg
    p.write_text(text.replace("fallback: {when: full, then: [book_reservation]}", "fallback: {when: full, then: [search_flights]}"),
                 encoding="utf-8")
    with pytest.raises(SpecErrors) as e:
        load(p)
    assert "cannot end a request" in str(e.value)


def test_ordinary_runs_are_unchanged(airline):
    """No conditional draw is made unless asked for: the options' public form and the walks stay."""
    from envsynth.generate import GenerateOptions

    assert "conditionals" not in GenerateOptions().public()
    assert GenerateOptions(difficulty="conditionals=1-").conditionals == 1.0
    w = _conditional_walk(airline)
    plain = w.model_copy(deep=True)
    for s in plain.steps:
        s.conditional = False
    assert "conditional" not in str(plain.model_dump())
