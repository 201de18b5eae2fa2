"""The layer vocabulary: every layer type by its name, and the argument names people try.

One small class per layer type (base.py says what each answers); adding a type means adding
its class here.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import did_you_mean
from .base import LayerType
from .elementwise import (
    BN,
    LN,
    LRN,
    Dropout,
    DropPath,
    Elu,
    Gelu,
    HardSigmoid,
    HardSwish,
    Identity,
    Input,
    LeakyRelu,
    Relu,
    Relu6,
    Scale,
    Sigmoid,
    Silu,
    Skip,
    Softmax,
    Tanh,
)
from .merges import MERGES, MergeType
from .resizing import FC, GAP, APool, Flatten, Linear, Shuffle, Slice, Up
from .windowed import Conv, Local, Pool, TConv

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
        APool(), Slice(), Shuffle(),
        Relu(), LeakyRelu(), Elu(), Gelu(), Sigmoid(), Tanh(), Softmax(),
        BN(), LRN(), Dropout(), Flatten(), Up(), Identity(), Skip(),
        Relu6(), HardSwish(), HardSigmoid(), Silu(), Silu("SWISH"), DropPath(), LN(), Scale(),
        Linear(),
    )
}  # fmt: skip

#: Every row type: the layer types and the merges, for what both answer (keeps_output, windowed).
KINDS: dict[str, LayerType | MergeType] = {**LAYERS, **MERGES}
