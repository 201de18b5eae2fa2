"""`convcalc report`: one self-contained HTML page (inline CSS, JavaScript and SVG, nothing
fetched: a Content-Security-Policy forbids it) with the volumes diagram, the findings with
their source lines, the memory breakdown and budget answer, memory and MACs per layer as bar
charts, and the layer table, sortable by any column.

Every piece of text from the spec (its name, description, path, labels, the source lines the
findings quote) is escaped here: the page must render what a hostile spec says, not run it.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from importlib.metadata import version

from ..analysis.analyzer import Analysis
from ..analysis.memory import Memory
from ..errors import Severity
from ..records import Row, show_shape
from ..units import BYTES, MB
from .cap import Omitted, capped
from .escape import visible
from .memory import breakdown_cells, budget_lines
from .text import COLUMNS, dtype_of, summary, table_cells

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src data:; base-uri 'none'; form-action 'none'"
)

#: Runs first: any script error marks the page (a test reads the mark from the DOM).
ERROR_HOOK = (
    "window.addEventListener('error',function(e){document.documentElement.setAttribute("
    "'data-js-error',String(e.message||e));});"
)

#: Sorting: a click on a header sorts by that column (numbers by data-v), again to reverse;
#: ``report.html#sort=5`` opens sorted by column 5 (MACs), ``#sort=-5`` in reverse.
SORT = """
(function(){
  var table=document.getElementById('layers');
  var heads=table?table.tHead.rows[0].cells:[];
  function key(row,i){var c=row.cells[i];var v=c.getAttribute('data-v');
    return v===null?c.textContent:parseFloat(v);}
  var sorts=[];
  Array.prototype.forEach.call(heads,function(th,i){
    th.tabIndex=0;
    function sort(){
      var body=table.tBodies[0];var rows=Array.prototype.slice.call(body.rows);
      var down=th.getAttribute('aria-sort')==='ascending';
      Array.prototype.forEach.call(heads,function(h){h.removeAttribute('aria-sort');});
      th.setAttribute('aria-sort',down?'descending':'ascending');
      rows.sort(function(a,b){var x=key(a,i),y=key(b,i);
        var r=(typeof x==='number'&&typeof y==='number')?x-y:String(x).localeCompare(String(y));
        return down?-r:r;});
      rows.forEach(function(r){body.appendChild(r);});
    }
    sorts.push(sort);
    th.addEventListener('click',sort);
    th.addEventListener('keydown',function(e){if(e.key==='Enter'||e.key===' '){sort();}});
  });
  var m=/^#sort=(-?)([0-9]+)$/.exec(location.hash);
  if(m&&sorts[+m[2]]){sorts[+m[2]]();if(m[1]){sorts[+m[2]]();}}
  var fit=document.getElementById('fit'),box=document.getElementById('diagram');
  fit.addEventListener('click',function(){var on=box.classList.toggle('fit');
    fit.textContent=on?'Natural size':'Fit to the page';});
  document.documentElement.setAttribute('data-ready','1');
})();
"""

STYLE = """
:root{--bg:#fff;--fg:#1f1f1f;--dim:#5f5f5f;--rule:#ddd;--bar:#6f9fd6;--bar2:#d87474;
--bar3:#9c7cc8;--err:#d62728;--warn:#e08600;--info:#1f77b4;--code:#f5f5f5}
:root.dark{--bg:#1c1d22;--fg:#ececec;--dim:#a8a8a8;--rule:#3a3b40;--bar:#5a8bc6;
--bar2:#c46a6a;--bar3:#8a6db6;--code:#2a2b31}
body{background:var(--bg);color:var(--fg);font:14px/1.45 Helvetica,Arial,sans-serif;
margin:0 auto;padding:16px 24px;max-width:1400px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid var(--rule)}
.dim{color:var(--dim)}.diagram{overflow-x:auto;border:1px solid var(--rule);border-radius:6px}
.diagram svg{display:block;height:auto;max-width:none}
pre{background:var(--code);padding:8px 10px;border-radius:4px;overflow-x:auto;margin:6px 0;
font:12px/1.4 Menlo,Consolas,monospace;white-space:pre}
.finding{border-left:4px solid var(--info);padding-left:8px;margin:8px 0}
.finding.error{border-color:var(--err)}.finding.warning{border-color:var(--warn)}
table{border-collapse:collapse;font-size:13px}
td,th{padding:3px 8px;border-bottom:1px solid var(--rule)}
th{text-align:left;cursor:pointer;user-select:none;white-space:nowrap}
th[aria-sort=ascending]::after{content:' \\25B2'}th[aria-sort=descending]::after{content:' \\25BC'}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.chart{display:grid;grid-template-columns:max-content 1fr max-content;gap:1px 8px;
font-size:12px;align-items:center}
.chart .b{height:10px;background:var(--bar);min-width:1px}.chart.macs .b{background:var(--bar2)}
.chart.params .b{background:var(--bar3)}
.charts{display:grid;grid-template-columns:1fr 1fr 1fr;gap:24px}
.diagram.fit svg{width:100%}
@media (max-width:900px){.charts{grid-template-columns:1fr}}
"""


def esc(value: str, keep: str = "") -> str:
    """Text from the spec for an HTML text node or a quoted attribute."""
    return html.escape(visible(value, keep=keep), quote=True)


def page(
    analysis: Analysis, diagram: str, *, budget: int | None = None, theme: str = "light"
) -> str:
    """The report page; ``diagram`` is the SVG (svg.render with standalone=False)."""
    spec = analysis.spec
    dtype = dtype_of(analysis)
    t = analysis.totals
    output = show_shape(analysis.output) if analysis.output else "not analysed"
    status = "" if analysis.output else " · the analysis stopped at the first error"
    parts = [
        '<!DOCTYPE html>\n<html lang="en"' + (' class="dark"' if theme == "dark" else "") + ">",
        '<head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(spec.name)} · convcalc report</title>",
        f"<script>{ERROR_HOOK}</script><style>{STYLE}</style></head><body>",
        f"<h1>{esc(spec.name)}</h1>",
        f'<p class="dim">{esc(spec.path)}</p>',
    ]
    if spec.description:
        parts.append(f"<p>{esc(spec.description.strip(), keep=chr(10))}</p>")
    parts.append(
        f"<p><b>{show_shape(analysis.input)} → {output}</b> · {t.params:,} parameters · "
        f"{t.macs:,} MACs · {t.activations * BYTES[dtype] / MB:,.2f} MB activations per image "
        f"({dtype}) · {esc(summary(analysis.findings))}{status}</p>"
    )
    parts.append(
        '<h2>Diagram</h2><p><button type="button" id="fit">Fit to the page</button></p>'
        f'<div class="diagram" id="diagram">{diagram}</div>'
    )
    parts.append(
        '<p class="dim">Each volume is drawn W×H×D, log-scaled; the arrows carry the filter '
        "(F×F, stride, padding); FC layers are bars; merges are circles (+ ADD, ‖ CAT, × MUL). "
        "Layers with an error or a warning are outlined with their codes. Hover a volume for "
        "its layer, parameters and MACs.</p>"
    )
    parts.append(_findings(analysis))
    if analysis.memory is not None:
        parts.append(_memory(analysis.memory, budget))
    if analysis.rows:
        parts.append(_charts(analysis.rows, BYTES[dtype]))
        parts.append(_table(analysis))
    parts.append(
        f'<p class="dim">convcalc {esc(version("convcalc"))} · one file, nothing fetched: it works '
        "opened from disk.</p>"
    )
    parts.append(f"<script>{SORT}</script></body></html>\n")
    return "\n".join(parts)


def _findings(analysis: Analysis) -> str:
    findings = analysis.findings
    out = [f"<h2>Findings ({esc(summary(findings))})</h2>"]
    for item in capped(findings):
        if isinstance(item, Omitted):
            out.append(f'<p class="dim">{esc(item.line())}</p>')
            continue
        level = {Severity.ERROR: "error", Severity.WARNING: "warning"}.get(item.severity, "info")
        out.append(
            f'<div class="finding {level}" data-code="{esc(item.code)}">'
            f"<pre>{esc(item.render(), keep=chr(10))}</pre></div>"
        )
    return "\n".join(out)


def _memory(memory: Memory, budget: int | None) -> str:
    body, training, inference = breakdown_cells(memory)
    head = ["MB (1024² bytes)", "per image", f"batch {memory.batch:,}", "share"]
    out = [
        f"<h2>Memory ({esc(memory.dtype)}, batch {memory.batch:,}, {esc(memory.optimizer)})</h2>",
        '<table class="breakdown"><thead><tr>',
        "".join(f"<th{' class=n' if i else ''}>{esc(h)}</th>" for i, h in enumerate(head)),
        "</tr></thead><tbody>",
    ]
    for cells in [*body, training, inference]:
        bold = cells[0] in ("training total", "inference peak")
        tag = "th" if bold else "td"
        out.append(
            "<tr>"
            + "".join(
                f"<{tag}{' class=n' if i else ''}>{esc(c)}</{tag}>" for i, c in enumerate(cells)
            )
            + "</tr>"
        )
    out.append("</tbody></table>")
    if budget is not None:
        out.append(
            '<div class="budget">'
            + "".join(f"<p><b>{esc(line)}</b></p>" for line in budget_lines(memory, budget))
            + "</div>"
        )
    return "\n".join(out)


def _chart(title: str, cls: str, items: Sequence[tuple[str, int, str]]) -> str:
    largest = max((v for _, v, _ in items), default=0)
    out = [f'<div><h3>{esc(title)}</h3><div class="chart {cls}">']
    for name, value, shown in items:
        share = 100 * value / largest if largest else 0
        out.append(
            f'<span>{esc(name)}</span><div><div class="b" style="width:{share:.2f}%"></div></div>'
            f'<span class="n">{esc(shown)}</span>'
        )
    out.append("</div></div>")
    return "".join(out)


def _charts(rows: Sequence[Row], width: int) -> str:
    memory = [(r.name, r.activations, f"{r.activations * width / MB:,.2f} MB") for r in rows]
    params = [(r.name, r.params, f"{r.params * width / MB:,.2f} MB") for r in rows]
    macs = [(r.name, r.macs, f"{r.macs / 1e6:,.1f} M") for r in rows]
    return (
        '<h2>Per layer</h2><p class="dim">The notes\' point: the early CONV layers hold '
        'the activations, the FC layers the parameters.</p><div class="charts">'
        + _chart("Activations (MB, one image)", "memory", [m for m in memory if m[1]])
        + _chart("Parameters (MB)", "params", [p for p in params if p[1]])
        + _chart("MACs", "macs", [m for m in macs if m[1]])
        + "</div>"
    )


def _table(analysis: Analysis) -> str:
    body, totals = table_cells(analysis)
    width = BYTES[dtype_of(analysis)]
    head = ["#", *(c.header for c in COLUMNS), "line"]
    numeric = {0, 4, 5, 6, 7, 8}
    out = [
        '<h2>Layers</h2><p class="dim">Click a column to sort.</p><table id="layers"><thead><tr>',
        "".join(
            f"<th{' class=n' if i in numeric else ''}>{esc(h)}</th>" for i, h in enumerate(head)
        ),
        "</tr></thead><tbody>",
    ]
    for i, (row, cells) in enumerate(zip(analysis.rows, body, strict=True)):
        keys: list[float | None] = [
            i, None, None, row.output[0] * row.output[1] * row.output[2], row.params, row.macs,
            row.activations * width, max(row.receptive_field), row.location.line or 0,
        ]  # fmt: skip
        shown = [str(i), *cells, str(row.location.line or "")]
        out.append(
            "<tr>"
            + "".join(
                f"<td{' class=n' if j in numeric else ''}"
                + (f' data-v="{k}"' if k is not None else "")
                + f">{esc(c)}</td>"
                for j, (c, k) in enumerate(zip(shown, keys, strict=True))
            )
            + "</tr>"
        )
    out.append(
        "</tbody><tfoot><tr><th></th>"
        + "".join(
            f"<th{' class=n' if j + 1 in numeric else ''}>{esc(c)}</th>"
            for j, c in enumerate(totals)
        )
        + "<th></th></tr></tfoot></table>"
    )
    return "\n".join(out)
