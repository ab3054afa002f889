"""Walk enumeration (clingo): every walk is a real plan, and the space is stable."""

from pathlib import Path

import pytest

from envsynth.plan.planner import enumerate_walks


def knowledge_ok(domain, walk):
    """An independent reading of the planner's rules: every id an agent passes to a tool was
    stated by the user, picked out of a listing, created, or shown in an earlier result."""
    known = set(walk.given)
    links = {}
    for k, v in walk.links.items():
        obj, field = k.split(".")
        links.setdefault(obj, {})[field] = v
    for i, step in enumerate(walk.steps):
        tool = domain.tools[step.tool]
        listing = tool.returns.lists()
        for a in tool.args.values():
            if a.is_ref:
                obj = step.binds[a.var]
                if obj not in known:
                    return f"step {i + 1}: {a.name}={obj} is not known yet"
        if step.select:
            if step.select.object in known:
                return f"step {i + 1}: selects {step.select.object}, which is already known"
            known.add(step.select.object)
            known |= set(links.get(step.select.object, {}).values())
        for var, obj in step.creates.items():
            links.setdefault(obj, {})
            if tool.returns.kind == "record" and tool.returns.var == var:
                known.add(obj)
        if tool.returns.kind == "record":
            obj = step.binds.get(tool.returns.var)
            known.add(obj)
            known |= set(links.get(obj, {}).values())
        if listing is not None and tool.returns.kind in ("list", "find") and not step.select:
            return f"step {i + 1}: a listing without a selection"
    return None


@pytest.fixture(scope="module", params=["airline", "retail"])
def walks(request):
    from envsynth.spec.loader import load_domain

    d = load_domain(request.param)
    return d, list(enumerate_walks(d, max_len=4))


def test_every_walk_is_a_plan(walks):
    domain, ws = walks
    assert ws
    for w in ws:
        goals = w.goal_steps(domain)
        assert goals == [len(w.steps) - 1], w.describe()  # one goal, and it is the last step
        assert knowledge_ok(domain, w) is None, (knowledge_ok(domain, w), w.describe())
        assert w.actor in w.objects


def test_every_tool_is_reachable_within_four_steps(walks):
    domain, ws = walks
    used = {s.tool for w in ws for s in w.steps}
    assert used == set(domain.tools)


def test_enumeration_is_deterministic_and_shortest_first(walks):
    domain, ws = walks
    again = list(enumerate_walks(domain, max_len=4))
    assert [w.model_dump() for w in again] == [w.model_dump() for w in ws]
    lengths = [len(w.steps) for w in ws]
    assert lengths == sorted(lengths)


def test_limit_and_min_len(airline):
    ws = list(enumerate_walks(airline, max_len=3, min_len=2, limit=5))
    assert len(ws) == 5 and all(len(w.steps) >= 2 for w in ws)


def test_walks_are_lifted(airline):
    """Walks name abstract objects, never concrete values."""
    for w in enumerate_walks(airline, max_len=3):
        for s in w.steps:
            for obj in list(s.binds.values()) + list(s.creates.values()):
                assert obj in w.objects


def test_a_list_searched_by_a_record_needs_a_description_through_that_record():
    """Listing a room's meetings finds "the next booking of Orion", never "my next meeting
    titled Standup" (which nothing ties to the room: the user's own list finds it)."""
    from envsynth.plan.selection import selectable_references
    from envsynth.spec.loader import load_domain

    d = load_domain("calendar")
    assert selectable_references(d, d.tools["list_room_meetings"]) == ["next_in_room", "next_booking_in_room"]
    assert "next_titled" in selectable_references(d, d.tools["list_person_meetings"])
    assert "next_booking_in_room" not in selectable_references(d, d.tools["list_person_meetings"])


VET = (Path(__file__).parent / "data" / "vet.yaml").read_text()


def test_an_included_list_reached_through_a_chain_of_links():
    """get_owner includes the appointments of the owner's pets (appointment.pet.owner == owner):
    "my pet's next appointment" (scope pet.owner) is resolved there."""
    from envsynth.plan.selection import selectable_references
    from envsynth.spec.loader import parse_spec_text

    d = parse_spec_text(VET, "vet.yaml")
    assert selectable_references(d, d.tools["get_owner"]) == ["my_pets_next"]
    walks = enumerate_walks(d, max_len=2)
    assert any(s.select and s.select.reference == "my_pets_next" for w in walks for s in w.steps)


def test_a_scope_that_only_passes_through_the_listed_record_does_not_pick_it():
    """"The largest transfer I sent on May 3" does not say which of my accounts to list;
    "the largest transfer out of my Travel account" does."""
    from envsynth.plan.selection import selectable_references
    from envsynth.spec.loader import load_domain

    d = load_domain("banking")
    assert selectable_references(d, d.tools["list_account_transfers"]) == ["largest_from_account"]
    assert "largest_on_date" in selectable_references(d, d.tools["list_customer_transfers"])


ROOT = Path(__file__).resolve().parent.parent
SCOPED_SPECS = ["airline", "retail", "hr", "itsm", "calendar", "banking",
                str(ROOT / "examples" / "city_library" / "city_library.yaml"),
                str(Path(__file__).parent / "data" / "vet.yaml"), str(Path(__file__).parent / "data" / "club.yaml")]


@pytest.mark.parametrize("spec", SCOPED_SPECS, ids=lambda s: Path(s).stem)
@pytest.mark.parametrize("refusal", [False, True], ids=["requests", "refusals"])
def test_asking_one_goal_at_a_time_finds_exactly_the_walks_of_the_whole_program(spec, refusal):
    """The planner answers per goal with a program grounded for the goal's scope (plan/scope.py);
    the union over goals must be the whole program's walk set, walk for walk. Catches a scope that
    leaves out a tool or entity some walk needs (planted: feeding one step short - every domain
    loses walks; a record result that reveals the record but not the records it links to -
    airline, itsm and city_library lose refusal walks) and a walk that ends elsewhere than in its
    goal."""
    import json

    from envsynth.plan.facts import AspOptions
    from envsynth.plan.planner import Planner
    from envsynth.spec.loader import load_domain

    d = load_domain(spec)
    full = sorted(json.dumps(w.model_dump(), sort_keys=True)
                  for w in enumerate_walks(d, max_len=3, options=AspOptions(refusal=refusal)))
    planner = Planner(d)
    scoped = []
    for goal in planner.goals():
        for w in planner.goal_walks(goal, 3, refusal=refusal):
            assert w.steps[-1].tool == goal
            scoped.append(json.dumps(w.model_dump(), sort_keys=True))
    assert sorted(scoped) == full


def _named(domain, walk) -> set:
    """An independent reading of how a user names records: themself, ids they state, records
    picked by a description or made in the conversation, and records reached from those through
    a link that is set and that people describe records by (not `refer_through: false`)."""
    named = {walk.actor, *walk.given}
    named |= {s.select.object for s in walk.steps if s.select}
    named |= {o for s in walk.steps for o in s.creates.values()}
    changed = True
    while changed:
        changed = False
        for key, other in walk.links.items():
            obj, field = key.split(".", 1)
            through = domain.entities[walk.objects[obj]].fields[field].refer_through
            if obj in named and other is not None and through and other not in named:
                named.add(other)
                changed = True
    return named


def test_empty_links_are_planned_and_no_request_names_a_record_through_a_link_people_do_not_say():
    """itsm: an incident may have no assignee (nullable) - a refusal to resolve it can rest on that
    - and a change's approver is never "the approver of CHG1" (refer_through: false). Catches the
    planner naming records through such a link (planted: dropping `not noref(E,F)` from named/2 -
    get_user on the approver of a change the user names appears) and empty links left out of
    walks (planted: not showing nolink/2 - no walk records an empty assignee)."""
    from envsynth.plan.planner import Planner
    from envsynth.spec.loader import load_domain

    d = load_domain("itsm")
    planner = Planner(d)
    refused = planner.goal_walks("resolve_incident", 1, refusal=True)
    assert any(w.steps[0].refuse == 1 and w.links["incident1.assignee"] is None for w in refused)
    for goal in planner.goals():
        for w in planner.goal_walks(goal, 3):
            named = _named(d, w)
            for k in w.goal_steps(d):
                s = w.steps[k]
                for var, obj in s.binds.items():
                    assert obj in named or obj in s.creates.values(), (w.describe(), w.links, obj)
            # every record the walk starts with has each of its links recorded, set or empty
            for obj in w.initial_objects():
                for f in d.entities[w.objects[obj]].ref_fields():
                    assert f"{obj}.{f.name}" in w.links, (w.describe(), obj, f.name)


def test_the_checker_holds_a_walk_to_its_empty_links():
    """A walk whose incident has no assignee is a different plan from one where the user is the
    assignee: resolving it is refused, not allowed. Catches the checker ignoring empty links
    (planted: leaving nolink/2 out of its assumptions - the flipped walk is accepted)."""
    from envsynth.plan.planner import Checker, Planner
    from envsynth.spec.loader import load_domain

    d = load_domain("itsm")
    ok = next(w for w in Planner(d).goal_walks("resolve_incident", 1)
              if w.links["incident1.assignee"] == w.actor)
    checker = Checker(d)
    assert checker.accepts(ok)
    empty = ok.model_copy(deep=True)
    empty.links["incident1.assignee"] = None
    assert empty.null_links() == ["incident1.assignee"]
    assert not checker.accepts(empty)
    refused = empty.model_copy(deep=True)
    refused.steps[0].refuse = 1
    assert checker.accepts(refused)


def test_one_record_twice_only_where_a_distinct_rule_refuses_it():
    """banking's transfer requires distinct(source, target): no walk sends from an account to
    itself, except refusal walks refused for exactly that rule (the user asks for it)."""
    from envsynth.plan.planner import Planner
    from envsynth.spec.loader import load_domain

    d = load_domain("banking")
    j = next(i for i, r in enumerate(d.tools["transfer_money"].requires, 1) if r.src.startswith("distinct("))
    planner = Planner(d)

    def same(w):
        return any(s.tool == "transfer_money" and s.binds["source"] == s.binds["target"] for s in w.steps)

    assert not any(same(w) for w in planner.goal_walks("transfer_money", 3))
    refused = planner.goal_walks("transfer_money", 2, refusal=True)
    twice = [w for w in refused if same(w)]
    assert twice, "no refusal walk names one account twice"
    assert all(w.steps[-1].refuse == j for w in twice)
    # ...and the refusal of the rule is planned only that way (the rule cannot fail otherwise)
    assert all(same(w) for w in refused if w.steps[-1].refuse == j)
