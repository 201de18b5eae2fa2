"""Reserved words of the Arrow+ grammar."""

from __future__ import annotations

LAYER_TYPES = (
    "INPUT", "CONV", "LOCAL", "TCONV", "POOL", "GAP", "FC",
    "APOOL", "SLICE", "SHUFFLE",
    "RELU", "LRELU", "ELU", "GELU", "SIGMOID", "TANH", "SOFTMAX",
    "BN", "LRN", "DROPOUT", "FLATTEN", "UP", "ID", "SKIP",
    "RELU6", "HSWISH", "HSIGMOID", "SILU", "SWISH", "DROPPATH", "LN", "SCALE", "LINEAR",
)  # fmt: skip
MERGE_TYPES = ("ADD", "CAT", "MUL", "RES")
KEYWORDS = frozenset((*LAYER_TYPES, *MERGE_TYPES, "over"))
#: Words that stand for themselves where an argument value is expected.
WORDS = frozenset(("same", "valid", "max", "avg", "l2", "true", "false"))
