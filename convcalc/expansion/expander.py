"""Expansion: pattern AST + spec → a layer graph with every repetition, call and default resolved.

:func:`build` walks the pattern once, stage by stage, checking the expansion limits before
each repetition and block call (with :class:`~.bounds.LowerBound`), then names the layers.
"""

from __future__ import annotations

from collections.abc import Mapping

from .. import limits
from ..errors import Finding, FindingError, Location, did_you_mean, excerpt
from ..frontend.evaluate import Env, evaluate, fail, show, unbound
from ..frontend.keywords import LAYER_TYPES, MERGE_TYPES
from ..frontend.spec import Spec
from ..frontend.syntax import Call, Chain, Expr, Group, Layer, Merge, Name, Stage, operators
from ..records import ArgValue
from ..rules.catalogue import finding
from ..source import Span
from .arguments import Resolver, bind_call, call_operators
from .bounds import LowerBound
from .graph import Frame, LayerGraph, LayerNode, MergeNode, Node, trace_text


class Expander:
    def __init__(self, spec: Spec, variables: Mapping[str, int | bool]) -> None:
        self.spec = spec
        self.globals: dict[str, ArgValue] = {**spec.vars, **variables}
        self.findings: list[Finding] = []
        self.errors: list[Finding] = []  # recovered from: the expansion goes on without them
        self._error_keys: set[tuple[str, str, int | None, int | None, str]] = set()
        self.steps = 0
        self.layers = 0
        self.depth = 0  # block calls
        self.nesting = 0  # brackets and merges, through block calls
        self._optional_seen: set[tuple[int, int, int]] = set()
        self.bound = LowerBound(spec.blocks, self.globals)
        self.resolve = Resolver()

    def build(self) -> LayerGraph:
        chain = self.spec.arch
        stages = list(chain.stages)
        nodes: list[Node] = []
        first = stages[0].term
        if isinstance(first, Layer) and first.type == "INPUT":
            extra = stages[0].optional or stages[0].repeat
            if extra is not None:
                self.record(fail(
                    "CC115",
                    "INPUT cannot be optional or repeated",
                    extra.span,
                    help="the network has exactly one input: write INPUT -> ...",
                ))  # fmt: skip
            if first.args:
                self.record(fail(
                    "CC111",
                    "INPUT takes no arguments",
                    first.args[0].span,
                    help="the input volume is `input:` in the spec (or --input WxHxD)",
                ))  # fmt: skip
            nodes.append(LayerNode("INPUT", {}, first.span, (), first.label, "", first.label_span))
            stages = stages[1:]
        else:
            start = Span(chain.span.source, chain.span.start, chain.span.start + 1)
            nodes.append(LayerNode("INPUT", {}, start))
        self.layers = 1
        self._check_whole(stages)
        try:
            for stage in stages:
                self.recover(stage, self.globals, (), nodes)
        except _Stop:
            raise
        except FindingError as exc:  # a limit: the errors before it, then it
            raise FindingError.of([*self.errors, *exc.findings]) from None
        if self.errors:
            raise FindingError.of(self.errors)
        _assign_names(nodes)
        return LayerGraph(nodes, self.findings, self.layers)

    def recover(self, stage: Stage, env: Env, trace: tuple[Frame, ...], out: list[Node]) -> None:
        """Expand a stage; an error in it (an unknown layer, a wrong argument) is kept and the
        expansion goes on with the next stage, so one run reports them all. A limit (CC121 to
        CC124) ends it: going on could take as long as what the limit refuses."""
        try:
            self.stage(stage, env, trace, out)
        except _Stop:
            raise
        except FindingError as exc:
            if exc.finding.code in _FATAL:
                raise  # up to build, each block call and repetition adding its note
            self.record(exc)
            if len(self.errors) >= limits.MAX_ERRORS:
                raise _Stop.of(self.errors) from None

    def record(self, exc: FindingError) -> None:
        """Keep an error once: a block called twice, or a stage repeated, repeats none."""
        for f in exc.findings:
            loc = f.location
            key = (f.code, loc.file, loc.line, loc.column, f.message)
            if key not in self._error_keys:
                self._error_keys.add(key)
                self.errors.append(f)

    # -- the grammar, expanded ------------------------------------------------------------

    def chain(self, chain: Chain, env: Env, trace: tuple[Frame, ...], out: list[Node]) -> None:
        for stage in chain.stages:
            self.recover(stage, env, trace, out)

    def stage(self, stage: Stage, env: Env, trace: tuple[Frame, ...], out: list[Node]) -> None:
        self._step(stage.span)
        if stage.optional is not None and not self._present(stage, env):
            return
        repeat = stage.repeat
        if repeat is None:
            self.term(stage, env, trace, out)
            return
        count = self._evaluate(repeat.times, env)
        if count < 0:
            raise fail(
                "CC114",
                f"repetition count `{excerpt(repeat.times.span.text)}` is {count}",
                repeat.times.span,
                help="a count is 0 or more",
            )
        if count > limits.MAX_REPEAT:
            raise fail(
                "CC122",
                f"repetition count {count:,} is over the limit of {limits.MAX_REPEAT:,}",
                repeat.times.span,
            )
        values: list[tuple[str, list[int]]] = []
        for binding in repeat.bindings:
            if len(binding.values) != count:
                raise fail(
                    "CC110",
                    f"`over {binding.name}=...` gives {len(binding.values)} value"
                    f"{'s' if len(binding.values) != 1 else ''} for {count} repetition"
                    f"{'s' if count != 1 else ''}",
                    binding.span,
                    help=f"give exactly {count} values, one per repetition",
                )
            values.append((binding.name, [self._evaluate(v, env) for v in binding.values]))
        self._check_size(stage, count, env)
        errors = len(self.errors)
        for i in range(count):
            if len(self.errors) > errors:
                return  # the next repetitions would repeat the errors of this one
            self._step(stage.span)
            inner: Env = env
            bound: tuple[tuple[str, ArgValue], ...] = ()
            if values:
                bound = tuple((name, vals[i]) for name, vals in values)
                inner = {**env, **dict(bound)}
            frame = Frame(stage.term.span, i + 1, count, bound)
            self.term(stage, inner, (*trace, frame), out)

    def _check_whole(self, stages: list[Stage]) -> None:
        """Refuse at once a pattern whose stages add up past a limit, at the stage that does."""
        steps, layers = 0, 1
        for stage in stages:
            s, n = self.bound.stage(stage, self.globals, self.nesting)
            self._check_exhausted(stage.span)
            steps, layers = steps + s, layers + n
            if layers > limits.MAX_LAYERS or steps > limits.MAX_STEPS:
                raise fail(
                    "CC121",
                    f"up to here the network has at least {_many(layers, 'layer')} and "
                    f"{_many(steps, 'expansion step')}; the limits are {limits.MAX_LAYERS:,} "
                    f"layers and {limits.MAX_STEPS:,} steps",
                    stage.span,
                    help="reduce the repetition counts",
                )

    def _check_exhausted(self, span: Span) -> None:
        """Refuse what bounding alone already showed to be too large."""
        if self.bound.exhausted:
            raise fail(
                "CC121",
                f"expanding this takes more than {limits.MAX_STEPS:,} steps: merely bounding "
                "its repetitions and block calls takes more",
                span,
                help="a block that calls blocks twice doubles at every level, even when each "
                "call has other arguments; reduce the depth or the counts",
            )

    def _check_size(self, stage: Stage, count: int, env: Env) -> None:
        """Refuse a repetition whose expansion is already known to exceed the limits."""
        if count == 0:
            return
        steps, layers = self.bound.term(stage.term, env, self.nesting)
        self._check_exhausted(_repeat_span(stage))
        steps, layers = count * (1 + steps), count * layers
        if self.layers + layers > limits.MAX_LAYERS:
            raise fail(
                "CC121",
                f"with this repetition the network has at least {self.layers + layers:,} layers "
                f"({layers:,} here); the limit is {limits.MAX_LAYERS:,}",
                _repeat_span(stage),
                help="reduce the repetition counts",
            )
        if self.steps + steps > limits.MAX_STEPS:
            raise fail(
                "CC121",
                f"with this repetition the expansion takes at least {self.steps + steps:,} steps "
                f"({steps:,} here); the limit is {limits.MAX_STEPS:,}",
                _repeat_span(stage),
                help="reduce the repetition counts (repetitions of nothing count too)",
            )

    def _present(self, stage: Stage, env: Env) -> bool:
        optional = stage.optional
        assert optional is not None
        if optional.condition is not None:
            return bool(self._evaluate(optional.condition, env))
        if optional.name is None:
            span = stage.span
            key = (id(span.source), span.start, span.end)
            if key not in self._optional_seen:
                self._optional_seen.add(key)
                text = excerpt(stage.term.span.text)
                self.findings.append(
                    finding(
                        "CC112",
                        f"optional `{text}?` is present by default",
                        Location.of(optional.span),
                        help=f"name it to choose: {text}?pool, with vars: {{pool: true}} or "
                        "--set pool=false",
                    )
                )
            return True
        if optional.name not in env:
            raise unbound(Name(optional.name, optional.span), env)
        value = env[optional.name]
        if isinstance(value, (bool, int)):
            return bool(value)
        raise fail(
            "CC114",
            f"`{optional.name}` is {show(value)}, not true/false or a number",
            optional.span,
        )

    def term(self, stage: Stage, env: Env, trace: tuple[Frame, ...], out: list[Node]) -> None:
        try:
            self._term(stage, env, trace, out)
        except FindingError as exc:
            if exc.finding.note is None and trace and not isinstance(exc, _Stop):
                raise FindingError(exc.finding._replace(note=trace_text(trace)), exc.more) from None
            raise

    def _term(self, stage: Stage, env: Env, trace: tuple[Frame, ...], out: list[Node]) -> None:
        term = stage.term
        if isinstance(term, Layer):
            out.append(self.layer(term, env, trace))
        elif isinstance(term, Call):
            self.call(term, env, trace, out)
        else:
            self._enter(term.span)
            try:
                if isinstance(term, Group):
                    self.chain(term.chain, env, trace, out)
                else:
                    out.append(self.merge(term, env, trace))
            finally:
                self.nesting -= 1

    def _enter(self, span: Span) -> None:
        """One more level of brackets or merges; a pattern has at most MAX_NESTING itself
        (the parser sees to it), so this counts what block calls add."""
        self.nesting += 1
        if self.nesting > limits.MAX_NESTING:
            raise fail(
                "CC123",
                f"brackets and merges nest deeper than {limits.MAX_NESTING} levels here, counting "
                "those around the block calls that lead here",
                span,
                help="a block called inside brackets adds its brackets to theirs; call it "
                "outside them, or nest less in its body",
            )

    def layer(self, layer: Layer, env: Env, trace: tuple[Frame, ...]) -> LayerNode:
        if layer.type == "INPUT":
            raise fail(
                "CC115",
                "INPUT can only be the first stage of `arch`",
                layer.span,
                help="remove it; every pattern starts from the spec's input volume",
            )
        self.layers += 1
        if self.layers > limits.MAX_LAYERS:
            raise fail(
                "CC121",
                f"the network expands to more than {limits.MAX_LAYERS:,} layers",
                layer.span,
            )
        for arg in layer.args:
            self._charge(operators(arg.value), arg.value.span)
        defaults = self.spec.defaults.get(layer.type, {})
        args = self.resolve(layer, env, defaults)
        return LayerNode(layer.type, args, layer.span, trace, layer.label, "", layer.label_span)

    def merge(self, merge: Merge, env: Env, trace: tuple[Frame, ...]) -> MergeNode:
        branches: list[list[Node]] = []
        for branch in merge.branches:
            nodes: list[Node] = []
            self.chain(branch, env, trace, nodes)
            branches.append(nodes)
        if merge.kind == "RES":
            self.layers += 1
            branches.append([LayerNode("ID", {}, merge.span, trace)])
        self.layers += 1
        kind = "ADD" if merge.kind == "RES" else merge.kind
        return MergeNode(
            kind, tuple(branches), merge.span, trace, merge.label, "", merge.label_span
        )

    def call(self, call: Call, env: Env, trace: tuple[Frame, ...], out: list[Node]) -> None:
        block = self.spec.blocks.get(call.name)
        if block is None:
            known = [*self.spec.blocks, *LAYER_TYPES, *MERGE_TYPES]
            raise fail(
                "CC108",
                f"unknown layer or block `{call.name}`{did_you_mean(call.name, known)}",
                call.span,
                help="layer types: "
                + ", ".join(LAYER_TYPES)
                + (f"; blocks: {', '.join(self.spec.blocks)}" if self.spec.blocks else ""),
            )
        if self.depth >= limits.MAX_RECURSION:
            raise fail(
                "CC124",
                f"block calls nest deeper than {limits.MAX_RECURSION} levels (at `{call.name}`)",
                call.span,
                help="a recursive block must stop within that depth, as "
                'b(n): "CONV -> b(n - 1)?n" does for n < 32; a repetition like [CONV]*n '
                "repeats without nesting",
            )
        inner = {**self.globals, **bind_call(block, call, env)}
        steps, layers = self.bound.call(call, env, self.nesting)
        self._check_exhausted(call.span)
        if self.steps + steps > limits.MAX_STEPS or self.layers + layers > limits.MAX_LAYERS:
            raise fail(
                "CC121",
                f"with `{call.name}` the network has at least {self.layers + layers:,} layers and "
                f"{self.steps + steps:,} expansion steps ({layers:,} and {steps:,} here); the "
                f"limits are {limits.MAX_LAYERS:,} layers and {limits.MAX_STEPS:,} steps",
                call.span,
                help="a block that calls blocks twice doubles at every level; reduce the depth",
            )
        self._charge(call_operators(block, call), call.span)
        frame = Frame(call.span, values=tuple((p.name, inner[p.name]) for p in block.header.params))
        self.depth += 1
        try:
            self.chain(block.body, inner, (*trace, frame), out)
        finally:
            self.depth -= 1

    def _evaluate(self, expr: Expr, env: Env) -> int:
        self._charge(operators(expr), expr.span)
        return evaluate(expr, env)

    def _charge(self, ops: int, span: Span) -> None:
        """Count the operators an evaluation applies as steps: a long expression repeated
        20,000 times is work too."""
        if not ops:
            return
        self.steps += ops
        if self.steps > limits.MAX_STEPS:
            raise fail(
                "CC121",
                f"expanding the pattern takes more than {limits.MAX_STEPS:,} steps: this "
                f"expression applies {ops:,} operator{'s' if ops != 1 else ''}, and each "
                "counts as a step",
                span,
                help="write the value itself, or a shorter expression",
            )

    def _step(self, span: Span) -> None:
        self.steps += 1
        if self.steps > limits.MAX_STEPS:
            raise fail(
                "CC121",
                f"expanding the pattern takes more than {limits.MAX_STEPS:,} steps",
                span,
                help="reduce the repetition counts",
            )


class _Stop(FindingError):
    """The errors of an expansion that ends: at a limit, or at MAX_ERRORS errors."""


_FATAL = frozenset({"CC121", "CC122", "CC123", "CC124"})  # the limits: the expansion stops there


def _repeat_span(stage: Stage) -> Span:
    repeat = stage.repeat
    assert repeat is not None
    return stage.term.span.to(repeat.times.span)


def _many(n: int, word: str) -> str:
    return f"{n:,} {word}{'s' if n != 1 else ''}"


def _assign_names(nodes: list[Node]) -> None:
    """Labels first (numbered when a label repeats), then ``conv1``, ``relu3``, ... per type."""
    flat: list[Node] = []

    def walk(seq: list[Node]) -> None:
        for node in seq:
            if isinstance(node, MergeNode):
                for branch in node.branches:
                    walk(branch)
            flat.append(node)

    walk(nodes)
    counts: dict[str, int] = {}
    origin: dict[str, Span] = {}
    for node in flat:
        if node.label:
            counts[node.label] = counts.get(node.label, 0) + 1
            first = origin.setdefault(node.label, node.span)
            if first.source is not node.span.source or first.start != node.span.start:
                line, col, _ = first.location()
                raise fail(
                    "CC113",
                    f"label `{node.label}` already names another layer (line {line}, column {col})",
                    node.span,
                    help="give each layer its own label; a label repeated by *n or by a "
                    "block called twice is numbered for you (name.1, name.2, ...)",
                )
    _check_numbering(flat, counts)
    used = {label for label in counts}
    seen: dict[str, int] = {}
    for node in flat:
        if node.label:
            if counts[node.label] == 1:
                node.name = node.label
            else:
                seen[node.label] = seen.get(node.label, 0) + 1
                node.name = f"{node.label}.{seen[node.label]}"
                used.add(node.name)
    numbers: dict[str, int] = {}
    for node in flat:
        if node.name:
            continue
        prefix = (node.kind if isinstance(node, MergeNode) else node.type).lower()
        prefix += "_" if prefix[-1].isdigit() else ""  # relu6_1, not relu61 (RELU 61?)
        n = numbers.get(prefix, 0)
        while True:
            n += 1
            candidate = prefix if prefix == "input" and n == 1 else f"{prefix}{n}"
            if candidate not in used:
                break
        numbers[prefix] = n
        node.name = candidate
        used.add(candidate)


def _check_numbering(flat: list[Node], counts: Mapping[str, int]) -> None:
    """Refuse a label of the form ``x.3`` when label ``x`` repeats: its numbering gives
    ``x.1``, ``x.2``, ... (any number: another ``--set`` changes how many)."""
    numbered = {label for label, n in counts.items() if n > 1}
    if not numbered:
        return
    repeated: dict[str, Span] = {}
    for node in flat:
        if node.label in numbered:
            repeated.setdefault(node.label, node.label_span or node.span)
    for node in flat:
        label = node.label
        if not label or counts[label] > 1:
            continue
        base, _, number = label.rpartition(".")
        if base in numbered and number.isascii() and number.isdigit() and number[0] != "0":
            line, col, _ = repeated[base].location()
            raise fail(
                "CC113",
                f"label `{label}` is a name the numbering of label `{base}` gives ({base}.1, "
                f"{base}.2, ...): `{base}` labels a layer that repeats (line {line}, column "
                f"{col})",
                node.label_span or node.span,
                help=f"choose another label, like {base}_{number}; a label that repeats is "
                "numbered for you",
            )


def build(spec: Spec, variables: Mapping[str, int | bool] | None = None) -> LayerGraph:
    """Expand a spec's pattern; raise :class:`FindingError` at the first error."""
    return Expander(spec, variables or {}).build()
