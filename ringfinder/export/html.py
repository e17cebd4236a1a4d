"""The case packet as one self-contained HTML page (no scripts, no network).

Pictures are inline: the network as SVG drawn from the same layout as the PNG, the
timeline as a PNG data URI. A Content-Security-Policy forbids every fetch.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from datetime import datetime
from html import escape
from typing import Any

from ringfinder import __version__
from ringfinder.export.case import CaseData, Edge, Node
from ringfinder.export.labels import t
from ringfinder.export.pictures import COLOURS, EDGE_COLOURS, case_layout
from ringfinder.export.tables import (
    DATE,
    DATETIME,
    FLOAT,
    INT,
    MONEY,
    TableSpec,
    fmt_money,
    text_value,
)

CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
)

BASE_CSS = """
body{font-family:"Noto Sans CJK SC","WenQuanYi Zen Hei","Microsoft YaHei","PingFang SC",
sans-serif;margin:24px;color:#222;font-size:14px}
h1{font-size:22px;margin:0 0 12px}h2{font-size:17px;margin:22px 0 8px;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:6px 0;font-size:12px}
th,td{border:1px solid #bbb;padding:2px 6px;vertical-align:top}
.wide{overflow-x:auto}.wide td,.wide th{white-space:nowrap}
th{background:#dde6f0;text-align:left}td.n{text-align:right;white-space:nowrap}
tr.total td{font-weight:bold;background:#f2f2f2}
.fab{color:#b00000}.note{color:#666;font-size:12px}
.summary th{width:14em;background:#f2f2f2}
img,svg{max-width:100%;height:auto}
"""


def svg_network(
    nodes: Sequence[Node],
    edges: Sequence[Edge],
    pos: dict[str, tuple[float, float]],
    *,
    size: int = 640,
) -> str:
    """A static SVG of the lead's network (labels escaped; ids only, no identities)."""
    top = max((e.records for e in edges), default=1) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        f'width="{size}" height="{size}" role="img">'
    ]
    for e in edges:
        (x1, y1), (x2, y2) = pos[e.source], pos[e.target]
        dash = ' stroke-dasharray="4 3"' if e.kind in ("referral", "works_at") else ""
        parts.append(
            f'<line x1="{x1 * size:.1f}" y1="{(1 - y1) * size:.1f}" x2="{x2 * size:.1f}" '
            f'y2="{(1 - y2) * size:.1f}" stroke="{EDGE_COLOURS.get(e.kind, "#999")}" '
            f'stroke-opacity="0.55" stroke-width="{0.6 + 2.4 * e.records / top:.2f}"{dash}>'
            f"<title>{escape(e.kind)} · {e.records} · {fmt_money(e.amount)}</title></line>"
        )
    for n in nodes:
        x, y = pos[n.id]
        r = 4 + 8 * math.sqrt(min(n.records, 100) / 100)
        stroke = "#c00000" if n.flagged else "#fff"
        colour = COLOURS.get(n.kind, "#777")
        cx, cy = x * size, (1 - y) * size
        if n.kind in ("institution", "pharmacy", "issuer"):
            shape = (
                f'<rect x="{cx - r:.1f}" y="{cy - r:.1f}" width="{2 * r:.1f}" height="{2 * r:.1f}" '
                f'fill="{colour}" stroke="{stroke}" stroke-width="1.5"/>'
            )
        else:
            shape = (
                f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{r:.1f}" fill="{colour}" '
                f'stroke="{stroke}" stroke-width="1.5"/>'
            )
        parts.append(
            f"<g><title>{escape(n.kind)} {escape(n.id.split(':', 1)[1])} · {n.records} · "
            f"{fmt_money(n.amount)}</title>{shape}"
            f'<text x="{cx:.1f}" y="{cy - r - 2:.1f}" font-size="9" text-anchor="middle">'
            f"{escape(n.label[:14])}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _cell(value: Any, type_: str) -> str:
    cls = ' class="n"' if type_ in (MONEY, INT, FLOAT) else ""
    if type_ in (DATE, DATETIME) or value is None:
        cls = ""
    return f"<td{cls}>{escape(text_value(value, type_))}</td>"


def table_html(spec: TableSpec, lang: str) -> str:
    rows = ['<div class="wide"><table><thead><tr>']
    rows += [f"<th>{escape(c.label)}</th>" for c in spec.columns]
    rows.append("</tr></thead><tbody>")
    for row in spec.rows:
        rows.append(
            "<tr>"
            + "".join(_cell(v, c.type) for v, c in zip(row, spec.columns, strict=True))
            + "</tr>"
        )
    if spec.totals:
        cells = [
            f'<td class="n">{escape(fmt_money(spec.totals[c.key]))}</td>'
            if c.key in spec.totals
            else "<td></td>"
            for c in spec.columns[1:]
        ]
        rows.append(
            f'<tr class="total"><td>{escape(t("export.t.total", lang))}</td>{"".join(cells)}</tr>'
        )
    rows.append("</tbody></table></div>")
    return "".join(rows)


def case_html(
    case: CaseData,
    tables: list[TableSpec],
    lang: str,
    generated: datetime,
    pictures: dict[str, bytes],
) -> str:
    """The packet page."""
    lead = case.lead
    by_key = {s.key: s for s in tables}
    out = [
        "<!DOCTYPE html>",
        f'<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        f"<title>{escape(t('export.title', lang))} {escape(lead.lead_id)}</title>",
        f"<style>{BASE_CSS}</style></head><body>",
        f"<h1>{escape(t('export.title', lang))} · {escape(lead.lead_id)}</h1>",
        f"<h2>{escape(t('export.sec.summary', lang))}</h2>",
        '<table class="summary">',
    ]
    for k, v in by_key["summary"].rows:
        out.append(f"<tr><th>{escape(str(k))}</th><td>{escape(text_value(v, ''))}</td></tr>")
    out.append("</table>")
    out.append(f"<h2>{escape(t('export.sec.reasons', lang))}</h2><ol>")
    out += [f"<li>{escape(x)}</li>" for x in lead.reason_text(lang)]
    out.append("</ol>")
    out.append(f"<h2>{escape(t('export.sec.indicators', lang))}</h2>")
    fab, breach = case.fabrication(), case.breaches()
    out.append(f"<h3>{escape(t('export.kind.fabrication', lang))}</h3><ul>")
    out += [f'<li class="fab">{escape(i.text(lang))}</li>' for i in fab]
    if not fab:
        out.append(f'<li class="note">{escape(t("export.ind.none_fab", lang))}</li>')
    out.append(f"</ul><h3>{escape(t('export.kind.breach', lang))}</h3><ul>")
    out += [f"<li>{escape(i.text(lang))}</li>" for i in breach]
    if not breach:
        out.append(f'<li class="note">{escape(t("export.f.none", lang))}</li>')
    out.append("</ul>")
    out.append(f"<h2>{escape(t('export.sec.members', lang))}</h2>")
    out.append(table_html(by_key["members"], lang))
    out.append(f"<h2>{escape(t('export.sec.pictures', lang))}</h2>")
    if pictures.get("timeline"):
        data = base64.b64encode(pictures["timeline"]).decode("ascii")
        out.append(f'<p><img alt="timeline" src="data:image/png;base64,{data}"></p>')
    pos = case_layout(case)
    out.append(f"<p>{svg_network(case.nodes, case.edges, pos)}</p>")
    out.append(f"<h2>{escape(t('export.sec.evidence', lang))}</h2>")
    for key in ("claims", "reimbursements", "invoices", "referrals", "claim_items"):
        spec = by_key[key]
        if spec.rows or key == "claims":
            out.append(f"<h3>{escape(spec.title)}</h3>")
            out.append(table_html(spec, lang))
    out.append(f"<h2>{escape(t('export.sec.marks', lang))}</h2>")
    out.append(table_html(by_key["marks"], lang))
    out.append(f'<p class="note">{escape(t("export.footer", lang, version=__version__))}</p>')
    out.append("</body></html>")
    return "\n".join(out)
