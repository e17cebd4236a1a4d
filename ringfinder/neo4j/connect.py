"""Connection settings for a Neo4j server: options, environment or a config file.

Credentials are never required on the command line: the password comes from
``NEO4J_PASSWORD``, a config file (``RINGFINDER_NEO4J_CONFIG``, default
``~/.config/ringfinder/neo4j.toml``, readable only by its owner) or a prompt.
Encrypted schemes (``neo4j+s://``, ``bolt+s://``) are passed to the driver as is.
"""

from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ringfinder.errors import ConfigError, EngineError

DEFAULT_URI = "bolt://127.0.0.1:7687"
CONFIG_ENV = "RINGFINDER_NEO4J_CONFIG"


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


def open_driver(settings: Neo4jSettings) -> Any:
    """A verified driver for the settings, or an EngineError naming the URI."""
    try:
        from neo4j import GraphDatabase
        from neo4j.exceptions import Neo4jError, ServiceUnavailable
    except ImportError:
        raise EngineError("the Neo4j engine needs: pip install 'ringfinder[neo4j]'") from None
    driver = GraphDatabase.driver(settings.uri, auth=settings.auth)
    try:
        driver.verify_connectivity()
    except (ServiceUnavailable, Neo4jError, OSError, ValueError) as exc:
        driver.close()
        raise EngineError(f"cannot connect to Neo4j at {settings.uri}: {exc}") from None
    return driver
