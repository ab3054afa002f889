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

from ..errors import EnvsynthError, SpecError, SpecErrors

Path = tuple
MAX_FILE_BYTES = 5_000_000  # a spec or phrases file; anything larger is the wrong file
MAX_VALUES = 200_000  # values a document may expand to (YAML aliases can multiply a small file)


def read_text(path, what: str = "spec") -> str:
    """The text of a YAML file a user gives, or a located error in plain words: missing or
    unreadable, too large, binary, or not UTF-8 (with the line and column of the first bad byte)."""
    import pathlib

    path = pathlib.Path(path)
    file = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SpecErrors([SpecError(f"the file is {size / 1e6:.1f} MB; a {what} file is at most "
                                        f"{MAX_FILE_BYTES // 1_000_000} MB", file, 1, 1, "is this the right file?")])
        data = path.read_bytes()
    except OSError as e:
        raise EnvsynthError(f"cannot read {file}: {e.strerror or e}") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data[:nul].count(b"\n") + 1
        raise SpecErrors([SpecError(f"this is a binary file, not YAML text (a zero byte at line {line})",
                                    file, 1, 1, f"give the {what} file itself, saved as text")])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        shown = data[data.rfind(b"\n", 0, e.start) + 1: e.start].decode("utf-8", "replace")
        raise SpecErrors([SpecError(f"the file is not UTF-8 text: byte 0x{data[e.start]:02x} cannot be read",
                                    file, line, col, "save the file as UTF-8 (most editors: Save with Encoding > UTF-8)",
                                    source_line=shown)]) from None


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


if getattr(yaml, "__with_libyaml__", False):
    class _FastLoader(yaml.composer.Composer, yaml.cyaml.CParser, yaml.resolver.Resolver):
        """libyaml's scanner and parser (the pure-Python ones took 16 of the 18 s a 400-tool spec
        spent loading) under PyYAML's own composer and resolver, so the nodes - values, tags,
        styles, positions - and the nesting limit are those of `yaml.SafeLoader`."""

        def __init__(self, stream):
            yaml.cyaml.CParser.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            yaml.resolver.Resolver.__init__(self)

        def compose_scalar_node(self, anchor):
            node = super().compose_scalar_node(anchor)
            if node.style == "":  # libyaml's plain style; PyYAML's is None
                node.style = None
            return node
else:  # pragma: no cover - PyYAML built without libyaml
    _FastLoader = None


def _compose(text: str) -> Any:
    """The YAML node tree of `text`. Parsed by libyaml when PyYAML has it; a document libyaml
    rejects is parsed again by PyYAML, whose errors (and their explanations below) are the ones
    spec authors see."""
    if _FastLoader is not None:
        try:
            return yaml.compose(text, Loader=_FastLoader)
        except yaml.YAMLError:
            pass
    return yaml.compose(text, Loader=yaml.SafeLoader)


def load(text: str, file: str) -> tuple[Any, SourceMap]:
    """Parse YAML text into plain Python data plus a SourceMap. Raises SpecError."""
    smap = SourceMap(file, text)
    lines = text.splitlines()
    try:
        node = _compose(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = (e.problem or "invalid YAML").strip()
        raise _explain_yaml(problem, file, line, col, lines) from None
    except yaml.reader.ReaderError as e:
        before = text[: e.position]
        line, col = before.count("\n") + 1, e.position - (before.rfind("\n") + 1) + 1
        raise SpecError(f"this line holds a control character (code {e.character!r}) that YAML does not allow",
                        file, line, col, "delete it (it is invisible in most editors)") from None
    except yaml.YAMLError as e:  # pragma: no cover - defensive
        raise SpecError(f"this is not valid YAML: {e}", file, 1, 1) from None
    except RecursionError:
        raise SpecError("the YAML is nested too deeply", file, 1, 1, "flatten the structure") from None
    if node is None:
        raise SpecError("the spec file is empty", file, 1, 1, "start with 'domain: <name>'")
    try:
        return _build(node, (), smap, frozenset(), [0]), smap
    except RecursionError:
        raise SpecError("the YAML is nested too deeply", file, 1, 1, "flatten the structure") from None


def _explain_yaml(problem: str, file: str, line: int, col: int, lines: list[str]) -> SpecError:
    """PyYAML's problem, in the words of the mistake a spec author most likely made."""
    src = lines[line - 1] if 0 < line <= len(lines) else ""
    prev = lines[line - 2] if 1 < line <= len(lines) else ""
    if "\\t" in problem or "\t" in problem or "tab" in problem.lower():
        return SpecError("a tab is used for indentation", file, line, col, "indent with spaces, not tabs")
    if "chomping or indentation" in problem and "!" in src:
        bang = src.index("!") + 1
        return SpecError("a value starting with '!' is a YAML tag, not a condition", file, line, bang,
                         "write 'not (...)', or quote the whole condition")
    if "expected <block end>, but found '<scalar>'" in problem or "expected <block end>, but found" in problem:
        return SpecError("a value that starts with a quote must end with it", file, line, col,
                         "quote the whole value, e.g. check: '\"active\" == loan.status'")
    if "mapping values are not allowed" in problem:
        stripped = src.strip()
        if stripped.startswith("error:") and prev.strip().startswith("- ") and "check:" not in prev:
            indent = len(prev) - len(prev.lstrip()) + 3
            return SpecError("this requirement has an 'error:' but no 'check:'", file, line - 1, indent,
                             "write '- check: <condition>' when the item has an 'error:'")
        return SpecError(f"this is not valid YAML: {problem}", file, line, col,
                         "quote values that contain ': ' (for example expressions), or fix the indentation")
    return SpecError(f"this is not valid YAML: {problem}", file, line, col,
                     "check indentation and that every 'key: value' has a space after the colon")


def _build(node: yaml.Node, path: Path, smap: SourceMap, stack: frozenset, count: list) -> Any:
    if id(node) in stack:  # an alias that contains itself (x: &a [*a])
        raise SpecError("this YAML alias refers to itself", smap.file, node.start_mark.line + 1,
                        node.start_mark.column + 1, "write the value out instead of using an anchor")
    count[0] += 1
    if count[0] > MAX_VALUES:  # aliases of aliases ("billion laughs") multiply a small file
        raise SpecError(f"the YAML expands to more than {MAX_VALUES:,} values", smap.file,
                        node.start_mark.line + 1, node.start_mark.column + 1,
                        "an anchor (&) is repeated through aliases (*) many times over: write the values out")
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
        return [_build(child, path + (i,), smap, stack, count) for i, child in enumerate(node.value)]
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
            out[key] = _build(vnode, path + (key,), smap, stack, count)
        return out
    raise SpecError("unsupported YAML node", smap.file, node.start_mark.line + 1, 1)  # pragma: no cover
