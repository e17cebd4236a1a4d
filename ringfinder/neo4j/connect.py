"""Connection settings for a Neo4j server: options, environment or a config file.

Credentials are never required on the command line: the password comes from
``NEO4J_PASSWORD``, a config file (``RINGFINDER_NEO4J_CONFIG``, default
``~/.config/ringfinder/neo4j.toml``, readable only by its owner) or a prompt.
Encrypted schemes (``neo4j+s://``, ``bolt+s://``) are passed to the driver as is.
"""

from __future__ import annotations

import logging
import os
import stat
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ringfinder.errors import ConfigError, EngineError

DEFAULT_URI = "bolt://127.0.0.1:7687"
CONFIG_ENV = "RINGFINDER_NEO4J_CONFIG"
#: Bolt schemes, plain and encrypted (+s: verified certificate, +ssc: self-signed).
BOLT_SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")


@dataclass(frozen=True)
class Neo4jSettings:
    uri: str = DEFAULT_URI
    user: str | None = None
    password: str | None = None
    database: str = "neo4j"

    @property
    def auth(self) -> tuple[str, str] | None:
        if self.user is None and self.password is None:
            return None
        return (self.user or "neo4j", self.password or "")


def _config_file() -> dict[str, Any]:
    path = Path(os.environ.get(CONFIG_ENV, "~/.config/ringfinder/neo4j.toml")).expanduser()
    if not path.is_file():
        return {}
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{path} is readable by others; run: chmod 600 {path}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    section = data.get("neo4j", data)
    return {k: v for k, v in section.items() if k in ("uri", "user", "password", "database")}


def resolve_settings(
    uri: str | None = None, user: str | None = None, database: str | None = None
) -> Neo4jSettings:
    """Options first, then ``NEO4J_*`` environment variables, then the config file."""
    cfg = _config_file()
    env = os.environ
    return Neo4jSettings(
        uri=uri or env.get("NEO4J_URI") or cfg.get("uri") or DEFAULT_URI,
        user=user or env.get("NEO4J_USER") or env.get("NEO4J_USERNAME") or cfg.get("user"),
        password=env.get("NEO4J_PASSWORD") or cfg.get("password"),
        database=database or env.get("NEO4J_DATABASE") or cfg.get("database") or "neo4j",
    )


class AuthenticationFailed(ConfigError):
    """The server refused the credentials (or wants some and none were given)."""


def open_driver(settings: Neo4jSettings) -> Any:
    """A verified driver for the settings, or a one-line error naming the URI.

    The URI goes to the driver unchanged; any Bolt scheme is accepted: ``bolt://``,
    ``neo4j://`` and the encrypted ``bolt+s://``, ``neo4j+s://`` (verified certificate)
    and ``bolt+ssc://``, ``neo4j+ssc://`` (self-signed). Other schemes (the driver's
    preview ``http://``) are refused in one line. Managed transactions retry for at
    most the :mod:`ringfinder.neo4j.retry` budget (capped at the driver's 30 s); longer
    outages are ridden out by :func:`~ringfinder.neo4j.retry.with_retry`.
    """
    try:
        from neo4j import GraphDatabase
        from neo4j.exceptions import AuthError, DriverError, Neo4jError
    except ImportError:
        raise EngineError("the Neo4j engine needs: pip install 'ringfinder[neo4j]'") from None
    from ringfinder.neo4j.retry import max_retry_seconds

    scheme = settings.uri.split("://", 1)[0].lower() if "://" in settings.uri else ""
    if scheme not in BOLT_SCHEMES:
        raise ConfigError(
            f"bad Neo4j URI {settings.uri!r}: use one of "
            + ", ".join(f"{s}://" for s in BOLT_SCHEMES)
        )
    try:
        driver = GraphDatabase.driver(
            settings.uri,
            auth=settings.auth,
            max_transaction_retry_time=min(30.0, max_retry_seconds()),
            # the server's notifications ("relationship type X does not exist" while the
            # graph is still empty) reached the terminal as driver WARNINGs, dozens a load
            notifications_min_severity="OFF",
        )
    except (DriverError, ValueError) as exc:
        raise ConfigError(f"bad Neo4j URI {settings.uri!r}: {_one_line(exc)}") from None
    try:
        with _quiet("neo4j"):  # the driver logs its own ERROR lines; ours is the one line
            driver.verify_connectivity()
    except AuthError:
        driver.close()
        who = f"user {settings.user or 'neo4j'!r}" if settings.auth else "no credentials"
        raise AuthenticationFailed(
            f"Neo4j at {settings.uri} refused {who}: set NEO4J_USER and NEO4J_PASSWORD, "
            f"or user and password in the config file ({CONFIG_ENV})"
        ) from None
    except (DriverError, Neo4jError, OSError, ValueError) as exc:
        driver.close()
        raise EngineError(f"cannot connect to Neo4j at {settings.uri}: {_one_line(exc)}") from None
    return driver


@contextmanager
def _quiet(logger: str) -> Iterator[None]:
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        log.setLevel(level)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] or type(exc).__name__


@contextmanager
def neo4j_errors(uri: str) -> Iterator[None]:
    """Turn the driver's errors into one-line EngineErrors (class and code, no data).

    A server message can quote values (a key in a constraint violation), so only the
    error's class and Neo4j status code are shown.
    """
    from neo4j.exceptions import DriverError, Neo4jError

    try:
        yield
    except Neo4jError as exc:
        code = getattr(exc, "code", None) or ""
        raise EngineError(f"Neo4j at {uri} failed: {type(exc).__name__} {code}".rstrip()) from None
    except DriverError as exc:
        raise EngineError(
            f"Neo4j at {uri} failed: {type(exc).__name__} (is the server running? "
            "rerun the command: the load resumes where it stopped)"
        ) from None
