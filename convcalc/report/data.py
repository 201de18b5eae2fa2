"""The JSON documents (README, JSON), as plain dicts (field names are stable)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..analysis.analyzer import Analysis
from ..analysis.memory import Memory
from ..errors import Finding
from ..rules.catalogue import Rule
from ..rules.explanations import EXPLANATIONS
from ..units import BYTES

if TYPE_CHECKING:
    from ..engine.forward import ForwardResult

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


def memory_layer_json(analysis: Analysis, memory: Memory) -> list[dict[str, Any]]:
    act = BYTES[memory.activation_dtype]
    par = memory.parameters // max(1, analysis.totals.params) or BYTES[memory.dtype]
    return [
        {
            "name": r.name,
            "type": r.type,
            "activations": r.activations * act,
            "parameters": r.params * par,
        }
        for r in analysis.rows
    ]


def memory_document(analysis: Analysis, memory: Memory, budget: int | None) -> dict[str, Any]:
    """`convcalc memory --format json`: the estimate (at the largest batch within ``budget``
    when one is given), per image and per layer, and the total at 1, 2, 4, … images."""
    from .memory import batches

    best = memory.max_batch(budget) if budget is not None else 0
    if best >= 1:
        memory = memory.with_batch(best)
    doc: dict[str, Any] = {
        "version": VERSION,
        "file": analysis.spec.path,
        "name": analysis.spec.name,
        **memory.to_json(),
        "per_image": memory.per_image._asdict(),
        "layers": memory_layer_json(analysis, memory),
    }
    if memory.checkpoint is not None:
        doc["checkpoint"].update(
            kept_per_image=memory.checkpoint.kept * BYTES[memory.activation_dtype],
            recomputed_per_image=memory.checkpoint.recomputed * BYTES[memory.activation_dtype],
        )
    if budget is not None:
        doc["budget"] = budget
        doc["max_batch"] = best
        doc["at_max_batch"] = memory.with_batch(best).training_total if best else None
        doc["at_next_batch"] = memory.with_batch(best + 1).training_total
        doc["batches"] = [
            {"batch": b, "workspace": m.workspace, "training_total": m.training_total}
            for b in batches(memory, budget)
            for m in [memory.with_batch(b)]
        ]
    return doc


def run_document(result: ForwardResult, estimated: int) -> dict[str, Any]:
    """`convcalc run --format json`: each layer's expected and actual shape, the timings, the
    measured peak beside the ``estimated`` inference peak."""
    return {
        "version": VERSION,
        "ok": result.ok,
        "batch": result.batch,
        "layers": [
            {
                "name": r.name,
                "type": r.type,
                "expected": list(r.expected),
                "actual": list(r.actual) if r.actual else None,
                "match": r.match,
                "seconds": r.seconds,
            }
            for r in result.layers
        ],
        "seconds": result.seconds,
        "call_seconds": result.call_seconds,
        "measured_peak_bytes": result.measured_peak_bytes,
        "estimated_inference_peak_bytes": estimated,
    }


def source_line(analysis: Analysis) -> str:
    """The first sentence of a spec's description."""
    text = " ".join((analysis.spec.description or "").split())
    return re.split(r"(?<!\bal)\.\s+(?=[A-Z])", text)[0].rstrip(".")


def list_document(names: Sequence[str], analyses: Sequence[Analysis]) -> dict[str, Any]:
    """`convcalc list --format json`: each bundled spec's input, output, parameters, MACs."""
    entries = [
        {
            "name": name,
            "title": a.spec.name,
            "input": list(a.input),
            "output": list(a.output) if a.output else None,
            "params": a.totals.params,
            "macs": a.totals.macs,
            "source": source_line(a),
            "file": a.spec.path,
        }
        for name, a in zip(names, analyses, strict=True)
    ]
    return {"version": VERSION, "specs": entries}


def rules_document(rules: Sequence[Rule]) -> dict[str, Any]:
    """`convcalc rules --format json`: each rule with its explanation."""
    entries = [
        {
            "code": r.code,
            "severity": str(r.severity),
            "summary": r.summary,
            "explanation": EXPLANATIONS[r.code],
        }
        for r in rules
    ]
    return {"version": VERSION, "rules": entries}
