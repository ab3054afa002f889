"""Stage 2: the tool dependency graph (networkx).

An edge A -> B means A can feed B, with the reasons on the edge:
- `ids`: A returns or reveals ids of an entity that B takes as an argument;
- `select`: A lists records a user can describe, and B takes such a record;
- `creates`: A creates records B acts on;
- `enables`: A changes a field B's preconditions read.
The graph is the basis of the spec lints (`envsynth check`) and can be exported as DOT, JSON
and a picture.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import networkx as nx

from ..spec import grammar as E
from ..spec.model import Domain, SetEffect, Tool


def _reads(tool: Tool) -> set[tuple[str, str]]:
    """(entity, field) pairs the tool's preconditions read."""
    out = set()
    nodes = [r.expr for r in tool.requires] + [n for _name, n, _t in tool.lets]
    for root in nodes:
        for n in E.walk(root):
            if isinstance(n, E.Attr) and n.obj.type is not None and n.obj.type.kind == "ref":
                out.add((n.obj.type.entity, n.name))
    return out


def _writes(domain: Domain, tool: Tool) -> set[tuple[str, str]]:
    out = set()
    for eff in tool.effects:
        if isinstance(eff, SetEffect):
            # entity of the target record: walk the typed target path
            ent = var_entity(domain, tool, eff.target[0])
            for step in eff.target[1:-1]:
                ent = domain.entities[ent].fields[step].type.entity
            out.add((ent, eff.target[-1]))
    return out


def var_entity(domain: Domain, tool: Tool, var: str) -> str:
    if var == "actor":
        return domain.actor
    for a in tool.args.values():
        if a.is_ref and a.var == var:
            return a.type.entity
    for c in tool.created():
        if c.var == var:
            return c.entity
    for name, _n, t in tool.lets:
        if name == var:
            return t.entity
    raise KeyError(var)


def _provides(domain: Domain, tool: Tool) -> dict[str, str]:
    """Entities whose ids the tool's result reveals -> how."""
    out: dict[str, str] = {}
    r = tool.returns
    if r.kind == "record":
        ent = var_entity(domain, tool, r.var)
        out[ent] = "returns"
        for f in domain.entities[ent].ref_fields():
            out.setdefault(f.type.entity, f"returns {ent}.{f.name}")
        for iname, lr in r.include.items():
            out.setdefault(lr.entity, "select")
    elif r.kind in ("list", "find"):
        out[r.listing.entity] = "select"
        for f in domain.entities[r.listing.entity].ref_fields():
            out.setdefault(f.type.entity, f"returns {r.listing.entity}.{f.name}")
    return out


def build_graph(domain: Domain) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph(domain=domain.name)
    for t in domain.tools.values():
        g.add_node(t.name, kind=t.kind, goal=t.is_goal, description=t.description.strip())
    reads = {t.name: _reads(t) for t in domain.tools.values()}
    for a in domain.tools.values():
        provides = _provides(domain, a)
        writes = _writes(domain, a)
        creates = {c.entity for c in a.created()}
        for b in domain.tools.values():
            if b.name == a.name:
                continue
            for arg in b.args.values():
                if not arg.is_ref:
                    continue
                ent = arg.type.entity
                if ent in provides:
                    how = provides[ent]
                    kind = "select" if how == "select" else "ids"
                    g.add_edge(a.name, b.name, kind=kind, entity=ent, arg=arg.name,
                               reason=f"{a.name} {how} {ent} ids -> {b.name}({arg.name})")
                if ent in creates:
                    g.add_edge(a.name, b.name, kind="creates", entity=ent, arg=arg.name,
                               reason=f"{a.name} creates a {ent} -> {b.name}({arg.name})")
            if a.is_write:
                shared = sorted(writes & reads[b.name])
                if shared:
                    fields = ", ".join(f"{e}.{f}" for e, f in shared)
                    g.add_edge(a.name, b.name, kind="enables", reason=f"{a.name} changes {fields}, read by {b.name}'s preconditions")
    return g


@dataclass
class Lint:
    severity: str  # warning | error
    message: str
    tool: Optional[str] = None


def lint_graph(domain: Domain, g: nx.MultiDiGraph) -> list[Lint]:
    """Problems visible from the graph alone (walk-level reachability is in `check`)."""
    out: list[Lint] = []
    given_entities = {e.name for e in domain.entities.values() if any(r.by_id for r in e.refs.values())}
    for t in domain.tools.values():
        for a in t.args.values():
            if not a.is_ref or a.type.entity in given_entities:
                continue
            feeders = [u for u, _v, d in g.in_edges(t.name, data=True) if d.get("arg") == a.name]
            if not feeders:
                out.append(Lint("warning", f"argument '{a.name}' of {t.name} ({a.type.entity} id): no tool returns "
                                f"{a.type.entity} ids and users cannot state them (add a reference 'by_id: {{id: true}}' "
                                f"or a tool that lists {a.type.entity} records)", t.name))
    read_anywhere = set()
    for t in domain.tools.values():
        read_anywhere |= _reads(t)
        nodes = []
        if t.answer is not None:
            nodes.append(t.answer)
        lst = t.returns.lists()
        if lst is not None and lst.where is not None:
            nodes.append(lst.where)
        for root in nodes:
            for n in E.walk(root):
                if isinstance(n, E.Attr) and n.obj.type is not None and n.obj.type.kind == "ref":
                    read_anywhere.add((n.obj.type.entity, n.name))
    for ent in domain.entities.values():
        for node, _src in ent.invariants:
            for n in E.walk(node):
                if isinstance(n, E.Attr):
                    read_anywhere.add((ent.name, n.name))
        for r in ent.refs.values():
            for p in r.filter:
                read_anywhere.add((ent.name, p[0]))
            if r.rank:
                read_anywhere.add((ent.name, r.rank[0][0]))
            if r.where is not None:
                for n in E.walk(r.where):
                    if isinstance(n, E.Attr):
                        read_anywhere.add((ent.name, n.name))
    for t in domain.tools.values():
        for ent, fname in sorted(_writes(domain, t)):
            if (ent, fname) not in read_anywhere:
                out.append(Lint("warning", f"{t.name} changes {ent}.{fname}, which no precondition, description "
                                f"or answer reads (fine if agents only need to get it right)", t.name))
    return out


def to_dot(g: nx.MultiDiGraph) -> str:
    colors = {"ids": "black", "select": "blue", "creates": "darkgreen", "enables": "red"}
    lines = [f'digraph "{g.graph.get("domain", "tools")}" {{', "  rankdir=LR;", '  node [fontname="Helvetica"];']
    for n, d in g.nodes(data=True):
        shape = "box" if d["kind"] == "write" else "ellipse"
        style = ',style="bold"' if d.get("goal") else ""
        lines.append(f'  "{n}" [shape={shape}{style}];')
    seen = set()
    for u, v, d in g.edges(data=True):
        key = (u, v, d["kind"])
        if key in seen:
            continue
        seen.add(key)
        label = d["kind"]
        lines.append(f'  "{u}" -> "{v}" [label="{label}", color={colors.get(d["kind"], "gray")}, '
                     f'tooltip="{d["reason"]}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_json(g: nx.MultiDiGraph) -> dict:
    return {
        "domain": g.graph.get("domain"),
        "nodes": [{"id": n, **d} for n, d in g.nodes(data=True)],
        "edges": [{"source": u, "target": v, **d} for u, v, d in g.edges(data=True)],
    }


def write_graph(g: nx.MultiDiGraph, out: Path) -> list[Path]:
    """Write out.dot, out.json and, when graphviz or matplotlib is available, out.png."""
    out = Path(out)
    stem = out.with_suffix("") if out.suffix in (".dot", ".json", ".png", ".svg") else out
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    dot = stem.with_suffix(".dot")
    dot.write_text(to_dot(g), encoding="utf-8")
    written.append(dot)
    js = stem.with_suffix(".json")
    js.write_text(json.dumps(to_json(g), indent=2) + "\n", encoding="utf-8")
    written.append(js)
    png = stem.with_suffix(".png")
    if shutil.which("dot"):
        subprocess.run(["dot", "-Tpng", str(dot), "-o", str(png)], check=False, capture_output=True)
        if png.exists():
            written.append(png)
            return written
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(10, 7))
        pos = nx.circular_layout(g)
        nx.draw_networkx(nx.DiGraph(g), pos, ax=ax, node_color="#dde7f7", font_size=8, arrows=True)
        ax.axis("off")
        fig.savefig(png, dpi=120, bbox_inches="tight")
        plt.close(fig)
        written.append(png)
    except ImportError:
        pass
    return written


def why_unreachable(domain: Domain, tool_name: str) -> str:
    """The likeliest reason no walk calls a tool, in the author's terms."""
    tool = domain.tools[tool_name]
    given = {e.name for e in domain.entities.values() if any(r.by_id for r in e.refs.values())}
    for a in tool.args.values():
        if a.is_ref and a.type.entity not in given:
            return (f"its argument '{a.name}' needs a {a.type.entity} id, which the user cannot state and "
                    "no tool within reach returns")
    if not tool.is_goal:
        return "it is a read tool with no 'answer' and its results feed no other tool"
    return "its preconditions cannot hold together with the ways to reach it (see the ASP program: envsynth walks --show-asp)"
