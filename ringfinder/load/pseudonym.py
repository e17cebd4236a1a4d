"""Keyed pseudonyms for personal data (PII): the key, normalisation and the HMAC in SQL.

A PII value is replaced on load by ``<prefix>_<20 hex>``: the first 20 hex digits of
HMAC-SHA256(key, ``<prefix>:<normalised value>``). Equal values give equal pseudonyms
(detectors join on shared phones, accounts and addresses); without the key nobody can
recompute them. The HMAC runs inside DuckDB SQL (no Python loop over rows)::

    HMAC(K, m) = sha256((K xor opad) || unhex(sha256((K xor ipad) || m)))

and :func:`pseudonym` is the same computation in Python (tests hold them equal).

The key comes from the environment variable ``RINGFINDER_KEY`` (at least 16
characters) or from a key file (``RINGFINDER_KEY_FILE``, default
``~/.config/ringfinder/key``), created with 32 random bytes (hex) and mode 0600 on
first use. Never from a command-line argument. A key file that group or others can
read is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from ringfinder.errors import ConfigError

log = logging.getLogger(__name__)

KEY_ENV = "RINGFINDER_KEY"
KEY_FILE_ENV = "RINGFINDER_KEY_FILE"
DEFAULT_KEY_FILE = Path("~/.config/ringfinder/key")
MIN_KEY_LEN = 16
HEX_DIGITS = 20
_FINGERPRINT_MSG = b"ringfinder/key-fingerprint/v1"

#: PII column name -> pseudonym kind (the prefix). Columns of one kind join.
PII_KINDS: dict[str, str] = {
    "name": "nm",
    "id_number": "id",
    "phone": "ph",
    "submitter_phone": "ph",
    "address": "ad",
    "bank_account": "ac",
    "payee_account": "ac",
}
GENERIC_KIND = "pi"  # a PII column not listed above (schema grew): still pseudonymised

# Normalisation, identical in Python and SQL: full-width ASCII forms (U+FF01..U+FF5E)
# and the ideographic space fold to ASCII, lower-case ASCII letters to upper case.
_FOLD_FROM = (
    "".join(chr(c) for c in range(0xFF01, 0xFF5F)) + "\u3000" + "abcdefghijklmnopqrstuvwxyz"
)
_FOLD_TO = "".join(chr(c) for c in range(0x21, 0x7F)).upper() + " " + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_FOLD_TABLE = str.maketrans(_FOLD_FROM, _FOLD_TO)
_WS = r"[\t\n\x0b\x0c\r ]+"  # RE2 and Python agree on this class
_DROP = {"ph": r"[^0-9]+", "ac": r"[\t\n\x0b\x0c\r \-]+"}


def kind_of(column: str) -> str:
    """The pseudonym kind (prefix) of a PII column."""
    return PII_KINDS.get(column, GENERIC_KIND)


def normalise(value: str | None, kind: str) -> str | None:
    """The normalised form that is hashed (None when nothing is left)."""
    if value is None:
        return None
    v = re.sub(_DROP.get(kind, _WS), "", value.translate(_FOLD_TABLE))
    if kind == "ph":
        if v.startswith("0086"):
            v = v[4:]
        elif len(v) == 13 and v.startswith("86"):
            v = v[2:]
    return v or None


def normalise_sql(expr: str, kind: str) -> str:
    """SQL for :func:`normalise` applied to the VARCHAR expression ``expr``."""
    q = chr(39)
    fold_from, fold_to = _FOLD_FROM.replace(q, q * 2), _FOLD_TO.replace(q, q * 2)
    # DuckDB's translate() is slow: only strings with something to fold go through it
    fold = (
        f"(CASE WHEN regexp_matches({expr}, '[a-z\\x{{FF01}}-\\x{{FF5E}}\\x{{3000}}]') "
        f"THEN translate({expr}, '{fold_from}', '{fold_to}') ELSE {expr} END)"
    )
    v = f"regexp_replace({fold}, '{_DROP.get(kind, _WS)}', '', 'g')"
    if kind == "ph":  # drop the country code: 0086..., or 86 + an 11-digit number
        v = f"regexp_replace({v}, '^0086|^86([0-9]{{11}})$', '\\1')"
    return f"nullif({v}, '')"


@dataclass(frozen=True)
class Pseudonymiser:
    """Turns values into pseudonyms with one key, in Python and in DuckDB SQL."""

    key: bytes

    @property
    def fingerprint(self) -> str:
        """A short HMAC of a constant: identifies the key without revealing it."""
        return hmac.new(self.key, _FINGERPRINT_MSG, hashlib.sha256).hexdigest()[:16]

    def pseudonym(self, value: str | None, kind: str) -> str | None:
        """The pseudonym of one raw value (Python reference implementation)."""
        norm = normalise(value, kind)
        if norm is None:
            return None
        digest = hmac.new(self.key, f"{kind}:{norm}".encode(), hashlib.sha256).hexdigest()
        return f"{kind}_{digest[:HEX_DIGITS]}"

    def sql_params(self) -> dict[str, bytes]:
        """The DuckDB parameters the SQL from :meth:`sql` needs (the HMAC pads)."""
        k = self.key if len(self.key) <= 64 else hashlib.sha256(self.key).digest()
        k = k.ljust(64, b"\0")
        return {
            "rf_ipad": bytes(b ^ 0x36 for b in k),
            "rf_opad": bytes(b ^ 0x5C for b in k),
        }

    @staticmethod
    def sql(expr: str, kind: str) -> str:
        """SQL pseudonymising the VARCHAR expression ``expr`` (needs :meth:`sql_params`)."""
        # NULL propagates: an empty normalised value gives a NULL pseudonym
        msg = f"encode('{kind}:' || {normalise_sql(expr, kind)})"
        mac = f"sha256($rf_opad || unhex(sha256($rf_ipad || {msg})))"
        return f"('{kind}_' || left({mac}, {HEX_DIGITS}))"


def pseudonym(value: str | None, kind: str, key: bytes) -> str | None:
    """Convenience: :meth:`Pseudonymiser.pseudonym` with ``key``."""
    return Pseudonymiser(key).pseudonym(value, kind)


def key_file_path() -> Path:
    return Path(os.environ.get(KEY_FILE_ENV) or DEFAULT_KEY_FILE).expanduser()


def load_key(*, create: bool = True) -> bytes:
    """The pseudonymisation key: ``RINGFINDER_KEY`` or the key file (created if absent)."""
    env = os.environ.get(KEY_ENV)
    if env is not None:
        if len(env.strip()) < MIN_KEY_LEN:
            raise ConfigError(f"{KEY_ENV} must be at least {MIN_KEY_LEN} characters long")
        return env.strip().encode("utf-8")
    path = key_file_path()
    if not path.exists():
        if not create:
            raise ConfigError(f"no pseudonymisation key: set {KEY_ENV} or create {path}")
        _create_key_file(path)
    _check_key_file(path)
    try:
        key = path.read_bytes().strip()
    except OSError as exc:
        raise ConfigError(f"cannot read the key file {path}: {exc.strerror}") from None
    if len(key) < MIN_KEY_LEN:
        raise ConfigError(f"the key file {path} holds fewer than {MIN_KEY_LEN} bytes")
    return key


def _create_key_file(path: Path) -> None:
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process made it first
    except OSError as exc:
        raise ConfigError(f"cannot create the key file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32) + "\n")
    log.warning(
        "created a new pseudonymisation key file %s (mode 0600); keep it: later loads "
        "into the same workspace need the same key",
        path,
    )


def _check_key_file(path: Path) -> None:
    if os.name == "nt":  # pragma: no cover - POSIX permissions only
        return
    mode = path.stat().st_mode
    if not stat.S_ISREG(mode):
        raise ConfigError(f"the key file {path} is not a regular file")
    if mode & 0o077:
        raise ConfigError(
            f"the key file {path} can be read by group or others (mode {stat.S_IMODE(mode):o}); "
            f"run: chmod 600 {path}"
        )
