"""The graph in a real Neo4j: load counts, idempotence, resume, write-back, Bloom phrases.

Every test here talks to the Neo4j that ``tests/neo4j_fixture.py`` starts (no mocks).
A small planted city (3,000 persons) is generated once for the module.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ringfinder.engine.embedded import EmbeddedEngine
from ringfinder.neo4j import queries
from ringfinder.neo4j.model import KEYS, LABELS, NODES, REL_TYPES, RELS
from ringfinder.neo4j.perspective import read_phrases
from ringfinder.neo4j.writer import GraphWriter, actual_counts, expected_counts
from ringfinder.schema import LOAD_ORDER, TABLES
from tests.neo4j_fixture import clear_database, server_env

RF = shutil.which("ringfinder") or str(Path(sys.executable).with_name("ringfinder"))
DB = "neo4j"


def rf(*args: str, uri: str) -> subprocess.CompletedProcess[str]:
    """The installed console script, pointed at the test server by environment only."""
    env = server_env(
        {
            **os.environ,
            "LANG": "en_US.UTF-8",
            "LC_ALL": "en_US.UTF-8",
            "COLUMNS": "200",
            "RINGFINDER_KEY": "test-key-0123456789abcdef",
        },
        uri,
    )
    return subprocess.run(
        [RF, *args], capture_output=True, text=True, env=env, timeout=600, stdin=subprocess.DEVNULL
    )


def count(driver: Any, query: str, **params: Any) -> int:
    records, _, _ = driver.execute_query(query, params, database_=DB)
    return int(records[0][0])


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ringfinder.synth import synthesize

    out = tmp_path_factory.mktemp("graph_city") / "city"
    synthesize(out, persons=3000, seed=11)
    return out


@pytest.fixture(scope="module")
def workspace(city: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The city validated into a workspace (what ``neo4j load`` writes from)."""
    from ringfinder.load import load_folder

    ws = tmp_path_factory.mktemp("graph_ws")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RINGFINDER_KEY", "test-key-0123456789abcdef")
        with EmbeddedEngine(ws) as engine:
            load_folder(engine.con, city)
    return ws


# --------------------------------------------------------------------- no server needed


def test_every_detector_query_loads_and_names_its_parameters() -> None:
    names = queries.query_names()
    for table in LOAD_ORDER:  # one query rebuilds each canonical table
        assert table in names
        text = queries.load_query(table)
        for col in TABLES[table].column_names:
            assert re.search(rf"\bAS {col}\b", text), (table, col)
        # streamed: a server-side ORDER BY holds every row in transaction memory (the
        # engine sorts the pulled rows in DuckDB)
        assert "ORDER BY" not in text, table
    for name in names:
        assert queries.load_query(name)
        assert queries.describe(name), f"{name}.cypher has no header saying what it answers"
        assert "//" not in queries.load_query(name)
    assert queries.parameters("referral_loop_legs") == {"loop_days", "max_cycle", "us", "rs"}
    assert queries.parameters("co_admission_pairs") == {"k", "cap"}
    with pytest.raises(Exception, match="not found"):
        queries.load_query("no_such_query")


def test_the_query_library_readme_names_every_file() -> None:
    from ringfinder.resources import resource_dir

    root = resource_dir("cypher")
    readme = (root / "README.md").read_text(encoding="utf-8")
    for path in sorted(root.rglob("*.cypher")):
        assert f"`{path.relative_to(root).as_posix()}`" in readme, path.name


def test_schema_constrains_every_label_key_and_names_no_other_label() -> None:
    from ringfinder.resources import resource_file

    text = resource_file("cypher", "schema.cypher").read_text(encoding="utf-8")
    constrained = dict(re.findall(r"FOR \(n:(\w+)\) REQUIRE n\.(\w+) IS UNIQUE", text))
    assert constrained == KEYS
    assert set(re.findall(r"FOR \(n:(\w+)\)", text)) <= set(LABELS)


# --------------------------------------------------------------------- a real server


@pytest.mark.neo4j
def test_load_counts_equal_rows_idempotent_and_resumable(
    neo4j_driver: Any, workspace: Path
) -> None:
    with EmbeddedEngine(workspace) as engine:
        con = engine.con
        want_nodes, want_rels = expected_counts(con)

        # interrupted in the middle of the claims: batches committed so far stay
        class Interrupted(Exception):
            pass

        def stop_in_claims(spec: str, done: int, total: int) -> None:
            if spec == "claims" and done >= 10_000:
                raise Interrupted

        writer = GraphWriter(neo4j_driver, con, database=DB, batch_rows=5_000, target="t")
        with pytest.raises(Interrupted):
            writer.write_all(stop_in_claims, resume=False)
        assert writer._done("claims") == 10_000  # the position: every batch before it committed
        # batches already in flight past the position finish (at most one per worker)
        have = count(neo4j_driver, "MATCH (c:Claim) RETURN count(c)")
        assert 10_000 <= have <= 10_000 + writer.workers * 5_000
        assert count(neo4j_driver, "MATCH ()-[r]->() RETURN count(r)") == 0

        resumed = GraphWriter(neo4j_driver, con, database=DB, batch_rows=5_000, target="t")
        report = resumed.write_all()
        # the specs written before the stop are skipped or continued, not started over
        before = [spec.name for spec in NODES][: [spec.name for spec in NODES].index("claims") + 1]
        assert report.resumed == before
        assert report.nodes["claims"] == want_nodes["Claim"]  # total, not only the rest
        have_nodes, have_rels = actual_counts(neo4j_driver, DB)
        assert have_nodes == want_nodes
        assert have_rels == want_rels

        assert_graph_is_the_rows(neo4j_driver, con)

        # loading again changes nothing
        again = GraphWriter(neo4j_driver, con, database=DB, target="t").write_all()
        assert again.resumed == []
        assert actual_counts(neo4j_driver, DB) == (have_nodes, have_rels)
        assert_graph_is_the_rows(neo4j_driver, con)


def test_every_relationship_spec_gives_distinct_rows(workspace: Path) -> None:
    """A fresh type is CREATEd, not MERGEd: a repeated (a, b, rkey) would be two edges."""
    with EmbeddedEngine(workspace) as engine:
        for rel in RELS:
            cols = "a, b" + (", rkey" if rel.rel_key else "")
            total, distinct = engine.con.execute(
                f"SELECT count(*), count(DISTINCT ({cols})) FROM ({rel.sql})"
            ).fetchone()  # type: ignore[misc]
            assert total == distinct, rel.name
            assert total > 0 or rel.name in {"doctor_phone"}, rel.name


class LostReplies:
    """A driver whose first CREATE of each marked statement commits on the server, and then
    the client sees ``SessionExpired`` (the reply lost with the connection)."""

    MARKS = ("`Claim`", "`BY_PERSON`", "`AT`", "`INCLUDES`")

    def __init__(self, driver: Any) -> None:
        self.driver = driver
        self.lost: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.driver, name)

    def session(self, **kw: Any) -> Any:
        from contextlib import contextmanager

        from neo4j.exceptions import SessionExpired

        outer = self

        class Session:
            def __init__(self, real: Any) -> None:
                self.real = real

            def execute_write(self, fn: Any) -> Any:
                ran: list[str] = []

                class Tx:
                    def __init__(self, tx: Any) -> None:
                        self.tx = tx

                    def run(self, query: str, **params: Any) -> Any:
                        ran.append(query)
                        return self.tx.run(query, **params)

                result = self.real.execute_write(lambda tx: fn(Tx(tx)))
                for q in ran:
                    mark = next((m for m in outer.MARKS if m in q and m not in outer.lost), None)
                    if " CREATE (" in q and mark:
                        outer.lost.append(mark)
                        raise SessionExpired("reply lost after the commit (test)")
                return result

        @contextmanager
        def opened() -> Iterator[Session]:
            with self.driver.session(**kw) as real:
                yield Session(real)

        return opened()


@pytest.mark.neo4j
def test_a_create_batch_whose_reply_is_lost_is_merged_on_retry(
    neo4j_driver: Any, workspace: Path
) -> None:
    """Fresh labels and types are CREATEd, in parallel; a retry never CREATEs again."""
    faulty = LostReplies(neo4j_driver)
    with EmbeddedEngine(workspace) as engine:
        writer = GraphWriter(faulty, engine.con, database=DB, batch_rows=5_000, target="lost")
        assert writer.workers >= 2
        writer.write_all(resume=False)
        assert sorted(faulty.lost) == sorted(LostReplies.MARKS)  # every fault was injected
        assert_graph_is_the_rows(neo4j_driver, engine.con)

        # the hazard is real: the same lost reply on a CREATE retried as CREATE doubles it
        rows = [{"a": k, "b": k} for (k,) in engine.con.execute(
            "SELECT claim_id FROM claims ORDER BY claim_id LIMIT 50").fetchall()]  # fmt: skip
        faulty.MARKS = ("`SELF_TEST`",)
        create = (
            "UNWIND $rows AS row MATCH (a:Claim {claim_id: row.a}) CREATE (a)-[:`SELF_TEST`]->(a)"
        )
        writer._write(create, rows, first=create)
        assert count(neo4j_driver, "MATCH ()-[r:SELF_TEST]->() RETURN count(r)") == 100


def assert_graph_is_the_rows(driver: Any, con: Any) -> None:
    """Counts per label and type are the loaded rows; nothing else and no duplicate key."""
    want_nodes, want_rels = expected_counts(con)
    have_nodes, have_rels = actual_counts(driver, DB)
    assert have_nodes == want_nodes
    assert have_rels == want_rels
    rows = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in LOAD_ORDER}
    assert have_nodes["Person"] == rows["persons"]
    assert have_nodes["Card"] == rows["cards"] == have_rels["HOLDS"]
    assert have_nodes["Claim"] == rows["claims"] == have_rels["AT"]
    assert have_nodes["Reimbursement"] == rows["reimbursements"]
    assert have_nodes["Invoice"] == rows["invoices"] == have_rels["HAS_INVOICE"]
    assert have_rels["INCLUDES"] == rows["claim_items"]
    assert have_rels["REFERRED"] == rows["referrals"]
    assert have_rels["BY_PERSON"] == rows["claims"] + rows["reimbursements"]
    assert count(driver, "MATCH (n) RETURN count(n)") == sum(want_nodes.values())
    assert count(driver, "MATCH ()-[r]->() RETURN count(r)") == sum(want_rels.values())
    for label in ("Person", "Claim", "Phone"):
        key = KEYS[label]
        dupes = count(
            driver,
            f"MATCH (n:{label}) WITH n.{key} AS k, count(*) AS c WHERE c > 1 RETURN count(k)",
        )
        assert dupes == 0, label


@pytest.fixture(scope="module")
def ran(neo4j_server: Any, city: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``ringfinder run CITY --engine neo4j`` once for the write-back and Bloom tests."""
    clear_database(neo4j_server.driver())
    out = tmp_path_factory.mktemp("neo4j_run")
    res = rf("run", str(city), "--engine", "neo4j", "--out", str(out), uri=neo4j_server.uri)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Traceback" not in res.stderr
    yield out


@pytest.mark.neo4j
def test_run_engine_neo4j_writes_leads_back(neo4j_server: Any, ran: Path) -> None:
    driver = neo4j_server.driver()
    leads = [json.loads(x) for x in (ran / "leads.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(leads) >= 5
    run = json.loads((ran / "run.json").read_text(encoding="utf-8"))
    assert run["engine"] == "neo4j"
    info = run["engine_info"]
    assert {
        "referral_loop_legs",
        "co_admission_pairs",
        "shared_card_pairs",
        "fake_invoice_reimbursements",
        "fake_invoice_invoices",
    } <= set(info["cypher"])
    assert info["write"]["rows"] > 0 and info["communities"] == "igraph"

    assert count(driver, "MATCH (l:Lead) RETURN count(l)") == len(leads)
    for lead in leads:
        records, _, _ = driver.execute_query(
            "MATCH (l:Lead {lead_id: $id}) OPTIONAL MATCH (l)-[r:INVOLVES]->(m) "
            "RETURN l.pattern AS pattern, l.score AS score, "
            "collect([labels(m)[0], r.role, m.risk_score, "
            "coalesce(m.person_id, m.card_id, m.doctor_id, m.institution_id, m.pharmacy_id)]) "
            "AS members",
            id=lead["lead_id"],
            database_=DB,
        )
        (rec,) = records
        assert rec["pattern"] == lead["pattern"]
        assert rec["score"] == pytest.approx(lead["score"])
        got: dict[str, set[str]] = {}
        for label, role, risk, key in rec["members"]:
            assert role
            assert risk is not None and risk >= lead["score"] - 1e-9  # the best lead's score
            got.setdefault(label, set()).add(key)
        for kind, label in (
            ("persons", "Person"),
            ("cards", "Card"),
            ("doctors", "Doctor"),
            ("institutions", "Institution"),
            ("pharmacies", "Pharmacy"),
        ):
            assert got.get(label, set()) == set(lead[kind]), (lead["lead_id"], kind)

    members = {m for lead in leads for m in lead["persons"]}
    scored = count(driver, "MATCH (p:Person) WHERE p.risk_score IS NOT NULL RETURN count(p)")
    assert scored == len(members)
    assert count(driver, "MATCH (c:Community) RETURN count(c)") > 0
    assert (
        count(
            driver,
            "MATCH (p:Person)-[:MEMBER_OF]->(c:Community) "
            "WHERE p.community_id <> c.community_id RETURN count(p)",
        )
        == 0
    )


@pytest.mark.neo4j
@pytest.mark.parametrize("pull_batch_rows", [None, 97], ids=["one-batch", "many-batches"])
def test_tables_read_back_from_neo4j_equal_the_workspace(
    neo4j_server: Any, ran: Path, pull_batch_rows: int | None
) -> None:
    from ringfinder.engine.neo4j import MIRROR_DIR, PULL_BATCH_ROWS, Neo4jEngine

    not_in_graph = {
        "persons": ["id_number"],
        "institutions": ["address"],
        "pharmacies": ["address"],
    }
    batch = pull_batch_rows or PULL_BATCH_ROWS
    with Neo4jEngine(
        ran / "workspace", driver=neo4j_server.driver(), pull_batch_rows=batch
    ) as engine:
        mirror = engine.relational()
        # streamed into a DuckDB beside the workspace's, not held in memory
        assert (ran / "workspace" / MIRROR_DIR).is_dir()
        assert engine.tables() == engine.local.tables()
        assert {t: s["rows"] for t, s in engine.stats["pull"].items()} == engine.tables()
        if pull_batch_rows:
            assert max(engine.tables().values()) > 10 * batch  # the big tables span batches
        for table in LOAD_ORDER:
            spec = TABLES[table]
            cols = [c for c in spec.column_names if c not in not_in_graph.get(table, [])]
            if "_row_hash" in spec.key:
                cols.append("_row_hash")
            select = ", ".join(f'"{c}"' for c in cols)
            query = f'SELECT {select} FROM "{table}" ORDER BY ALL'
            want = engine.con.execute(query).df()
            have = mirror.con.execute(query).df()
            pd.testing.assert_frame_equal(have, want, obj=table)
        ids = [r[0] for r in engine.con.execute("SELECT claim_id FROM claims LIMIT 500").fetchall()]
        ids += [
            r[0]
            for r in engine.con.execute("SELECT reimbursement_id FROM reimbursements").fetchall()
        ]
        ids.append("no-such-id")
        summary = engine.evidence_summary(ids)
        assert summary.found == len(ids) - 1
        assert summary == engine.local.evidence_summary(ids)
        assert engine.evidence_summary([]) == engine.local.evidence_summary([])
    assert not (ran / "workspace" / MIRROR_DIR).exists()  # removed when the engine closes


@pytest.mark.neo4j
def test_perspective_is_a_bloom_export_and_every_phrase_finds_rows(
    neo4j_server: Any, ran: Path, tmp_path: Path
) -> None:
    out = tmp_path / "perspective.json"
    res = rf("neo4j", "perspective", str(out), uri=neo4j_server.uri)
    assert res.returncode == 0, res.stderr
    data = json.loads(out.read_text(encoding="utf-8"))

    for key in (
        "name",
        "id",
        "categories",
        "labels",
        "relationshipTypes",
        "palette",
        "templates",
        "version",
        "createdAt",
        "lastEditedAt",
    ):
        assert key in data, key
    assert re.fullmatch(r"\d+\.\d+\.\d+", data["version"])
    assert data["palette"]["colors"] and all(
        re.fullmatch(r"#[0-9A-F]{6}", c) for c in data["palette"]["colors"]
    )
    cats = {c["name"]: c for c in data["categories"]}
    graph_labels = set(LABELS)
    assert set(cats) == graph_labels == set(data["labels"])
    for cat in data["categories"]:
        assert cat["labels"] == [cat["name"]]
        assert re.fullmatch(r"#[0-9A-F]{6}", cat["color"]) and cat["icon"]
        assert sum(c["isCaption"] for c in cat["captions"]) == 1
        assert {"name", "dataType"} <= set(cat["properties"][0])
    person_rules = {r["basedOn"] for r in cats["Person"]["styleRules"]}
    assert {"risk_score", "community_id"} <= person_rules
    assert {t["name"] for t in data["relationshipTypes"]} == set(REL_TYPES)

    # every rel type and label in the data is in the perspective
    driver = neo4j_server.driver()
    in_db, _, _ = driver.execute_query("CALL db.labels() YIELD label RETURN label", database_=DB)
    assert {r["label"] for r in in_db} <= graph_labels
    in_db, _, _ = driver.execute_query(
        "CALL db.relationshipTypes() YIELD relationshipType RETURN relationshipType", database_=DB
    )
    assert {r["relationshipType"] for r in in_db} <= set(REL_TYPES)

    phrases = {p.text: p for p in read_phrases()}
    assert len(data["templates"]) == len(phrases) >= 9
    for tmpl in data["templates"]:
        assert {"text", "cypher", "params", "name", "id"} <= set(tmpl)
        phrase = phrases[tmpl["text"]]
        assert tmpl["cypher"] == phrase.cypher
        used = set(re.findall(r"\$(\w+)", tmpl["cypher"]))
        assert all(p["name"].startswith("$") for p in tmpl["params"])  # as Bloom writes them
        assert used == {p["name"][1:] for p in tmpl["params"]}, tmpl["text"]
        assert used == set(re.findall(r"\$(\w+)", tmpl["text"])), tmpl["text"]
        for p in tmpl["params"]:
            assert p["dataType"] in ("String", "Integer", "Float", "Boolean")
        # sample parameters from the planted data, then the phrase must find something
        samples, _, _ = driver.execute_query(phrase.sample, database_=DB)
        assert samples, f"no sample for {tmpl['text']!r}"
        params = {k: v for k, v in samples[0].data().items() if k in used}
        assert set(params) == used, tmpl["text"]
        rows, _, _ = driver.execute_query(tmpl["cypher"], params, database_=DB)
        assert rows, f"{tmpl['text']!r} with {params} found nothing"


@pytest.mark.neo4j
def test_cypher_stages_return_the_embedded_stage_rows(neo4j_server: Any, ran: Path) -> None:
    """Row for row, not only on the planted rings: the Cypher stages equal the SQL ones."""
    from ringfinder.detectors import co_admission, fake_invoice, referral_loop, shared_card
    from ringfinder.engine.neo4j import Neo4jEngine

    with Neo4jEngine(ran / "workspace", driver=neo4j_server.driver()) as engine:
        ws = engine.local
        # referral_loop: loop instances
        p = referral_loop.Params()
        referral_loop._build(ws, p)
        want = ws.sql(f"SELECT * FROM {referral_loop._LEGS}").df()
        ws.sql(f"DROP TABLE {referral_loop._LEGS}")
        have = engine.query(
            "referral_loop_legs", loop_days=p.loop_days, max_cycle=p.max_cycle, us="\x1f", rs="\x1e"
        )
        assert len(want) > 0
        cols = list(referral_loop.LEG_COLUMNS)
        want = want.assign(d=want["d"].astype(str))[cols].sort_values(cols, ignore_index=True)
        have = have[cols].sort_values(cols, ignore_index=True)
        pd.testing.assert_frame_equal(have, want, check_dtype=False)
        # the candidate cycles cover every cycle travelled by min_patients cycling patients
        cycles = engine.query("referral_cycles", min_patients=p.min_patients)
        found = {frozenset(zip(c, c[1:] + c[:1], strict=True)) for c in cycles["cycle"]}
        cycling = want.groupby(["pid", "cycle"]).agg(n=("inst", "nunique"), k=("len", "first"))
        cycling = cycling[(cycling["n"] >= 2) | (cycling["k"] >= 3)].reset_index()
        per_cycle = cycling.groupby("cycle")["pid"].nunique()
        candidates = per_cycle[per_cycle >= p.min_patients].index
        assert len(candidates) > 0
        for key in candidates:
            edges = frozenset(tuple(e.split("\x1f")) for e in key.split("\x1e"))
            assert edges in found, key

        # co_admission: same-day pairs
        q = co_admission.Params()
        have = engine.query("co_admission_pairs", k=q.min_pair_days, cap=q.max_day_crowd)
        want = ws.sql(
            """
            WITH a AS (SELECT DISTINCT provider_id AS h, person_id, CAST(start_time AS DATE) AS d
                       FROM claims WHERE visit_type = 'inpatient'),
            rep AS (SELECT h, person_id FROM a GROUP BY ALL HAVING count(*) >= $k),
            cand AS (SELECT a.* FROM a SEMI JOIN rep USING (h, person_id)),
            crowd AS (SELECT h, d FROM cand GROUP BY ALL HAVING count(*) BETWEEN 2 AND $cap),
            c AS (SELECT cand.* FROM cand SEMI JOIN crowd USING (h, d))
            SELECT x.h, x.person_id AS a, y.person_id AS b, count(*) AS days
            FROM c x JOIN c y ON x.h = y.h AND x.d = y.d AND x.person_id < y.person_id
            GROUP BY ALL HAVING count(*) >= $k ORDER BY ALL
            """,
            {"k": q.min_pair_days, "cap": q.max_day_crowd},
        ).df()
        assert len(want) > 0
        pd.testing.assert_frame_equal(have, want, check_dtype=False)

        # fake_invoice: the reimbursements with their foreign identifiers, the invoices
        # with their referral flag (rows and values, not only the rings')
        f = fake_invoice.Params()
        reim = engine.query("fake_invoice_reimbursements")
        inv = engine.query(
            "fake_invoice_invoices", with_referrals=True, valid=f.referral_valid_days
        )
        have_r, have_i = fake_invoice.frames_from_rows(reim, inv, f)
        want_r = fake_invoice._reimbursements(ws)
        want_i = fake_invoice._invoices(ws, f, True)
        assert want_r["fphone"].notna().any() and want_r["facct"].notna().any()
        assert want_i["referred"].any() and not want_i["referred"].all()
        pd.testing.assert_frame_equal(
            have_r.sort_values("rid", ignore_index=True),
            want_r.sort_values("rid", ignore_index=True),
        )
        pd.testing.assert_frame_equal(
            have_i.sort_values("invoice_id", ignore_index=True),
            want_i.sort_values("invoice_id", ignore_index=True),
        )
        without = engine.query(
            "fake_invoice_invoices", with_referrals=False, valid=f.referral_valid_days
        )
        assert len(without) == len(want_i) and without["referred"].isna().all()

        # shared_card: the dead/lost-card settlements (the gate's second half)
        misuse = getattr(shared_card, "_misuse", None)
        if misuse is not None:
            want = misuse(ws, shared_card.Params())
            have = engine.query("shared_card_misuse")
            assert len(want) > 0
            assert sorted(zip(have["claim_id"], have["kind"], strict=True)) == sorted(
                zip(want["claim_id"], want["kind"], strict=True)
            )
