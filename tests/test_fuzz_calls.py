"""Hostile tool calls never break the environment (envsynth.fuzz): no exception escapes
`Environment.call`, every answer is text, a refused call changes nothing (id counters included),
accepted calls keep to the declared bounds and leave valid records, every episode can be
scored. The planted-bug tests at the end show that each of these checks can fail."""

from __future__ import annotations

from functools import lru_cache

import pytest

from envsynth.spec import types as T
from envsynth.spec.model import Domain
from envsynth.play.environment import Environment
from envsynth.play.fuzz import DEEP_LIST, HUGE_INT, LONG_TEXT, FuzzReport, fuzz_tasks, safe_repr
from envsynth.generate import generate_tasks
from envsynth.spec.loader import load_domain
from envsynth.tasks.model import Task

DOMAINS = ["airline", "retail", "hr", "itsm", "calendar", "banking"]
N_TASKS, CALLS, SEED = 3, 30, 11


@lru_cache(maxsize=None)
def tasks_of(name: str) -> tuple[Domain, list[Task]]:
    """Generated once per test session (generation is the slow part)."""
    domain = load_domain(name)
    return domain, generate_tasks(domain, N_TASKS, seed=SEED)


@pytest.fixture(scope="module", params=DOMAINS)
def report(request) -> FuzzReport:
    domain, tasks = tasks_of(request.param)
    return fuzz_tasks(domain, tasks, CALLS, SEED)


def assert_none(report: FuzzReport, category: str) -> None:
    n = report.counts[category]
    shown = "\n".join(str(f) for f in report.first(category, 5))
    assert n == 0, f"{n} '{category}' findings in {report.domain}; first ones:\n{shown}"


# ----------------------------------------------------------------------------- the shipped domains


def test_fuzzer_plays_refused_and_accepted_calls(report):
    assert report.tasks == N_TASKS and report.calls >= N_TASKS * CALLS
    assert report.refused > 0 and report.accepted > 0
    assert report.gold_checks > 0


def test_no_exception_escapes_environment_call(report):
    assert_none(report, "exception")


def test_every_answer_is_text(report):
    assert_none(report, "not_text")


def test_refused_calls_change_nothing(report):
    assert_none(report, "changed_after_error")


def test_accepted_calls_keep_to_declared_types_and_bounds(report):
    assert_none(report, "out_of_bounds_accepted")


def test_writes_leave_every_record_valid(report):
    assert_none(report, "bad_record_after_write")


def test_episode_can_be_scored_after_hostile_calls(report):
    assert_none(report, "score_raises")


def test_failed_calls_do_not_shift_what_gold_actions_produce(report):
    assert_none(report, "gold_broken_by_errors")


def test_fuzzer_checks_themselves_run(report):
    assert_none(report, "checker_error")


def test_fuzzing_is_deterministic_for_a_seed(monkeypatch):
    domain, tasks = tasks_of("banking")
    original, seen = Environment.call, []

    def call(self, name, arguments=None):
        seen.append(safe_repr((name, arguments)))
        return original(self, name, arguments)

    monkeypatch.setattr(Environment, "call", call)
    runs = []
    for _ in range(2):
        seen.clear()
        r = fuzz_tasks(domain, tasks, 20, SEED)
        runs.append((list(seen), r.calls, r.refused, r.findings))
    assert runs[0] == runs[1]
    assert fuzz_tasks(domain, tasks, 20, SEED + 1).calls > 0


def test_safe_repr_survives_values_repr_cannot_print():
    for value in (HUGE_INT, -HUGE_INT, DEEP_LIST, LONG_TEXT, {"a": [DEEP_LIST, HUGE_INT]}, "\ud800"):
        text = safe_repr(value)
        assert len(text) < 400
        text.encode("utf-8")  # printable: lone surrogates are escaped


# ----------------------------------------------------------------------------- planted bugs


def fuzz_with(monkeypatch, after, when_error: bool | None = None,
              source: tuple[Domain, list[Task]] | None = None) -> FuzzReport:
    """Fuzz (banking, unless `source` says) with `Environment.call` wrapped: `after(env, name,
    arguments, answer)` may return a replacement answer or raise; it runs after refused calls
    only (when_error=True), after accepted calls only (False), or after all (None)."""
    original = Environment.call

    def call(self, name, arguments=None):
        answer = original(self, name, arguments)
        if when_error is None or answer.startswith("Error:") == when_error:
            replaced = after(self, name, arguments, answer)
            return answer if replaced is None else replaced
        return answer

    monkeypatch.setattr(Environment, "call", call)
    domain, tasks = source or tasks_of("banking")
    return fuzz_tasks(domain, tasks, 40, SEED)


def assert_reported(report: FuzzReport, category: str, needle: str = "") -> None:
    assert report.counts[category] > 0, f"planted bug not reported as {category}: {dict(report.counts)}"
    if needle:
        assert any(needle in f.detail for f in report.findings if f.category == category)


def test_planted_exception_is_reported(monkeypatch):
    def raise_on_text_arguments(env, name, arguments, answer):
        if not isinstance(arguments, dict):
            raise KeyError("planted")

    assert_reported(fuzz_with(monkeypatch, raise_on_text_arguments), "exception", "planted")


def test_planted_non_text_answer_is_reported(monkeypatch):
    def answer_a_dict(env, name, arguments, answer):
        return {"answer": answer} if not isinstance(arguments, dict) else None

    assert_reported(fuzz_with(monkeypatch, answer_a_dict), "not_text")


def test_planted_id_counter_moved_by_refused_call_is_reported(monkeypatch):
    """The classic: a refused call plans a record, takes an id, then fails - later ids shift."""
    def bump_counters(env, name, arguments, answer):
        for entity in env.runtime.created:
            env.runtime.created[entity] += 1

    creating = [(domain, [t for t in tasks if any(domain.tools[g.name].created() for g in t.gold_actions)])
                for domain, tasks in map(tasks_of, DOMAINS)]
    source = max(creating, key=lambda x: len(x[1]))  # tasks whose gold actions create records
    r = fuzz_with(monkeypatch, bump_counters, when_error=True, source=source)
    assert_reported(r, "changed_after_error", "id counters moved")
    assert_reported(r, "gold_broken_by_errors", "id counters moved")


def test_planted_write_by_refused_call_is_reported(monkeypatch):
    def touch_a_record(env, name, arguments, answer):
        table = next(t for t in env.runtime.db.values() if t)
        next(iter(table.values()))["touched"] = len(env.runtime.log)

    assert_reported(fuzz_with(monkeypatch, touch_a_record, when_error=True), "changed_after_error",
                    "database changed")


def test_planted_acceptance_of_bad_arguments_is_reported(monkeypatch):
    r = fuzz_with(monkeypatch, lambda env, name, arguments, answer: "{}", when_error=True)
    for needle in ("is not a", "missing argument", "unknown tool"):
        assert_reported(r, "out_of_bounds_accepted", needle)


def _set_balance_below_min(db: dict) -> None:
    account = next(iter(db["account"].values()))
    account["balance"] = -0.01


def _dangle_a_ref(db: dict) -> None:
    next(iter(db["card"].values()))["account"] = "00000000-missing"


def _duplicate_an_email(db: dict) -> None:
    first, second = list(db["customer"].values())[:2]
    second["email"] = first["email"]


def _break_joint_invariant(db: dict) -> None:
    account = next(iter(db["account"].values()))
    account["joint"] = not account["joint"]


@pytest.mark.parametrize("corrupt, needle", [
    (_set_balance_below_min, "outside [0, 100000]"),
    (_dangle_a_ref, "points to a missing account"),
    (_duplicate_an_email, "duplicates customer"),
    (_break_joint_invariant, "breaks the invariant"),
])
def test_planted_bad_record_after_write_is_reported(monkeypatch, corrupt, needle):
    def write_garbage(env, name, arguments, answer):
        corrupt(env.runtime.db)

    r = fuzz_with(monkeypatch, write_garbage, when_error=False)
    assert_reported(r, "bad_record_after_write", needle)


def test_planted_failing_score_is_reported(monkeypatch):
    def score(self):
        raise ZeroDivisionError("planted")

    monkeypatch.setattr(Environment, "score", score)
    domain, tasks = tasks_of("banking")
    assert_reported(fuzz_tasks(domain, tasks, 5, SEED, gold_check=False), "score_raises", "planted")


def test_value_checks_follow_the_declared_bounds():
    """The out-of-bounds judge itself: bounds in JSON form, booleans are no numbers."""
    from envsynth.play.fuzz import value_problem

    money = T.VType("money", places=2, lo=500, hi=2_000_000)
    assert value_problem(money, 5) is None and value_problem(money, 20000) is None
    for bad in (4.99, 20000.01, True, float("inf"), "NaN", HUGE_INT, DEEP_LIST):
        assert value_problem(money, bad), bad
