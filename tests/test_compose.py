"""benchmarks/compose.py: large specs composed from the shipped domains load, check, are renamed
apart, share one actor, are linked across modules, and the small one generates verified tasks."""

import importlib.util
import sys
from pathlib import Path

import networkx as nx
import pytest
import yaml

from envsynth.check import check_domain
from envsynth.generate import generate_tasks
from envsynth.plan.graph import build_graph
from envsynth.play.environment import Environment
from envsynth.spec.loader import load_domain
from envsynth.verify import check_task

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("compose", ROOT / "benchmarks" / "compose.py")
compose = importlib.util.module_from_spec(_spec)
sys.modules["compose"] = compose
_spec.loader.exec_module(compose)

SHIPPED = {d: yaml.safe_load((ROOT / "specs" / f"{d}.yaml").read_text()) for d in compose.ORDER}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("composed")
    return {s: compose.write(s, out) for s in compose.SIZES}


@pytest.fixture(scope="module")
def small(written):
    return load_domain(written[20])


def _modules(size):
    return [compose.Module(d, k) for d, k in compose.plan(size)]


def test_sizes_are_close_to_what_is_asked(written):
    for size, path in written.items():
        n = len(yaml.safe_load(path.read_text())["tools"])
        assert 0.9 * size <= n <= 1.05 * size, (size, n)


@pytest.mark.parametrize("size", [20, 50, 100])
def test_composed_specs_load(written, size):
    """The loader's typecheck resolves every renamed name (an unrenamed one is an error there)."""
    d = load_domain(written[size])
    assert len(d.tools) == len(yaml.safe_load(written[size].read_text())["tools"])
    assert d.actor == "person"


def test_names_are_renamed_apart(written):
    """Each module's entities, tools and pools carry its prefix, one module per shipped domain
    copy; no shipped name survives unprefixed; a tool keeps its shipped body under the new name."""
    spec = yaml.safe_load(written[400].read_text())
    mods = _modules(400)
    assert len({m.prefix for m in mods}) == len(mods) > 6
    assert any(m.copy > 1 for m in mods)
    for name in spec["entities"]:
        assert name == "person" or sum(name.startswith(m.prefix) for m in mods) == 1, name
    for name in spec["pools"]:
        assert name.startswith("person_") or sum(name.startswith(m.prefix) for m in mods) == 1, name
    for m in mods:
        shipped = SHIPPED[m.domain]["tools"]
        for t in shipped:
            assert m.prefix + t in spec["tools"]
            assert spec["tools"][m.prefix + t]["kind"] == shipped[t]["kind"]
        assert not set(shipped) & set(spec["tools"])
    # a path through links is renamed by the type of each step: only the actor's own fields move
    tools = spec["tools"]
    assert "bank1_account.owner == actor or bank1_account.co_owner == actor" in \
        [r["check"] for r in tools["bank1_get_account_balance"]["requires"]]
    assert any("person.air1_balance >= price" == r["check"] for r in tools["air1_book_reservation"]["requires"])


def test_the_actor_is_one_shared_entity(written):
    spec = yaml.safe_load(written[100].read_text())
    actors = {SHIPPED[d]["actor"] for d in compose.ORDER} - {"person"}  # calendar calls its actor person
    assert spec["actor"] == "person"
    assert not actors & set(spec["entities"])
    assert not any(e.endswith(("_user", "_customer", "_employee")) for e in spec["entities"])
    person = spec["entities"]["person"]
    assert {"first_name", "last_name", "email"} <= set(person["fields"])
    # every module's actor fields live on person, under the module's prefix
    for m in _modules(100):
        own = [f for f in SHIPPED[m.domain]["entities"][m.actor]["fields"] if f not in compose.SHARED]
        assert all(m.prefix + f in person["fields"] for f in own)
    # every link to a shipped actor (account.owner, reservation.user, employee.manager) now
    # points at person
    refs = [f["entity"] for e in spec["entities"].values() for f in e["fields"].values() if f["type"] == "ref"]
    assert refs.count("person") >= 15
    assert not actors & set(refs)


def test_modules_are_linked_into_one_tool_graph(written):
    """A ref field from each module's entity into the previous module's, and a tool that shows
    it, feed the previous module's tools: the tool graph is connected across modules."""
    d = load_domain(written[50])
    mods = _modules(50)
    crossing = [(e.name, f.name, f.type.entity) for e in d.entities.values() for f in e.ref_fields()
                if f.type.entity != "person" and not f.type.entity.startswith(e.name.split("_")[0] + "_")]
    assert len(crossing) == len(mods) - 1
    g = build_graph(d)
    assert nx.is_weakly_connected(g)
    prefix = lambda t: t.split("_")[0]  # noqa: E731
    across = {(prefix(a), prefix(b)) for a, b, *_ in g.edges if prefix(a) != prefix(b)}
    assert len(across) >= len(mods) - 1
    # each link tool reveals ids the previous module's tools take (not only the shared person)
    for p, m in zip(mods, mods[1:]):
        tool = f"{m.prefix}get_{m.hub}_{p.prefix}{p.hub}"
        assert any(b.startswith(p.prefix) for _a, b in g.out_edges(tool)), tool


def test_phrasings_name_their_module(written):
    """Two copies of a domain never share a request: each names its module."""
    ph = yaml.safe_load((written[100].parent / "templates" / "composed100" / "phrases.yaml").read_text())
    mods = {m.prefix: m for m in _modules(100)}
    for tool, texts in ph["intents"].items():
        label = mods[tool.split("_")[0] + "_"].label
        assert all(t.startswith(label + ": ") for t in texts), tool
    texts = [t for v in ph["intents"].values() for t in v]
    assert len(texts) == len(set(texts))


def test_the_small_spec_checks_clean(small):
    report = check_domain(small)  # retail exchanges take 4 steps
    assert not report.errors and not report.warnings, [f.message for f in report.findings
                                                       if f.severity != "info"]
    assert report.tools_reached == set(small.tools)


def test_the_small_spec_generates_verified_tasks(small):
    tasks = generate_tasks(small, n=4, seed=1)
    assert len(tasks) == 4
    for t in tasks:
        r = check_task(small, t)
        assert r.ok, (t.id, r.problems)
        assert Environment(small, t).score().reward == 0.0


def test_libyaml_loading_gives_pyyamls_nodes(written):
    """The spec loader parses with libyaml for speed: same data and the same positions (line,
    column, quoting style) as PyYAML's own parser, on every shipped file and a composed spec."""
    from envsynth.spec import source

    files = sorted((ROOT / "specs").glob("*.yaml")) + sorted((ROOT / "templates").glob("*/phrases.yaml"))
    files.append(written[50])
    for f in files:
        text = f.read_text()
        fast = source.load(text, str(f))
        orig = source._compose
        try:
            source._compose = lambda t: yaml.compose(t, Loader=yaml.SafeLoader)
            slow = source.load(text, str(f))
        finally:
            source._compose = orig
        assert fast[0] == slow[0], f
        assert fast[1].values == slow[1].values and fast[1].keys == slow[1].keys, f


def test_static_analysis_of_a_long_chain_of_links_finds_no_false_errors(written):
    """Records linked three deep share their deepest links in the value-range analysis; their
    invariants do not hold of shared links (an incident's caller and assignee both the one
    person), and before they were left out every requirement reading such a record was
    reported as one that can never hold."""
    from envsynth.state.analysis import static_findings

    d = load_domain(written[100])
    errors = [f.message for f in static_findings(d) if f.severity == "error"]
    assert not errors, errors[:3]
