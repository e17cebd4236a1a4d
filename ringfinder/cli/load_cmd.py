"""``ringfinder load DATA_DIR``: validate and load the canonical tables into a workspace."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from ringfinder.cli.console import err, out
from ringfinder.errors import StrictModeFailure
from ringfinder.i18n import default_lang
from ringfinder.load import LoadOptions, LoadReport, ProgressCallback
from ringfinder.load.api import report_dict as as_dict

#: ``--memory`` of ``load`` and ``run``
MemoryOption = Annotated[
    str | None,
    typer.Option(
        "--memory",
        help="DuckDB memory limit, e.g. 6GB (default: RINGFINDER_MEMORY, else a quarter "
        "of the RAM); beyond it DuckDB spills to the workspace's temporary folder.",
    ),
]

#: ``--reload`` of ``load`` and ``run``
ReloadOption = Annotated[
    bool,
    typer.Option(
        "--reload",
        help="Read the files even when they are unchanged since the workspace's last load "
        "(otherwise that load's rows and report are reused).",
    ),
]

TOP_REASONS = 3


def load(
    data_dir: Annotated[
        Path,
        typer.Argument(help="Folder of canonical tables (or of source files, with --mapping)."),
    ],
    workspace: Annotated[
        Path,
        typer.Option(
            envvar="RINGFINDER_WORKSPACE",
            help="Workspace folder (DuckDB store; rejected rows go to WORKSPACE/quarantine).",
        ),
    ] = Path("ringfinder-workspace"),
    mapping: Annotated[
        str | None,
        typer.Option(
            help="Mapping for source exports: a shipped name (cn_fsi, hpfd_inpatient) or a "
            "YAML path."
        ),
    ] = None,
    encoding: Annotated[
        str,
        typer.Option(
            help="CSV encoding: auto (UTF-8, else GB18030 with a warning), utf-8, gb18030 or gbk."
        ),
    ] = "auto",
    strict: Annotated[
        bool,
        typer.Option(
            "--strict", help="Any rejected row is an error (exit 3): then nothing is loaded."
        ),
    ] = False,
    no_pseudonymise: Annotated[
        bool,
        typer.Option(
            "--no-pseudonymise",
            help="Store personal data (names, ID numbers, phones, addresses, accounts) as "
            "read instead of keyed pseudonyms. The key otherwise comes from RINGFINDER_KEY "
            "or RINGFINDER_KEY_FILE (default ~/.config/ringfinder/key).",
        ),
    ] = False,
    memory: MemoryOption = None,
    reload: ReloadOption = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the load report as JSON on stdout.")
    ] = False,
) -> None:
    """Validate DATA_DIR and load it into the workspace (idempotent; newer data upserts).

    Every row read is either loaded or rejected; rejected rows go, with their line
    and the reason, to WORKSPACE/quarantine/<table>.csv.
    """
    from ringfinder.engine.embedded import EmbeddedEngine
    from ringfinder.load import load_folder

    options = LoadOptions(
        encoding=encoding,
        mapping=mapping,
        strict=strict,
        pseudonymise=not no_pseudonymise,
        reload=reload,
    )
    try:
        engine = EmbeddedEngine(workspace, memory_limit=memory)
        with engine, load_progress() as progress:
            report = load_folder(
                engine.con, data_dir, options, progress=progress_callback(progress)
            )
    except StrictModeFailure as exc:
        failed = getattr(exc, "report", None)
        if failed is not None and not as_json:
            render_load_report(failed, console=err)
        raise
    if as_json:
        out.print_json(json.dumps(report_dict(report), ensure_ascii=False))
        render_warnings(report)
        return
    render_load_report(report, console=out)
    if report.reused_load is not None:
        return  # render_load_report said so
    err.print(
        f"loaded into {workspace} in {report.seconds:.1f} s"
        + (f"; rejected rows in {report.quarantine_dir}" if report.rejected else "")
    )


def load_progress() -> Progress:
    """A transient progress display on stderr."""
    return Progress(
        SpinnerColumn(),
        TextColumn("load {task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,} rows"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,  # a pipe or a file: no bar, no stray blank line
    )


def progress_callback(progress: Progress) -> ProgressCallback:
    """A loader progress callback driving ``progress`` (one task per table)."""
    tasks: dict[str, TaskID] = {}

    def on_load(table: str, done: int, total: int | None) -> None:
        if table not in tasks:
            tasks[table] = progress.add_task(table, total=total)
        progress.update(tasks[table], completed=done, total=total)

    return on_load


def report_dict(report: LoadReport) -> dict[str, object]:
    """The report as plain JSON-able data (no personal data is ever in it)."""
    return {**as_dict(report), "seconds": round(report.seconds, 3)}


def render_warnings(report: LoadReport, console: Console | None = None) -> None:
    console = console or err
    for w in report.warnings:
        console.print(f"[yellow]warning:[/] {escape(w)}", highlight=False)


def render_load_report(
    report: LoadReport, *, console: Console | None = None, lang: str | None = None
) -> None:
    """Print the per-table table: read / loaded / rejected / quarantine and top reasons;
    for a load not read again (unchanged files), the sentence saying so on stderr.

    Used by ``load`` (on stdout) and by ``run`` and ``neo4j load`` (default: stderr).
    """
    console = console or err
    table = Table(title="Load (validated input)", title_justify="left")
    table.add_column("table")
    table.add_column("source", overflow="fold")
    table.add_column("read", justify="right")
    table.add_column("loaded", justify="right")
    table.add_column("rejected", justify="right")
    table.add_column("new / updated", justify="right")
    table.add_column("top reasons", overflow="fold")
    for t in report.tables:
        reasons = ", ".join(f"{k} {v:,}" for k, v in list(t.reasons.items())[:TOP_REASONS])
        rejected = f"[red]{t.rejected:,}[/]" if t.rejected else "0"
        table.add_row(
            t.table,
            escape(t.source),
            f"{t.read:,}",
            f"{t.loaded:,}",
            rejected,
            f"{t.inserted:,} / {t.updated:,}",
            escape(reasons),
        )
    console.print(table)
    if report.missing_optional:
        console.print(
            f"optional tables not present: {', '.join(report.missing_optional)} "
            "(the detectors that need them do not run)",
            highlight=False,
        )
    for t in report.tables:
        if t.rejected:
            where = f" -> {t.quarantine}" if t.quarantine else ""
            console.print(f"[bold]{t.table}[/]: {t.rejected:,} rejected{escape(where)}")
            for ex in t.examples:
                console.print(f"  {escape(ex)}", highlight=False)
    render_warnings(report, err)
    if report.reused_load is not None:
        from ringfinder.summary import reused_line

        err.print(reused_line(report, lang or default_lang()), highlight=False)
