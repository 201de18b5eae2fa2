"""How much a part of a pattern expands to at least, known before expanding it."""

from __future__ import annotations

from collections.abc import Mapping

from .. import limits
from ..errors import FindingError
from ..frontend.evaluate import Env, evaluate
from ..frontend.spec import Block
from ..frontend.syntax import Call, Group, Layer, Merge, Stage
from .arguments import bind_call


class LowerBound:
    """(expansion steps, layers) a part of a pattern needs at least, without expanding it.

    What cannot be known yet (an unbound name, an argument error) counts as nothing, so the
    bound never exceeds the truth. Block calls are bounded through their bodies, remembered
    per block and arguments, so a block that calls another twice, 20 levels down (2²⁰
    calls), is bounded in 20 steps.
    """

    def __init__(self, blocks: Mapping[str, Block], globals_: Env) -> None:
        self.blocks = blocks
        self.globals = globals_
        self.memo: dict[tuple[object, ...], tuple[int, int]] = {}
        self.depth = 0

    def stage(self, stage: Stage, env: Env) -> tuple[int, int]:
        optional = stage.optional
        if optional is not None and (optional.name is not None or optional.condition is not None):
            try:
                present = (
                    bool(env.get(optional.name))
                    if optional.name is not None
                    else bool(evaluate(optional.condition, env))  # type: ignore[arg-type]
                )
            except FindingError:
                present = False
            if not present:
                return 1, 0
        steps, layers = self.term(stage.term, env)
        if stage.repeat is None:
            return 1 + steps, layers
        try:
            count = evaluate(stage.repeat.times, env)
        except FindingError:
            count = 0
        if not 0 <= count <= limits.MAX_REPEAT:
            count = 0  # the repetition stops at its own error (CC114, CC122)
        return 1 + count * (1 + steps), count * layers

    def term(self, term: Layer | Call | Group | Merge, env: Env) -> tuple[int, int]:
        if isinstance(term, Layer):
            return 0, 1
        if isinstance(term, Call):
            return self.call(term, env)
        chains = [term.chain] if isinstance(term, Group) else list(term.branches)
        steps, layers = 0, 0 if isinstance(term, Group) else 1
        for chain in chains:
            for stage in chain.stages:
                s, n = self.stage(stage, env)
                steps, layers = steps + s, layers + n
        return steps, layers

    def call(self, call: Call, env: Env) -> tuple[int, int]:
        block = self.blocks.get(call.name)
        if block is None or self.depth >= limits.MAX_RECURSION:
            return 0, 0
        try:
            bound = bind_call(block, call, env)
        except FindingError:
            return 0, 0
        key = (call.name, *sorted(bound.items()))
        if key not in self.memo:
            self.memo[key] = (0, 0)  # a call of itself with the same arguments adds nothing
            self.depth += 1
            try:
                inner = {**self.globals, **bound}
                total = [self.stage(stage, inner) for stage in block.body.stages]
                self.memo[key] = (sum(t[0] for t in total), sum(t[1] for t in total))
            finally:
                self.depth -= 1
        return self.memo[key]
