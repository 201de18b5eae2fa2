"""Recovering from a grammar error: the parser keeps the error, skips to the next `->`
(or the bracket that ends the chain) and goes on, so that one run reports every error of a
pattern without adding errors of its own."""

from __future__ import annotations

from .. import limits
from ..errors import Finding, FindingError
from ..source import Source
from .lexer import Tokenizer, describe
from .syntax import Stage

_OPEN, _CLOSE = ("[", "{", "("), ("]", "}", ")")


class Recovering(Tokenizer):
    """The tokenizer the parser reads with, and the errors it has recovered from."""

    def __init__(self, source: Source) -> None:
        super().__init__(source)
        self.errors: list[Finding] = []  # the grammar errors recovered from so far
        self.failed_at = -1  # the token the last of them was found at

    def parse_stage(self) -> Stage:
        raise NotImplementedError  # the parser's

    def recover_stage(self) -> Stage | None:
        """A stage, or None after a grammar error in it: the error is kept and the tokens up
        to the next `->`, `|` or closing bracket of this chain are skipped. A nesting too
        deep (CC123) ends the parse."""
        if len(self.errors) >= limits.MAX_ERRORS:
            self.i = len(self.tokens) - 1  # enough: the rest is not read
            return None
        start, depth = self.i, self.depth
        try:
            return self.parse_stage()
        except FindingError as exc:
            if exc.finding.code == "CC123":
                raise
            self.errors.append(exc.finding)
            self.failed_at = self.i
        self.depth = depth
        self.skip_stage(start)
        return None

    def skip_stage(self, start: int | None = None) -> None:
        """Move past the rest of a stage that failed here: to the next `->`, `|` or closing
        bracket outside the brackets the stage opened (from token ``start``), or to the end.
        A `->` or `|` inside a parenthesis the stage left open ends it: arguments hold
        neither, so the `)` is missing (``POOL(F=2 -> FC``)."""
        stack: list[str] = []
        for tok in self.tokens[self.i if start is None else start : self.i]:
            if tok.kind in _OPEN:
                stack.append(tok.kind)
            elif tok.kind in _CLOSE and stack:
                stack.pop()
        opened = 0  # brackets opened after the error
        while not self.check("END"):
            kind = self.token.kind
            if opened == 0 and kind in ("ARROW", "|"):
                while stack and stack[-1] == "(":
                    stack.pop()
                if not stack:
                    return
            elif opened == 0 and kind in _CLOSE:
                if not stack:
                    return
                stack.pop()
            elif kind in _OPEN:
                opened += 1
            elif kind in _CLOSE:
                opened -= 1
            self.read()

    def stray(self) -> None:
        """The error of a token after a complete chain where `->` or the end should be."""
        tok = self.token
        if tok.kind in ("]", "}", ")"):
            self.fail(f"unmatched `{tok.text}`")
        if tok.kind == "|":
            self.fail("`|` separates branches, only inside ADD{...}, CAT{...} or MUL{...}")
        self.fail(
            f"expected `->` or the end of the pattern, found {describe(tok)}",
            help="stages are joined by ->",
        )
