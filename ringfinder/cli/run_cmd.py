"""``ringfinder run DATA_DIR --out OUT_DIR``: the whole job, on the embedded or the Neo4j engine."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ringfinder import i18n
from ringfinder.cli.console import err, out
from ringfinder.cli.load_cmd import MemoryOption, ReloadOption
from ringfinder.errors import ConfigError
from ringfinder.load import LoadOptions
from ringfinder.pipeline import MIN_SCORE, DetectorRun, RunCallbacks, RunResult, run_job

TOP_DEFAULT = 15


def run(
    data_dir: Annotated[
        Path, typer.Argument(help="Folder of canonical tables (or source files with --mapping).")
    ],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Where leads and reports go.")],
    workspace: Annotated[
        Path | None,
        typer.Option(
            envvar="RINGFINDER_WORKSPACE",
            help="Workspace folder (DuckDB store, quarantine). Default: OUT/workspace.",
        ),
    ] = None,
    mapping: Annotated[
        str | None, typer.Option(help="Mapping name (shipped) or YAML path for source exports.")
    ] = None,
    encoding: Annotated[
        str, typer.Option(help="CSV encoding: auto, utf-8, gb18030 or gbk.")
    ] = "auto",
    strict: Annotated[bool, typer.Option(help="Fail if any row is rejected.")] = False,
    engine: Annotated[
        str,
        typer.Option(
            envvar="RINGFINDER_ENGINE",
            help="Engine: embedded (default) or neo4j (the graph in Neo4j is the store; "
            "NEO4J_URI / NEO4J_USER / NEO4J_PASSWORD / NEO4J_DATABASE or the config file).",
        ),
    ] = "embedded",
    lang: Annotated[
        str | None,
        typer.Option(help="Language of reasons and reports: zh or en (default from the locale)."),
    ] = None,
    top: Annotated[int, typer.Option(help="Leads shown in the final table.")] = TOP_DEFAULT,
    min_score: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=100.0,
            help="Raise only leads scoring at least this (0 lists every group found).",
        ),
    ] = MIN_SCORE,
    memory: MemoryOption = None,
    reload: ReloadOption = False,
    push_neo4j: Annotated[
        bool,
        typer.Option(
            "--push-neo4j",
            help="Also write leads, risk scores and communities to Neo4j (NEO4J_* settings; "
            "the neo4j engine always does).",
        ),
    ] = False,
    reuse_graph: Annotated[
        bool,
        typer.Option(
            "--reuse-graph",
            help="With --engine neo4j: analyse the graph already in Neo4j (e.g. from "
            "`ringfinder neo4j import` of this workspace) instead of writing it again; "
            "refused unless its node and relationship counts equal the workspace's.",
        ),
    ] = False,
) -> None:
    """Load, validate, detect, score and write [bold]leads.jsonl[/] and a summary."""
    from ringfinder.cli.load_cmd import render_load_report
    from ringfinder.engine import get_engine

    lang = lang or i18n.default_lang()
    if lang not in i18n.LANGS:
        raise ConfigError(f"--lang must be one of {', '.join(i18n.LANGS)}")
    if engine not in ("embedded", "neo4j"):
        raise ConfigError(f"--engine must be embedded or neo4j, not {engine!r}")
    if reuse_graph and engine != "neo4j":
        raise ConfigError("--reuse-graph needs --engine neo4j (the embedded engine has no graph)")
    if not data_dir.is_dir():
        raise ConfigError(f"{data_dir}: not a folder")
    ws = workspace or out_dir / "workspace"
    options = LoadOptions(encoding=encoding, mapping=mapping, strict=strict, reload=reload)
    with _progress() as progress:
        tasks: dict[str, int] = {}

        def on_load(table: str, done: int, total: int | None) -> None:
            if table not in tasks:
                tasks[table] = progress.add_task(f"load {table}", total=total)
            progress.update(tasks[table], completed=done, total=total)

        def on_stage(stage: str) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=None)

        def on_detector(det: DetectorRun) -> None:
            key = f"detect:{det.name}"
            if key in tasks:
                progress.update(tasks[key], total=1, completed=1)

        callbacks = RunCallbacks(on_load, on_stage, on_detector)
        kwargs: dict[str, Any] = {"workspace": ws, "memory_limit": memory}
        driver = None
        if engine == "neo4j":
            from ringfinder.cli.neo4j_cmd import connect

            driver, kwargs["database"] = connect(None, None, None)
            kwargs["driver"] = driver
            kwargs["reuse_graph"] = reuse_graph
        try:
            with get_engine(engine, **kwargs) as eng:
                result = run_job(
                    data_dir,
                    out_dir,
                    engine=eng,
                    load_options=options,
                    lang=lang,
                    min_score=min_score,
                    callbacks=callbacks,
                )
                if push_neo4j and engine == "embedded":  # the neo4j engine always writes back
                    from ringfinder.cli.neo4j_cmd import push_run

                    push_run(result.leads, eng.con, lang)
        finally:
            if driver is not None:
                driver.close()
    if result.load is not None:
        render_load_report(result.load, lang=lang)
    _render_detectors(result)
    _render_leads(result, lang, top)
    if result.leads and result.rule_coverage is not None:
        from ringfinder.summary import rules_line

        err.print(rules_line(result, lang))
    leads_path, summary_path = result.outputs["leads"], result.outputs["summary"]
    err.print(_WROTE[lang].format(leads=leads_path, n=len(result.leads), summary=summary_path))


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,  # a pipe or a file: no bar, no stray blank line
    )


def _render_detectors(result: RunResult) -> None:
    for d in result.detectors:
        if d.ran:
            err.print(f"  {d.name}: {d.findings} findings in {d.seconds:.2f} s")
        else:
            err.print(f"  {d.name}: [yellow]not run[/] (needs {', '.join(d.missing)})")


_COLUMNS = {
    "zh": ("序号", "线索", "模式", "评分", "人员", "医保卡", "涉案金额（元）", "首要理由"),
    "en": ("#", "lead", "pattern", "score", "persons", "cards", "amount (yuan)", "first reason"),
}
_TITLE = {"zh": "重点线索（前 {shown} 条，共 {n} 条）", "en": "Top leads ({shown} of {n})"}
_WROTE = {
    "zh": "已写出 {leads}（{n} 条线索）和 {summary}",
    "en": "wrote {leads} ({n} leads) and {summary}",
}


def _render_leads(result: RunResult, lang: str, top: int) -> None:
    n = len(result.leads)
    table = Table(title=_TITLE[lang].format(shown=min(top, n), n=n))
    for col, right in zip(_COLUMNS[lang], (1, 0, 0, 1, 1, 1, 1, 0), strict=True):
        if right:
            table.add_column(col, justify="right")
        else:
            table.add_column(col, overflow="fold")
    for rank, lead in enumerate(result.leads[:top], 1):
        table.add_row(
            str(rank),
            lead.lead_id,
            lead.pattern,
            f"{lead.score:.1f}",
            str(len(lead.members["persons"])),
            str(len(lead.members["cards"])),
            f"{float(lead.amount_total):,.2f}",
            escape(i18n.render(lead.reasons[0], lang)) if lead.reasons else "",  # data: no markup
        )
    out.print(table)
