"""How much a part of a pattern expands to at least, known before expanding it."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from .. import limits
from ..errors import FindingError
from ..frontend.evaluate import Env, evaluate
from ..frontend.spec import Block
from ..frontend.syntax import Call, Expr, Group, Layer, Stage, Term, operators
from .arguments import bind_call, call_operators

#: What a bound that gave up says: more expansion steps than the limit allows.
EXHAUSTED = (limits.MAX_STEPS + 1, 0)


class _Exhausted(Exception):
    """Bounding took more work than expanding within the limits could: stop."""


class LowerBound:
    """(expansion steps, layers) a part of a pattern needs at least, without expanding it.

    What cannot be known yet (an unbound name, an argument error, nesting or block calls past
    their limits) counts as nothing, so the bound never exceeds the truth. Block calls are
    bounded through their bodies, remembered per block and arguments, so a block that calls
    another twice, 20 levels down (2²⁰ calls), is bounded in 20 steps.

    Bounding is work too: every stage it visits and every operator it evaluates stands for at
    least one step of the real expansion (a repetition's body is visited once, only when the
    count is at least 1, and each block call once per arguments). So once one bound has done
    more than ``limits.MAX_STEPS`` of that work, the expansion is known to exceed the limit,
    and the bound stops with :data:`EXHAUSTED` (a block whose calls all differ, like
    ``b(n - 1, 2 * a) -> b(n - 1, 2 * a + 1)``, would otherwise be explored 2ⁿ times).
    """

    def __init__(self, blocks: Mapping[str, Block], globals_: Env) -> None:
        self.blocks = blocks
        self.globals = globals_
        self.memo: dict[tuple[object, ...], tuple[int, int]] = {}
        self.operators: dict[int, int] = {}  # of each call, by id (the AST outlives a bound)
        self.depth = 0  # block calls
        self.nesting = 0  # brackets and merges, through block calls
        self.work = 0
        self.exhausted = False  # a bound gave up: the expansion is known to be too large

    # -- the public bounds: each with its own budget of work -------------------------------

    def stage(self, stage: Stage, env: Env, nesting: int = 0) -> tuple[int, int]:
        return self._budgeted(lambda: self._stage(stage, env), nesting)

    def term(self, term: Term, env: Env, nesting: int = 0) -> tuple[int, int]:
        return self._budgeted(lambda: self._term(term, env), nesting)

    def call(self, call: Call, env: Env, nesting: int = 0) -> tuple[int, int]:
        return self._budgeted(lambda: self._call(call, env), nesting)

    def _budgeted(self, bound: Callable[[], tuple[int, int]], nesting: int) -> tuple[int, int]:
        """A bound, from ``nesting`` levels of brackets, with a fresh budget of work."""
        self.work, self.nesting = 0, nesting
        try:
            return bound()
        except _Exhausted:
            self.exhausted = True
            return EXHAUSTED

    def _spend(self, work: int) -> None:
        self.work += work
        if self.work > limits.MAX_STEPS:
            raise _Exhausted

    def _value(self, expr: Expr, env: Env) -> int | None:
        """The value of a count or a condition; None when it cannot be known (or would cost
        more work than is left: the expansion then refuses it with its own finding)."""
        ops = operators(expr)
        if self.work + ops > limits.MAX_STEPS:
            return None
        self._spend(ops)
        try:
            return evaluate(expr, env)
        except FindingError:
            return None

    # -- the grammar, bounded ---------------------------------------------------------------

    def _stage(self, stage: Stage, env: Env) -> tuple[int, int]:
        self._spend(1)
        if not self._present(stage, env):
            return 1, 0
        if stage.repeat is None:
            steps, layers = self._term(stage.term, env)
            return 1 + steps, layers
        count = self._value(stage.repeat.times, env)
        if count is None or not 0 < count <= limits.MAX_REPEAT:
            return 1, 0  # nothing, or the repetition stops at its own error (CC114, CC122)
        steps, layers = self._term(stage.term, env)
        return 1 + count * (1 + steps), count * layers

    def _present(self, stage: Stage, env: Env) -> bool:
        """Whether an optional stage is there, as far as can be known (a bare `X?` is)."""
        optional = stage.optional
        if optional is None:
            return True
        if optional.name is not None:
            return bool(env.get(optional.name))
        return optional.condition is None or bool(self._value(optional.condition, env))

    def _term(self, term: Term, env: Env) -> tuple[int, int]:
        if isinstance(term, Layer):
            return 0, 1
        if isinstance(term, Call):
            return self._call(term, env)
        if self.nesting >= limits.MAX_NESTING:
            return 0, 0  # the expansion refuses it (CC123)
        chains = [term.chain] if isinstance(term, Group) else list(term.branches)
        steps, layers = 0, 0 if isinstance(term, Group) else 1
        self.nesting += 1
        try:
            for chain in chains:
                for stage in chain.stages:
                    s, n = self._stage(stage, env)
                    steps, layers = steps + s, layers + n
        finally:
            self.nesting -= 1
        return steps, layers

    def _call(self, call: Call, env: Env) -> tuple[int, int]:
        block = self.blocks.get(call.name)
        if block is None or self.depth >= limits.MAX_RECURSION:
            return 0, 0
        ops = self.operators.get(id(call))
        if ops is None:
            ops = self.operators[id(call)] = call_operators(block, call)
        if self.work + ops > limits.MAX_STEPS:
            return 0, 0
        self._spend(ops)
        try:
            bound = bind_call(block, call, env)
        except FindingError:
            return 0, 0
        key = (call.name, self.nesting, *sorted(bound.items()))
        if key not in self.memo:
            self.memo[key] = (0, 0)  # a call of itself with the same arguments adds nothing
            self.depth += 1
            try:
                inner = {**self.globals, **bound}
                total = [self._stage(stage, inner) for stage in block.body.stages]
                self.memo[key] = (sum(t[0] for t in total), sum(t[1] for t in total))
            except _Exhausted:
                del self.memo[key]
                raise
            finally:
                self.depth -= 1
        return self.memo[key]
