"""Restoring real identities for an export made for the police (``--reveal-identities``).

The workspace only holds pseudonyms (keyed hashes) of personal data. Real values are
read again from the user's own source folder, into a temporary in-memory database
loaded *without* pseudonymisation, and only for the lead's members: persons (name,
ID number, phone, address, bank account), doctors (name, phone) and the evidence
reimbursements (submitter phone, payee account). Nothing revealed is written back to
the workspace.

It needs the pseudonymisation key: the source folder is checked against the workspace
by pseudonymising the real values again and comparing them with the workspace's
pseudonyms, so a wrong folder or a wrong key is refused rather than silently naming
the wrong people.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from ringfinder.errors import ConfigError
from ringfinder.export.case import CaseData
from ringfinder.schema import TABLES

PERSON_PII = tuple(TABLES["persons"].pii_columns)  # name, id_number, phone, address, bank_account
DOCTOR_PII = tuple(TABLES["doctors"].pii_columns)  # name, phone
REIMB_PII = tuple(TABLES["reimbursements"].pii_columns)  # submitter_phone, payee_account

#: How a loaded folder is read: (con, data_dir, options) -> report. The loader's
#: ``load_folder`` by default; tests may pass another.
Loader = Callable[..., Any]


@dataclass
class Identities:
    persons: dict[str, dict[str, Any]] = field(default_factory=dict)
    doctors: dict[str, dict[str, Any]] = field(default_factory=dict)
    reimbursements: dict[str, dict[str, Any]] = field(default_factory=dict)
    key_fingerprint: str = ""
    key: bytes = field(default=b"", repr=False)
    source: str = ""
    checked: int = 0  # values re-pseudonymised and found equal to the workspace's


def key_fingerprint() -> tuple[bytes, str]:
    """The pseudonymisation key and its fingerprint; a ConfigError if there is none.

    Never creates a key: a new key could not match the workspace's pseudonyms.
    """
    from ringfinder.load.pseudonym import Pseudonymiser, load_key

    key = load_key(create=False)
    return key, Pseudonymiser(key).fingerprint


def workspace_fingerprint(con: duckdb.DuckDBPyConnection) -> str | None:
    """The key fingerprint the loader recorded in the workspace (``_meta``), if any."""
    from ringfinder.load.store import read_meta

    return read_meta(con).get("key_fingerprint")


def _pseudonymiser(key: bytes) -> Callable[[str, str, str], str | None]:
    """(table, column, value) -> the pseudonym the loader makes of it."""
    from ringfinder.load.pseudonym import Pseudonymiser, kind_of

    p = Pseudonymiser(key)
    return lambda table, column, value: p.pseudonym(value, kind_of(column))


def _default_loader() -> Loader:
    from ringfinder.load import load_folder

    return load_folder


def read_identities(
    source: Path,
    *,
    persons: Iterable[str],
    doctors: Iterable[str],
    reimbursements: Iterable[str],
    mapping: str | None = None,
    encoding: str = "auto",
    loader: Loader | None = None,
) -> Identities:
    """Real values of the given members, read from the source folder (never stored)."""
    from ringfinder.engine.embedded import create_schema
    from ringfinder.load import LoadOptions

    key, fp = key_fingerprint()
    if not source.is_dir():
        raise ConfigError(f"--source {source}: not a folder")
    load = loader or _default_loader()
    con = duckdb.connect(":memory:")
    try:
        create_schema(con)
        with tempfile.TemporaryDirectory(prefix="ringfinder-reveal-") as tmp:
            options = LoadOptions(
                encoding=encoding,
                mapping=mapping,
                pseudonymise=False,
                quarantine_dir=Path(tmp) / "quarantine",
            )
            load(con, source, options)
        ident = Identities(key_fingerprint=fp, source=str(source.resolve()))
        ident.persons = _fetch(con, "persons", "person_id", PERSON_PII, persons)
        ident.doctors = _fetch(con, "doctors", "doctor_id", DOCTOR_PII, doctors)
        ident.reimbursements = _fetch(
            con, "reimbursements", "reimbursement_id", REIMB_PII, reimbursements
        )
    finally:
        con.close()
    ident.key = key
    return ident


def _fetch(
    con: duckdb.DuckDBPyConnection, table: str, key: str, cols: tuple[str, ...], ids: Iterable[str]
) -> dict[str, dict[str, Any]]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    sel = ", ".join(f'"{c}"' for c in (key, *cols))
    rows = con.execute(
        f'SELECT {sel} FROM "{table}" WHERE "{key}" IN (SELECT unnest($ids))', {"ids": wanted}
    ).fetchall()
    return {r[0]: dict(zip(cols, r[1:], strict=True)) for r in rows}


def check_against_workspace(case: CaseData, ident: Identities) -> int:
    """Refuse a source folder (or key) that does not match the workspace.

    Every member must be found in the source. Where the loader exposes its pseudonym
    function, each real value is pseudonymised again and must equal the workspace's
    pseudonym. Returns the number of values checked that way.
    """
    missing = [p["person_id"] for p in case.persons if p["person_id"] not in ident.persons]
    if missing:
        raise ConfigError(
            f"the source folder does not have {len(missing)} of the lead's persons "
            f"(e.g. {missing[0]}): is it the data this workspace was loaded from?"
        )
    pseudo = _pseudonymiser(ident.key)
    checked = 0
    for table, rows, key, cols, found in (
        ("persons", case.persons, "person_id", PERSON_PII, ident.persons),
        ("doctors", case.doctors, "doctor_id", DOCTOR_PII, ident.doctors),
        (
            "reimbursements",
            case.reimbursements,
            "reimbursement_id",
            REIMB_PII,
            ident.reimbursements,
        ),
    ):
        for row in rows:
            real = found.get(row[key])
            if real is None:
                continue
            for col in cols:
                if real.get(col) is None or row.get(col) is None:
                    continue
                if pseudo(table, col, str(real[col])) != row[col]:
                    raise ConfigError(
                        f"{table}.{col} of {row[key]} does not match the workspace: a different "
                        "source folder or a different key than the workspace was loaded with"
                    )
                checked += 1
    return checked


def apply_identities(case: CaseData, ident: Identities) -> None:
    """Put the real values into the case's rows (pseudonyms replaced), in place."""
    phone_map: dict[Any, Any] = {}
    account_map: dict[Any, Any] = {}
    for row in case.persons:
        real = ident.persons.get(row["person_id"], {})
        for col in PERSON_PII:
            if col in real:
                if col == "phone" and row.get(col):
                    phone_map[row[col]] = real[col]
                if col == "bank_account" and row.get(col):
                    account_map[row[col]] = real[col]
                row[col] = real[col]
    for row in case.doctors:
        real = ident.doctors.get(row["doctor_id"], {})
        for col in DOCTOR_PII:
            if col in real:
                row[col] = real[col]
    for row in case.reimbursements:
        real = ident.reimbursements.get(row["reimbursement_id"], {})
        if row.get("submitter_phone") and real.get("submitter_phone"):
            phone_map[row["submitter_phone"]] = real["submitter_phone"]
        if row.get("payee_account") and real.get("payee_account"):
            account_map[row["payee_account"]] = real["payee_account"]
        for col in REIMB_PII:
            if col in real:
                row[col] = real[col]
    for ident_row in case.identifiers:
        table = phone_map if ident_row["kind"] == "agent_phone" else account_map
        ident_row["value"] = table.get(ident_row["value"], ident_row["value"])
    case.revealed = True
