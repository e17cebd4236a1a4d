"""``ringfinder synth OUT_DIR``: a synthetic city with planted schemes and ``truth.json``."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ringfinder.cli.console import err, out


class Format(StrEnum):
    csv = "csv"
    parquet = "parquet"


def synth(
    out_dir: Annotated[
        Path,
        typer.Argument(
            help="Folder for the tables and truth.json: new, empty, or an earlier synth output."
        ),
    ],
    persons: Annotated[
        int, typer.Option("--persons", "-n", help="Insured persons in the city.")
    ] = 20_000,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same bytes.")] = 7,
    fmt: Annotated[Format, typer.Option("--format", help="Table file format.")] = Format.csv,
    year: Annotated[int, typer.Option(help="Calendar year of the claims.")] = 2025,
) -> None:
    """Generate a prefecture-level city-year of 医保 data with planted fraud schemes."""
    from ringfinder.synth import synthesize

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,  # a pipe or a file: no bar, no stray blank line
    ) as progress:
        task = progress.add_task("synth", total=None)
        summary = synthesize(
            out_dir,
            persons=persons,
            seed=seed,
            fmt=fmt.value,
            year=year,
            progress=lambda msg: progress.update(task, description=msg),
        )
    table = Table(
        title=f"Synthetic city: {summary.persons:,} persons, seed {summary.seed}, {summary.year}"
    )
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, n in summary.rows.items():
        table.add_row(name, f"{n:,}")
    table.add_section()
    for kind, n in summary.schemes.items():
        table.add_row(f"planted: {kind}", str(n))
    table.add_row("honest look-alikes", str(sum(summary.lookalikes.values())))
    table.add_section()
    table.add_row("seconds", f"{summary.seconds:.1f}")
    out.print(table)
    err.print(f"wrote {summary.fmt} tables and truth.json to {summary.out_dir}")
