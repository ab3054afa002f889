"""`envsynth check`: the author's companion - lints with locations, exit codes by severity."""

from pathlib import Path

from typer.testing import CliRunner

from envsynth.check import check_domain
from envsynth.cli import app
from envsynth.spec.loader import parse_spec_text

runner = CliRunner()

SPEC = """
domain: shop
today: 2026-01-01
actor: customer
pools: {names: [Ann, Bo, Cy], items: [pen, cup, hat]}
entities:
  customer:
    fields:
      name: {type: str, pool: names}
      credit: {type: money, min: 0, max: 100}
    refer: {by_id: {id: true}}
  item:
    fields:
      label: {type: str, pool: items}
      stock: {type: int, min: 0, max: 150}
      status: {type: enum, values: [listed, hidden]}
    refer:
      by_id: {id: true}
      hidden_one: {where: status == "hidden"}
      by_label: {filter: [label]}
tools:
  buy:
    kind: write
    description: Buy an item.
    args: {customer_id: {ref: customer}, item_id: {ref: item}}
    requires:
      - check: item.stock > 200
        error: not enough stock
    effects: ["item.stock -= 1"]
  look:
    kind: read
    description: Look at an item.
    args: {item_id: {ref: item}}
    returns: {record: item}
    answer: item.stock
"""


def test_lints_point_at_lines_and_say_why():
    d = parse_spec_text(SPEC, "shop.yaml")
    report = check_domain(d, max_len=2)
    msgs = [f.message for f in report.warnings]
    # a requirement no call can meet is an error: generate would only fail every attempt
    impossible = next(f.message for f in report.errors if "item.stock > 200" in f.message)
    assert impossible.startswith("shop.yaml:27:") and "item.stock is between 0 and 150" in impossible
    assert any(m.startswith("shop.yaml:20: reference 'by_label'") and "can never be used" in m for m in msgs), msgs
    assert any(m.startswith("shop.yaml:19: reference 'hidden_one'") and "fixed condition" in m for m in msgs), msgs
    assert report.exit_code == 1


def test_exit_codes(tmp_path):
    ok = runner.invoke(app, ["check", "airline"])
    assert ok.exit_code == 0
    p = tmp_path / "shop.yaml"
    p.write_text(SPEC.replace("item.stock > 200", "item.stock > 0"))
    warn = runner.invoke(app, ["check", str(p)])
    assert warn.exit_code == 3 and "warning:" in warn.output
    p.write_text(SPEC.replace("kind: write", "kind: wrtie"))
    bad = runner.invoke(app, ["check", str(p)])
    assert bad.exit_code == 1 and "did you mean 'write'" in bad.output
    js = runner.invoke(app, ["check", "retail", "--json"])
    assert js.exit_code == 0 and '"errors": []' in js.output


def test_forms_authors_expect_are_accepted():
    """A bare date in create values (as in field bounds) and a plain number as a let."""
    spec = """
domain: d
today: 2026-01-01
actor: u
entities:
  u:
    fields: {n: {type: int, min: 0, max: 9}}
    refer: {by_id: {id: true}}
  e:
    fields:
      due: {type: date, min: 2026-01-01, max: 2026-12-31}
      owner: {type: ref, entity: u}
tools:
  make:
    kind: write
    description: Make one.
    args: {u_id: {ref: u}}
    let: {three: 3}
    requires: ["u.n < three"]
    effects:
      - create: e
        values: {due: 2026-12-20, owner: u}
"""
    dom = parse_spec_text(spec, "d.yaml")
    assert dom.tools["make"].lets[0][0] == "three"


def test_a_phrasing_that_leaves_out_the_description_is_caught(tmp_path):
    """The plan finds the appointment as "my pet's next booked one": an intent phrasing with
    fixed words never says so. check renders sample tasks and says which phrasing to fix."""
    spec = Path(__file__).parent / "data" / "vet.yaml"
    (tmp_path / "vet.yaml").write_text(spec.read_text())
    phrases = tmp_path / "templates" / "vet" / "phrases.yaml"
    phrases.parent.mkdir(parents=True)
    good = ("intro: ['Hi, I am {{ me.first_name }}, client {{ me.id }}.']\n"
            "refs: {appointment: {my_pets_next: ['the next booked appointment for {{ pet.name }}']}}\n")
    phrases.write_text(good + "intents: {cancel_appointment: ['Please cancel {{ appointment }}.']}\n")
    r = runner.invoke(app, ["check", str(tmp_path / "vet.yaml")])
    assert r.exit_code == 0, r.output
    phrases.write_text(good + "intents: {cancel_appointment: ['Please cancel the appointment of my pet.']}\n")
    r = runner.invoke(app, ["check", str(tmp_path / "vet.yaml")])
    assert r.exit_code == 3
    out = " ".join(r.output.split())
    assert "my_pets_next of appointment" in out and "intents.cancel_appointment" in out
    assert "{{ appointment }}" in out


RX = """
domain: rx
today: 2026-01-01
actor: patient
pools: {names: [Ann, Bo, Cy], meds: [Aspirin, Naproxen, Statin]}
entities:
  patient:
    fields: {name: {type: str, pool: names}}
    refer: {by_id: {id: true}}
  medication:
    fields: {name: {type: str, pool: meds}}
    refer: {by_id: {id: true}}
  prescription:
    fields:
      patient: {type: ref, entity: patient}
      medication: {type: ref, entity: medication}
      written: {type: date, min: 2025-01-01, max: 2025-12-31}
      refills: {type: int, min: 0, max: 5}
    refer:
      by_id: {id: true}
      latest_for:                 # "my latest Naproxen prescription"
        scope: patient
        filter: [medication.name]
        rank: {by: written, order: desc}
tools:
  list_my_prescriptions:
    kind: read
    description: The asking patient's prescriptions.
    returns:
      list: prescription
      where: prescription.patient == actor
EXPAND
  refill:
    kind: write
    description: Refill a prescription.
    args: {prescription_id: {ref: prescription}}
    requires:
      - check: prescription.refills > 0
        error: no refills left
    effects:
      - prescription.refills -= 1
"""


def test_a_description_through_a_link_the_list_does_not_show_is_not_used_and_check_says_what_to_add():
    """The user says "my latest Naproxen prescription"; a list showing each prescription's
    medication only as an id cannot be searched for it, so no walk relies on it and check names
    the `expand` that makes it work."""
    from envsynth.plan.planner import enumerate_walks

    hidden = parse_spec_text(RX.replace("EXPAND\n", ""), "rx.yaml")
    assert not any(s.select for w in enumerate_walks(hidden, max_len=2) for s in w.steps)
    messages = [f.message for f in check_domain(hidden).findings]
    assert any("reference 'latest_for'" in m and "add 'expand: [medication]'" in m for m in messages), messages

    shown = parse_spec_text(RX.replace("EXPAND", "      expand: [medication]"), "rx.yaml")
    assert any(s.select and s.select.reference == "latest_for"
               for w in enumerate_walks(shown, max_len=2) for s in w.steps)
    assert not any("latest_for" in f.message for f in check_domain(shown).findings)


def test_a_phrasing_for_a_link_nobody_describes_records_through_is_reported():
    """itsm's change approver is `refer_through: false`: a `links` phrasing written for it would
    never be said, and check says so (planted: link_findings returning nothing - no warning)."""
    from envsynth.check import link_findings
    from envsynth.spec.loader import load_domain
    from envsynth.tasks.phrases import Templates

    d = load_domain("itsm")
    tpl = Templates(d)
    assert link_findings(d, tpl) == []
    tpl.raw = {**tpl.raw, "links": {"user": {"approver": ["the manager who signed off {{ parent }}"],
                                             "caller": ["the person who reported {{ parent }}"]}}}
    found = link_findings(d, tpl)
    assert len(found) == 1 and found[0].severity == "warning"
    assert "links.user.approver" in found[0].message and "refer_through: false" in found[0].message
