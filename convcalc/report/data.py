"""The JSON documents of CONTRACT §8, as plain dicts (field names are stable)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..analysis.analyzer import Analysis
from ..errors import Finding

VERSION = 1


def layer_json(analysis: Analysis) -> list[dict[str, Any]]:
    return [
        {
            "name": row.name,
            "type": row.type,
            "inputs": [list(s) for s in row.input_shapes],
            "output": list(row.output),
            "weights": row.weights,
            "biases": row.biases,
            "params": row.params,
            "buffers": row.buffers,
            "macs": row.macs,
            "activations": row.activations,
            "receptive_field": list(row.receptive_field),
            "line": row.location.line,
            "column": row.location.column,
        }
        for row in analysis.rows
    ]


def result_json(analysis: Analysis) -> dict[str, Any]:
    t = analysis.totals
    return {
        "file": analysis.spec.path,
        "name": analysis.spec.name,
        "ok": analysis.ok,
        "input": list(analysis.input),
        "output": list(analysis.output) if analysis.output else None,
        "layers": layer_json(analysis),
        "totals": {
            "params": t.params,
            "weights": t.weights,
            "biases": t.biases,
            "buffers": t.buffers,
            "macs": t.macs,
            "activations": t.activations,
        },
        "memory": analysis.memory.to_json() if analysis.memory else None,
        "findings": [f.to_json() for f in analysis.findings],
    }


def failed_json(file: str, findings: Sequence[Finding]) -> dict[str, Any]:
    """A result for a spec that could not be loaded."""
    return {
        "file": file,
        "name": None,
        "ok": False,
        "input": None,
        "output": None,
        "layers": [],
        "totals": None,
        "memory": None,
        "findings": [f.to_json() for f in findings],
    }


def check_document(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {"version": VERSION, "results": list(results)}
