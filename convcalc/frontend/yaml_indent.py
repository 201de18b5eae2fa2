"""YAML indentation mistakes, said in the user's words instead of PyYAML's.

PyYAML reports a line indented between two levels as "expected <block end>, but found
'<block mapping start>'", and a key indented under a key whose value is already given as
"mapping values are not allowed here". Both are one line at the wrong indentation: this module
says which line, how far it is indented, and where it could go.
"""

from __future__ import annotations

import re

from ..source import SourceFile

_KEY = re.compile(r"^(\s*)(?:- )?([^\s#:][^:#]*?):(?:\s|$)")


def _indent(text: str) -> int:
    return len(text) - len(text.lstrip(" "))


def _content(text: str) -> bool:
    stripped = text.strip()
    return bool(stripped) and not stripped.startswith("#")


def _above(file: SourceFile, line: int) -> list[tuple[int, str]]:
    """The lines with content above ``line``, nearest first: (line number, text)."""
    return [(n, file.line_text(n)) for n in range(line - 1, 0, -1) if _content(file.line_text(n))]


def _name(text: str) -> str:
    m = _KEY.match(text)
    return f"`{m.group(2).strip()}:`" if m else f"`{text.strip()[:30]}`"


def indentation(file: SourceFile, line: int, problem: str) -> tuple[str, str] | None:
    """(message, help) when the YAML error at ``line`` is a line at the wrong indentation."""
    text = file.line_text(line)
    if not _content(text) or "\t" in text[: _indent(text) + 1]:
        return None
    above = _above(file, line)
    if not above:
        return None
    here = _indent(text)
    if "expected <block end>" in problem:
        # between the block above (deeper) and its parent (shallower)
        deeper = next(((n, t) for n, t in above if _indent(t) > here), None)
        parent = next(((n, t) for n, t in above if _indent(t) < here), None)
        if deeper is None:
            return None
        inner = _indent(deeper[1])
        outer = _indent(parent[1]) if parent else 0
        where = f"the {_name(deeper[1])} above it ({_spaces(inner)})"
        if parent is not None:
            where = f"{_name(parent[1])} ({_spaces(outer)}) and " + where
        return (
            f"{_name(text)} is indented by {_spaces(here)}, between {where}: YAML cannot tell "
            "which mapping it belongs to",
            f"indent it by {_spaces(inner)}, like {_name(deeper[1])}, or by {_spaces(outer)}, "
            f"like {_name(parent[1]) if parent else 'the top-level keys'}",
        )
    if "mapping values are not allowed" in problem:
        n, previous = above[0]
        value = previous.split(":", 1)[1].strip() if _KEY.match(previous) else ""
        if here <= _indent(previous) or not value or value[0] in "|>&!":
            return None
        return (
            f"{_name(text)} is indented by {_spaces(here)}, more than {_name(previous)} on line "
            f"{n}, whose value is already given: YAML reads it as part of that value",
            f"indent it by {_spaces(_indent(previous))}, like {_name(previous)}; only a key "
            "with nothing after its `:` takes an indented block",
        )
    return None


def _spaces(n: int) -> str:
    return f"{n} space{'s' if n != 1 else ''}"
