"""A full disk or exhausted memory is one line saying what to change, not a bug report.

At city scale these are the likeliest failures: DuckDB spills beyond its memory limit
into the workspace's temporary folder, and a too small ``--memory`` or a full disk
stops the load. The user must see what to change; before, they saw "internal error
... Please report it".
"""

from __future__ import annotations

import errno
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from ringfinder.errors import OutOfResources, out_of_resources
from tests.test_bad_input import cli, write_folder
from tests.test_export_privacy import env


def test_a_memory_limit_too_small_for_the_load_is_an_error_saying_what_to_change(
    tmp_path: Path,
) -> None:
    data = write_folder(tmp_path / "d", {})
    code, out, err = cli("load", str(data), "--workspace", str(tmp_path / "ws"), "--memory", "1MB")
    assert code == 1, err
    assert err.strip().splitlines() == [
        "error: DuckDB ran out of the memory it may use (--memory, RINGFINDER_MEMORY; default "
        "a quarter of the RAM): give it more if the machine has RAM to spare, then run the "
        "command again"
    ]
    assert "internal error" not in err and "Traceback" not in out + err
    # the same folder loads with room to work, into the same workspace
    code, _, err = cli("load", str(data), "--workspace", str(tmp_path / "ws"), "--memory", "256MB")
    assert code == 0, err


FULL_DISK = """
import errno, sys
import ringfinder.load.loader as loader

def full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device", "/ws/.tmp/secret-file-name")

loader._write_table = full
from ringfinder.cli.main import main
sys.argv = ["ringfinder", *sys.argv[1:]]
main()
"""


def test_a_full_disk_is_an_error_saying_what_to_change(tmp_path: Path) -> None:
    data = write_folder(tmp_path / "d", {})
    script = tmp_path / "full.py"
    script.write_text(FULL_DISK, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(script), "load", str(data), "--workspace", str(tmp_path / "ws")],
        capture_output=True,
        text=True,
        env=env(tmp_path),
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "error: no space left on the disk (the workspace's database, its temporary folder, "
        "or an output file): free some space or put the workspace (--workspace) on a larger "
        "disk, then run the command again (a load is one transaction and can be repeated)"
    ]
    assert "secret-file-name" not in proc.stderr


@pytest.mark.parametrize(
    ("exc", "cause"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), "disk"),
        (OSError(errno.EDQUOT, "Disk quota exceeded"), "disk"),
        (
            duckdb.IOException(
                'IO Error: Could not write file "/ws/.tmp/duckdb_temp_storage-0.tmp": '
                "No space left on device"
            ),
            "disk",
        ),
        (duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block"), "duckdb"),
        (MemoryError(), "memory"),
        (pa.ArrowMemoryError("malloc of size 1024 failed"), "memory"),
    ],
)
def test_what_counts_as_running_out(exc: BaseException, cause: str) -> None:
    found = out_of_resources(exc)
    assert isinstance(found, OutOfResources)
    text = str(found)
    assert {"disk": "no space left", "duckdb": "DuckDB ran out", "memory": "out of memory"}[
        cause
    ] in text
    assert "/ws/" not in text  # the library's message (paths, values) is not repeated


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("could not convert"),
        OSError(errno.EACCES, "Permission denied"),
        duckdb.IOException("IO Error: Cannot open file: No such file or directory"),
        duckdb.ConversionException("Could not convert string"),
    ],
)
def test_other_errors_are_not_taken_for_running_out(exc: BaseException) -> None:
    assert out_of_resources(exc) is None
