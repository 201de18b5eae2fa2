"""Layers that keep the volume's shape: INPUT, the activations, BN, LRN, DROPOUT, ID, SKIP."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..records import Args, Shape
from .base import INPLACE, Call, Counts, Epilogue, LayerType, ParamSpec, flag, integer, real


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
        from ..engine.kernels import batchnorm

        p = call.params
        eps = real(args, "eps")
        return batchnorm(call.array, p["gamma"], p["beta"], p["mean"], p["var"], eps, call.out)

    def affine(self, args: Args, params: Mapping[str, Any]) -> tuple[Any, Any] | None:
        from ..engine.kernels import bn_affine

        p = params
        return bn_affine(p["gamma"], p["beta"], p["mean"], p["var"], real(args, "eps"))


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

    def run(self, args: Args, x: Shape, call: Call) -> Any:
        from ..engine.kernels import lrn

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
        from ..engine.kernels import relu

        return relu

    def epilogue(self, args: Args) -> Epilogue | None:
        """``kernels.RELU``, which Winograd applies while it copies its tiles out."""
        from ..engine.kernels import RELU

        return RELU


class LeakyRelu(Activation):
    temporaries = 4

    def __init__(self) -> None:
        super().__init__("LRELU", (ParamSpec("slope", "float", 0.01, minimum=0),))

    def function(self, args: Args) -> Callable[[Any, Any], Any]:
        from ..engine.kernels import leaky_relu

        slope = real(args, "slope")
        return lambda x, out: leaky_relu(x, slope, out=out)


class Elu(Activation):
    temporaries = 4

    def __init__(self) -> None:
        super().__init__("ELU", (ParamSpec("alpha", "float", 1.0, minimum=0),))

    def function(self, args: Args) -> Callable[[Any, Any], Any]:
        from ..engine.kernels import elu

        alpha = real(args, "alpha")
        return lambda x, out: elu(x, alpha, out=out)


class Gelu(Activation):
    temporaries = 4

    def __init__(self) -> None:
        super().__init__("GELU")

    def function(self, args: Args) -> Callable[[Any, Any], Any]:
        from ..engine.kernels import gelu

        return gelu


class Sigmoid(Activation):
    def __init__(self) -> None:
        super().__init__("SIGMOID")

    def function(self, args: Args) -> Callable[[Any, Any], Any]:
        from ..engine.kernels import sigmoid

        return sigmoid


class Tanh(Activation):
    def __init__(self) -> None:
        super().__init__("TANH")

    def function(self, args: Args) -> Callable[[Any, Any], Any]:
        from ..engine.kernels import tanh

        return tanh


class Softmax(Activation):
    temporaries = 4

    def __init__(self) -> None:
        super().__init__("SOFTMAX")

    fusable = False  # not elementwise: it normalises over the depth

    def function(self, args: Args) -> Callable[[Any, Any], Any]:
        from ..engine.kernels import softmax

        return softmax
