"""Loading a spec file: YAML → pydantic (at the boundary) → a frozen :class:`Spec`.

``load`` accepts a path, the name of a bundled spec or YAML text. Every problem becomes a
finding at ``file:line:column``; ``SpecError`` carries all of them.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, BinaryIO, NamedTuple

from pydantic_core import ValidationError

from .. import limits
from ..errors import (
    FileError,
    Finding,
    FindingError,
    Location,
    Severity,
    SpecError,
    SpecNotFound,
    did_you_mean,
)
from ..layers.vocabulary import LAYERS, argument_hint
from ..records import ArgValue, Shape
from ..rules.catalogue import RULES, finding
from ..rules.lint import LintConfig, unknown_codes
from ..source import STDIN, Source, SourceFile, Span
from . import bundled
from .evaluate import check_arg
from .keywords import KEYWORDS, WORDS
from .parser import parse_header, parse_pattern
from .schema_findings import raw_value, schema_findings
from .spec_schema import (
    OPTIMIZERS,
    VALIDATOR,
)
from .syntax import BlockHeader, Chain
from .yaml_reader import YamlDoc, compose, read_text

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_IDENT = re.compile(r"^[A-Za-z_]\w*$", re.ASCII)


class Block(NamedTuple):
    header: BlockHeader
    body: Chain


class Spec(NamedTuple):
    """A validated spec: what ``convcalc.load`` returns and ``convcalc.analyze`` takes."""

    file: SourceFile
    name: str
    input: Shape
    arch: Chain
    description: str | None = None
    dtype: str = "float32"
    rounding: str = "floor"
    vars: Mapping[str, int | bool] = _EMPTY
    defaults: Mapping[str, Mapping[str, ArgValue]] = _EMPTY
    blocks: Mapping[str, Block] = _EMPTY
    batch: int = 1
    optimizer: str = "momentum"
    input_location: Location | None = None
    budgets: Mapping[str, tuple[int, Location]] = _EMPTY
    lint: LintConfig = LintConfig()
    notes: tuple[Finding, ...] = ()  # the reader's own, e.g. an ONNX model's folded BNs

    @property
    def path(self) -> str:
        return self.file.name


def _expect(function: str, argument: str, value: object, kinds: tuple[type, ...]) -> None:
    """A TypeError that names the argument, as Python's own functions raise."""
    if not isinstance(value, kinds):
        names = {str: "str", os.PathLike: "os.PathLike", type(None): "None"}
        what = " or ".join(names[k] for k in kinds)
        raise TypeError(
            f"{function}() argument '{argument}' must be {what}, not {type(value).__name__}"
        )


def _path(function: str, argument: str, path: object) -> str:
    """A str or os.PathLike argument as a str path."""
    _expect(function, argument, path, (str, os.PathLike))
    text = os.fspath(path)  # type: ignore[call-overload]
    if not isinstance(text, str):
        raise TypeError(f"{function}() argument '{argument}' must be a path of str, not of bytes")
    return text


def load(source: str | os.PathLike[str], *, name: str | None = None) -> Spec:
    """Load a spec from a path, the name of a bundled spec, or YAML text."""
    _expect("load", "source", source, (str, os.PathLike))
    _expect("load", "name", name, (str, type(None)))
    if isinstance(source, os.PathLike):
        _path("load", "source", source)
        return load_file(source)
    if "\n" in source or ": " in source:
        return load_text(source, name or "<string>")
    return load_spec(source)


def load_spec(argument: str | os.PathLike[str]) -> Spec:
    """A SPEC argument of the CLI: a path, else the name of a bundled spec."""
    argument = _path("load_spec", "argument", argument)
    if os.path.exists(argument):
        return load_file(argument)
    found = bundled.path(argument)
    if found is not None:
        return load_file(found, display=bundled.display(argument))
    raise SpecNotFound(
        f"no such file `{argument}`, and no bundled spec of that name"
        f"{did_you_mean(argument, bundled.names())} (see `convcalc list`)"
    )


_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
#: Opening never blocks (a FIFO without a writer) nor makes a terminal the controlling one.
_OPEN = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)


def not_regular(shown: str, mode: int) -> FileError:
    """The error for a SPEC that is no regular file: reading a named pipe would block until
    something writes to it, and a device is no spec."""
    if stat.S_ISDIR(mode):
        return FileError(f"`{shown}` is a directory, not a spec file")
    kind = next((k for test, k in _KINDS if test(mode)), "not a file")
    return FileError(
        f"`{shown}` is {kind}, not a regular file: convcalc reads specs from regular files, "
        f"or from standard input given as `-` (`convcalc check - < {shown}`)"
    )


def load_file(path: str | os.PathLike[str], *, display: str | None = None) -> Spec:
    """Load a spec file; FileError when it cannot be read or is no regular file (it is
    opened without blocking and checked before any read), SpecError when it is wrong."""
    name = _path("load_file", "path", path)
    _expect("load_file", "display", display, (str, type(None)))
    shown = display or name
    if "\x00" in name:
        raise FileError(f"cannot read `{shown!r}`: a path cannot contain a NUL character")
    if name.lower().endswith(".onnx"):  # a model is a spec too (onnx imported only here)
        from .onnx_spec import read_model

        text, notes = read_model(name, shown)
        return load_bytes(text.encode("utf-8"), shown)._replace(notes=tuple(notes))
    try:
        fd = os.open(name, _OPEN | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise SpecNotFound(f"no such file `{shown}`") from None
    except IsADirectoryError:
        raise FileError(f"`{shown}` is a directory, not a spec file") from None
    except OSError as exc:
        raise FileError(f"cannot read `{shown}`: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise not_regular(shown, info.st_mode)
        os.set_blocking(fd, True)
        # st_size is 0 for /proc files: read up to the limit then
        raw = _read(fd, min(info.st_size or limits.MAX_FILE_BYTES, limits.MAX_FILE_BYTES) + 1)
    except OSError as exc:
        raise FileError(f"cannot read `{shown}`: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    return load_bytes(raw, shown)


def _read(fd: int, size: int) -> bytes:
    """Up to ``size`` bytes of a descriptor (os.read returns less than asked at times)."""
    parts = []
    while size > 0:
        part = os.read(fd, min(size, 1 << 20))
        if not part:
            break
        parts.append(part)
        size -= len(part)
    return b"".join(parts)


def load_stream(stream: BinaryIO, name: str = STDIN) -> Spec:
    """Load a spec from an open binary stream (standard input for ``convcalc check -``):
    at most the file size limit is read, so an endless stream ends in CC120."""
    what = "standard input" if name == STDIN else f"`{name}`"
    try:
        raw = stream.read(limits.MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise FileError(f"cannot read {what}: {exc.strerror or exc}") from None
    if not raw:
        raise FileError(
            f"{what} is empty: pipe a spec into it, e.g. `convcalc show vgg16 | convcalc check -`"
        )
    return load_bytes(raw, name)


def load_text(text: str, name: str = "<string>") -> Spec:
    """Load a spec from YAML text; ``name`` is the file name its findings show."""
    _expect("load_text", "text", text, (str,))
    _expect("load_text", "name", name, (str,))
    return load_bytes(text.encode("utf-8", "surrogatepass"), name)


def load_bytes(raw: bytes, name: str) -> Spec:
    try:
        file = read_text(name, raw)
        doc = compose(file)
    except FindingError as exc:
        raise SpecError(exc.findings) from None
    return _build(doc)


def _build(doc: YamlDoc) -> Spec:
    data = doc.data
    if not isinstance(data, dict):
        raise SpecError(
            [
                finding(
                    "CC105",
                    "a spec is a mapping with at least `name`, `input` and `arch`",
                    doc.location(()),
                    help="name: my-net\ninput: 32x32x3\narch: INPUT -> CONV(16) -> FC(10)",
                )
            ]
        )
    arch = data.get("arch")
    if isinstance(arch, (list, dict)):
        what = "a list" if isinstance(arch, list) else "a mapping"
        raise SpecError(
            [
                finding(
                    "CC106",
                    f"YAML read `arch` as {what}, not as a pattern",
                    doc.location(("arch",)),
                    help="write it as a block, which YAML leaves alone:\narch: |\n  "
                    + raw_value(doc, ("arch",)),
                )
            ]
        )
    try:
        model: dict[str, Any] = VALIDATOR.validate_python(data)
    except ValidationError as exc:
        found = schema_findings(doc, exc)
        found.sort(key=lambda f: (f.location.line or 0, f.location.column or 0))
        raise SpecError(found) from None
    findings: list[Finding] = []
    variables: dict[str, int | bool] = model.get("vars", {})
    findings += _check_vars(doc, variables)
    defaults = _check_defaults(doc, model.get("defaults", {}), findings)
    lint = _check_lint(doc, model.get("lint", {}), findings)
    blocks = _parse_blocks(doc, model.get("blocks", {}), findings)
    chain = None
    try:
        chain = parse_pattern(doc.source(("arch",)))
    except FindingError as exc:
        findings.extend(exc.findings)
    if findings or chain is None:
        raise SpecError(findings)
    memory = model.get("memory", {})
    return Spec(
        file=doc.file,
        name=model["name"],
        description=model.get("description"),
        input=model["input"],
        arch=chain,
        dtype=model.get("dtype", "float32"),
        rounding=model.get("rounding", "floor"),
        vars=dict(variables),
        defaults=defaults,
        blocks=blocks,
        batch=memory.get("batch", 1),
        optimizer=memory.get("optimizer", "momentum"),
        input_location=doc.location(("input",)),
        budgets={
            key: (value, doc.location(("budgets", key)))
            for key, value in model.get("budgets", {}).items()
        },
        lint=lint,
    )


def _check_lint(doc: YamlDoc, raw: Mapping[str, Any], findings: list[Finding]) -> LintConfig:
    """`lint:` with every code checked against the catalogue."""
    for key in ("select", "ignore"):
        for i, code in enumerate(raw.get(key, [])):
            if unknown_codes([code]):
                findings.append(finding(
                    "CC105",
                    f"`lint.{key}`: no rule is `{code}`{did_you_mean(code, RULES)}",
                    doc.location(("lint", key, i)),
                    help="see `convcalc rules` for the codes",
                ))  # fmt: skip
    for code in raw.get("severity", {}):
        if unknown_codes([code]):
            findings.append(finding(
                "CC105",
                f"`lint.severity`: no rule is `{code}`{did_you_mean(code, RULES)}",
                doc.location(("lint", "severity", code), key=True),
                help="see `convcalc rules` for the codes",
            ))  # fmt: skip
    select = raw.get("select")
    return LintConfig(
        frozenset(select) if select is not None else None,
        frozenset(raw.get("ignore", [])),
        {code: Severity.parse(level) for code, level in raw.get("severity", {}).items()},
    )


def _check_vars(doc: YamlDoc, variables: Mapping[str, int | bool]) -> list[Finding]:
    findings = []
    for name, value in variables.items():
        problem = None
        if not _IDENT.match(name):
            problem = f"`{name}` is not a valid variable name (letters, digits and _)"
        elif name in KEYWORDS or name in WORDS:
            problem = f"`{name}` is a reserved word and cannot be a variable"
        elif not isinstance(value, bool) and abs(value) > limits.MAX_INT:
            findings.append(
                finding(
                    "CC126",
                    f"variable `{name}` is larger than {limits.MAX_INT:,}",
                    doc.location(("vars", name)),
                )
            )
        if problem:
            findings.append(finding("CC113", problem, doc.location(("vars", name), key=True)))
    return findings


def _check_defaults(
    doc: YamlDoc, defaults: Mapping[str, Mapping[str, Any]], findings: list[Finding]
) -> dict[str, dict[str, ArgValue]]:
    result: dict[str, dict[str, ArgValue]] = {}
    for type_name, args in defaults.items():
        layer = LAYERS.get(type_name)
        if layer is None or type_name == "INPUT":
            findings.append(
                finding(
                    "CC104",
                    f"unknown layer type `{type_name}` in defaults"
                    f"{did_you_mean(type_name, LAYERS)}",
                    doc.location(("defaults", type_name), key=True),
                )
            )
            continue
        declared = {p.name: p for p in layer.params}
        checked: dict[str, ArgValue] = {}
        for key, raw in args.items():
            path = ("defaults", type_name, key)
            spec = declared.get(key)
            if spec is None:
                findings.append(
                    finding(
                        "CC104",
                        f"{type_name} has no argument `{key}`{argument_hint(key, declared)}",
                        doc.location(path, key=True),
                        help=f"{type_name} takes: {', '.join(declared) or 'no arguments'}",
                    )
                )
                continue
            value: ArgValue = tuple(raw) if isinstance(raw, list) else raw
            if isinstance(value, tuple) and len(value) != 2:
                findings.append(
                    finding(
                        "CC111",
                        f"{type_name} argument {key}: a pair has two values, [width, height]",
                        doc.location(path),
                    )
                )
                continue
            try:
                checked[key] = check_arg(type_name, spec, value, doc.span(path))
            except FindingError as exc:
                findings.append(exc.finding)
        result[type_name] = checked
    return result


def _parse_blocks(
    doc: YamlDoc, blocks: Mapping[str, str], findings: list[Finding]
) -> dict[str, Block]:
    result: dict[str, Block] = {}
    for key in blocks:
        try:
            header = parse_header(doc.source(("blocks", key), key=True))
            body = parse_pattern(doc.source(("blocks", key)))
        except FindingError as exc:
            findings.extend(exc.findings)
            continue
        problem = _header_problem(header)
        if problem:
            findings.append(finding("CC113", problem, Location.of(header.span)))
        elif header.name in result:
            findings.append(
                finding(
                    "CC113", f"block `{header.name}` is defined twice", Location.of(header.span)
                )
            )
        else:
            result[header.name] = Block(header, body)
    return result


def _header_problem(header: BlockHeader) -> str | None:
    if header.name in KEYWORDS or header.name in WORDS:
        return f"`{header.name}` is a reserved word and cannot name a block"
    names = [p.name for p in header.params]
    for i, name in enumerate(names):
        if name in KEYWORDS or name in WORDS:
            return f"`{name}` is a reserved word and cannot be a block parameter"
        if name in names[:i]:
            return f"block parameter `{name}` is given twice"
    defaults = [p.default is not None for p in header.params]
    if any(d and not later for i, d in enumerate(defaults) for later in defaults[i + 1 :]):
        return "parameters with defaults must come after those without"
    return None


def inline(pattern: str, shape: Shape, *, name: str = "<pattern>") -> Spec:
    """A spec from a pattern given on the command line (``check -e``)."""
    _expect("inline", "pattern", pattern, (str,))
    _expect("inline", "name", name, (str,))
    file = SourceFile(name, pattern)
    try:
        chain = parse_pattern(Source.whole(file))
    except FindingError as exc:
        raise SpecError(exc.findings) from None
    return Spec(file=file, name=name, input=shape, arch=chain)


__all__ = [
    "OPTIMIZERS",
    "Block",
    "Span",
    "Spec",
    "inline",
    "load",
    "load_file",
    "load_spec",
    "load_stream",
    "load_text",
]
