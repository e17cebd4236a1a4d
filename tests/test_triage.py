"""The lead store and investigators' marks: persistence, stable ids, held-back leads."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from ringfinder import triage
from ringfinder.cli import leads_cmd
from ringfinder.engine.embedded import EmbeddedEngine
from ringfinder.errors import ConfigError
from ringfinder.findings import Reason
from ringfinder.leads import Lead, lead_id_for
from tests.test_export_data import city  # noqa: F401 - fixture

runner = CliRunner()


def _lead(persons: list[str], claims: list[str], amount: str, score: float = 80.0) -> Lead:
    members = {
        "persons": sorted(persons),
        "cards": [],
        "doctors": [],
        "institutions": ["H1"],
        "pharmacies": [],
    }
    return Lead(
        lead_id=lead_id_for(members),
        pattern="co_admission",
        score=score,
        members=members,
        claims=sorted(claims),
        amount_total=amount,
        fund_amount=str(Decimal(amount) * Decimal("0.8")),
        first_seen="2024-01-01",
        last_seen="2024-03-01",
        reasons=[Reason("test.co_admission", {"persons": len(persons), "days": 3})],
    )


@pytest.fixture()
def con():
    engine = EmbeddedEngine(None)
    yield engine.con
    engine.close()


def test_marks_persist_and_the_latest_wins(con) -> None:  # noqa: ANN001
    lead = _lead(["a", "b", "c"], ["c1", "c2"], "6000.00")
    run = triage.record_run(con, [lead], who="tester")
    assert run.startswith("R")
    triage.mark_lead(con, lead.lead_id, "reviewing", "look at the admissions", who="inv1")
    triage.mark_lead(con, lead.lead_id[:6], "confirmed", "on-site check: beds empty", who="inv2")
    stored = triage.get_lead(con, lead.lead_id)
    assert stored.status == "confirmed"
    assert [(m.status, m.who) for m in stored.marks] == [
        ("reviewing", "inv1"),
        ("confirmed", "inv2"),
    ]
    assert stored.reason_text("zh") == ["3人在3个不同日期同日入住同一医院"]
    assert stored.to_lead().amount_total == "6000.00"
    with pytest.raises(ConfigError):
        triage.mark_lead(con, lead.lead_id, "closed")
    with pytest.raises(triage.LeadNotFound):
        triage.mark_lead(con, "LNOPE", "confirmed")


def test_a_dismissed_lead_is_held_back_until_it_grows(con) -> None:  # noqa: ANN001
    lead = _lead(["a", "b", "c"], ["c1", "c2"], "6000.00")
    other = _lead(["x", "y"], ["c9"], "100.00", score=50)
    triage.record_run(con, [lead, other])
    triage.mark_lead(con, lead.lead_id, "dismissed", "family, honest")
    # same members, same evidence on newer data: same id, held back
    again = _lead(["a", "b", "c"], ["c1", "c2"], "6000.00")
    assert again.lead_id == lead.lead_id
    assert triage.apply_marks(con, [again, other]) == [other]
    triage.record_run(con, [again, other])
    shown = triage.list_leads(con)
    assert [x.lead_id for x in shown] == [other.lead_id]
    held = triage.list_leads(con, statuses_wanted=("dismissed",))
    assert [(x.lead_id, x.raised, x.held_by) for x in held] == [(lead.lead_id, False, lead.lead_id)]
    # a smaller view of the dismissed ring is held back too
    part = _lead(["a", "b"], ["c1"], "3000.00")
    assert triage.apply_marks(con, [part]) == []
    # more evidence (same members, same id): raised again
    more = _lead(["a", "b", "c"], ["c1", "c2", "c3"], "6000.00")
    assert triage.apply_marks(con, [more]) == [more]
    # more money: raised again
    dearer = _lead(["a", "b", "c"], ["c1", "c2"], "6500.00")
    assert triage.apply_marks(con, [dearer]) == [dearer]
    # a new member: a new id, raised, linked to the dismissed lead
    bigger = _lead(["a", "b", "c", "d"], ["c1", "c2"], "6000.00")
    assert bigger.lead_id != lead.lead_id
    assert triage.apply_marks(con, [bigger]) == [bigger]
    triage.record_run(con, [bigger])
    (row,) = triage.list_leads(con)
    assert row.related == lead.lead_id and row.status == "new"


def test_campaign_stats(con) -> None:  # noqa: ANN001
    big = _lead(["a", "b", "c"], ["c1"], "6000.00")
    small = _lead(["d", "e"], ["c2"], "4999.99")
    third = _lead(["f", "g"], ["c3"], "5000.00")
    triage.record_run(con, [big, small, third])
    triage.mark_lead(con, big.lead_id, "confirmed")
    triage.mark_lead(con, small.lead_id, "confirmed")
    triage.mark_lead(con, third.lead_id, "dismissed")
    s = triage.campaign_stats(con)
    assert (s.raised, s.reviewed, s.confirmed, s.dismissed, s.reviewing) == (3, 3, 2, 1, 0)
    assert s.amount_raised == Decimal("15999.99")
    assert s.above_threshold == 2  # 5,000 itself is "5,000 以上"
    assert (s.to_transfer, s.amount_to_transfer) == (1, Decimal("6000.00"))
    assert json.loads(json.dumps(s.to_json()))["to_transfer"] == 1


@pytest.mark.neo4j
def test_marks_reach_the_lead_node_in_neo4j(con, neo4j_driver) -> None:  # noqa: ANN001
    lead = _lead(["a", "b"], ["c1"], "10.00")
    triage.record_run(con, [lead])
    sink = triage.neo4j_mark_sink(neo4j_driver, "neo4j")
    with pytest.raises(Exception, match="not in Neo4j"):
        triage.mark_lead(con, lead.lead_id, "reviewing", sinks=[sink])
    assert len(triage.mark_history(con, lead.lead_id)) == 1  # the workspace kept it
    neo4j_driver.execute_query("CREATE (:Lead {lead_id: $id})", id=lead.lead_id)
    triage.mark_lead(con, lead.lead_id, "reviewing", "first look", sinks=[sink])
    triage.mark_lead(con, lead.lead_id, "confirmed", "x') DETACH DELETE n //", sinks=[sink])
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (l:Lead {lead_id: $id})-[:MARKED]->(m:Mark) "
        "RETURN l.status AS status, m.note AS note ORDER BY m.marked_at",
        id=lead.lead_id,
    )
    assert [r["status"] for r in records] == ["confirmed", "confirmed"]
    assert [r["note"] for r in records] == ["first look", "x') DETACH DELETE n //"]


def _app() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(leads_cmd.app, name="leads")
    return app


def test_cli_list_show_mark_stats(city, tmp_path: Path) -> None:  # noqa: ANN001, F811
    _, ws, leads = city
    # a private copy of the workspace: marks must not leak into other tests
    import shutil

    mine = tmp_path / "out" / "workspace"
    shutil.copytree(ws, mine)
    app = _app()
    res = runner.invoke(app, ["leads", "list", "--from", str(tmp_path / "out"), "--json"])
    assert res.exit_code == 0, res.output
    rows = [json.loads(x) for x in res.stdout.splitlines()]
    assert [r["lead_id"] for r in rows] == [x.lead_id for x in leads]
    assert rows[0]["above_threshold"] is True and rows[2]["above_threshold"] is False
    res = runner.invoke(
        app, ["leads", "list", "--workspace", str(mine), "--lang", "en"], env={"COLUMNS": "200"}
    )
    assert res.exit_code == 0 and leads[0].lead_id in res.stdout and "co_admission" in res.stdout
    lid = leads[0].lead_id
    res = runner.invoke(
        app,
        ["leads", "mark", lid, "--status", "confirmed", "--note", "beds empty", "-w", str(mine)],
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["leads", "show", lid[:7], "-w", str(mine), "--json", "--lang", "zh"])
    doc = json.loads(res.stdout)
    assert doc["status"] == "confirmed" and doc["marks"][0]["note"] == "beds empty"
    assert "deceased" in doc["roles"]["P0005"]  # a stay after her death
    assert "card_user" in doc["roles"]["P0002"] and "card_lender" in doc["roles"]["P0003"]
    assert doc["roles"]["D0001"] == ["doctor"] and doc["roles"]["H33010200001"] == ["institution"]
    assert doc["evidence_counts"]["claims"] == 19
    assert any(
        i["code"] == "batch_admission" and i["kind"] == "fabrication" for i in doc["indicators"]
    )
    res = runner.invoke(
        app, ["leads", "show", lid, "-w", str(mine), "--lang", "en"], env={"COLUMNS": "200"}
    )
    assert res.exit_code == 0 and "mark history" in res.stdout and "organiser" not in res.stdout
    res = runner.invoke(
        app,
        ["leads", "show", leads[1].lead_id, "-w", str(mine), "--lang", "en"],
        env={"COLUMNS": "200"},
    )
    assert "suspected organiser" in res.stdout  # P0011 owns the agent phone and account
    res = runner.invoke(app, ["leads", "list", "-w", str(mine), "--status", "confirmed", "--json"])
    assert [json.loads(x)["lead_id"] for x in res.stdout.splitlines()] == [lid]
    res = runner.invoke(app, ["leads", "stats", "-w", str(mine), "--json"])
    s = json.loads(res.stdout)
    assert (s["raised"], s["confirmed"], s["to_transfer"]) == (3, 1, 1)
    # errors: one exception of ours, no traceback printed by the app
    res = runner.invoke(app, ["leads", "show", "LZZZZ", "-w", str(mine)])
    assert isinstance(res.exception, triage.LeadNotFound)
    res = runner.invoke(app, ["leads", "list", "-w", str(tmp_path / "nowhere")])
    assert isinstance(res.exception, ConfigError)
    res = runner.invoke(app, ["leads", "list"], env={"RINGFINDER_WORKSPACE": ""})
    assert isinstance(res.exception, ConfigError)


def test_record_run_keeps_what_export_needs(city) -> None:  # noqa: ANN001, F811
    _, ws, leads = city
    with triage.open_workspace(ws) as con:
        stored = triage.get_lead(con, leads[1].lead_id)
    lead = leads[1]
    assert stored.members == lead.members and stored.claims == lead.claims
    assert f"{stored.amount_total:.2f}" == lead.amount_total
    assert replace(stored.to_lead(), findings=[]) == replace(lead, findings=[])
