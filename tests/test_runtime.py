"""The plain-Python runtime: tools run exactly as the spec says; bad calls change nothing."""

import json

import pytest
from hypothesis import given, settings, strategies as st

from envsynth.spec.loader import parse_spec_text
from envsynth.runtime.execute import Runtime


def small_airline_db():
    return {
        "user": {"usr_1": {"id": "usr_1", "first_name": "Ava", "last_name": "Kim", "email": "ava.kim@example.com",
                           "membership": "silver", "balance": 500}},
        "flight": {
            "HA0001": {"id": "HA0001", "origin": "SFO", "destination": "LAX", "date": "2026-12-03", "departs": 9,
                       "status": "scheduled", "economy_price": 129.99, "business_price": 400, "economy_seats": 3,
                       "business_seats": 0},
            "HA0002": {"id": "HA0002", "origin": "SFO", "destination": "LAX", "date": "2026-12-04", "departs": 7,
                       "status": "scheduled", "economy_price": 99.5, "business_price": 350, "economy_seats": 5,
                       "business_seats": 2},
        },
        "reservation": {},
    }


def test_book_change_cancel_round_trip(airline):
    rt = Runtime(airline, small_airline_db(), "usr_1")
    rec = rt.call("book_reservation", {"user_id": "usr_1", "flight_id": "HA0001", "cabin": "economy",
                                       "fare": "refundable"})
    assert rec.ok, rec.output
    rid = rec.output["id"]
    assert rec.output["paid"] == 169.99  # 129.99 + 40 refundable surcharge
    assert rt.db["user"]["usr_1"]["balance"] == 330.01
    assert rt.db["flight"]["HA0001"]["economy_seats"] == 2
    # targets are read on the state before the call: the old flight gets its seat back
    rec = rt.call("change_flight", {"reservation_id": rid, "flight_id": "HA0002"})
    assert rec.ok, rec.output
    assert rt.db["flight"]["HA0001"]["economy_seats"] == 3
    assert rt.db["flight"]["HA0002"]["economy_seats"] == 4
    assert rt.db["reservation"][rid]["flight"] == "HA0002"
    # refunded the difference 169.99 - (99.50 + 40): the refundable surcharge stays with the fare
    assert rt.db["user"]["usr_1"]["balance"] == 360.5
    assert rt.db["reservation"][rid]["paid"] == 139.5
    rec = rt.call("cancel_reservation", {"reservation_id": rid})
    assert rec.ok and rt.db["reservation"][rid]["status"] == "cancelled"
    assert rt.db["user"]["usr_1"]["balance"] == 500


def test_created_ids_are_deterministic(airline):
    a, b = Runtime(airline, small_airline_db(), "usr_1"), Runtime(airline, small_airline_db(), "usr_1")
    args = {"user_id": "usr_1", "flight_id": "HA0002", "cabin": "business", "fare": "non_refundable"}
    assert a.call("book_reservation", args).output["id"] == b.call("book_reservation", args).output["id"]
    assert a.hash() == b.hash()


@pytest.mark.parametrize(
    "name, args, message",
    [
        ("book_reservation", {"user_id": "usr_1", "flight_id": "HA0001", "cabin": "business", "fare": "refundable"},
         "no seats are left in this cabin"),
        ("book_reservation", {"user_id": "usr_9", "flight_id": "HA0001", "cabin": "economy", "fare": "refundable"},
         "no user with id 'usr_9'"),
        ("book_reservation", {"user_id": "usr_1", "flight_id": "HA0001", "cabin": "first", "fare": "refundable"},
         "bad value for 'cabin'"),
        ("book_reservation", {"user_id": "usr_1", "flight_id": "HA0001"}, "missing argument 'cabin'"),
        ("search_flights", {"origin": "SFO", "destination": "LAX", "date": "Dec 3"}, "YYYY-MM-DD"),
        ("search_flights", {"origin": "SFO", "destination": "LAX", "date": "2026-12-03", "x": 1}, "unknown argument 'x'"),
        ("teleport", {}, "unknown tool 'teleport'"),
        ("add_baggage", "not an object", "arguments must be an object"),
    ],
)
def test_bad_calls_return_errors_and_change_nothing(airline, name, args, message):
    rt = Runtime(airline, small_airline_db(), "usr_1")
    before = rt.hash()
    rec = rt.call(name, args)
    assert not rec.ok
    assert rec.output.startswith("Error: ") and message in rec.output
    assert rt.hash() == before


ATOMIC = """
domain: bank
today: 2026-01-01
actor: account
entities:
  account:
    fields:
      balance: {type: money, min: 0, max: 1000}
      withdrawals: {type: int, min: 0, max: 100}
    invariants: [balance >= 10]
    refer: {by_id: {id: true}}
tools:
  withdraw:
    kind: write
    description: Take money out.
    args:
      account_id: {ref: account}
      amount: {type: money, min: 1, max: 1000}
    effects:
      - account.withdrawals += 1
      - account.balance -= amount
"""


def test_effects_are_atomic_when_an_invariant_would_break():
    d = parse_spec_text(ATOMIC, "bank.yaml")
    db = {"account": {"A1": {"id": "A1", "balance": 50, "withdrawals": 0}}}
    rt = Runtime(d, db)
    rec = rt.call("withdraw", {"account_id": "A1", "amount": 45})
    assert not rec.ok and "balance >= 10" in rec.output
    assert rt.db == db  # the first effect (withdrawals += 1) was not applied either
    assert rt.call("withdraw", {"account_id": "A1", "amount": 20}).ok
    assert rt.db["account"]["A1"] == {"id": "A1", "balance": 30, "withdrawals": 1}


def test_a_write_that_would_leave_a_field_outside_its_range_is_refused():
    """Declared ranges hold in every state, not only in generated databases: taking 80 from 50
    would leave the balance below its minimum 0, so nothing happens."""
    d = parse_spec_text(ATOMIC, "bank.yaml")
    db = {"account": {"A1": {"id": "A1", "balance": 50, "withdrawals": 0}}}
    rt = Runtime(d, db)
    rec = rt.call("withdraw", {"account_id": "A1", "amount": 80})
    assert not rec.ok and "below the minimum 0.00" in rec.output
    assert rt.db == db and rt.created == {"account": 0}


@pytest.mark.parametrize("amount", [0, -100, 1000.01, 10**5000, float("inf"), float("nan"), "Infinity", "sNaN",
                                    "1e999999", True, [1], {"a": 1}],
                         ids=lambda v: type(v).__name__ if isinstance(v, int) and abs(v) > 10**9 else None)
def test_arguments_outside_the_spec_bounds_or_not_numbers_are_refused(amount):
    d = parse_spec_text(ATOMIC, "bank.yaml")
    db = {"account": {"A1": {"id": "A1", "balance": 500, "withdrawals": 0}}}
    rt = Runtime(d, db)
    rec = rt.call("withdraw", {"account_id": "A1", "amount": amount})
    assert not rec.ok and rec.output.startswith("Error: bad value for 'amount'"), rec.output
    assert rt.db == db


values = st.one_of(st.none(), st.booleans(), st.integers(-5, 5000), st.floats(allow_nan=False, width=32),
                   st.sampled_from(["usr_1", "HA0001", "HA0002", "economy", "business", "SFO", "2026-12-03", "", "x"]))


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_call_either_succeeds_or_changes_nothing(airline, data):
    """For all tool calls an agent could make: no exception escapes, and a failed call leaves
    the database exactly as it was."""
    rt = Runtime(airline, small_airline_db(), "usr_1")
    for _ in range(4):
        name = data.draw(st.sampled_from(sorted(airline.tools) + ["nope"]))
        tool = airline.tools.get(name)
        keys = list(tool.args) if tool else ["a"]
        args = {k: data.draw(values) for k in keys if data.draw(st.booleans()) or True}
        if data.draw(st.booleans()) and keys:
            args.pop(data.draw(st.sampled_from(keys)), None)
        before = json.dumps(rt.db, sort_keys=True)
        rec = rt.call(name, args)
        if not rec.ok:
            assert rec.output.startswith("Error: ")
            assert json.dumps(rt.db, sort_keys=True) == before


def test_a_refused_create_leaves_later_ids_as_they_were():
    """calendar: a weekly series on a date far out of range used to raise half-way and move the id
    counter, so the correct trajectory replayed afterwards created other ids and scored 0."""
    from envsynth import load_domain
    from envsynth.play.environment import Environment
    from envsynth.generate import generate_tasks

    calendar = load_domain("calendar")
    task = next(t for t in generate_tasks(calendar, 6, seed=3) if any(a.name.startswith("schedule") for a in t.gold_actions))
    gold = [(a.name, a.arguments) for a in task.gold_actions]
    clean = Environment(calendar, task)
    for name, args in gold:
        clean.call(name, args)
    env = Environment(calendar, task)
    for name, args in gold:
        if name.startswith("schedule"):
            out = env.call(name, {**args, "date": "9999-12-25"})
            assert out.startswith("Error: bad value for 'date'"), out
    for name, args in gold:
        env.call(name, args)
    assert env.runtime.hash() == clean.runtime.hash() and not env.faults


def _itsm_db():
    user = lambda uid, first, role, group: {"id": uid, "first_name": first, "last_name": "Kim",  # noqa: E731
                                          "email": f"{first.lower()}.kim@corp.example", "role": role, "group": group}
    return {
        "user": {"U00001": user("U00001", "Ava", "agent", "network"), "U00002": user("U00002", "Liam", "user", "network")},
        "incident": {"INC000001": {"id": "INC000001", "caller": "U00002", "short_description": "VPN keeps disconnecting",
                                   "priority": 3, "status": "in_progress", "assignment_group": "network",
                                   "assignee": "U00001", "resolution_note": "no note",
                                   "opened": "2026-11-20T09:00", "sla_due": "2026-11-26T09:00"}},
        "change_request": {},
    }


def test_a_link_set_to_null_is_empty_everywhere_the_runtime_reads_it():
    """itsm's unassign_incident sets `incident.assignee = null`: the record stores null, a
    result expanding the link shows null, `assignee == actor` is false and `assignee == null`
    (an invariant) true. Catches an evaluator that reads an empty link as a record (planted:
    field() returning Ref(entity, None) - the invariant check refuses the unassign)."""
    from envsynth.spec.loader import load_domain

    d = load_domain("itsm")
    rt = Runtime(d, _itsm_db(), "U00001")
    out = rt.call("unassign_incident", {"incident_id": "INC000001"})
    assert out.ok, out.output
    assert rt.db["incident"]["INC000001"]["assignee"] is None
    assert rt.db["incident"]["INC000001"]["status"] == "new"
    shown = rt.call("get_incident", {"incident_id": "INC000001"})
    assert shown.ok and shown.output["assignee"] is None
    again = rt.call("resolve_incident", {"incident_id": "INC000001", "note": "Restarted the VPN gateway"})
    assert not again.ok and "only the agent assigned" in again.output
    # taking it again fills the link
    taken = rt.call("assign_to_me", {"incident_id": "INC000001"})
    assert taken.ok and rt.db["incident"]["INC000001"]["assignee"] == "U00001"


DISTINCT = """
domain: bank
today: 2026-01-01
actor: account
entities:
  account:
    fields:
      balance: {type: money, min: 0, max: 1000}
      opened: {type: date, min: 2025-01-01, max: 2025-12-31}
    refer: {by_id: {id: true}}
tools:
  move:
    kind: write
    description: Move money between two accounts, to a third as a fee.
    args:
      from_id: {ref: account, as: source}
      to_id: {ref: account, as: target}
      fee_id: {ref: account, as: bank}
      amount: {type: money, min: 1, max: 1000}
    requires:
      - check: distinct(source, target, bank)
        error: the three accounts must all be different
      - check: distinct(source.opened, target.opened)
        error: accounts opened on one day cannot trade
    effects:
      - source.balance -= amount
      - target.balance += amount
"""


def test_distinct_refuses_one_record_named_twice():
    """`distinct(a, b, c)`: no two the same (records by id, other values by value), and a call
    that names one record twice is refused for that rule and changes nothing."""
    d = parse_spec_text(DISTINCT, "bank.yaml")
    db = {"account": {a: {"id": a, "balance": 500, "opened": f"2025-0{i}-01"}
                      for i, a in enumerate(["A1", "A2", "A3"], 1)}}
    for args in ({"from_id": "A1", "to_id": "A1", "fee_id": "A3"}, {"from_id": "A1", "to_id": "A2", "fee_id": "A1"},
                 {"from_id": "A2", "to_id": "A3", "fee_id": "A3"}):
        rt = Runtime(d, json.loads(json.dumps(db)))
        rec = rt.call("move", {**args, "amount": 20})
        assert rec.output == "Error: the three accounts must all be different", args
        assert rt.db == db
    db["account"]["A2"]["opened"] = "2025-01-01"
    rt = Runtime(d, json.loads(json.dumps(db)))
    assert rt.call("move", {"from_id": "A1", "to_id": "A2", "fee_id": "A3", "amount": 20}).output == \
        "Error: accounts opened on one day cannot trade"
    assert rt.call("move", {"from_id": "A1", "to_id": "A3", "fee_id": "A2", "amount": 20}).ok
