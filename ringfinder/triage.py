"""Triage: the lead store, investigators' marks, and campaign figures.

Every run's leads are kept in the workspace database (``triage_runs`` and
``triage_leads``) with everything needed to show and export them later without
running again: members, evidence ids, money, dates, the reasons' codes and figures
and their text in both languages. Investigators mark leads (``lead_marks``:
confirmed, dismissed or reviewing, with a note, who and when); the history is kept
and the latest mark wins.

A dismissed lead is not raised again unless it grew. "Grew" is measured against the
lead as it stood when it was dismissed (a snapshot is kept with the mark): a new lead
is held back when all its members were already in the dismissed lead and it has no
more evidence records and no more money. Since lead ids come from the members
(:func:`ringfinder.leads.lead_id_for`), a ring with a new member gets a new id; it is
raised, and linked to the earlier lead (``related``) so the investigator sees the
history.

Used by the pipeline after the leads are built::

    run_id = triage.record_run(engine.con, leads)      # keep every lead of the run
    leads = triage.apply_marks(engine.con, leads)      # drop dismissed, not grown
"""

from __future__ import annotations

import getpass
import json
import os
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import duckdb

from ringfinder import __version__, i18n
from ringfinder.duck import one
from ringfinder.errors import ConfigError, EngineError, RingfinderError, WorkspaceLocked
from ringfinder.findings import MEMBER_KINDS, Reason
from ringfinder.leads import MERGE_OVERLAP, Lead
from ringfinder.workspace_lock import WorkspaceLock

#: Money involved (涉案金额) from which a medical-insurance case goes to the police
#: (移送公安). "以上" in Chinese law includes the figure itself (刑法第九十九条), so the
#: comparison is ``>=``.
TRANSFER_THRESHOLD = Decimal("5000")

STATUSES = ("confirmed", "dismissed", "reviewing")
#: Status of a lead nobody has marked yet.
NEW = "new"

DB_FILE = "ringfinder.duckdb"


class LeadNotFound(RingfinderError):
    """The lead id is not in the workspace's lead store."""


class NoRunsYet(RingfinderError):
    """The workspace has no recorded run (nothing to triage)."""


MESSAGES = {
    "triage.status.new": {"zh": "未处理", "en": "new"},
    "triage.status.confirmed": {"zh": "已确认", "en": "confirmed"},
    "triage.status.dismissed": {"zh": "已排除", "en": "dismissed"},
    "triage.status.reviewing": {"zh": "核查中", "en": "reviewing"},
    "triage.transfer.yes": {"zh": "达到移送标准", "en": "at or above the threshold"},
    "triage.transfer.no": {"zh": "未达移送标准", "en": "below the threshold"},
}
i18n.register(MESSAGES)

_DDL = (
    """
    CREATE TABLE IF NOT EXISTS triage_runs (
        seq BIGINT NOT NULL,
        run_id VARCHAR PRIMARY KEY,
        run_at TIMESTAMP NOT NULL,
        who VARCHAR,
        version VARCHAR,
        leads BIGINT,
        raised BIGINT
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS triage_leads (
        run_id VARCHAR NOT NULL,
        lead_id VARCHAR NOT NULL,
        rank INTEGER,
        pattern VARCHAR,
        score DOUBLE,
        members VARCHAR,
        n_members BIGINT,
        persons BIGINT,
        claims VARCHAR,
        evidence BIGINT,
        amount_total DECIMAL(18,2),
        fund_amount DECIMAL(18,2),
        first_seen DATE,
        last_seen DATE,
        reasons VARCHAR,
        reasons_zh VARCHAR,
        reasons_en VARCHAR,
        raised BOOLEAN,
        held_by VARCHAR,
        related VARCHAR,
        PRIMARY KEY (run_id, lead_id)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS lead_marks (
        seq BIGINT NOT NULL,
        lead_id VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        note VARCHAR,
        marked_at TIMESTAMP NOT NULL,
        who VARCHAR,
        run_id VARCHAR,
        members VARCHAR,
        n_members BIGINT,
        evidence BIGINT,
        amount_total DECIMAL(18,2)
    )
    """,
)


# -- workspace ------------------------------------------------------------------
def resolve_workspace(workspace: Path | None, out: Path | None) -> Path:
    """``--workspace`` wins; else ``OUT/workspace`` (what ``ringfinder run`` uses)."""
    if workspace is not None:
        return workspace
    if out is not None:
        return out / "workspace"
    raise ConfigError("say which workspace: --workspace W (or RINGFINDER_WORKSPACE) or --out OUT")


@contextmanager
def open_workspace(workspace: Path, *, write: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to an existing workspace database (read-only unless ``write``)."""
    path = workspace / DB_FILE
    if not path.is_file():
        raise ConfigError(f"{workspace}: no workspace here (run `ringfinder run` first)")
    # the workspace flock first (shared for readers): a busy workspace is refused with
    # the holder's pid and command, like `run` and `load` refuse each other
    lock = WorkspaceLock(workspace, shared=not write).acquire()
    try:
        try:
            con = duckdb.connect(str(path), read_only=not write)
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise WorkspaceLocked(
                    f"{workspace}: another ringfinder process is using this workspace"
                ) from None
            raise EngineError(f"cannot open the workspace database: {exc}") from None
        except duckdb.Error as exc:
            raise EngineError(f"cannot open the workspace database: {exc}") from None
        try:
            if write:
                ensure_tables(con)
            yield con
        finally:
            con.close()
    finally:
        lock.release()


def ensure_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the lead store and mark tables if they do not exist."""
    for ddl in _DDL:
        con.execute(ddl)


def _has_store(con: duckdb.DuckDBPyConnection) -> bool:
    row = one(
        con.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_name IN ('triage_runs', 'triage_leads', 'lead_marks')"
        )
    )
    return bool(row and row[0] == 3)


def current_user() -> str:
    """The OS user who marks or exports (recorded with the mark or in the audit log)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return f"uid:{os.getuid()}"


def _now() -> datetime:
    """Local wall-clock time, naive (what investigators read), to the second."""
    return datetime.now().replace(microsecond=0)


# -- stored leads -----------------------------------------------------------------
def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return str(value)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=_json_default, sort_keys=False)


@dataclass
class Mark:
    lead_id: str
    status: str
    note: str
    marked_at: datetime
    who: str
    run_id: str | None = None
    n_members: int | None = None
    evidence: int | None = None
    amount_total: Decimal | None = None
    members: dict[str, list[str]] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "lead_id": self.lead_id,
            "status": self.status,
            "note": self.note,
            "marked_at": self.marked_at.isoformat(),
            "who": self.who,
            "run_id": self.run_id,
            "snapshot": {
                "members": self.n_members,
                "evidence": self.evidence,
                "amount_total": None if self.amount_total is None else str(self.amount_total),
            },
        }


@dataclass
class StoredLead:
    """A lead as recorded in a run: enough to show and export it without rerunning."""

    run_id: str
    run_at: datetime
    lead_id: str
    rank: int
    pattern: str
    score: float
    members: dict[str, list[str]]
    claims: list[str]
    amount_total: Decimal
    fund_amount: Decimal
    first_seen: date | None
    last_seen: date | None
    reasons: list[Reason]
    reason_texts: dict[str, list[str]]
    raised: bool
    held_by: str | None = None
    related: str | None = None
    status: str = NEW
    marks: list[Mark] = field(default_factory=list)

    @property
    def evidence(self) -> int:
        return len(self.claims)

    @property
    def n_members(self) -> int:
        return sum(len(self.members.get(k, [])) for k in MEMBER_KINDS)

    @property
    def above_threshold(self) -> bool:
        return self.amount_total >= TRANSFER_THRESHOLD

    def reason_text(self, lang: str) -> list[str]:
        texts = self.reason_texts.get(lang)
        if texts is not None and len(texts) == len(self.reasons):
            return list(texts)
        return [i18n.render(r, lang) for r in self.reasons]

    def to_lead(self) -> Lead:
        """Back to a :class:`~ringfinder.leads.Lead` (without the findings)."""
        return Lead(
            lead_id=self.lead_id,
            pattern=self.pattern,
            score=self.score,
            members={k: list(self.members.get(k, [])) for k in MEMBER_KINDS},
            claims=list(self.claims),
            amount_total=f"{self.amount_total:.2f}",
            fund_amount=f"{self.fund_amount:.2f}",
            first_seen=self.first_seen.isoformat() if self.first_seen else "",
            last_seen=self.last_seen.isoformat() if self.last_seen else "",
            reasons=list(self.reasons),
        )

    def to_json(self, lang: str) -> dict[str, Any]:
        return {
            "lead_id": self.lead_id,
            "run_id": self.run_id,
            "run_at": self.run_at.isoformat(),
            "rank": self.rank,
            "pattern": self.pattern,
            "score": self.score,
            **{k: self.members.get(k, []) for k in MEMBER_KINDS},
            "claims": self.claims,
            "evidence": self.evidence,
            "amount_total": f"{self.amount_total:.2f}",
            "fund_amount": f"{self.fund_amount:.2f}",
            "first_seen": self.first_seen.isoformat() if self.first_seen else "",
            "last_seen": self.last_seen.isoformat() if self.last_seen else "",
            "reasons": self.reason_text(lang),
            "reason_codes": [{"code": r.code, "figures": r.figures} for r in self.reasons],
            "transfer_threshold": str(TRANSFER_THRESHOLD),
            "above_threshold": self.above_threshold,
            "raised": self.raised,
            "held_by": self.held_by,
            "related": self.related,
            "status": self.status,
            "marks": [m.to_json() for m in self.marks],
        }


def _member_set(members: dict[str, list[str]]) -> set[tuple[str, str]]:
    return {(k, m) for k in MEMBER_KINDS for m in members.get(k, [])}


def _defining(members: dict[str, list[str]]) -> set[str]:
    return {f"p:{p}" for p in members.get("persons", [])} | {
        f"c:{c}" for c in members.get("cards", [])
    }


def _latest_marks(con: duckdb.DuckDBPyConnection) -> dict[str, Mark]:
    rows = con.execute(
        """
        SELECT lead_id, status, note, marked_at, who, run_id, members, n_members, evidence,
               amount_total
        FROM (
            SELECT *, row_number() OVER (PARTITION BY lead_id ORDER BY seq DESC) AS rn
            FROM lead_marks
        ) WHERE rn = 1
        """
    ).fetchall()
    return {r[0]: _mark_from_row(r) for r in rows}


def _mark_from_row(r: Sequence[Any]) -> Mark:
    return Mark(
        lead_id=r[0],
        status=r[1],
        note=r[2] or "",
        marked_at=r[3],
        who=r[4] or "",
        run_id=r[5],
        members=json.loads(r[6]) if r[6] else None,
        n_members=r[7],
        evidence=r[8],
        amount_total=r[9],
    )


@dataclass(frozen=True)
class Decision:
    """What triage decides for one lead of a new run."""

    raised: bool
    status: str = NEW
    held_by: str | None = None  # the dismissed lead that holds it back
    related: str | None = None  # an earlier marked lead sharing most members


class MarkIndex:
    """The latest mark of every marked lead, indexed by member for quick matching."""

    def __init__(self, marks: dict[str, Mark]) -> None:
        self.marks = marks
        self.sets: dict[str, set[tuple[str, str]]] = {}
        self.defining: dict[str, set[str]] = {}
        self.by_member: dict[tuple[str, str], list[str]] = {}
        for lead_id, mark in marks.items():
            if mark.members is None:
                continue
            self.sets[lead_id] = _member_set(mark.members)
            self.defining[lead_id] = _defining(mark.members)
            for key in self.sets[lead_id]:
                self.by_member.setdefault(key, []).append(lead_id)

    def candidates(self, members: set[tuple[str, str]]) -> list[str]:
        """Marked leads sharing a person or card (any member when there are none)."""
        keys = {m for m in members if m[0] in ("persons", "cards")} or members
        found = {i for key in keys for i in self.by_member.get(key, ())}
        return sorted(found)


def decide(lead: Lead, index: MarkIndex, *, overlap: float = MERGE_OVERLAP) -> Decision:
    """Raise or hold back one lead, given the latest mark of every marked lead."""
    marks = index.marks
    mine = marks.get(lead.lead_id)
    status = mine.status if mine else NEW
    amount = Decimal(lead.amount_total)
    members = _member_set(lead.members)
    evidence = len(lead.claims)
    candidates = index.candidates(members)
    held_by = None
    for other_id in candidates:
        mark = marks[other_id]
        if mark.status != "dismissed":
            continue
        if (
            members <= index.sets[other_id]
            and evidence <= (mark.evidence or 0)
            and amount <= (mark.amount_total or Decimal(0))
        ):
            held_by = other_id
            if other_id == lead.lead_id:
                break
    related = None
    if mine is None:
        mine_def = _defining(lead.members)
        best = 0.0
        for other_id in candidates:
            other = index.defining[other_id]
            smaller = min(len(mine_def), len(other))
            if not smaller or other_id == lead.lead_id:
                continue
            share = len(mine_def & other) / smaller
            if share >= overlap and share > best:
                best, related = share, other_id
    return Decision(raised=held_by is None, status=status, held_by=held_by, related=related)


def _cents(value: str) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _new_run_id(now: datetime) -> str:
    return "R" + now.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(2).upper()


def record_run(
    con: duckdb.DuckDBPyConnection, leads: Sequence[Lead], *, who: str | None = None
) -> str:
    """Keep every lead of a run in the store (raised or held back); return the run id."""
    ensure_tables(con)
    index = MarkIndex(_latest_marks(con))
    now = _now()
    run_id = _new_run_id(now)
    rows = []
    raised = 0
    for rank, lead in enumerate(leads, 1):
        d = decide(lead, index)
        raised += d.raised
        rows.append(
            (
                run_id,
                lead.lead_id,
                rank,
                lead.pattern,
                float(lead.score),
                _dumps({k: lead.members.get(k, []) for k in MEMBER_KINDS}),
                sum(len(lead.members.get(k, [])) for k in MEMBER_KINDS),
                len(lead.members.get("persons", [])),
                _dumps(lead.claims),
                len(lead.claims),
                _cents(lead.amount_total),
                _cents(lead.fund_amount),
                date.fromisoformat(lead.first_seen) if lead.first_seen else None,
                date.fromisoformat(lead.last_seen) if lead.last_seen else None,
                _dumps([{"code": r.code, "figures": r.figures} for r in lead.reasons]),
                _dumps([i18n.render(r, "zh") for r in lead.reasons]),
                _dumps([i18n.render(r, "en") for r in lead.reasons]),
                d.raised,
                d.held_by,
                d.related,
            )
        )
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "INSERT INTO triage_runs SELECT coalesce(max(seq), 0) + 1, ?, ?, ?, ?, ?, ? "
            "FROM triage_runs",
            [run_id, now, who or current_user(), __version__, len(leads), raised],
        )
        if rows:
            _insert_rows(con, rows)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return run_id


_STORE_COLUMNS = (
    ("run_id", "string"),
    ("lead_id", "string"),
    ("rank", "int32"),
    ("pattern", "string"),
    ("score", "float64"),
    ("members", "string"),
    ("n_members", "int64"),
    ("persons", "int64"),
    ("claims", "string"),
    ("evidence", "int64"),
    ("amount_total", "decimal"),
    ("fund_amount", "decimal"),
    ("first_seen", "date"),
    ("last_seen", "date"),
    ("reasons", "string"),
    ("reasons_zh", "string"),
    ("reasons_en", "string"),
    ("raised", "bool"),
    ("held_by", "string"),
    ("related", "string"),
)


def _insert_rows(con: duckdb.DuckDBPyConnection, rows: list[tuple[Any, ...]]) -> None:
    """One columnar insert (row-by-row executemany is slow in DuckDB)."""
    import pyarrow as pa

    types = {
        "string": pa.string(),
        "int32": pa.int32(),
        "int64": pa.int64(),
        "float64": pa.float64(),
        "decimal": pa.decimal128(18, 2),
        "date": pa.date32(),
        "bool": pa.bool_(),
    }
    columns = list(zip(*rows, strict=True))
    table = pa.table(
        {
            name: pa.array(values, type=types[kind])
            for (name, kind), values in zip(_STORE_COLUMNS, columns, strict=True)
        }
    )
    con.register("_triage_rows", table)
    try:
        names = ", ".join(name for name, _ in _STORE_COLUMNS)
        con.execute(f"INSERT INTO triage_leads ({names}) SELECT {names} FROM _triage_rows")
    finally:
        con.unregister("_triage_rows")


def apply_marks(con: duckdb.DuckDBPyConnection, leads: Sequence[Lead]) -> list[Lead]:
    """The leads to raise: dismissed leads that did not grow are left out (order kept)."""
    if not _has_store(con):
        return list(leads)
    index = MarkIndex(_latest_marks(con))
    return [lead for lead in leads if decide(lead, index).raised]


def statuses(con: duckdb.DuckDBPyConnection, lead_ids: Iterable[str]) -> dict[str, str]:
    """The latest mark status of each lead id (``new`` when never marked)."""
    marks = _latest_marks(con) if _has_store(con) else {}
    return {i: marks[i].status if i in marks else NEW for i in lead_ids}


# -- reading the store ---------------------------------------------------------------
_LEAD_COLS = (
    "l.run_id, r.run_at, l.lead_id, l.rank, l.pattern, l.score, l.members, l.claims, "
    "l.amount_total, l.fund_amount, l.first_seen, l.last_seen, l.reasons, l.reasons_zh, "
    "l.reasons_en, l.raised, l.held_by, l.related"
)


def _lead_from_row(r: Sequence[Any]) -> StoredLead:
    members = json.loads(r[6])
    return StoredLead(
        run_id=r[0],
        run_at=r[1],
        lead_id=r[2],
        rank=int(r[3]),
        pattern=r[4],
        score=float(r[5]),
        members={k: list(members.get(k, [])) for k in MEMBER_KINDS},
        claims=list(json.loads(r[7])),
        amount_total=Decimal(r[8]),
        fund_amount=Decimal(r[9]),
        first_seen=r[10],
        last_seen=r[11],
        reasons=[Reason(x["code"], x.get("figures", {})) for x in json.loads(r[12])],
        reason_texts={"zh": json.loads(r[13]), "en": json.loads(r[14])},
        raised=bool(r[15]),
        held_by=r[16],
        related=r[17],
    )


def _require_store(con: duckdb.DuckDBPyConnection) -> None:
    if not _has_store(con):
        raise NoRunsYet("no run is recorded in this workspace yet (run `ringfinder run` first)")


def runs_recorded(con: duckdb.DuckDBPyConnection) -> int:
    """How many runs the store holds (0 when there is no store yet)."""
    if not _has_store(con):
        return 0
    row = one(con.execute("SELECT count(*) FROM triage_runs"))
    return int(row[0]) if row else 0


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    run_at: datetime
    who: str
    version: str
    leads: int
    raised: int


def runs(con: duckdb.DuckDBPyConnection) -> list[RunInfo]:
    """Recorded runs, latest first."""
    _require_store(con)
    rows = con.execute(
        "SELECT run_id, run_at, who, version, leads, raised FROM triage_runs ORDER BY seq DESC"
    ).fetchall()
    return [RunInfo(*r) for r in rows]


def latest_run(con: duckdb.DuckDBPyConnection) -> RunInfo:
    recorded = runs(con)
    if not recorded:
        raise NoRunsYet("no run is recorded in this workspace yet (run `ringfinder run` first)")
    return recorded[0]


def list_leads(
    con: duckdb.DuckDBPyConnection,
    *,
    run_id: str | None = None,
    statuses_wanted: Sequence[str] = (),
    patterns: Sequence[str] = (),
    include_held: bool = False,
) -> list[StoredLead]:
    """Leads of a run (the latest by default), best first, with their current status.

    Held-back leads (dismissed and not grown) are left out unless ``include_held`` or
    the ``dismissed`` status is asked for.
    """
    run = run_id or latest_run(con).run_id
    rows = con.execute(
        f"SELECT {_LEAD_COLS} FROM triage_leads l JOIN triage_runs r USING (run_id) "
        "WHERE l.run_id = ? ORDER BY l.rank",
        [run],
    ).fetchall()
    if (
        not rows
        and run_id is not None
        and not one(con.execute("SELECT 1 FROM triage_runs WHERE run_id = ?", [run_id]))
    ):
        raise LeadNotFound(f"no run {run_id!r} in this workspace")
    marks = _latest_marks(con)
    out = []
    for r in rows:
        lead = _lead_from_row(r)
        lead.status = marks[lead.lead_id].status if lead.lead_id in marks else NEW
        if statuses_wanted and lead.status not in statuses_wanted:
            continue
        if not lead.raised and not include_held and "dismissed" not in statuses_wanted:
            continue
        if patterns and not any(p in lead.pattern.split("+") for p in patterns):
            continue
        out.append(lead)
    return out


def mark_history(con: duckdb.DuckDBPyConnection, lead_id: str) -> list[Mark]:
    """Every mark of a lead, oldest first."""
    if not _has_store(con):
        return []
    rows = con.execute(
        """
        SELECT lead_id, status, note, marked_at, who, run_id, members, n_members, evidence,
               amount_total
        FROM lead_marks WHERE lead_id = ? ORDER BY seq
        """,
        [lead_id],
    ).fetchall()
    return [_mark_from_row(r) for r in rows]


def get_lead(
    con: duckdb.DuckDBPyConnection, lead_id: str, *, run_id: str | None = None
) -> StoredLead:
    """A lead as last recorded (or as in ``run_id``), with its mark history.

    A unique prefix of the id is accepted (``L3F2`` for ``L3F2A9...``).
    """
    _require_store(con)
    lead_id = resolve_lead_id(con, lead_id)
    where, params = "l.lead_id = ?", [lead_id]
    if run_id:
        where += " AND l.run_id = ?"
        params.append(run_id)
    row = one(
        con.execute(
            f"SELECT {_LEAD_COLS} FROM triage_leads l JOIN triage_runs r USING (run_id) "
            f"WHERE {where} ORDER BY r.seq DESC LIMIT 1",
            params,
        )
    )
    if row is None:
        raise LeadNotFound(f"lead {lead_id} is not in run {run_id}")
    lead = _lead_from_row(row)
    lead.marks = mark_history(con, lead.lead_id)
    lead.status = lead.marks[-1].status if lead.marks else NEW
    return lead


def resolve_lead_id(con: duckdb.DuckDBPyConnection, given: str) -> str:
    """The full lead id for ``given`` (exact, or a unique prefix, case-insensitive)."""
    _require_store(con)
    wanted = given.strip().upper()
    if not wanted:
        raise LeadNotFound("empty lead id")
    rows = con.execute(
        "SELECT DISTINCT lead_id FROM triage_leads WHERE upper(lead_id) LIKE ? ESCAPE '\\' "
        "ORDER BY lead_id LIMIT 3",
        [wanted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"],
    ).fetchall()
    ids = [r[0] for r in rows]
    if wanted in (i.upper() for i in ids):
        return next(i for i in ids if i.upper() == wanted)
    if not ids:
        raise LeadNotFound(f"no lead {given!r} in this workspace (see `ringfinder leads list`)")
    if len(ids) > 1:
        raise LeadNotFound(f"{given!r} matches several leads ({', '.join(ids)}, ...): say more")
    return ids[0]


# -- marking --------------------------------------------------------------------------
#: Called with each new mark after it is stored (e.g. to write it to Neo4j).
MarkSink = Callable[[Mark], None]


def mark_lead(
    con: duckdb.DuckDBPyConnection,
    lead_id: str,
    status: str,
    note: str = "",
    *,
    who: str | None = None,
    sinks: Sequence[MarkSink] = (),
) -> Mark:
    """Store a mark for a lead (history kept; the latest wins), then tell the sinks.

    The lead as last recorded is snapshotted with the mark (members, evidence, money):
    that is what "grew" is measured against if the lead is dismissed.
    """
    if status not in STATUSES:
        raise ConfigError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    ensure_tables(con)
    lead = get_lead(con, lead_id)
    mark = Mark(
        lead_id=lead.lead_id,
        status=status,
        note=note,
        marked_at=_now(),
        who=who or current_user(),
        run_id=lead.run_id,
        n_members=lead.n_members,
        evidence=lead.evidence,
        amount_total=lead.amount_total,
        members=lead.members,
    )
    con.execute(
        "INSERT INTO lead_marks SELECT coalesce(max(seq), 0) + 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? "
        "FROM lead_marks",
        [
            mark.lead_id,
            mark.status,
            mark.note,
            mark.marked_at,
            mark.who,
            mark.run_id,
            _dumps(mark.members),
            mark.n_members,
            mark.evidence,
            mark.amount_total,
        ],
    )
    for sink in sinks:
        sink(mark)
    return mark


def neo4j_mark_sink(driver: Any, database: str) -> MarkSink:
    """Write each mark onto its ``(:Lead)`` node, so Bloom can filter by status.

    Sets ``status``, ``marked_at`` and ``marked_by`` on the lead and keeps the history as
    ``(:Lead)-[:MARKED]->(:Mark {status, note, marked_at, marked_by, run_id})``, values
    as parameters only. A lead that is not in Neo4j (never pushed) is an error, raised
    after the workspace has kept the mark.
    """

    def sink(mark: Mark) -> None:
        records, _, _ = driver.execute_query(
            "MATCH (l:Lead {lead_id: $id}) "
            "SET l.status = $status, l.marked_at = datetime($at), l.marked_by = $who "
            "CREATE (l)-[:MARKED]->(:Mark {status: $status, note: $note, "
            "marked_at: datetime($at), marked_by: $who, run_id: $run}) "
            "RETURN count(l) AS n",
            id=mark.lead_id,
            status=mark.status,
            note=mark.note,
            at=mark.marked_at.isoformat(),
            who=mark.who,
            run=mark.run_id,
            database_=database,
        )
        if not records or records[0]["n"] == 0:
            raise EngineError(
                f"mark of {mark.lead_id} kept in the workspace, but the lead is not in "
                "Neo4j: push the run first (ringfinder run --push-neo4j)"
            )

    return sink


# -- campaign figures -----------------------------------------------------------------
@dataclass
class CampaignStats:
    run_id: str
    run_at: datetime
    runs: int
    raised: int  # leads raised in the latest run
    held_back: int  # dismissed and not grown, in the latest run
    raised_ever: int  # distinct leads raised over all runs
    reviewed: int  # distinct leads with at least one mark
    confirmed: int
    dismissed: int
    reviewing: int
    amount_raised: Decimal  # 涉案金额 of the leads raised in the latest run
    fund_raised: Decimal
    amount_confirmed: Decimal
    fund_confirmed: Decimal
    above_threshold: int  # raised leads at or above the transfer threshold
    to_transfer: int  # confirmed leads at or above it: 移送公安
    amount_to_transfer: Decimal
    threshold: Decimal = TRANSFER_THRESHOLD

    def to_json(self) -> dict[str, Any]:
        return {
            k: (
                str(v)
                if isinstance(v, Decimal)
                else v.isoformat()
                if isinstance(v, datetime)
                else v
            )
            for k, v in self.__dict__.items()
        }


def campaign_stats(con: duckdb.DuckDBPyConnection) -> CampaignStats:
    """The figures campaigns report: leads raised, reviewed, confirmed, money, to transfer."""
    run = latest_run(con)
    leads = list_leads(con, run_id=run.run_id, include_held=True)
    marks = _latest_marks(con)
    raised = [x for x in leads if x.raised]
    (raised_ever,) = one(
        con.execute("SELECT count(DISTINCT lead_id) FROM triage_leads WHERE raised")
    ) or (0,)
    # money of a marked lead: as last recorded
    confirmed_ids = [i for i, m in marks.items() if m.status == "confirmed"]
    confirmed = [get_lead(con, i) for i in confirmed_ids if _exists(con, i)]
    transfer = [x for x in confirmed if x.above_threshold]
    return CampaignStats(
        run_id=run.run_id,
        run_at=run.run_at,
        runs=len(runs(con)),
        raised=len(raised),
        held_back=len(leads) - len(raised),
        raised_ever=int(raised_ever),
        reviewed=len(marks),
        confirmed=len(confirmed_ids),
        dismissed=sum(m.status == "dismissed" for m in marks.values()),
        reviewing=sum(m.status == "reviewing" for m in marks.values()),
        amount_raised=sum((x.amount_total for x in raised), Decimal(0)),
        fund_raised=sum((x.fund_amount for x in raised), Decimal(0)),
        amount_confirmed=sum((x.amount_total for x in confirmed), Decimal(0)),
        fund_confirmed=sum((x.fund_amount for x in confirmed), Decimal(0)),
        above_threshold=sum(x.above_threshold for x in raised),
        to_transfer=len(transfer),
        amount_to_transfer=sum((x.amount_total for x in transfer), Decimal(0)),
    )


def _exists(con: duckdb.DuckDBPyConnection, lead_id: str) -> bool:
    return bool(one(con.execute("SELECT 1 FROM triage_leads WHERE lead_id = ? LIMIT 1", [lead_id])))


def utc_now_iso() -> str:
    """UTC time for logs that cross time zones (audit)."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()
