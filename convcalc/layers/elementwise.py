"""Layers that keep the volume's shape: INPUT, the activations, BN, LN, SCALE, LRN, DROPOUT,
DROPPATH, ID, SKIP."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..records import Args, Shape
from .base import (
    INPLACE,
    Call,
    Counts,
    Epilogue,
    LayerType,
    ParamSpec,
    flag,
    integer,
    kernels,
    real,
)


class Input(LayerType):
    name = "INPUT"
    doc = "the spec's input volume"


class Activation(LayerType):
    params: tuple[ParamSpec, ...] = (INPLACE,)
    doc = "elementwise non-linearity, shape unchanged"
    keeps_output = True  # the gradient is computed from the output (ReLU's mask, σ(1 − σ))

    def __init__(self, name: str, extra: tuple[ParamSpec, ...] = ()) -> None:
        self.name = name
        self.params = (*extra, INPLACE)

    def is_in_place(self, args: Args) -> bool:
        return flag(args, "inplace")

    overwrites = True
    arena_output = True
    fusable = True

    def function(self, args: Args) -> Callable[[Any, Any], Any]:
        """Its kernel as f(x, out) -> out, where ``out`` may be ``x`` (in place)."""
        raise NotImplementedError

    def run(self, args: Args, x: Shape, call: Call) -> Any:
        return self.function(args)(call.array, call.out)

    def epilogue(self, args: Args) -> Epilogue | None:
        f = self.function(args)

        def op(y: Any, region: tuple[slice, slice]) -> None:
            f(y, y)

        return op


class BN(LayerType):
    name = "BN"
    params: tuple[ParamSpec, ...] = (
        ParamSpec("eps", "float", 1e-5, minimum=0, doc="added to the variance"),
    )
    doc = "batch normalisation: γ, β per channel; running mean and variance as buffers"

    def counts(self, args: Args, x: Shape, y: Shape) -> Counts:
        return Counts(x[2], x[2], 2 * x[2], 0)

    def init_weights(self, args: Args, x: Shape, y: Shape, rng: Any, dtype: Any) -> dict[str, Any]:
        """As PyTorch starts one: γ = 1, β = 0, running mean 0, running variance 1."""
        import numpy as np

        d = x[2]
        return {
            "gamma": np.ones(d, dtype),
            "beta": np.zeros(d, dtype),
            "mean": np.zeros(d, dtype),
            "var": np.ones(d, dtype),
        }

    overwrites = True
    arena_output = True
    fusable = True

    def run(self, args: Args, x: Shape, call: Call) -> Any:
        """Inference batch norm, per channel (see ``kernels.batchnorm``)."""
        batchnorm = kernels().batchnorm

        p = call.params
        eps = real(args, "eps")
        return batchnorm(call.array, p["gamma"], p["beta"], p["mean"], p["var"], eps, call.out)

    def affine(self, args: Args, params: Mapping[str, Any]) -> tuple[Any, Any] | None:
        p = params
        found: tuple[Any, Any] = kernels().bn_affine(
            p["gamma"], p["beta"], p["mean"], p["var"], real(args, "eps")
        )
        return found


class LN(LayerType):
    name = "LN"
    params: tuple[ParamSpec, ...] = (
        ParamSpec("eps", "float", 1e-6, minimum=0, doc="added to the variance"),
    )
    doc = "layer norm over the channels at each position (ConvNeXt's LayerNorm2d): γ, β per channel"

    def counts(self, args: Args, x: Shape, y: Shape) -> Counts:
        return Counts(x[2], x[2], 0, 0)

    def init_weights(self, args: Args, x: Shape, y: Shape, rng: Any, dtype: Any) -> dict[str, Any]:
        """As PyTorch starts one: γ = 1, β = 0."""
        import numpy as np

        return {"gamma": np.ones(x[2], dtype), "beta": np.zeros(x[2], dtype)}

    overwrites = True
    arena_output = True
    temporaries = 1

    def run(self, args: Args, x: Shape, call: Call) -> Any:
        """Normalised over the depth at each position (see ``kernels.layernorm``)."""
        layernorm = kernels().layernorm

        p = call.params
        return layernorm(call.array, p["gamma"], p["beta"], real(args, "eps"), call.out)

    def prologue(self, args: Args) -> Epilogue | None:
        """Before a LINEAR (ConvNeXt's LN → LINEAR): each chunk of its input normalised
        while in cache, γ and β folded into the LINEAR's weights; no array of its own."""
        return _Normalise(real(args, "eps"))

    def input_affine(self, args: Args, params: Mapping[str, Any]) -> tuple[Any, Any] | None:
        """γ and β, which follow the normalisation."""
        import numpy as np

        return params["gamma"].astype(np.float64), params["beta"].astype(np.float64)


class _Normalise:
    """LN's prologue on a chunk of positions (see ``kernels.normalise``), in place or read
    from the input itself (``into``: no copy first)."""

    def __init__(self, eps: float) -> None:
        self.eps = eps

    def __call__(self, y: Any, region: tuple[slice, slice]) -> None:
        self.into(y, y, region)

    def into(self, a: Any, y: Any, region: tuple[slice, slice]) -> None:
        normalise = kernels().normalise

        normalise(a, self.eps, out=y)


class Scale(LayerType):
    name = "SCALE"
    doc = "a learned factor per channel, y = x·γ[d] (ConvNeXt's layer scale; γ starts at 1e-6)"

    def counts(self, args: Args, x: Shape, y: Shape) -> Counts:
        return Counts(x[2], 0, 0, 0)

    def init_weights(self, args: Args, x: Shape, y: Shape, rng: Any, dtype: Any) -> dict[str, Any]:
        """γ = 1e-6, as torchvision's ConvNeXt starts its layer scale."""
        import numpy as np

        return {"gamma": np.full(x[2], 1e-6, dtype)}

    overwrites = True
    arena_output = True
    fusable = True

    def run(self, args: Args, x: Shape, call: Call) -> Any:
        scale_channels = kernels().scale_channels

        return scale_channels(call.array, call.params["gamma"], call.out)

    def affine(self, args: Args, params: Mapping[str, Any]) -> tuple[Any, Any] | None:
        """y = x·γ + 0, folded into a CONV, FC or LINEAR right before it."""
        import numpy as np

        gamma = params["gamma"].astype(np.float64)
        return gamma, np.zeros_like(gamma)


class LRN(LayerType):
    name = "LRN"
    params: tuple[ParamSpec, ...] = (
        ParamSpec("size", "int", 5, doc="channels in the normalisation window"),
        ParamSpec("alpha", "float", 1e-4, minimum=0),
        ParamSpec("beta", "float", 0.75, minimum=0),
        ParamSpec("k", "float", 2.0, minimum=0),
    )
    doc = "local response normalisation across channels (AlexNet's constants by default)"

    temporaries = 4

    def activation_values(self, args: Args, y: Shape) -> int:
        """What PyTorch's LocalResponseNorm keeps (it is composed of smaller ops): the squared
        input padded by size − 1 channels (avg_pool3d's input), k + α·mean (pow's input),
        its power β (the divisor), and its own output, which the next layer reads."""
        w, h, d = y
        return w * h * (d + integer(args, "size") - 1) + 3 * w * h * d

    def run(self, args: Args, x: Shape, call: Call) -> Any:
        lrn = kernels().lrn

        size, k = integer(args, "size"), real(args, "k")
        return lrn(call.array, size, real(args, "alpha"), real(args, "beta"), k)


class Dropout(LayerType):
    name = "DROPOUT"
    params: tuple[ParamSpec, ...] = (
        ParamSpec("p", "float", 0.5, minimum=0, maximum=1, doc="drop probability"),
    )
    doc = "dropout: identity at inference, shape unchanged"
    in_place = True

    def describe(self, args: Args) -> str:
        """``DROPOUT 0.5``"""
        p = args["p"]
        return f"{self.name} {p:g}" if isinstance(p, float) else self.name

    passes_input = True
    fusable = True


class DropPath(Dropout):
    name = "DROPPATH"
    params: tuple[ParamSpec, ...] = (
        ParamSpec("p", "float", None, minimum=0, maximum=1,
                  doc="probability of dropping the branch, per sample, in training"),
    )  # fmt: skip
    doc = (
        "stochastic depth (torchvision's StochasticDepth(p, mode='row')), last in a residual "
        "branch: identity at inference, shape unchanged"
    )


class Identity(LayerType):
    name = "ID"
    doc = "identity, for branches"
    in_place = True

    passes_input = True
    fusable = True


class Skip(Identity):
    name = "SKIP"
    params: tuple[ParamSpec, ...] = (
        ParamSpec("K", "int", 0, minimum=0, doc="projection depth (default: the sibling's)"),
        ParamSpec("S", "pair", 0, minimum=0, doc="projection stride (default: inferred)"),
    )
    doc = "identity, or a CONV(K, F=1, S, bias=false) -> BN projection matching the sibling"

    fusable = False  # unlike ID, never taken into a fused step


# -- one class per activation function: each answers for its own kernel ---------------------


class Relu(Activation):
    def __init__(self) -> None:
        super().__init__("RELU")

    def function(self, args: Args) -> Callable[[Any, Any], Any]:
        relu: Callable[[Any, Any], Any] = kernels().relu

        return relu

    def epilogue(self, args: Args) -> Epilogue | None:
        """``kernels.RELU``, which Winograd applies while it copies its tiles out."""
        RELU: Epilogue | None = kernels().RELU

        return RELU


class SavesResultInPlace(Activation):
    """An activation whose backward pass reads its output when it works in place and its input
    when it does not (PyTorch's leaky_relu_ and elu_ save their result, the overwritten input;
    leaky_relu and elu save their input and make a new output)."""

    def keeps_its_output(self, args: Args) -> bool:
        return flag(args, "inplace")


class LeakyRelu(SavesResultInPlace):
    temporaries = 4

    def __init__(self) -> None:
        super().__init__("LRELU", (ParamSpec("slope", "float", 0.01, minimum=0),))

    def function(self, args: Args) -> Callable[[Any, Any], Any]:
        leaky_relu = kernels().leaky_relu

        slope = real(args, "slope")
        return lambda x, out: leaky_relu(x, slope, out=out)


class Elu(SavesResultInPlace):
    temporaries = 4

    def __init__(self) -> None:
        super().__init__("ELU", (ParamSpec("alpha", "float", 1.0, minimum=0),))

    def function(self, args: Args) -> Callable[[Any, Any], Any]:
        elu = kernels().elu

        alpha = real(args, "alpha")
        return lambda x, out: elu(x, alpha, out=out)


class Sigmoid(Activation):
    def __init__(self) -> None:
        super().__init__("SIGMOID")

    def function(self, args: Args) -> Callable[[Any, Any], Any]:
        sigmoid: Callable[[Any, Any], Any] = kernels().sigmoid

        return sigmoid


class Tanh(Activation):
    def __init__(self) -> None:
        super().__init__("TANH")

    def function(self, args: Args) -> Callable[[Any, Any], Any]:
        tanh: Callable[[Any, Any], Any] = kernels().tanh

        return tanh


class Softmax(Activation):
    temporaries = 4

    def __init__(self) -> None:
        super().__init__("SOFTMAX")

    fusable = False  # not elementwise: it normalises over the depth

    def function(self, args: Args) -> Callable[[Any, Any], Any]:
        softmax: Callable[[Any, Any], Any] = kernels().softmax

        return softmax


#: inplace for the activations whose backward pass reads their input
INPLACE_COPIED = INPLACE._replace(
    doc="overwrite the input at inference; in training autograd keeps a copy of it"
)
#: inplace for GELU, which PyTorch never computes in place
INPLACE_NEW = INPLACE._replace(
    doc="no effect on the counts: PyTorch's GELU always makes a new tensor and keeps its input"
)


class SavesInput(Activation):
    """An activation whose backward pass reads its input, not its output (PyTorch's hardtanh
    for RELU6, hardswish, hardsigmoid, silu). With inplace=true autograd keeps a copy of the
    input before overwriting it, so its row counts its volume in the training activations
    either way; at inference it does work in place."""

    keeps_output = False

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.params = (INPLACE_COPIED,)

    def activation_values(self, args: Args, y: Shape) -> int:
        return y[0] * y[1] * y[2]


class Gelu(Activation):
    """PyTorch's GELU has no in-place form: it makes a new tensor and its backward pass reads
    its input, so its row counts its output whatever ``inplace`` says (which only lets the
    NumPy pass, like every elementwise layer, overwrite an array nobody reads again)."""

    temporaries = 4
    keeps_output = False

    def __init__(self) -> None:
        super().__init__("GELU")
        self.params = (INPLACE_NEW,)

    def is_in_place(self, args: Args) -> bool:
        return False

    def function(self, args: Args) -> Callable[[Any, Any], Any]:
        gelu: Callable[[Any, Any], Any] = kernels().gelu

        return gelu

    def warm(self, dtype: Any) -> None:
        """float32's GELU tables (``kernels.gelu_tables``: 4 MiB, 0.1 s, once a process)."""
        import numpy as np

        if np.dtype(dtype) == np.float32:
            kernels().gelu_tables()


class Relu6(SavesInput):
    doc = "min(max(x, 0), 6), shape unchanged"

    def __init__(self) -> None:
        super().__init__("RELU6")

    def function(self, args: Args) -> Callable[[Any, Any], Any]:
        relu6: Callable[[Any, Any], Any] = kernels().relu6

        return relu6


class HardSwish(SavesInput):
    doc = "hardswish, x·RELU6(x + 3)/6 (MobileNetV3), shape unchanged"
    temporaries = 1

    def __init__(self) -> None:
        super().__init__("HSWISH")

    def function(self, args: Args) -> Callable[[Any, Any], Any]:
        hardswish: Callable[[Any, Any], Any] = kernels().hardswish

        return hardswish


class HardSigmoid(SavesInput):
    doc = "hardsigmoid, RELU6(x + 3)/6 (MobileNetV3's gates), shape unchanged"

    def __init__(self) -> None:
        super().__init__("HSIGMOID")

    def function(self, args: Args) -> Callable[[Any, Any], Any]:
        hardsigmoid: Callable[[Any, Any], Any] = kernels().hardsigmoid

        return hardsigmoid


class Silu(SavesInput):
    """SILU, and SWISH: the same function under its other name (a row type of its own, so
    that rows and ``expand`` keep the name the spec used)."""

    doc = "SiLU or swish, x·σ(x) (EfficientNet), shape unchanged"
    temporaries = 1

    def __init__(self, name: str = "SILU") -> None:
        super().__init__(name)

    def function(self, args: Args) -> Callable[[Any, Any], Any]:
        silu: Callable[[Any, Any], Any] = kernels().silu

        return silu

    def epilogue_of_negated(self, args: Args) -> Epilogue | None:
        silu_of_negated = kernels().silu_of_negated

        def op(y: Any, region: tuple[slice, slice]) -> None:
            silu_of_negated(y, y)

        return op
