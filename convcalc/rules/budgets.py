"""Budget findings (CC4xx), read off the memory estimate: activations or parameters over the
spec's `budgets:` (CC401, CC402), and one layer holding most of the parameters (CC403).
"""

from __future__ import annotations

from ..analysis.memory import Memory
from ..errors import Finding
from ..frontend.spec import Spec
from ..records import Row, Totals
from ..units import mb
from .catalogue import finding


def memory_findings(
    spec: Spec, rows: tuple[Row, ...], totals: Totals, memory: Memory
) -> list[Finding]:
    """CC401/CC402: over a budget of the spec; CC403: one layer holds most parameters."""
    found = []
    checks = (
        ("activations", "CC401", "activations per image", memory.per_image.activations),
        ("parameters", "CC402", "parameters", memory.parameters),
    )
    for key, code, what, used in checks:
        if key in spec.budgets:
            budget, location = spec.budgets[key]
            if used > budget:
                found.append(finding(
                    code,
                    f"{what} take {mb(used)} at {memory.dtype}, over the budget of {mb(budget)}",
                    location,
                    help="a smaller input, fewer filters in the early layers, or float16"
                    if key == "activations"
                    else "fewer or narrower FC layers; a GAP before the classifier",
                ))  # fmt: skip
    if sum(1 for r in rows if r.params) >= 3:  # in a 1- or 2-layer net it is no news
        biggest = max(rows, key=lambda r: r.params)
        share = biggest.params / totals.params
        if share > 0.5:
            found.append(finding(
                "CC403",
                f"{biggest.name} holds {share:.0%} of all parameters ({biggest.params:,} of "
                f"{totals.params:,})",
                biggest.location,
                layer=biggest.name,
                help="the notes: such FC layers can be removed with no performance downgrade; "
                "a GAP before a small classifier, or the FC→CONV conversion, removes most of them"
                if biggest.type == "FC"
                else None,
            ))  # fmt: skip
    return found
