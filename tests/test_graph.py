"""The tool dependency graph: edges with reasons, exports, lints."""

import json

from envsynth.plan.graph import build_graph, lint_graph, write_graph
from envsynth.spec.loader import parse_spec_text


def edges(g, u, v):
    return [d for a, b, d in g.edges(data=True) if a == u and b == v]


def test_edges_say_why(airline, retail):
    g = build_graph(airline)
    assert any(d["kind"] == "select" for d in edges(g, "search_flights", "book_reservation"))
    assert any(d["kind"] == "creates" for d in edges(g, "book_reservation", "cancel_reservation"))
    enables = [d for d in edges(g, "cancel_reservation", "change_cabin") if d["kind"] == "enables"]
    assert enables and "reservation.status" in enables[0]["reason"]
    g2 = build_graph(retail)
    assert any(d["kind"] == "select" for d in edges(g2, "find_user_id_by_email", "get_user_details"))


def test_exports(airline, tmp_path):
    written = write_graph(build_graph(airline), tmp_path / "g")
    names = {p.suffix for p in written}
    assert {".dot", ".json"} <= names
    data = json.loads((tmp_path / "g.json").read_text())
    assert len(data["nodes"]) == len(airline.tools)
    assert "digraph" in (tmp_path / "g.dot").read_text()


NO_SOURCE = """
domain: desk
today: 2026-01-01
actor: agent
entities:
  agent:
    fields: {name: {type: str, pool: names}}
    refer: {by_id: {id: true}}
  ticket:
    fields:
      status: {type: enum, values: [open, closed]}
      note: {type: int, min: 0, max: 9}
pools: {names: [Ann, Bo]}
tools:
  close_ticket:
    kind: write
    description: Close a ticket.
    args: {ticket_id: {ref: ticket}}
    requires: ['ticket.status == "open"']
    effects: ['ticket.status = "closed"', 'ticket.note = 3']
"""


def test_lints_find_unsuppliable_arguments_and_unread_effects():
    d = parse_spec_text(NO_SOURCE, "desk.yaml")
    msgs = [l.message for l in lint_graph(d, build_graph(d))]
    assert any("ticket_id" in m and "no tool returns" in m for m in msgs)
    assert any("ticket.note" in m for m in msgs)
