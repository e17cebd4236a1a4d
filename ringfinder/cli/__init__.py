"""The ``ringfinder`` command line (typer). Presentation lives only in this package."""
