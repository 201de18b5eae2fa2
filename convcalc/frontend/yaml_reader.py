"""Plain YAML with positions, and with limits a hostile file cannot get past.

``yaml.compose`` (the safe loader) builds the node tree; this module turns it into Python
values itself, so that it can refuse what ``yaml.safe_load`` would not catch or would hide:
duplicate keys, tags, merge keys, alias bombs and runaway nesting. Every value keeps its node,
so later errors point at ``file:line:column``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterator
from itertools import accumulate, chain, repeat
from typing import Any, NamedTuple

import yaml

from .. import limits
from ..errors import FindingError, Location
from ..rules.catalogue import finding
from ..source import Source, SourceFile, Span, align
from .yaml_indent import indentation

Path = tuple[str | int, ...]

_STR = "tag:yaml.org,2002:str"
_SCALARS = {
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",  # read as text: a spec has no use for dates
    _STR,
}
_constructor = yaml.constructor.SafeConstructor()


class YamlDoc(NamedTuple):
    """A YAML document as Python values, with the node of every value and key."""

    file: SourceFile
    data: Any
    nodes: dict[Path, yaml.Node]
    keys: dict[Path, yaml.Node]

    def location(self, path: Path, *, key: bool = False) -> Location:
        """Where the value (or the key) at ``path`` stands; the nearest parent if absent."""
        table = self.keys if key else self.nodes
        while path and path not in table:
            path = path[:-1]
            table = self.nodes
        node = table.get(path) or self.nodes.get(())
        if node is None:
            return Location.at(self.file, 1, 1)
        return node_location(self.file, node)

    def source(self, path: Path, *, key: bool = False) -> Source:
        """The string at ``path`` as a :class:`Source` mapped onto the file."""
        node = (self.keys if key else self.nodes)[path]
        value = node.value
        start, end = node.start_mark.index, node.end_mark.index
        if getattr(node, "style", None) in ("|", ">"):  # the value starts on the next line
            starts = self.file.line_starts
            line = node.start_mark.line + 1
            start = starts[line] if line < len(starts) else start
        return Source(self.file, value, align(value, self.file.text, start, end))

    def span(self, path: Path, *, key: bool = False) -> Span:
        """The raw file text of the value (or key) at ``path``, as a span."""
        node = (self.keys if key else self.nodes)[path]
        start, end = node.start_mark.index, max(node.end_mark.index, node.start_mark.index + 1)
        source = Source(self.file, self.file.text[start:end], ((0, start),))
        return Span(source, 0, end - start)


def node_location(file: SourceFile, node: yaml.Node) -> Location:
    mark = node.start_mark
    line, col = mark.line + 1, mark.column + 1
    end = node.end_mark
    end_col = end.column + 1 if end.line == mark.line else col + 1
    return Location.at(file, line, col, max(end_col, col + 1))


def _fail(code: str, message: str, location: Location, help: str | None = None) -> FindingError:
    return FindingError(finding(code, message, location, help=help))


def read_text(name: str, raw: bytes) -> SourceFile:
    """Decode a spec file's bytes, refusing files that are too large or not UTF-8."""
    whole = SourceFile(name, "")
    if len(raw) > limits.MAX_FILE_BYTES:
        raise _fail(
            "CC120",
            f"the file is larger than the limit of {limits.MAX_FILE_BYTES:,} bytes (1 MiB)",
            Location.at(whole, 1, 1),
        )
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _fail(
            "CC100",
            "the file is UTF-16 text, not UTF-8",
            Location.at(SourceFile(name, ""), 1, 1),
            help="save the file as UTF-8",
        )
    bom = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
    nul = raw.find(b"\x00")
    if nul >= 0:
        shown, line, column = _position(name, raw, bom, nul)
        raise _fail(
            "CC100",
            f"the file contains a NUL byte at line {line}, column {column}: it is not a text file",
            Location.at(shown, line, column),
            help="save the spec as plain UTF-8 text",
        )
    try:
        text = raw[bom:].decode("utf-8")
    except UnicodeDecodeError as exc:
        index = bom + exc.start
        shown, line, column = _position(name, raw, bom, index)
        raise _fail(
            "CC100",
            f"the file is not UTF-8 text: byte 0x{raw[index : index + 1].hex()} at line {line}, "
            f"column {column}",
            Location.at(shown, line, column),
            help="save the file as UTF-8",
        ) from None
    return SourceFile(name, text)


def _position(name: str, raw: bytes, bom: int, index: int) -> tuple[SourceFile, int, int]:
    """The text of undecodable bytes (shown with U+FFFD), and the line and column of the byte
    ``raw[index]`` in it: every line break YAML knows counts, the BOM does not."""
    shown = SourceFile(name, raw[bom:].decode("utf-8", "replace"))
    line, column = shown.line_col(len(raw[bom:index].decode("utf-8", "replace")))
    return shown, line, column


#: Brackets nested deeper than this are refused before YAML reads them: libyaml's composer
#: recurses in C and crashes near 100,000 levels, and PyYAML's scanner slows down
#: quadratically with the depth. No spec comes near it (patterns stop at MAX_NESTING).
MAX_BRACKETS = 512
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_DELTA = {"[": 1, "{": 1, "]": -1, "}": -1}


def _too_deep(text: str) -> int | None:
    """The offset of the bracket that first nests deeper than MAX_BRACKETS, or None.

    Every bracket counts, quoted or not, so this bounds the flow nesting from above; the
    running depth never drops below 0. The sums run in C (itertools): a megabyte of
    brackets takes a fraction of a second.
    """
    if text.count("[") + text.count("{") <= MAX_BRACKETS:
        return None
    brackets = _NOT_BRACKET.sub("", text)
    sums = list(accumulate(map(_DELTA.__getitem__, brackets)))
    lows = accumulate(sums, min, initial=0)
    next(lows)
    depths = map(operator.sub, sums, lows)
    if max(depths) <= MAX_BRACKETS:
        return None
    depths = map(operator.sub, sums, accumulate(sums, lambda a, b: min(a, b, 0)))
    k = next(i for i, d in enumerate(depths) if d > MAX_BRACKETS)
    return next(m.start() for i, m in enumerate(re.finditer(r"[\[\]{}]", text)) if i == k)


def _compose(text: str) -> yaml.Node | None:
    """libyaml when it is there (5-10× faster); the pure-Python composer for errors, whose
    messages are the ones convcalc explains."""
    loader = getattr(yaml, "CSafeLoader", None)
    if loader is not None:
        try:
            return yaml.compose(text, Loader=loader)
        except yaml.YAMLError:
            pass  # parse again below for the message
    return yaml.compose(text, Loader=yaml.SafeLoader)


def compose(file: SourceFile) -> YamlDoc:
    """Parse a file into Python values with positions; raise :class:`FindingError`."""
    deep = _too_deep(file.text)
    if deep is not None:
        line, column = file.line_col(deep)
        raise _fail(
            "CC123",
            f"brackets nest more than {MAX_BRACKETS} levels deep",
            Location.at(file, line, column),
            help="YAML flow collections and patterns need only a few levels",
        )
    try:
        root = _compose(file.text)
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(file, exc) from None
    except yaml.YAMLError as exc:  # pragma: no cover - every pyyaml error we know is marked
        raise _fail("CC101", f"YAML error: {exc}", Location.at(file, 1, 1)) from None
    except RecursionError:  # the composer recurses; block nesting (`- - - x`) has no brackets
        raise _fail(
            "CC123",
            f"the YAML nests deeper than {limits.MAX_NESTING} levels",
            _deepest(file),
        ) from None
    if root is None:
        raise _fail(
            "CC100",
            "the file is empty: a spec needs at least `name`, `input` and `arch`",
            Location.at(file, 1, 1),
            help="start from a bundled spec: `convcalc show vgg16 > my-net.yaml`, or see the "
            "README",
        )
    _check_expansion(file, root)
    nodes: dict[Path, yaml.Node] = {}
    keys: dict[Path, yaml.Node] = {}
    data = _convert(file, root, (), nodes, keys, 0)
    return YamlDoc(file, data, nodes, keys)


def _deepest(file: SourceFile) -> Location:
    """Where the YAML first nests deeper than MAX_NESTING, found from the parser's events
    (which, unlike the composer, do not recurse)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    depth = 0
    for event in yaml.parse(file.text, Loader=loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            mark = event.start_mark
            if depth > limits.MAX_NESTING + 1 and mark is not None:
                return Location.at(file, mark.line + 1, mark.column + 1)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return Location.at(file, 1, 1)  # pragma: no cover - the composer recursed for a reason


def _yaml_error(file: SourceFile, exc: yaml.MarkedYAMLError) -> FindingError:
    context = exc.context or ""
    mark = exc.problem_mark or exc.context_mark
    if "quoted scalar" in context and exc.context_mark is not None:
        mark = exc.context_mark  # an unclosed quote: point at where it opens
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = exc.problem or "invalid YAML"
    if "quoted scalar" in context:
        problem = "this quoted string is never closed"
    elif context and "while" not in context:
        problem = f"{context}: {problem}"
    text = file.line_text(line)
    help = None
    indented = indentation(file, line, problem)
    if indented is not None:
        message, help = indented
        start = len(text) - len(text.lstrip(" ")) + 1  # the caret under the line's key
        key = Location.at(file, line, start, start + len(text.strip().split(":")[0]))
        return _fail("CC101", f"YAML indentation: {message}", key, help)
    if "quoted scalar" in context:
        help = "close the quote; a pattern needs no quotes when `arch` is written as a | block"
    elif "expected a single document" in problem:
        help = "a spec is one YAML document; remove the `---` line and what follows it"
    elif "found character '\\t'" in problem:
        help = (
            "YAML does not allow tabs for indentation; use spaces"
            if not text[: col - 1].strip()
            else "YAML does not allow a tab here; replace it with spaces"
        )
    elif text.lstrip().startswith("arch:") and text.split(":", 1)[1].strip():
        return _arch_error(file, line, col, text, problem)
    elif ": " in text and "mapping values" in problem:
        help = "quote the value, or write it as a `|` block"
    return _fail("CC101", f"YAML syntax error: {problem}", Location.at(file, line, col), help)


def _arch_error(file: SourceFile, line: int, col: int, text: str, problem: str) -> FindingError:
    """A YAML error on an `arch:` line: say what YAML made of the pattern, and show the
    pattern as a block, which YAML leaves alone."""
    pattern = text.split(":", 1)[1].strip()
    if pattern.startswith(("[", "{")):
        what = "a list" if pattern[0] == "[" else "a mapping"
        reason = f"YAML reads a value that starts with `{pattern[0]}` as {what}"
        if "alias" in problem:
            reason += ", and the `*` after it as an alias"
    elif "*" in pattern and "alias" in problem:
        reason = "YAML reads `*` as an alias"
    elif ": " in pattern:
        reason = "YAML reads `: ` as the start of a mapping"
    else:
        reason = f"YAML cannot read this `arch` line ({problem})"
    help = f"write `arch` as a block, which YAML leaves alone:\narch: |\n  {pattern}"
    return _fail("CC101", f"YAML syntax error: {reason}", Location.at(file, line, col), help)


def _check_expansion(file: SourceFile, root: yaml.Node) -> None:
    """Refuse, before touching the values: more than MAX_YAML_NODES nodes (and, when only
    aliases make them that many, an alias bomb), aliases that refer to themselves, and
    nesting deeper than MAX_NESTING. One pass over the collections, in a loop (a hostile
    file can nest a hundred thousand levels with `- - - ...`); the scalars of a collection,
    most of the nodes, are counted together, at C speed."""
    if isinstance(root, yaml.ScalarNode):
        return
    sizes: dict[int, int] = {}  # nodes under a collection, itself included, aliases expanded
    open_: set[int] = set()  # collections whose children are being counted
    scalars: set[int] = set()  # the scalars counted
    distinct, limit, deepest = 0, limits.MAX_YAML_NODES, limits.MAX_NESTING
    # (collection, depth, its children once they are pushed: counted when it comes back up)
    stack: list[tuple[yaml.Node, int, list[yaml.Node] | None]] = [(root, 0, None)]
    while stack:
        node, depth, children = stack.pop()
        key = id(node)
        if children is not None:
            open_.discard(key)
            total = 1 + sum(map(sizes.get, map(id, children), repeat(1)))  # a scalar is 1
            if total > limit:  # more than the distinct nodes, so aliases did it
                raise _fail(
                    "CC125",
                    f"YAML aliases expand this document past {limit:,} nodes",
                    node_location(file, node),
                    help="write the repeated part once; `blocks:` and `*n` repeat layers",
                )
            sizes[key] = total
            continue
        if key in sizes:  # an alias of a collection counted already
            continue
        if key in open_:
            raise _fail("CC125", "a YAML alias refers to itself", node_location(file, node))
        distinct += 1
        if distinct > limit:
            raise _too_many(file, node)
        children = list(_children(node))
        if children and depth >= deepest:
            raise _too_nested(file, children[0])
        new = list(  # the scalars not counted yet, each once (an alias may repeat one)
            dict.fromkeys(
                c for c in children if type(c) is yaml.ScalarNode and id(c) not in scalars
            )
        )
        if distinct + len(new) > limit:
            raise _too_many(file, new[limit - distinct])
        distinct += len(new)
        scalars.update(map(id, new))
        open_.add(key)
        stack.append((node, depth, children))
        stack.extend(
            (child, depth + 1, None)
            for child in reversed(children)
            if type(child) is not yaml.ScalarNode
        )


def _too_many(file: SourceFile, node: yaml.Node) -> FindingError:
    return _fail(
        "CC125",
        f"the YAML has more than {limits.MAX_YAML_NODES:,} nodes (keys, values and list items)",
        node_location(file, node),
        help="a spec needs a few dozen; `blocks:` and `*n` repeat layers",
    )


def _too_nested(file: SourceFile, node: yaml.Node) -> FindingError:
    return _fail(
        "CC123",
        f"the YAML nests deeper than {limits.MAX_NESTING} levels",
        node_location(file, node),
    )


def _children(node: yaml.Node) -> Iterator[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return iter(node.value)
    if isinstance(node, yaml.MappingNode):
        return chain.from_iterable(node.value)
    return iter(())


def _convert(
    file: SourceFile,
    node: yaml.Node,
    path: Path,
    nodes: dict[Path, yaml.Node],
    keys: dict[Path, yaml.Node],
    depth: int,
) -> Any:
    if depth > limits.MAX_NESTING:  # pragma: no cover - _check_expansion refuses it first
        raise _too_nested(file, node)
    nodes[path] = node
    if isinstance(node, yaml.ScalarNode):
        return _scalar(file, node)
    if isinstance(node, yaml.SequenceNode):
        _check_tag(file, node, "tag:yaml.org,2002:seq")
        return [
            _convert(file, child, (*path, i), nodes, keys, depth + 1)
            for i, child in enumerate(node.value)
        ]
    _check_tag(file, node, "tag:yaml.org,2002:map")
    result: dict[str, Any] = {}
    for key_node, value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            raise _fail(
                "CC102",
                "YAML merge keys (`<<`) are not supported",
                node_location(file, key_node),
                help="write the keys out",
            )
        if not isinstance(key_node, yaml.ScalarNode):
            raise _fail("CC102", "a key must be a plain string", node_location(file, key_node))
        _check_tag(file, key_node, _STR)
        key = str(key_node.value)
        if key in result:
            first = keys[(*path, key)].start_mark.line + 1
            raise _fail(
                "CC103",
                f"duplicate key `{key}` (first given at line {first})",
                node_location(file, key_node),
                help="remove one of them; YAML would silently keep only the last",
            )
        keys[(*path, key)] = key_node
        result[key] = _convert(file, value_node, (*path, key), nodes, keys, depth + 1)
    return result


def _check_tag(file: SourceFile, node: yaml.Node, expected: str) -> None:
    if node.tag != expected and not (isinstance(node, yaml.ScalarNode) and node.tag in _SCALARS):
        tag = node.tag.replace("tag:yaml.org,2002:", "!!")
        raise _fail(
            "CC102",
            f"YAML tag `{tag}` is not allowed: specs are plain YAML (what yaml.safe_load reads)",
            node_location(file, node),
            help="remove the tag",
        )


def _scalar(file: SourceFile, node: yaml.ScalarNode) -> Any:
    _check_tag(file, node, _STR)
    tag = node.tag
    if tag in (_STR, "tag:yaml.org,2002:timestamp"):
        return str(node.value)
    if tag == "tag:yaml.org,2002:int":
        digits = sum(c.isdigit() for c in node.value)
        if digits > limits.MAX_INT_DIGITS:
            raise _fail(
                "CC126",
                f"the integer has {digits} digits; at most {limits.MAX_INT_DIGITS} are read",
                node_location(file, node),
            )
    try:
        return _constructor.construct_object(node)
    except (ValueError, yaml.YAMLError) as exc:
        raise _fail(
            "CC101", f"YAML value cannot be read: {exc}", node_location(file, node)
        ) from None
