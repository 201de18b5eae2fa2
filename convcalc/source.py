"""Source text and positions.

A spec file is read once into a :class:`SourceFile`. Every string that convcalc parses
further (the ``arch`` pattern, a block body, a block header) becomes a :class:`Source`: the
string YAML produced plus a map from each of its characters back to the file, so that a
token deep inside ``arch`` still reports the file's own line and column.
"""

from __future__ import annotations

import bisect
import re
from typing import NamedTuple

#: The line breaks of YAML (and of libyaml's marks): \r\n, a lone \r, \n, NEL, LS and PS.
LINE_BREAKS = "\r\n\x85\u2028\u2029"
_BREAK = re.compile("\r\n?|[\n\x85\u2028\u2029]")
#: What follows a bundled spec's name where a file name would show: ``vgg16 (bundled)``.
BUNDLED = " (bundled)"
#: The name of a spec read from standard input (``convcalc check -``).
STDIN = "<stdin>"


def is_file_name(name: str) -> bool:
    """Whether a spec's shown name is a file the user can open: not a bundled spec's name,
    not ``<stdin>``, ``<pattern>`` or ``<string>``. CI formats attach locations only to these."""
    return not name.startswith("<") and not name.endswith(BUNDLED)


class SourceFile:
    """The whole text of one spec file (or an inline ``-e`` pattern), with its lines broken
    where YAML breaks them, so that a YAML mark and an offset give the same line."""

    __slots__ = ("line_starts", "name", "text")

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.text = text
        starts = [0]
        if any(c in text for c in "\r\x85\u2028\u2029"):
            starts += [m.end() for m in _BREAK.finditer(text)]
        else:  # the usual \n-only file, at C speed
            find = text.find
            i = find("\n")
            while i >= 0:
                starts.append(i + 1)
                i = find("\n", i + 1)
        self.line_starts = tuple(starts)

    def __repr__(self) -> str:
        return f"SourceFile({self.name!r})"

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a character offset."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self.line_starts, offset) - 1
        return line + 1, offset - self.line_starts[line] + 1

    def offset(self, line: int, column: int) -> int:
        """Character offset of a 1-based (line, column)."""
        line = max(1, min(line, len(self.line_starts)))
        return self.line_starts[line - 1] + column - 1

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its newline."""
        if not 1 <= line <= len(self.line_starts):
            return ""
        start = self.line_starts[line - 1]
        end = self.line_starts[line] if line < len(self.line_starts) else len(self.text)
        return self.text[start:end].rstrip(LINE_BREAKS)


class Source(NamedTuple):
    """A string parsed by convcalc, with each character mapped to an offset in its file.

    ``runs`` holds (start in ``text``, start in the file) for every run of characters that
    advance together; it is derived by aligning the string with the file text (see
    :func:`align`).
    """

    file: SourceFile
    text: str
    runs: tuple[tuple[int, int], ...]

    @classmethod
    def whole(cls, file: SourceFile) -> Source:
        """The file itself as a source (inline patterns)."""
        return cls(file, file.text, ((0, 0),))

    def file_offset(self, index: int) -> int:
        i = bisect.bisect_right(self.runs, (index, 1 << 62)) - 1
        text_start, file_start = self.runs[max(i, 0)]
        return file_start + index - text_start

    def span(self, start: int, end: int) -> Span:
        return Span(self, start, end)


class Span(NamedTuple):
    """A half-open range [start, end) of characters in a :class:`Source`."""

    source: Source
    start: int
    end: int

    @property
    def text(self) -> str:
        return self.source.text[self.start : self.end]

    def to(self, other: Span) -> Span:
        """The span from the start of this one to the end of ``other``."""
        return Span(self.source, self.start, max(self.end, other.end))

    def location(self) -> tuple[int, int, int]:
        """(line, column, end column) in the file; the end stays on the start's line."""
        file = self.source.file
        line, col = file.line_col(self.source.file_offset(self.start))
        last = max(self.start, self.end - 1)
        end_line, end_col = file.line_col(self.source.file_offset(last))
        if end_line != line:
            end_col = len(file.line_text(line)) + 1
        else:
            end_col += 1
        return line, col, max(end_col, col + 1)


def align(value: str, file_text: str, start: int, end: int) -> tuple[tuple[int, int], ...]:
    """Map each character of a YAML scalar's value onto the file text it came from.

    YAML drops indentation, folds line breaks into spaces and removes quotes, but it keeps
    every other character in order. Each line of the value is first looked for whole in the
    file (block scalars keep their lines); what is not found is matched character by
    character to the next file character that can have produced it, so tokens (which never
    contain spaces) land on their exact file column. The result is a list of runs for
    :class:`Source`.
    """
    runs: list[tuple[int, int]] = []
    p = 0 if start < 0 else start
    i = 0
    for line in value.split("\n"):
        q = file_text.find(line, p, end) if line else p
        if q < 0:
            break
        runs.append((i, q))
        i += len(line) + 1
        p = q + len(line) + 1
    else:
        return tuple(runs) or ((0, start),)
    return tuple(runs) + _align_chars(value, file_text, i, p, end)


def _align_chars(
    value: str, file_text: str, i: int, p: int, end: int
) -> tuple[tuple[int, int], ...]:
    """The character-by-character alignment of ``value[i:]`` from file offset ``p``."""
    runs: list[tuple[int, int]] = []
    previous = -2
    for k in range(i, len(value)):
        ch = value[k]
        q = p
        while q < end:
            c = file_text[q]
            if c == ch or (ch == " " and c in LINE_BREAKS):
                break
            q += 1
        if q >= end:  # escapes in quoted strings: keep the rest on the last known place
            runs.append((k, min(p, max(end - 1, 0))))
            break
        if q != previous + 1:
            runs.append((k, q))
        previous = q
        p = q + 1
    return tuple(runs)


def char_name(ch: str) -> str:
    """``U+0663 ARABIC-INDIC DIGIT THREE``: a character as Unicode names it."""
    import unicodedata  # only when a finding needs it

    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X}" + (f" {name}" if name else "")


def digit_hint(text: str) -> str | None:
    """For text with a digit that is not ASCII (``٣``, ``３``, ``²``): which character it is,
    and the ASCII digits to write instead of its run of digits; None when there is none."""
    import unicodedata

    start = next((i for i, c in enumerate(text) if not c.isascii() and c.isdigit()), None)
    if start is None:
        return None
    end = start
    while end < len(text) and text[end].isdigit():
        end += 1
    run = text[start:end]
    ascii_ = "".join(str(unicodedata.digit(c, 0)) for c in run)
    fix = f"write {ascii_}" + (f" for `{run}`" if len(run) > 1 else "")
    return f"{char_name(text[start])} is not an ASCII digit; {fix}"
