"""Everything a case packet shows about one lead, read from the workspace.

:func:`gather` reads the lead's members and every evidence record (claims,
reimbursements with their invoices, referrals, claim items) from the workspace's
canonical tables, infers the members' roles from what the data shows, and sets the
evidence of fabrication or intent apart from plain billing-rule breaches. The
writers (xlsx, pdf, html, json) only lay this out.

Roles are inferred honestly, from the records only:

* a person with evidence records is a claimant (参保人);
* a person whose own phone or bank account is the foreign submitter phone or payee
  account on other claimants' reimbursements is a suspected organiser (代办人);
* a card holder whose card settled claims of other persons, and those persons;
* a person with records dated after their death;
* doctors on evidence claims or referrals (医师), institutions and pharmacies where
  the evidence was settled or invoiced (机构, 药店), invoice issuers unknown to the
  institution register (外地/非定点出票方);
* shared identifiers (an agent phone or payee account used by several claimants and
  not their own) as organiser nodes even when no person in the data owns them.

A recruiter (招募人) is not in these tables, so it is never guessed.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb

from ringfinder.duck import one
from ringfinder.export.labels import t
from ringfinder.findings import MEMBER_KINDS
from ringfinder.schema import TABLES
from ringfinder.triage import TRANSFER_THRESHOLD, StoredLead

#: Persons admitted to one institution on one day that make a "batch" admission.
BATCH_MIN_PERSONS = 3
#: Readmission within this many days of discharge at the same institution (分解住院 cue).
READMISSION_DAYS = 15
#: Visits in a month that the regulators' indicator flags.
VISITS_PER_MONTH = 15
#: Single window reimbursement reviewed by rule.
BIG_REIMBURSEMENT = Decimal("10000")
#: Reimbursements a year by one person reviewed by rule.
REIMBURSEMENTS_PER_YEAR = 4
#: Invoice numbers within this gap of their neighbour form a run.
INVOICE_RUN_GAP = 3
#: Invoices in a run, and distinct claimants presenting them, that make it evidence.
INVOICE_RUN_MIN = 3
#: Claimants (in different households where addresses are known) one foreign
#: identifier must reach to count as an agent identifier.
AGENT_MIN_CLAIMANTS = 2


@dataclass
class Indicator:
    """One measured cue: evidence of fabrication/intent, or a rule breach."""

    code: str
    kind: str  # "fabrication" | "breach"
    figures: dict[str, Any]
    records: list[str] = field(default_factory=list)

    def text(self, lang: str) -> str:
        return t(f"export.ind.{self.code}", lang, **self.figures)


@dataclass
class Node:
    id: str
    kind: str  # person, card, doctor, institution, pharmacy, issuer, agent_phone, agent_account
    label: str
    role: str = ""
    records: int = 0
    amount: Decimal = Decimal(0)
    flagged: bool = False  # organiser, deceased, card misuse


@dataclass
class Edge:
    source: str
    target: str
    kind: str  # visit, treated, holds, used, works_at, invoice, submitted, paid_to, referral
    records: int = 0
    amount: Decimal = Decimal(0)


@dataclass
class CaseData:
    lead: StoredLead
    persons: list[dict[str, Any]]
    cards: list[dict[str, Any]]
    doctors: list[dict[str, Any]]
    institutions: list[dict[str, Any]]
    pharmacies: list[dict[str, Any]]
    identifiers: list[dict[str, Any]]
    claims: list[dict[str, Any]]
    reimbursements: list[dict[str, Any]]
    invoices: list[dict[str, Any]]
    referrals: list[dict[str, Any]]
    claim_items: list[dict[str, Any]]
    indicators: list[Indicator]
    nodes: list[Node]
    edges: list[Edge]
    revealed: bool = False

    # money recomputed from the evidence rows now in the workspace
    @property
    def claims_total(self) -> Decimal:
        return sum((r["total_amount"] or Decimal(0) for r in self.claims), Decimal(0))

    @property
    def claims_fund(self) -> Decimal:
        return sum((r["fund_amount"] or Decimal(0) for r in self.claims), Decimal(0))

    @property
    def reimbursed_claimed(self) -> Decimal:
        return sum((r["amount_claimed"] or Decimal(0) for r in self.reimbursements), Decimal(0))

    @property
    def reimbursed_paid(self) -> Decimal:
        return sum((r["amount_paid"] or Decimal(0) for r in self.reimbursements), Decimal(0))

    @property
    def evidence_total(self) -> Decimal:
        return self.claims_total + self.reimbursed_claimed

    @property
    def evidence_fund(self) -> Decimal:
        return self.claims_fund + self.reimbursed_paid

    @property
    def consistent(self) -> bool:
        """The workspace still holds the evidence as it was when the run recorded it."""
        return (
            self.evidence_total == self.lead.amount_total
            and self.evidence_fund == self.lead.fund_amount
        )

    @property
    def above_threshold(self) -> bool:
        return self.lead.amount_total >= TRANSFER_THRESHOLD

    def fabrication(self) -> list[Indicator]:
        return [i for i in self.indicators if i.kind == "fabrication"]

    def breaches(self) -> list[Indicator]:
        return [i for i in self.indicators if i.kind == "breach"]


# -- reading ---------------------------------------------------------------------
def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    cols = [d[0] for d in cur.description or ()]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def _present(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    row = one(
        con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table])
    )
    return bool(row and row[0])


def _day(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else None


def _provider_names(con: duckdb.DuckDBPyConnection, ids: Iterable[str]) -> dict[str, str]:
    ids = sorted({i for i in ids if i})
    if not ids:
        return {}
    rows = con.execute(
        "SELECT institution_id, name FROM institutions WHERE institution_id IN "
        "(SELECT unnest($ids)) UNION ALL SELECT pharmacy_id, name FROM pharmacies "
        "WHERE pharmacy_id IN (SELECT unnest($ids))",
        {"ids": ids},
    ).fetchall()
    return {r[0]: r[1] for r in rows}


def pii_mode(con: duckdb.DuckDBPyConnection) -> str:
    """How the workspace holds personal data: ``pseudonymised`` (the default) or ``raw``."""
    try:
        from ringfinder.load.store import read_meta
    except ImportError:  # pragma: no cover - the loader always ships it
        return "pseudonymised"
    return read_meta(con).get("pii_mode", "pseudonymised")


#: Personal-data columns of the rows a case holds (from the schema).
PII_COLUMNS = {
    "persons": tuple(TABLES["persons"].pii_columns),
    "doctors": tuple(TABLES["doctors"].pii_columns),
    "reimbursements": tuple(TABLES["reimbursements"].pii_columns),
}


def redact(case: CaseData) -> None:
    """Drop raw personal data (a workspace loaded without pseudonymisation), in place.

    Shared identifiers become numbered tokens: they still show who shares what.
    """
    for rows, cols in (
        (case.persons, PII_COLUMNS["persons"]),
        (case.doctors, PII_COLUMNS["doctors"]),
        (case.reimbursements, PII_COLUMNS["reimbursements"]),
    ):
        for row in rows:
            for col in cols:
                if row.get(col) is not None:
                    row[col] = "[redacted]"
    for n, ident in enumerate(case.identifiers, 1):
        ident["value"] = f"{ident['kind']}#{n}"


def gather(con: duckdb.DuckDBPyConnection, lead: StoredLead, *, keep_raw: bool = False) -> CaseData:
    """Read one lead's members and evidence from the workspace and interpret them.

    In a workspace that holds raw personal data (loaded without pseudonymisation),
    that data is redacted unless ``keep_raw`` (an export that reveals identities).
    """
    ev = {"ids": sorted(set(lead.claims))}
    claims = _rows(
        con,
        """
        SELECT c.claim_id, c.person_id, c.card_id, k.person_id AS card_holder,
               k.status AS card_status, k.status_date AS card_status_date,
               c.provider_id, coalesce(i.name, ph.name) AS provider_name, c.doctor_id,
               c.visit_type, c.start_time, c.end_time, c.diagnosis_code, c.total_amount,
               c.fund_amount, c.terminal_id
        FROM claims c
        LEFT JOIN cards k ON k.card_id = c.card_id
        LEFT JOIN institutions i ON i.institution_id = c.provider_id
        LEFT JOIN pharmacies ph ON ph.pharmacy_id = c.provider_id
        WHERE c.claim_id IN (SELECT unnest($ids))
        ORDER BY c.start_time, c.claim_id
        """,
        ev,
    )
    reimbursements = _rows(
        con,
        """
        SELECT reimbursement_id, person_id, submitted_date, amount_claimed, amount_paid,
               handler_id, submitter_phone, payee_account
        FROM reimbursements WHERE reimbursement_id IN (SELECT unnest($ids))
        ORDER BY submitted_date, reimbursement_id
        """,
        ev,
    )
    rids = {"ids": [r["reimbursement_id"] for r in reimbursements]}
    invoices = _rows(
        con,
        """
        SELECT v.invoice_id, v.reimbursement_id, r.person_id, v.issuer_id,
               coalesce(i.name, ph.name) AS issuer_name,
               (i.institution_id IS NULL AND ph.pharmacy_id IS NULL) AS external,
               v.issue_date, v.amount, v.visit_type, v.diagnosis_code
        FROM invoices v
        JOIN reimbursements r ON r.reimbursement_id = v.reimbursement_id
        LEFT JOIN institutions i ON i.institution_id = v.issuer_id
        LEFT JOIN pharmacies ph ON ph.pharmacy_id = v.issuer_id
        WHERE v.reimbursement_id IN (SELECT unnest($ids))
        ORDER BY v.issue_date, v.invoice_id
        """,
        rids,
    )
    member_persons = set(lead.members.get("persons", []))
    evidence_persons = {r["person_id"] for r in claims} | {r["person_id"] for r in reimbursements}
    all_persons = sorted(member_persons | evidence_persons)
    providers = set(lead.members.get("institutions", [])) | set(lead.members.get("pharmacies", []))
    providers |= {r["provider_id"] for r in claims}
    first = lead.first_seen or date.min
    last = lead.last_seen or date.max
    referrals = _rows(
        con,
        """
        SELECT referral_id, person_id, from_provider_id, to_provider_id, referral_date,
               doctor_id, diagnosis_code, referral_id IN (SELECT unnest($ids)) AS in_evidence
        FROM referrals
        WHERE referral_id IN (SELECT unnest($ids))
           OR (person_id IN (SELECT unnest($persons))
               AND (from_provider_id IN (SELECT unnest($providers))
                    OR to_provider_id IN (SELECT unnest($providers))
                    OR to_provider_id IN (SELECT unnest($issuers)))
               AND referral_date BETWEEN $first - INTERVAL 90 DAY AND $last + INTERVAL 90 DAY)
        ORDER BY referral_date, referral_id
        """,
        {
            "ids": ev["ids"],
            "persons": all_persons,
            "providers": sorted(providers),
            "issuers": sorted({v["issuer_id"] for v in invoices}),
            "first": first if first != date.min else date(1900, 1, 1),
            "last": last if last != date.max else date(2999, 12, 31),
        },
    )
    claim_items = _rows(
        con,
        """
        SELECT claim_id, item_code, item_name, item_kind, quantity, amount
        FROM claim_items WHERE claim_id IN (SELECT unnest($ids))
        ORDER BY claim_id, item_code
        """,
        {"ids": [c["claim_id"] for c in claims]},
    )
    persons = _rows(
        con,
        """
        SELECT person_id, name, id_number, gender, birth_date, phone, address, region_code,
               insurance_type, employer_id, bank_account, death_date
        FROM persons WHERE person_id IN (SELECT unnest($ids)) ORDER BY person_id
        """,
        {"ids": all_persons},
    )
    known = {p["person_id"] for p in persons}
    persons += [{"person_id": p} for p in all_persons if p not in known]
    card_ids = set(lead.members.get("cards", [])) | {c["card_id"] for c in claims if c["card_id"]}
    cards = _rows(
        con,
        "SELECT card_id, person_id, issued_date, status, status_date FROM cards "
        "WHERE card_id IN (SELECT unnest($ids)) ORDER BY card_id",
        {"ids": sorted(card_ids)},
    )
    doctor_ids = set(lead.members.get("doctors", []))
    doctor_ids |= {c["doctor_id"] for c in claims if c["doctor_id"]}
    doctor_ids |= {r["doctor_id"] for r in referrals if r["doctor_id"]}
    doctors = _rows(
        con,
        "SELECT doctor_id, name, institution_id, department, title, phone FROM doctors "
        "WHERE doctor_id IN (SELECT unnest($ids)) ORDER BY doctor_id",
        {"ids": sorted(doctor_ids)},
    )
    known_d = {d["doctor_id"] for d in doctors}
    doctors += [{"doctor_id": d} for d in sorted(doctor_ids - known_d)]
    inst_ids = set(lead.members.get("institutions", []))
    inst_ids |= {c["provider_id"] for c in claims}
    inst_ids |= {v["issuer_id"] for v in invoices}
    inst_ids |= {r["from_provider_id"] for r in referrals} | {
        r["to_provider_id"] for r in referrals
    }
    pharm_ids = set(lead.members.get("pharmacies", []))
    institutions = _rows(
        con,
        "SELECT institution_id, name, level, ownership, region_code, address FROM institutions "
        "WHERE institution_id IN (SELECT unnest($ids)) ORDER BY institution_id",
        {"ids": sorted(inst_ids | pharm_ids)},
    )
    pharmacies = _rows(
        con,
        "SELECT pharmacy_id, name, region_code, address, chain_id FROM pharmacies "
        "WHERE pharmacy_id IN (SELECT unnest($ids)) ORDER BY pharmacy_id",
        {"ids": sorted(inst_ids | pharm_ids)},
    )
    known_i = {i["institution_id"] for i in institutions} | {p["pharmacy_id"] for p in pharmacies}
    institutions += [
        {"institution_id": i, "external": True}
        for i in sorted((inst_ids | set(lead.members.get("institutions", []))) - known_i)
    ]
    case = CaseData(
        lead=lead,
        persons=persons,
        cards=cards,
        doctors=doctors,
        institutions=institutions,
        pharmacies=pharmacies,
        identifiers=[],
        claims=claims,
        reimbursements=reimbursements,
        invoices=invoices,
        referrals=referrals,
        claim_items=claim_items,
        indicators=[],
        nodes=[],
        edges=[],
    )
    _has_referrals = _present(con, "referrals") and bool(
        (one(con.execute("SELECT count(*) FROM referrals")) or (0,))[0]
    )
    case.identifiers = _agent_identifiers(case)
    case.indicators = _indicators(case, referrals_known=_has_referrals)
    _assign_roles(case)
    if pii_mode(con) == "raw":
        if keep_raw:
            case.revealed = True
        else:
            redact(case)
    case.nodes, case.edges = _network(case)
    return case


# -- interpretation ------------------------------------------------------------------
def _money(rows: Iterable[dict[str, Any]], key: str) -> Decimal:
    return sum((r.get(key) or Decimal(0) for r in rows), Decimal(0))


def _agent_identifiers(case: CaseData) -> list[dict[str, Any]]:
    """Submitter phones and payee accounts not the claimant's own, shared by claimants."""
    by_person = {p["person_id"]: p for p in case.persons}
    found = []
    for column, own, kind in (
        ("submitter_phone", "phone", "agent_phone"),
        ("payee_account", "bank_account", "agent_account"),
    ):
        uses: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in case.reimbursements:
            value = r.get(column)
            if not value or value == by_person.get(r["person_id"], {}).get(own):
                continue
            uses[value].append(r)
        for value, rs in sorted(uses.items()):
            claimants = sorted({r["person_id"] for r in rs})
            households = {by_person.get(p, {}).get("address") or f"#{p}" for p in claimants}
            if len(claimants) < AGENT_MIN_CLAIMANTS or len(households) < AGENT_MIN_CLAIMANTS:
                continue
            owners = sorted(p["person_id"] for p in case.persons if value and p.get(own) == value)
            found.append(
                {
                    "kind": kind,
                    "value": value,
                    "claimants": len(claimants),
                    "persons": claimants,
                    "reimbursements": [r["reimbursement_id"] for r in rs],
                    "records": len(rs),
                    "amount": _money(rs, "amount_claimed"),
                    "owners": owners,
                }
            )
    return found


def _invoice_runs(invoices: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    series: dict[tuple[str, str], list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for v in invoices:
        m = re.match(r"^(.*?)(\d+)$", str(v["invoice_id"]))
        if m:
            series[(v["issuer_id"], m.group(1))].append((int(m.group(2)), v))
    runs = []
    for items in series.values():
        items.sort(key=lambda x: x[0])
        run = [items[0]]
        for prev, cur in zip(items, items[1:], strict=False):
            if cur[0] - prev[0] <= INVOICE_RUN_GAP:
                run.append(cur)
            else:
                runs.append(run)
                run = [cur]
        runs.append(run)
    return [
        [v for _, v in run]
        for run in runs
        if len(run) >= INVOICE_RUN_MIN and len({v["person_id"] for _, v in run}) >= 2
    ]


def _indicators(case: CaseData, *, referrals_known: bool) -> list[Indicator]:
    out: list[Indicator] = []
    persons = {p["person_id"]: p for p in case.persons}
    claims = case.claims

    def add(code: str, kind: str, records: list[dict[str, Any]], key: str, **figures: Any) -> None:
        ids = [str(r[key]) for r in records]
        amount_key = {
            "claim_id": "total_amount",
            "reimbursement_id": "amount_claimed",
            "invoice_id": "amount",
        }[key]
        amount = _money(records, amount_key)
        out.append(
            Indicator(code, kind, {"n": len(records), "amount": amount, **figures}, sorted(ids))
        )

    # fabrication: records after death
    dead_claims = [
        c
        for c in claims
        if (d := persons.get(c["person_id"], {}).get("death_date"))
        and (s := _day(c["start_time"]))
        and s > d
    ]
    dead_invoices = [
        v
        for v in case.invoices
        if (d := persons.get(v["person_id"], {}).get("death_date")) and v["issue_date"] > d
    ]
    if dead_claims:
        add(
            "after_death",
            "fabrication",
            dead_claims,
            "claim_id",
            persons=len({c["person_id"] for c in dead_claims}),
        )
    if dead_invoices:
        add(
            "after_death",
            "fabrication",
            dead_invoices,
            "invoice_id",
            persons=len({v["person_id"] for v in dead_invoices}),
        )
    # fabrication: another person's card, a void card
    other = [c for c in claims if c["card_holder"] and c["card_holder"] != c["person_id"]]
    if other:
        add(
            "card_other", "fabrication", other, "claim_id", cards=len({c["card_id"] for c in other})
        )
    void = [
        c
        for c in claims
        if c["card_status"] in ("lost", "cancelled")
        and c["card_status_date"]
        and (s := _day(c["start_time"]))
        and s >= c["card_status_date"]
    ]
    if void:
        add("card_void", "fabrication", void, "claim_id")
    # fabrication: batch admissions
    batches: dict[tuple[str, date], list[dict[str, Any]]] = defaultdict(list)
    for c in claims:
        if c["visit_type"] == "inpatient" and (s := _day(c["start_time"])):
            batches[(c["provider_id"], s)].append(c)
    batch_groups = [
        g for g in batches.values() if len({c["person_id"] for c in g}) >= BATCH_MIN_PERSONS
    ]
    if batch_groups:
        add(
            "batch_admission",
            "fabrication",
            [c for g in batch_groups for c in g],
            "claim_id",
            groups=len(batch_groups),
            persons=BATCH_MIN_PERSONS,
        )
    # fabrication: invoice-number runs across claimants
    runs = _invoice_runs(case.invoices)
    if runs:
        flat = [v for run in runs for v in run]
        add(
            "invoice_run",
            "fabrication",
            flat,
            "invoice_id",
            runs=len(runs),
            claimants=len({v["person_id"] for v in flat}),
        )
    # intent: one agent identifier for several claimants
    if case.identifiers:
        rids = sorted({r for i in case.identifiers for r in i["reimbursements"]})
        rs = [r for r in case.reimbursements if r["reimbursement_id"] in set(rids)]
        add(
            "agent",
            "fabrication",
            rs,
            "reimbursement_id",
            claimants=len({p for i in case.identifiers for p in i["persons"]}),
        )
    # fabrication: two stays at once
    stays: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in claims:
        if c["visit_type"] == "inpatient" and c["start_time"]:
            stays[c["person_id"]].append(c)
    overlap_pairs = []
    for rows in stays.values():
        rows.sort(key=lambda c: c["start_time"])
        for i, a in enumerate(rows):
            a_end = a["end_time"] or a["start_time"]
            for b in rows[i + 1 :]:
                if b["start_time"] >= a_end:
                    break
                if b["provider_id"] != a["provider_id"]:
                    overlap_pairs.append((a, b))
    if overlap_pairs:
        recs = list({c["claim_id"]: c for pair in overlap_pairs for c in pair}.values())
        ind_persons = len({a["person_id"] for a, _ in overlap_pairs})
        add("overlap_stay", "fabrication", recs, "claim_id", persons=ind_persons)
        out[-1].figures["n"] = len(overlap_pairs)
    # fabrication cue: external issuer without referral
    if referrals_known:
        referred = {(r["person_id"], r["to_provider_id"]) for r in case.referrals}
        unref = [
            v
            for v in case.invoices
            if v["external"] and (v["person_id"], v["issuer_id"]) not in referred
        ]
        if unref:
            add("no_referral", "fabrication", unref, "invoice_id")
    # breaches and review cues
    readm = []
    for rows in stays.values():
        by_provider: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for c in rows:
            by_provider[c["provider_id"]].append(c)
        for seq in by_provider.values():
            seq.sort(key=lambda c: c["start_time"])
            for a, b in zip(seq, seq[1:], strict=False):
                a_end = a["end_time"] or a["start_time"]
                if timedelta(0) <= b["start_time"] - a_end <= timedelta(days=READMISSION_DAYS):
                    readm.append(b)
    if readm:
        add("readmission", "breach", readm, "claim_id", days=READMISSION_DAYS)
    months: Counter[tuple[str, int, int]] = Counter()
    month_rows: dict[tuple[str, int, int], list[dict[str, Any]]] = defaultdict(list)
    for c in claims:
        if c["visit_type"] != "inpatient" and c["start_time"]:
            key = (c["person_id"], c["start_time"].year, c["start_time"].month)
            months[key] += 1
            month_rows[key].append(c)
    busy = [k for k, n in months.items() if n >= VISITS_PER_MONTH]
    if busy:
        add(
            "visits_month",
            "breach",
            [c for k in busy for c in month_rows[k]],
            "claim_id",
            visits=VISITS_PER_MONTH,
        )
        out[-1].figures["n"] = len(busy)
    big = [r for r in case.reimbursements if (r["amount_claimed"] or 0) >= BIG_REIMBURSEMENT]
    if big:
        add("big_reimbursement", "breach", big, "reimbursement_id", limit=BIG_REIMBURSEMENT)
    years: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for r in case.reimbursements:
        years[(r["person_id"], r["submitted_date"].year)].append(r)
    many = [k for k, rs in years.items() if len(rs) >= REIMBURSEMENTS_PER_YEAR]
    if many:
        add(
            "many_reimbursements",
            "breach",
            [r for k in many for r in years[k]],
            "reimbursement_id",
            count=REIMBURSEMENTS_PER_YEAR,
        )
        out[-1].figures["n"] = len(many)
    return out


def _assign_roles(case: CaseData) -> None:
    """Fill ``roles`` (codes) and evidence counts on every member row."""
    ev_count: Counter[str] = Counter()
    ev_amount: dict[str, Decimal] = defaultdict(Decimal)
    for c in case.claims:
        ev_count[c["person_id"]] += 1
        ev_amount[c["person_id"]] += c["total_amount"] or 0
    for r in case.reimbursements:
        ev_count[r["person_id"]] += 1
        ev_amount[r["person_id"]] += r["amount_claimed"] or 0
    lenders = {
        c["card_holder"] for c in case.claims if c["card_holder"] not in (None, c["person_id"])
    }
    users = {c["person_id"] for c in case.claims if c["card_holder"] not in (None, c["person_id"])}
    after_death = set()
    for ind in case.indicators:
        if ind.code == "after_death":
            recs = set(ind.records)
            after_death |= {c["person_id"] for c in case.claims if c["claim_id"] in recs}
            after_death |= {v["person_id"] for v in case.invoices if v["invoice_id"] in recs}
    organisers = {o for i in case.identifiers for o in i["owners"]}
    for p in case.persons:
        pid = p["person_id"]
        roles = []
        if pid in organisers:
            roles.append("organiser")
        if ev_count[pid]:
            roles.append("claimant")
        if pid in lenders:
            roles.append("card_lender")
        if pid in users:
            roles.append("card_user")
        if pid in after_death:
            roles.append("deceased")
        p["roles"] = roles or ["member"]
        p["evidence"] = ev_count[pid]
        p["amount"] = ev_amount[pid]
        p["in_lead"] = pid in set(case.lead.members.get("persons", []))
    d_count: Counter[str] = Counter(c["doctor_id"] for c in case.claims if c["doctor_id"])
    d_amount: dict[str, Decimal] = defaultdict(Decimal)
    for c in case.claims:
        if c["doctor_id"]:
            d_amount[c["doctor_id"]] += c["total_amount"] or 0
    referring = {r["doctor_id"] for r in case.referrals if r["doctor_id"]}
    for d in case.doctors:
        roles = ["doctor"] if d_count[d["doctor_id"]] or d["doctor_id"] not in referring else []
        if d["doctor_id"] in referring:
            roles.append("referring_doctor")
        d["roles"] = roles
        d["evidence"] = d_count[d["doctor_id"]]
        d["amount"] = d_amount[d["doctor_id"]]
    p_count: Counter[str] = Counter(c["provider_id"] for c in case.claims)
    p_amount: dict[str, Decimal] = defaultdict(Decimal)
    for c in case.claims:
        p_amount[c["provider_id"]] += c["total_amount"] or 0
    issuers: Counter[str] = Counter(v["issuer_id"] for v in case.invoices)
    for v in case.invoices:
        p_amount[v["issuer_id"]] += v["amount"] or 0
    for i in case.institutions:
        iid = i["institution_id"]
        roles = []
        if i.get("external"):
            roles.append("external")
        elif p_count[iid] or iid in case.lead.members.get("institutions", []):
            roles.append("institution")
        if issuers[iid] and not i.get("external"):
            roles.append("issuer")
        i["roles"] = roles or ["referral_provider"]
        i["evidence"] = p_count[iid] + issuers[iid]
        i["amount"] = p_amount[iid]
    for ph in case.pharmacies:
        ph["roles"] = ["pharmacy"]
        ph["evidence"] = p_count[ph["pharmacy_id"]]
        ph["amount"] = p_amount[ph["pharmacy_id"]]
    holders = {k["card_id"]: k["person_id"] for k in case.cards}
    c_count: Counter[str] = Counter(c["card_id"] for c in case.claims if c["card_id"])
    for k in case.cards:
        k["roles"] = ["card"]
        k["evidence"] = c_count[k["card_id"]]
        k["holder"] = holders.get(k["card_id"])


def role_text(roles: Sequence[str], lang: str) -> str:
    sep = "、" if lang == "zh" else ", "
    return sep.join(t(f"export.role.{r}", lang) for r in roles)


# -- the network ------------------------------------------------------------------------
def _short(value: str, n: int = 8) -> str:
    return value if len(value) <= n + 1 else value[:n] + "…"


def _network(case: CaseData) -> tuple[list[Node], list[Edge]]:
    """Members and evidence aggregated into one small graph (what the pictures show)."""
    nodes: dict[str, Node] = {}
    edges: dict[tuple[str, str, str], Edge] = {}

    def node(nid: str, kind: str, label: str, role: str = "", flagged: bool = False) -> str:
        if nid not in nodes:
            nodes[nid] = Node(nid, kind, label, role, flagged=flagged)
        return nid

    def edge(a: str, b: str, kind: str, amount: Any = 0) -> None:
        e = edges.setdefault((a, b, kind), Edge(a, b, kind))
        e.records += 1
        e.amount += Decimal(amount or 0)

    for p in case.persons:
        flagged = bool({"organiser", "deceased", "card_user", "card_lender"} & set(p["roles"]))
        n = nodes[node(f"p:{p['person_id']}", "person", p["person_id"], p["roles"][0], flagged)]
        n.records, n.amount = p["evidence"], p["amount"]
    for i in case.institutions:
        kind = "issuer" if i.get("external") else "institution"
        label = i.get("name") or i["institution_id"]
        n = nodes[node(f"h:{i['institution_id']}", kind, label, i["roles"][0])]
        n.records, n.amount = i["evidence"], i["amount"]
    for ph in case.pharmacies:
        n = nodes[node(f"h:{ph['pharmacy_id']}", "pharmacy", ph.get("name") or ph["pharmacy_id"])]
        n.records, n.amount = ph["evidence"], ph["amount"]
    for d in case.doctors:
        n = nodes[node(f"d:{d['doctor_id']}", "doctor", d["doctor_id"], "doctor")]
        n.records, n.amount = d["evidence"], d["amount"]
    lead_cards = set(case.lead.members.get("cards", []))
    for k in case.cards:
        used_by_other = any(
            c["card_id"] == k["card_id"] and c["person_id"] != k["person_id"] for c in case.claims
        )
        if k["card_id"] in lead_cards or used_by_other:
            node(f"c:{k['card_id']}", "card", k["card_id"], "card", flagged=used_by_other)
            if f"p:{k['person_id']}" in nodes:
                edge(f"p:{k['person_id']}", f"c:{k['card_id']}", "holds")
    for c in case.claims:
        pn, h = f"p:{c['person_id']}", f"h:{c['provider_id']}"
        if h not in nodes:
            node(h, "institution", c.get("provider_name") or c["provider_id"], "institution")
        edge(pn, h, "visit", c["total_amount"])
        if c["doctor_id"]:
            edge(pn, f"d:{c['doctor_id']}", "treated", c["total_amount"])
        if c["card_id"] and c["card_holder"] not in (None, c["person_id"]):
            node(f"c:{c['card_id']}", "card", c["card_id"], "card", flagged=True)
            edge(pn, f"c:{c['card_id']}", "used", c["total_amount"])
    for d in case.doctors:
        h = f"h:{d.get('institution_id')}"
        if d.get("institution_id") and h in nodes:
            edges.setdefault(
                (f"d:{d['doctor_id']}", h, "works_at"), Edge(f"d:{d['doctor_id']}", h, "works_at")
            )
    for v in case.invoices:
        edge(f"p:{v['person_id']}", f"h:{v['issuer_id']}", "invoice", v["amount"])
    for ident in case.identifiers:
        x = node(
            f"x:{ident['kind']}:{ident['value']}",
            ident["kind"],
            _short(str(ident["value"])),
            ident["kind"],
            flagged=True,
        )
        nodes[x].records, nodes[x].amount = ident["records"], ident["amount"]
        rset = set(ident["reimbursements"])
        for r in case.reimbursements:
            if r["reimbursement_id"] in rset:
                kind = "submitted" if ident["kind"] == "agent_phone" else "paid_to"
                edge(f"p:{r['person_id']}", x, kind, r["amount_claimed"])
        for owner in ident["owners"]:
            edge(f"p:{owner}", x, "owns")
    for r in case.referrals:
        a, b = f"h:{r['from_provider_id']}", f"h:{r['to_provider_id']}"
        for h, pid in ((a, r["from_provider_id"]), (b, r["to_provider_id"])):
            node(h, "issuer", pid, "external")
        edge(a, b, "referral")
    used = {e.source for e in edges.values()} | {e.target for e in edges.values()}
    for nid in [n for n in nodes if n not in used]:
        # keep members without any link (they are still members), drop nothing else
        if not nid.startswith(("p:", "h:", "d:", "c:")):
            del nodes[nid]
    for e in edges.values():
        for end in (e.source, e.target):
            if end not in nodes:
                kind = {"p": "person", "d": "doctor", "h": "institution", "c": "card"}[end[0]]
                nodes[end] = Node(end, kind, end.split(":", 1)[1], kind)
    ordered = sorted(nodes.values(), key=lambda n: (_KIND_ORDER.get(n.kind, 9), n.id))
    return ordered, sorted(edges.values(), key=lambda e: (e.source, e.target, e.kind))


_KIND_ORDER = {
    "agent_phone": 0,
    "agent_account": 1,
    "institution": 2,
    "pharmacy": 3,
    "issuer": 4,
    "doctor": 5,
    "person": 6,
    "card": 7,
}

#: Member kinds of the leads contract -> the node kinds drawn for them.
NODE_KINDS = dict(
    zip(MEMBER_KINDS, ("person", "card", "doctor", "institution", "pharmacy"), strict=True)
)
