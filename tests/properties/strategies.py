"""Random valid specs in the arrow grammar, each with the rows the README says it has.

Every drawn layer carries its rule: the README's "Layer vocabulary" and "Conventions" formulas
for its output volume, weights, biases, buffers and MACs, written out here and never imported
from convcalc. A drawn spec (:class:`Net`) knows its whole row sequence in execution order:
the INPUT row, every repetition expanded, the rows of each merge's branches in written order (a
SKIP branch with its projection CONV and BN when the shapes differ), then the merge row itself.

Covered: CONV and LOCAL (rectangular F, S and P, ``same`` and ``valid``, dilation, groups,
bias), TCONV (dilation, groups, out_pad), POOL (max, avg, l2; padding; ceil), APOOL (avg,
max; smaller or larger than its input), SLICE, SHUFFLE, UP(2..3), the activations, BN, LRN,
DROPOUT, ID, the sugar ``CONVf-k``, ``POOLn`` and ``FC-k``, repetitions ``[...]*n``
(n = 0..3), ``ADD{ ... | SKIP }`` (SKIP written first or last), ``RES{ ... }``, ``CAT{ ... }``,
``MUL{ ID | GAP -> CONV }`` (squeeze-and-excitation, either order), a head of GAP, FLATTEN
and FC layers, rectangular inputs, and the roundings floor, caffe and strict, from the spec's
``rounding:`` or from ``analyze(rounding=...)``. Widths and heights stay within 1..48.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

from hypothesis import strategies as st

Shape = tuple[int, int, int]  # (W, H, D)
Pair = tuple[int, int]  # (width, height)
Pad = str | Pair  # "same", "valid" or (width, height)

MAX_SIZE = 48  # widths and heights stay at most this, so the forward pass stays fast
MAX_DEPTH = 48  # CAT stops adding depth beyond this
LOCAL_WEIGHTS = 50_000  # a larger LOCAL is drawn as a CONV instead


# -- the README's formulas ------------------------------------------------------------------


def f_eff(f: int, dilation: int) -> int:
    return dilation * (f - 1) + 1


def same_pads(size: int, f: int, s: int, dilation: int = 1) -> Pair:
    """TensorFlow's padding='same': ceil(W/S) outputs; the odd pixel of padding goes after."""
    out = -(-size // s)
    total = max((out - 1) * s + f_eff(f, dilation) - size, 0)
    return total // 2, total - total // 2


def pads(pad: Pad, size: int, f: int, s: int, dilation: int, axis: int) -> Pair:
    """(before, after) along one axis."""
    if pad == "same":
        return same_pads(size, f, s, dilation)
    if pad == "valid":
        return 0, 0
    assert not isinstance(pad, str)
    return pad[axis], pad[axis]


def windows(
    size: int, f: int, s: int, before: int, after: int, dilation: int = 1, *, ceil: bool = False
) -> int | None:
    """W2 = floor((W1 + P_before + P_after − F_eff)/S) + 1; with ``ceil`` PyTorch's ceil_mode
    (ceil instead of floor, then drop a last window that starts at or beyond W1 + P_before:
    a window may hang over the end by less than the stride, even over an input smaller than
    it). None when not even one window fits."""
    span = size + before + after - f_eff(f, dilation)
    if not ceil:
        return span // s + 1 if span >= 0 else None
    n = -(-span // s) + 1
    if (n - 1) * s >= size + before:
        n -= 1
    return n if n >= 1 else None


def fits(size: int, f: int, s: int, before: int, after: int, dilation: int = 1) -> bool:
    """The stride fits: (W1 + P_before + P_after − F_eff)/S is an integer."""
    return (size + before + after - f_eff(f, dilation)) % s == 0


class Fact(NamedTuple):
    """One row as the README's formulas give it."""

    type: str
    inputs: tuple[int, ...]  # the positions of the rows it reads
    output: Shape
    weights: int = 0
    biases: int = 0
    buffers: int = 0
    macs: int = 0
    misfit: bool = False  # a CONV, LOCAL or POOL whose stride doesn't fit (strict: CC201)

    def key(self) -> tuple[object, ...]:
        """What a row of the analysis is compared on."""
        return (self.type, tuple(sorted(self.inputs)), self.output, self.weights, self.biases,
                self.buffers, self.macs)  # fmt: skip


Rule = Callable[[Shape], Fact | None]  # input volume -> the row (inputs unset), None: no fit


def conv_rule(
    kind: str, k: int, f: Pair, s: Pair, pad: Pad, dil: Pair, groups: int, bias: bool
) -> Rule:
    """CONV: weights F_w·F_h·(D1/groups)·K, biases K, MACs W2·H2·K·F_w·F_h·(D1/groups);
    LOCAL: the same shape and MACs, weights and biases once per output position."""

    def rule(x: Shape) -> Fact | None:
        out, misfit = [], False
        for i in (0, 1):
            before, after = pads(pad, x[i], f[i], s[i], dil[i], i)
            n = windows(x[i], f[i], s[i], before, after, dil[i])
            if n is None:
                return None
            out.append(n)
            misfit |= not fits(x[i], f[i], s[i], before, after, dil[i])
        if x[2] % groups or k % groups:
            return None
        w2, h2 = out
        per_filter = f[0] * f[1] * (x[2] // groups)
        weights, biases = per_filter * k, k if bias else 0
        if kind == "LOCAL":
            weights, biases = weights * w2 * h2, biases * w2 * h2
        return Fact(kind, (), (w2, h2, k), weights, biases, 0, w2 * h2 * k * per_filter, misfit)

    return rule


def pool_rule(f: Pair, s: Pair, p: Pair, ceil: bool) -> Rule:
    """POOL: the CONV shape rule (ceil: PyTorch's ceil_mode), depth unchanged, no parameters;
    a padding above F/2 is refused."""

    def rule(x: Shape) -> Fact | None:
        out, misfit = [], False
        for i in (0, 1):
            if p[i] > f[i] // 2:
                return None
            n = windows(x[i], f[i], s[i], p[i], p[i], ceil=ceil)
            if n is None:
                return None
            out.append(n)
            misfit |= not fits(x[i], f[i], s[i], p[i], p[i])
        return Fact("POOL", (), (out[0], out[1], x[2]), misfit=misfit)

    return rule


def tconv_rule(
    k: int, f: Pair, s: Pair, p: Pair, out_pad: Pair, dil: Pair, groups: int, bias: bool
) -> Rule:
    """TCONV: W2 = (W1 − 1)·S − 2P + F_eff + out_pad; weights F_w·F_h·(D1/groups)·K, biases K,
    MACs W1·H1·D1·F_w·F_h·K/groups."""

    def rule(x: Shape) -> Fact | None:
        out = [(x[i] - 1) * s[i] - 2 * p[i] + f_eff(f[i], dil[i]) + out_pad[i] for i in (0, 1)]
        if min(out) < 1 or x[2] % groups or k % groups:
            return None
        weights = f[0] * f[1] * (x[2] // groups) * k
        macs = x[0] * x[1] * x[2] * f[0] * f[1] * k // groups
        return Fact("TCONV", (), (out[0], out[1], k), weights, k if bias else 0, 0, macs)

    return rule


def fc_rule(k: int, bias: bool) -> Rule:
    """FC: 1×1×K, weights W·H·D·K, biases K, MACs W·H·D·K."""

    def rule(x: Shape) -> Fact:
        inputs = x[0] * x[1] * x[2]
        return Fact("FC", (), (1, 1, k), inputs * k, k if bias else 0, 0, inputs * k)

    return rule


def gap_rule(x: Shape) -> Fact:
    return Fact("GAP", (), (1, 1, x[2]))


def flatten_rule(x: Shape) -> Fact:
    return Fact("FLATTEN", (), (1, 1, x[0] * x[1] * x[2]))


def up_rule(n: int) -> Rule:
    return lambda x: Fact("UP", (), (x[0] * n, x[1] * n, x[2]))


def bn_rule(x: Shape) -> Fact:
    """BN: γ and β per channel (weights D, biases D), running mean and variance (buffers 2D)."""
    return Fact("BN", (), x, x[2], x[2], 2 * x[2])


def unchanged_rule(kind: str) -> Rule:
    """Activations, LRN, DROPOUT, ID: the same volume, no parameters."""
    return lambda x: Fact(kind, (), x)


class Layer(NamedTuple):
    """A drawn layer: its text in the spec and its rule."""

    text: str
    rule: Rule


ID = Layer("ID", unchanged_rule("ID"))


# -- drawing --------------------------------------------------------------------------------


def draw_pair(draw: st.DrawFn, low: int, high: int) -> Pair:
    a = draw(st.integers(low, high))
    return (a, a) if draw(st.booleans()) else (a, draw(st.integers(low, high)))


def show_pair(p: Pair) -> str:
    return str(p[0]) if p[0] == p[1] else f"({p[0]}, {p[1]})"


def _call(
    draw: st.DrawFn, name: str, first: Sequence[str], named: Sequence[tuple[str, str, bool]]
) -> str:
    """``NAME(first, key=value, ...)``; an argument equal to its default is left out or not."""
    parts = list(first)
    for key, value, default in named:
        if not (default and draw(st.booleans())):
            parts.append(f"{key}={value}")
    return f"{name}({', '.join(parts)})" if parts else name


def _bool(value: bool) -> str:
    return "true" if value else "false"


class Context(NamedTuple):
    rounding: str  # floor, caffe or strict
    ceil_pools: bool  # draw POOL(ceil=true)


def _fitting_strides(ctx: Context, s: Pair, fit: Callable[[int, int], bool]) -> Pair:
    """Under strict rounding, a stride that doesn't fit an axis becomes 1 (which always fits)."""
    if ctx.rounding != "strict":
        return s
    return (s[0] if fit(0, s[0]) else 1, s[1] if fit(1, s[1]) else 1)


def draw_conv(draw: st.DrawFn, x: Shape, ctx: Context, kind: str) -> Layer:
    """CONV or LOCAL with rectangular F, S, P, same/valid padding, dilation, groups, bias."""
    groups = draw(st.sampled_from([g for g in (1, 2, 3) if x[2] % g == 0]))
    k = groups * draw(st.integers(1, 4))
    f, dil = draw_pair(draw, 1, 4), draw_pair(draw, 1, 2)
    how = draw(st.sampled_from(["same", "valid", "int", "pair"]))
    pad: Pad = (
        how if how in ("same", "valid")
        else draw_pair(draw, 0, 2) if how == "pair"
        else (draw(st.integers(0, 2)),) * 2
    )  # fmt: skip

    def fit(i: int, s: int) -> bool:
        before, after = pads(pad, x[i], f[i], s, dil[i], i)
        return fits(x[i], f[i], s, before, after, dil[i])

    s = _fitting_strides(ctx, draw_pair(draw, 1, 3), fit)
    bias = draw(st.booleans())
    fact = conv_rule(kind, k, f, s, pad, dil, groups, bias)(x)
    if fact is None:
        return ID
    if kind == "LOCAL" and fact.weights > LOCAL_WEIGHTS:
        kind = "CONV"
    rule = conv_rule(kind, k, f, s, pad, dil, groups, bias)
    p_text = pad if isinstance(pad, str) else show_pair(pad)
    rest = [
        ("S", show_pair(s), s == (1, 1)),
        ("dilation", show_pair(dil), dil == (1, 1)),
        ("groups", str(groups), groups == 1),
        ("bias", _bool(bias), bias),
    ]
    sugar = f[0] == f[1] and f[0] % 2 == 1 and pad == ((f[0] - 1) // 2,) * 2
    if kind == "CONV" and sugar and draw(st.booleans()):  # CONV3-64 = CONV(64, F=3, S=1, P=1)
        return Layer(_call(draw, f"CONV{f[0]}-{k}", [], rest), rule)
    named = [("F", show_pair(f), f == (3, 3)), ("P", p_text, pad == (0, 0)), *rest]
    return Layer(_call(draw, kind, [str(k)], named), rule)


def draw_pool(draw: st.DrawFn, x: Shape, ctx: Context) -> Layer:
    """POOL max/avg/l2 with rectangular F, S, P (at most F/2) and ceil."""
    f = draw_pair(draw, 1, 3)
    p0 = draw(st.integers(0, f[0] // 2))
    same = p0 <= f[1] // 2 and draw(st.booleans())
    p = (p0, p0) if same else (p0, draw(st.integers(0, f[1] // 2)))
    ceil = ctx.ceil_pools and draw(st.booleans())
    kind = draw(st.sampled_from(["max", "avg", "l2"]))
    s = _fitting_strides(ctx, draw_pair(draw, 1, 3), lambda i, s: fits(x[i], f[i], s, p[i], p[i]))
    rule = pool_rule(f, s, p, ceil or ctx.rounding == "caffe")
    plain = p == (0, 0) and kind == "max" and not ceil
    if plain and s == f and f[0] == f[1] and draw(st.booleans()):  # POOL2 = POOL(F=2, S=2)
        return Layer(f"POOL{f[0]}", rule)
    named = [
        ("S", show_pair(s), s == f),
        ("P", show_pair(p), p == (0, 0)),
        ("type", kind, kind == "max"),
        ("ceil", _bool(ceil), not ceil),
    ]
    if draw(st.booleans()):  # F positional
        return Layer(_call(draw, "POOL", [show_pair(f)], named), rule)
    return Layer(_call(draw, "POOL", [], [("F", show_pair(f), f == (2, 2)), *named]), rule)


def draw_tconv(draw: st.DrawFn, x: Shape) -> Layer:
    """TCONV with rectangular F, S, P, out_pad < max(S, dilation), dilation, groups, bias."""
    groups = draw(st.sampled_from([g for g in (1, 2, 3) if x[2] % g == 0]))
    k = groups * draw(st.integers(1, 4))
    f, s, p, dil = (
        draw_pair(draw, 1, 3),
        draw_pair(draw, 1, 3),
        draw_pair(draw, 0, 1),
        draw_pair(draw, 1, 2),
    )
    op = tuple(draw(st.integers(0, max(s[i], dil[i]) - 1)) for i in (0, 1))
    out_pad = (op[0], op[1])
    bias = draw(st.booleans())
    rule = tconv_rule(k, f, s, p, out_pad, dil, groups, bias)
    named = [
        ("F", show_pair(f), False),
        ("S", show_pair(s), s == (1, 1)),
        ("P", show_pair(p), p == (0, 0)),
        ("out_pad", show_pair(out_pad), out_pad == (0, 0)),
        ("dilation", show_pair(dil), dil == (1, 1)),
        ("groups", str(groups), groups == 1),
        ("bias", _bool(bias), bias),
    ]
    return Layer(_call(draw, "TCONV", [str(k)], named), rule)


ACTIVATIONS = ("RELU", "LRELU(0.1)", "ELU(alpha=0.5)", "GELU", "SIGMOID", "TANH", "SOFTMAX",
               "RELU(inplace=false)")  # fmt: skip


def admitted(fact: Fact | None, ctx: Context) -> bool:
    """The row exists, stays within MAX_SIZE, and (strict rounding) its stride fits."""
    if fact is None or max(fact.output[:2]) > MAX_SIZE:
        return False
    return not (fact.misfit and ctx.rounding == "strict")


def slice_rule(start: int, stop: int | None) -> Rule:
    """SLICE: W×H×(stop − start), stop the depth when left out; none unless
    0 ≤ start < stop ≤ D."""

    def rule(x: Shape) -> Fact | None:
        end = x[2] if stop is None else stop
        return Fact("SLICE", (), (x[0], x[1], end - start)) if start < end <= x[2] else None

    return rule


def shuffle_rule(groups: int) -> Rule:
    """SHUFFLE: unchanged; none unless groups divides the depth."""
    return lambda x: Fact("SHUFFLE", (), x) if x[2] % groups == 0 else None


def draw_channels(draw: st.DrawFn, x: Shape) -> Layer:
    """SLICE(start, stop) (stop written or left to the end, named or positional) or
    SHUFFLE(groups) with groups dividing the depth."""
    d = x[2]
    if draw(st.booleans()):
        groups = draw(st.sampled_from([g for g in range(1, d + 1) if d % g == 0]))
        forms = [f"SHUFFLE({groups})", f"SHUFFLE(groups={groups})"]
        return Layer(draw(st.sampled_from(forms + ["SHUFFLE"] * (groups == 2))),
                     shuffle_rule(groups))  # fmt: skip
    start = draw(st.integers(0, d - 1))
    stop = draw(st.integers(start + 1, d))
    forms = [f"SLICE({start}, {stop})", f"SLICE(start={start}, stop={stop})",
             f"SLICE({start}, stop={stop})"]  # fmt: skip
    if stop == d and draw(st.booleans()):
        return Layer(draw(st.sampled_from([f"SLICE({start})", f"SLICE(start={start})"])),
                     slice_rule(start, None))  # fmt: skip
    return Layer(draw(st.sampled_from(forms)), slice_rule(start, stop))


def draw_apool(draw: st.DrawFn) -> Layer:
    """APOOL(out, type): out_w×out_h×D whatever the input (larger than it too)."""
    out = draw_pair(draw, 1, 6)
    kind = draw(st.sampled_from(["avg", "max"]))
    one = out[0] == out[1] and draw(st.booleans())
    shown = str(out[0]) if one else f"({out[0]}, {out[1]})"
    default = kind == "avg" and draw(st.booleans())
    text = f"APOOL({shown})" if default else f"APOOL({shown}, type={kind})"
    return Layer(text, lambda x: Fact("APOOL", (), (out[0], out[1], x[2])))


def draw_layer(draw: st.DrawFn, x: Shape, ctx: Context) -> Layer:
    """One layer admitted after ``x`` (ID when the drawn one is not)."""
    kinds = ["CONV", "CONV", "LOCAL", "POOL", "POOL", "TCONV", "UP", "ACT", "BN", "LRN", "DROPOUT",
             "APOOL", "CHANNELS"]  # fmt: skip
    kind = draw(st.sampled_from([*kinds, "ID"]))
    if kind in ("CONV", "LOCAL"):
        layer = draw_conv(draw, x, ctx, kind)
    elif kind == "POOL":
        layer = draw_pool(draw, x, ctx)
    elif kind == "TCONV":
        layer = draw_tconv(draw, x)
    elif kind == "APOOL":
        layer = draw_apool(draw)
    elif kind == "CHANNELS":
        layer = draw_channels(draw, x)
    elif kind == "UP":
        n = draw(st.integers(2, 3))
        text = draw(st.sampled_from(["UP", f"UP({n})"] if n == 2 else [f"UP({n})", f"UP(n={n})"]))
        layer = Layer(text, up_rule(n))
    elif kind == "ACT":
        text = draw(st.sampled_from(ACTIVATIONS))
        layer = Layer(text, unchanged_rule(text.split("(")[0]))
    elif kind == "BN":
        layer = Layer(draw(st.sampled_from(["BN", "BN(eps=0.001)"])), bn_rule)
    elif kind == "LRN":
        layer = Layer(draw(st.sampled_from(["LRN", "LRN(size=3)"])), unchanged_rule("LRN"))
    elif kind == "DROPOUT":
        text = draw(st.sampled_from(["DROPOUT", "DROPOUT(0.3)", "DROPOUT(p=0.2)"]))
        layer = Layer(text, unchanged_rule("DROPOUT"))
    else:
        layer = ID
    return layer if admitted(layer.rule(x), ctx) else ID


class Builder:
    """Draws a chain of stages, appending each row's :class:`Fact` as it goes.

    Every stage starts from the last row appended (``at``), so a stage that is given up can
    be undone by truncating the rows to a mark.
    """

    def __init__(self, draw: st.DrawFn, ctx: Context) -> None:
        self.draw = draw
        self.ctx = ctx
        self.rows: list[Fact] = []

    def add(self, fact: Fact) -> int:
        self.rows.append(fact)
        return len(self.rows) - 1

    def shape(self, at: int) -> Shape:
        return self.rows[at].output

    def place(self, layer: Layer, at: int) -> int | None:
        """The layer's row after row ``at``, or None (nothing added) when it is not admitted."""
        fact = layer.rule(self.shape(at))
        if fact is None or not admitted(fact, self.ctx):
            return None
        return self.add(fact._replace(inputs=(at,)))

    def placed(self, layer: Layer, at: int) -> int:
        row = self.place(layer, at)
        assert row is not None, (layer.text, self.shape(at))
        return row

    def layer(self, at: int) -> tuple[str, int]:
        layer = draw_layer(self.draw, self.shape(at), self.ctx)
        return layer.text, self.placed(layer, at)

    def repeat(self, at: int) -> tuple[str, int]:
        """``[A -> B]*n``: drawn for the current volume, repeated while it is admitted;
        ``*0`` makes the stage vanish."""
        mark, first = len(self.rows), at
        layers = []
        for _ in range(self.draw(st.integers(1, 2))):
            layers.append(draw_layer(self.draw, self.shape(at), self.ctx))
            at = self.placed(layers[-1], at)
        n = self.draw(st.integers(0, 3))
        done = 1
        while done < n:
            again, start = len(self.rows), at
            for layer in layers:
                row = self.place(layer, at)
                if row is None:  # this repetition does not fit: stop before it
                    del self.rows[again:]
                    at, n = start, done
                    break
                at = row
            else:
                done += 1
        if n == 0:
            del self.rows[mark:]
            at = first
        return f"[{' -> '.join(layer.text for layer in layers)}]*{n}", at

    def chain(self, at: int, depth: int) -> tuple[str, int]:
        """Stages joined by ->: layers, repetitions and, two levels deep at most, merges."""
        stages = []
        for _ in range(self.draw(st.integers(2, 6) if depth == 0 else st.integers(1, 3))):
            choice = self.draw(st.integers(0, 13 if depth < 2 else 9))
            if choice == 9:
                text, at = self.repeat(at)
            elif choice in (10, 11):
                text, at = self.residual(at, depth)
            elif choice == 12:
                text, at = self.concat(at)
            elif choice == 13:
                text, at = self.squeeze(at)
            else:
                text, at = self.layer(at)
            stages.append(text)
        return " -> ".join(stages), at

    def residual(self, at: int, depth: int) -> tuple[str, int]:
        """``RES{ a }`` (= ``ADD{ a | ID }``) when ``a`` keeps the volume, else
        ``ADD{ a | SKIP }``: an identity SKIP row, or the projection CONV(K, F=1, S, bias=false)
        and BN rows, S the smallest stride that takes the input to ``a``'s width and height.
        The rows come in written order: a SKIP written first runs first."""
        mark = len(self.rows)
        inner, end = self.chain(at, depth + 1)
        x, y = self.shape(at), self.shape(end)
        if x == y and self.draw(st.booleans()):
            other = self.add(Fact("ID", (at,), x))
            return f"RES{{ {inner} }}", self.add(Fact("ADD", (end, other), y))
        strides = []
        for i in (0, 1):
            s = next((s for s in range(1, x[i] + 1) if (x[i] - 1) // s + 1 == y[i]), None)
            if s is None:
                return inner, end  # no 1×1 projection reaches y: the branch stays a chain
            strides.append(s)
        split = len(self.rows)
        if x == y:
            other = self.add(Fact("SKIP", (at,), x))
        else:
            misfit = any((x[i] - 1) % strides[i] for i in (0, 1))
            if misfit and self.ctx.rounding == "strict":
                return inner, end
            k, d = y[2], x[2]
            conv = self.add(Fact("CONV", (at,), y, d * k, 0, 0, y[0] * y[1] * k * d, misfit))
            other = self.add(Fact("BN", (conv,), y, k, k, 2 * k))
        first = self.draw(st.booleans())
        if first:
            end, other = self.swap(mark, split, end, other)
        text = f"ADD{{ SKIP | {inner} }}" if first else f"ADD{{ {inner} | SKIP }}"
        return text, self.add(Fact("ADD", (end, other), y))

    def swap(self, mark: int, split: int, *rows: int) -> list[int]:
        """Rows from ``split`` on go before those from ``mark``, renumbered (what they read
        too); ``rows`` renumbered as well."""
        order = [*range(split, len(self.rows)), *range(mark, split)]
        moved = {old: mark + k for k, old in enumerate(order)}
        facts = [self.rows[old] for old in order]
        self.rows[mark:] = [
            f._replace(inputs=tuple(moved.get(j, j) for j in f.inputs)) for f in facts
        ]
        return [moved.get(r, r) for r in rows]

    def squeeze(self, at: int) -> tuple[str, int]:
        """``MUL{ ID | GAP -> CONV(D, F=1) [-> SIGMOID] }`` (either order): the 1×1×D branch
        broadcasts, the output is the input's W×H×D; the CONV has D·D weights, D biases and
        D·D MACs on its 1×1 input."""
        x = self.shape(at)
        d = x[2]
        sigmoid = self.draw(st.booleans())
        first = self.draw(st.booleans())
        ident = self.add(Fact("ID", (at,), x))
        gap = self.add(Fact("GAP", (at,), (1, 1, d)))
        end = self.add(Fact("CONV", (gap,), (1, 1, d), d * d, d, 0, d * d))
        if sigmoid:
            end = self.add(Fact("SIGMOID", (end,), (1, 1, d)))
        squeeze = f"GAP -> CONV({d}, F=1)" + (" -> SIGMOID" if sigmoid else "")
        if not first:  # the squeeze written first runs first
            ident, end = self.swap(ident, ident + 1, ident, end)
        text = f"MUL{{ ID | {squeeze} }}" if first else f"MUL{{ {squeeze} | ID }}"
        return text, self.add(Fact("MUL", (ident, end), x))

    def concat(self, at: int) -> tuple[str, int]:
        """``CAT{ ... }`` of 2 or 3 branches that keep the width and height: depths add up."""
        mark, (w, h, _) = len(self.rows), self.shape(at)
        caffe = self.ctx.rounding == "caffe"
        texts, ends = [], []
        for _ in range(self.draw(st.integers(2, 3))):
            kind = self.draw(st.sampled_from(["ID", "CONV1", "SAME", "POOL"]))
            if kind == "ID":
                layer = ID
            elif kind == "CONV1":
                k = self.draw(st.integers(1, 4))
                rule = conv_rule("CONV", k, (1, 1), (1, 1), (0, 0), (1, 1), 1, True)
                layer = Layer(f"CONV({k}, F=1)", rule)
            elif kind == "SAME":  # `same` at stride 1 keeps the width and height
                k, f = self.draw(st.integers(1, 4)), draw_pair(self.draw, 1, 4)
                dil = draw_pair(self.draw, 1, 2)
                rule = conv_rule("CONV", k, f, (1, 1), "same", dil, 1, True)
                layer = Layer(
                    f"CONV({k}, F={show_pair(f)}, P=same, dilation={show_pair(dil)})", rule
                )
            else:  # F=3, S=1, P=1 keeps the width and height
                mode = self.draw(st.sampled_from(["max", "avg", "l2"]))
                rule = pool_rule((3, 3), (1, 1), (1, 1), caffe)
                layer = Layer(f"POOL(F=3, S=1, P=1, type={mode})", rule)
            text, end = layer.text, self.placed(layer, at)
            if kind == "SAME" and self.draw(st.booleans()):
                text, end = f"{text} -> RELU", self.add(Fact("RELU", (end,), self.shape(end)))
            texts.append(text)
            ends.append(end)
        depth = sum(self.shape(e)[2] for e in ends)
        if depth > MAX_DEPTH:
            del self.rows[mark:]
            return self.layer(at)
        cat = self.add(Fact("CAT", tuple(ends), (w, h, depth)))
        return f"CAT{{ {' | '.join(texts)} }}", cat

    def head(self, at: int) -> tuple[str, int]:
        """GAP, FLATTEN or FC at the end, optionally followed by [activation ->] FC, twice."""
        kind = self.draw(st.sampled_from(["", "", "GAP", "FLATTEN", "FC"]))
        if not kind:
            return "", at
        stages = []
        for i in range(self.draw(st.integers(1, 3))):
            if i:
                if self.draw(st.booleans()):
                    text = self.draw(st.sampled_from(["RELU", "DROPOUT", "TANH"]))
                    at = self.placed(Layer(text, unchanged_rule(text)), at)
                    stages.append(text)
                kind = "FC"
            if kind == "GAP":
                layer = Layer("GAP", gap_rule)
            elif kind == "FLATTEN":
                layer = Layer("FLATTEN", flatten_rule)
            else:
                k, bias = self.draw(st.integers(1, 10)), self.draw(st.booleans())
                forms = [f"FC({k})", f"FC-{k}"] if bias else [f"FC({k}, bias=false)"]
                layer = Layer(self.draw(st.sampled_from(forms)), fc_rule(k, bias))
            at = self.placed(layer, at)
            stages.append(layer.text)
        return " -> ".join(stages), at


class Net(NamedTuple):
    """A drawn spec and the rows the README gives it."""

    text: str  # the YAML spec
    rounding: str  # the mode the analysis runs in
    api_rounding: str | None  # passed as analyze(rounding=...) instead of written in the spec
    rows: tuple[Fact, ...]

    @property
    def output(self) -> Shape:
        return self.rows[-1].output


@st.composite
def nets(
    draw: st.DrawFn,
    *,
    roundings: Sequence[str] = ("floor", "caffe", "strict"),
    ceil_pools: bool = True,
) -> Net:
    """A random valid spec and its expected rows."""
    rounding = draw(st.sampled_from(roundings))
    builder = Builder(draw, Context(rounding, ceil_pools))
    shape = (draw(st.integers(3, 28)), draw(st.integers(3, 28)), draw(st.integers(1, 6)))
    builder.add(Fact("INPUT", (), shape))
    body, end = builder.chain(0, 0)
    head, end = builder.head(end)
    arch = f"{body} -> {head}" if head else body
    if draw(st.booleans()):
        arch = f"INPUT -> {arch}"  # else implied
    where = draw(st.sampled_from(["spec", "api"] + (["none"] if rounding == "floor" else [])))
    w, h, d = shape
    size = draw(st.sampled_from([f"{w}x{h}x{d}", f"[{w}, {h}, {d}]"]))
    lines = ["name: random", f"input: {size}"]
    if where == "spec":
        lines.append(f"rounding: {rounding}")
    lines += ["arch: |", f"  {arch}"]
    text = "\n".join(lines) + "\n"
    return Net(text, rounding, rounding if where == "api" else None, tuple(builder.rows))
