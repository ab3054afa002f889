"""From an API description or nothing to a working spec: importers, gaps, scaffold."""

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from envsynth.cli import app
from envsynth.errors import SpecErrors
from envsynth.generate import GenerateOptions, generate
from envsynth.importers import import_functions, import_mcp, import_openapi, scaffold
from envsynth.spec.loader import load_domain, parse_spec_text
from envsynth.verify import verify_dir

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def gaps(text: str) -> list:
    with pytest.raises(SpecErrors) as e:
        parse_spec_text(text, "skeleton.yaml")
    return e.value.errors


def test_openapi_example_becomes_a_skeleton_with_located_gaps():
    doc = yaml.safe_load((ROOT / "examples/openapi/library.yaml").read_text())
    spec_text, phrases = import_openapi(doc)
    errs = gaps(spec_text)
    assert errs and all(e.message.startswith("gap to fill") for e in errs)
    assert all(e.line >= 1 and e.hint for e in errs)
    data = yaml.safe_load(spec_text)
    assert set(data["entities"]) == {"member", "book", "loan"}
    assert data["tools"]["search_books"]["returns"] == {"list": "book", "where": "book.title == title"}
    assert data["entities"]["loan"]["fields"]["member"] == {"type": "ref", "entity": "member"}
    assert "checkout_book" in yaml.safe_load(phrases)["intents"]


def test_filled_example_keeps_the_skeleton_shape_and_generates_verified_tasks(tmp_path):
    doc = yaml.safe_load((ROOT / "examples/openapi/library.yaml").read_text())
    skeleton = yaml.safe_load(import_openapi(doc)[0])
    spec = ROOT / "examples/city_library/city_library.yaml"
    filled = yaml.safe_load(spec.read_text())
    assert set(filled["tools"]) == set(skeleton["tools"])
    assert set(filled["entities"]) == set(skeleton["entities"])
    load_domain(spec)  # no gaps, no errors
    r = runner.invoke(app, ["check", str(spec)])
    assert r.exit_code == 0, r.output
    generate(str(spec), tmp_path, GenerateOptions(n=15, seed=1, refusals=0.2))
    assert all(c.ok for c in verify_dir(tmp_path))


def test_import_cli_writes_spec_and_templates(tmp_path):
    r = runner.invoke(app, ["import", "openapi", str(ROOT / "examples/openapi/library.yaml"), "-o", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "city_library.yaml").exists()
    assert (tmp_path / "templates/city_library/phrases.yaml").exists()
    r = runner.invoke(app, ["check", str(tmp_path / "city_library.yaml")])
    assert r.exit_code == 1 and "gap to fill" in r.output and "Traceback" not in r.output


def test_openai_functions_and_mcp_tool_lists():
    funcs = [
        {"type": "function", "function": {"name": "get_order", "description": "Look up an order.",
                                          "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}}}},
        {"type": "function", "function": {"name": "cancel_order", "description": "Cancel an order.",
                                          "parameters": {"type": "object", "properties": {
                                              "order_id": {"type": "string"},
                                              "reason": {"type": "string", "enum": ["late", "wrong item"]}}}}},
    ]
    text, _ = import_functions(funcs, "shop")
    data = yaml.safe_load(text)
    assert "order" in data["entities"]
    assert data["tools"]["get_order"]["kind"] == "read"
    assert data["tools"]["cancel_order"]["args"]["reason"] == {"type": "enum", "values": ["late", "wrong item"]}
    assert gaps(text)
    mcp = {"tools": [{"name": "freeze_card", "description": "Freeze a card.",
                      "inputSchema": {"type": "object", "properties": {"card_id": {"type": "string"}}}}]}
    text, _ = import_mcp(mcp, "bank")
    data = yaml.safe_load(text)
    assert data["tools"]["freeze_card"]["args"]["card_id"] == {"ref": "card"}
    assert any("effects" in e.source_line or "requires" in e.source_line for e in gaps(text))


def test_scaffold_generates_verified_tasks(tmp_path):
    paths = scaffold("helpdesk", tmp_path)
    spec = paths[0]
    r = runner.invoke(app, ["check", str(spec)])
    assert r.exit_code == 0, r.output
    out = tmp_path / "out"
    generate(str(spec), out, GenerateOptions(n=15, seed=2, refusals=0.2))
    assert all(c.ok for c in verify_dir(out))
    with pytest.raises(Exception):
        scaffold("helpdesk", tmp_path)  # never overwrites


def test_readme_mini_spec_is_the_shipped_example_and_generates_verified_tasks(tmp_path):
    """The spec and phrasings the README shows are examples/mini_air, verbatim, and they work:
    check is clean, tasks verify, and the description brings its near misses."""
    import re

    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", readme, re.S)
    example = ROOT / "examples" / "mini_air"
    assert (example / "mini_air.yaml").read_text() in blocks
    assert (example / "templates" / "mini_air" / "phrases.yaml").read_text() in blocks
    spec = example / "mini_air.yaml"
    r = runner.invoke(app, ["check", str(spec)])
    assert r.exit_code == 0 and "no problems found" in r.output, r.output
    out = tmp_path / "out"
    generate(str(spec), out, GenerateOptions(n=10, seed=0, refusals=0.2))
    assert all(c.ok for c in verify_dir(out))
    r = runner.invoke(app, ["show", str(out), "-n", "10"])
    assert "(outranked)" in r.output and "(state_trap)" in r.output
