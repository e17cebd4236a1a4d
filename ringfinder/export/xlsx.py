"""Spreadsheets of a case packet: one xlsx workbook (and optional CSV files).

Text is never read as a formula: a text cell that starts with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return is written with a leading apostrophe (OWASP's
advice against CSV/formula injection), in the workbook and in CSV alike. Money is
written as numbers with two decimals; every money column of an evidence table has a
total row, and the workbook names the lead's totals (``amount_total``,
``fund_amount``) so a reader can check them.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ringfinder.export.labels import t
from ringfinder.export.tables import DATE, DATETIME, MONEY, TableSpec, plain

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def safe_text(value: str) -> str:
    """Text that no spreadsheet will run as a formula (and no XML control chars)."""
    value = _ILLEGAL.sub("", value)
    if value.startswith(FORMULA_START):
        return "'" + value
    return value


def _cell_value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float, Decimal, date, datetime)):
        return value
    return safe_text(str(value))


def workbook_bytes(tables: Sequence[TableSpec], lang: str, amount: Decimal, fund: Decimal) -> bytes:
    """The xlsx file: one sheet per table, totals rows, named totals."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.workbook.defined_name import DefinedName

    wb = Workbook()
    wb.remove(wb.active)
    bold = Font(bold=True)
    head_fill = PatternFill("solid", fgColor="DDE6F0")
    total_label = t("export.t.total", lang)
    for spec in tables:
        ws = wb.create_sheet(spec.title[:31])
        ws.append([safe_text(c.label) for c in spec.columns])
        for cell in ws[1]:
            cell.font = bold
            cell.fill = head_fill
        for row in spec.rows:
            ws.append([_cell_value(v) for v in row])
        if spec.totals:
            total_row: list[Any] = [spec.totals.get(c.key) for c in spec.columns]
            total_row[0] = total_label
            ws.append(total_row)
            for cell in ws[ws.max_row]:
                cell.font = bold
        for idx, col in enumerate(spec.columns, 1):
            letter = get_column_letter(idx)
            fmt = {
                MONEY: "#,##0.00",
                DATE: "yyyy-mm-dd",
                DATETIME: "yyyy-mm-dd hh:mm",
            }.get(col.type)
            if fmt:
                for cell in ws[letter][1:]:
                    cell.number_format = fmt
            width = max(
                [len(str(col.label)) * 2] + [len(str(r[idx - 1] or "")) for r in spec.rows[:200]]
            )
            ws.column_dimensions[letter].width = min(max(width + 2, 8), 60)
        ws.freeze_panes = "A2"
        if spec.key == "summary":
            for row in ws.iter_rows(min_row=2):
                row[1].alignment = Alignment(wrap_text=True, vertical="top")
            ws.column_dimensions["B"].width = 90
            # the lead's totals as numbers, named
            ws.append([])
            for name, label, value in (
                ("amount_total", t("export.f.amount", lang), amount),
                ("fund_amount", t("export.f.fund", lang), fund),
            ):
                ws.append([label, value])
                cell = ws.cell(row=ws.max_row, column=2)
                cell.number_format = "#,##0.00"
                cell.font = bold
                ref = f"'{ws.title}'!$B${ws.max_row}"
                wb.defined_names[name] = DefinedName(name, attr_text=ref)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float, Decimal)):
        return plain(value)
    return safe_text(str(plain(value)))


def csv_bytes(spec: TableSpec, lang: str) -> bytes:
    """One table as CSV (UTF-8 with BOM so spreadsheet programs read Chinese)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([safe_text(c.label) for c in spec.columns])
    for row in spec.rows:
        writer.writerow([_csv_value(v) for v in row])
    if spec.totals:
        total = [_csv_value(spec.totals.get(c.key)) for c in spec.columns]
        total[0] = safe_text(t("export.t.total", lang))
        writer.writerow(total)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")
