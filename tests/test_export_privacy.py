"""Personal data (issue 7, part 3): no raw PII anywhere unless identities are revealed.

A synthetic city (with a few rejected rows carrying fresh personal data of their own)
goes through the real console script, at DEBUG level: ``ringfinder run``, ``ringfinder
export`` of the top three leads in every format and ``ringfinder report``. Then the
workspace (its DuckDB file, byte for byte, and every table in it), the quarantine,
every output and every captured log line are searched for the raw values of the
columns the contract marks as PII (names, ID numbers, phones, addresses, bank
accounts): none is there. The same holds for every node and relationship property in
Neo4j after ``run --engine neo4j`` (graph load and Lead write-back). With
``--reveal-identities`` real values appear in that export only, and the audit log
grows by one entry.

Also: the reason of a rejected row never quotes a PII value, and an internal error
prints one line (no traceback, no local variables, no quoted data).
"""

from __future__ import annotations

import csv
import json
import os
import random
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import duckdb
import pytest

from ringfinder.schema import TABLES
from tests.test_load import BAD_ID

pytestmark = pytest.mark.slow

KEY = "test-key-0123456789abcdef"
RF = Path(sys.executable).parent / "ringfinder"
PII = {t: tuple(TABLES[t].pii_columns) for t in TABLES if TABLES[t].pii_columns}

# rejected rows, each with personal data of its own (never in any output either)
BAD_PERSONS = [
    # bad gender
    "XP1,欧阳娜娜,11010519491231002X,Q,1949-12-31,13911112222,澧平市幸福路88号,,,,6222000011112222,",
    # wrong ID-number check digit
    f"XP2,司马光明,{BAD_ID},M,,13933334444,澧平市和平街7号,,,,6222000033334444,",
    # too few fields
    "XP3,诸葛亮亮,13955556666,澧平市长安道1号",
    # NUL byte in the name
    "XP4,上官\x00婉儿,,F,,13977778888,澧平市青云路3号,,,,6222000077778888,",
]
BAD_PII = [
    "欧阳娜娜",
    "11010519491231002X",
    "13911112222",
    "澧平市幸福路88号",
    "6222000011112222",
    "司马光明",
    BAD_ID,
    "13933334444",
    "澧平市和平街7号",
    "6222000033334444",
    "诸葛亮亮",
    "13955556666",
    "澧平市长安道1号",
    "13977778888",
    "澧平市青云路3号",
    "6222000077778888",
]


def env(home: Path) -> dict[str, str]:
    """The environment of the commands: the test key, no key file of the user's."""
    out = {k: v for k, v in os.environ.items() if not k.startswith("RINGFINDER_")}
    out.update({"RINGFINDER_KEY": KEY, "HOME": str(home), "COLUMNS": "160", "LANG": "C.UTF-8"})
    return out


def rf(
    home: Path, *args: str | Path, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``ringfinder -v ARGS`` (DEBUG logging) in its own process."""
    proc = subprocess.run(
        [str(RF), "-v", *map(str, args)],
        capture_output=True,
        text=True,
        env={**env(home), **(extra_env or {})},
        timeout=900,
    )
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr[-3000:]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "DEBUG" in proc.stderr  # the logs are at their most talkative
    return proc


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from ringfinder.synth import synthesize

    root = tmp_path_factory.mktemp("privacy")
    home = root / "home"
    home.mkdir()
    data = root / "city"
    synthesize(data, persons=3000, seed=5)
    with (data / "persons.csv").open("a", encoding="utf-8") as fh:
        fh.write("".join(row + "\n" for row in BAD_PERSONS))
    out, packets = root / "out", root / "packets"
    logs = {"run": rf(home, "run", data, "--out", out)}
    with (out / "leads.jsonl").open(encoding="utf-8") as fh:
        leads = [json.loads(line) for line in fh if line.strip()]
    top = [lead["lead_id"] for lead in leads[:3]]
    assert len(top) == 3
    logs["export"] = rf(home, "export", *top, "--from", out, "--out", packets, "--format", "all")
    logs["report"] = rf(home, "report", "--out", out / "report.html")
    return {
        "root": root,
        "home": home,
        "data": data,
        "out": out,
        "packets": packets,
        "logs": logs,
        "leads": leads[:3],
    }


# -- what to look for -----------------------------------------------------------------


def raw_values(data: Path, leads: list[dict[str, Any]], sample: int = 150) -> list[str]:
    """Raw PII of the exported leads' members, of a random sample of everybody else and
    of the rejected rows; without values that also occur in a non-PII column or in
    ringfinder's own texts (a name that is part of a hospital's name is not a leak)."""
    members = {k: set().union(*(set(lead.get(k, [])) for lead in leads)) for k in ("persons",)}
    rnd = random.Random(7)
    values: set[str] = set(BAD_PII)
    public: list[str] = []
    for table, cols in PII.items():
        path = data / f"{table}.csv"
        if not path.is_file():
            continue
        rows = read_csv(path)
        key = TABLES[table].key[0]
        wanted = {r[key] for r in rnd.sample(rows, min(sample, len(rows)))}
        if table == "persons":
            wanted |= members["persons"]
        if table == "reimbursements":
            wanted |= {r[key] for r in rows if r["person_id"] in members["persons"]}
        for r in rows:
            if r[key] in wanted:
                values |= {r[c] for c in cols if r.get(c)}
    for path in data.glob("*.csv"):
        table = TABLES.get(path.stem)
        if table is None:
            continue
        public += [
            v
            for r in read_csv(path)
            if not (r.get("person_id") or "").startswith("XP")  # the rejected rows
            for c, v in r.items()
            if c and v and c not in table.pii_columns
        ]
    import ringfinder

    src = Path(ringfinder.__file__).parent
    public += [p.read_text(encoding="utf-8") for p in src.rglob("*.py")]
    public_text = "\n".join(public)
    return sorted(v for v in values if len(v) >= 2 and v not in public_text)


def file_text(path: Path) -> str:
    """A file as text: xlsx parts unzipped, PDF text extracted, anything else decoded."""
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(path) as zf:
            return "\n".join(zf.read(n).decode("utf-8", "replace") for n in zf.namelist())
    if path.suffix == ".pdf":
        from pypdf import PdfReader

        return "".join(p.extract_text() for p in PdfReader(path).pages)
    return path.read_bytes().decode("utf-8", "replace")


def tree_text(*folders: Path) -> str:
    parts = []
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix != ".duckdb":
                parts.append(f"== {path}\n{file_text(path)}")
    return "\n".join(parts)


def store_text(db: Path) -> str:
    """Every row of every table of a workspace, as text."""
    parts = []
    with duckdb.connect(str(db), read_only=True) as con:
        tables = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE NOT temporary"
        ).fetchall()
        for schema, table in tables:
            rows = con.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall()
            parts.append(f"== {table}\n" + "\n".join("\x1f".join(map(str, r)) for r in rows))
    return "\n".join(parts)


def leaks(values: list[str], text: str, raw: bytes = b"") -> list[str]:
    return [v for v in values if v in text or (raw and v.encode("utf-8") in raw)]


# -- the tests --------------------------------------------------------------------------


def test_no_raw_pii_in_workspace_outputs_quarantine_or_logs(job: dict[str, Any]) -> None:
    out, packets = job["out"], job["packets"]
    values = raw_values(job["data"], job["leads"])
    assert len(values) > 500 and set(BAD_PII) <= set(values)
    db = out / "workspace" / "ringfinder.duckdb"
    quarantine = out / "workspace" / "quarantine" / "persons.csv"
    rejected = read_csv(quarantine)
    assert [r["line"] for r in rejected] == [str(3002 + i) for i in range(len(BAD_PERSONS))]
    assert {r["kind"] for r in rejected} == {"bad_enum", "bad_id_number", "bad_row", "nul_byte"}
    logs = "\n".join(p.stdout + "\n" + p.stderr for p in job["logs"].values())
    text = "\n".join([tree_text(out, packets), store_text(db), logs])
    # the scan does see the content: pseudonyms, the outputs, a hospital's name
    assert "nm_" in text and "id_" in text and "ph_" in text and "ac_" in text
    assert "线索概要" in text and job["leads"][0]["lead_id"] in text
    assert (packets / job["leads"][0]["lead_id"] / "csv" / "members.csv").is_file()
    found = leaks(values, text, db.read_bytes())
    assert not found, found[:20]
    # and the scan would see a leak: every value is found in the input itself
    raw_input = "\n".join(p.read_text(encoding="utf-8") for p in job["data"].glob("*.csv"))
    assert leaks(values, raw_input) == values
    assert not (out / "workspace" / "audit.jsonl").exists()  # nothing was revealed


def graph_text(driver: Any) -> str:
    """Every label, property key and value of every node and relationship, as text."""
    parts = []
    for query in (
        "MATCH (n) RETURN labels(n) AS kind, properties(n) AS props",
        "MATCH ()-[r]->() RETURN type(r) AS kind, properties(r) AS props",
    ):
        records, _, _ = driver.execute_query(query, database_="neo4j")
        parts += [
            f"{r['kind']}\x1f{json.dumps(r['props'], ensure_ascii=False, default=str)}"
            for r in records
        ]
    return "\n".join(parts)


@pytest.mark.neo4j
def test_no_raw_pii_in_neo4j_after_a_load_and_the_write_back(
    job: dict[str, Any], neo4j_server: Any, neo4j_driver: Any
) -> None:
    """The Neo4j engine's whole job (graph load, Cypher detectors, Lead write-back)."""
    from tests.neo4j_fixture import clear_database

    driver = neo4j_driver  # on an empty database
    neo = {"NEO4J_URI": neo4j_server.uri, "RINGFINDER_NEO4J_CONFIG": "/nonexistent.toml"}
    out = job["root"] / "out-neo4j"
    proc = rf(job["home"], "run", job["data"], "--engine", "neo4j", "--out", out, extra_env=neo)
    text = graph_text(driver)
    # the scan does see the graph: pseudonymised persons, and the leads written back
    assert all(f"{kind}_" in text for kind in ("nm", "ph", "ad", "ac")) and "Lead" in text
    assert job["leads"][0]["lead_id"] in text
    values = raw_values(job["data"], job["leads"])
    found = leaks(values, "\n".join([text, proc.stdout, proc.stderr, tree_text(out)]))
    assert not found, found[:20]
    # and the scan would see a leak stored in the graph
    driver.execute_query(
        "MATCH (p:Person) WITH p LIMIT 1 SET p.note = $v", v=values[0], database_="neo4j"
    )
    assert leaks(values, graph_text(driver)) == [values[0]]
    clear_database(driver)


def test_reveal_puts_real_identities_in_that_export_only_and_is_audited(
    job: dict[str, Any],
) -> None:
    from ringfinder.export.audit import read_entries, verify_chain

    root = job["root"] / "reveal"
    out = root / "out"
    shutil.copytree(job["out"], out)
    ws = out / "workspace"
    before = len(read_entries(ws))
    lead = job["leads"][0]
    proc = rf(
        job["home"],
        "export",
        lead["lead_id"],
        "--from",
        out,
        "--out",
        root / "police",
        "--format",
        "all",
        "--reveal-identities",
        "--source",
        job["data"],
    )
    assert len(read_entries(ws)) == before + 1 and not verify_chain(ws)
    values = raw_values(job["data"], [lead], sample=0)
    revealed = tree_text(root / "police")
    shown = [v for v in values if v in revealed]
    assert shown, "the police export names real people"
    elsewhere = "\n".join(
        [tree_text(out), store_text(ws / "ringfinder.duckdb"), proc.stdout, proc.stderr]
    )
    found = leaks(values, elsewhere, (ws / "ringfinder.duckdb").read_bytes())
    assert not found, found[:20]


def test_reasons_of_rejected_rows_never_quote_personal_data(tmp_path: Path) -> None:
    """Through the command line, strict and not: stdout, stderr, JSON and quarantine."""
    from tests.test_bad_input import cli, write_folder

    persons = "".join(row + "\n" for row in BAD_PERSONS)
    data = write_folder(tmp_path / "d", {"persons": BASE_PERSONS + persons})
    texts = []
    for i, extra in enumerate(([], ["--json"], ["--strict"])):
        ws = tmp_path / f"ws{i}"
        code, out, err = cli("load", str(data), "--workspace", str(ws), *extra)
        assert code == (3 if extra == ["--strict"] else 0), err
        texts += [out, err, (ws / "quarantine" / "persons.csv").read_text(encoding="utf-8-sig")]
    text = "\n".join(texts)
    assert "persons.csv:4 column 'gender'" in text and "bad_id_number" in text
    assert "wrong number of fields" in text and "nul_byte" in text
    found = [v for v in BAD_PII if v in text or v.replace("\x00", "") in text]
    assert not found, found


BASE_PERSONS = (
    "person_id,name,id_number,gender,birth_date,phone,address,region_code,"
    "insurance_type,employer_id,bank_account,death_date\n"
    "007,张三,,M,1949-12-31,,,110105,employee,E1,,\n"
    "P2,李四,,F,1950-01-01,,,110105,resident,,,\n"
)

FORCED = """
import sys
import ringfinder.load.loader as loader

def run_load(con, data_dir, options, progress=None):
    id_number = {secret!r}  # a local variable holding personal data
    raise ValueError(f"could not convert '{{id_number}}' to a number\\nsecond line")

loader.run_load = run_load
from ringfinder.cli.main import main
sys.argv = ["ringfinder", *sys.argv[1:]]
main()
"""


@pytest.mark.parametrize("verbose", [False, True])
def test_an_internal_error_is_one_line_without_locals_or_data(tmp_path: Path, verbose) -> None:  # noqa: ANN001
    from tests.test_bad_input import write_folder

    secret = "11010519491231002X"
    data = write_folder(tmp_path / "d", {})
    script = tmp_path / "forced.py"
    script.write_text(FORCED.format(secret=secret), encoding="utf-8")
    args = ["-v"] if verbose else []
    proc = subprocess.run(
        [sys.executable, str(script), *args, "load", str(data), "--workspace", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env(tmp_path),
        timeout=120,
    )
    assert proc.returncode == 70
    assert secret not in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "id_number =" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("internal error")]
    assert errors == [
        "internal error: ValueError: could not convert '…' to a number second line. "
        "Please report it with the command you ran (no data)."
    ]
    frames = [line for line in proc.stderr.splitlines() if line.startswith("  at ")]
    if verbose:  # where it happened (file, line, function), never a value
        assert any("in run_load" in f for f in frames)
    else:
        assert proc.stderr.strip().splitlines() == errors


def test_the_error_boundary_escapes_markup_and_keeps_one_line() -> None:
    from ringfinder.cli.main import one_line, redact

    assert one_line("a\nb\r\n\tc\x00d") == "a b c d"
    assert redact("bad value '张三' in \"x\"") == "bad value '…' in '…'"
    assert len(one_line("x" * 5000)) == 2000
