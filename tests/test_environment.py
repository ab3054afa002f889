"""Playing a task: scoring like tau2-bench (final state x answers), independent of the solvers."""

import json

from envsynth.play.environment import Environment


def test_oracle_scores_one_and_noop_zero(airline, airline_tasks):
    for task in airline_tasks:
        env = Environment(airline, task)
        for a in task.gold_actions:
            assert not env.call(a.name, a.arguments).startswith("Error")
        for ans in task.expected.answers:
            env.say(f"It is {ans.value}.")
        assert env.score().reward == 1.0
        assert Environment(airline, task).score().reward == 0.0


def test_answers_must_be_communicated(airline, airline_tasks):
    task = next(t for t in airline_tasks if t.expected.answers)
    env = Environment(airline, task)
    for a in task.gold_actions:
        env.call(a.name, json.dumps(a.arguments))  # arguments as a JSON string, like OpenAI calls
    s = env.score()
    assert s.db_match and not s.answers_communicated and s.reward == 0.0
    env.say("I'm not sure.")
    assert env.score().reward == 0.0
    env.say(task.expected.answers[0].accept[-1].upper())
    assert env.score().reward == 1.0


def test_bad_calls_are_reported_to_the_agent(airline, airline_tasks):
    env = Environment(airline, airline_tasks[0])
    before = env.runtime.hash()
    assert env.call("book_reservation", "{not json").startswith("Error: arguments are not valid JSON")
    assert env.call("nope", {}).startswith("Error: unknown tool")
    assert env.runtime.hash() == before
    assert env.score().failed_calls == 2


def test_a_wrong_write_scores_zero(airline, airline_tasks):
    """Repeating a write that goes through again changes the state twice: not what was asked."""
    repeated = 0
    for task in airline_tasks:
        if not task.expected.changes:
            continue
        env = Environment(airline, task)
        for a in task.gold_actions:
            env.call(a.name, a.arguments)
        last = task.gold_actions[-1]
        if not env.call(last.name, last.arguments).startswith("Error"):
            repeated += 1
            assert env.score().reward == 0.0
    assert repeated > 0
