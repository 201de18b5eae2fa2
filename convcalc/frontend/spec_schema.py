"""The spec format, declared once as a pydantic-core schema.

``VALIDATOR`` checks a YAML document's top level (unknown keys, missing keys, value types)
with pydantic's validation engine. The declaration is a pydantic-core schema rather than a
``BaseModel`` because building models costs ~150 ms of imports and schema generation at every
start, half of the time budget of ``convcalc check``; ``SchemaValidator`` does the same
validation for 40 ms. Field descriptions live in each field's metadata, from which the JSON
Schema for editors is generated.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic_core import SchemaValidator
from pydantic_core import core_schema as cs

from .. import limits
from ..records import Shape
from ..source import digit_hint
from ..units import parse_size

DTYPES = ("float32", "float16", "bfloat16", "float64")
ROUNDINGS = ("floor", "strict", "caffe")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")
SHAPE_PATTERN = r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*[xX×]\s*(\d+)\s*$"
_SHAPE = re.compile(SHAPE_PATTERN, re.ASCII)  # \d: ASCII digits only, as in the grammar
_EXPECTED_SHAPE = "expected W x H x D, like 224x224x3 or [224, 224, 3]"


class ShapeError(ValueError):
    """Why a value is not a W x H x D shape: ``problem`` for a message, ``hint`` for a fix,
    ``index`` of the list item at fault (None: the whole value)."""

    def __init__(self, problem: str, hint: str | None = None, index: int | None = None) -> None:
        super().__init__(problem + (f"; {hint}" if hint else ""))
        self.problem = problem
        self.hint = hint
        self.index = index


def _item(value: Any) -> str:
    """A list item that is not an integer, described by what YAML made of it."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, str):
        return f"{value!r} (text)"
    if isinstance(value, float):
        return f"{value!r} (a number with a fraction)"
    return "a list" if isinstance(value, list) else "a mapping"


def parse_shape(value: Any) -> Shape:
    """``224x224x3`` or ``[224, 224, 3]`` → (224, 224, 3); :class:`ShapeError` otherwise."""
    if isinstance(value, str):
        m = _SHAPE.match(value)
        if m is None:
            raise ShapeError(_EXPECTED_SHAPE, digit_hint(value))
        numbers = [int(g) for g in m.groups()]
    elif isinstance(value, (list, tuple)) and len(value) == 3:
        for i, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, int):
                hint = digit_hint(item) if isinstance(item, str) else None
                raise ShapeError(f"item {i + 1} is {_item(item)}, not an integer", hint, i)
        numbers = list(value)
    else:
        raise ShapeError(_EXPECTED_SHAPE)
    if min(numbers) < 1:
        raise ShapeError("width, height and depth must be at least 1")
    if max(numbers) > limits.MAX_SIZE:
        raise ShapeError(f"sizes are limited to {limits.MAX_SIZE:,}")
    return numbers[0], numbers[1], numbers[2]


def _field(
    schema: cs.CoreSchema,
    description: str,
    *,
    required: bool = False,
    json: dict[str, Any] | None = None,
) -> cs.TypedDictField:
    metadata: dict[str, Any] = {"description": description}
    if json is not None:
        metadata["json_schema"] = json
    return cs.typed_dict_field(schema, required=required, metadata=metadata)


_ARG_VALUE = cs.union_schema(
    [
        cs.bool_schema(strict=True),
        cs.int_schema(strict=True),
        cs.float_schema(strict=True),
        cs.str_schema(strict=True),
        cs.list_schema(cs.int_schema(strict=True), min_length=2, max_length=2, strict=True),
    ],
    custom_error_type="arg_value",
    custom_error_message="expected an integer, a number, true/false, a word or a [width, "
    "height] pair",
)


def _size(value: Any) -> Any:
    """``12GiB``, ``500MB`` or a number of bytes."""
    if not isinstance(value, str):
        return value
    if digit_hint(value):
        raise ValueError("a size is written in ASCII digits, like 12GiB")
    try:
        return parse_size(value)
    except OverflowError:  # a number of hundreds of digits, read as a float
        raise ValueError("the number is too large for a size") from None


_SIZE_SCHEMA = cs.no_info_before_validator_function(_size, cs.int_schema(ge=0, strict=True))
_SIZE_JSON = {
    "anyOf": [
        {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*([KMGT]i?B|B)?\s*$"},
        {"type": "integer", "minimum": 0},
    ]
}

BUDGET_FIELDS: dict[str, cs.TypedDictField] = {
    "activations": _field(
        _SIZE_SCHEMA,
        "Most activation memory one image may take (forward), like 100MiB (CC401).",
        json=_SIZE_JSON,
    ),
    "parameters": _field(
        _SIZE_SCHEMA,
        "Most memory the trainable parameters may take, like 500MB (CC402).",
        json=_SIZE_JSON,
    ),
}

_CODES = cs.list_schema(cs.str_schema(strict=True, pattern=r"^CC\d{0,3}$"), strict=True)
LINT_FIELDS: dict[str, cs.TypedDictField] = {
    "select": _field(_CODES, "Rule codes (or prefixes like CC5) to check; default: all."),
    "ignore": _field(_CODES, "Rule codes (or prefixes) not to report, like [CC504]."),
    "severity": _field(
        cs.dict_schema(
            cs.str_schema(strict=True, pattern=r"^CC\d{0,3}$"),
            cs.literal_schema(["error", "warning", "info"]),
            strict=True,
        ),
        "A severity per rule code (or prefix), like {CC502: error}.",
    ),
}

MEMORY_FIELDS: dict[str, cs.TypedDictField] = {
    "batch": _field(cs.int_schema(ge=1, strict=True), "Images per batch (default 1)."),
    "optimizer": _field(
        cs.literal_schema(list(OPTIMIZERS)),
        "Optimizer whose state is counted (default momentum): " + ", ".join(OPTIMIZERS) + ".",
    ),
}

SPEC_FIELDS: dict[str, cs.TypedDictField] = {
    "name": _field(
        cs.str_schema(strict=True, min_length=1), "The network's name (free text).", required=True
    ),
    "description": _field(
        cs.str_schema(strict=True), "Free text: the source, published parameter counts."
    ),
    "input": _field(
        cs.no_info_before_validator_function(parse_shape, cs.any_schema()),
        "The input volume W x H x D (width, height, depth), like 224x224x3, or [W, H, D].",
        required=True,
        json={
            "anyOf": [
                {"type": "string", "pattern": SHAPE_PATTERN},
                {
                    "type": "array",
                    "items": {"type": "integer", "minimum": 1},
                    "minItems": 3,
                    "maxItems": 3,
                },
            ]
        },
    ),
    "dtype": _field(
        cs.literal_schema(list(DTYPES)),
        "Value type for memory (default float32): float32, float16, bfloat16 or float64.",
    ),
    "rounding": _field(
        cs.literal_schema(list(ROUNDINGS)),
        "When a stride does not fit (default floor): floor (PyTorch), strict (the notes: "
        "invalid) or caffe (conv floors, pool ceils).",
    ),
    "vars": _field(
        cs.dict_schema(
            cs.str_schema(strict=True),
            cs.union_schema(
                [cs.bool_schema(strict=True), cs.int_schema(strict=True)],
                custom_error_type="var_value",
                custom_error_message="expected an integer or true/false",
            ),
            strict=True,
        ),
        "Named integers or booleans used in arch, like {N: 2, pool: true}.",
    ),
    "defaults": _field(
        cs.dict_schema(
            cs.str_schema(strict=True),
            cs.dict_schema(cs.str_schema(strict=True), _ARG_VALUE, strict=True),
            strict=True,
        ),
        "Default arguments per layer type, like {CONV: {F: 3, S: 1, P: 1}}.",
    ),
    "blocks": _field(
        cs.dict_schema(cs.str_schema(strict=True), cs.str_schema(strict=True), strict=True),
        'Named sub-patterns with parameters, like {"stage(c, n=2)": "[CONV(c) -> RELU]*n -> '
        'POOL"}.',
    ),
    "memory": _field(
        cs.typed_dict_schema(MEMORY_FIELDS, extra_behavior="forbid", strict=True),
        "Defaults for the memory estimate.",
    ),
    "budgets": _field(
        cs.typed_dict_schema(BUDGET_FIELDS, extra_behavior="forbid", strict=True),
        "Memory budgets checked at the spec's dtype: activations per image, parameters.",
    ),
    "lint": _field(
        cs.typed_dict_schema(LINT_FIELDS, extra_behavior="forbid", strict=True),
        "Which rules to check and how severe they are: {ignore: [CC504], severity: "
        "{CC502: error}}.",
    ),
    "arch": _field(
        cs.str_schema(strict=True),
        "The architecture in the arrow grammar, like INPUT -> [CONV -> RELU]*2 -> FC(10). "
        "Merges: ADD{ a | b } (sum), CAT{ a | b } (depth), MUL{ a | b } (product; a 1×1×D "
        "branch broadcasts), RES{ a }. "
        "Write it as a | block when it starts with [ or contains ': '.",
        required=True,
    ),
}

SPEC_SCHEMA = cs.typed_dict_schema(SPEC_FIELDS, extra_behavior="forbid", strict=True)
VALIDATOR = SchemaValidator(SPEC_SCHEMA)
