"""Every shipped domain loads, generates verified tasks (refusals included) and phrases them."""

import pytest

from envsynth.play.agents import DistractorBlind, Noop, Oracle, evaluate
from envsynth.generate import generate_tasks
from envsynth.spec.loader import load_domain
from envsynth.registry import shipped_names
from envsynth.tasks.phrases import Templates
from envsynth.verify import check_task

SHIPPED = shipped_names()


def test_six_domains_are_shipped():
    assert {"airline", "retail", "hr", "itsm", "calendar", "banking"} <= set(SHIPPED)


@pytest.mark.regeneration
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_domain_generates_verified_tasks(name):
    domain = load_domain(name)
    assert Templates(domain).missing(domain) == []
    tasks = generate_tasks(domain, n=6, seed=11, max_len=3, refusals=0.5)
    for t in tasks:
        result = check_task(domain, t)
        assert result.ok, (t.id, result.problems)
        for tool in domain.tools:
            assert tool not in t.instruction
    assert evaluate(domain, tasks, Oracle()).to_json()["mean_reward"] == 1.0
    assert evaluate(domain, tasks, Noop()).to_json()["mean_reward"] == 0.0
    blind = evaluate(domain, tasks, DistractorBlind()).to_json()["with_distractors"]
    assert blind["mean_reward"] in (None, 0.0)
    assert any(t.expected.refusals for t in tasks)
