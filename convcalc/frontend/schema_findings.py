"""Pydantic's validation errors as findings at the YAML's line and column, in the words of the
spec format (what was found, what was expected, a did-you-mean for unknown keys)."""

from __future__ import annotations

import re
from typing import Any

from pydantic_core import ValidationError

from ..errors import Finding, did_you_mean, excerpt, suggest
from ..rules.catalogue import finding
from ..source import digit_hint
from .spec_schema import BUDGET_FIELDS, LINT_FIELDS, MEMORY_FIELDS, SPEC_FIELDS, ShapeError
from .yaml_reader import Path, YamlDoc


def schema_findings(doc: YamlDoc, exc: ValidationError) -> list[Finding]:
    findings: list[Finding] = []
    seen: set[tuple[str | int, ...]] = set()
    for error in exc.errors():
        loc = tuple(error["loc"])
        path = loc
        while path and path not in doc.nodes and path[:-1] and error["type"] != "missing":
            path = path[:-1]
        if path in seen:
            continue
        seen.add(path)
        dotted = ".".join(str(p) for p in path)
        kind = error["type"]
        if kind == "extra_forbidden":
            fields = _SECTIONS.get(str(path[0]) if len(path) > 1 else "", SPEC_FIELDS)
            key = str(path[-1])
            moved = _misplaced(doc, key) if len(path) == 1 else None
            findings.append(
                finding(
                    "CC104",
                    f"unknown key `{dotted}`{moved[0] if moved else did_you_mean(key, fields)}",
                    doc.location(path, key=True),
                    help=moved[1] if moved else "the keys are: " + ", ".join(fields),
                )
            )
        elif kind == "missing":
            findings.append(
                finding(
                    "CC105",
                    f"missing required key `{dotted}`",
                    doc.location(path[:-1]),
                    help=_MISSING_HELP.get(dotted),
                )
            )
        elif error.get("input") is not None and isinstance(
            error.get("ctx", {}).get("error"), ShapeError
        ):
            findings.append(_shape_finding(doc, path, error["ctx"]["error"], error["input"]))
        else:
            message = _message(error, path)
            sep = " " if message.startswith(("is ", "must ")) else ": "
            value = error.get("input")
            help = _MISSING_HELP.get(dotted) if value is None else None
            findings.append(
                finding(
                    "CC105",
                    f"`{dotted}`{sep}{message}",
                    doc.location(path),
                    help=digit_hint(value) if isinstance(value, str) else help,
                )
            )
    return findings


def _shape_finding(doc: YamlDoc, path: Path, error: ShapeError, value: Any) -> Finding:
    """CC105 for `input`, at the list item at fault when there is one."""
    dotted = ".".join(str(p) for p in path)
    if error.index is None:
        message = f"{error.problem}, got {_show(value)}"
        return finding("CC105", f"`{dotted}`: {message}", doc.location(path), help=error.hint)
    item = (*path, error.index)
    problem = error.problem
    node = doc.nodes.get(item)
    raw = getattr(node, "value", None)
    item_value = value[error.index]
    if (
        isinstance(item_value, bool)
        and isinstance(raw, str)
        and raw.lower() != str(item_value).lower()
    ):
        shown = str(item_value).lower()  # yes, no, on, off: YAML 1.1 booleans
        problem = problem.replace(
            f"is {shown} (a boolean)", f"is `{raw}`, which YAML reads as {shown} (a boolean)"
        )
    return finding(
        "CC105",
        f"`{dotted}`: {problem}",
        doc.location(item),
        help=error.hint or "write W, H and D as integers: input: [224, 224, 3] or input: 224x224x3",
    )


_MISSING_HELP = {
    "name": "name: my-network",
    "input": "input: 224x224x3   # width x height x depth",
    "arch": "arch: INPUT -> [CONV(32) -> RELU -> POOL]*2 -> FC(10)",
}


_EXPECTED = {
    "string_type": "expected text",
    "int_type": "expected an integer",
    "dict_type": "expected a mapping (key: value)",
    "bool_type": "expected true or false",
}


def _message(error: Any, path: tuple[str | int, ...]) -> str:
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx", {})
    if value is None:
        return "is empty" if kind != "dict_type" else "is empty: expected a mapping (key: value)"
    shown = _show(value)
    if kind == "string_type" and path[:1] == ("blocks",):
        return f"a block body is a pattern (text), got {shown}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}, got {shown}"
    if kind == "literal_error" and isinstance(value, str):
        options = re.findall(r"'([^']*)'", ctx.get("expected", ""))
        return f"expected {', '.join(options)}; got {shown}{did_you_mean(value, options)}"
    msg = _EXPECTED.get(kind) or str(error["msg"]).removeprefix("Value error, ")
    return f"{msg}, got {shown}"


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(excerpt(value)) if isinstance(value, str) else repr(value)


_SECTIONS = {"memory": MEMORY_FIELDS, "budgets": BUDGET_FIELDS, "lint": LINT_FIELDS}


def _misplaced(doc: YamlDoc, key: str) -> tuple[str, str] | None:
    """A top-level key that belongs in a section (`batch`, `optimiser` for memory's
    `optimizer`): the did-you-mean and the help that moves it there. A key that is a section's
    own (whatever its case) comes first; then a misspelt top-level key (`nmae`); then a
    misspelt key of a section."""
    exact = [(s, f) for s, fields in _SECTIONS.items() for f in fields if f.lower() == key.lower()]
    if not exact and suggest(key, SPEC_FIELDS):
        return None
    close = exact or [
        (s, best) for s, fields in _SECTIONS.items() if (best := suggest(key, fields)) is not None
    ]
    if not close:
        return None
    section, field = close[0]
    value = raw_value(doc, (key,)) or "..."  # a block value: its first line is enough
    return (
        f"; did you mean `{section}: {{{field}: {value}}}`?",
        f"`{field}` is a key of `{section}:`; write\n{section}:\n  {field}: {value}",
    )


def raw_value(doc: YamlDoc, path: tuple[str, ...]) -> str:
    """The text after `key:` on the key's line, as the user wrote it."""
    key = doc.keys[path]
    line = doc.file.line_text(key.start_mark.line + 1)
    return line.split(":", 1)[1].strip() if ":" in line else line.strip()
