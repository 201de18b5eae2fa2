"""The Arrow+ grammar: a recursive-descent parser over the tokens of :mod:`.lexer`.

One method per grammar rule, the rule as its docstring. Every AST node keeps its span, so an
error found much later (a shape that does not fit in repetition 4 of a block) still points at
the token in the file.
"""

from __future__ import annotations

import math
import re

from .. import limits
from ..errors import FindingError, Location, did_you_mean, excerpt
from ..rules.catalogue import finding
from ..source import Source, Span
from .keywords import LAYER_TYPES, MERGE_TYPES
from .lexer import Token, describe, syntax_error
from .recovery import Recovering
from .syntax import (
    Arg,
    Arith,
    Binding,
    BlockHeader,
    Call,
    Chain,
    Expr,
    Group,
    IntLit,
    Layer,
    Maybe,
    Merge,
    Name,
    Neg,
    Num,
    Pair,
    Param,
    Repeat,
    Stage,
    Step,
    Term,
    ValueExpr,
    operators,
)

_SUM = ("+", "-")
_PRODUCT = ("*", "//", "%")


class Parser(Recovering):
    """Recursive descent over a token list; ``parse_chain`` etc. follow the grammar."""

    def parse(self) -> Chain:
        """arch = chain END

        A grammar error does not end the parse: the error is kept, the parser skips to the
        next `->` (or the bracket that ends the chain) and goes on, so that one run reports
        every error (:meth:`parse_chain`); :func:`parse_pattern` raises them together."""
        if self.check("END"):
            self.fail("the pattern is empty", help="write at least INPUT -> FC(10)")
        first = self.token
        stages = list(self.parse_chain().stages)
        while not self.check("END") and len(self.errors) < limits.MAX_ERRORS:
            try:
                if self.i != self.failed_at:  # a stage's error there already said it
                    self.stray()
            except FindingError as exc:
                self.errors.append(exc.finding)
            self.read()  # the stray token: always move on
            self.skip_stage()
            if self.check("ARROW"):
                self.read()
                stages.extend(self.parse_chain().stages)
        return Chain(tuple(stages), self.span(first))

    def parse_chain(self) -> Chain:
        """chain = stage ("->" stage)*"""
        first = self.token
        stages = [stage for stage in [self.recover_stage()] if stage is not None]
        while self.check("ARROW"):
            self.read()
            stage = self.recover_stage()
            if stage is not None:
                stages.append(stage)
        return Chain(tuple(stages), self.span(first))

    def parse_stage(self) -> Stage:
        """stage = term repeat? optional?;  optional = "?" (NAME | "(" expr ")")?"""
        first = self.token
        term = self.parse_term()
        repeat = self.parse_repeat() if self.check("*") else None
        optional = None
        if self.check("?"):
            mark = self.read()
            name, condition = None, None
            if self.check("NAME") and self.token.start == mark.end:
                name = self.read().text
            elif self.check("(") and self.token.start == mark.end:
                opener = self.read()
                self.enter(opener)
                condition = self.parse_expr()
                self.close(opener, ")", "the condition")
            optional = Maybe(name, self.span(mark), condition)
        return Stage(term, repeat, optional, self.span(first))

    def parse_repeat(self) -> Repeat:
        """repeat = "*" count ("over" binding ("," binding)*)?
        count = INT | NAME | "(" expr ")" """
        star = self.read()
        tok = self.token
        count: Expr
        if tok.kind == "INT":
            count = self.parse_int(self.read())
        elif tok.kind == "NAME" and tok.text != "over":
            self.read()
            count = Name(tok.text, self.span(tok))
        elif tok.kind == "(":
            self.enter(self.read())
            count = self.parse_expr()
            self.close(tok, ")", "the count")
        else:
            self.fail(
                f"expected a repetition count after `*`, found {describe(tok)}",
                help="write *3, *N or *(N + 1)",
            )
        bindings: list[Binding] = []
        if self.check("NAME", "over"):
            self.read()
            bindings.append(self.parse_binding())
            while self.check(","):
                self.read()
                bindings.append(self.parse_binding())
        return Repeat(count, tuple(bindings), self.span(star))

    def parse_binding(self) -> Binding:
        """binding = NAME "=" "(" expr ("," expr)* ")" """
        name = self.expect("NAME", expected="a name after `over`", help="write over c=(64, 128)")
        self.expect("=", expected=f"`=` after `{name.text}`", help=f"write {name.text}=(64, 128)")
        values: list[Expr] = []
        if self.check("("):
            opener = self.read()
            self.enter(opener)
            values.append(self.parse_expr())
            while self.check(","):
                self.read()
                values.append(self.parse_expr())
            self.close(opener, ")", "the values")
        else:
            values.append(self.parse_expr())
        return Binding(name.text, tuple(values), self.span(name))

    def parse_term(self) -> Term:
        """term = layer | call | "[" chain "]" | merge"""
        tok = self.token
        if tok.kind == "[":
            self.enter(self.read())
            chain = self.parse_chain()
            self.close(tok, "]", "the group")
            return Group(chain, self.span(tok))
        if tok.kind == "SUGAR":
            return self.parse_sugar()
        if tok.kind == "NAME":
            if tok.text in MERGE_TYPES:
                return self.parse_merge()
            if tok.text in LAYER_TYPES:
                return self.parse_layer()
            if tok.text == "over":
                self.fail("`over` follows a repetition count, like [CONV(c)]*2 over c=(64, 128)")
            self.read()
            if self.check("-") and re.fullmatch(r"CONV\d+|FC", tok.text):
                self.fail(
                    f"incomplete `{tok.text}-`",
                    self.token,
                    help="the sugar is CONV<F>-<K> (CONV3-64), POOL<F> (POOL2) or FC-<K> (FC-4096)",
                )
            if self.check("{"):
                self.fail(
                    f"unknown merge `{tok.text}`{did_you_mean(tok.text, MERGE_TYPES)}",
                    tok,
                    help="merges are ADD{ a | b } (sum), CAT{ a | b } (depth concatenation), "
                    "MUL{ a | b } (product) and RES{ a } (a residual)",
                )
            args = self.parse_args() if self.check("(") else ()
            if self.check("LABEL"):
                self.fail("a label names one layer; put it on a layer inside the block")
            return Call(tok.text, args, self.span(tok, tok))
        if tok.kind == "END":
            self.fail(
                "the pattern ends where a layer was expected",
                help="remove the trailing `->`"
                if self.i and self.tokens[self.i - 1].kind == "ARROW"
                else None,
            )
        if tok.kind == "ARROW":
            self.fail("expected a layer before `->`")
        self.fail(f"expected a layer, a block, `[` or a merge, found {describe(tok)}")

    def parse_layer(self) -> Layer:
        """layer = TYPE args? ("@" NAME)?"""
        tok = self.read()
        args = self.parse_args() if self.check("(") else ()
        span = self.span(tok)
        label, label_span = self.parse_label()
        return Layer(tok.text, args, span, label, label_span=label_span)

    def parse_sugar(self) -> Layer:
        """SUGAR = CONV<F>-<K> | POOL<F> | FC-<K>   (then args? label?)"""
        tok = self.read()
        span = self.span(tok, tok)
        text = tok.text
        if text.startswith("CONV"):
            f, k = text[4:].split("-")
            kind, sugar = "CONV", {"K": int(k), "F": int(f), "S": 1, "P": (int(f) - 1) // 2}
        elif text.startswith("POOL"):
            kind, sugar = "POOL", {"F": int(text[4:]), "S": int(text[4:])}
        else:
            kind, sugar = "FC", {"K": int(text[3:])}
        args = [Arg(key, IntLit(value, span), span) for key, value in sugar.items()]
        if self.check("("):
            extra = self.parse_args()
            given = {a.key for a in extra}
            args = [a for a in args if a.key not in given] + list(extra)
            span = self.span(tok)
        label, label_span = self.parse_label()
        return Layer(kind, tuple(args), span, label, sugar=True, label_span=label_span)

    def parse_label(self) -> tuple[str | None, Span | None]:
        """label = "@" NAME   (the label, and its span with the @)"""
        if not self.check("LABEL"):
            return None, None
        tok = self.read()
        return tok.text[1:], self.span(tok, tok)

    def parse_merge(self) -> Merge:
        """merge = ("ADD" | "CAT" | "MUL") "{" chain ("|" chain)+ "}"  |  "RES" "{" chain "}" """
        kw = self.read()
        opener = self.expect(
            "{",
            expected=f"`{{` after {kw.text}",
            help=f"write {kw.text}{{ a | b }}"
            if kw.text != "RES"
            else "write RES{ CONV -> RELU -> CONV }",
        )
        self.enter(opener)
        branches = [self.parse_branch(kw)]
        while self.check("|"):
            bar = self.read()
            if kw.text == "RES":
                self.fail(
                    "RES{...} has one branch (the identity is added for you)",
                    bar,
                    help="use ADD{ a | b } for two explicit branches",
                )
            branches.append(self.parse_branch(kw))
        self.close(opener, "}", "the branches")
        if kw.text != "RES" and len(branches) < 2:
            self.fail(
                f"{kw.text} needs at least two branches separated by `|`",
                kw,
                help=f"write {kw.text}{{ a | b }}, or RES{{ a }} for a residual",
            )
        return Merge(kw.text, tuple(branches), self.span(kw, kw), *self.parse_label())

    def parse_branch(self, kw: Token) -> Chain:
        if self.token.kind in ("|", "}"):
            self.fail(f"a branch of {kw.text} is empty", help="write ID for an identity branch")
        return self.parse_chain()

    def parse_args(self) -> tuple[Arg, ...]:
        """args = "(" (arg ("," arg)*)? ")" """
        opener = self.read()
        self.enter(opener)
        args: list[Arg] = []
        if not self.check(")"):
            args.append(self.parse_arg())
            while self.check(","):
                self.read()
                args.append(self.parse_arg())
        self.close(opener, ")", "the arguments")
        return tuple(args)

    def parse_arg(self) -> Arg:
        """arg = value | KEY "=" value"""
        first = self.token
        if first.kind == "NAME" and self.tokens[self.i + 1].kind == "=":
            self.read()
            self.read()
            value = self.parse_value()
            return Arg(first.text, value, self.span(first), self.span(first, first))
        if first.kind in (")", ",", "END"):
            self.fail(f"expected an argument, found {describe(first)}")
        return Arg(None, self.parse_value(), self.span(first))

    def parse_value(self) -> ValueExpr:
        """value = expr | NUMBER | WORD | "(" expr "," expr ")" """
        tok = self.token
        if tok.kind == "INT" and self.tokens[self.i + 1].kind in (",", ")"):
            return self.parse_int(self.read())  # the common case, without the expression rules
        if tok.kind == "FLOAT":
            return Num(self.parse_float(self.read()), self.span(tok))
        if tok.kind == "-" and self.tokens[self.i + 1].kind == "FLOAT":
            self.read()
            return Num(-self.parse_float(self.read()), self.span(tok))
        if tok.kind == "(":
            opener = self.read()
            self.enter(opener)
            first = self.parse_expr()
            if self.check(","):
                self.read()
                second = self.parse_expr()
                self.close(opener, ")", "the pair")
                pair = Pair(first, second, self.span(opener))
                if self.token.kind in ("+", "-", "*", "//", "%"):
                    self.fail("a (width, height) pair cannot be used in arithmetic")
                return pair
            self.close(opener, ")", "the expression")
            return self.parse_expr(first, opener)  # `(a) * b`: the expression goes on
        return self.parse_expr()

    def parse_expr(self, first: Expr | None = None, start: Token | None = None) -> Expr:
        """expr = product (("+" | "-") product)*

        ``first``, when given, is the already-read first operand that starts at ``start``."""
        start = start or self.token
        return self.parse_operations(self.parse_product(first, start), _SUM, start)

    def parse_product(self, first: Expr | None = None, start: Token | None = None) -> Expr:
        """product = unary (("*" | "//" | "%") unary)*"""
        start = start or self.token
        left = first if first is not None else self.parse_unary()
        return self.parse_operations(left, _PRODUCT, start)

    def parse_operations(self, left: Expr, ops: tuple[str, ...], start: Token) -> Expr:
        """``left (op operand)*`` for the operators of one precedence, read in a loop into one
        flat :class:`Arith`: a long sum neither recurses here nor when it is evaluated."""
        if self.tokens[self.i].kind not in ops:
            return left  # the usual case: a single operand
        operand = self.parse_unary if ops is _PRODUCT else self.parse_product
        steps: list[Step] = []
        count = operators(left)
        while self.token.kind in ops:
            op = self.read().kind
            right = operand()
            count += 1 + operators(right)
            steps.append(Step(op, right, self.tokens[self.i - 1].end))
        return Arith(left, tuple(steps), self.span(start), count)

    def parse_unary(self) -> Expr:
        """unary = "-"* (INT | NAME | "(" expr ")")"""
        tok = self.token
        if tok.kind == "-":
            signs = 0
            while self.check("-"):
                self.read()
                signs += 1
            operand = self.parse_unary()
            if signs % 2 == 0:
                return operand
            return Neg(operand, self.span(tok), 1 + operators(operand))
        if tok.kind == "INT":
            return self.parse_int(self.read())
        if tok.kind == "NAME":
            self.read()
            return Name(tok.text, self.span(tok))
        if tok.kind == "(":
            self.enter(self.read())
            inner = self.parse_expr()
            self.close(tok, ")", "the expression")
            return inner
        if tok.kind == "FLOAT":
            self.fail(f"`{tok.text}` is not an integer; arithmetic here is on integers")
        self.fail(f"expected a number or a name, found {describe(tok)}")

    def parse_float(self, tok: Token) -> float:
        """NUMBER, refused when it overflows to infinity (it could not be written back)."""
        value = float(tok.text)
        if math.isinf(value):
            raise FindingError(
                finding(
                    "CC111",
                    f"`{excerpt(tok.text)}` is not a finite number: it is larger than 1.8e308 "
                    "and would be infinite",
                    Location.of(self.span(tok, tok)),
                    help="write a number of at most 1.8e308",
                )
            )
        return value

    def parse_int(self, tok: Token) -> IntLit:
        if len(tok.text) > limits.MAX_INT_DIGITS:
            raise FindingError(
                finding(
                    "CC126",
                    f"the integer has {len(tok.text)} digits; at most "
                    f"{limits.MAX_INT_DIGITS} are read",
                    Location.of(self.span(tok, tok)),
                )
            )
        return IntLit(int(tok.text), self.span(tok, tok))

    def parse_header(self) -> BlockHeader:
        """header = NAME ("(" (param ("," param)*)? ")")? END;  param = NAME ("=" value)?"""
        tok = self.expect("NAME", expected="a block name", help="write name(p1, p2=default)")
        params: list[Param] = []
        if self.check("("):
            opener = self.read()
            self.enter(opener)
            while not self.check(")"):
                name = self.expect("NAME", expected="a parameter name")
                default = None
                if self.check("="):
                    self.read()
                    default = self.parse_value()
                params.append(Param(name.text, default, self.span(name)))
                if not self.check(","):
                    break
                self.read()
            self.close(opener, ")", "the parameters")
        if not self.check("END"):
            self.fail(
                f"expected the end of the block header, found {describe(self.token)}",
                help="write name(p1, p2=default)",
            )
        return BlockHeader(tok.text, tuple(params), self.span(tok, tok))


def parse_pattern(source: Source) -> Chain:
    """Parse an Arrow+ pattern; raise :class:`FindingError` (CC107, CC123, CC126)."""
    parser = Parser(source)  # CC107 for the characters that start no token
    try:
        chain = parser.parse()
    except RecursionError:  # pragma: no cover - MAX_NESTING keeps the stack shallow
        raise syntax_error(source, 0, 1, "the pattern nests too deeply") from None
    except FindingError as exc:  # CC123: nesting too deep ends the parse
        raise FindingError.of([*parser.errors, *exc.findings]) from None
    if parser.errors:
        raise FindingError.of(parser.errors)
    return chain


def parse_header(source: Source) -> BlockHeader:
    return Parser(source).parse_header()
