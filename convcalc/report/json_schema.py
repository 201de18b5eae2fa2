"""A draft-07 JSON Schema of the spec format, for editors (yaml-language-server) and CI.

Generated from the same pydantic-core declaration that validates specs
(frontend/spec_schema.py), so the two cannot drift; `defaults` is spelled out per layer type
from the vocabulary, so an editor completes argument names and shows their documentation.
"""

from __future__ import annotations

from typing import Any

from ..frontend.spec_schema import SPEC_SCHEMA
from ..layers.base import ParamSpec
from ..layers.vocabulary import LAYERS


def _convert(schema: Any) -> dict[str, Any]:
    kind = schema["type"]
    if kind == "typed-dict":
        properties = {name: _field(field) for name, field in schema["fields"].items()}
        required = [name for name, field in schema["fields"].items() if field.get("required")]
        result: dict[str, Any] = {
            "type": "object",
            "properties": properties,
            "additionalProperties": False,
        }
        if required:
            result["required"] = required
        return result
    if kind == "str":
        result = {"type": "string"}
        if "pattern" in schema:
            result["pattern"] = schema["pattern"]
        if "min_length" in schema:
            result["minLength"] = schema["min_length"]
        return result
    if kind == "int":
        return {"type": "integer", **({"minimum": schema["ge"]} if "ge" in schema else {})}
    if kind == "float":
        return {"type": "number"}
    if kind == "bool":
        return {"type": "boolean"}
    if kind == "literal":
        return {"enum": list(schema["expected"])}
    if kind == "dict":
        result = {"type": "object", "additionalProperties": _convert(schema["values_schema"])}
        keys = _convert(schema["keys_schema"])
        if "pattern" in keys:
            result["propertyNames"] = {"pattern": keys["pattern"]}
        return result
    if kind == "list":
        result = {"type": "array", "items": _convert(schema["items_schema"])}
        if "min_length" in schema:
            result["minItems"] = schema["min_length"]
        if "max_length" in schema:
            result["maxItems"] = schema["max_length"]
        return result
    if kind == "union":
        return {"anyOf": [_convert(choice) for choice in schema["choices"]]}
    if kind == "function-before":
        return _convert(schema["schema"])
    return {}


def _field(field: Any) -> dict[str, Any]:
    metadata = field.get("metadata") or {}
    result = dict(metadata.get("json_schema") or _convert(field["schema"]))
    if "description" in metadata:
        result = {"description": metadata["description"], **result}
    return result


def _argument(spec: ParamSpec) -> dict[str, Any]:
    integer: dict[str, Any] = {"type": "integer", "minimum": int(spec.minimum)}
    pair = {"type": "array", "items": integer, "minItems": 2, "maxItems": 2}
    schemas: dict[str, dict[str, Any]] = {
        "int": integer,
        "pair": {"anyOf": [integer, pair]},
        "pad": {"anyOf": [integer, pair, {"enum": ["same", "valid"]}]},
        "bool": {"type": "boolean"},
        "float": {"type": "number", "minimum": spec.minimum},
        "choice": {"enum": list(spec.choices)},
    }
    result = schemas[spec.kind]
    if spec.kind == "float" and spec.maximum is not None:
        result = {**result, "maximum": spec.maximum}
    default = f" (default {spec.default})" if spec.default not in (None, "F") else ""
    return {"description": f"{spec.doc}{default}".strip(), **result}


def _defaults() -> dict[str, Any]:
    properties = {
        layer.name: {
            "description": layer.doc,
            "type": "object",
            "properties": {p.name: _argument(p) for p in layer.params},
            "additionalProperties": False,
        }
        for layer in LAYERS.values()
        if layer.name != "INPUT"
    }
    return {"type": "object", "properties": properties, "additionalProperties": False}


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft-07) of a spec file."""
    body = _convert(SPEC_SCHEMA)
    defaults = body["properties"]["defaults"]
    body["properties"]["defaults"] = {"description": defaults["description"], **_defaults()}
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "convcalc spec",
        "description": "A convolutional network in the arrow notation of the CS231n notes, "
        "checked by convcalc.",
        **body,
    }
