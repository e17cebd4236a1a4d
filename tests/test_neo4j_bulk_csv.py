"""The bulk import's CSVs: one integer id per node, every relationship's ends mapped to it.

neo4j-admin takes these ids as the store's own node ids (``--id-type=actual``), so a
wrong number would attach a claim to another person's node without any error. These
checks read the files back with DuckDB (no server); ``tests/test_neo4j_import.py``
checks the imported graph on a real one.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ringfinder.engine.embedded import EmbeddedEngine
from ringfinder.neo4j.bulk import admin_stages, write_csv
from ringfinder.neo4j.model import KEYS, NODES, RELS

GONE_CARDS = 3  # cards deleted after the load: their claims' WITH_CARD ends have no node


def _read(header: Path, data: Path) -> list[dict[str, str]]:
    names = header.read_text(encoding="utf-8").rstrip("\n").split(",")
    with data.open(encoding="utf-8", newline="") as fh:
        return [dict(zip(names, row, strict=True)) for row in csv.reader(fh)]


@pytest.fixture(scope="module")
def written(small_city: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from ringfinder.load import load_folder

    root = tmp_path_factory.mktemp("bulk_csv")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RINGFINDER_KEY", "test-key-0123456789abcdef")
        with EmbeddedEngine(root / "ws") as engine:
            con = engine.con
            load_folder(con, small_city)
            con.execute(
                "DELETE FROM cards WHERE card_id IN (SELECT card_id FROM claims "
                f"WHERE card_id IS NOT NULL ORDER BY card_id LIMIT {GONE_CARDS})"
            )
            files, _ = write_csv(con, root / "csv")
            keys: dict[str, set[str]] = {}
            for spec in NODES:
                rows = con.execute(f"SELECT key FROM ({spec.sql})").fetchall()
                keys.setdefault(spec.label, set()).update(str(r[0]) for r in rows)
            want: dict[str, Counter[tuple[str, str]]] = {}  # type -> (start key, end key)
            dangling = Counter[str]()  # type -> rows with an end that is no node
            for rel in RELS:
                la = "a_label" if rel.a_label is None else f"'{rel.a_label}'"
                lb = "b_label" if rel.b_label is None else f"'{rel.b_label}'"
                rows = con.execute(f"SELECT a, b, {la}, {lb} FROM ({rel.sql})").fetchall()
                want.setdefault(rel.type, Counter())  # HAS_PHONE: three queries
                for a, b, la_, lb_ in rows:
                    if str(a) in keys.get(la_, ()) and str(b) in keys.get(lb_, ()):
                        want[rel.type][(str(a), str(b))] += 1
                    else:
                        dangling[rel.type] += 1
    return {
        "files": files,
        "rows": {f.data.name: _read(f.header, f.data) for f in files},
        "want": want,
        "dangling": dangling,
        "keys": keys,
    }


def _node_ids(written: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """node id -> (label, key) over all node files."""
    ids: dict[str, tuple[str, str]] = {}
    for f in written["files"]:
        if f.kind == "nodes":
            for row in written["rows"][f.data.name]:
                assert row[":ID"] not in ids, f"node id {row[':ID']} given twice"
                ids[row[":ID"]] = (f.group, row[KEYS[f.group]])
    return ids


def test_every_node_has_one_id_and_the_ids_are_dense(written: dict[str, Any]) -> None:
    ids = _node_ids(written)
    assert sorted(int(i) for i in ids) == list(range(len(ids)))  # 0..n-1: a compact store
    by_label: dict[str, set[str]] = {}
    for label, key in ids.values():
        by_label.setdefault(label, set()).add(key)
    assert by_label == {label: keys for label, keys in written["keys"].items() if keys}
    # the label with two node queries (institutions and external ones) is numbered once
    assert written["rows"]["nodes-external_institutions.csv"], "the city has no external ones"


def test_relationship_ends_map_back_to_the_model_rows(written: dict[str, Any]) -> None:
    """Each file's ids, read back as keys, are exactly the model's rows whose ends exist."""
    ids = _node_ids(written)
    have: dict[str, Counter[tuple[str, str]]] = {}
    for f in written["files"]:
        if f.kind != "relationships":
            continue
        for row in written["rows"][f.data.name]:
            (la, ka), (lb, kb) = ids[row[":START_ID"]], ids[row[":END_ID"]]
            assert f.data.name.endswith(f"-{la}-{lb}.csv"), (f.data.name, la, lb)
            have.setdefault(f.group, Counter())[(ka, kb)] += 1
    for rel_type, rows in written["want"].items():
        assert have.get(rel_type, Counter()) == rows, rel_type
    # the deleted cards' claims are left out (as the Bolt loader's MATCH skips them)
    assert written["dangling"]["WITH_CARD"] > 0
    assert len({k for k, _ in have["AT"]}) == sum(have["AT"].values())  # one provider a claim
    assert {f.data.name for f in written["files"] if f.group == "AT"} == {
        "rels-claim_provider-Claim-Institution.csv",
        "rels-claim_provider-Claim-Pharmacy.csv",
    }


def test_admin_stage_times_are_read_from_its_output() -> None:
    log = (
        "Node import COMPLETED in 1m 42s 868ms\n"
        "  423682 nodes\n"
        "Relationship import COMPLETED in 10s 479ms\n"
        "Post processing COMPLETED in 1h 2m 3s\n"
        "IMPORT DONE in 1h 4m 5s 6ms. \n"
    )
    assert admin_stages(log) == pytest.approx(
        {"node import": 102.868, "relationship import": 10.479, "post processing": 3723.0}
    )
