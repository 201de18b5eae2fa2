"""The Arrow+ tokenizer: the token kinds, ``tokenize`` and the :class:`Tokenizer` the parser
reads with (``check``/``read``/``expect``, brackets counted against ``limits.MAX_NESTING``).

A character that cannot start a token is refused here, with a hint for the usual mistakes
(``→`` for ``->``, ``/`` for ``//``, quotes from YAML).
"""

from __future__ import annotations

import re
from typing import NamedTuple, NoReturn

from .. import limits
from ..errors import FindingError, Location, excerpt
from ..rules.catalogue import finding
from ..source import Source, Span, char_name, digit_hint

_TOKEN = re.compile(
    r"""
    (?:[ \t\r\n\x85\u2028\u2029]+|\#[^\r\n\x85\u2028\u2029]*)*  # space (YAML's breaks), comments
    (?:
    (?P<ARROW>->)
  | (?P<SUGAR>(?:CONV\d+-\d+|FC-\d+|POOL\d+)(?![\w.]))
  | (?P<FLOAT>(?:\d+\.\d*|\.\d+)(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+)
  | (?P<BADNUM>\d+[A-Za-z_]\w*)
  | (?P<INT>\d+)
  | (?P<NAME>[A-Za-z_]\w*)
  | (?P<LABEL>@[A-Za-z_][\w.]*)
  | (?P<OP>//|[-+*%?\[\]{}|(),=])
  | (?P<ERROR>.)
  | (?P<END>\Z)
    )
    """,
    re.VERBOSE | re.DOTALL | re.ASCII,  # \d and \w: the grammar's digits and names are ASCII
)

_HINTS = {
    "/": "integer division is written //",
    "@": "a label is @ followed by a name, like CONV(64)@conv1",
    ">": "stages are joined by ->",
    ":": "block parameters go under `blocks:`; inside `arch` write name(args)",
    ";": "stages are joined by ->",
    "x": "a pair is written (width, height)",
    "→": "did you mean `->`? The arrow is written with a hyphen and >",
    "⟶": "did you mean `->`? The arrow is written with a hyphen and >",
    "×": "a pair is written (width, height)",
    "—": "did you mean `->`? The arrow is written with a hyphen and >",
    "–": "did you mean `->`? The arrow is written with a hyphen and >",
    '"': "quotes belong to YAML, not to the pattern; write the pattern as a | block",
    "'": "quotes belong to YAML, not to the pattern; write the pattern as a | block",
}


class Token(NamedTuple):
    kind: str  # ARROW, SUGAR, FLOAT, INT, NAME, LABEL, the operator itself, or END
    text: str
    start: int
    end: int


#: The kind of each of the pattern's groups, by number.
_KINDS = ("", *sorted(_TOKEN.groupindex, key=_TOKEN.groupindex.__getitem__))


def tokenize(source: Source) -> list[Token]:
    """The tokens of a pattern, whitespace and comments dropped, ending with an END token;
    characters that start no token raise CC107: the first of each stage (up to
    :data:`limits.MAX_ERRORS`), all at once."""
    text = source.text
    tokens: list[Token] = []
    errors: list[FindingError] = []
    quiet = False  # after an error, until the next `->`
    append = tokens.append
    new = tuple.__new__  # Token(...) without the Python frame of a NamedTuple's __new__
    kinds = _KINDS
    # each match is a token with the space and comments before it: one match a token; the
    # token's kind is its group (the only capturing group that matched: the last)
    for m in _TOKEN.finditer(text):
        group = m.lastindex or 0
        kind = kinds[group]
        if kind == "END":
            break
        start, end = m.span(group)
        token = text[start:end]
        if kind == "OP":
            kind = token
        elif kind == "ERROR" or kind == "BADNUM":
            if not quiet:  # the next bad character of the stage (٣-٦٤) would say it again
                errors.append(_bad_token(source, token, start, end, kind))
                quiet = True
            if len(errors) >= limits.MAX_ERRORS:
                break
            continue
        elif kind == "ARROW":
            quiet = False  # a new stage: its errors are its own
        append(new(Token, (kind, token, start, end)))
    if errors:
        raise FindingError.of([e.finding for e in errors])
    tokens.append(Token("END", "", len(text), len(text)))
    return tokens


def _bad_token(source: Source, text: str, start: int, end: int, kind: str) -> FindingError:
    if kind == "BADNUM":
        return syntax_error(
            source,
            start,
            end,
            f"`{text}` is not a number",
            "a pair is written (width, height), like F=(3, 3)",
        )
    help = _HINTS.get(text) or (None if text.isascii() else _non_ascii(source.text, start))
    return syntax_error(source, start, end, f"unexpected character `{text}`", help)


def _non_ascii(text: str, start: int) -> str:
    """The help for a character outside ASCII: a digit of another script, or a letter."""
    if text[start].isdigit():
        return digit_hint(text[start : start + 40]) or ""
    return (
        f"{char_name(text[start])} is not ASCII; names in a pattern are ASCII letters, digits and _"
    )


def syntax_error(
    source: Source, start: int, end: int, message: str, help: str | None = None
) -> FindingError:
    """CC107, the error of a pattern that does not follow the grammar."""
    return FindingError(finding("CC107", message, Location.of(Span(source, start, end)), help=help))


def describe(token: Token) -> str:
    """A token as an error message names it: `CONV`, or the end of the pattern."""
    return "the end of the pattern" if token.kind == "END" else f"`{excerpt(token.text)}`"


class Tokenizer:
    """A cursor over the tokens of a source, with the bracket depth it is at."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.tokens = tokenize(source)
        self.i = 0
        self.depth = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.i]

    def check(self, kind: str, text: str | None = None) -> bool:
        tok = self.tokens[self.i]
        return tok.kind == kind and (text is None or tok.text == text)

    def read(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect(self, kind: str, *, expected: str, help: str | None = None) -> Token:
        if not self.check(kind):
            self.fail(f"expected {expected}, found {describe(self.token)}", help=help)
        return self.read()

    def fail(self, message: str, token: Token | None = None, help: str | None = None) -> NoReturn:
        tok = token or self.token
        raise syntax_error(self.source, tok.start, max(tok.end, tok.start + 1), message, help)

    def span(self, start: Token, end: Token | None = None) -> Span:
        last = end or self.tokens[self.i - 1]
        stop = last.end if last.end > start.end else start.end
        return tuple.__new__(Span, (self.source, start.start, stop))  # Span(...), faster

    def enter(self, opener: Token) -> None:
        self.depth += 1
        if self.depth > limits.MAX_NESTING:
            raise FindingError(
                finding(
                    "CC123",
                    f"brackets nest deeper than {limits.MAX_NESTING} levels",
                    Location.of(Span(self.source, opener.start, opener.end)),
                    help="brackets are needed only around what repeats or is optional; "
                    "a block (`blocks:`) can name a deep part",
                )
            )

    def close(self, opener: Token, closer: str, what: str) -> Token:
        if not self.check(closer):
            tok = self.token
            found = describe(tok)
            if tok.kind == "END":
                self.fail(
                    f"`{opener.text}` is never closed", opener, help=f"add `{closer}` after {what}"
                )
            self.fail(
                f"expected `{closer}` to close the `{opener.text}` at column "
                f"{Location.of(Span(self.source, opener.start, opener.end)).column}, "
                f"found {found}"
            )
        self.depth -= 1
        return self.read()
