"""Long walks chained from intents that share records, length mixes beyond the enumerated
bound, and the difficulty profile."""

import random

import pytest

from envsynth.coverage import walk_edges
from envsynth.errors import EnvsynthError
from envsynth.generate import GenerateOptions, Generator, generate, generate_tasks
from envsynth.plan.chain import ChainBuilder, WideChecker
from envsynth.plan.merge import merge, shared_records
from envsynth.plan.planner import Checker, Planner
from envsynth.tasks.difficulty import DifficultyTarget, bucket, parse_length_mix, profile
from envsynth.verify import check_task, verify_dir


@pytest.fixture(scope="module")
def pool(airline):
    planner = Planner(airline)
    return [w for g in planner.goals() for w in planner.goal_walks(g, 3)]


@pytest.fixture(scope="module")
def builder(airline, pool):
    return ChainBuilder(airline, pool)


def test_chained_walks_have_the_length_asked_and_are_plans(airline, builder):
    exact = Checker(airline)  # the planner's own checker, not the one the builder uses
    built = [builder.build(n, random.Random(n * 10 + k)) for n in (8, 12) for k in range(2)]
    assert all(w is not None for w in built)
    assert [len(w.steps) for w in built] == [8, 8, 12, 12]
    for w in built:
        assert exact.accepts(w)
        assert len(w.goal_steps(airline)) >= 3
    # later intents act on what earlier ones created: a step binds a record an earlier step made
    chained = 0
    for w in built:
        made: set = set()
        for s in w.steps:
            chained += bool(set(s.binds.values()) & made - set(s.creates.values()))
            made |= set(s.creates.values())
    assert chained >= len(built)


def test_chaining_is_deterministic_given_the_rng(airline, pool, builder):
    fresh = ChainBuilder(airline, pool)  # no cached checks: same walks
    for seed in (3, 4):
        a, b = builder.build(10, random.Random(seed)), fresh.build(10, random.Random(seed))
        assert a is not None and a.key() == b.key()


def test_prefer_shared_chains_through_a_created_record(airline, pool):
    book = next(w for w in pool if w.tool_sequence() == ("get_reservation_details", "book_reservation"))
    cancel = next(w for w in pool if w.tool_sequence() == ("cancel_reservation",))
    rank = shared_records(airline, book)
    assert rank[next(iter(book.steps[1].creates.values()))] == 0  # created: first choice
    for seed in range(5):
        m = merge(airline, book, cancel, random.Random(seed), prefer_shared=True)
        assert m is not None
        assert m.steps[-1].binds["reservation"] == m.steps[1].creates["reservation"]  # cancels the booking just made


def test_wide_checker_decides_like_the_checker(airline, pool):
    """The wide programs (every tool, rounded-up slots, no goal bound) must accept exactly the
    walks the per-shape programs accept: sample merges, some accepted and some not."""
    exact, wide = Checker(airline), WideChecker(airline)
    rng = random.Random(5)
    seen = {True: 0, False: 0}
    for _ in range(40):
        m = pool[rng.randrange(len(pool))]
        for _k in range(rng.randint(1, 3)):
            m2 = merge(airline, m, pool[rng.randrange(len(pool))], rng, prefer_shared=rng.random() < 0.5)
            m = m2 or m
        ok = exact.accepts(m)
        assert wide.accepts(m) == ok, m.describe()
        seen[ok] += 1
    assert seen[True] >= 5 and seen[False] >= 5
    assert len(wide._controls) < len(exact._controls)


def test_length_mix_beyond_the_bound_makes_long_verified_tasks(tmp_path):
    out = tmp_path / "long"
    generate("airline", out, GenerateOptions(n=4, seed=2, max_len=3, length_mix={2: 1.0, 9: 1.0}))
    lines = (out / "tasks.jsonl").read_text().splitlines()
    import json

    lengths = sorted(json.loads(x)["difficulty"]["length"] for x in lines)
    assert 9 in lengths and 2 in lengths
    checks = verify_dir(out)  # with the second engine
    assert len(checks) == 4 and all(c.ok for c in checks), [c.problems for c in checks if not c.ok]


def test_length_mix_ranges_share_their_weight():
    assert parse_length_mix("2:1,10-13:2") == {2: 1.0, 10: 0.5, 11: 0.5, 12: 0.5, 13: 0.5}
    for bad in ("2", "a:1", "5-3:1", "2:x"):
        with pytest.raises(EnvsynthError, match="--length-mix"):
            parse_length_mix(bad)


def test_buckets_are_named_by_their_range():
    asked = [2, 5, 10, 15]
    assert [bucket(n, asked) for n in (1, 2, 4, 5, 9, 10, 14, 15, 20)] == \
        ["1", "2-4", "2-4", "5-9", "5-9", "10-14", "10-14", "15+", "15+"]
    assert bucket(3, [3]) == "3" and bucket(4, [3]) == "3+"


def test_difficulty_targets():
    t = DifficultyTarget.parse("hard,compared=4-")
    assert t.bounds["length"] == (8, 12) and t.bounds["compared"] == (4, None)
    assert t.text() == "compared=4-,intents=3-,length=8-12,near_misses=1-"
    assert DifficultyTarget.parse(t.text()) == t
    on = {"length": 9, "intents": 3, "compared": 5, "near_misses": 1, "conditionals": 0}
    assert t.misses(on) is None
    assert "length 13" in t.misses({**on, "length": 13})
    assert "near_misses 0" in t.misses({**on, "near_misses": 0})
    assert DifficultyTarget.parse("intents=2").bounds == {"intents": (2, 2)}
    assert t.length_mix() == {n: 1.0 for n in range(8, 13)}
    for bad in ("brutal", "length=x", "length=5-2", "depth=3", "length="):
        with pytest.raises(EnvsynthError, match="--difficulty"):
            DifficultyTarget.parse(bad)


def test_generate_keeps_to_the_profile(airline):
    tasks = generate_tasks(airline, n=6, seed=4, difficulty="length=2-3,near_misses=1-")
    for t in tasks:
        p = profile(t)
        assert 2 <= p["length"] <= 3 and p["near_misses"] >= 1
        assert p["compared"] == sum(s.fit_stated for s in t.certificate.selections)
        assert check_task(airline, t).ok


def test_default_options_record_no_profile():
    """Runs without --difficulty keep the manifest (and fingerprint) they always had."""
    assert "difficulty" not in GenerateOptions().public()
    opts = GenerateOptions(difficulty="medium")
    assert opts.public()["difficulty"] == "length=4-7" and opts.length_mix == {n: 1.0 for n in range(4, 8)}
    assert GenerateOptions.from_public(opts.public()) == opts


def test_long_walks_reach_edges_no_short_walk_does(airline, pool, builder):
    short = set().union(*(walk_edges(airline, w) for w in pool))
    long_edges = set()
    built = [w for w in (builder.build(12, random.Random(100 + k)) for k in range(6)) if w is not None]
    assert len(built) >= 3  # a start may find no extension that the planner accepts: None, tried again
    for w in built:
        long_edges |= walk_edges(airline, w)
    assert long_edges - short
