"""History-consistent worlds: every record of an initial database is one the domain's own tools
could have made (spec/history.py derives the rules; Z3 and the background fill keep them; verify
re-checks them in SQL).

What each test can catch:
- the derivation test: a rule no longer derived (or a wrong one) from banking's open_dispute;
- the quiet-cases test: a rule derived from something that may change later (a false alarm that
  would forbid realistic records);
- the fresh-data test: the generator writing a record its creating tool would refuse - run on
  data the second engine did not filter (generate does not run it);
- the planted tests: verify failing to notice a second open dispute, or a background fill that
  ignores the rules (its datasets must then fail verify - the audit can fail);
- the check tests: a creating rule envsynth cannot carry over goes unreported, or is reported
  although the spec states it as an invariant.
"""

from __future__ import annotations

import copy
import textwrap

import pytest

import envsynth.state.fill as fill
from envsynth.check import history_findings
from envsynth.generate import generate_tasks
from envsynth.spec.history import History, history
from envsynth.spec.loader import load_domain, parse_spec_text
from envsynth.verify import check_task


def test_banking_rules_are_derived_from_open_dispute():
    texts = {r.text for r in history(load_domain("banking")).for_entity("dispute")}
    assert 'dispute.opened - dispute.transfer.date <= 60' in texts  # today read back from the stamp
    assert 'dispute.opened <= today' in texts  # made in the past
    assert any("none(d in dispute where (d != dispute)" in t and 'dispute.status != "open"' in t for t in texts)


def test_nothing_is_derived_from_what_may_have_changed_since():
    h = history(load_domain("banking"))
    # the caller, and fields of accounts (kept by the operator, who may freeze one later)
    assert not any("actor" in r.text or "frozen" in r.text for r in h.rules)


@pytest.mark.regeneration
@pytest.mark.parametrize("name", ["banking", "hr", "calendar"])
def test_fresh_datasets_hold_only_records_the_tools_could_make(name):
    domain = load_domain(name)
    for task in generate_tasks(domain, n=15, seed=31):
        problems = check_task(domain, task).problems
        assert not [p for p in problems if "no tool could have made it" in p], problems


def _open_dispute_task(domain):
    for task in generate_tasks(domain, n=30, seed=3):
        opened = [(i, r) for i, r in task.initial_db["dispute"].items() if r["status"] == "open"]
        if opened:
            return task, opened[0]
    raise AssertionError("no task with an open dispute")


def test_a_planted_second_open_dispute_is_caught():
    domain = load_domain("banking")
    task, (did, rec) = _open_dispute_task(domain)
    db = copy.deepcopy(task.initial_db)
    db["dispute"]["DSP_TWIN"] = dict(rec, id="DSP_TWIN")
    broken = task.model_copy(update={"initial_db": db})
    problems = check_task(domain, broken).problems
    assert any("DSP_TWIN" in p and "no tool could have made it" in p for p in problems), problems


def test_a_fill_that_ignores_history_is_caught_by_verify(monkeypatch):
    """Plant: the background fill no longer keeps the creation rules (and the solver neither)."""
    monkeypatch.setattr(fill, "history", lambda domain: History((), ()))
    import envsynth.state.world as world
    monkeypatch.setattr(world, "history", lambda domain: History((), ()))
    domain = load_domain("banking")
    caught = sum(any("no tool could have made it" in p for p in check_task(domain, t).problems)
                 for t in generate_tasks(domain, n=20, seed=5))
    assert caught > 0


LIBRARY = textwrap.dedent("""\
    domain: lib
    today: 2026-11-25
    actor: member
    entities:
      member:
        count: 4
        fields:
          name: {type: str, pool: names}
          max_loans: {type: int, min: 1, max: 3}
        refer:
          by_id: {id: true}
      loan:
        count: 6
        fields:
          member: {type: ref, entity: member}
          status: {type: enum, values: [active, returned]}
        refer:
          by_id: {id: true}
    pools:
      names: [Ana, Bo, Cy]
    tools:
      checkout:
        kind: write
        description: Lend a book.
        args:
          member_id: {ref: member}
        requires:
          - check: count(l in loan where l.member == member and l.status == "active") < member.max_loans
            error: the member has as many loans as allowed
        effects:
          - create: loan
            values: {member: member, status: active}
        returns: {record: loan}
    """)


def test_check_says_which_creation_rule_is_not_kept_and_where():
    domain = parse_spec_text(LIBRARY, "lib.yaml")
    found = [f for f in history_findings(domain) if f.where == "history" and f.severity == "warning"]
    assert len(found) == 1 and "lib.yaml:" in found[0].message and "invariant" in found[0].message


def test_check_is_quiet_when_the_spec_states_it_as_an_invariant():
    line = "      status: {type: enum, values: [active, returned]}\n"
    invariant = ('    invariants:\n      - status != "active" or count(l in loan where l.member == member and '
                 'l.status == "active") <= member.max_loans\n')
    assert line in LIBRARY
    spec = LIBRARY.replace(line, line + invariant)
    domain = parse_spec_text(spec, "lib.yaml")
    assert not [f for f in history_findings(domain) if f.where == "history" and f.severity == "warning"]


CLINIC = textwrap.dedent("""\
    domain: clinic
    today: 2026-12-01
    actor: patient
    pools:
      first: [Ana, Ben, Chloe, Dev]
    entities:
      patient:
        count: 4
        fields:
          first_name: {type: str, pool: first}
        refer: {by_id: {id: true}}
      slot:
        count: 10
        fields:
          day: {type: date, min: 2026-12-02, max: 2026-12-30}
          status: {type: enum, values: [open, booked]}
        refer: {by_id: {id: true}}
      appointment:
        count: 8
        fields:
          patient: {type: ref, entity: patient}
          slot: {type: ref, entity: slot}
          status: {type: enum, values: [booked, cancelled]}
        refer: {by_id: {id: true}}
    tools:
      book_appointment:
        kind: write
        description: Book an open slot for the patient.
        args: {slot_id: {ref: slot}}
        requires:
          - check: slot.status == "open"
            error: the slot is taken
        effects:
          - create: appointment
            values: {patient: actor, slot: slot, status: booked}
          - slot.status = "booked"
        returns: {record: appointment}
      cancel_appointment:
        kind: write
        description: Cancel a booked appointment; its slot opens again.
        args: {appointment_id: {ref: appointment}}
        requires:
          - check: appointment.patient == actor
            error: only the patient's own appointments can be cancelled
          - check: appointment.status == "booked"
            error: the appointment is not booked
        effects:
          - appointment.status = "cancelled"
          - appointment.slot.status = "open"
        returns: {record: appointment}
    """)

CLINIC_PHRASES = textwrap.dedent("""\
    intro: ["Hi, I'm {{ me.first_name }} (patient {{ me.id }})."]
    ids:
      appointment: ["appointment {{ id }}"]
      slot: ["slot {{ id }}"]
    intents:
      book_appointment: ["Please book {{ slot }} for me."]
      cancel_appointment: ["Please cancel {{ appointment }}."]
    """)


def _clinic(tmp_path):
    (tmp_path / "clinic.yaml").write_text(CLINIC)
    t = tmp_path / "templates" / "clinic"
    t.mkdir(parents=True, exist_ok=True)
    (t / "phrases.yaml").write_text(CLINIC_PHRASES)
    return load_domain(tmp_path / "clinic.yaml")


def test_a_clinic_written_from_the_docs_gets_its_booking_rules(tmp_path):
    """The issue's clinic: booked appointments on open slots and double-booked slots, from a spec
    that says nothing but the tools. Both rules come from book_appointment's effect."""
    texts = [r.text for r in history(_clinic(tmp_path)).for_entity("appointment")]
    assert '(appointment.status != "booked") or (appointment.slot.status == "booked")' in texts
    assert any("none(other in appointment" in t and "other.slot == appointment.slot" in t for t in texts)


def test_clinic_worlds_hold_no_booking_the_tools_could_not_make(tmp_path, monkeypatch):
    domain = _clinic(tmp_path)
    for task in generate_tasks(domain, n=12, seed=1):
        assert check_task(domain, task).ok
        db = task.initial_db
        booked = [a for a in db["appointment"].values() if a["status"] == "booked"]
        assert all(db["slot"][a["slot"]]["status"] == "booked" for a in booked)
        assert len({a["slot"] for a in booked}) == len(booked)
    # the same generator without the rules: verify's second engine finds the impossible bookings
    import envsynth.state.world as world
    monkeypatch.setattr(fill, "history", lambda d: History((), ()))
    monkeypatch.setattr(world, "history", lambda d: History((), ()))
    domain = _clinic(tmp_path)
    caught = sum(any("no tool could have made it" in p for p in check_task(domain, t).problems)
                 for t in generate_tasks(domain, n=12, seed=1))
    assert caught > 0
