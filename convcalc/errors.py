"""Findings and errors: data that renders itself.

A :class:`Finding` holds a rule code, a severity, a message, an optional ``help`` fix and a
location. ``Finding.render()`` prints it the same way for library users, tests and the CLI::

    specs/alexnet-224.yaml:5:12: CC201 warning: conv1: stride 4 does not fit ...
       5 | arch: INPUT -> CONV(96, F=11, S=4) -> RELU
         |                ^~~~~~~~~~~~~~~~~~~
      help: ...
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from .source import SourceFile, Span


class Severity(enum.IntEnum):
    """Ordered so that ``max()`` of severities is the worst one."""

    INFO = 1
    WARNING = 2
    ERROR = 3

    def __str__(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        return cls[text.upper()]


class Location(NamedTuple):
    file: str
    line: int | None = None
    column: int | None = None
    end_column: int | None = None
    source: SourceFile | None = None

    @classmethod
    def of(cls, span: Span) -> Location:
        line, col, end = span.location()
        file = span.source.file
        return cls(file.name, line, col, end, file)

    @classmethod
    def at(
        cls, file: SourceFile, line: int, column: int, end_column: int | None = None
    ) -> Location:
        return cls(file.name, line, column, end_column or column + 1, file)


class Finding(NamedTuple):
    code: str
    severity: Severity
    message: str
    location: Location
    help: str | None = None
    layer: str | None = None
    note: str | None = None

    @property
    def file(self) -> str:
        return self.location.file

    def header(self) -> str:
        loc = self.location
        where = loc.file
        if loc.line is not None:
            where += f":{loc.line}:{loc.column}"
        return f"{where}: {self.code} {self.severity}: {self.message}"

    def render(self) -> str:
        """The finding as text: header, source line with a caret, note and help."""
        lines = [self.header()]
        loc = self.location
        if loc.source is not None and loc.line is not None and loc.column is not None:
            text, column = _window(loc.source.line_text(loc.line), loc.column)
            text = "".join(c if c == "\t" or c.isprintable() else "\ufffd" for c in text)
            gutter = max(4, len(str(loc.line)))
            lines.append(f"{loc.line:>{gutter}} | {text}".rstrip())
            prefix = "".join("\t" if c == "\t" else " " for c in text[: column - 1])
            end = (loc.end_column or loc.column + 1) - loc.column + column
            width = max(1, min(end, len(text) + 1) - column)
            lines.append(" " * (gutter + 1) + "| " + prefix + "^" + "~" * (width - 1))
        if self.note:
            lines.append(f"  note: {self.note}")
        if self.help:
            first, *rest = self.help.splitlines()
            lines.append(f"  help: {first}")
            lines.extend(f"        {line}" for line in rest)
        return "\n".join(lines)

    def to_json(self) -> dict[str, object]:
        loc = self.location
        return {
            "code": self.code,
            "severity": str(self.severity),
            "message": self.message,
            "help": self.help,
            "file": loc.file,
            "line": loc.line,
            "column": loc.column,
            "end_column": loc.end_column,
            "layer": self.layer,
            "note": self.note,
        }


class ConvcalcError(Exception):
    """Base class of the errors convcalc raises on purpose."""


class SpecError(ConvcalcError):
    """A spec could not be loaded; ``findings`` says why (at least one error)."""

    def __init__(self, findings: Sequence[Finding]) -> None:
        self.findings = tuple(findings)
        # str() renders every finding; the argument is only the first header, so that raising
        # the error of a spec with 20,000 findings does not render them all (README, Limits).
        super().__init__(self.findings[0].header() if self.findings else "")

    def render(self) -> str:
        return "\n".join(f.render() for f in self.findings)

    def __str__(self) -> str:
        return self.render()


class FileError(ConvcalcError):
    """A spec file that cannot be read at all (the CLI exits 2)."""


class SpecNotFound(FileError):
    """A spec path that does not exist and is not the name of a bundled spec."""


class FindingError(ConvcalcError):
    """Raised inside the pipeline to stop at an error finding: ``finding``, the first, and
    ``more`` that the same stage found after recovering from it (every grammar error of a
    pattern, every unknown layer and wrong argument of an expansion)."""

    def __init__(self, finding: Finding, more: Sequence[Finding] = ()) -> None:
        self.finding = finding
        self.more = tuple(more)
        super().__init__(finding.render())

    @property
    def findings(self) -> tuple[Finding, ...]:
        return (self.finding, *self.more)

    @classmethod
    def of(cls, findings: Sequence[Finding]) -> FindingError:
        """The error of several findings (at least one)."""
        return cls(findings[0], findings[1:])


WINDOW = 100  # characters shown on each side of the column of a long source line


def _window(text: str, column: int) -> tuple[str, int]:
    """A long line cut around the column (with "…" where cut), and the column in it."""
    if len(text) <= 2 * WINDOW + 40:
        return text, column
    start = max(0, column - 1 - WINDOW)
    end = min(len(text), column - 1 + WINDOW)
    head = "…" if start else ""
    return head + text[start:end] + ("…" if end < len(text) else ""), column - start + len(head)


def excerpt(text: str, width: int = 40) -> str:
    """Source text quoted in a message, at most ``width`` characters: a long expression keeps
    its start and its end, with "…" between."""
    if len(text) <= width:
        return text
    half = (width - 1) // 2
    return text[:half] + "…" + text[len(text) - half :]


def worst(findings: Iterable[Finding]) -> Severity | None:
    return max((f.severity for f in findings), default=None)


class _Candidates:
    """Candidate words indexed by character, to skip the ones difflib would reject anyway.

    difflib.get_close_matches keeps a candidate only when its quick_ratio (2 × the characters
    in common / the total length) reaches the cutoff. Counting, per candidate, the characters
    of the word it contains at all gives an upper bound of that, in time proportional to the
    word: only the few candidates that pass it go to difflib, whose answer is therefore the
    same. Without it, 20,000 unknown names against 40 layer types took seconds.
    """

    def __init__(self, options: tuple[str, ...]) -> None:
        self.options = options
        self.by_lower = {o.lower(): o for o in options}
        self.index = self._index(options)
        self.lower_index = self._index(tuple(self.by_lower))

    @staticmethod
    def _index(options: tuple[str, ...]) -> dict[str, list[str]]:
        index: dict[str, list[str]] = {}
        for option in options:
            for char in set(option):
                index.setdefault(char, []).append(option)
        return index

    @staticmethod
    def plausible(word: str, index: dict[str, list[str]], cutoff: float) -> list[str]:
        shared: dict[str, int] = {}
        for char in set(word):
            n = word.count(char)
            for option in index.get(char, ()):
                shared[option] = shared.get(option, 0) + n
        total = len(word)
        return [
            option
            for option, n in shared.items()
            if 2.0 * min(n, len(option)) / (total + len(option)) >= cutoff - 1e-9
        ]


@functools.lru_cache(maxsize=8)
def _candidates(options: tuple[str, ...]) -> _Candidates:
    return _Candidates(options)


def suggest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to a misspelt word, or None (case differences come first)."""
    import difflib

    known = _candidates(tuple(sorted(set(candidates))))
    same_case = known.by_lower.get(word.lower())
    if same_case is not None:
        # the first option (sorted) whose lower case is the word's, as a scan would find
        return next(o for o in known.options if o.lower() == word.lower())
    options = known.plausible(word, known.index, 0.6)
    close = difflib.get_close_matches(word, sorted(options), n=1, cutoff=0.6) if options else []
    lowered = [] if close else known.plausible(word.lower(), known.lower_index, 0.6)
    if lowered:
        close = [
            known.by_lower[c]
            for c in difflib.get_close_matches(word.lower(), sorted(lowered), n=1, cutoff=0.6)
        ]
    return close[0] if close else None


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """`` (did you mean `X`?)`` or nothing."""
    best = suggest(word, candidates)
    return f"; did you mean `{best}`?" if best else ""
