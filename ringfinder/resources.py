"""Find files shipped with the package (``cypher/`` and ``etl/``), installed or in a checkout."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ringfinder.errors import RingfinderError

_PKG = Path(__file__).resolve().parent


def resource_dir(kind: str) -> Path:
    """The folder holding ``cypher`` or ``etl`` files.

    In a built wheel they live in ``ringfinder/_resources/<kind>``; in a source
    checkout (editable install) they are the top-level folders of the repository.
    """
    installed = resources.files("ringfinder").joinpath("_resources", kind)
    if installed.is_dir():
        return Path(str(installed))
    checkout = _PKG.parent / kind
    if checkout.is_dir():
        return checkout
    raise RingfinderError(f"packaged resource folder {kind!r} is missing from this installation")


def resource_file(kind: str, *parts: str) -> Path:
    """One shipped file, with an error naming it when it is missing."""
    path = resource_dir(kind).joinpath(*parts)
    if not path.is_file():
        raise RingfinderError(f"packaged resource {kind}/{'/'.join(parts)} not found")
    return path
