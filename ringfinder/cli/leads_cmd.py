"""``ringfinder leads list|show|mark|stats``: triage leads kept in the workspace."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from ringfinder import i18n
from ringfinder.cli.console import err, out
from ringfinder.errors import ConfigError

app = typer.Typer(
    name="leads",
    help="Triage leads: list, show, mark (confirmed / dismissed / reviewing), campaign stats.",
    no_args_is_help=True,
)

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        envvar="RINGFINDER_WORKSPACE",
        help="Workspace folder (the DuckDB store).",
    ),
]
OutOpt = Annotated[
    Path | None,
    typer.Option(
        "--from",
        "--out",
        "-o",
        help="The folder `ringfinder run --out` wrote: uses FROM/workspace (as `export --from`).",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]
LangOpt = Annotated[
    str | None, typer.Option(help="Language of reasons and labels: zh or en (default: locale).")
]


def _lang(lang: str | None) -> str:
    lang = lang or i18n.default_lang()
    if lang not in i18n.LANGS:
        raise ConfigError(f"--lang must be one of {', '.join(i18n.LANGS)}")
    return lang


def _yuan(value: object) -> str:
    return f"{float(str(value)):,.2f}"


def _status(status: str, lang: str) -> str:
    colour = {"confirmed": "red", "dismissed": "dim", "reviewing": "yellow"}.get(status, "")
    text = i18n.text(f"triage.status.{status}", lang)
    return f"[{colour}]{text}[/]" if colour else text


@app.command("list")
def list_(
    workspace: WorkspaceOpt = None,
    out_dir: OutOpt = None,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            "-s",
            help="Only leads with this status: new, reviewing, confirmed, dismissed.",
        ),
    ] = None,
    pattern: Annotated[
        list[str] | None, typer.Option("--pattern", "-p", help="Only leads of this pattern.")
    ] = None,
    run_id: Annotated[
        str | None, typer.Option("--run", help="A run id (default: the latest).")
    ] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Also leads held back (dismissed and not grown).")
    ] = False,
    limit: Annotated[int | None, typer.Option(help="At most this many leads.")] = None,
    as_json: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """The leads of the latest run, best first, with their review status."""
    from ringfinder import triage

    lang = _lang(lang)
    wanted = tuple(status or ())
    bad = [s for s in wanted if s not in (*triage.STATUSES, triage.NEW)]
    if bad:
        raise ConfigError(f"unknown status {bad[0]!r}: use new, reviewing, confirmed or dismissed")
    ws = triage.resolve_workspace(workspace, out_dir)
    with triage.open_workspace(ws) as con:
        leads = triage.list_leads(
            con,
            run_id=run_id,
            statuses_wanted=wanted,
            patterns=tuple(pattern or ()),
            include_held=all_,
        )
    if limit is not None:
        leads = leads[:limit]
    if as_json:
        for lead in leads:
            typer.echo(json.dumps(_row_json(lead), ensure_ascii=False))
        return
    table = Table(title=f"{len(leads)} leads · run {leads[0].run_id if leads else run_id or '-'}")
    for col, kw in (
        ("#", {"justify": "right"}),
        ("lead", {"no_wrap": True}),
        ("pattern", {}),
        ("score", {"justify": "right"}),
        ("persons", {"justify": "right"}),
        ("涉案金额 (yuan)", {"justify": "right"}),
        ("status", {}),
        ("first", {"no_wrap": True}),
        ("last", {"no_wrap": True}),
    ):
        table.add_column(col, **kw)  # type: ignore[arg-type]
    for lead in leads:
        money = _yuan(lead.amount_total)
        if lead.above_threshold:
            money = f"[bold]{money}[/]"
        status_text = _status(lead.status, lang)
        if not lead.raised:
            status_text += " (held)"
        table.add_row(
            str(lead.rank),
            lead.lead_id,
            lead.pattern,
            f"{lead.score:.1f}",
            str(len(lead.members.get("persons", []))),
            money,
            status_text,
            lead.first_seen.isoformat() if lead.first_seen else "",
            lead.last_seen.isoformat() if lead.last_seen else "",
        )
    out.print(table)


def _row_json(lead: object) -> dict[str, object]:
    from ringfinder.triage import StoredLead

    assert isinstance(lead, StoredLead)
    return {
        "lead_id": lead.lead_id,
        "run_id": lead.run_id,
        "rank": lead.rank,
        "pattern": lead.pattern,
        "score": lead.score,
        "persons": len(lead.members.get("persons", [])),
        "evidence": lead.evidence,
        "amount_total": f"{lead.amount_total:.2f}",
        "fund_amount": f"{lead.fund_amount:.2f}",
        "above_threshold": lead.above_threshold,
        "status": lead.status,
        "raised": lead.raised,
        "held_by": lead.held_by,
        "related": lead.related,
        "first_seen": lead.first_seen.isoformat() if lead.first_seen else "",
        "last_seen": lead.last_seen.isoformat() if lead.last_seen else "",
    }


@app.command("show")
def show(
    lead_id: Annotated[str, typer.Argument(help="Lead id (or a unique prefix of it).")],
    workspace: WorkspaceOpt = None,
    out_dir: OutOpt = None,
    run_id: Annotated[str | None, typer.Option("--run", help="As recorded in this run.")] = None,
    as_json: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """One lead: members with roles, reasons, evidence, money against the threshold, marks."""
    from ringfinder import triage
    from ringfinder.export.case import gather, role_text
    from ringfinder.export.labels import t
    from ringfinder.export.tables import fmt_money

    lang = _lang(lang)
    ws = triage.resolve_workspace(workspace, out_dir)
    with triage.open_workspace(ws) as con:
        lead = triage.get_lead(con, lead_id, run_id=run_id)
        case = gather(con, lead)
    if as_json:
        doc = lead.to_json(lang)
        doc["roles"] = {
            **{p["person_id"]: p["roles"] for p in case.persons},
            **{d["doctor_id"]: d["roles"] for d in case.doctors},
            **{i["institution_id"]: i["roles"] for i in case.institutions},
            **{p["pharmacy_id"]: p["roles"] for p in case.pharmacies},
        }
        doc["evidence_counts"] = {
            "claims": len(case.claims),
            "reimbursements": len(case.reimbursements),
            "invoices": len(case.invoices),
            "referrals": len(case.referrals),
        }
        doc["indicators"] = [
            {"code": i.code, "kind": i.kind, "text": i.text(lang), "records": len(i.records)}
            for i in case.indicators
        ]
        typer.echo(json.dumps(doc, ensure_ascii=False, default=str))
        return
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    for label, value in (
        ("lead", f"{lead.lead_id}  (rank {lead.rank} in run {lead.run_id})"),
        ("pattern", lead.pattern),
        ("score", f"{lead.score:.1f}"),
        ("status", _status(lead.status, lang) + ("" if lead.raised else " (held back)")),
        ("period", f"{lead.first_seen} — {lead.last_seen}"),
        (
            "evidence",
            f"{len(case.claims)} claims, {len(case.reimbursements)} reimbursements, "
            f"{len(case.invoices)} invoices, {len(case.referrals)} referrals",
        ),
        ("涉案金额", f"{fmt_money(lead.amount_total)} yuan (fund {fmt_money(lead.fund_amount)})"),
        (
            "移送公安",
            t(
                "export.f.transfer_yes" if lead.above_threshold else "export.f.transfer_no",
                lang,
                amount=fmt_money(lead.amount_total),
                threshold=fmt_money(triage.TRANSFER_THRESHOLD),
            ),
        ),
    ):
        head.add_row(label, value)
    if lead.related:
        head.add_row("related", t("export.f.related", lang, other=lead.related))
    if lead.held_by:
        head.add_row("held by", f"dismissed lead {lead.held_by}")
    out.print(head)
    out.print("\n[bold]reasons[/]")
    for i, text in enumerate(lead.reason_text(lang), 1):  # data (ids, names): never markup
        out.print(f"  {i}. {escape(text)}", highlight=False)
    if case.indicators:
        out.print(f"\n[bold]{t('export.sec.indicators', lang)}[/]")
        for ind in sorted(case.indicators, key=lambda x: x.kind != "fabrication"):
            mark = "[red]![/]" if ind.kind == "fabrication" else "-"
            out.print(f"  {mark} {escape(ind.text(lang))}", highlight=False)
    members = Table(title="members")
    for col in ("kind", "id", "role", "records", "amount (yuan)"):
        members.add_column(col, justify="right" if col in ("records", "amount (yuan)") else "left")
    for p in case.persons:
        members.add_row(
            "person",
            escape(p["person_id"]),
            role_text(p["roles"], lang),
            str(p["evidence"]),
            fmt_money(p["amount"]),
        )
    for d in case.doctors:
        members.add_row(
            "doctor",
            escape(d["doctor_id"]),
            role_text(d["roles"], lang),
            str(d["evidence"]),
            fmt_money(d["amount"]),
        )
    for inst in case.institutions:
        members.add_row(
            "institution",
            escape(f"{inst['institution_id']} {inst.get('name') or ''}"),
            role_text(inst["roles"], lang),
            str(inst["evidence"]),
            fmt_money(inst["amount"]),
        )
    for ph in case.pharmacies:
        members.add_row(
            "pharmacy",
            escape(f"{ph['pharmacy_id']} {ph.get('name') or ''}"),
            role_text(ph["roles"], lang),
            str(ph["evidence"]),
            fmt_money(ph["amount"]),
        )
    for k in lead.members.get("cards", []):
        members.add_row("card", escape(k), t("export.role.card", lang), "", "")
    for ident in case.identifiers:
        members.add_row(
            ident["kind"],
            escape(str(ident["value"])),
            t("export.role.organiser", lang),
            str(ident["records"]),
            fmt_money(ident["amount"]),
        )
    out.print(members)
    if lead.marks:
        marks = Table(title="mark history")
        for col in ("when", "status", "who", "note"):
            marks.add_column(col)
        for m in lead.marks:
            marks.add_row(
                f"{m.marked_at:%Y-%m-%d %H:%M:%S}",
                _status(m.status, lang),
                escape(m.who),
                escape(m.note),
            )
        out.print(marks)
    else:
        out.print("no marks yet")


@app.command("mark")
def mark(
    lead_id: Annotated[str, typer.Argument(help="Lead id (or a unique prefix of it).")],
    status: Annotated[
        str, typer.Option("--status", "-s", help="confirmed, dismissed or reviewing.")
    ],
    note: Annotated[str, typer.Option("--note", "-n", help="Why (kept with the mark).")] = "",
    workspace: WorkspaceOpt = None,
    out_dir: OutOpt = None,
    push_neo4j: Annotated[
        bool, typer.Option("--push-neo4j", help="Also write the mark to Neo4j (NEO4J_* settings).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Mark a lead; the history is kept and the latest mark wins."""
    from ringfinder import triage

    if status not in triage.STATUSES:
        raise ConfigError(f"--status must be one of {', '.join(triage.STATUSES)}")
    ws = triage.resolve_workspace(workspace, out_dir)
    sinks = []
    driver = None
    if push_neo4j:
        from ringfinder.cli.neo4j_cmd import connect

        driver, db = connect(None, None, None)
        sinks.append(triage.neo4j_mark_sink(driver, db))
    try:
        with triage.open_workspace(ws, write=True) as con:
            m = triage.mark_lead(con, lead_id, status, note, sinks=sinks)
    finally:
        if driver is not None:
            driver.close()
    if as_json:
        typer.echo(json.dumps(m.to_json(), ensure_ascii=False))
    else:
        err.print(f"marked {m.lead_id} {m.status} ({m.who}, {m.marked_at:%Y-%m-%d %H:%M:%S})")


@app.command("stats")
def stats(
    workspace: WorkspaceOpt = None,
    out_dir: OutOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Campaign figures: leads raised, reviewed, confirmed, money involved, to transfer."""
    from ringfinder import triage
    from ringfinder.export.tables import fmt_money

    ws = triage.resolve_workspace(workspace, out_dir)
    with triage.open_workspace(ws) as con:
        s = triage.campaign_stats(con)
    if as_json:
        typer.echo(json.dumps(s.to_json(), ensure_ascii=False))
        return
    table = Table(title=f"Campaign figures (线索核查统计) · run {s.run_id}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for label, value in (
        ("runs recorded", str(s.runs)),
        ("leads raised, latest run (线索)", str(s.raised)),
        ("held back (dismissed, not grown)", str(s.held_back)),
        ("leads raised, all runs", str(s.raised_ever)),
        ("reviewed (已核查)", str(s.reviewed)),
        ("  confirmed (已确认)", str(s.confirmed)),
        ("  dismissed (已排除)", str(s.dismissed)),
        ("  reviewing (核查中)", str(s.reviewing)),
        ("money involved, raised leads (涉案金额)", fmt_money(s.amount_raised)),
        ("  of which fund", fmt_money(s.fund_raised)),
        ("money involved, confirmed", fmt_money(s.amount_confirmed)),
        (f"raised leads at or above {fmt_money(s.threshold)} yuan", str(s.above_threshold)),
        ("to transfer to the police (移送公安: confirmed, at or above)", str(s.to_transfer)),
        ("  money involved", fmt_money(s.amount_to_transfer)),
    ):
        table.add_row(label, value)
    out.print(table)
