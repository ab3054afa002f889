"""The walk space: canonical keys, merging, learning, sampling, coverage."""

import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from envsynth.plan.facts import AspOptions
from envsynth.plan.canonical import canonical_key, dependencies
from envsynth.coverage import Coverage, explain_uncovered, reachable_within
from envsynth.generate import GenerateOptions, generate, summarize
from envsynth.spec.loader import load_domain
from envsynth.plan.learning import Learner, learn
from envsynth.plan.merge import merge
from envsynth.state.synth import Infeasible, synthesize
from envsynth.verify import verify_dir
from envsynth.plan.walk import Selection, Walk, WalkStep, renumber
from envsynth.plan.planner import check_walk, enumerate_walks, sample_walk

DATA = Path(__file__).parent / "data"


def _rename(walk: Walk, perm: dict) -> Walk:
    m = lambda o: perm.get(o, o)  # noqa: E731
    return Walk(
        steps=[WalkStep(tool=s.tool, binds={v: m(o) for v, o in s.binds.items()}, args=s.args,
                        creates={v: m(o) for v, o in s.creates.items()},
                        select=Selection(object=m(s.select.object), reference=s.select.reference) if s.select else None,
                        ask=s.ask) for s in walk.steps],
        objects={m(o): e for o, e in walk.objects.items()}, given=[m(o) for o in walk.given],
        links={f"{m(k.split('.')[0])}.{k.split('.')[1]}": m(v) for k, v in walk.links.items()}, actor=m(walk.actor))


@pytest.fixture(scope="module")
def merged(request):
    from envsynth.spec.loader import load_domain

    d = load_domain("retail")
    ws = list(enumerate_walks(d, max_len=4))
    rng = random.Random(0)
    out = []
    while len(out) < 25:
        m = merge(d, rng.choice(ws), rng.choice(ws), rng)
        if m is not None and check_walk(d, m):
            out.append(m)
    return d, out


@settings(max_examples=60, deadline=None, derandomize=True)
@given(data=st.data())
def test_canonical_key_is_invariant_under_renaming_and_independent_reordering(data, merged):
    """For all walks: renaming objects within an entity, or swapping two adjacent steps that do
    not depend on each other, keeps the canonical key."""
    d, walks = merged
    walk = data.draw(st.sampled_from(walks))
    key = canonical_key(d, walk)
    # rename: permute the object names of each entity (the actor too)
    perm = {}
    by_ent = {}
    for o, e in walk.objects.items():
        by_ent.setdefault(e, []).append(o)
    for e, objs in by_ent.items():
        shuffled = data.draw(st.permutations(objs))
        perm.update({a: f"renamed_{b}" for a, b in zip(objs, shuffled)})
    renamed = _rename(walk, perm)
    assert canonical_key(d, renamed) == key
    # reorder: swap an adjacent independent pair, if any
    deps = dependencies(d, walk)
    free = [i for i in range(len(walk.steps) - 1) if (i, i + 1) not in deps]
    if free:
        i = data.draw(st.sampled_from(free))
        steps = list(walk.steps)
        steps[i], steps[i + 1] = steps[i + 1], steps[i]
        swapped = walk.model_copy(update={"steps": steps})
        assert canonical_key(d, swapped) == key


def _every_order(n: int, deps: set) -> list:
    """Every order of steps 0..n-1 that keeps `deps` (brute force: the reference)."""
    import itertools
    return [list(p) for p in itertools.permutations(range(n))
            if all(p.index(i) < p.index(j) for i, j in deps)]


def test_canonical_form_is_the_least_serialization_over_every_order(merged):
    """The key is found step by step with ties branched (canonical._least_orders), not by trying
    every order: it must equal the minimum over every dependency-respecting order, for merged
    walks (many orders, ties between like lookups). Catches a search that takes one of tied
    steps only, or that picks a step before its dependencies."""
    from envsynth.plan.canonical import _serialize, canonical_form
    import hashlib

    d, walks = merged
    rng = random.Random(1)
    longer = []
    for _ in range(200):  # three-intent walks: more orders, more ties
        m = merge(d, rng.choice(walks), rng.choice(walks), rng)
        if m is not None and len(m.steps) <= 7:
            longer.append(m)
    tied = 0
    for walk in walks + longer:
        deps = dependencies(d, walk)
        best = min((_serialize(walk, o) for o in _every_order(len(walk.steps), deps)), key=lambda s: s[0])
        assert canonical_form(d, walk) == (hashlib.sha256(best[0].encode()).hexdigest()[:16], best[1])
        steps = [json.dumps([s.tool, sorted(s.args.items())]) for s in walk.steps]
        tied += len(set(steps)) < len(steps)
    assert tied >= 5  # walks with like steps (the ties) were among those compared


def test_canonical_form_branches_on_tied_steps():
    """Two independent intents that start with the same lookup, written in the order that makes
    the first tied lookup the wrong one to name first: only trying both tied steps finds the
    least serialization (a search that keeps the first of tied steps gets these wrong)."""
    from envsynth.plan.canonical import _serialize, canonical_form
    import hashlib

    d = load_domain("hr")
    ws = [w for w in enumerate_walks(d, max_len=2) if len(w.steps) == 2]
    checked = 0
    for a in ws:
        for b in ws:
            if a.steps[0].tool != b.steps[0].tool or a.steps[1].tool >= b.steps[1].tool:
                continue
            ra = _rename(a, {o: "a_" + o for o in a.objects if o != a.actor})
            rb = _rename(b, {o: "b_" + o for o in b.objects if o != b.actor})
            w = Walk(steps=list(rb.steps) + list(ra.steps), objects={**rb.objects, **ra.objects},
                     given=sorted(set(rb.given) | set(ra.given)), links={**rb.links, **ra.links}, actor=a.actor)
            deps = dependencies(d, w)
            if any(i < 2 <= j for i, j in deps):
                continue
            best = min((_serialize(w, o) for o in _every_order(4, deps)), key=lambda s: s[0])
            assert canonical_form(d, w) == (hashlib.sha256(best[0].encode()).hexdigest()[:16], best[1])
            checked += 1
    assert checked >= 20


def test_different_plans_get_different_keys(airline):
    ws = list(enumerate_walks(airline, max_len=3))
    keys = {canonical_key(airline, w) for w in ws}
    seqs = {tuple(sorted(s.tool for s in w.steps)) for w in ws}
    assert len(keys) >= len(seqs)  # at least one key per multiset of tools
    assert len(keys) > 0.9 * len(ws)


def test_merged_walks_are_real_walks(merged):
    d, walks = merged
    for m in walks:
        assert len(m.goal_steps(d)) == 2
        assert check_walk(d, renumber(m))
    # gluing a walk to a broken one is refused by the planner
    broken = walks[0].model_copy(deep=True)
    broken.steps = broken.steps[1:]
    assert not check_walk(d, broken)


def test_chained_merge_acts_on_the_created_record(airline):
    ws = list(enumerate_walks(airline, max_len=2))
    book = next(w for w in ws if w.tool_sequence() == ("search_flights", "book_reservation"))
    bags = next(w for w in ws if w.tool_sequence() == ("add_baggage",))
    m = merge(airline, book, bags, random.Random(0))
    assert check_walk(airline, m)
    created = m.steps[1].creates["reservation"]
    assert m.steps[2].binds["reservation"] == created and created not in m.given
    sc = synthesize(airline, m, 4)
    assert sc.gold[2].arguments["reservation_id"] == sc.outputs[1]["id"]


IMPOSSIBLE_TWICE = """
domain: wallet
today: 2026-01-01
actor: person
entities:
  person:
    fields:
      cash: {type: money, min: 0, max: 100}
      name: {type: str, pool: names}
    refer: {by_id: {id: true}}
pools: {names: [Ann, Bo]}
tools:
  buy_ticket:
    kind: write
    description: Spend 60 on a ticket.
    args: {person_id: {ref: person}}
    requires: ["person.cash >= 60"]
    effects: ["person.cash -= 60"]
  buy_meal:
    kind: write
    description: Spend 50 on a meal.
    args: {person_id: {ref: person}}
    requires: ["person.cash >= 50"]
    effects: ["person.cash -= 50"]
  check_cash:
    kind: read
    description: How much cash is left.
    args: {person_id: {ref: person}}
    returns: {value: person.cash}
    answer: person.cash
"""


def test_learning_prunes_impossible_patterns_without_changing_output(tmp_path):
    from envsynth.spec.loader import parse_spec_text

    d = parse_spec_text(IMPOSSIBLE_TWICE, str(tmp_path / "wallet.yaml"))
    ws = list(enumerate_walks(d, max_len=1))
    buy = next(w for w in ws if w.tool_sequence() == ("buy_ticket",))
    meal = next(w for w in ws if w.tool_sequence() == ("buy_meal",))
    twice = merge(d, buy, meal, random.Random(0), chain=False)  # 60 + 50 > the most cash anyone has
    with pytest.raises(Infeasible) as e:
        synthesize(d, twice, 0)
    ng = learn(twice, e.value.core, e.value.core_steps, e.value.core_kinds, e.value.core_objects)
    assert ng is not None and ng.length == 2 and "cash >= 50" in ng.reason
    learner = Learner()
    learner.add(ng)
    ask = next(w for w in ws if w.tool_sequence() == ("check_cash",))
    three = merge(d, twice, ask, random.Random(1), chain=False)  # same impossible prefix, longer walk
    assert learner.match(three) is not None
    # the planner learns it too: the nogood as ASP rejects the pattern
    assert check_walk(d, twice) and not check_walk(d, twice, extra_rules=ng.asp)


def test_a_nogood_learned_about_an_empty_link_says_so():
    """A clash learned on a walk whose incident has no assignee must not forbid the walk where
    it has one, and the reverse (itsm). Catches nogoods blind to empty links (planted: dropping
    the `not nolink(...)` literal - a nogood learned with an assignee also forbids the walk
    without one; dropping `nolink(...)` - the reverse)."""
    from envsynth.plan.learning import prefix_key, to_asp
    from envsynth.plan.planner import Checker, Planner
    from envsynth.spec.loader import load_domain

    d = load_domain("itsm")
    refused = Planner(d).goal_walks("resolve_incident", 1, refusal=True)
    empty = next(w for w in refused if w.steps[0].refuse == 1 and w.links["incident1.assignee"] is None)
    other = next(w for w in refused if w.steps[0].refuse == 1 and w.links["incident1.assignee"] not in (None, w.actor)
                 and w.links["incident1.caller"] == empty.links["incident1.caller"])
    assert prefix_key(empty, 1) != prefix_key(other, 1)
    for learned, spared in ((empty, other), (other, empty)):
        checker = Checker(d, to_asp(learned, whole=True))
        assert not checker.accepts(learned) and checker.accepts(spared), to_asp(learned, whole=True)


def test_learning_changes_work_not_output(tmp_path):
    (tmp_path / "templates" / "retail").mkdir(parents=True)
    on = tmp_path / "on"
    off = tmp_path / "off"
    generate("retail", on, GenerateOptions(n=20, seed=9, multi_intent=0.5, max_len=3))
    generate("retail", off, GenerateOptions(n=20, seed=9, multi_intent=0.5, max_len=3, learn=False))
    assert (on / "tasks.jsonl").read_bytes() == (off / "tasks.jsonl").read_bytes()
    assert (on / "manifest.json").read_bytes() == (off / "manifest.json").read_bytes()


def test_multi_intent_share_and_verification(tmp_path):
    generate("airline", tmp_path, GenerateOptions(n=40, seed=2, multi_intent=0.4))
    m = json.loads((tmp_path / "manifest.json").read_text())
    assert m["dataset"]["multi_intent_share"] >= 0.2
    assert all(r.ok for r in verify_dir(tmp_path))


def test_a_small_space_runs_out_of_shapes_unless_repeats_are_allowed(tmp_path, monkeypatch):
    """Tasks of one shape differ only in names and numbers: by default none is written twice,
    and a space with fewer shapes than asked for says so instead of looping."""
    import envsynth.generate as G
    from envsynth.errors import EnvsynthError

    spec = tmp_path / "wallet.yaml"
    spec.write_text(IMPOSSIBLE_TWICE)
    tpl = tmp_path / "templates" / "wallet"
    tpl.mkdir(parents=True)
    (tpl / "phrases.yaml").write_text(
        "intents:\n  buy_ticket: ['Buy me a ticket.']\n  buy_meal: ['Buy me a meal.']\n"
        "  check_cash: ['How much cash do I have?']\nintro: ['Hi, I am {{ me.name }}.']\n")
    monkeypatch.setattr(G, "REPEAT_LIMIT", 30)
    with pytest.raises(EnvsynthError, match="distinct task shapes"):
        generate(str(spec), tmp_path / "a", GenerateOptions(n=50, seed=1, distractors=0))
    generate(str(spec), tmp_path / "b", GenerateOptions(n=50, seed=1, distractors=0, allow_repeats=True))
    assert len((tmp_path / "b" / "tasks.jsonl").read_text().splitlines()) == 50


def test_dataset_has_distinct_shapes(tmp_path, airline):
    generate("airline", tmp_path, GenerateOptions(n=60, seed=4))
    m = json.loads((tmp_path / "manifest.json").read_text())
    assert m["dataset"]["distinct_shapes"] == 60


def test_sampled_walks_are_valid_varied_and_deterministic(airline):
    ws = [sample_walk(airline, 3, s) for s in range(25)]
    ws = [w for w in ws if w is not None]
    assert len({canonical_key(airline, w) for w in ws}) >= 3
    assert all(check_walk(airline, w) for w in ws)
    again = [sample_walk(airline, 3, s) for s in range(25)]
    assert [w.model_dump() for w in ws] == [w.model_dump() for w in again if w is not None]


def test_sampled_mode_is_deterministic_across_workers(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    opts = GenerateOptions(n=12, seed=5, walk_mode="sampled", max_len=4)
    generate("airline", a, opts, workers=1)
    generate("airline", b, opts, workers=2)
    assert (a / "tasks.jsonl").read_bytes() == (b / "tasks.jsonl").read_bytes()


def test_coverage_report(tmp_path, airline):
    generate("airline", tmp_path, GenerateOptions(n=160, seed=3, max_len=4))
    from envsynth.verify import iter_tasks

    cov = Coverage()
    for t in iter_tasks(tmp_path / "tasks.jsonl"):
        cov.add(summarize(airline, t))
    rep = cov.report(airline, reachable_within(airline, 4))
    for key in ("tools_total", "tools_covered", "edges_total", "edges_covered", "multi_intent_share"):
        assert key in rep
    assert rep["tools_covered"] == rep["tools_total"]
    assert rep["edges_reachable_covered"] == rep["edges_reachable"]  # every reachable edge used
    # before the solvers are asked (explain_uncovered), only what the enumeration shows is said
    assert all(why == "no single-intent walk of up to 4 steps has it" for why in rep["uncovered_edges"].values())
    assert rep["canonical_walks_covered"] > 0.8 * rep["canonical_walks"]


def test_uncovered_tools_and_edges_are_explained_by_the_solvers(airline):
    """`stats` says why a tool or edge has no task: Z3 finds it impossible (with the clash in the
    spec's words), a walk through it solves (not sampled), it needs two intents in one task (a
    merge the planner accepts), or nothing within the bound reaches it."""
    shop = load_domain(DATA / "shop.yaml")
    reachable = reachable_within(shop, 2)
    rep = Coverage().report(shop, reachable)
    explain_uncovered(shop, rep, reachable)
    assert rep["uncovered_tools"]["buy_car"].startswith("infeasible")
    assert "customer.credit >= 20000" in rep["uncovered_tools"]["buy_car"]
    assert rep["uncovered_tools"]["buy_snack"].startswith("not sampled: buy_snack (1 step, 1 intent) solves")
    # the planner accepts snack-then-car in one task, but Z3 cannot make it executable
    assert rep["uncovered_edges"]["buy_snack|buy_car|enables"].startswith("infeasible: every")

    reachable = reachable_within(airline, 4, refusals=True)
    rep = Coverage().report(airline, reachable)
    explain_uncovered(airline, rep, reachable)
    # every flight is in December and today is in November: "it has already departed" can
    # never be the reason to refuse, and stats says so in the spec's words
    refusals = rep["uncovered_refusal_reasons"]
    assert refusals["book_reservation.requires[3]"].startswith("infeasible")
    assert "flight.date >= today" in refusals["book_reservation.requires[3]"]
    assert refusals["book_reservation.requires[4]"].startswith("not sampled")
    edges = rep["uncovered_edges"]
    # booking then cancelling the new reservation is one task only when two intents merge
    assert edges["book_reservation|cancel_reservation|creates"].startswith("not sampled: needs two intents in one task")
    # no single intent and no chain the generator builds has it, but a three-intent walk does
    assert edges["get_user_details|book_reservation|ids"].startswith("not built: get_user_details > ")
    # "reservation" records a change returns are ones the agent named: true at any length
    assert edges["change_cabin|cancel_reservation|ids"].startswith("never: change_cabin returns the reservation")
    reachable_edge = next(iter(sorted(reachable["edges"])))
    assert edges[reachable_edge].startswith("not sampled")


def test_effects_on_the_actor_are_planned_solved_replayed_and_ordered(tmp_path):
    """`actor.points -= 100` changes the asking member's record in every back-end: the planner
    never upgrades a gold member again, "redeem, then tell me my points" is a different task from
    the reverse (the answer depends on the order), and every generated task verifies."""
    club = load_domain(DATA / "club.yaml")
    walks = list(enumerate_walks(club, max_len=2, options=AspOptions(max_goals=2)))
    seqs = {w.tool_sequence() for w in walks}
    assert ("upgrade_to_gold", "upgrade_to_gold") not in seqs
    by_seq = {w.tool_sequence(): w for w in walks}
    a, b = by_seq[("redeem_reward", "get_my_points")], by_seq[("get_my_points", "redeem_reward")]
    assert canonical_key(club, a) != canonical_key(club, b)
    assert dependencies(club, a) == {(0, 1)}
    generate(str(DATA / "club.yaml"), tmp_path, GenerateOptions(n=12, seed=1, multi_intent=0.5, refusals=0.2))
    assert all(r.ok for r in verify_dir(tmp_path))
