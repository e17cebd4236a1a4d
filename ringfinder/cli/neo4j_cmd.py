"""``ringfinder neo4j ...``: load the graph into Neo4j and write leads back for Bloom."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ringfinder.cli.console import err, out
from ringfinder.cli.load_cmd import ReloadOption
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
    """A verified driver. The password comes from ``NEO4J_PASSWORD``, the config file or,
    on a terminal, a hidden prompt (when a user is named without one, or the server
    refuses to go without); it is never taken from the command line."""
    from dataclasses import replace

    from ringfinder.neo4j.connect import AuthenticationFailed, open_driver, resolve_settings

    settings = resolve_settings(uri, user, database)
    if settings.user and settings.password is None:
        settings = replace(settings, password=_ask_password())
    try:
        return open_driver(settings), settings.database
    except AuthenticationFailed:
        if settings.password is not None or not sys.stdin.isatty():
            raise
    settings = replace(settings, password=_ask_password())
    return open_driver(settings), settings.database


def _ask_password() -> str:
    if not sys.stdin.isatty():
        raise ConfigError(
            "NEO4J_PASSWORD is not set (nor a password in the config file) "
            "and there is no terminal to ask"
        )
    return str(typer.prompt("Neo4j password", hide_input=True))


@app.command("load")
def load(
    data_dir: Annotated[Path, typer.Argument(help="Folder of canonical tables (or sources).")],
    workspace: WorkspaceOpt = Path("ringfinder-workspace"),
    mapping: Annotated[str | None, typer.Option(help="Mapping name or YAML path.")] = None,
    encoding: Annotated[str, typer.Option(help="auto, utf-8, gb18030 or gbk.")] = "auto",
    uri: UriOpt = None,
    user: UserOpt = None,
    database: DbOpt = None,
    batch_rows: Annotated[int, typer.Option(help="Rows per transaction.")] = 20_000,
    workers: Annotated[
        int,
        typer.Option(min=1, help="Transactions in flight at once (about the server's cores)."),
    ] = 2,
    restart: Annotated[
        bool, typer.Option(help="Ignore an interrupted load's position and start over.")
    ] = False,
    reload: ReloadOption = False,
) -> None:
    """Validate DATA_DIR into the workspace, then write the graph into Neo4j (idempotent)."""
    from ringfinder.cli.load_cmd import render_load_report
    from ringfinder.engine.embedded import EmbeddedEngine
    from ringfinder.load import LoadOptions, load_folder
    from ringfinder.neo4j.connect import neo4j_errors
    from ringfinder.neo4j.writer import GraphWriter, actual_counts, expected_counts

    driver, db = connect(uri, user, database)
    try:
        with neo4j_errors(uri or "the configured URI"), EmbeddedEngine(workspace) as engine:
            report = load_folder(
                engine.con,
                data_dir,
                LoadOptions(encoding=encoding, mapping=mapping, reload=reload),
            )
            render_load_report(report)
            writer = GraphWriter(
                driver,
                engine.con,
                database=db,
                batch_rows=batch_rows,
                workers=workers,
                target=str(uri),
            )
            with _bar() as bar:
                tasks: dict[str, Any] = {}

                def progress(spec: str, done: int, total: int) -> None:
                    if spec not in tasks:
                        tasks[spec] = bar.add_task(spec, total=total)
                    bar.update(tasks[spec], completed=done)

                result = writer.write_all(progress, resume=not restart)
            want_nodes, want_rels = expected_counts(engine.con)
        with neo4j_errors(uri or "the configured URI"):
            have_nodes, have_rels = actual_counts(driver, db)
    finally:
        driver.close()
    _render_counts(want_nodes, have_nodes, "label")
    _render_counts(want_rels, have_rels, "relationship")
    rate = result.rows / result.seconds if result.seconds else 0.0
    err.print(f"wrote {result.rows:,} rows in {result.seconds:.1f} s ({rate:,.0f} rows/s)")
    if result.resumed:
        err.print(f"resumed: {', '.join(result.resumed)}")


@app.command("import")
def bulk_import(
    data_dir: Annotated[
        Path | None,
        typer.Argument(help="Folder to validate into the workspace first; omit to use it as is."),
    ] = None,
    workspace: WorkspaceOpt = Path("ringfinder-workspace"),
    mapping: Annotated[str | None, typer.Option(help="Mapping name or YAML path.")] = None,
    encoding: Annotated[str, typer.Option(help="auto, utf-8, gb18030 or gbk.")] = "auto",
    home: Annotated[
        Path | None,
        typer.Option(
            envvar="RINGFINDER_NEO4J_DB_HOME",
            help="Neo4j home to import into (default: the one scripts/neo4j-start uses). "
            "Its server must be stopped.",
        ),
    ] = None,
    database: Annotated[str, typer.Option(help="Database name.")] = "neo4j",
    overwrite: Annotated[bool, typer.Option(help="Replace the home's existing database.")] = False,
    csv_dir: Annotated[
        Path | None, typer.Option(help="Where to write the CSVs (default: <home>/import).")
    ] = None,
    keep_csv: Annotated[bool, typer.Option(help="Keep the CSVs after the import.")] = False,
    heap: Annotated[str, typer.Option(help="JVM heap of the import and schema steps.")] = "1g",
    off_heap: Annotated[str, typer.Option(help="neo4j-admin --max-off-heap-memory.")] = "2g",
    pagecache: Annotated[str, typer.Option(help="Page cache while building indexes.")] = "1g",
    threads: Annotated[int | None, typer.Option(help="Importer threads (default: cores).")] = None,
    duckdb_memory: Annotated[
        str | None,
        typer.Option(
            help="DuckDB memory limit while writing the CSVs (default: as `run`, a quarter "
            "of the RAM)."
        ),
    ] = None,
    report: Annotated[
        Path | None, typer.Option(help="Also write the phase timings and counts as JSON here.")
    ] = None,
    reload: ReloadOption = False,
) -> None:
    """Bulk-import the workspace graph into a stopped local Neo4j (neo4j-admin import full).

    Same nodes and relationships as `neo4j load`, written as CSVs and imported offline,
    then the constraints and indexes of cypher/schema.cypher are built.
    """
    from ringfinder.cli.load_cmd import render_load_report
    from ringfinder.engine.embedded import EmbeddedEngine
    from ringfinder.load import LoadOptions, load_folder
    from ringfinder.neo4j.bulk import describe, run_import
    from ringfinder.neo4j.server import default_runtime_dir
    from ringfinder.neo4j.writer import expected_counts

    target = (home or default_runtime_dir() / "home").expanduser().resolve()
    with EmbeddedEngine(workspace, memory_limit=duckdb_memory) as engine:
        if data_dir is not None:
            render_load_report(
                load_folder(
                    engine.con,
                    data_dir,
                    LoadOptions(encoding=encoding, mapping=mapping, reload=reload),
                )
            )

        def step(phase: str, detail: str) -> None:
            err.print(f"{phase}: {detail}")

        result = run_import(
            engine.con,
            home=target,
            csv_dir=csv_dir or target / "import",
            database=database,
            heap=heap,
            off_heap=off_heap,
            pagecache=pagecache,
            threads=threads,
            overwrite=overwrite,
            keep_csv=keep_csv,
            step=step,
        )
        want_nodes, want_rels = expected_counts(engine.con)
    _render_counts(want_nodes, result.nodes, "label")
    _render_counts(want_rels, result.relationships, "relationship")
    same = want_nodes == result.nodes and want_rels == result.relationships
    if report is not None:
        import json

        from ringfinder.leads import atomic_write_text

        atomic_write_text(report, json.dumps({**describe(result), "counts_equal": same}, indent=2))
    err.print(
        f"imported into {target}: CSV {result.csv_seconds:.1f} s "
        f"({result.csv_bytes / 1e9:.2f} GB), neo4j-admin {result.import_seconds:.1f} s, "
        f"schema {result.schema_seconds:.1f} s; total {result.seconds:.1f} s "
        f"({', '.join(f'{k} {v:.0f} s' for k, v in result.steps.items())}). "
        f"Start it with: scripts/neo4j-start --home {target}"
    )
    if not same:
        from ringfinder.errors import EngineError

        raise EngineError("the imported counts differ from the workspace (table above)")


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
        disable=not err.is_terminal,  # a pipe or a file: no bar, no stray blank line
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
