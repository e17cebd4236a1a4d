"""``ringfinder export`` (case packets), ``ringfinder verify`` (their hashes) and
``ringfinder report`` (the offline HTML report)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ringfinder import i18n
from ringfinder.cli.console import err, out
from ringfinder.errors import ConfigError, RingfinderError

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        envvar="RINGFINDER_WORKSPACE",
        help="Workspace folder (the DuckDB store).",
    ),
]
FromOpt = Annotated[
    Path | None,
    typer.Option(
        "--from",
        help="The folder `ringfinder run --out` wrote (uses FROM/workspace).",
    ),
]


class PacketCheckFailed(RingfinderError):
    """A packet's files do not match its manifest."""


def _workspace(workspace: Path | None, run_out: Path | None) -> Path:
    from ringfinder.triage import resolve_workspace

    try:
        return resolve_workspace(workspace, run_out)
    except ConfigError:
        raise ConfigError(
            "say which workspace: --workspace W (or RINGFINDER_WORKSPACE) or --from RUN_OUT"
        ) from None


def _lang(lang: str | None) -> str:
    lang = lang or "zh"
    if lang not in i18n.LANGS:
        raise ConfigError(f"--lang must be one of {', '.join(i18n.LANGS)}")
    return lang


def export(
    lead_ids: Annotated[list[str], typer.Argument(help="Lead ids (or unique prefixes).")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Folder for the packets.")],
    formats: Annotated[
        str,
        typer.Option("--format", "-f", help="Comma list of xlsx, pdf, html, json, csv (or all)."),
    ] = "xlsx,pdf,html,json",
    lang: Annotated[
        str | None, typer.Option(help="zh (default: packets are for Chinese readers) or en.")
    ] = None,
    workspace: WorkspaceOpt = None,
    run_out: FromOpt = None,
    run_id: Annotated[
        str | None,
        typer.Option("--run", help="The lead as recorded in this run (default: latest)."),
    ] = None,
    reveal_identities: Annotated[
        bool,
        typer.Option(
            "--reveal-identities",
            help="Put real names, ID numbers and phones in the packet (needs the key and "
            "--source; logged in WORKSPACE/audit.jsonl).",
        ),
    ] = False,
    source: Annotated[
        Path | None,
        typer.Option(
            help="With --reveal-identities: the data folder the workspace was loaded from."
        ),
    ] = None,
    mapping: Annotated[
        str | None, typer.Option(help="Mapping name or YAML path of the source folder.")
    ] = None,
    encoding: Annotated[str, typer.Option(help="auto, utf-8, gb18030 or gbk.")] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="List what was written as JSON.")] = False,
) -> None:
    """Write a case packet per lead: summary, members, evidence, pictures, SHA-256 manifest."""
    from ringfinder.export import ExportOptions, export_leads

    ws = _workspace(workspace, run_out)
    options = ExportOptions(
        formats=formats,  # type: ignore[arg-type]
        lang=_lang(lang),
        reveal=reveal_identities,
        source=source,
        mapping=mapping,
        encoding=encoding,
        run_id=run_id,
    )
    if source is not None and not reveal_identities:
        raise ConfigError("--source is only used with --reveal-identities")
    packets = export_leads(ws, lead_ids, out_dir, options)
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "lead_id": p.lead_id,
                        "folder": str(p.folder),
                        "amount_total": p.amount_total,
                        "above_threshold": p.above_threshold,
                        "files": p.files,
                    }
                    for p in packets
                ],
                ensure_ascii=False,
            )
        )
    else:
        for p in packets:
            flag = " [bold red]移送公安[/]" if p.above_threshold else ""
            out.print(f"{p.folder}  ({len(p.files)} files, {p.amount_total} yuan){flag}")
    if reveal_identities:
        err.print(f"[yellow]real identities revealed; logged in {ws / 'audit.jsonl'}[/]")
    err.print(
        f"wrote {len(packets)} packet(s) to {out_dir}; check with: ringfinder verify {out_dir}"
    )


def verify(
    path: Annotated[Path, typer.Argument(help="A packet folder, or a folder of packets.")],
    as_json: Annotated[bool, typer.Option("--json", help="Results as JSON.")] = False,
) -> None:
    """Check every file of case packets against their SHA-256 manifest."""
    from ringfinder.export import packet_folders, verify_packet

    folders = packet_folders(path)
    if not folders:
        raise ConfigError(f"{path}: no case packet here (no manifest.json)")
    results = [verify_packet(f) for f in folders]
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "folder": str(r.folder),
                        "ok": r.ok,
                        "checked": r.checked,
                        "missing": r.missing,
                        "changed": r.changed,
                        "extra": r.extra,
                        "problems": r.problems,
                    }
                    for r in results
                ],
                ensure_ascii=False,
            )
        )
    else:
        table = Table(title="Case packets")
        for col in ("packet", "files", "result"):
            table.add_column(col)
        for r in results:
            detail = "; ".join(
                [f"missing {', '.join(r.missing)}"] * bool(r.missing)
                + [f"changed {', '.join(r.changed)}"] * bool(r.changed)
                + [f"extra {', '.join(r.extra)}"] * bool(r.extra)
                + r.problems
            )
            table.add_row(
                str(r.folder), str(r.checked), "[green]ok[/]" if r.ok else f"[red]{detail}[/]"
            )
        out.print(table)
    bad = [r for r in results if not r.ok]
    if bad:
        raise PacketCheckFailed(
            f"{len(bad)} of {len(results)} packet(s) do not match their manifest"
        )


def report(
    out_file: Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write.")],
    workspace: WorkspaceOpt = None,
    run_out: FromOpt = None,
    lang: Annotated[str | None, typer.Option(help="zh (default) or en.")] = None,
    run_id: Annotated[
        str | None, typer.Option("--run", help="A run id (default: the latest).")
    ] = None,
    top: Annotated[int | None, typer.Option(help="Only the best N leads.")] = None,
    status: Annotated[
        list[str] | None, typer.Option("--status", "-s", help="Only leads with this status.")
    ] = None,
) -> None:
    """One self-contained HTML file (works offline) listing the leads with their networks.

    Without --workspace/--from, the workspace next to the file is used
    (OUT/workspace for --out OUT/report.html), as `ringfinder run --out OUT` leaves it.
    """
    from ringfinder import triage
    from ringfinder.export.report import build_report
    from ringfinder.leads import atomic_write_text

    if workspace is None and run_out is None and (out_file.parent / "workspace").is_dir():
        run_out = out_file.parent
    ws = _workspace(workspace, run_out)
    with triage.open_workspace(ws) as con:
        html, n = build_report(
            con, lang=_lang(lang), run_id=run_id, top=top, statuses=tuple(status or ())
        )
    atomic_write_text(out_file, html)
    err.print(f"wrote {out_file} ({n} leads, {len(html.encode()) / 1024:.0f} KiB, works offline)")
