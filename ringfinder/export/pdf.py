"""The case packet as a PDF (A4), Chinese by default, with the CJK font embedded.

ReportLab embeds a subset of the TrueType font with a ToUnicode map, so the text
renders the same everywhere and can be searched and copied (``pdftotext``). The
document is built with ``invariant`` output: the same packet gives the same bytes.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from ringfinder import __version__
from ringfinder.export.case import CaseData
from ringfinder.export.fonts import find_cjk_font
from ringfinder.export.labels import t
from ringfinder.export.tables import MONEY, TableSpec, fmt_money, text_value

FONT = "RingfinderCJK"
#: Evidence rows printed per table; all of them are in the xlsx/json.
MAX_ROWS = 400

#: Columns of each table the PDF prints (the page is narrower than a spreadsheet).
PDF_COLUMNS = {
    "members": (
        "kind",
        "id",
        "role",
        "name",
        "id_number",
        "phone",
        "death_date",
        "evidence",
        "amount",
    ),
    "claims": (
        "claim_id",
        "person_id",
        "card_id",
        "provider_id",
        "doctor_id",
        "visit_type",
        "start_time",
        "end_time",
        "total_amount",
        "fund_amount",
        "flags",
    ),
    "reimbursements": (
        "reimbursement_id",
        "person_id",
        "submitted_date",
        "amount_claimed",
        "amount_paid",
        "handler_id",
        "submitter_phone",
        "payee_account",
        "flags",
    ),
    "invoices": (
        "invoice_id",
        "person_id",
        "issuer_id",
        "issuer_name",
        "issue_date",
        "amount",
        "flags",
    ),
    "referrals": (
        "referral_id",
        "person_id",
        "from_provider_id",
        "to_provider_id",
        "referral_date",
        "doctor_id",
        "in_evidence",
    ),
    "marks": ("when", "status", "who", "note"),
}


def _register_font() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    font = find_cjk_font()
    pdfmetrics.registerFont(TTFont(FONT, str(font.path), subfontIndex=font.index))


def _styles() -> dict[str, Any]:
    from reportlab.lib.styles import ParagraphStyle

    base = ParagraphStyle("base", fontName=FONT, fontSize=9, leading=13, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=17, leading=24, spaceAfter=8),
        "h2": ParagraphStyle(
            "h2", parent=base, fontSize=12, leading=18, spaceBefore=10, spaceAfter=4
        ),
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7, leading=9),
        "cell": ParagraphStyle("cell", parent=base, fontSize=6.5, leading=8),
        "note": ParagraphStyle("note", parent=base, fontSize=7.5, leading=10, textColor="#555555"),
        "alert": ParagraphStyle("alert", parent=base, textColor="#B00000"),
    }


def _p(text: Any, style: Any) -> Any:
    from reportlab.platypus import Paragraph

    return Paragraph(escape(str(text)).replace("\n", "<br/>"), style)


def _table(spec: TableSpec, st: dict[str, Any], lang: str, width: float) -> list[Any]:
    from reportlab.lib import colors
    from reportlab.platypus import LongTable, TableStyle

    keys = PDF_COLUMNS.get(spec.key)
    cols = [c for c in spec.columns if keys is None or c.key in keys]
    idx = [spec.columns.index(c) for c in cols]
    out: list[Any] = [_p(spec.title, st["h2"])]
    if not spec.rows:
        out.append(_p(t("export.f.none", lang), st["body"]))
        return out
    rows = spec.rows[:MAX_ROWS]
    data = [[_p(c.label, st["cell"]) for c in cols]]
    for row in rows:
        data.append(
            [_p(text_value(row[i], c.type), st["cell"]) for i, c in zip(idx, cols, strict=True)]
        )
    if spec.totals:
        data.append(
            [_p(t("export.t.total", lang), st["cell"])]
            + [
                _p(fmt_money(spec.totals[c.key]) if c.key in spec.totals else "", st["cell"])
                for c in cols[1:]
            ]
        )
    weights = [2.2 if c.type == MONEY else 1.0 for c in cols]
    if "flags" in keys if keys else False:
        weights[-1] = 1.8
    total_w = sum(weights)
    table = LongTable(data, colWidths=[width * w / total_w for w in weights], repeatRows=1)
    style = [
        ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#999999")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DDE6F0")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 2),
        ("RIGHTPADDING", (0, 0), (-1, -1), 2),
        ("TOPPADDING", (0, 0), (-1, -1), 1),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
    ]
    if spec.totals:
        style.append(("BACKGROUND", (0, -1), (-1, -1), colors.HexColor("#F2F2F2")))
    table.setStyle(TableStyle(style))
    out.append(table)
    if len(spec.rows) > len(rows):
        out.append(_p(t("export.t.more", lang, n=len(spec.rows), shown=len(rows)), st["note"]))
    return out


def pdf_bytes(
    case: CaseData,
    tables: list[TableSpec],
    lang: str,
    generated: datetime,
    pictures: dict[str, bytes],
) -> bytes:
    """The PDF: summary, reasons, fabrication vs breaches, members, pictures, evidence."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, KeepTogether, SimpleDocTemplate, Spacer, Table, TableStyle

    _register_font()
    st = _styles()
    lead = case.lead
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=14 * mm,
        rightMargin=14 * mm,
        topMargin=14 * mm,
        bottomMargin=16 * mm,
        title=f"{t('export.title', lang)} {lead.lead_id}",
        author=f"ringfinder {__version__}",
        subject=lead.pattern,
        creator=f"ringfinder {__version__}",
        invariant=1,
        lang="zh-CN" if lang == "zh" else "en",
    )
    width = doc.width
    by_key = {s.key: s for s in tables}
    story: list[Any] = [
        _p(f"{t('export.title', lang)} · {lead.lead_id}", st["title"]),
        _p(t("export.sec.summary", lang), st["h2"]),
    ]
    summary = Table(
        [[_p(k, st["body"]), _p(text_value(v, ""), st["body"])] for k, v in by_key["summary"].rows],
        colWidths=[width * 0.28, width * 0.72],
    )
    summary.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#BBBBBB")),
                ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#F2F2F2")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    story.append(summary)
    story.append(_p(t("export.sec.reasons", lang), st["h2"]))
    for i, text in enumerate(lead.reason_text(lang), 1):
        story.append(_p(f"{i}. {text}", st["body"]))
    story.append(_p(t("export.sec.indicators", lang), st["h2"]))
    fab, breach = case.fabrication(), case.breaches()
    if not fab and not breach:
        story.append(_p(t("export.ind.none", lang), st["body"]))
    else:
        story.append(_p(t("export.kind.fabrication", lang), st["body"]))
        if not fab:
            story.append(_p(t("export.ind.none_fab", lang), st["note"]))
        for ind in fab:
            story.append(_p(f"• {ind.text(lang)}", st["alert"]))
        story.append(Spacer(1, 4))
        story.append(_p(t("export.kind.breach", lang), st["body"]))
        for ind in breach:
            story.append(_p(f"• {ind.text(lang)}", st["body"]))
        if not breach:
            story.append(_p(t("export.f.none", lang), st["note"]))
    story.append(_p(t("export.sec.members", lang), st["h2"]))
    story += _table(by_key["members"], st, lang, width)[1:]
    story.append(_p(t("export.sec.pictures", lang), st["h2"]))
    for name in ("timeline", "network"):
        png = pictures.get(name)
        if png:
            img = Image(io.BytesIO(png))
            scale = min(width / img.imageWidth, 150 * mm / img.imageHeight)
            img.drawWidth, img.drawHeight = img.imageWidth * scale, img.imageHeight * scale
            story.append(KeepTogether([img, Spacer(1, 4)]))
    story.append(_p(t("export.sec.evidence", lang), st["h2"]))
    for key in ("claims", "reimbursements", "invoices", "referrals"):
        if by_key[key].rows or key == "claims":
            story += _table(by_key[key], st, lang, width)
    story.append(_p(t("export.sec.marks", lang), st["h2"]))
    story += _table(by_key["marks"], st, lang, width)[1:]
    story.append(Spacer(1, 8))
    story.append(_p(t("export.footer", lang, version=__version__), st["note"]))
    footer = f"{lead.lead_id} · {generated:%Y-%m-%d}"

    def on_page(canvas: Any, doc_: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7)
        canvas.setFillColor(colors.HexColor("#666666"))
        canvas.drawString(doc_.leftMargin, 8 * mm, footer)
        canvas.drawRightString(doc_.leftMargin + doc_.width, 8 * mm, str(canvas.getPageNumber()))
        canvas.restoreState()

    doc.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return buf.getvalue()
