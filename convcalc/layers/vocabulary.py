"""The layer vocabulary (CONTRACT §3): one small class per layer type.

Each class declares its arguments and computes, from the input volume(s), its output volume,
weights, biases, buffers (non-trainable state), multiply-accumulates and receptive field.
Volumes are (W, H, D). Windowed layers (CONV, LOCAL, POOL) expose their two :class:`Axis`
objects; the analysis applies the rounding rules and findings to them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from fractions import Fraction
from typing import ClassVar, NamedTuple

from ..errors import did_you_mean
from ..records import Args, ArgValue, IntPair, Shape
from .geometry import Axis, same_padding


class ParamSpec(NamedTuple):
    """One layer argument: its kind decides which values it accepts."""

    name: str
    kind: str  # int | pair | pad | bool | float | choice
    default: ArgValue | None = None  # None: required
    minimum: float = 1
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    doc: str = ""


class Counts(NamedTuple):
    weights: int = 0
    biases: int = 0
    buffers: int = 0
    macs: int = 0


Number = int | Fraction


def divide(a: Number, b: int) -> Number:
    """Exact division that stays an int when it can (Fractions are slow)."""
    return a // b if isinstance(a, int) and a % b == 0 else Fraction(a) / b


class RF(NamedTuple):
    """Receptive field per axis: its size, the jump between neighbouring units and the centre
    of the first unit's field in input pixels (None where it is not tracked: after TCONV, UP)."""

    size: tuple[Number, Number] = (1, 1)
    jump: tuple[Number, Number] = (1, 1)
    centre: tuple[Number, Number] | None = (0, 0)

    def pixels(self) -> tuple[int, int]:
        return math.ceil(self.size[0]), math.ceil(self.size[1])


def pair(args: Args, key: str) -> IntPair:
    value = args[key]
    assert isinstance(value, tuple)
    return value


def integer(args: Args, key: str) -> int:
    value = args[key]
    assert isinstance(value, int)
    return value


def flag(args: Args, key: str) -> bool:
    return bool(args[key])


_K = ParamSpec("K", "int", None, doc="number of filters (output depth)")
_F = ParamSpec("F", "pair", 3, doc="filter size, or (width, height)")
_S = ParamSpec("S", "pair", 1, doc="stride, or (width, height)")
_P = ParamSpec("P", "pad", 0, minimum=0, doc="zero padding: an integer, a pair, same or valid")
_DIL = ParamSpec("dilation", "pair", 1, doc="spacing between filter taps")
_GROUPS = ParamSpec("groups", "int", 1, doc="filter groups; each sees D1/groups channels")
_BIAS = ParamSpec("bias", "bool", True, doc="one bias per filter")
_INPLACE = ParamSpec("inplace", "bool", True, doc="overwrite the input (no new activations)")


class LayerType:
    name: str
    params: tuple[ParamSpec, ...] = ()
    doc: ClassVar[str] = ""
    in_place: ClassVar[bool] = False  # output shares the input's memory

    @property
    def positional(self) -> str | None:
        return self.params[0].name if self.params else None

    def is_in_place(self, args: Args) -> bool:
        return self.in_place

    def axes(self, args: Args, x: Shape) -> tuple[Axis, Axis] | None:
        """The sliding window along width and height, for windowed layers."""
        return None

    def output(self, args: Args, x: Shape, spatial: IntPair | None) -> Shape:
        """The output volume; ``spatial`` is the rounded window count for windowed layers."""
        return x

    def counts(self, args: Args, x: Shape, y: Shape) -> Counts:
        return Counts()

    def receptive(self, args: Args, x: Shape, rf: RF, axes: tuple[Axis, Axis] | None = None) -> RF:
        return rf


class Input(LayerType):
    name = "INPUT"
    doc = "the spec's input volume"


class Conv(LayerType):
    name = "CONV"
    params: tuple[ParamSpec, ...] = (_K, _F, _S, _P, _DIL, _GROUPS, _BIAS)
    doc = "convolution: K filters of F×F×(D1/groups), shared across positions"

    def axes(self, args: Args, x: Shape) -> tuple[Axis, Axis]:
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
        f, s, d = pair(args, "F"), pair(args, "S"), pair(args, "dilation")
        size = tuple(rf.size[i] + (f[i] - 1) * d[i] * rf.jump[i] for i in (0, 1))
        jump = tuple(rf.jump[i] * s[i] for i in (0, 1))
        centre = None
        if rf.centre is not None:
            axes = axes or self.axes(args, x)
            # the first window starts `before` pixels into the padding; its middle tap is
            # (F_eff - 1)/2 further on
            cw, ch = (
                rf.centre[i] + (divide(axes[i].f_eff - 1, 2) - axes[i].before) * rf.jump[i]
                for i in (0, 1)
            )
            centre = (cw, ch)
        return RF((size[0], size[1]), (jump[0], jump[1]), centre)


class Local(Conv):
    name = "LOCAL"
    doc = "locally connected: like CONV but every output position has its own filters"

    def counts(self, args: Args, x: Shape, y: Shape) -> Counts:
        conv = super().counts(args, x, y)
        positions = y[0] * y[1]
        return Counts(conv.weights * positions, conv.biases * positions, 0, conv.macs)


class TConv(LayerType):
    name = "TCONV"
    params: tuple[ParamSpec, ...] = (
        _K, ParamSpec("F", "pair", None, doc="filter size"), _S,
        ParamSpec("P", "pair", 0, minimum=0, doc="padding removed from the output"),
        ParamSpec("out_pad", "pair", 0, minimum=0, doc="extra rows/columns added at the end"),
        _DIL, _GROUPS, _BIAS,
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

    def axes(self, args: Args, x: Shape) -> tuple[Axis, Axis]:
        return super().axes({**args, "dilation": (1, 1)}, x)

    def output(self, args: Args, x: Shape, spatial: IntPair | None) -> Shape:
        assert spatial is not None
        return spatial[0], spatial[1], x[2]

    def counts(self, args: Args, x: Shape, y: Shape) -> Counts:
        return Counts()

    def receptive(self, args: Args, x: Shape, rf: RF, axes: tuple[Axis, Axis] | None = None) -> RF:
        return super().receptive({**args, "dilation": (1, 1)}, x, rf, axes)


def _whole(x: Shape, rf: RF) -> RF:
    """A unit that sees the whole input volume."""
    size = tuple(rf.size[i] + (x[i] - 1) * rf.jump[i] for i in (0, 1))
    jump = tuple(rf.jump[i] * x[i] for i in (0, 1))
    return RF((size[0], size[1]), (jump[0], jump[1]), None)


class GAP(LayerType):
    name = "GAP"
    doc = "global average pooling: 1×1×D1"

    def output(self, args: Args, x: Shape, spatial: IntPair | None) -> Shape:
        return 1, 1, x[2]

    def receptive(self, args: Args, x: Shape, rf: RF, axes: tuple[Axis, Axis] | None = None) -> RF:
        return _whole(x, rf)


class FC(LayerType):
    name = "FC"
    params: tuple[ParamSpec, ...] = (_K, _BIAS)
    doc = "fully connected: every output sees the whole input volume (flattened)"

    def output(self, args: Args, x: Shape, spatial: IntPair | None) -> Shape:
        return 1, 1, integer(args, "K")

    def counts(self, args: Args, x: Shape, y: Shape) -> Counts:
        k = integer(args, "K")
        inputs = x[0] * x[1] * x[2]
        return Counts(inputs * k, k if flag(args, "bias") else 0, 0, inputs * k)

    def receptive(self, args: Args, x: Shape, rf: RF, axes: tuple[Axis, Axis] | None = None) -> RF:
        return _whole(x, rf)


class Activation(LayerType):
    params: tuple[ParamSpec, ...] = (_INPLACE,)
    doc = "elementwise non-linearity, shape unchanged"

    def __init__(self, name: str, extra: tuple[ParamSpec, ...] = ()) -> None:
        self.name = name
        self.params = (*extra, _INPLACE)

    def is_in_place(self, args: Args) -> bool:
        return flag(args, "inplace")


class BN(LayerType):
    name = "BN"
    params: tuple[ParamSpec, ...] = (
        ParamSpec("eps", "float", 1e-5, minimum=0, doc="added to the variance"),
    )
    doc = "batch normalisation: γ, β per channel; running mean and variance as buffers"

    def counts(self, args: Args, x: Shape, y: Shape) -> Counts:
        return Counts(x[2], x[2], 2 * x[2], 0)


class LRN(LayerType):
    name = "LRN"
    params: tuple[ParamSpec, ...] = (
        ParamSpec("size", "int", 5, doc="channels in the normalisation window"),
        ParamSpec("alpha", "float", 1e-4, minimum=0),
        ParamSpec("beta", "float", 0.75, minimum=0),
        ParamSpec("k", "float", 2.0, minimum=0),
    )
    doc = "local response normalisation across channels (AlexNet's constants by default)"


class Dropout(LayerType):
    name = "DROPOUT"
    params: tuple[ParamSpec, ...] = (
        ParamSpec("p", "float", 0.5, minimum=0, maximum=1, doc="drop probability"),
    )
    doc = "dropout: identity at inference, shape unchanged"
    in_place = True


class Flatten(LayerType):
    name = "FLATTEN"
    doc = "1×1×(W·H·D)"
    in_place = True

    def output(self, args: Args, x: Shape, spatial: IntPair | None) -> Shape:
        return 1, 1, x[0] * x[1] * x[2]

    def receptive(self, args: Args, x: Shape, rf: RF, axes: tuple[Axis, Axis] | None = None) -> RF:
        return _whole(x, rf)


class Up(LayerType):
    name = "UP"
    params: tuple[ParamSpec, ...] = (ParamSpec("n", "int", 2, doc="scale factor"),)
    doc = "nearest-neighbour upsampling: (W·n)×(H·n)×D"

    def output(self, args: Args, x: Shape, spatial: IntPair | None) -> Shape:
        n = integer(args, "n")
        return x[0] * n, x[1] * n, x[2]

    def receptive(self, args: Args, x: Shape, rf: RF, axes: tuple[Axis, Axis] | None = None) -> RF:
        n = integer(args, "n")
        return RF(rf.size, (divide(rf.jump[0], n), divide(rf.jump[1], n)), None)


class Identity(LayerType):
    name = "ID"
    doc = "identity, for branches"
    in_place = True


class Skip(Identity):
    name = "SKIP"
    params: tuple[ParamSpec, ...] = (
        ParamSpec("K", "int", 0, minimum=0, doc="projection depth (default: the sibling's)"),
        ParamSpec("S", "pair", 0, minimum=0, doc="projection stride (default: inferred)"),
    )
    doc = "identity, or a CONV(K, F=1, S, bias=false) -> BN projection matching the sibling"


#: Common names for arguments, pointing at convcalc's.
ALIASES = {
    "stride": "S", "strides": "S", "padding": "P", "pad": "P", "kernel": "F",
    "kernel_size": "F", "size": "F", "filters": "K", "out_channels": "K", "channels": "K",
    "units": "K", "out_features": "K", "k": "K", "f": "F", "s": "S", "p": "P",
    "dilation_rate": "dilation", "group": "groups", "ceil_mode": "ceil", "mode": "type",
    "rate": "p", "scale": "n", "scale_factor": "n",
}  # fmt: skip


def argument_hint(key: str, declared: Iterable[str]) -> str:
    """``; did you mean `S`?`` for ``stride`` and other common names, or a close spelling."""
    names = list(declared)
    alias = ALIASES.get(key)
    return f"; did you mean `{alias}`?" if alias in names else did_you_mean(key, names)


LAYERS: dict[str, LayerType] = {
    layer.name: layer
    for layer in (
        Input(), Conv(), Local(), TConv(), Pool(), GAP(), FC(),
        Activation("RELU"),
        Activation("LRELU", (ParamSpec("slope", "float", 0.01, minimum=0),)),
        Activation("ELU", (ParamSpec("alpha", "float", 1.0, minimum=0),)),
        Activation("GELU"), Activation("SIGMOID"), Activation("TANH"), Activation("SOFTMAX"),
        BN(), LRN(), Dropout(), Flatten(), Up(), Identity(), Skip(),
    )
}  # fmt: skip
