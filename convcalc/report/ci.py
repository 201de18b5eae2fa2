"""Reports for CI: markdown (a PR comment), GitHub workflow commands, SARIF 2.1.0, JUnit XML.

Each takes the results of one `check` run: an Analysis per spec that loaded, and the findings
of each spec that did not.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, NamedTuple
from urllib.parse import quote

from ..analysis.analyzer import Analysis
from ..errors import Finding, Severity
from ..records import show_shape
from ..rules.catalogue import RULES
from ..rules.explanations import EXPLANATIONS
from ..source import is_file_name
from ..units import mb
from .cap import Omitted, capped
from .escape import (
    fence_for,
    is_visible,
    json_dumps,
    markdown_code,
    markdown_message,
    visible,
)
from .text import summary

LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


class Result(NamedTuple):
    """One spec of the run: its file, its analysis (None when it did not load), findings."""

    file: str
    analysis: Analysis | None
    findings: Sequence[Finding]


def _relative(path: str) -> str:
    """A path relative to the working directory when it lies under it (for SARIF, GitHub)."""
    if path.startswith("<"):
        return path
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return path
    return path if relative.startswith("..") else relative.replace(os.sep, "/")


# -- markdown ----------------------------------------------------------------------------


def markdown(results: Sequence[Result]) -> str:
    """A PR comment: a summary table, then the findings with their source line and caret.

    What comes from the specs is escaped: file and spec names are code spans (where HTML,
    mentions and links are inert) with `|` escaped, messages are escaped prose around the
    code spans they quote, and each finding's body is a code block with a fence longer than
    any run of backticks in it."""
    lines = [
        "## convcalc",
        "",
        "| spec | output | parameters | MACs | training memory | findings |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        a = r.analysis
        file = markdown_code(r.file, table=True)
        if a is None:
            lines.append(f"| {file} | — | — | — | — | ❌ {summary(r.findings)} |")
            continue
        mark = "❌" if not a.ok else ("⚠️" if any(
            f.severity is Severity.WARNING for f in r.findings) else "✅")  # fmt: skip
        # an analysis stopped at an error has counts of the rows before it only: none shown
        counts = [f"{a.totals.params:,}", f"{a.totals.macs:,}"] if a.output else ["—", "—"]
        memory = mb(a.memory.training_total, 1) if a.memory and a.output else "—"
        output = show_shape(a.output) if a.output else "—"
        lines.append(
            f"| {file} ({markdown_code(a.spec.name, table=True)}) | {output} | "
            f"{counts[0]} | {counts[1]} | {memory} | {mark} {summary(r.findings)} |"
        )
    found = [f for r in results for f in capped(r.findings)]
    if found:
        lines += ["", "### Findings", ""]
        for f in sorted(found, key=lambda f: -f.severity):
            if isinstance(f, Omitted):
                lines.append(f"- {f.line()} (**{f.code}**)")
                continue
            loc = f.location
            where = markdown_code(f"{loc.file}:{loc.line}:{loc.column}")
            lines.append(f"- **{f.code}** {f.severity} at {where}: {markdown_message(f.message)}")
            body = visible(f.render(), keep="\n\t").split("\n", 1)
            if len(body) > 1:
                fence = fence_for(body[1])
                lines += ["", f"  {fence}text", *("  " + line for line in body[1].splitlines()),
                          f"  {fence}"]  # fmt: skip
    lines.append("")
    return "\n".join(lines)


# -- GitHub workflow commands ------------------------------------------------------------


def _escape_data(text: str) -> str:
    """The toolkit's escaping of a command's message."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    """The toolkit's escaping of a command's property values."""
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github(results: Sequence[Result]) -> str:
    """One `::error ...::` line per finding, errors first.

    The file property carries the real path, escaped as the toolkit escapes properties
    (`%`, CR, LF, `:` and `,`). A path holding a character that escaping cannot carry (another
    control character, a byte that is not UTF-8, a direction override) would reach the log
    raw or name a file that does not exist: its annotation has no file property, and the
    message starts with the path, its characters written as escapes."""
    found = [f for r in results for f in capped(r.findings)]
    lines = []
    for f in sorted(found, key=lambda f: -f.severity):
        if isinstance(f, Omitted):
            title = _escape_property(f"{f.code} ({f.severity})")
            lines.append(f"::{COMMAND[f.severity]} title={title}::{_escape_data(f.line())}")
            continue
        loc = f.location
        path = _relative(loc.file)
        message = f"{f.code} {f.message}" + (f"\nhelp: {f.help}" if f.help else "")
        props = []
        if is_file_name(loc.file) and is_visible(path, keep="\r\n"):
            props.append(f"file={_escape_property(path)}")
            if loc.line is not None:
                props.append(f"line={loc.line}")
                props.append(f"col={loc.column}")
                if loc.end_column is not None:
                    props.append(f"endColumn={loc.end_column}")
        else:
            where = f":{loc.line}:{loc.column}" if loc.line is not None else ""
            message = f"{visible(path)}{where}: {message}"
        props.append(f"title={_escape_property(f'{f.code} ({f.severity})')}")
        message = visible(message, keep="\r\n")
        lines.append(f"::{COMMAND[f.severity]} {','.join(props)}::{_escape_data(message)}")
    return "\n".join(lines) + ("\n" if lines else "")


# -- SARIF 2.1.0 -------------------------------------------------------------------------


def sarif(results: Sequence[Result], version: str) -> dict[str, Any]:
    codes = list(RULES)
    rules = [
        {
            "id": code,
            "name": code,
            "shortDescription": {"text": rule.summary},
            "fullDescription": {"text": EXPLANATIONS[code].split("\n\n", 1)[0]},
            "help": {"text": EXPLANATIONS[code]},
            "defaultConfiguration": {"level": LEVEL[rule.severity]},
        }
        for code, rule in RULES.items()
    ]
    out = []
    uris: dict[str, str] = {}  # per file: relpath costs microseconds, 20,000 findings share one
    for f in (f for r in results for f in r.findings):
        loc = f.location
        text = f.message + (f"\nhelp: {f.help}" if f.help else "")
        if not is_file_name(loc.file):  # no file in the repository: the message says where
            text = f"{loc.file}:{loc.line}:{loc.column}: {text}" if loc.line else text
        result: dict[str, Any] = {
            "ruleId": f.code,
            "ruleIndex": codes.index(f.code),
            "level": LEVEL[f.severity],
            "message": {"text": visible(text, keep="\n")},
        }
        if is_file_name(loc.file):
            if loc.file not in uris:
                uris[loc.file] = _uri(_relative(loc.file))
            physical: dict[str, Any] = {
                "artifactLocation": {"uri": uris[loc.file], "uriBaseId": "%SRCROOT%"}
            }
            if loc.line is not None and loc.column is not None:
                physical["region"] = {
                    "startLine": loc.line,
                    "startColumn": loc.column,
                    "endColumn": loc.end_column or loc.column + 1,
                }
            result["locations"] = [{"physicalLocation": physical}]
        out.append(result)
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "convcalc",
                        "version": version,
                        "informationUri": "https://cs231n.github.io/convolutional-networks/",
                        "rules": rules,
                    }
                },
                "results": out,
            }
        ],
    }


def _uri(path: str) -> str:
    """A path as a URI reference, percent-encoded byte by byte (a name that is not UTF-8
    included), as SARIF requires: code scanning decodes it back to the real file."""
    return quote(os.fsencode(path), safe="/")


def sarif_text(results: Sequence[Result], version: str) -> str:
    return json_dumps(sarif(results, version))


# -- JUnit XML ---------------------------------------------------------------------------


def junit(results: Sequence[Result], fail_on: Severity | None) -> str:
    """One testsuite per spec, one testcase per finding (a failure at or above --fail-on),
    and a passing testcase for a spec without findings."""
    import xml.etree.ElementTree as ET

    root = ET.Element("testsuites", name="convcalc")
    total = failed = 0
    for r in results:
        file = visible(r.file)  # XML 1.0 cannot hold most control characters, even escaped
        suite = ET.SubElement(root, "testsuite", name=file)
        failures = 0
        for f in r.findings:
            loc = f.location
            case = ET.SubElement(
                suite,
                "testcase",
                classname=file,
                name=f"{f.code} {f.layer or ''} {loc.line}:{loc.column}".replace("  ", " "),
            )
            text = visible(f.render(), keep="\n\t")
            if fail_on is not None and f.severity >= fail_on:
                message = visible(f.message, keep="\n")
                failure = ET.SubElement(case, "failure", message=message, type=f.code)
                failure.text = text
                failures += 1
            else:
                ET.SubElement(case, "system-out").text = text
        cases = len(r.findings)
        if not r.findings:
            name = visible(r.analysis.spec.name) if r.analysis else file
            ET.SubElement(suite, "testcase", classname=file, name=f"{name}: no findings")
            cases = 1
        suite.set("tests", str(cases))
        suite.set("failures", str(failures))
        suite.set("errors", "0")
        total += cases
        failed += failures
    root.set("tests", str(total))
    root.set("failures", str(failed))
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, "unicode") + "\n"
