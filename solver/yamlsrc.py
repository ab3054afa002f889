"""YAML loading that remembers where every value came from.

Spec errors must point at file:line:column, so the loader keeps, for each path into the
document (("tools", "book", "requires", 0)), the position of its value and of its key.
Scalars follow YAML 1.2 core rules (only true/false are booleans: `values: [yes, no]` stays
strings; dates stay strings and are parsed by the spec layer) and duplicate keys are errors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from .errors import SpecError

Path = tuple


@dataclass(frozen=True)
class Pos:
    line: int  # 1-based
    col: int  # 1-based
    style: str | None = None  # scalar style: None (plain), "'", '"', "|", ">"
    end_line: int = 0


_INT = re.compile(r"^[-+]?[0-9]+$")
_FLOAT = re.compile(r"^[-+]?([0-9]+\.[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$")


def _scalar(node: yaml.ScalarNode) -> Any:
    v = node.value
    if node.style is not None:  # quoted or block: always a string
        return v
    low = v.lower()
    if v in ("", "~") or low == "null":
        return None
    if low in ("true", "false"):
        return low == "true"
    if _INT.match(v):
        return int(v)
    if _FLOAT.match(v):
        return float(v)
    return v


class SourceMap:
    """Positions of values and keys in one YAML document."""

    def __init__(self, file: str, text: str):
        self.file = file
        self.text = text
        self.values: dict[Path, Pos] = {}
        self.keys: dict[Path, Pos] = {}

    def pos(self, path: Path, key: bool = False) -> Pos:
        """Best position for `path`: the exact one, else the nearest enclosing value."""
        table = self.keys if key else self.values
        p = tuple(path)
        while p:
            if p in table:
                return table[p]
            if key and p in self.values:
                return self.values[p]
            p = p[:-1]
        return self.values.get((), Pos(1, 1))

    def expr_pos(self, path: Path, offset: int) -> tuple[int, int]:
        """Line and column of character `offset` inside the string scalar at `path`."""
        pos = self.pos(path)
        if pos.style in ("|", ">"):
            # Block scalar: content starts on the next line, indented.
            lines = self.text.splitlines()
            line_no = pos.line + 1
            indent = None
            consumed = 0
            for ln in range(pos.line, len(lines)):
                raw = lines[ln]
                if not raw.strip():
                    consumed += 1
                    continue
                if indent is None:
                    indent = len(raw) - len(raw.lstrip())
                seg = len(raw) - indent + 1
                if offset < consumed + seg:
                    return ln + 1, indent + (offset - consumed) + 1
                consumed += seg
                line_no = ln + 1
            return line_no, 1
        shift = 1 if pos.style in ("'", '"') else 0
        return pos.line, pos.col + shift + offset

    def line_text(self, line: int) -> str:
        lines = self.text.splitlines()
        return lines[line - 1] if 0 < line <= len(lines) else ""


def load(text: str, file: str) -> tuple[Any, SourceMap]:
    """Parse YAML text into plain Python data plus a SourceMap. Raises SpecError."""
    smap = SourceMap(file, text)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = (e.problem or "invalid YAML").strip()
        hint = "check indentation and that every 'key: value' has a space after the colon"
        if "tab" in problem.lower():
            hint = "indent with spaces, not tabs"
        elif "mapping values are not allowed" in problem:
            hint = "quote values that contain ': ' (for example expressions), or fix the indentation"
        raise SpecError(f"this is not valid YAML: {problem}", file, line, col, hint) from None
    except yaml.YAMLError as e:  # pragma: no cover - defensive
        raise SpecError(f"this is not valid YAML: {e}", file, 1, 1) from None
    except RecursionError:
        raise SpecError("the YAML is nested too deeply", file, 1, 1, "flatten the structure") from None
    if node is None:
        raise SpecError("the spec file is empty", file, 1, 1, "start with 'domain: <name>'")
    try:
        return _build(node, (), smap, frozenset()), smap
    except RecursionError:
        raise SpecError("the YAML is nested too deeply", file, 1, 1, "flatten the structure") from None


def _build(node: yaml.Node, path: Path, smap: SourceMap, stack: frozenset) -> Any:
    if id(node) in stack:  # an alias that contains itself (x: &a [*a])
        raise SpecError("this YAML alias refers to itself", smap.file, node.start_mark.line + 1,
                        node.start_mark.column + 1, "write the value out instead of using an anchor")
    stack = stack | {id(node)}
    smap.values[path] = Pos(
        node.start_mark.line + 1,
        node.start_mark.column + 1,
        getattr(node, "style", None),
        node.end_mark.line + 1,
    )
    if isinstance(node, yaml.ScalarNode):
        return _scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return [_build(child, path + (i,), smap, stack) for i, child in enumerate(node.value)]
    if isinstance(node, yaml.MappingNode):
        out: dict = {}
        for knode, vnode in node.value:
            if not isinstance(knode, yaml.ScalarNode):
                raise SpecError(
                    "a key must be a plain name",
                    smap.file,
                    knode.start_mark.line + 1,
                    knode.start_mark.column + 1,
                )
            key = knode.value
            if key in out:
                raise SpecError(
                    f"'{key}' appears twice in the same block",
                    smap.file,
                    knode.start_mark.line + 1,
                    knode.start_mark.column + 1,
                    f"merge the two '{key}' entries into one; YAML would silently keep only the last",
                )
            smap.keys[path + (key,)] = Pos(knode.start_mark.line + 1, knode.start_mark.column + 1)
            out[key] = _build(vnode, path + (key,), smap, stack)
        return out
    raise SpecError("unsupported YAML node", smap.file, node.start_mark.line + 1, 1)  # pragma: no cover
