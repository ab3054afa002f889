"""Errors a user sees. Spec mistakes carry a location and say what to write instead."""

from __future__ import annotations

from dataclasses import dataclass, field


class EnvsynthError(Exception):
    """Base class for errors reported to the user as a message (never a traceback)."""


@dataclass
class SpecError(EnvsynthError):
    message: str
    file: str = "<spec>"
    line: int = 1
    col: int = 1
    hint: str = ""
    severity: str = "error"  # error | warning
    source_line: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.format()

    def format(self) -> str:
        head = f"{self.file}:{self.line}:{self.col}: {self.severity}: {self.message}"
        parts = [head]
        if self.source_line:
            parts.append(f"    {self.source_line.rstrip()}")
            parts.append("    " + " " * max(0, self.col - 1) + "^")
        if self.hint:
            parts.append(f"  hint: {self.hint}")
        return "\n".join(parts)


class SpecErrors(EnvsynthError):
    """Several located spec errors, reported together, in file order."""

    def __init__(self, errors: list[SpecError]):
        self.errors = sorted(errors, key=lambda e: (e.file, e.line, e.col))
        super().__init__("\n".join(e.format() for e in self.errors))

    def __str__(self) -> str:
        n = len(self.errors)
        body = "\n".join(e.format() for e in self.errors)
        return f"{body}\n{n} error{'s' if n != 1 else ''} in the spec"


class SpecInfeasible(EnvsynthError):
    """The spec is well-formed but no task can be generated; the message explains why."""


class ToolError(Exception):
    """A tool call failed; the message is returned to the agent as 'Error: ...'."""


@dataclass
class Finding:
    """One thing `check` (or an analysis it runs) has to say about a spec."""

    severity: str  # error | warning | info
    message: str
    where: str = ""
