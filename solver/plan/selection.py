"""Which descriptions a tool's results let an agent resolve.

A user describes a record ("the cheapest flight from SFO to LAX on Dec 3"); a plan may pick
that record out of a tool's list only if the agent can do so from what it sees: the tool lists
records of that entity, the description supplies the tool's search arguments, a list hanging
off a record goes through that record, and every field the description states is shown (a
linked record shows only its id unless the list expands it). `check` uses the same analysis to
say which references can never be used and what `expand` would fix it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from ..spec import grammar as E
from ..spec.model import Domain, Reference, Tool

def _links_to(listing, record_vars: set) -> list[list[str]]:
    """Link paths from the listed item to a record variable: `item.a.b == var` gives [a, b]."""
    out = []
    if listing.where is None:
        return out
    for c in E.conjuncts(listing.where):
        if isinstance(c, E.Compare) and c.op == "==":
            for a, b in ((c.left, c.right), (c.right, c.left)):
                pa, pb = E.path_of(a), E.path_of(b)
                if pa and pb and pa[0] == listing.item and len(pa) >= 2 and len(pb) == 1 and pb[0] in record_vars:
                    out.append(pa[1:])
    return out


def _goes_through(ref: Reference, path: list[str]) -> bool:
    """The description singles out the record at the end of `path`: it is the user ("my order"
    with scope [user]), or the user states a field of it ("the next booking of Orion"). A scope
    that merely passes through it ("a transfer I sent", scope from_account.owner) does not say
    which of the user's accounts to look in."""
    n = len(path)
    return ref.scope == path or any(p[:n] == path and len(p) > n for p in ref.filter)


@dataclass
class _Listing:
    """What a tool's candidate list offers for picking a record out of it."""

    listing: Any  # ListResult
    pinned: dict[str, list[str]]  # scalar argument -> the listed record's path it filters on
    scalar_args: list[str]
    anchors: list[list[str]]  # link paths from the listed record to a record the tool was given


def listing_of(tool: Tool) -> Optional[_Listing]:
    listing = tool.returns.lists()
    if listing is None:
        return None
    pinned: dict[str, list[str]] = {}
    if listing.where is not None:
        for c in E.conjuncts(listing.where):
            if isinstance(c, E.Compare) and c.op == "==":
                for a, b in ((c.left, c.right), (c.right, c.left)):
                    pa, pb = E.path_of(a), E.path_of(b)
                    if pa and pb and pa[0] == listing.item and len(pb) == 1 and pb[0] in tool.args:
                        pinned[pb[0]] = pa[1:]
    scalar_args = [a.name for a in tool.args.values() if not a.is_ref]
    # an included list hangs off the returned record through a link (order.user == user, or
    # appointment.pet.owner == owner): a description fits when it names that record - "my ..."
    # (scope) or a stated field of it. A list filtered by a record argument (meeting.room == room)
    # is searched because the user speaks of that record: the description must go through that
    # link ("my next meeting in Orion"), not around it ("my next meeting titled Standup" is found
    # from the user's own list)
    if tool.returns.kind == "record":
        anchors = _links_to(listing, {tool.returns.var})
    elif tool.returns.kind == "list":
        anchors = _links_to(listing, {a.var for a in tool.args.values() if a.is_ref})
    else:
        anchors = []
    return _Listing(listing, pinned, scalar_args, anchors)


def selectable_references(domain: Domain, tool: Tool) -> list[str]:
    """References that can pick one record out of this tool's candidate list.

    A reference fits when the list has the reference's entity; every scalar argument of the
    tool is pinned by the list condition to a field the reference's filter states (so the user's
    description supplies the search arguments); for a list hanging off a record the tool was
    given, the description goes through that record; and the agent can see every field the
    description states (`_hidden`)."""
    lst = listing_of(tool)
    if lst is None:
        return []
    out = []
    for rname, ref in domain.entities[lst.listing.entity].refs.items():
        if ref.by_id:
            continue
        if any(a not in lst.pinned or lst.pinned[a] not in ref.filter for a in lst.scalar_args):
            continue
        if (lst.anchors or tool.returns.kind == "record") and not any(_goes_through(ref, a) for a in lst.anchors):
            continue
        if hidden_fields(tool, ref, lst):
            continue
        out.append(rname)
    return out


def hidden_fields(tool: Tool, ref: Reference, lst: Optional[_Listing] = None) -> list[list[str]]:
    """Paths a description states through a link that the tool's listed records do not show: the
    agent sees a linked record's id, not its fields, unless the list `expand`s the link, the
    tool's search pins the value, or the link leads to the record the tool was asked about."""
    lst = lst or listing_of(tool)
    if lst is None or lst.listing.entity != ref.entity:
        return []
    stated = list(ref.filter) + ([ref.rank[0]] if ref.rank else []) + ([ref.scope] if ref.scope else [])
    out = []
    for path in stated:
        shown = path[:-1] if path[-1] == "id" else path  # a link's id is the link field itself
        prefix = shown[:-1]
        if not prefix or path in lst.pinned.values() or shown in lst.anchors or prefix in lst.anchors:
            continue  # a field of the listed record, a searched value, or what the list hangs off
        if not any(e[:len(prefix)] == prefix for e in lst.listing.expand):
            out.append(path)
    return out
