"""Empty links (`nullable: true` ref fields) and the links people describe records through
(`refer_through`), as every back-end reads them.

A nullable link holds a record or `null`. Conditions compare the link itself (`incident.assignee
== null`, `== actor`); reading a field through a link that may be empty is a type error there
(spec/typecheck.py), so no condition depends on what a missing record would hold. Descriptions
may state a value through one ("the change of Ava Smith" states requester.first_name): a record
whose link is empty fits no such statement, in the runtime (None), in Z3 (None folds to false),
in SQL (NULL IS 'Ava' is false) and in the planner, which is told so by `nonempty_links`.
"""

from __future__ import annotations

from . import grammar as E
from . import types as T
from .meaning import Description, path_node
from .model import Domain


def nullable_prefixes(entities: dict, entity: str, path) -> list[list[str]]:
    """The prefixes of `path` (from a record of `entity`) that end at a nullable link and that the
    path reads further through: `[requester]` for requester.first_name when requester may be empty."""
    out, ent = [], entity
    for i, step in enumerate(path[:-1]):
        if step == "id":
            continue
        f = entities[ent].fields[step]
        if f.type.kind != "ref":
            break
        if f.nullable and path[i + 1] != "id":
            out.append(list(path[: i + 1]))
        ent = f.type.entity
    return out


def nonempty_links(domain: Domain, d: Description) -> list[E.Node]:
    """`record.<link> != null` for every nullable link a description states a value through: the
    described record has that link (a description is never given through an empty one)."""
    me = E.Name(d.record, type=T.VType("ref", entity=d.ref.entity))
    out: list[E.Node] = []
    seen: set = set()
    for part in d.filters:
        for prefix in nullable_prefixes(domain.entities, d.ref.entity, part.path):
            if tuple(prefix) in seen:
                continue
            seen.add(tuple(prefix))
            link = path_node(domain, me, d.ref.entity, prefix)
            out.append(E.Compare("!=", link, E.Lit(None, "null", type=link.type), type=T.BOOL))
    return out


def tests_null(node: E.Node) -> bool:
    """Does a condition compare a link with `null`? (Its truth is a matter of which links a plan
    leaves empty - the planner's and the solver's to judge, not the value ranges'.)"""
    return any(isinstance(n, E.Lit) and n.kind == "null" for n in E.walk(node))
