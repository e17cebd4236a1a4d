"""The case packet's tables, laid out once for every format (xlsx, csv, pdf, html, json)."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ringfinder import __version__
from ringfinder.export.case import CaseData, role_text
from ringfinder.export.labels import t
from ringfinder.triage import TRANSFER_THRESHOLD

#: Column types: how writers format and align a value.
TEXT, MONEY, DATE, DATETIME, INT, FLOAT = "text", "money", "date", "datetime", "int", "float"


@dataclass
class Column:
    key: str
    label: str
    type: str = TEXT


@dataclass
class TableSpec:
    key: str  # file/sheet stem: "claims", "members", ...
    title: str
    columns: list[Column]
    rows: list[list[Any]]
    totals: dict[str, Decimal] = field(default_factory=dict)  # column key -> total

    def as_dicts(self) -> list[dict[str, Any]]:
        return [{c.key: v for c, v in zip(self.columns, row, strict=True)} for row in self.rows]


def fmt_money(value: Decimal | None) -> str:
    return "" if value is None else f"{Decimal(value):,.2f}"


def _col(key: str, lang: str, type_: str = TEXT) -> Column:
    return Column(key, t(f"export.c.{key}", lang), type_)


def summary_pairs(case: CaseData, lang: str, generated: datetime) -> list[tuple[str, str]]:
    """(label, value) lines of the 线索概要."""
    lead = case.lead
    amount, fund = lead.amount_total, lead.fund_amount
    transfer = t(
        "export.f.transfer_yes" if case.above_threshold else "export.f.transfer_no",
        lang,
        amount=fmt_money(amount),
        threshold=fmt_money(TRANSFER_THRESHOLD),
    )
    fund_cmp = t(
        "export.f.fund_vs",
        lang,
        fund=fmt_money(fund),
        cmp=t("export.cmp.ge" if fund >= TRANSFER_THRESHOLD else "export.cmp.lt", lang),
        threshold=fmt_money(TRANSFER_THRESHOLD),
    )
    period = f"{lead.first_seen or '?'} — {lead.last_seen or '?'}"
    n = {k: len(lead.members.get(k, [])) for k in lead.members}
    inst_names = [
        f"{i.get('name') or ''} ({i['institution_id']}"
        + (f", {t('export.role.external', lang)})" if i.get("external") else ")")
        for i in case.institutions
        if {"institution", "issuer", "external"} & set(i.get("roles", []))
    ]
    ph_names = [f"{p.get('name') or ''} ({p['pharmacy_id']})" for p in case.pharmacies]
    sep = "；" if lang == "zh" else "; "
    pairs = [
        (t("export.f.lead_id", lang), lead.lead_id),
        (t("export.f.pattern", lang), lead.pattern),
        (t("export.f.score", lang), f"{lead.score:.1f}"),
        (t("export.f.run", lang), f"{lead.run_id} ({lead.run_at:%Y-%m-%d %H:%M})"),
        (t("export.f.rank", lang), str(lead.rank)),
        (t("export.f.status", lang), t(f"triage.status.{lead.status}", lang)),
        (t("export.f.period", lang), period),
        (t("export.f.persons", lang), str(n.get("persons", 0))),
        (t("export.f.cards", lang), str(n.get("cards", 0))),
        (t("export.f.doctors", lang), str(n.get("doctors", 0))),
        (
            t("export.f.institutions", lang),
            sep.join(inst_names) or t("export.f.none", lang),
        ),
        (t("export.f.pharmacies", lang), sep.join(ph_names) or t("export.f.none", lang)),
        (t("export.f.evidence", lang), str(lead.evidence)),
        (t("export.f.amount", lang), fmt_money(amount)),
        (t("export.f.fund", lang), fmt_money(fund)),
        (t("export.f.threshold", lang), fmt_money(TRANSFER_THRESHOLD)),
        (t("export.f.transfer", lang), f"{transfer}{sep}{fund_cmp}"),
        (
            t("export.f.identities", lang),
            t("export.f.identities_real" if case.revealed else "export.f.identities_pseudo", lang),
        ),
        (
            t("export.f.generated", lang),
            f"{generated:%Y-%m-%d %H:%M:%S} · ringfinder {__version__}",
        ),
    ]
    if lead.related:
        pairs.append((t("export.f.status", lang), t("export.f.related", lang, other=lead.related)))
    if not case.consistent:
        pairs.append(
            (
                "!",
                t(
                    "export.f.mismatch",
                    lang,
                    now=fmt_money(case.evidence_total),
                    then=fmt_money(lead.amount_total),
                ),
            )
        )
    return pairs


def _flags(case: CaseData, lang: str) -> dict[str, str]:
    """Record id -> short names of the indicators it is part of."""
    out: dict[str, list[str]] = defaultdict(list)
    for ind in case.indicators:
        label = t(f"export.short.{ind.code}", lang)
        if ind.kind == "fabrication":
            label = f"!{label}"
        for rec in ind.records:
            if label not in out[rec]:
                out[rec].append(label)
    sep = "、" if lang == "zh" else "; "
    return {k: sep.join(v) for k, v in out.items()}


def case_tables(case: CaseData, lang: str, generated: datetime) -> list[TableSpec]:
    """Every table of the packet, in the order the formats show them."""
    lead = case.lead
    tables = [
        TableSpec(
            "summary",
            t("export.t.summary", lang),
            [_col("field", lang), _col("value", lang)],
            [list(p) for p in summary_pairs(case, lang, generated)],
        ),
        TableSpec(
            "reasons",
            t("export.t.reasons", lang),
            [
                Column("n", "#", INT),
                _col("reason", lang),
                _col("code", lang),
                _col("figures", lang),
            ],
            [
                [i, text, r.code, json.dumps(r.figures, ensure_ascii=False, default=str)]
                for i, (r, text) in enumerate(
                    zip(lead.reasons, lead.reason_text(lang), strict=True), 1
                )
            ],
        ),
        TableSpec(
            "indicators",
            t("export.t.indicators", lang),
            [
                _col("kind", lang),
                _col("detail", lang),
                _col("count", lang, INT),
                _col("amount", lang, MONEY),
                _col("records", lang),
            ],
            [
                [
                    t(f"export.kind.{i.kind}", lang),
                    i.text(lang),
                    i.figures.get("n", len(i.records)),
                    i.figures.get("amount"),
                    " ".join(i.records),
                ]
                for i in sorted(case.indicators, key=lambda i: (i.kind != "fabrication", i.code))
            ],
        ),
        _members(case, lang),
    ]
    flags = _flags(case, lang)
    money = lambda k: _col(k, lang, MONEY)  # noqa: E731
    claims_cols = [
        _col("claim_id", lang),
        _col("person_id", lang),
        _col("card_id", lang),
        _col("card_holder", lang),
        _col("provider_id", lang),
        _col("provider_name", lang),
        _col("doctor_id", lang),
        _col("visit_type", lang),
        _col("start_time", lang, DATETIME),
        _col("end_time", lang, DATETIME),
        _col("diagnosis_code", lang),
        money("total_amount"),
        money("fund_amount"),
        _col("terminal_id", lang),
        _col("flags", lang),
    ]
    tables.append(
        TableSpec(
            "claims",
            t("export.t.claims", lang),
            claims_cols,
            [
                [c.get(col.key) for col in claims_cols[:-1]] + [flags.get(c["claim_id"], "")]
                for c in case.claims
            ],
            {"total_amount": case.claims_total, "fund_amount": case.claims_fund},
        )
    )
    reimb_cols = [
        _col("reimbursement_id", lang),
        _col("person_id", lang),
        _col("submitted_date", lang, DATE),
        money("amount_claimed"),
        money("amount_paid"),
        _col("handler_id", lang),
        _col("submitter_phone", lang),
        _col("payee_account", lang),
        _col("flags", lang),
    ]
    tables.append(
        TableSpec(
            "reimbursements",
            t("export.t.reimbursements", lang),
            reimb_cols,
            [
                [r.get(col.key) for col in reimb_cols[:-1]] + [flags.get(r["reimbursement_id"], "")]
                for r in case.reimbursements
            ],
            {"amount_claimed": case.reimbursed_claimed, "amount_paid": case.reimbursed_paid},
        )
    )
    inv_cols = [
        _col("invoice_id", lang),
        _col("reimbursement_id", lang),
        _col("person_id", lang),
        _col("issuer_id", lang),
        _col("issuer_name", lang),
        _col("issue_date", lang, DATE),
        money("amount"),
        _col("visit_type", lang),
        _col("diagnosis_code", lang),
        _col("flags", lang),
    ]
    tables.append(
        TableSpec(
            "invoices",
            t("export.t.invoices", lang),
            inv_cols,
            [
                [v.get(col.key) for col in inv_cols[:-1]] + [flags.get(v["invoice_id"], "")]
                for v in case.invoices
            ],
            {"amount": sum((v["amount"] or Decimal(0) for v in case.invoices), Decimal(0))},
        )
    )
    ref_cols = [
        _col("referral_id", lang),
        _col("person_id", lang),
        _col("from_provider_id", lang),
        _col("to_provider_id", lang),
        _col("referral_date", lang, DATE),
        _col("doctor_id", lang),
        _col("diagnosis_code", lang),
        _col("in_evidence", lang),
    ]
    yes, no = t("export.c.yes", lang), t("export.c.no", lang)
    tables.append(
        TableSpec(
            "referrals",
            t("export.t.referrals", lang),
            ref_cols,
            [
                [r.get(col.key) for col in ref_cols[:-1]] + [yes if r["in_evidence"] else no]
                for r in case.referrals
            ],
        )
    )
    item_cols = [
        _col("claim_id", lang),
        _col("item_code", lang),
        _col("item_name", lang),
        _col("item_kind", lang),
        _col("quantity", lang, FLOAT),
        money("amount"),
    ]
    tables.append(
        TableSpec(
            "claim_items",
            t("export.t.claim_items", lang),
            item_cols,
            [[i.get(col.key) for col in item_cols] for i in case.claim_items],
            {"amount": sum((i["amount"] or Decimal(0) for i in case.claim_items), Decimal(0))},
        )
    )
    tables.append(
        TableSpec(
            "marks",
            t("export.t.marks", lang),
            [
                _col("when", lang, DATETIME),
                _col("status", lang),
                _col("who", lang),
                _col("note", lang),
            ],
            [
                [m.marked_at, t(f"triage.status.{m.status}", lang), m.who, m.note]
                for m in lead.marks
            ],
        )
    )
    return tables


def _members(case: CaseData, lang: str) -> TableSpec:
    cols = [
        _col("kind", lang),
        _col("id", lang),
        _col("role", lang),
        _col("name", lang),
        _col("id_number", lang),
        _col("phone", lang),
        _col("address", lang),
        _col("bank_account", lang),
        _col("gender", lang),
        _col("birth_date", lang, DATE),
        _col("death_date", lang, DATE),
        _col("region", lang),
        _col("evidence", lang, INT),
        _col("amount", lang, MONEY),
        _col("detail", lang),
    ]
    kind = {
        k: t(f"export.role.{r}", lang)
        for k, r in (
            ("person", "claimant"),
            ("doctor", "doctor"),
            ("institution", "institution"),
            ("pharmacy", "pharmacy"),
            ("card", "card"),
        )
    }
    kind["person"] = "人员" if lang == "zh" else "person"
    rows: list[list[Any]] = []
    for p in case.persons:
        rows.append(
            [
                kind["person"],
                p["person_id"],
                role_text(p["roles"], lang),
                p.get("name"),
                p.get("id_number"),
                p.get("phone"),
                p.get("address"),
                p.get("bank_account"),
                p.get("gender"),
                p.get("birth_date"),
                p.get("death_date"),
                p.get("region_code"),
                p["evidence"],
                p["amount"],
                "" if p.get("in_lead", True) else t("export.role.evidence_only", lang),
            ]
        )
    for d in case.doctors:
        detail = " ".join(
            str(x) for x in (d.get("institution_id"), d.get("department"), d.get("title")) if x
        )
        rows.append(
            [
                kind["doctor"],
                d["doctor_id"],
                role_text(d["roles"], lang),
                d.get("name"),
                None,
                d.get("phone"),
                None,
                None,
                None,
                None,
                None,
                None,
                d["evidence"],
                d["amount"],
                detail,
            ]
        )
    for i in case.institutions:
        detail = " ".join(str(x) for x in (i.get("level"), i.get("ownership")) if x)
        rows.append(
            [
                kind["institution"],
                i["institution_id"],
                role_text(i["roles"], lang),
                i.get("name"),
                None,
                None,
                i.get("address"),
                None,
                None,
                None,
                None,
                i.get("region_code"),
                i["evidence"],
                i["amount"],
                detail,
            ]
        )
    for ph in case.pharmacies:
        rows.append(
            [
                kind["pharmacy"],
                ph["pharmacy_id"],
                role_text(ph["roles"], lang),
                ph.get("name"),
                None,
                None,
                ph.get("address"),
                None,
                None,
                None,
                None,
                ph.get("region_code"),
                ph["evidence"],
                ph["amount"],
                ph.get("chain_id") or "",
            ]
        )
    for k in case.cards:
        detail = " ".join(str(x) for x in (k.get("status"), k.get("status_date")) if x)
        rows.append(
            [
                kind["card"],
                k["card_id"],
                role_text(k["roles"], lang),
                None,
                None,
                None,
                None,
                None,
                None,
                k.get("issued_date"),
                None,
                None,
                k["evidence"],
                None,
                f"{t('export.c.card_holder', lang)} {k.get('holder')} {detail}".strip(),
            ]
        )
    for ident in case.identifiers:
        rows.append(
            [
                t(f"export.role.{ident['kind']}", lang),
                ident["value"],
                t("export.role.organiser", lang),
                None,
                None,
                ident["value"] if ident["kind"] == "agent_phone" else None,
                None,
                ident["value"] if ident["kind"] == "agent_account" else None,
                None,
                None,
                None,
                None,
                ident["records"],
                ident["amount"],
                f"{t('export.c.claimants', lang)} {ident['claimants']}"
                + (f" · {' '.join(ident['owners'])}" if ident["owners"] else ""),
            ]
        )
    return TableSpec("members", t("export.t.members", lang), cols, rows)


def plain(value: Any) -> Any:
    """A JSON-friendly value (money as decimal strings, dates as ISO text)."""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def text_value(value: Any, type_: str) -> str:
    """A value as text in a table cell."""
    if value is None:
        return ""
    if type_ == MONEY:
        return fmt_money(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
