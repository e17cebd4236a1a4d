"""The graph model: which workspace rows become which Neo4j nodes and relationships.

Declarative: each spec is a SQL query over the (validated, pseudonymised) workspace
tables and the label / relationship type it feeds. Labels and types come only from
this module (an allow-list); values always travel as parameters.

Nodes: Person, Card, Institution (external ones flagged), Pharmacy, Doctor, Claim,
Reimbursement, Invoice, Item, and shared identifiers as their own nodes: Phone,
Account, Address, Terminal, Region, Handler.
Relationships: HOLDS, BY_PERSON, WITH_CARD, AT, TREATED_BY, ON_TERMINAL, WORKS_AT,
HAS_PHONE, HAS_ACCOUNT, HAS_ADDRESS, LIVES_IN, IN_REGION, HAS_INVOICE, ISSUED_BY,
SUBMITTED_BY, PAID_TO, HANDLED_BY, REFERRED (one per referral row), INCLUDES (one per
claim item), and the aggregate VISITED {claims, amount, first, last} that keeps
Bloom readable at city scale.
"""

from __future__ import annotations

from dataclasses import dataclass

LABELS = (
    "Person",
    "Card",
    "Institution",
    "Pharmacy",
    "Doctor",
    "Claim",
    "Reimbursement",
    "Invoice",
    "Item",
    "Phone",
    "Account",
    "Address",
    "Terminal",
    "Region",
    "Handler",
    "Lead",
    "Community",
)
#: The property that identifies each label (uniqueness constraint in cypher/schema.cypher).
KEYS = {
    "Person": "person_id",
    "Card": "card_id",
    "Institution": "institution_id",
    "Pharmacy": "pharmacy_id",
    "Doctor": "doctor_id",
    "Claim": "claim_id",
    "Reimbursement": "reimbursement_id",
    "Invoice": "invoice_id",
    "Item": "item_code",
    "Phone": "key",
    "Account": "key",
    "Address": "key",
    "Terminal": "key",
    "Region": "region_code",
    "Handler": "key",
    "Lead": "lead_id",
    "Community": "community_id",
}
REL_TYPES = (
    "HOLDS",
    "BY_PERSON",
    "WITH_CARD",
    "AT",
    "TREATED_BY",
    "ON_TERMINAL",
    "WORKS_AT",
    "HAS_PHONE",
    "HAS_ACCOUNT",
    "HAS_ADDRESS",
    "LIVES_IN",
    "IN_REGION",
    "HAS_INVOICE",
    "ISSUED_BY",
    "SUBMITTED_BY",
    "PAID_TO",
    "HANDLED_BY",
    "REFERRED",
    "INCLUDES",
    "VISITED",
    "INVOLVES",
    "MEMBER_OF",
)

# SQL fragment: the label of a provider id (institution or pharmacy).
_PROVIDER_LABEL = (
    "CASE WHEN {col} IN (SELECT pharmacy_id FROM pharmacies) THEN 'Pharmacy' ELSE 'Institution' END"
)


@dataclass(frozen=True)
class NodeSpec:
    """Rows ``key, <props...>`` from ``sql`` become ``(:label {KEYS[label]: key})``."""

    name: str
    label: str
    sql: str
    requires: tuple[str, ...]  # runs when any of these tables has rows


@dataclass(frozen=True)
class RelSpec:
    """Rows ``a, b, [a_label], [b_label], [rkey], <props...>`` become relationships.

    ``a_label``/``b_label`` None means the query returns that label per row (for
    polymorphic providers); ``rel_key`` names a property that makes each relationship
    its own (one per source row) instead of one per node pair.
    """

    name: str
    type: str
    a_label: str | None
    b_label: str | None
    sql: str
    requires: tuple[str, ...]
    rel_key: str | None = None


NODES: tuple[NodeSpec, ...] = (
    NodeSpec(
        "persons",
        "Person",
        "SELECT person_id AS key, gender, birth_date, region_code, insurance_type, "
        "employer_id, death_date, name AS name_pseudonym FROM persons",
        ("persons",),
    ),
    NodeSpec(
        "cards",
        "Card",
        "SELECT card_id AS key, status, issued_date, status_date FROM cards",
        ("cards",),
    ),
    NodeSpec(
        "institutions",
        "Institution",
        "SELECT institution_id AS key, name, level, ownership, region_code, lat, lon, "
        "false AS external FROM institutions",
        ("institutions",),
    ),
    NodeSpec(
        "external_institutions",
        "Institution",
        """SELECT DISTINCT id AS key, id AS name, true AS external FROM (
               SELECT issuer_id AS id FROM invoices UNION SELECT to_provider_id FROM referrals)
           WHERE id NOT IN (SELECT institution_id FROM institutions)
             AND id NOT IN (SELECT pharmacy_id FROM pharmacies)""",
        ("invoices", "referrals"),
    ),
    NodeSpec(
        "pharmacies",
        "Pharmacy",
        "SELECT pharmacy_id AS key, name, region_code, lat, lon, chain_id FROM pharmacies",
        ("pharmacies",),
    ),
    NodeSpec(
        "doctors",
        "Doctor",
        "SELECT doctor_id AS key, department, title, name AS name_pseudonym FROM doctors",
        ("doctors",),
    ),
    NodeSpec(
        "claims",
        "Claim",
        "SELECT claim_id AS key, visit_type, start_time, end_time, diagnosis_code, "
        "CAST(total_amount AS DOUBLE) AS total_amount, "
        "CAST(fund_amount AS DOUBLE) AS fund_amount FROM claims",
        ("claims",),
    ),
    NodeSpec(
        "reimbursements",
        "Reimbursement",
        "SELECT reimbursement_id AS key, submitted_date, "
        "CAST(amount_claimed AS DOUBLE) AS amount_claimed, "
        "CAST(amount_paid AS DOUBLE) AS amount_paid FROM reimbursements",
        ("reimbursements",),
    ),
    NodeSpec(
        "invoices",
        "Invoice",
        "SELECT invoice_id AS key, issue_date, CAST(amount AS DOUBLE) AS amount, visit_type, "
        "diagnosis_code FROM invoices",
        ("invoices",),
    ),
    NodeSpec(
        "items",
        "Item",
        "SELECT item_code AS key, any_value(item_name) AS item_name, "
        "any_value(item_kind) AS item_kind FROM claim_items GROUP BY item_code",
        ("claim_items",),
    ),
    NodeSpec(
        "phones",
        "Phone",
        """SELECT DISTINCT key FROM (
               SELECT phone AS key FROM persons UNION ALL SELECT phone FROM doctors
               UNION ALL SELECT submitter_phone FROM reimbursements) WHERE key IS NOT NULL""",
        ("persons",),
    ),
    NodeSpec(
        "accounts",
        "Account",
        """SELECT DISTINCT key FROM (
               SELECT bank_account AS key FROM persons
               UNION ALL SELECT payee_account FROM reimbursements) WHERE key IS NOT NULL""",
        ("persons",),
    ),
    NodeSpec(
        "addresses",
        "Address",
        "SELECT DISTINCT address AS key FROM persons WHERE address IS NOT NULL",
        ("persons",),
    ),
    NodeSpec(
        "terminals",
        "Terminal",
        "SELECT DISTINCT terminal_id AS key FROM claims WHERE terminal_id IS NOT NULL",
        ("claims",),
    ),
    NodeSpec(
        "regions",
        "Region",
        """SELECT DISTINCT key FROM (
               SELECT region_code AS key FROM persons
               UNION ALL SELECT region_code FROM institutions
               UNION ALL SELECT region_code FROM pharmacies) WHERE key IS NOT NULL""",
        ("persons",),
    ),
    NodeSpec(
        "handlers",
        "Handler",
        "SELECT DISTINCT handler_id AS key FROM reimbursements WHERE handler_id IS NOT NULL",
        ("reimbursements",),
    ),
)

_P = _PROVIDER_LABEL
RELS: tuple[RelSpec, ...] = (
    RelSpec(
        "holds", "HOLDS", "Person", "Card", "SELECT person_id a, card_id b FROM cards", ("cards",)
    ),
    RelSpec(
        "claim_person",
        "BY_PERSON",
        "Claim",
        "Person",
        "SELECT claim_id a, person_id b FROM claims",
        ("claims",),
    ),
    RelSpec(
        "claim_card",
        "WITH_CARD",
        "Claim",
        "Card",
        "SELECT claim_id a, card_id b FROM claims WHERE card_id IS NOT NULL",
        ("claims",),
    ),
    RelSpec(
        "claim_provider",
        "AT",
        "Claim",
        None,
        f"SELECT claim_id a, provider_id b, {_P.format(col='provider_id')} b_label FROM claims",
        ("claims",),
    ),
    RelSpec(
        "claim_doctor",
        "TREATED_BY",
        "Claim",
        "Doctor",
        "SELECT claim_id a, doctor_id b FROM claims WHERE doctor_id IS NOT NULL",
        ("claims",),
    ),
    RelSpec(
        "claim_terminal",
        "ON_TERMINAL",
        "Claim",
        "Terminal",
        "SELECT claim_id a, terminal_id b FROM claims WHERE terminal_id IS NOT NULL",
        ("claims",),
    ),
    RelSpec(
        "doctor_works_at",
        "WORKS_AT",
        "Doctor",
        None,
        f"SELECT doctor_id a, institution_id b, {_P.format(col='institution_id')} b_label "
        "FROM doctors WHERE institution_id IS NOT NULL",
        ("doctors",),
    ),
    RelSpec(
        "person_phone",
        "HAS_PHONE",
        "Person",
        "Phone",
        "SELECT person_id a, phone b FROM persons WHERE phone IS NOT NULL",
        ("persons",),
    ),
    RelSpec(
        "doctor_phone",
        "HAS_PHONE",
        "Doctor",
        "Phone",
        "SELECT doctor_id a, phone b FROM doctors WHERE phone IS NOT NULL",
        ("doctors",),
    ),
    RelSpec(
        "person_account",
        "HAS_ACCOUNT",
        "Person",
        "Account",
        "SELECT person_id a, bank_account b FROM persons WHERE bank_account IS NOT NULL",
        ("persons",),
    ),
    RelSpec(
        "person_address",
        "HAS_ADDRESS",
        "Person",
        "Address",
        "SELECT person_id a, address b FROM persons WHERE address IS NOT NULL",
        ("persons",),
    ),
    RelSpec(
        "person_region",
        "LIVES_IN",
        "Person",
        "Region",
        "SELECT person_id a, region_code b FROM persons WHERE region_code IS NOT NULL",
        ("persons",),
    ),
    RelSpec(
        "institution_region",
        "IN_REGION",
        "Institution",
        "Region",
        "SELECT institution_id a, region_code b FROM institutions WHERE region_code IS NOT NULL",
        ("institutions",),
    ),
    RelSpec(
        "pharmacy_region",
        "IN_REGION",
        "Pharmacy",
        "Region",
        "SELECT pharmacy_id a, region_code b FROM pharmacies WHERE region_code IS NOT NULL",
        ("pharmacies",),
    ),
    RelSpec(
        "reimbursement_person",
        "BY_PERSON",
        "Reimbursement",
        "Person",
        "SELECT reimbursement_id a, person_id b FROM reimbursements",
        ("reimbursements",),
    ),
    RelSpec(
        "reimbursement_invoice",
        "HAS_INVOICE",
        "Reimbursement",
        "Invoice",
        "SELECT reimbursement_id a, invoice_id b FROM invoices",
        ("invoices",),
    ),
    RelSpec(
        "invoice_issuer",
        "ISSUED_BY",
        "Invoice",
        None,
        f"SELECT invoice_id a, issuer_id b, {_P.format(col='issuer_id')} b_label FROM invoices",
        ("invoices",),
    ),
    RelSpec(
        "reimbursement_phone",
        "SUBMITTED_BY",
        "Reimbursement",
        "Phone",
        "SELECT reimbursement_id a, submitter_phone b FROM reimbursements "
        "WHERE submitter_phone IS NOT NULL",
        ("reimbursements",),
    ),
    RelSpec(
        "reimbursement_account",
        "PAID_TO",
        "Reimbursement",
        "Account",
        "SELECT reimbursement_id a, payee_account b FROM reimbursements "
        "WHERE payee_account IS NOT NULL",
        ("reimbursements",),
    ),
    RelSpec(
        "reimbursement_handler",
        "HANDLED_BY",
        "Reimbursement",
        "Handler",
        "SELECT reimbursement_id a, handler_id b FROM reimbursements WHERE handler_id IS NOT NULL",
        ("reimbursements",),
    ),
    RelSpec(
        "referrals",
        "REFERRED",
        None,
        None,
        f"""SELECT from_provider_id a, to_provider_id b,
               {_P.format(col="from_provider_id")} a_label,
               {_P.format(col="to_provider_id")} b_label,
               referral_id rkey, person_id, referral_date AS date, doctor_id, diagnosis_code
            FROM referrals""",
        ("referrals",),
        rel_key="referral_id",
    ),
    RelSpec(
        "claim_items",
        "INCLUDES",
        "Claim",
        "Item",
        "SELECT claim_id a, item_code b, _row_hash rkey, quantity, "
        "CAST(amount AS DOUBLE) AS amount FROM claim_items",
        ("claim_items",),
        rel_key="row_hash",
    ),
    RelSpec(
        "visited",
        "VISITED",
        "Person",
        None,
        f"""SELECT person_id a, provider_id b, {_P.format(col="provider_id")} b_label,
               count(*) AS claims, CAST(sum(total_amount) AS DOUBLE) AS amount,
               CAST(min(start_time) AS DATE) AS first, CAST(max(start_time) AS DATE) AS last
            FROM claims GROUP BY person_id, provider_id""",
        ("claims",),
    ),
)

for _spec in NODES:
    assert _spec.label in LABELS, _spec
for _rel in RELS:
    assert _rel.type in REL_TYPES, _rel
    assert _rel.a_label in (None, *LABELS) and _rel.b_label in (None, *LABELS), _rel
