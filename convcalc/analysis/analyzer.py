"""Analysis: a layer graph and an input volume → one row per layer, totals and findings.

Rows are facts only (shapes, counts, receptive fields); reports format them. The walk stops
at the first error that leaves no shape to propagate (an output below 1, a merge whose
branches disagree) and returns what it has, with ``output`` None: the rows it analysed keep
their findings and design advice, and the error's help names the layers that led to it.

The walk asks each layer type and merge for its arithmetic (layers/) and hands what it finds
to the rules, which live with their families: rules/windows.py (CC2xx, the CC111 window
checks), rules/merges.py (CC3xx), rules/budgets.py (CC4xx), rules/design.py (CC5xx).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from ..errors import Finding, FindingError, Location, Severity
from ..expansion.expander import build
from ..expansion.graph import LayerGraph, LayerNode, MergeNode, Node
from ..frontend.spec import Spec
from ..layers.base import RF, LayerType, integer, pair
from ..layers.geometry import Axis
from ..layers.merges import MERGES, MergeType
from ..layers.resizing import Slice
from ..layers.vocabulary import KINDS, LAYERS
from ..records import Args, ArgValue, IntPair, Record, Row, Shape, Totals, records
from ..rules import budgets, merges, windows
from ..rules.design import advise, shrinking_layers
from ..rules.lint import LintConfig
from ..rules.lint import apply as lint_apply
from ..rules.nodes import check_volume
from ..source import Span
from .fit import network_fits
from .memory import Memory, estimate


class Analysis(NamedTuple):
    """What ``convcalc.analyze`` returns."""

    spec: Spec
    input: Shape
    rounding: str
    rows: tuple[Row, ...]
    totals: Totals
    findings: tuple[Finding, ...]
    output: Shape | None
    graph: LayerGraph | None = None
    memory: Memory | None = None

    @property
    def ok(self) -> bool:
        return not any(f.severity is Severity.ERROR for f in self.findings)

    def to_records(self) -> list[Record]:
        """One flat dict per layer, ready for ``pandas.DataFrame(analysis.to_records())``:
        the JSON layer fields, shapes as ``output_w``, ``output_h``, ``output_d`` (see
        :func:`convcalc.records.records`)."""
        return records(self.rows)


class _State(NamedTuple):
    row: int
    shape: Shape
    rf: RF


def keeps_its_output(row: Row) -> bool:
    """Whether the row's backward pass reads its own output: some layers answer by their
    arguments (LRELU and ELU only in place), merges by their kind."""
    layer = LAYERS.get(row.type)
    return layer.keeps_its_output(row.args) if layer is not None else KINDS[row.type].keeps_output


def skip_stride(size: int, target: int) -> int | None:
    """The smallest stride s of a 1×1 window that takes ``size`` to ``target``, or None:
    (size − 1)//s = target − 1 holds for s in ((size−1)/target, (size−1)/(target−1)], so the
    first is floor((size − 1)/target) + 1 if it is in that range."""
    if target < 1 or target > size:
        return None
    s = (size - 1) // target + 1
    return s if (size - 1) // s + 1 == target else None


class Analyzer:
    """Walks a layer graph once, appending rows and findings."""

    def __init__(self, spec: Spec, shape: Shape, rounding: str) -> None:
        self.spec = spec
        self.shape = shape
        self.rounding = rounding
        self.rows: list[Row] = []
        self.findings: list[Finding] = []
        self.pending: list[windows.Pending] = []
        self.branches = 0  # how many merge branches the walk is inside
        #: id of a span -> (the span, its location): the rows of ``[CONV(8)]*N`` share one
        self._located: dict[int, tuple[Span, Location]] = {}

    def run(self, graph: LayerGraph) -> Shape:
        first = graph.nodes[0]
        assert isinstance(first, LayerNode)
        w, h, d = self.shape
        self._add(first, (), (), self.shape, RF(), 0, 0, 0, 0, w * h * d)
        state = _State(0, self.shape, RF())
        state = self.sequence(graph.nodes[1:], state)
        self.not_kept()
        return state.shape

    def not_kept(self) -> None:
        """A layer output read only by layers whose backward pass keeps nothing of their input
        (SHUFFLE: a view, a transpose and a copy; CAT: a split of the gradient) is not kept for
        the backward pass either, unless its own layer keeps it (activation functions do):
        ShuffleNet's CAT, U-Net's TCONV."""
        readers: dict[int, list[str]] = {}
        for row in self.rows:
            for j in row.inputs:
                readers.setdefault(j, []).append(row.type)
        for j, types in readers.items():
            row = self.rows[j]
            if j == 0 or row.in_place or keeps_its_output(row):
                continue
            if all(KINDS[t].frees_input for t in types):
                self.rows[j] = row._replace(activations=0)

    def sequence(self, nodes: list[Node], state: _State) -> _State:
        for node in nodes:
            state = (
                self.merge(node, state) if isinstance(node, MergeNode) else self.layer(node, state)
            )
        return state

    def _add(
        self,
        node: LayerNode,
        inputs: tuple[int, ...],
        shapes: tuple[Shape, ...],
        y: Shape,
        rf: RF,
        weights: int,
        biases: int,
        buffers: int,
        macs: int,
        activations: int,
        *,
        name: str | None = None,
        type_: str | None = None,
        args: Mapping[str, ArgValue] | None = None,
        in_place: bool = False,
    ) -> int:
        index = len(self.rows)
        self.rows.append(Row(
            name or node.name, type_ or node.type, node.args if args is None else args,
            inputs, shapes, y, weights, biases, buffers, macs, activations, rf.pixels(),
            self.locate(node.span), in_place,
        ))  # fmt: skip
        return index

    def locate(self, span: Span) -> Location:
        hit = self._located.get(id(span))
        if hit is not None and hit[0] is span:
            return hit[1]
        line, col, end = span.location()
        found = Location(span.source.file.name, line, col, end, span.source.file)
        self._located[id(span)] = (span, found)
        return found

    # -- layers ---------------------------------------------------------------------------

    def layer(
        self,
        node: LayerNode,
        state: _State,
        *,
        type_: str | None = None,
        name: str | None = None,
        args: Mapping[str, ArgValue] | None = None,
    ) -> _State:
        kind = type_ or node.type
        if kind == "SKIP":
            raise merges.misplaced_skip(node)
        layer = LAYERS[kind]
        args = node.args if args is None else args
        x = state.shape
        spatial = None
        axes = layer.axes(args, x)
        if axes is not None:
            try:
                spatial = self.window(node, layer, args, axes)
            except FindingError as exc:
                raise self.with_cause(exc, state.row) from None
        if "groups" in args:
            windows.check_groups(node, args, x)
        if isinstance(layer, Slice):
            windows.check_channels(node, layer, args, x)
        y = layer.output(args, x, spatial)
        if min(y[0], y[1]) < 1:
            raise windows.too_small(node, layer, args, x, y)
        check_volume(node, y)
        if "out_pad" in args:
            windows.check_out_pad(node, layer, args)
        if "out" in args:
            self.findings.extend(windows.adaptive_findings(node, args, x))
        counts = layer.counts(args, x, y)
        rf = layer.receptive(args, x, state.rf, axes)
        in_place = layer.is_in_place(args)
        activations = layer.activation_values(args, y)
        row = self._add(
            node,
            (state.row,),
            (x,),
            y,
            rf,
            counts.weights,
            counts.biases,
            counts.buffers,
            counts.macs,
            activations,
            name=name,
            type_=kind,
            args=args,
            in_place=in_place,
        )
        return _State(row, y, rf)

    def window(
        self, node: LayerNode, layer: LayerType, args: Args, axes: tuple[Axis, Axis]
    ) -> IntPair:
        """The windows along width and height, floored or (where the layer says) ceiled."""
        ceil = layer.rounds_up(args, self.rounding)
        windows.check_window(node, layer, axes, ceil)
        notes, pending = windows.window_findings(
            node, layer, args, axes, ceil, self.rounding, in_branch=self.branches > 0
        )
        self.findings.extend(notes)
        if pending is not None:
            self.pending.append(pending)
        return (axes[0].ceil, axes[1].ceil) if ceil else (axes[0].floor, axes[1].floor)

    def with_cause(self, exc: FindingError, last: int) -> FindingError:
        """A window that does not fit (CC203), its help led by the layers that shrank the
        volume on the way to it: "conv1–conv6 shrink the volume by 2 each; P=1 keeps it"."""
        found = exc.finding
        cause = shrinking_layers(self.rows, last) if found.code == "CC203" else None
        if cause is None:
            return exc
        return FindingError(found._replace(help=f"{cause}\n{found.help}" if found.help else cause))

    # -- merges ---------------------------------------------------------------------------

    def merge(self, node: MergeNode, state: _State) -> _State:
        merge = MERGES[node.kind]
        results: list[_State | None] = []
        deferred: list[int] = []
        spans: list[range] = []  # the rows of each branch
        for i, branch in enumerate(node.branches):
            start = len(self.rows)
            if branch and isinstance(branch[-1], LayerNode) and branch[-1].type == "SKIP":
                deferred.append(i)
                results.append(None)
            else:
                results.append(self.branch(branch, state))
            spans.append(range(start, len(self.rows)))
        for i in deferred:
            branch = node.branches[i]
            skip = branch[-1]
            assert isinstance(skip, LayerNode)
            targets = [r.shape for r in results if r is not None]
            if not merge.takes_skip or not targets:
                raise merges.unmatched_skip(skip, merge)
            start = len(self.rows)
            before = self.branch(branch[:-1], state)
            results[i] = self.skip(skip, before, targets[0])
            spans[i] = range(start, len(self.rows))
        if deferred:  # a SKIP's rows were made after its siblings': put them where written
            moved = self.reorder([j for span in spans for j in span])
            results = [r and r._replace(row=moved.get(r.row, r.row)) for r in results]
        states = [r for r in results if r is not None]
        shapes = [s.shape for s in states]
        y = merge.output(shapes)
        if y is None:

            def cause(j: int) -> str | None:  # the layers of branch j that shrank it
                return shrinking_layers(self.rows, states[j].row, since=spans[j].start)

            raise merges.mismatch(node, merge, shapes, bool(deferred), state.shape, cause)
        check_volume(node, y)
        size = tuple(max(s.rf.size[i] for s in states) for i in (0, 1))
        # a branch that broadcasts (MUL's 1×1×D) sees everything; the grid is the others'
        grid = [s for s in states if s.shape[:2] == y[:2]]
        jump = tuple(max(s.rf.jump[i] for s in grid) for i in (0, 1))
        centres = {s.rf.centre for s in grid}
        aligned = len(centres) == 1 and len({s.rf.jump for s in grid}) == 1
        if not aligned and None not in centres:
            self.findings.append(merges.misaligned(node, [(states.index(s), s.rf) for s in grid]))
        centre = next(iter(centres)) if aligned else None
        rf = RF((size[0], size[1]), (jump[0], jump[1]), centre)
        fake = LayerNode(node.kind, {}, node.span, node.trace, node.label, node.name)
        inputs = [s.row for s in states]
        target = self.add_in_place(merge, inputs, state.row)
        if target is not None:  # the sum overwrites that branch's output, as `out += identity`
            inputs.insert(0, inputs.pop(target))
            shapes.insert(0, shapes.pop(target))
        in_place = target is not None
        volume = 0 if in_place else y[0] * y[1] * y[2]
        row = self._add(fake, tuple(inputs), tuple(shapes), y, rf, 0, 0, 0, 0, volume,
                        in_place=in_place)  # fmt: skip
        return _State(row, y, rf)

    def branch(self, nodes: list[Node], state: _State) -> _State:
        """A merge's branch: its layers' fixes must keep the size its siblings give."""
        self.branches += 1
        try:
            return self.sequence(nodes, state)
        finally:
            self.branches -= 1

    def reorder(self, order: list[int]) -> dict[int, int]:
        """Put the rows from ``order[0]`` on in that order (the rows of a merge's branches,
        as written), renumbering what they read; the old index -> the new one."""
        first = len(self.rows) - len(order)
        moved = {old: first + k for k, old in enumerate(order)}
        rows = [self.rows[old] for old in order]
        self.rows[first:] = [
            row._replace(inputs=tuple(moved.get(j, j) for j in row.inputs)) for row in rows
        ]
        return moved

    def add_in_place(self, merge: MergeType, inputs: list[int], merge_input: int) -> int | None:
        """Which branch an ADD can sum into, PyTorch-style (`out += identity`), if any.

        A branch output that the branch made itself (not the merge's input, not an in-place
        alias of it) is read by nothing but the ADD, so the sum can overwrite it. The other
        fresh operands are then read once by an ADD, which keeps nothing for the backward
        pass: unless the layer that made them keeps its own output (activation functions do),
        they are not kept either, and count no activations (ResNet's projection BN).
        """
        if not merge.sums_in_place:
            return None
        made = [self.maker(i) for i in inputs]
        fresh = [k for k, i in enumerate(made) if i != merge_input and not self.rows[i].in_place]
        if not fresh:
            return None
        for k in fresh[1:]:
            row = self.rows[made[k]]
            if not keeps_its_output(row):
                self.rows[made[k]] = row._replace(activations=0)
        return fresh[0]

    def maker(self, i: int) -> int:
        """The row that made row i's output: through ID, DROPOUT and DROPPATH, which hand
        their input on (at the end of a branch, a DROPPATH's training output replaces the
        one it read, which nothing keeps: the ADD sums into that one)."""
        while True:
            layer = LAYERS.get(self.rows[i].type)  # None for a merge
            if layer is None or not layer.passes_input or not self.rows[i].inputs:
                return i
            i = self.rows[i].inputs[0]

    def skip(self, node: LayerNode, state: _State, target: Shape) -> _State:
        """SKIP as its sibling's shape asks: the identity, or a 1×1 CONV -> BN projection
        whose depth and stride (unless given) are inferred."""
        x = state.shape
        k = integer(node.args, "K") or target[2]
        given = pair(node.args, "S")
        stride = []
        for i in (0, 1):
            if given[i]:
                stride.append(given[i])
                continue
            s = skip_stride(x[i], target[i])
            if s is None:
                raise merges.no_skip_stride(node, x, target, i)
            stride.append(s)
        if k == x[2] and stride == [1, 1]:
            row = self._add(node, (state.row,), (x,), x, state.rf, 0, 0, 0, 0, 0, in_place=True)
            return _State(row, x, state.rf)
        conv_args: dict[str, ArgValue] = {
            "K": k, "F": (1, 1), "S": (stride[0], stride[1]), "P": (0, 0), "dilation": (1, 1),
            "groups": 1, "bias": False,
        }  # fmt: skip
        unusual = merges.projection(node, k, stride, x, target)
        if unusual is not None:
            self.findings.append(unusual)
        mid = self.layer(node, state, type_="CONV", name=f"{node.name}.conv", args=conv_args)
        return self.layer(node, mid, type_="BN", name=f"{node.name}.bn", args={"eps": 1e-5})

    # -- the end --------------------------------------------------------------------------

    def finish(self, complete: bool) -> None:
        suggestions: dict[tuple[int, ...], str | None] = {}
        for p in self.pending:
            if complete and p.axes not in suggestions:
                suggestions[p.axes] = network_fits(self.rows, self.shape, p.axes, self.rounding)
            self.findings.append(p.complete(suggestions.get(p.axes)))
        self.pending.clear()


def analyze(
    spec: Spec,
    *,
    input: Shape | None = None,
    variables: Mapping[str, int | bool] | None = None,
    rounding: str | None = None,
    batch: int | None = None,
    dtype: str | None = None,
    optimizer: str | None = None,
    lint: LintConfig | None = None,
) -> Analysis:
    """Expand a spec and propagate shapes, counts, memory and findings through it.

    ``input`` overrides the spec's input volume, ``variables`` its ``vars`` (like --set),
    ``rounding`` its rounding mode; ``batch``, ``dtype`` and ``optimizer`` the memory
    estimate's; ``lint`` selects and re-grades rules over the spec's own `lint:`. Problems
    are findings in the result, never exceptions.
    """
    return analyze_graph(spec, None, input=input, variables=variables, rounding=rounding,
                         batch=batch, dtype=dtype, optimizer=optimizer, lint=lint)  # fmt: skip


def analyze_graph(
    spec: Spec,
    graph: LayerGraph | None,
    *,
    input: Shape | None = None,
    variables: Mapping[str, int | bool] | None = None,
    rounding: str | None = None,
    batch: int | None = None,
    dtype: str | None = None,
    optimizer: str | None = None,
    lint: LintConfig | None = None,
) -> Analysis:
    """:func:`analyze` of an expanded graph (a converted one), or of the spec's when None."""
    shape = input or spec.input
    mode = rounding or spec.rounding
    analyzer = Analyzer(spec, shape, mode)
    output: Shape | None = None
    stopper = None
    try:
        graph = graph or build(spec, variables)
        analyzer.findings.extend(graph.findings)
        analyzer.findings.extend(spec.notes)
        output = analyzer.run(graph)
    except FindingError as exc:
        stopper = exc.finding
        analyzer.findings.extend(exc.findings)  # every error of an expansion, or the one stop
    analyzer.finish(complete=output is not None)
    rows = tuple(analyzer.rows)
    totals = Totals.of(rows)
    memory = None
    if output is not None:
        memory = estimate(
            rows,
            dtype=dtype or spec.dtype,
            batch=batch or spec.batch,
            optimizer=optimizer or spec.optimizer,
        )
        analyzer.findings.extend(budgets.memory_findings(spec, rows, totals, memory))
    if rows:  # the advice on every row analysed, also when an error stopped the walk
        analyzer.findings.extend(advise(rows, shape))
    config = spec.lint.merged(lint) if lint is not None else spec.lint
    kept = lint_apply(analyzer.findings, config, stopper=stopper)
    findings = tuple(sorted(kept, key=_order))
    return Analysis(spec, shape, mode, rows, totals, findings, output, graph, memory)


def _order(f: Finding) -> tuple[int, int, str]:
    return (f.location.line or 0, f.location.column or 0, f.code)
