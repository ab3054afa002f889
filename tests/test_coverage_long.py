"""Why an edge is uncovered, at the lengths a long mix asks for: every explanation is checked
against walks that exist - the planner's every walk of up to 3 steps with any number of intents
(what the generator's two- and three-intent chains are drawn from) and chained long walks."""

import random

import pytest

from envsynth.coverage import (Coverage, edge_rules, explain_uncovered, graph_edges, mix_starts, never_edge,
                               reachable_within, reason_code, targeted_walk, walk_edges)
from envsynth.plan.chain import ChainBuilder
from envsynth.plan.facts import AspOptions
from envsynth.plan.planner import Planner, enumerate_walks
from envsynth.tasks.difficulty import parse_length_mix

N = 3  # walks of up to N steps, any number of intents, are enumerated (7k on airline, 2 s)


@pytest.fixture(scope="module")
def exercised(airline):
    """Graph edges some walk of the planner's of up to N steps (any number of intents), or some
    chained walk of 8-10 steps, exercises."""
    allowed = graph_edges(airline)
    out = set()
    for w in enumerate_walks(airline, max_len=N, options=AspOptions(max_goals=N)):
        out |= {"|".join(e) for e in walk_edges(airline, w, allowed)}
    short = out.copy()
    planner = Planner(airline)
    pool = [w for g in planner.goals() for w in planner.goal_walks(g, 3)]
    chains = ChainBuilder(airline, pool)
    rng = random.Random(0)
    for length in (8, 9, 10):
        w = chains.build(length, rng)
        if w is not None:
            out |= {"|".join(e) for e in walk_edges(airline, w, allowed)}
    return short, out


def test_the_targeted_solve_finds_exactly_the_edges_some_short_walk_has(airline, exercised):
    """Catches: rules for the targeted solve that miss walks (then "unreachable within N steps"
    would be a false proof) or that admit walks without the edge (a false witness). At N steps
    the edges clingo finds a walk for are exactly those of the enumerated walks."""
    short, _ = exercised
    found = set()
    for e in sorted("|".join(x) for x in graph_edges(airline)):
        w, searched = targeted_walk(airline, e, N)
        if w is not None:
            assert e in {"|".join(x) for x in walk_edges(airline, w)}
            assert len(w.steps) <= N
            found.add(e)
        else:
            assert searched == N
    assert found == short
    assert "#program check(t)." in edge_rules(airline, "book_reservation|cancel_reservation|creates")


def test_a_structural_proof_holds_for_every_walk_found(airline, exercised):
    """Catches: `never_edge` claiming an edge no walk can have when some walk (short, or chained
    to 8-10 steps) has it."""
    _, every = exercised
    proofs = {e: never_edge(airline, e) for e in sorted("|".join(x) for x in graph_edges(airline))}
    proven = {e for e, p in proofs.items() if p is not None}
    assert proven, "airline has ids edges from tools that return the reservation they are given"
    assert not proven & every
    assert all(p.startswith("never: ") for p in proofs.values() if p)
    assert "returns the reservation it is given" in proofs["change_cabin|cancel_reservation|ids"]


def test_explanations_are_true_at_long_lengths(airline, exercised):
    """Catches: an uncovered edge explained "unreachable within N steps" (the single-intent bound)
    when a walk with several intents - what `--length-mix` chains - covers it; a "never" some walk
    refutes; a witness walk that lacks the edge. With no task covering anything, every edge is
    explained, and each explanation is checked against the walks that exist."""
    short, every = exercised
    reachable = reachable_within(airline, 2)
    report = Coverage().report(airline, reachable)
    explain_uncovered(airline, report, reachable, lengths=[1, 5, 8, 12], longest=16, prove_len=N)
    why = report["uncovered_edges"]
    assert set(why) == {"|".join(e) for e in graph_edges(airline)}
    for e, w in why.items():
        code = reason_code(w)
        assert code != "other", w
        if code in ("never", "unreachable"):
            assert e not in every, f"{e}: {w}"
        if code == "unreachable":
            assert w.startswith(f"unreachable within {N} steps") and "7-16" not in w and f"{N + 1}-16" in w
        if e in short and code not in ("infeasible",):
            assert code in ("not sampled", "not built"), f"{e}: {w}"
        if code in ("not sampled", "not built"):
            assert "length bucket" in w
    # reachable only as two intents: the generator's chain builds it
    assert why["book_reservation|cancel_reservation|creates"].startswith("not sampled: needs two intents")
    assert sum(report["uncovered_edge_reasons"].values()) == len(why)


def test_buckets_are_the_ranges_of_the_mix():
    """Catches: a long mix's coverage bucketed by fixed standard lengths instead of its ranges."""
    assert mix_starts(parse_length_mix("1-4:1,5-7:1,8-11:1,12-16:1")) == [1, 5, 8, 12]
    assert mix_starts(parse_length_mix("2:1,10-15:1")) == [2, 10]
    assert mix_starts({"3": 0.5, "4": 0.0, "5": 0.5}) == [3, 5]
