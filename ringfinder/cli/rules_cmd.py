"""``ringfinder rules DATA_DIR``: the regulators' screening lists, as a baseline."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ringfinder.cli.console import err, out
from ringfinder.load import LoadOptions


def rules(
    data_dir: Annotated[Path, typer.Argument(help="Folder of canonical tables.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Where rule_hits.csv goes.")],
    workspace: Annotated[
        Path | None,
        typer.Option(envvar="RINGFINDER_WORKSPACE", help="Workspace (default: OUT/workspace)."),
    ] = None,
    mapping: Annotated[str | None, typer.Option(help="Mapping name or YAML path.")] = None,
    encoding: Annotated[str, typer.Option(help="auto, utf-8, gb18030 or gbk.")] = "auto",
) -> None:
    """Screen single records and persons the way the campaign documents do."""
    from ringfinder.engine.embedded import EmbeddedEngine
    from ringfinder.leads import atomic_write_text
    from ringfinder.load import load_folder
    from ringfinder.rules import screen

    with EmbeddedEngine(workspace or out_dir / "workspace") as engine:
        load_folder(engine.con, data_dir, LoadOptions(encoding=encoding, mapping=mapping))
        hits = screen(engine)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "rule_hits.csv"
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow(["rule", "person_id"])
    for rule, persons in sorted(hits.by_rule.items()):
        writer.writerows((rule, p) for p in sorted(persons))
    atomic_write_text(path, buf.getvalue())  # a reader sees the old file or the new, never half
    table = Table(title="Screening rules (现行筛查规则)")
    table.add_column("rule")
    table.add_column("persons flagged", justify="right")
    for rule, n in hits.counts().items():
        table.add_row(rule, f"{n:,}")
    table.add_row("any rule", f"{len(hits.persons):,}")
    out.print(table)
    err.print(f"wrote {path}")
