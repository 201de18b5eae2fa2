"""Text from outside (file names, spec names, anything a finding quotes) made safe to show.

A file name can hold bytes that are not UTF-8 (Python keeps them as lone surrogates, which no
UTF-8 output can encode) and a spec's `name:` can hold escape sequences that would retitle the
terminal or clear it. Every report passes such text through here: control characters, lone
surrogates, line separators and bidirectional overrides are written as escapes (``\\x1b``,
``\\xff`` for a byte that is not UTF-8, ``\\u202e``); markdown and JSON get their own escaping.
"""

from __future__ import annotations

import json
import re
from typing import Any

#: C0 and C1 controls and DEL, lone surrogates, the line and paragraph separators, and the
#: invisible marks and overrides that reorder text (the "Trojan Source" characters).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
#: What json.dumps leaves raw that a terminal or a UTF-8 encoder would not survive.
_JSON_UNSAFE = re.compile(
    "[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_MARKDOWN = re.compile(r"([\\`*_\[\]<>&|~])")


_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_char(char: str) -> str:
    """``\\x1b``, ``\\n``; ``\\xff`` for the byte 0xff of a name that is not UTF-8 (as
    surrogateescape keeps it)."""
    if char in _SHORT:
        return _SHORT[char]
    n = ord(char)
    if 0xDC80 <= n <= 0xDCFF:
        return f"\\x{n - 0xDC00:02x}"
    return f"\\x{n:02x}" if n <= 0xFF else f"\\u{n:04x}"


def is_visible(text: str, keep: str = "") -> bool:
    """Whether :func:`visible` leaves ``text`` as it is."""
    return all(c in keep for c in _UNSAFE.findall(text))


def visible(text: str, keep: str = "") -> str:
    """``text`` with every unsafe character but those in ``keep`` written as an escape."""
    return _UNSAFE.sub(lambda m: m.group() if m.group() in keep else escape_char(m.group()), text)


def _json_char(m: re.Match[str]) -> str:
    char = m.group()
    if "\ud800" <= char <= "\udfff":  # not text: no JSON string can carry it in UTF-8
        return "\\" + escape_char(char)  # the JSON of a backslash, then xff
    return f"\\u{ord(char):04x}"  # text: carried exactly, as a JSON escape


def json_string(text: str) -> str:
    """A JSON string literal (also a YAML double-quoted scalar) of ``text``: valid UTF-8 with
    no raw control character; a byte that is not UTF-8 becomes the four characters ``\\xff``."""
    return _JSON_UNSAFE.sub(_json_char, json.dumps(text, ensure_ascii=False))


def json_dumps(doc: Any) -> str:
    """A JSON document, ending with a newline, as :func:`json_string` escapes, indented by
    two spaces, one entry a line, except for the entries of an array that hold no object
    (a layer, a finding) and arrays of numbers (a shape): those are written on one line.
    Python's json module indents only in its pure-Python encoder, which took 0.5 s for a
    20,000-layer report; the one-line values go through its C encoder."""
    parts: list[str] = []
    _indented(doc, 0, parts)
    return _JSON_UNSAFE.sub(_json_char, "".join(parts)) + "\n"


def _holds_object(value: Any) -> bool:
    items = value.values() if isinstance(value, dict) else value
    return any(
        isinstance(v, dict) or (isinstance(v, (list, tuple)) and _holds_object(v)) for v in items
    )


#: one encoder for every line (json.dumps with ensure_ascii=False builds one a call)
_encode = json.JSONEncoder(ensure_ascii=False).encode


def _indented(value: Any, depth: int, out: list[str], entry: bool = False) -> None:
    """``entry``: the value is an entry of an array."""
    if not isinstance(value, (dict, list, tuple)) or not value:
        out.append(_encode(value))
        return
    children = value.values() if isinstance(value, dict) else value
    # an object, or an array of them, right inside: indented without encoding it first
    if (entry or not isinstance(value, dict)) and not any(
        isinstance(v, dict) or (isinstance(v, (list, tuple)) and v and isinstance(v[0], dict))
        for v in children
    ):
        line = _encode(value)
        # no `{` after the first character: no object inside (the common case, 20,000
        # layers); else a `{` in a string may have misled, so look at the value itself
        if line.find("{", 1) < 0 or not _holds_object(value):
            out.append(line)
            return
    inner = "\n" + "  " * (depth + 1)
    close = "\n" + "  " * depth
    if isinstance(value, dict):
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            out.append(("," if i else "") + inner + _encode(str(key)) + ": ")
            _indented(item, depth + 1, out)
        out.append(close + "}")
    else:
        out.append("[")
        for i, item in enumerate(value):
            out.append(("," if i else "") + inner)
            _indented(item, depth + 1, out, entry=True)
        out.append(close + "]")


def markdown_text(text: str) -> str:
    """Text for markdown prose or a table cell: no markup, no HTML, no cell break."""
    return _MARKDOWN.sub(r"\\\1", visible(text))


def markdown_code(text: str, *, table: bool = False) -> str:
    """A code span that shows ``text`` exactly (HTML, mentions and links are inert in one),
    fenced with more backticks than ``text`` holds in a row; ``table``: inside a table
    cell, where a `|` must be escaped even in a code span."""
    text = visible(text)
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text[:1] == "`" or text[-1:] == "`" or (text[:1] == text[-1:] == " ") else ""
    if table:
        text = text.replace("|", "\\|")
    return f"{fence}{pad}{text}{pad}{fence}"


def markdown_message(text: str) -> str:
    """A finding's message in markdown: the parts it quotes in backticks stay code spans,
    the rest is escaped prose (all of it, when its backticks do not pair up)."""
    parts = text.split("`")
    if len(parts) % 2 == 0 or len(parts) == 1:
        return markdown_text(text)
    return "".join(
        markdown_code(part) if i % 2 else markdown_text(part) for i, part in enumerate(parts)
    )


def fence_for(text: str) -> str:
    """A code fence longer than any run of backticks in ``text`` (at least three)."""
    return "`" * max(3, max((len(run) for run in re.findall("`+", text)), default=0) + 1)
