"""Layers that keep the volume's shape: INPUT, the activations, BN, LRN, DROPOUT, ID, SKIP."""

from __future__ import annotations

from typing import Any

from ..records import Args, Shape
from .base import INPLACE, Counts, LayerType, ParamSpec, flag


class Input(LayerType):
    name = "INPUT"
    doc = "the spec's input volume"


class Activation(LayerType):
    params: tuple[ParamSpec, ...] = (INPLACE,)
    doc = "elementwise non-linearity, shape unchanged"

    def __init__(self, name: str, extra: tuple[ParamSpec, ...] = ()) -> None:
        self.name = name
        self.params = (*extra, INPLACE)

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


class Dropout(LayerType):
    name = "DROPOUT"
    params: tuple[ParamSpec, ...] = (
        ParamSpec("p", "float", 0.5, minimum=0, maximum=1, doc="drop probability"),
    )
    doc = "dropout: identity at inference, shape unchanged"
    in_place = True


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


# -- one class per activation function: each answers for its own kernel ---------------------


class Relu(Activation):
    def __init__(self) -> None:
        super().__init__("RELU")


class LeakyRelu(Activation):
    temporaries = 4

    def __init__(self) -> None:
        super().__init__("LRELU", (ParamSpec("slope", "float", 0.01, minimum=0),))


class Elu(Activation):
    temporaries = 4

    def __init__(self) -> None:
        super().__init__("ELU", (ParamSpec("alpha", "float", 1.0, minimum=0),))


class Gelu(Activation):
    temporaries = 4

    def __init__(self) -> None:
        super().__init__("GELU")


class Sigmoid(Activation):
    def __init__(self) -> None:
        super().__init__("SIGMOID")


class Tanh(Activation):
    def __init__(self) -> None:
        super().__init__("TANH")


class Softmax(Activation):
    temporaries = 4

    def __init__(self) -> None:
        super().__init__("SOFTMAX")
