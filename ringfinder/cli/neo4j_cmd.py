"""``ringfinder neo4j ...``: load the graph into Neo4j and write leads back for Bloom."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ringfinder.cli.console import err, out
from ringfinder.errors import ConfigError

app = typer.Typer(
    name="neo4j",
    help="Load the graph into Neo4j, write leads back, and make Bloom perspectives.",
    no_args_is_help=True,
)

UriOpt = Annotated[
    str | None, typer.Option(envvar="NEO4J_URI", help="Bolt URI, e.g. neo4j+s://host:7687.")
]
UserOpt = Annotated[str | None, typer.Option(envvar="NEO4J_USER", help="User name.")]
DbOpt = Annotated[str | None, typer.Option(envvar="NEO4J_DATABASE", help="Database name.")]
WorkspaceOpt = Annotated[
    Path,
    typer.Option(envvar="RINGFINDER_WORKSPACE", help="Workspace folder (DuckDB store)."),
]


def connect(uri: str | None, user: str | None, database: str | None) -> tuple[Any, str]:
    """A verified driver; the password comes from env, config file or a prompt."""
    from dataclasses import replace

    from ringfinder.neo4j.connect import open_driver, resolve_settings

    settings = resolve_settings(uri, user, database)
    if settings.user and settings.password is None:
        if not sys.stdin.isatty():
            raise ConfigError("NEO4J_PASSWORD is not set and there is no terminal to ask")
        settings = replace(settings, password=typer.prompt("Neo4j password", hide_input=True))
    return open_driver(settings), settings.database


@app.command("load")
def load(
    data_dir: Annotated[Path, typer.Argument(help="Folder of canonical tables (or sources).")],
    workspace: WorkspaceOpt = Path("ringfinder-workspace"),
    mapping: Annotated[str | None, typer.Option(help="Mapping name or YAML path.")] = None,
    encoding: Annotated[str, typer.Option(help="auto, utf-8, gb18030 or gbk.")] = "auto",
    uri: UriOpt = None,
    user: UserOpt = None,
    database: DbOpt = None,
    batch_rows: Annotated[int, typer.Option(help="Rows per transaction.")] = 10_000,
    restart: Annotated[
        bool, typer.Option(help="Ignore an interrupted load's position and start over.")
    ] = False,
) -> None:
    """Validate DATA_DIR into the workspace, then MERGE the graph into Neo4j."""
    from ringfinder.cli.load_cmd import render_load_report
    from ringfinder.engine.embedded import EmbeddedEngine
    from ringfinder.load import LoadOptions, load_folder
    from ringfinder.neo4j.writer import GraphWriter, actual_counts, expected_counts

    driver, db = connect(uri, user, database)
    try:
        with EmbeddedEngine(workspace) as engine:
            report = load_folder(
                engine.con, data_dir, LoadOptions(encoding=encoding, mapping=mapping)
            )
            render_load_report(report)
            writer = GraphWriter(
                driver, engine.con, database=db, batch_rows=batch_rows, target=str(uri)
            )
            with _bar() as bar:
                tasks: dict[str, Any] = {}

                def progress(spec: str, done: int, total: int) -> None:
                    if spec not in tasks:
                        tasks[spec] = bar.add_task(spec, total=total)
                    bar.update(tasks[spec], completed=done)

                result = writer.write_all(progress, resume=not restart)
            want_nodes, want_rels = expected_counts(engine.con)
        have_nodes, have_rels = actual_counts(driver, db)
    finally:
        driver.close()
    _render_counts(want_nodes, have_nodes, "label")
    _render_counts(want_rels, have_rels, "relationship")
    rate = result.rows / result.seconds if result.seconds else 0.0
    err.print(f"wrote {result.rows:,} rows in {result.seconds:.1f} s ({rate:,.0f} rows/s)")
    if result.resumed:
        err.print(f"resumed: {', '.join(result.resumed)}")


def push_run(leads: Any, workspace_con: Any, lang: str) -> None:
    """Write a finished run's leads and communities to the configured Neo4j."""
    from ringfinder.neo4j.writeback import write_communities, write_leads

    driver, db = connect(None, None, None)
    try:
        write_leads(driver, db, leads, lang)
        n = write_communities(driver, db, workspace_con)
    finally:
        driver.close()
    err.print(f"Neo4j: wrote {len(leads)} leads and {n:,} community memberships")


def _bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


def _render_counts(want: dict[str, int], have: dict[str, int], what: str) -> None:
    table = Table(title=f"Neo4j counts by {what}")
    for col in (what, "workspace", "neo4j", ""):
        table.add_column(col, justify="right" if col in ("workspace", "neo4j") else "left")
    for name in sorted(want):
        ok = want[name] == have.get(name, 0)
        table.add_row(
            name, f"{want[name]:,}", f"{have.get(name, 0):,}", "ok" if ok else "[red]differs[/]"
        )
    out.print(table)


@app.command("perspective")
def perspective(
    out_file: Annotated[Path, typer.Argument(help="Where to write the perspective JSON.")],
    name: Annotated[str, typer.Option(help="Perspective name shown in Bloom.")] = (
        "ringfinder 医保欺诈团伙"
    ),
) -> None:
    """Write a Bloom perspective (categories, styling, search phrases) for this graph."""
    import json
    import time

    from ringfinder.leads import atomic_write_text
    from ringfinder.neo4j.perspective import build_perspective

    data = build_perspective(name, timestamp=int(time.time() * 1000))
    atomic_write_text(out_file, json.dumps(data, ensure_ascii=False, indent=2))
    err.print(
        f"wrote {out_file}: {len(data['categories'])} categories, "
        f"{len(data['templates'])} search phrases; import it in Bloom's perspective gallery"
    )
