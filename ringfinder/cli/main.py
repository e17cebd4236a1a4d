"""Entry point: the root ``ringfinder`` app, its callback and the error boundary."""

from __future__ import annotations

import logging
import re
import sys
from typing import Annotated

import typer
from rich.markup import escape

from ringfinder import __version__
from ringfinder.cli.console import err
from ringfinder.errors import RingfinderError, out_of_resources

app = typer.Typer(
    name="ringfinder",
    help="Find organised fraud rings in medical-insurance (医保) data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ringfinder {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="More log messages.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors.")] = False,
) -> None:
    """Find organised fraud rings in medical-insurance (医保) data."""
    level = logging.DEBUG if verbose else logging.ERROR if quiet else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def _register() -> None:
    from ringfinder.cli import (
        eval_cmd,
        export_cmd,
        leads_cmd,
        load_cmd,
        neo4j_cmd,
        rules_cmd,
        run_cmd,
        synth_cmd,
    )

    app.command("synth")(synth_cmd.synth)
    app.command("load")(load_cmd.load)
    app.command("run")(run_cmd.run)
    app.command("rules")(rules_cmd.rules)
    app.command("eval")(eval_cmd.eval_)
    app.add_typer(leads_cmd.app, name="leads")
    app.command("export")(export_cmd.export)
    app.command("verify")(export_cmd.verify)
    app.command("report")(export_cmd.report)
    app.add_typer(neo4j_cmd.app, name="neo4j")


_register()


def one_line(message: str, limit: int = 2000) -> str:
    """A message on one line (newlines and other control characters as spaces), cut."""
    text = " ".join(_CONTROL.sub(" ", message).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def redact(message: str) -> str:
    """An unexpected exception's message without quoted parts (they may be data)."""
    return _QUOTED.sub("'…'", one_line(message, 300))


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def main() -> None:
    """Console-script entry: run the app; turn errors into one line and an exit code.

    An error ringfinder raises on purpose is printed as is (its messages name files,
    lines and columns, never personal data); any other exception is a bug: its type
    and message with quoted parts removed (a library may quote a value), and with
    --verbose its frames (file, line, function; never the values of variables). A full
    disk or exhausted memory is no bug: one line saying what to change.
    """
    try:
        app()
    except RingfinderError as exc:
        err.print(f"[bold red]error:[/] {escape(one_line(str(exc)))}", highlight=False)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the last boundary: never a traceback
        if (full := out_of_resources(exc)) is not None:
            err.print(f"[bold red]error:[/] {escape(str(full))}", highlight=False)
            sys.exit(full.exit_code)
        err.print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {escape(redact(str(exc)))}. "
            "Please report it with the command you ran (no data).",
            highlight=False,
        )
        if logging.getLogger().isEnabledFor(logging.DEBUG):
            import traceback

            for frame in traceback.extract_tb(exc.__traceback__):  # no values, no locals
                err.print(f"  at {frame.filename}:{frame.lineno} in {frame.name}", highlight=False)
        sys.exit(70)


if __name__ == "__main__":
    main()
