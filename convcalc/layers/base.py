"""What every layer type shares: its arguments, its counts, its receptive field, its class.

Each layer type is one small class (in windowed.py, elementwise.py, resizing.py) that declares
its arguments and computes, from the input volume, its output volume, weights, biases, buffers
(non-trainable state), multiply-accumulates and receptive field. Volumes are (W, H, D).
Windowed layers (CONV, LOCAL, POOL) expose their two :class:`Axis` objects; the analysis applies
the rounding rules and findings to them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from fractions import Fraction
from functools import cache
from typing import Any, ClassVar, NamedTuple

from ..records import Args, ArgValue, IntPair, Shape
from .geometry import Axis


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
    """A pair argument (``F``, ``S``, ``dilation``): the expansion made every one a tuple.
    Not checked again here: the analysis of 20,000 rows reads 300,000 of them."""
    return args[key]  # type: ignore[return-value]


def integer(args: Args, key: str) -> int:
    value = args[key]
    assert isinstance(value, int)
    return value


def flag(args: Args, key: str) -> bool:
    return bool(args[key])


FILTERS = ParamSpec("K", "int", None, doc="number of filters (output depth)")
FILTER = ParamSpec("F", "pair", 3, doc="filter size, or (width, height)")
STRIDE = ParamSpec("S", "pair", 1, doc="stride, or (width, height)")
PADDING = ParamSpec("P", "pad", 0, minimum=0, doc="zero padding: an integer, a pair, same or valid")
DILATION = ParamSpec("dilation", "pair", 1, doc="spacing between filter taps")
GROUPS = ParamSpec("groups", "int", 1, doc="filter groups; each sees D1/groups channels")
BIAS = ParamSpec("bias", "bool", True, doc="one bias per filter")
INPLACE = ParamSpec("inplace", "bool", True, doc="overwrite the input (no new activations)")


class LayerType:
    name: str
    params: tuple[ParamSpec, ...] = ()
    doc: ClassVar[str] = ""
    in_place: ClassVar[bool] = False  # output shares the input's memory
    keeps_output: ClassVar[bool] = False  # its backward pass reads its own output
    windowed: ClassVar[bool] = False  # a window slides over width and height (see axes)
    positionals: ClassVar[int] = 1  # how many leading arguments may be written unnamed
    frees_input: ClassVar[bool] = False  # its backward pass keeps nothing of its input

    def warm(self, dtype: Any) -> None:
        """Build what this layer's kernel caches for the process at this dtype (a table),
        before a pass starts its clock and its memory trace; nothing by default."""

    @property
    def positional(self) -> str | None:
        return self.params[0].name if self.params else None

    def is_in_place(self, args: Args) -> bool:
        return self.in_place

    def keeps_its_output(self, args: Args) -> bool:
        """Whether its backward pass reads its own output (then an ADD or SHUFFLE that alone
        reads that output cannot let it go)."""
        return self.keeps_output

    def activation_values(self, args: Args, y: Shape) -> int:
        """Values per image its row adds to the activations kept for training: its output,
        none when it works in place."""
        return 0 if self.is_in_place(args) else y[0] * y[1] * y[2]

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

    def size_along(self, args: Args, i: int, size: int, rounding: str) -> int | None:
        """The output size along axis ``i`` (0 width, 1 height) for an input of ``size`` there,
        or None when the layer does not take that size cleanly: its window does not fit, its
        stride leaves a remainder that floor rounding drops, or its output is below 1."""
        return size

    def rounds_up(self, args: Args, rounding: str) -> bool:
        """Whether a windowed layer's output size is the ceiling rather than the floor."""
        return False

    def padding_limit(self, axis: Axis) -> int | None:
        """The most padding a windowed layer takes on either side (None: no limit)."""
        return None

    def describe(self, args: Args) -> str:
        """How reports name the layer: the type with the arguments that shape the output."""
        return self.name

    # -- memory and the forward pass (convcalc.engine). NumPy and the kernels are imported
    # inside these methods, never at the top of a layer module, so a check does not load them.

    def switch_values(self, args: Args, y: Shape) -> int:
        """Indices its backward pass keeps per image (max pooling's switches): none."""
        return 0

    def workspace_values(self, args: Args, x: Shape, y: Shape) -> int:
        """Values of scratch one image needs besides its input and output (the im2col buffer
        of a convolution), as the memory estimate counts it: none by default."""
        return 0

    #: output-sized temporaries its forward kernel allocates for itself (NumPy's, per call)
    temporaries: ClassVar[int] = 0

    def scratch_bytes(
        self, args: Args, x: Shape, y: Shape, batch: int, itemsize: int
    ) -> dict[str, int]:
        """Bytes of scratch its forward kernel uses on a batch, by arena slot (``"temp"``: what
        the kernel allocates for itself); the forward pass reserves its largest step's."""
        if not self.temporaries:
            return {}
        return {"temp": self.temporaries * batch * y[0] * y[1] * y[2] * itemsize}

    def winograd_tile(self, args: Args, x: Shape, y: Shape, batch: int) -> int:
        """The m of the Winograd F(m×m, 3×3) the forward pass runs it through, 0 for none."""
        return 0

    def init_weights(self, args: Args, x: Shape, y: Shape, rng: Any, dtype: Any) -> dict[str, Any]:
        """Its parameters and buffers as NumPy arrays of ``dtype``, drawn from ``rng`` (a
        ``numpy.random.Generator``) for the forward pass: none by default."""
        return {}

    #: its output is its input's array itself (ID, DROPOUT, SKIP; FLATTEN's is a reshaped view)
    passes_input: ClassVar[bool] = False
    #: its kernel writes an output of its input's shape into ``Call.out``, which is the input
    #: itself when nothing reads that afterwards (the activations, BN)
    overwrites: ClassVar[bool] = False
    #: its kernel takes its output buffer from the arena, where the layout plans it a slot
    arena_output: ClassVar[bool] = False
    #: its kernel runs epilogues on each chunk of its output: it heads a fused step, and a
    #: batch norm right after it folds into its weights (CONV, FC)
    takes_epilogue: ClassVar[bool] = False
    #: it may run inside such a step, on each chunk of the head's output (see ``epilogue``)
    fusable: ClassVar[bool] = False

    def run(self, args: Args, x: Shape, call: Call) -> Any:
        """Its forward kernel on ``call.array`` (N, H, W, D), the input of volume ``x``; the
        output array, (N, H2, W2, D2). By default the input itself."""
        return call.array

    def epilogue(self, args: Args) -> Epilogue | None:
        """What it does to a chunk of the output of the step it is fused into, in place; None
        when that is nothing (ID, DROPOUT, a batch norm folded into the weights)."""
        return None

    def epilogue_of_negated(self, args: Args) -> Epilogue | None:
        """Its epilogue on the negation of what it reads, when that takes fewer passes than
        ``epilogue`` (the SiLU: x·σ(x) = y/(−1 − e^y) with y = −x): a step whose epilogues
        start with it gets negated weights and bias (``weights.prepare``: exact, and rounding
        is symmetric). None for every other layer."""
        return None

    def affine(self, args: Args, params: Mapping[str, Any]) -> tuple[Any, Any] | None:
        """The layer as y = x·scale + shift per channel, (scale, shift) in float64, if it is
        one (batch norm), so that the forward pass can fold it into the layer before."""
        return None

    def scale_filters(self, w: Any, scale: Any) -> None:
        """Multiply each filter of its weights ``w`` by its factor in ``scale``, in place (a
        batch norm folded in); the filters run along the last axis (HWIO)."""
        w *= scale.astype(w.dtype)

    def prologue(self, args: Args) -> Epilogue | None:
        """What it does, in place, to each chunk of the input of a LINEAR right after it
        when it runs as that LINEAR's prologue, its per-channel ``input_affine`` folded into
        the LINEAR's weights (a layer norm's normalisation); None when it runs no such way."""
        return None

    def input_affine(self, args: Args, params: Mapping[str, Any]) -> tuple[Any, Any] | None:
        """The (scale, shift) per channel, float64, that follows its ``prologue``: the layer
        reading its output folds them into its weights (``fold_input``)."""
        return None

    def fold_input(self, w: Any, b: Any, scale: Any, shift: Any) -> tuple[Any, Any]:
        """Its weights and bias when its input is first multiplied by ``scale`` and shifted
        by ``shift`` per channel: (w', b') with w'·x + b' = w·(x·scale + shift) + b."""
        raise NotImplementedError(f"{self.name} folds no affine map of its input")


def whole_input(x: Shape, rf: RF) -> RF:
    """A unit that sees the whole input volume."""
    size = tuple(rf.size[i] + (x[i] - 1) * rf.jump[i] for i in (0, 1))
    jump = tuple(rf.jump[i] * x[i] for i in (0, 1))
    return RF((size[0], size[1]), (jump[0], jump[1]), None)


def real(args: Args, key: str) -> float:
    value = args[key]
    assert isinstance(value, int | float)
    return float(value)


def hw(args: Args, key: str) -> IntPair:
    """A convcalc (width, height) pair as the kernels' (height, width)."""
    w, h = pair(args, key)
    return h, w


def he_weights(
    args: Args, shape: tuple[int, ...], fan_in: int, bias: tuple[int, ...], rng: Any, dtype: Any
) -> dict[str, Any]:
    """Weights of ``shape``, He-initialised for ``fan_in`` inputs (see ``kernels.he_uniform``),
    and zero biases of shape ``bias`` unless the layer has none."""
    import numpy as np

    he_uniform = kernels().he_uniform

    params = {"w": he_uniform(rng, shape, fan_in, dtype)}
    if args.get("bias", True):
        params["b"] = np.zeros(bias, dtype)
    return params


@cache
def kernels() -> Any:
    """``convcalc.engine.kernels``, imported on first use (``check`` never imports NumPy) and
    kept: a layer's ``run`` and ``epilogue`` reach it once a step, where an ``import``
    statement costs some 2 µs of import machinery each time."""
    from ..engine import kernels as found

    return found


#: Runs on one chunk of a fused step's output, in place: (chunk, (images, rows)).
Epilogue = Callable[[Any, tuple[slice, slice]], None]


class Call(NamedTuple):
    """What the forward pass hands a layer's kernel (see ``LayerType.run``). The arrays are
    NumPy's, typed Any so that the layers need not import NumPy."""

    array: Any  # the input, (N, H, W, D)
    params: Mapping[str, Any]  # from init_weights, or the step's prepared weights
    arena: Any  # the pass's kernels.Arena
    rounding: str  # the analysis's rounding ("caffe" pools round up)
    out: Any = None  # where an overwriting kernel writes (see LayerType.overwrites)
    epilogue: tuple[Epilogue, ...] = ()  # run on each chunk of the output, in order


def pads(axes: tuple[Axis, Axis]) -> tuple[IntPair, IntPair]:
    """A window's padding as the kernels take it: ((top, bottom), (left, right))."""
    return (axes[1].before, axes[1].after), (axes[0].before, axes[0].after)
