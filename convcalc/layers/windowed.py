"""The windowed layers: CONV, LOCAL, TCONV and POOL slide a window over width and height."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from .. import limits
from ..records import Args, ArgValue, IntPair, Shape
from ..sizing import (
    CHUNK_BYTES,
    POOL_BAND_BYTES,
    channel_major,
    depthwise_scratch,
    grouped_gemm_scratch,
    im2col_budget,
    largest_chunk,
    taps_conv,
    taps_scratch,
    winograd_chunk_bytes,
    winograd_tile,
)
from .base import (
    BIAS,
    DILATION,
    FILTER,
    FILTERS,
    GROUPS,
    PADDING,
    RF,
    STRIDE,
    Call,
    Counts,
    LayerType,
    Number,
    ParamSpec,
    divide,
    flag,
    he_weights,
    hw,
    integer,
    kernels,
    pads,
    pair,
)  # fmt: skip
from .geometry import MINUS, Axis, same_padding


def _show(value: ArgValue) -> str:
    """A pair as one number when both are equal: ``3``, ``3×1``."""
    if isinstance(value, tuple):
        return str(value[0]) if value[0] == value[1] else f"{value[0]}×{value[1]}"
    return str(value)


def _window_words(args: Args) -> list[str]:
    """``3×3 s1 p1``: the filter, stride, and the padding, dilation and groups if not plain."""
    f = args["F"]
    assert isinstance(f, tuple)
    words = [f"{f[0]}×{f[1]}", f"s{_show(args['S'])}"]
    pad = args["P"]
    if pad not in ((0, 0), "valid"):
        words.append("same" if pad == "same" else f"p{_show(pad)}")
    if args.get("dilation", (1, 1)) != (1, 1):
        words.append(f"d{_show(args['dilation'])}")
    if args.get("groups", 1) != 1:
        words.append(f"g{args['groups']}")
    return words


#: (layer type, id of the arguments, input shape) -> (the arguments, their axes)
_AXES: dict[tuple[type, int, Shape], tuple[Args, tuple[Axis, Axis]]] = {}


def _centre(c: Number, f_eff: int, before: int, jump: Number) -> Number:
    """``c + ((f_eff - 1)/2 - before)·jump``, the centre of the next layer's first window,
    exact. While the centre is a whole or half pixel and the jump a whole one, it is counted
    in half pixels as an int: Fractions cost microseconds each, and a 20,000-row spec of
    even windows would spend a second on them."""
    if isinstance(jump, int):
        if isinstance(c, int):
            twice = 2 * c
        elif isinstance(c, Fraction) and c.denominator == 2:
            twice = c.numerator  # 2·c, without Fraction arithmetic
        else:
            return c + (divide(f_eff - 1, 2) - before) * jump
        twice += (f_eff - 1 - 2 * before) * jump
        return twice // 2 if twice % 2 == 0 else _half(twice)
    return c + (divide(f_eff - 1, 2) - before) * jump


#: twice -> Fraction(twice, 2): the centres of a long stack sit on few half pixels
_HALVES: dict[int, Fraction] = {}


def _half(twice: int) -> Fraction:
    half = _HALVES.get(twice)
    if half is None:
        if len(_HALVES) > 4096:
            _HALVES.clear()
        half = _HALVES[twice] = Fraction(twice, 2)
    return half


class Conv(LayerType):
    name = "CONV"
    params: tuple[ParamSpec, ...] = (FILTERS, FILTER, STRIDE, PADDING, DILATION, GROUPS, BIAS)
    doc = "convolution: K filters of F×F×(D1/groups), shared across positions"
    windowed = True

    def axes(self, args: Args, x: Shape) -> tuple[Axis, Axis]:
        """The windows along width and height, kept for a whole spec's rows: the
        analysis, the fusion plan and the workspace estimate each ask for every row's, and the
        layers of ``[CONV(8)]*N`` share one arguments dict."""
        key = (type(self), id(args), x)
        hit = _AXES.get(key)
        if hit is not None and hit[0] is args:  # the dict is held: its id is not reused
            return hit[1]
        found = self.compute_axes(args, x)
        if len(_AXES) > limits.MAX_LAYERS:  # a whole spec: the plan asks after the analysis
            _AXES.clear()
        _AXES[key] = (args, found)
        return found

    def compute_axes(self, args: Args, x: Shape) -> tuple[Axis, Axis]:
        f, s, d = pair(args, "F"), pair(args, "S"), pair(args, "dilation")
        pad = args["P"]
        result = []
        for i in (0, 1):
            f_eff = d[i] * (f[i] - 1) + 1
            if pad == "same":
                before, after = same_padding(x[i], f_eff, s[i])
            elif pad == "valid":
                before = after = 0
            else:
                assert isinstance(pad, tuple)
                before = after = pad[i]
            result.append(Axis(x[i], f[i], s[i], before, after, d[i]))
        return result[0], result[1]

    def output(self, args: Args, x: Shape, spatial: IntPair | None) -> Shape:
        assert spatial is not None
        return spatial[0], spatial[1], integer(args, "K")

    def counts(self, args: Args, x: Shape, y: Shape) -> Counts:
        fw, fh = pair(args, "F")
        k, groups = integer(args, "K"), integer(args, "groups")
        per_filter = fw * fh * (x[2] // groups)
        biases = k if flag(args, "bias") else 0
        return Counts(per_filter * k, biases, 0, y[0] * y[1] * k * per_filter)

    def receptive(self, args: Args, x: Shape, rf: RF, axes: tuple[Axis, Axis] | None = None) -> RF:
        (fw, fh), (sw, sh), (dw, dh) = pair(args, "F"), pair(args, "S"), pair(args, "dilation")
        (jw, jh), (zw, zh) = rf.jump, rf.size
        size = (zw + (fw - 1) * dw * jw, zh + (fh - 1) * dh * jh)
        jump = (jw * sw, jh * sh)
        centre = None
        if rf.centre is not None:
            axes = axes or self.axes(args, x)
            # the first window starts `before` pixels into the padding; its middle tap is
            # (F_eff - 1)/2 further on
            c, a = rf.centre, axes
            centre = (
                _centre(c[0], a[0].f_eff, a[0].before, rf.jump[0]),
                _centre(c[1], a[1].f_eff, a[1].before, rf.jump[1]),
            )
        return RF((size[0], size[1]), (jump[0], jump[1]), centre)

    def size_along(self, args: Args, i: int, size: int, rounding: str) -> int | None:
        window = self.axes(args, (size, size, 1))[i]  # the other axis and the depth don't matter
        if self.rounds_up(args, rounding):  # may hang over by less than the stride
            return window.ceil if window.ceil >= 1 else None
        if window.span < 0:
            return None
        return None if window.remainder else window.floor

    def describe(self, args: Args) -> str:
        """``CONV 3×3 s1 p1``"""
        return " ".join((self.name, *_window_words(args)))

    def workspace_values(self, args: Args, x: Shape, y: Shape) -> int:
        """The im2col buffer: (F·F·D1/groups) × (W2·H2) values."""
        fw, fh = pair(args, "F")
        return fw * fh * (x[2] // integer(args, "groups")) * y[0] * y[1]

    def scratch_bytes(
        self, args: Args, x: Shape, y: Shape, batch: int, itemsize: int
    ) -> dict[str, int]:
        """im2col: the padded images and one chunk of columns (with a column of ones for the
        bias); Winograd: see ``_winograd_scratch``; depthwise: ``kernels.depthwise_scratch``;
        other groups: ``kernels.grouped_gemm_scratch``."""
        if m := self.winograd_tile(args, x, y, batch):
            return _winograd_scratch(m, x, y, batch, itemsize)
        pad, padded = _padded(self.axes(args, x), x)
        fw, fh = pair(args, "F")
        groups = integer(args, "groups")
        if self.taps(args, x, y):  # see kernels.conv_taps
            taps = taps_scratch(batch, x[1], x[0], y[1], y[0], fw * fh, y[2], itemsize)
            return {"taps": taps}
        if groups == x[2] > 1:  # depthwise: see kernels.depthwise2d
            size, stride, dilation = hw(args, "F"), hw(args, "S"), hw(args, "dilation")
            return depthwise_scratch(batch, (y[1], y[0]), y[2], size, stride, dilation, itemsize)
        if groups > 1:  # see kernels.grouped_gemm2d
            a = self.axes(args, x)
            in_hw, pads = (x[1], x[0]), (a[1].before + a[1].after, a[0].before + a[0].after)
            return grouped_gemm_scratch(
                batch, in_hw, pads, (y[1], y[0]), x[2], y[2], groups, hw(args, "F"), itemsize
            )
        wo, ho, k = y
        j = fw * fh * x[2] // groups + 1  # the bias may ride in the GEMM as a column of ones
        row_bytes = wo * (j + k) * itemsize
        images, rows = largest_chunk(batch, ho, row_bytes, im2col_budget(j, k, itemsize))
        stride = hw(args, "S")
        pointwise = (fw, fh) == (1, 1) and stride == (1, 1) and not padded
        major = channel_major(fw, x[2] // groups, groups, stride, pointwise)  # copies unpadded too
        return {
            "pad": images * pad * itemsize if padded or major else 0,
            "cols": images * rows * wo * j * itemsize,
        }

    def taps(self, args: Args, x: Shape, y: Shape) -> bool:
        """Whether ``kernels.conv_taps`` runs it (``sizing.taps_conv``)."""
        a = self.axes(args, x)
        pads = (a[1].before + a[1].after, a[0].before + a[0].after)
        size, groups, stride = hw(args, "F"), integer(args, "groups"), hw(args, "S")
        return taps_conv((x[1], x[0]), x[2], y[2], size, stride, groups, pads)

    def winograd_tile(self, args: Args, x: Shape, y: Shape, batch: int) -> int:
        """3×3, stride 1, undilated, ungrouped, where ``kernels.winograd_tile`` says it pays."""
        if args["F"] != (3, 3) or args["S"] != (1, 1):
            return 0
        if self.taps(args, x, y):
            return 0
        if args["dilation"] != (1, 1) or args["groups"] != 1:
            return 0
        return winograd_tile(batch, y[1], y[0], x[2])

    def init_weights(self, args: Args, x: Shape, y: Shape, rng: Any, dtype: Any) -> dict[str, Any]:
        """HWIO filters (FH, FW, D1/groups, K), He-initialised; zero biases (K,)."""
        fh, fw = hw(args, "F")
        k, cg = integer(args, "K"), x[2] // integer(args, "groups")
        return he_weights(args, (fh, fw, cg, k), fh * fw * cg, (k,), rng, dtype)

    arena_output = True
    takes_epilogue = True

    def run(self, args: Args, x: Shape, call: Call) -> Any:
        """im2col + GEMM, or Winograd when the step prepared its weights (see
        ``kernels.conv2d``), with the step's epilogues on each chunk."""
        conv2d = kernels().conv2d

        p = call.params
        return conv2d(
            call.array, p["w"], p.get("b"), stride=hw(args, "S"), pad=pads(self.axes(args, x)),
            dilation=hw(args, "dilation"), groups=integer(args, "groups"),
            epilogue=call.epilogue, arena=call.arena, winograd=p.get("winograd"),
            prologue=p.get("prologue", ()), stacked=p.get("stacked"),
        )  # fmt: skip


class Local(Conv):
    name = "LOCAL"
    doc = "locally connected: like CONV but every output position has its own filters"

    def counts(self, args: Args, x: Shape, y: Shape) -> Counts:
        conv = super().counts(args, x, y)
        positions = y[0] * y[1]
        return Counts(conv.weights * positions, conv.biases * positions, 0, conv.macs)

    def scratch_bytes(
        self, args: Args, x: Shape, y: Shape, batch: int, itemsize: int
    ) -> dict[str, int]:
        """The padded input, and a few copies of a chunk of columns (all NumPy's own)."""
        pad, _ = _padded(self.axes(args, x), x)
        fw, fh = pair(args, "F")
        wo, ho, _ = y
        per_image = wo * ho * (fw * fh * x[2] // integer(args, "groups")) * itemsize
        images = min(batch, max(1, CHUNK_BYTES // max(per_image, 1)))
        cols = min(per_image * images, max(CHUNK_BYTES, per_image // ho))
        return {"temp": batch * pad * itemsize + 3 * cols * batch}

    def winograd_tile(self, args: Args, x: Shape, y: Shape, batch: int) -> int:
        return 0

    def init_weights(self, args: Args, x: Shape, y: Shape, rng: Any, dtype: Any) -> dict[str, Any]:
        """Filters for every output position (H2, W2, FH, FW, D1/groups, K), and biases."""
        fh, fw = hw(args, "F")
        k, cg = integer(args, "K"), x[2] // integer(args, "groups")
        shape = (y[1], y[0], fh, fw, cg, k)
        return he_weights(args, shape, fh * fw * cg, (y[1], y[0], k), rng, dtype)

    takes_epilogue = False

    def run(self, args: Args, x: Shape, call: Call) -> Any:
        local2d = kernels().local2d

        p = call.params
        return local2d(
            call.array, p["w"], p.get("b"), stride=hw(args, "S"), pad=pads(self.axes(args, x)),
            dilation=hw(args, "dilation"), groups=integer(args, "groups"), arena=call.arena,
        )  # fmt: skip


class TConv(LayerType):
    name = "TCONV"
    params: tuple[ParamSpec, ...] = (
        FILTERS, ParamSpec("F", "pair", None, doc="filter size"), STRIDE,
        ParamSpec("P", "pair", 0, minimum=0, doc="padding removed from the output"),
        ParamSpec("out_pad", "pair", 0, minimum=0, doc="extra rows/columns added at the end"),
        DILATION, GROUPS, BIAS,
    )  # fmt: skip
    doc = "transposed convolution: W2 = (W1 − 1)·S − 2P + F_eff + out_pad"

    def output(self, args: Args, x: Shape, spatial: IntPair | None) -> Shape:
        f, s, p = pair(args, "F"), pair(args, "S"), pair(args, "P")
        d, op = pair(args, "dilation"), pair(args, "out_pad")
        w, h = ((x[i] - 1) * s[i] - 2 * p[i] + d[i] * (f[i] - 1) + 1 + op[i] for i in (0, 1))
        return w, h, integer(args, "K")

    def counts(self, args: Args, x: Shape, y: Shape) -> Counts:
        fw, fh = pair(args, "F")
        k, groups = integer(args, "K"), integer(args, "groups")
        weights = fw * fh * (x[2] // groups) * k
        biases = k if flag(args, "bias") else 0
        return Counts(weights, biases, 0, x[0] * x[1] * x[2] * fw * fh * k // groups)

    def receptive(self, args: Args, x: Shape, rf: RF, axes: tuple[Axis, Axis] | None = None) -> RF:
        f, s, d = pair(args, "F"), pair(args, "S"), pair(args, "dilation")
        size, jump = [], []
        for i in (0, 1):
            taps = -(-(d[i] * (f[i] - 1) + 1) // s[i])  # inputs that reach one output
            size.append(rf.size[i] + (taps - 1) * rf.jump[i])
            jump.append(divide(rf.jump[i], s[i]))
        return RF((size[0], size[1]), (jump[0], jump[1]), None)

    def size_along(self, args: Args, i: int, size: int, rounding: str) -> int | None:
        out = self.output(args, (size, size, 1), None)[i]
        return out if out >= 1 else None

    def describe(self, args: Args) -> str:
        """``TCONV 4×4 s2 p1``"""
        return " ".join((self.name, *_window_words(args)))

    def formula(self, args: Args, i: int, size: int) -> str:
        """``(W1 − 1)·S − 2P + F_eff + out_pad = (2 − 1)·2 − 2·3 + 3 + 0 = −1`` along axis i."""
        f, s, p = pair(args, "F")[i], pair(args, "S")[i], pair(args, "P")[i]
        d, op = pair(args, "dilation")[i], pair(args, "out_pad")[i]
        out = self.output(args, (size, size, 1), None)[i]
        return (
            f"(W1 {MINUS} 1)·S {MINUS} 2P + F_eff + out_pad = ({size} {MINUS} 1)·{s} "
            f"{MINUS} 2·{p} + {d * (f - 1) + 1} + {op} = {out}".replace("-", MINUS)
        )

    def largest_padding(self, args: Args, i: int, size: int) -> int:
        """The largest P that keeps the output along axis i at 1 or more (negative: none)."""
        f, s = pair(args, "F")[i], pair(args, "S")[i]
        d, op = pair(args, "dilation")[i], pair(args, "out_pad")[i]
        return ((size - 1) * s + d * (f - 1) + 1 + op - 1) // 2

    def out_pad_limit(self, args: Args, i: int) -> int:
        """out_pad along axis i must stay below this: the stride or the dilation."""
        return max(pair(args, "S")[i], pair(args, "dilation")[i])

    def workspace_values(self, args: Args, x: Shape, y: Shape) -> int:
        """The column buffer: (F·F·K/groups) × (W1·H1) values."""
        fw, fh = pair(args, "F")
        return fw * fh * (y[2] // integer(args, "groups")) * x[0] * x[1]

    def scratch_bytes(
        self, args: Args, x: Shape, y: Shape, batch: int, itemsize: int
    ) -> dict[str, int]:
        """Its columns and the uncropped output (NumPy's own; the output is the arena's)."""
        fw, fh = pair(args, "F")
        cols = batch * x[0] * x[1] * fw * fh * y[2] // integer(args, "groups")
        return {"temp": cols * itemsize + batch * y[0] * y[1] * y[2] * itemsize}

    def init_weights(self, args: Args, x: Shape, y: Shape, rng: Any, dtype: Any) -> dict[str, Any]:
        """Filters (D1, FH, FW, K/groups), He-initialised for F·F·D1/groups inputs; biases."""
        fh, fw = hw(args, "F")
        groups = integer(args, "groups")
        k, cg = integer(args, "K"), x[2] // groups
        return he_weights(args, (x[2], fh, fw, k // groups), fh * fw * cg, (k,), rng, dtype)

    arena_output = True

    def run(self, args: Args, x: Shape, call: Call) -> Any:
        conv_transpose2d = kernels().conv_transpose2d

        p = call.params
        return conv_transpose2d(
            call.array, p["w"], p.get("b"), stride=hw(args, "S"), pad=hw(args, "P"),
            out_pad=hw(args, "out_pad"), dilation=hw(args, "dilation"),
            groups=integer(args, "groups"), arena=call.arena,
        )  # fmt: skip


class Pool(Conv):
    name = "POOL"
    params: tuple[ParamSpec, ...] = (
        ParamSpec("F", "pair", 2, doc="window size"),
        ParamSpec("S", "pair", "F", doc="stride (default: F)"),
        ParamSpec("P", "pad", 0, minimum=0, doc="padding (at most F/2)"),
        ParamSpec("type", "choice", "max", choices=("max", "avg", "l2"), doc="max, avg or l2"),
        ParamSpec("ceil", "bool", False, doc="round the output size up (PyTorch ceil_mode)"),
    )
    doc = "pooling: max (default), average or L2 over F×F windows, depth unchanged"

    def compute_axes(self, args: Args, x: Shape) -> tuple[Axis, Axis]:
        return super().compute_axes({**args, "dilation": (1, 1)}, x)

    def output(self, args: Args, x: Shape, spatial: IntPair | None) -> Shape:
        assert spatial is not None
        return spatial[0], spatial[1], x[2]

    def counts(self, args: Args, x: Shape, y: Shape) -> Counts:
        return Counts()

    def receptive(self, args: Args, x: Shape, rf: RF, axes: tuple[Axis, Axis] | None = None) -> RF:
        return super().receptive({**args, "dilation": (1, 1)}, x, rf, axes)

    def rounds_up(self, args: Args, rounding: str) -> bool:
        """PyTorch's ceil_mode, and Caffe's pooling."""
        return bool(args["ceil"]) or rounding == "caffe"

    def describe(self, args: Args) -> str:
        """``POOL avg 3×3 s2 ceil``: the pooling type unless max, and ceil=true."""
        kind = [] if args["type"] == "max" else [str(args["type"])]
        ceil = ["ceil"] if args["ceil"] else []
        return " ".join((self.name, *kind, *_window_words(args), *ceil))

    def switch_values(self, args: Args, y: Shape) -> int:
        """Max pooling keeps where each output's maximum came from: one index per output."""
        return y[0] * y[1] * y[2] if args["type"] == "max" else 0

    def padding_limit(self, axis: Axis) -> int | None:
        """Half the window (PyTorch refuses more)."""
        return axis.f // 2

    def workspace_values(self, args: Args, x: Shape, y: Shape) -> int:
        return 0  # a window to reduce, no columns to gather

    def scratch_bytes(
        self, args: Args, x: Shape, y: Shape, batch: int, itemsize: int
    ) -> dict[str, int]:
        """The padded images (room for ceil's extra window too), a band of rows reduced along
        the window's height, and for l2 the squares."""
        a = self.axes(args, x)
        pad, _ = _padded(a, x)
        wp = x[0] + a[0].before + a[0].after + pair(args, "F")[0]  # ceil's extra too
        band = min(y[1], max(1, POOL_BAND_BYTES // (batch * wp * x[2] * itemsize)))
        l2 = batch * pad * itemsize if args["type"] == "l2" else 0  # the squares
        return {
            "pool": batch * 2 * pad * itemsize,
            "pool_rows": batch * band * wp * x[2] * itemsize,
            "temp": l2,
        }

    def winograd_tile(self, args: Args, x: Shape, y: Shape, batch: int) -> int:
        return 0

    def init_weights(self, args: Args, x: Shape, y: Shape, rng: Any, dtype: Any) -> dict[str, Any]:
        return {}

    takes_epilogue = False

    def run(self, args: Args, x: Shape, call: Call) -> Any:
        """Max, average or L2; rounded up for ceil, and in Caffe's rounding."""
        pool2d = kernels().pool2d

        ceil = bool(args["ceil"]) or call.rounding == "caffe"
        return pool2d(
            call.array, hw(args, "F"), stride=hw(args, "S"), pad=pads(self.axes(args, x)),
            kind=str(args["type"]), ceil=ceil, arena=call.arena,
        )  # fmt: skip


def _padded(axes: tuple[Axis, Axis], x: Shape) -> tuple[int, bool]:
    """Values of one padded input image, and whether there is any padding."""
    a = axes
    pad = (x[0] + a[0].before + a[0].after) * (x[1] + a[1].before + a[1].after) * x[2]
    return pad, a[0].before + a[0].after + a[1].before + a[1].after > 0


def _winograd_scratch(m: int, x: Shape, y: Shape, batch: int, itemsize: int) -> dict[str, int]:
    """Winograd F(m×m, 3×3): the padded images with room for overhanging tiles, and one chunk
    of tiles by tap: the input (wd), transformed (wv), multiplied (wm), transformed back (wz)."""
    c, k, a2 = x[2], y[2], (m + 2) ** 2
    ty, tx = -(-y[1] // m), -(-y[0] // m)
    per_row = tx * a2 * (2 * c + k) * itemsize
    budget = winograd_chunk_bytes(c, k, itemsize, m)
    images, rows = largest_chunk(batch, ty, per_row, budget)
    tiles = images * rows * tx
    return {
        "pad": images * (ty * m + 2) * (tx * m + 2) * c * itemsize,
        "wd": a2 * tiles * c * itemsize,
        "wv": a2 * tiles * c * itemsize,
        "wm": a2 * tiles * k * itemsize,
        "wz": m * m * tiles * k * itemsize,
    }
