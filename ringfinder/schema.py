"""The canonical input tables (the contract in ``shared/spec/input-tables.md``).

This module is the single source of truth for table and column names, types,
which columns are required, which hold personal data (PII) and which refer to
other tables. The loader, the synthetic generator and the engines all read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ColType(StrEnum):
    """Logical column types of the contract."""

    STR = "str"
    DATE = "date"
    DATETIME = "datetime"
    MONEY = "money"
    INT = "int"
    FLOAT = "float"

    @property
    def duckdb(self) -> str:
        """The DuckDB storage type for this logical type."""
        return {
            ColType.STR: "VARCHAR",
            ColType.DATE: "DATE",
            ColType.DATETIME: "TIMESTAMP",
            ColType.MONEY: "DECIMAL(18,2)",
            ColType.INT: "BIGINT",
            ColType.FLOAT: "DOUBLE",
        }[self]


@dataclass(frozen=True)
class Ref:
    """A reference from a column to the key of one or more tables."""

    tables: tuple[str, ...]
    external_ok: bool = False  # unknown ids are external entities, not errors


@dataclass(frozen=True)
class Column:
    name: str
    type: ColType = ColType.STR
    required: bool = False
    pii: bool = False
    ref: Ref | None = None
    enum: tuple[str, ...] | None = None
    doc: str = ""


@dataclass(frozen=True)
class Table:
    name: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    required: bool = False
    doc: str = ""
    checks: tuple[str, ...] = field(default=())  # names of cross-column checks

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def pii_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.pii]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


S, D, DT, M, F = ColType.STR, ColType.DATE, ColType.DATETIME, ColType.MONEY, ColType.FLOAT
VISIT_TYPES = ("outpatient", "chronic_outpatient", "inpatient", "pharmacy")
PROVIDERS = ("institutions", "pharmacies")

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "persons",
            key=("person_id",),
            required=True,
            doc="参保人员 insured persons",
            columns=(
                Column("person_id", S, required=True, doc="人员编号"),
                Column("name", S, pii=True, doc="姓名"),
                Column("id_number", S, pii=True, doc="居民身份证号 (checked: MOD 11-2)"),
                Column("gender", S, enum=("M", "F")),
                Column("birth_date", D),
                Column("phone", S, pii=True),
                Column("address", S, pii=True),
                Column("region_code", S),
                Column("insurance_type", S, enum=("employee", "resident")),
                Column("employer_id", S),
                Column("bank_account", S, pii=True),
                Column("death_date", D),
            ),
        ),
        Table(
            "cards",
            key=("card_id",),
            required=True,
            doc="医保卡 / 社保卡 / 医保电子凭证",
            columns=(
                Column("card_id", S, required=True),
                Column("person_id", S, required=True, ref=Ref(("persons",))),
                Column("issued_date", D),
                Column("status", S, enum=("active", "lost", "cancelled")),
                Column("status_date", D),
            ),
        ),
        Table(
            "institutions",
            key=("institution_id",),
            required=True,
            doc="定点医疗机构",
            columns=(
                Column("institution_id", S, required=True),
                Column("name", S, required=True),
                Column("level", S, enum=("tertiary", "secondary", "primary", "clinic", "unrated")),
                Column("ownership", S, enum=("public", "private")),
                Column("region_code", S),
                Column("address", S),
                Column("lat", F),
                Column("lon", F),
            ),
        ),
        Table(
            "pharmacies",
            key=("pharmacy_id",),
            doc="定点零售药店",
            columns=(
                Column("pharmacy_id", S, required=True),
                Column("name", S, required=True),
                Column("region_code", S),
                Column("address", S),
                Column("lat", F),
                Column("lon", F),
                Column("chain_id", S),
            ),
        ),
        Table(
            "doctors",
            key=("doctor_id",),
            required=True,
            doc="医保医师 / 药师",
            columns=(
                Column("doctor_id", S, required=True),
                Column("name", S, pii=True),
                Column("institution_id", S, ref=Ref(PROVIDERS)),
                Column("department", S),
                Column("title", S),
                Column("phone", S, pii=True),
            ),
        ),
        Table(
            "claims",
            key=("claim_id",),
            required=True,
            doc="医保结算记录, one row per settlement",
            checks=("end_after_start", "fund_le_total"),
            columns=(
                Column("claim_id", S, required=True),
                Column("person_id", S, required=True, ref=Ref(("persons",))),
                Column("card_id", S, ref=Ref(("cards",))),
                Column("provider_id", S, required=True, ref=Ref(PROVIDERS)),
                Column("doctor_id", S, ref=Ref(("doctors",))),
                Column("visit_type", S, required=True, enum=VISIT_TYPES),
                Column("start_time", DT, required=True),
                Column("end_time", DT),
                Column("diagnosis_code", S),
                Column("total_amount", M, required=True),
                Column("fund_amount", M, required=True),
                Column("terminal_id", S),
            ),
        ),
        Table(
            "claim_items",
            key=("claim_id", "item_code", "_row_hash"),
            doc="费用明细",
            columns=(
                Column("claim_id", S, required=True, ref=Ref(("claims",))),
                Column("item_code", S, required=True),
                Column("item_name", S),
                Column(
                    "item_kind",
                    S,
                    enum=("drug", "exam", "treatment", "material", "bed", "other"),
                ),
                Column("quantity", F),
                Column("amount", M, required=True),
            ),
        ),
        Table(
            "reimbursements",
            key=("reimbursement_id",),
            doc="手工报销 / 零星报销 at the service window",
            checks=("paid_le_claimed",),
            columns=(
                Column("reimbursement_id", S, required=True),
                Column("person_id", S, required=True, ref=Ref(("persons",))),
                Column("submitted_date", D, required=True),
                Column("amount_claimed", M, required=True),
                Column("amount_paid", M),
                Column("handler_id", S),
                Column("submitter_phone", S, pii=True),
                Column("payee_account", S, pii=True),
            ),
        ),
        Table(
            "invoices",
            key=("invoice_id",),
            doc="医疗票据, belongs to reimbursements",
            columns=(
                Column("invoice_id", S, required=True),
                Column("reimbursement_id", S, required=True, ref=Ref(("reimbursements",))),
                Column("issuer_id", S, required=True, ref=Ref(PROVIDERS, external_ok=True)),
                Column("issue_date", D, required=True),
                Column("amount", M, required=True),
                Column("visit_type", S, enum=VISIT_TYPES),
                Column("diagnosis_code", S),
            ),
        ),
        Table(
            "referrals",
            key=("referral_id",),
            doc="转诊转院",
            columns=(
                Column("referral_id", S, required=True),
                Column("person_id", S, required=True, ref=Ref(("persons",))),
                Column("from_provider_id", S, required=True, ref=Ref(PROVIDERS)),
                Column("to_provider_id", S, required=True, ref=Ref(PROVIDERS, external_ok=True)),
                Column("referral_date", D, required=True),
                Column("doctor_id", S, ref=Ref(("doctors",))),
                Column("diagnosis_code", S),
            ),
        ),
    )
}

#: Load order: every table comes after the tables it refers to.
LOAD_ORDER: tuple[str, ...] = (
    "persons",
    "cards",
    "institutions",
    "pharmacies",
    "doctors",
    "claims",
    "claim_items",
    "reimbursements",
    "invoices",
    "referrals",
)
REQUIRED_TABLES = tuple(n for n in LOAD_ORDER if TABLES[n].required)
OPTIONAL_TABLES = tuple(n for n in LOAD_ORDER if not TABLES[n].required)

assert set(LOAD_ORDER) == set(TABLES)
