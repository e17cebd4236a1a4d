"""Order rows, give ids, turn the numeric frames into the canonical tables and write them.

Tables are written in chunks (CSV through ``pyarrow.csv.CSVWriter``, Parquet through
``pyarrow.parquet.ParquetWriter``), so memory stays bounded at city scale; the chunking
is fixed, so the bytes depend only on the data.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ringfinder.schema import TABLES, ColType
from ringfinder.synth import lexicon, naming
from ringfinder.synth.city import City
from ringfinder.synth.frames import Activity
from ringfinder.synth.ids import ascii_column, digits, literal, number_column
from ringfinder.synth.plan import Planted
from ringfinder.synth.population import CARD_LETTERS, Population, id_number_matrix
from ringfinder.synth.timeline import DAY

ROWS_PER_CHUNK = 1_000_000
_ARROW = {
    ColType.STR: pa.string(),
    ColType.DATE: pa.date32(),
    ColType.DATETIME: pa.timestamp("s"),
    ColType.MONEY: pa.decimal128(18, 2),
    ColType.INT: pa.int64(),
    ColType.FLOAT: pa.float64(),
}
VISIT_TYPES = pa.array(["outpatient", "chronic_outpatient", "inpatient", "pharmacy"])
CARD_STATUS = pa.array(["active", "lost", "cancelled"])


def arrow_schema(table: str) -> pa.Schema:
    return pa.schema([(c.name, _ARROW[c.type]) for c in TABLES[table].columns])


def money(cents: np.ndarray) -> pa.Array:
    """Exact decimal128(18, 2) from integer cents (no float on the way)."""
    cents = np.ascontiguousarray(cents, dtype=np.int64)
    words = np.empty((cents.size, 2), dtype=np.int64)
    words[:, 0] = cents
    words[:, 1] = cents >> 63
    return pa.Array.from_buffers(pa.decimal128(18, 2), cents.size, [None, pa.py_buffer(words)])


def dates(epoch_days: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    mask = None if valid is None else ~valid
    return pa.array(np.asarray(epoch_days, dtype=np.int32), pa.int32(), mask=mask).cast(pa.date32())


def times(epoch_seconds: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    mask = None if valid is None else ~valid
    arr = pa.array(np.asarray(epoch_seconds, dtype=np.int64), pa.int64(), mask=mask)
    return arr.cast(pa.timestamp("s"))


def take(values: pa.Array, idx: np.ndarray) -> pa.Array:
    """values[idx], null where idx < 0."""
    idx = np.asarray(idx, dtype=np.int64)
    neg = idx < 0
    return values.take(pa.array(np.where(neg, 0, idx), mask=neg if neg.any() else None))


def chunks(n: int) -> Iterator[slice]:
    for s in range(0, max(n, 1), ROWS_PER_CHUNK):
        yield slice(s, min(n, s + ROWS_PER_CHUNK))


@contextmanager
def table_writer(
    out_dir: Path, table: str, fmt: str
) -> Iterator[Callable[[dict[str, pa.Array]], None]]:
    schema = arrow_schema(table)
    path = out_dir / f"{table}.{fmt}"
    if fmt == "csv":
        writer: Any = pacsv.CSVWriter(str(path), schema)
    else:
        writer = pq.ParquetWriter(str(path), schema, compression="zstd")

    def write(cols: dict[str, pa.Array]) -> None:
        writer.write_table(pa.table([cols[name] for name in schema.names], schema=schema))

    try:
        yield write
    finally:
        writer.close()


@dataclass
class Ordered:
    """Row orders and ids: claims by time, the rest by date, with a random tie-break."""

    claims: np.ndarray  # permutation of the claims
    claim_rank: np.ndarray  # position of each original claim in the output
    items: np.ndarray
    referrals: np.ndarray
    reimbursements: np.ndarray
    reimb_rank: np.ndarray
    invoices: np.ndarray


def order_rows(rng: np.random.Generator, act: Activity) -> Ordered:
    def by_time(t: np.ndarray) -> np.ndarray:
        key = (np.asarray(t, np.int64) << 30) | rng.integers(0, 1 << 30, t.size)
        return np.argsort(key, kind="stable")

    def rank_of(perm: np.ndarray) -> np.ndarray:
        rank = np.empty(perm.size, np.int64)
        rank[perm] = np.arange(perm.size)
        return rank

    claims = by_time(act.claims["start"])
    claim_rank = rank_of(claims)
    items = np.argsort(claim_rank[act.items["claim"]], kind="stable")
    reimb = by_time(act.reimbursements["day"])
    reimb_rank = rank_of(reimb)
    inv = act.invoices
    invoices = np.lexsort((inv["number"], inv["day"], reimb_rank[inv["reimb"]]))
    return Ordered(
        claims=claims,
        claim_rank=claim_rank,
        items=items,
        referrals=by_time(act.referrals["day"]),
        reimbursements=reimb,
        reimb_rank=reimb_rank,
        invoices=invoices,
    )


class Writer:
    """Everything needed to spell ids and names, and one method per table."""

    def __init__(self, out_dir: Path, fmt: str, city: City, pop: Population, year: int) -> None:
        self.out_dir, self.fmt, self.city, self.pop, self.year = out_dir, fmt, city, pop, year
        self.epoch_day = (np.datetime64(f"{year}-01-01") - np.datetime64("1970-01-01")).astype(int)
        self.d_code = np.frombuffer("".join(city.d_code).encode("ascii"), np.uint8).reshape(-1, 6)
        self.person_ids = ascii_column([self.d_code[pop.district], digits(pop.pid, 14)])
        letters = np.frombuffer(CARD_LETTERS.encode("ascii"), np.uint8)
        self.card_ids = ascii_column(
            [letters[pop.card_no // 10**8][:, None], digits(pop.card_no % 10**8, 8)]
        )
        orgs = city.orgs
        self.org_ids = pa.array(orgs["id"].tolist())
        self.org_mat = np.frombuffer("".join(orgs["id"]).encode("ascii"), np.uint8).reshape(-1, 12)
        self.doctor_ids = pa.array(city.doctors["id"].tolist())
        self.diag_codes = pa.array([d.code for d in lexicon.DIAGNOSES])
        self.item_codes = pa.array([it.code for it in lexicon.ITEMS])
        self.item_names = pa.array([it.name for it in lexicon.ITEMS])
        self.item_kinds = pa.array([it.kind for it in lexicon.ITEMS])
        self.claim_prefix = f"{city.prefecture}00{year}"
        self.village_prefix = pa.array(
            [
                f"{city.city_name}{city.d_name[city.t_district[t]]}{city.t_name[t]}{name}"
                for t, name in zip(city.v_town, city.v_name, strict=True)
            ]
        )

    def write(self, table: str, cols_of: Callable[[slice], dict[str, pa.Array]], n: int) -> int:
        with table_writer(self.out_dir, table, self.fmt) as write:
            for part in chunks(n):
                write(cols_of(part))
        return n

    # --- reference tables ---------------------------------------------------------------
    def persons(self) -> int:
        pop, city = self.pop, self.city

        def cols(s: slice) -> dict[str, pa.Array]:
            idx = np.arange(s.start, s.stop)
            urban = city.v_urban[pop.village[idx]]
            address = pc.binary_join_element_wise(
                take(self.village_prefix, pop.village[idx]),
                pa.array(pop.group[idx].astype(np.int64)).cast(pa.string()),
                take(pa.array(["组", "栋"]), urban.astype(np.int64)),
                pa.array(pop.house[idx].astype(np.int64)).cast(pa.string()),
                take(pa.array(["号", "室"]), urban.astype(np.int64)),
                "",
            )
            special = pop.special[idx]
            if (special >= 0).any():
                address = pc.if_else(
                    pa.array(special >= 0),
                    take(pa.array(pop.special_address), np.maximum(special, 0)),
                    address,
                )
            emp = pop.employer[idx]
            return {
                "person_id": self.person_ids[s],
                "name": naming.name_column(pop.surname[idx], pop.g1[idx], pop.g2[idx]),
                "id_number": ascii_column([id_number_matrix(pop, idx)], valid=~pop.id_missing[idx]),
                "gender": take(pa.array(["F", "M"]), pop.male[idx].astype(np.int64)),
                "birth_date": dates(pop.birth[idx]),
                "phone": number_column(pop.phone[idx], 11, pop.phone[idx] > 0),
                "address": address,
                "region_code": take(pa.array(city.d_code), pop.district[idx]),
                "insurance_type": take(
                    pa.array(["resident", "employee"]), pop.employee[idx].astype(np.int64)
                ),
                "employer_id": number_column(pop.employer_code[np.maximum(emp, 0)], 12, emp >= 0),
                "bank_account": number_column(pop.account[idx], 19, pop.account[idx] > 0),
                "death_date": dates(self.epoch_day + pop.death[idx], pop.death[idx] >= 0),
            }

        return self.write("persons", cols, pop.n)

    def cards(self) -> int:
        pop = self.pop

        def cols(s: slice) -> dict[str, pa.Array]:
            st = pop.card_status_date[s]
            return {
                "card_id": self.card_ids[s],
                "person_id": take(self.person_ids, pop.card_person[s]),
                "issued_date": dates(pop.card_issued[s]),
                "status": take(CARD_STATUS, pop.card_status[s].astype(np.int64)),
                "status_date": dates(st, st >= 0),
            }

        return self.write("cards", cols, pop.card_no.size)

    def providers(self) -> tuple[int, int]:
        orgs = self.city.orgs
        inst = orgs.iloc[: self.city.n_inst]
        ph = orgs.iloc[self.city.n_inst : self.city.n_inst + self.city.n_pharm]
        with table_writer(self.out_dir, "institutions", self.fmt) as write:
            write(
                {
                    "institution_id": pa.array(inst["id"].tolist()),
                    "name": pa.array(inst["name"].tolist()),
                    "level": pa.array(inst["level"].tolist()),
                    "ownership": pa.array(inst["ownership"].tolist()),
                    "region_code": pa.array(inst["region"].tolist()),
                    "address": pa.array(inst["address"].tolist()),
                    "lat": pa.array(inst["lat"].to_numpy(np.float64)),
                    "lon": pa.array(inst["lon"].to_numpy(np.float64)),
                }
            )
        with table_writer(self.out_dir, "pharmacies", self.fmt) as write:
            write(
                {
                    "pharmacy_id": pa.array(ph["id"].tolist()),
                    "name": pa.array(ph["name"].tolist()),
                    "region_code": pa.array(ph["region"].tolist()),
                    "address": pa.array(ph["address"].tolist()),
                    "lat": pa.array(ph["lat"].to_numpy(np.float64)),
                    "lon": pa.array(ph["lon"].to_numpy(np.float64)),
                    "chain_id": pa.array(
                        [x if isinstance(x, str) else None for x in ph["chain_id"]], pa.string()
                    ),
                }
            )
        return len(inst), len(ph)

    def doctors(self) -> int:
        doc = self.city.doctors
        phone = doc["phone"].to_numpy(np.int64)
        with table_writer(self.out_dir, "doctors", self.fmt) as write:
            write(
                {
                    "doctor_id": self.doctor_ids,
                    "name": pa.array(doc["name"].tolist()),
                    "institution_id": take(self.org_ids, doc["org"].to_numpy()),
                    "department": take(pa.array(lexicon.DEPARTMENTS), doc["dept"].to_numpy()),
                    "title": pa.array(doc["title"].tolist()),
                    "phone": number_column(phone, 11, phone > 0),
                }
            )
        return len(doc)

    # --- activity -----------------------------------------------------------------------
    def claim_ids(self, rank: np.ndarray) -> pa.Array:
        n = rank.size
        return ascii_column([literal(self.claim_prefix, n), digits(rank + 1, 10)])

    def claims(self, act: Activity, o: Ordered) -> int:
        c = act.claims
        base = self.epoch_day * DAY

        def cols(s: slice) -> dict[str, pa.Array]:
            p = o.claims[s]
            org, term = c["org"][p], c["terminal"][p].astype(np.int64)
            end = c["end"][p]
            return {
                "claim_id": self.claim_ids(np.arange(s.start, s.stop)),
                "person_id": take(self.person_ids, c["person"][p]),
                "card_id": take(self.card_ids, c["card"][p]),
                "provider_id": take(self.org_ids, org),
                "doctor_id": take(self.doctor_ids, c["doctor"][p]),
                "visit_type": take(VISIT_TYPES, c["visit"][p]),
                "start_time": times(base + c["start"][p]),
                "end_time": times(base + end, end >= 0),
                "diagnosis_code": take(self.diag_codes, c["diag"][p]),
                "total_amount": money(c["total"][p]),
                "fund_amount": money(c["fund"][p]),
                "terminal_id": ascii_column(
                    [self.org_mat[org], literal("-T", p.size), digits(term, 2)], valid=term > 0
                ),
            }

        return self.write("claims", cols, len(c))

    def claim_items(self, act: Activity, o: Ordered) -> int:
        it = act.items

        def cols(s: slice) -> dict[str, pa.Array]:
            p = o.items[s]
            item = it["item"][p]
            return {
                "claim_id": self.claim_ids(o.claim_rank[it["claim"][p]]),
                "item_code": take(self.item_codes, item),
                "item_name": take(self.item_names, item),
                "item_kind": take(self.item_kinds, item),
                "quantity": pa.array(it["qty"][p]),
                "amount": money(it["amount"][p]),
            }

        return self.write("claim_items", cols, len(it))

    def reimb_ids(self, rank: np.ndarray) -> pa.Array:
        return ascii_column([literal(f"BX{self.year}", rank.size), digits(rank + 1, 8)])

    def reimbursements(self, act: Activity, o: Ordered) -> int:
        r = act.reimbursements

        def cols(s: slice) -> dict[str, pa.Array]:
            p = o.reimbursements[s]
            phone, account = r["phone"][p], r["account"][p]
            return {
                "reimbursement_id": self.reimb_ids(np.arange(s.start, s.stop)),
                "person_id": take(self.person_ids, r["person"][p]),
                "submitted_date": dates(self.epoch_day + r["day"][p]),
                "amount_claimed": money(r["claimed"][p]),
                "amount_paid": money(r["paid"][p]),
                "handler_id": ascii_column([literal("J", p.size), digits(r["handler"][p] + 1, 3)]),
                "submitter_phone": number_column(phone, 11, phone > 0),
                "payee_account": number_column(account, 19, account > 0),
            }

        return self.write("reimbursements", cols, len(r))

    def invoices(self, act: Activity, o: Ordered) -> int:
        inv = act.invoices

        def cols(s: slice) -> dict[str, pa.Array]:
            p = o.invoices[s]
            return {
                "invoice_id": number_column(inv["number"][p], 18),
                "reimbursement_id": self.reimb_ids(o.reimb_rank[inv["reimb"][p]]),
                "issuer_id": take(self.org_ids, inv["issuer"][p]),
                "issue_date": dates(self.epoch_day + inv["day"][p]),
                "amount": money(inv["amount"][p]),
                "visit_type": take(VISIT_TYPES, inv["visit"][p]),
                "diagnosis_code": take(self.diag_codes, inv["diag"][p]),
            }

        return self.write("invoices", cols, len(inv))

    def referrals(self, act: Activity, o: Ordered) -> int:
        r = act.referrals

        def cols(s: slice) -> dict[str, pa.Array]:
            p = o.referrals[s]
            return {
                "referral_id": ascii_column(
                    [literal(f"ZZ{self.year}", p.size), digits(np.arange(s.start, s.stop) + 1, 8)]
                ),
                "person_id": take(self.person_ids, r["person"][p]),
                "from_provider_id": take(self.org_ids, r["src"][p]),
                "to_provider_id": take(self.org_ids, r["dst"][p]),
                "referral_date": dates(self.epoch_day + r["day"][p]),
                "doctor_id": take(self.doctor_ids, r["doctor"][p]),
                "diagnosis_code": take(self.diag_codes, r["diag"][p]),
            }

        return self.write("referrals", cols, len(r))

    # --- truth ----------------------------------------------------------------------------
    def members(self, p: Planted) -> dict[str, list[str]]:
        n_inst, n_ph = self.city.n_inst, self.city.n_pharm
        orgs = np.unique(p.orgs)
        is_ph = (orgs >= n_inst) & (orgs < n_inst + n_ph)

        def ids(values: pa.Array, idx: np.ndarray) -> list[str]:
            idx = np.unique(np.asarray(idx, dtype=np.int64))
            return sorted(take(values, idx).to_pylist())

        return {
            "persons": ids(self.person_ids, p.persons),
            "cards": ids(self.card_ids, p.cards),
            "doctors": ids(self.doctor_ids, p.doctors),
            "institutions": ids(self.org_ids, orgs[~is_ph]),
            "pharmacies": ids(self.org_ids, orgs[is_ph]),
        }

    def truth(
        self, meta: dict[str, Any], schemes: list[Planted], lookalikes: list[Planted]
    ) -> None:
        doc = {
            "generator": "ringfinder.synth",
            "version": 1,
            **meta,
            "schemes": [
                {"id": f"S{i + 1:02d}", "kind": p.kind, **self.members(p), "notes": p.notes}
                for i, p in enumerate(schemes)
            ],
            "lookalikes": [
                {"id": f"L{i + 1:02d}", "kind": p.kind, **self.members(p), "notes": p.notes}
                for i, p in enumerate(lookalikes)
            ],
        }
        text = json.dumps(doc, ensure_ascii=False, indent=1) + "\n"
        (self.out_dir / "truth.json").write_text(text, encoding="utf-8")
