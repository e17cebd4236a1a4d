"""ringfinder synth: contract, determinism, integrity, and the planted truth."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from ringfinder.schema import LOAD_ORDER, TABLES
from ringfinder.synth import SynthError, synthesize
from ringfinder.synth.ids import id_number_valid
from ringfinder.synth.plan import LOOKALIKE_KINDS, SCHEME_KINDS

PERSONS = 3000
SEED = 11


def _read(city: Path, table: str) -> pd.DataFrame:
    return pd.read_csv(city / f"{table}.csv", dtype=str, keep_default_na=False, na_values=[""])


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "city"
    summary = synthesize(out, persons=PERSONS, seed=SEED)
    assert summary.rows["persons"] == PERSONS
    return out


@pytest.fixture(scope="module")
def tables(city: Path) -> dict[str, pd.DataFrame]:
    return {t: _read(city, t) for t in LOAD_ORDER}


@pytest.fixture(scope="module")
def truth(city: Path) -> dict:
    return json.loads((city / "truth.json").read_text(encoding="utf-8"))


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_same_seed_same_bytes_other_seed_differs(city: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    synthesize(again, persons=PERSONS, seed=SEED)
    assert _digest(again) == _digest(city)
    other = tmp_path / "other"
    synthesize(other, persons=PERSONS, seed=SEED + 1)
    differ = [n for n, h in _digest(other).items() if _digest(city)[n] != h]
    assert "claims.csv" in differ and "persons.csv" in differ and "truth.json" in differ


def test_columns_match_the_schema(city: Path) -> None:
    for table in LOAD_ORDER:
        with (city / f"{table}.csv").open(encoding="utf-8") as fh:
            header = fh.readline().strip()
        assert header.replace('"', "").split(",") == TABLES[table].column_names, table


def test_value_formats(city: Path, tables: dict[str, pd.DataFrame]) -> None:
    claims = tables["claims"]
    assert claims["start_time"].str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d").all()
    assert claims["total_amount"].str.fullmatch(r"\d+\.\d\d").all()
    assert tables["persons"]["birth_date"].str.fullmatch(r"\d{4}-\d\d-\d\d").all()
    assert tables["persons"]["person_id"].str.fullmatch(r"\d{20}").all()
    assert tables["institutions"]["institution_id"].str.fullmatch(r"H\d{11}").all()
    assert tables["pharmacies"]["pharmacy_id"].str.fullmatch(r"P\d{11}").all()
    phones = tables["persons"]["phone"].dropna()
    assert phones.str.fullmatch(r"1\d{10}").all()
    # claims come in time order, with ids from one sequence
    assert claims["start_time"].is_monotonic_increasing
    assert claims["claim_id"].is_unique and claims["claim_id"].is_monotonic_increasing
    assert (claims["start_time"].str[:4] == "2025").mean() > 0.999


def test_id_numbers_and_gender(tables: dict[str, pd.DataFrame]) -> None:
    persons = tables["persons"]
    ids = persons["id_number"].dropna()
    assert len(ids) >= 0.99 * len(persons)
    assert all(id_number_valid(x) for x in ids)
    assert ids.is_unique
    with_id = persons.dropna(subset=["id_number"])
    parity = with_id["id_number"].str[16].astype(int) % 2
    assert ((parity == 1) == (with_id["gender"] == "M")).all()
    assert (with_id["id_number"].str[6:14] == with_id["birth_date"].str.replace("-", "")).all()
    assert persons["person_id"].is_unique


def test_referential_integrity(tables: dict[str, pd.DataFrame]) -> None:
    persons = set(tables["persons"]["person_id"])
    cards = tables["cards"]
    providers = set(tables["institutions"]["institution_id"]) | set(
        tables["pharmacies"]["pharmacy_id"]
    )
    doctors = tables["doctors"]
    claims = tables["claims"]
    assert set(cards["person_id"]) <= persons and cards["card_id"].is_unique
    assert set(doctors["institution_id"]) <= providers
    assert set(claims["person_id"]) <= persons
    assert set(claims["card_id"].dropna()) <= set(cards["card_id"])
    assert set(claims["provider_id"]) <= providers
    assert set(claims["doctor_id"].dropna()) <= set(doctors["doctor_id"])
    total, fund = claims["total_amount"].astype(float), claims["fund_amount"].astype(float)
    assert ((fund >= 0) & (fund <= total)).all()
    inp = claims.dropna(subset=["end_time"])
    assert (inp["visit_type"] == "inpatient").all()
    assert (inp["end_time"] > inp["start_time"]).all()
    assert set(tables["claim_items"]["claim_id"]) <= set(claims["claim_id"])
    reimb = tables["reimbursements"]
    assert set(reimb["person_id"]) <= persons
    assert (reimb["amount_paid"].astype(float) <= reimb["amount_claimed"].astype(float)).all()
    inv = tables["invoices"]
    assert set(inv["reimbursement_id"]) == set(reimb["reimbursement_id"])
    assert inv["invoice_id"].is_unique
    assert not set(inv["issuer_id"]) & providers  # out-of-area issuers
    refs = tables["referrals"]
    assert set(refs["person_id"]) <= persons and set(refs["from_provider_id"]) <= providers
    # the card a claim uses belongs to the claimant, except where a planted scheme says so
    owner = cards.set_index("card_id")["person_id"]
    with_card = claims.dropna(subset=["card_id"])
    assert (owner[with_card["card_id"]].to_numpy() == with_card["person_id"].to_numpy()).all()


def test_realistic_volumes(truth: dict, tables: dict[str, pd.DataFrame]) -> None:
    claims = tables["claims"]
    planted = {p for g in truth["schemes"] + truth["lookalikes"] for p in g["persons"]}
    honest = claims[~claims["person_id"].isin(planted)]
    n_honest = PERSONS - len(planted)
    assert 8 <= len(honest) / n_honest <= 13
    inpatient = (honest["visit_type"] == "inpatient").sum() / n_honest
    assert 0.12 <= inpatient <= 0.3
    assert len(tables["claim_items"]) <= 1.5 * len(claims)
    items = (
        tables["claim_items"]["amount"]
        .astype(float)
        .groupby(tables["claim_items"]["claim_id"])
        .sum()
    )
    totals = claims.set_index("claim_id")["total_amount"].astype(float)[items.index]
    assert (abs(items - totals) <= 0.01 + 0.001 * totals).mean() > 0.98
    dead = tables["persons"].dropna(subset=["death_date"])
    assert 0.002 <= len(dead) / PERSONS <= 0.015


def test_truth_shape_and_members_exist(truth: dict, tables: dict[str, pd.DataFrame]) -> None:
    assert truth["generator"] == "ringfinder.synth" and truth["version"] == 1
    assert (truth["seed"], truth["persons"], truth["year"]) == (SEED, PERSONS, 2025)
    kinds = [s["kind"] for s in truth["schemes"]]
    for kind in SCHEME_KINDS:
        assert kinds.count(kind) >= 2, kind
    assert set(kinds) == set(SCHEME_KINDS)
    ids = {
        "persons": set(tables["persons"]["person_id"]),
        "cards": set(tables["cards"]["card_id"]),
        "doctors": set(tables["doctors"]["doctor_id"]),
        "pharmacies": set(tables["pharmacies"]["pharmacy_id"]),
    }
    for group in truth["schemes"] + truth["lookalikes"]:
        for key, known in ids.items():
            assert set(group[key]) <= known, (group["id"], key)
        assert group[key] == sorted(group[key])
    for s in truth["schemes"]:
        defining = "cards" if s["kind"] in ("shared_card", "pharmacy_resale") else "persons"
        assert len(s[defining]) >= 3, s["id"]
    all_persons = [p for s in truth["schemes"] for p in s["persons"]]
    assert len(all_persons) == len(set(all_persons)), "a person is in two schemes"
    assert {g["kind"] for g in truth["lookalikes"]} == set(LOOKALIKE_KINDS)


def _schemes(truth: dict, kind: str) -> list[dict]:
    return [s for s in truth["schemes"] if s["kind"] == kind]


def test_co_admission_members_are_admitted_together(
    truth: dict, tables: dict[str, pd.DataFrame]
) -> None:
    claims = tables["claims"]
    inp = claims[claims["visit_type"] == "inpatient"]
    for s in _schemes(truth, "co_admission"):
        at = inp[inp["provider_id"].isin(s["institutions"]) & inp["person_id"].isin(s["persons"])]
        assert set(at["person_id"]) == set(s["persons"])
        per_day = at.groupby(at["start_time"].str[:10])["person_id"].nunique()
        assert (per_day >= 0.4 * len(s["persons"])).sum() >= 3


def test_shared_cards_settle_in_bursts(truth: dict, tables: dict[str, pd.DataFrame]) -> None:
    claims = tables["claims"]
    persons = tables["persons"].set_index("person_id")
    after_death = 0
    for s in _schemes(truth, "shared_card"):
        provider = s["institutions"] + s["pharmacies"]
        assert len(provider) == 1
        at = claims[claims["provider_id"].isin(provider) & claims["card_id"].isin(s["cards"])]
        assert set(at["card_id"]) == set(s["cards"])
        assert set(at["person_id"]) == set(s["persons"])
        assert at["terminal_id"].value_counts(normalize=True).iloc[0] > 0.9
        t = pd.to_datetime(at["start_time"]).sort_values()
        assert (t.diff().dt.total_seconds() < 600).mean() > 0.7
        death = persons.loc[at["person_id"], "death_date"].to_numpy()
        after_death += int(
            (pd.notna(death) & (at["start_time"].str[:10].to_numpy() > death.astype(str))).sum()
        )
    assert after_death > 0, "some scheme must use a deceased holder's card"


def test_fake_invoices_share_an_agent(truth: dict, tables: dict[str, pd.DataFrame]) -> None:
    reimb = tables["reimbursements"]
    own_phone = tables["persons"].set_index("person_id")["phone"]
    refs = tables["referrals"]
    for s in _schemes(truth, "fake_invoice"):
        r = reimb[reimb["person_id"].isin(s["persons"])]
        agent = r["submitter_phone"].value_counts().index[0]
        mine = r[r["submitter_phone"] == agent]
        assert set(mine["person_id"]) == set(s["persons"])
        assert (own_phone[mine["person_id"]].to_numpy() != agent).all()
        inv = tables["invoices"][
            tables["invoices"]["reimbursement_id"].isin(mine["reimbursement_id"])
        ]
        assert set(inv["issuer_id"]) <= set(s["institutions"])
        numbers = inv["invoice_id"].str[8:].astype(int)
        assert numbers.max() - numbers.min() < 10 * len(inv) + 100
        matched = refs[
            refs["person_id"].isin(s["persons"]) & refs["to_provider_id"].isin(s["institutions"])
        ]
        assert matched.empty


def test_pharmacy_resale_buys_far_beyond_dosage(
    truth: dict, tables: dict[str, pd.DataFrame]
) -> None:
    claims, items = tables["claims"], tables["claim_items"]
    for s in _schemes(truth, "pharmacy_resale"):
        at = claims[
            claims["provider_id"].isin(s["pharmacies"]) & claims["card_id"].isin(s["cards"])
        ]
        at = at[at["doctor_id"].isin(s["doctors"])]
        assert set(at["card_id"]) == set(s["cards"])
        q = items[items["claim_id"].isin(at["claim_id"])]["quantity"].astype(float)
        assert q.median() >= 8


def test_referral_loops_cycle(truth: dict, tables: dict[str, pd.DataFrame]) -> None:
    refs, claims = tables["referrals"], tables["claims"]
    for s in _schemes(truth, "referral_loop"):
        inst = set(s["institutions"])
        assert 3 <= len(inst) <= 4
        r = refs[refs["person_id"].isin(s["persons"]) & refs["from_provider_id"].isin(inst)]
        r = r[r["to_provider_id"].isin(inst)]
        assert (r.groupby("person_id").size() >= 4).all() and set(r["person_id"]) == set(
            s["persons"]
        )
        stays = claims[(claims["visit_type"] == "inpatient") & claims["provider_id"].isin(inst)]
        assert (stays[stays["person_id"].isin(s["persons"])].groupby("person_id").size() >= 6).all()


def test_lookalikes_have_their_activity(truth: dict, tables: dict[str, pd.DataFrame]) -> None:
    claims = tables["claims"]
    for g in truth["lookalikes"]:
        if g["kind"] == "dialysis_cohort":
            at = claims[claims["provider_id"].isin(g["institutions"])]
            assert set(at["person_id"]) == set(g["persons"]) and len(g["persons"]) >= 20
            assert (at["diagnosis_code"] == "N18.500").all()
            assert at.groupby("person_id").size().median() > 100
        if g["kind"] in ("crowded_hospital", "busy_pharmacy"):
            assert not g["persons"] and len(g["institutions"] + g["pharmacies"]) == 1


def test_parquet_output(tmp_path: Path) -> None:
    synthesize(tmp_path / "pq", persons=1500, seed=3, fmt="parquet")
    claims = pq.read_table(tmp_path / "pq" / "claims.parquet")
    assert claims.schema.names == TABLES["claims"].column_names
    assert claims.schema.field("total_amount").type == pa.decimal128(18, 2)
    assert claims.schema.field("claim_id").type == pa.string()
    assert not list((tmp_path / "pq").glob("*.csv"))
    synthesize(tmp_path / "pq2", persons=1500, seed=3, fmt="parquet")
    assert _digest(tmp_path / "pq") == _digest(tmp_path / "pq2")


def test_output_folder_rules(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(SynthError, match="not written by ringfinder synth"):
        synthesize(foreign, persons=1000, seed=1)
    with pytest.raises(SynthError, match="--persons"):
        synthesize(tmp_path / "x", persons=10, seed=1)
    # rewriting an earlier output in another format leaves one format behind
    ours = tmp_path / "ours"
    synthesize(ours, persons=1000, seed=1, fmt="parquet")
    synthesize(ours, persons=1000, seed=1)
    assert not list(ours.glob("*.parquet")) and len(list(ours.glob("*.csv"))) == 10


def test_cli(tmp_path: Path) -> None:
    from ringfinder.cli import synth_cmd

    app = typer.Typer()
    app.command("synth")(synth_cmd.synth)
    app.command("other")(lambda: None)  # keep synth a subcommand
    res = CliRunner().invoke(
        app, ["synth", str(tmp_path / "c"), "--persons", "1000", "--seed", "2"]
    )
    assert res.exit_code == 0, res.output
    assert "claims" in res.output and "co_admission" in res.output
    truth = json.loads((tmp_path / "c" / "truth.json").read_text(encoding="utf-8"))
    assert truth["seed"] == 2 and truth["persons"] == 1000


def test_id_check_digit_examples() -> None:
    assert id_number_valid("11010519491231002X")  # the textbook example (GB 11643)
    assert not id_number_valid("110105194912310021")
    assert not id_number_valid("11010519491231002")
