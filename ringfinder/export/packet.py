"""Writing case packets: one folder per lead, every file atomic, a manifest of hashes.

A packet is built in a hidden temporary folder next to its final place and moved in
with one rename, so a reader sees the old packet or the new one, never half of one.
With real identities, the audit entry is written (and synced) *before* the packets
are moved into place: no revealing file becomes visible without its log entry.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ringfinder import __version__, i18n
from ringfinder.errors import ConfigError
from ringfinder.export import audit
from ringfinder.export.case import CaseData, gather, pii_mode
from ringfinder.export.manifest import write_manifest
from ringfinder.export.tables import case_tables
from ringfinder.triage import get_lead, open_workspace

FORMATS = ("xlsx", "pdf", "html", "json", "csv")
DEFAULT_FORMATS = ("xlsx", "pdf", "html", "json")


@dataclass
class ExportOptions:
    formats: Sequence[str] = DEFAULT_FORMATS
    lang: str = "zh"
    reveal: bool = False
    source: Path | None = None
    mapping: str | None = None
    encoding: str = "auto"
    run_id: str | None = None
    loader: Any = None  # the loader to re-read the source with (default: load_folder)


@dataclass
class Packet:
    lead_id: str
    folder: Path
    files: list[dict[str, Any]] = field(default_factory=list)
    amount_total: str = ""
    fund_amount: str = ""
    above_threshold: bool = False


def parse_formats(value: str | Sequence[str]) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value)
    out = []
    for item in (x.strip().lower() for x in items):
        if not item:
            continue
        if item == "all":
            out += [f for f in FORMATS if f not in out]
            continue
        if item not in FORMATS:
            raise ConfigError(f"unknown format {item!r}; choose from {', '.join(FORMATS)}")
        if item not in out:
            out.append(item)
    if not out:
        raise ConfigError("no format given")
    return tuple(out)


def _write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def render_packet(
    case: CaseData, folder: Path, options: ExportOptions, generated: datetime
) -> None:
    """Write every requested format of one lead into ``folder`` (then its manifest)."""
    from ringfinder.export import pictures

    lang = options.lang
    lead = case.lead
    tables = case_tables(case, lang, generated)
    pics = {
        "timeline": pictures.timeline_png(case, lang),
        "network": pictures.network_png(case, lang),
    }
    _write_bytes(folder / "timeline.png", pics["timeline"])
    _write_bytes(folder / "network.png", pics["network"])
    stem = lead.lead_id
    for fmt in options.formats:
        if fmt == "xlsx":
            from ringfinder.export.xlsx import workbook_bytes

            data = workbook_bytes(tables, lang, lead.amount_total, lead.fund_amount)
            _write_bytes(folder / f"{stem}.xlsx", data)
        elif fmt == "csv":
            from ringfinder.export.xlsx import csv_bytes

            for spec in tables:
                _write_bytes(folder / "csv" / f"{spec.key}.csv", csv_bytes(spec, lang))
        elif fmt == "pdf":
            from ringfinder.export.pdf import pdf_bytes

            _write_bytes(folder / f"{stem}.pdf", pdf_bytes(case, tables, lang, generated, pics))
        elif fmt == "html":
            from ringfinder.export.html import case_html

            html = case_html(case, tables, lang, generated, pics)
            _write_bytes(folder / f"{stem}.html", html.encode("utf-8"))
        elif fmt == "json":
            from ringfinder.export.json_ import case_json

            _write_bytes(folder / f"{stem}.json", case_json(case, tables, lang, generated).encode())


def _swap_in(tmp: Path, final: Path) -> None:
    """Move a finished packet into place with renames (replacing an older packet)."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}-{os.urandom(3).hex()}")
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def export_leads(
    workspace: Path, lead_ids: Sequence[str], out: Path, options: ExportOptions | None = None
) -> list[Packet]:
    """Write one case packet per lead under ``out``; return what was written."""
    options = options or ExportOptions()
    if options.lang not in i18n.LANGS:
        raise ConfigError(f"--lang must be one of {', '.join(i18n.LANGS)}")
    options.formats = parse_formats(options.formats)
    if not lead_ids:
        raise ConfigError("name at least one lead id (see `ringfinder leads list`)")
    from ringfinder.export.fonts import find_cjk_font

    find_cjk_font()  # fail before any work when pictures and PDF cannot be drawn
    cases: list[CaseData] = []
    ws_fingerprint = None
    with open_workspace(workspace) as con:
        raw_workspace = pii_mode(con) == "raw"
        if options.reveal and options.source is None and not raw_workspace:
            raise ConfigError(
                "--reveal-identities needs --source DATA_DIR: the folder the workspace was "
                "loaded from"
            )
        if options.reveal:
            from ringfinder.export.identities import workspace_fingerprint

            ws_fingerprint = workspace_fingerprint(con)
        seen = set()
        for given in lead_ids:
            lead = get_lead(con, given, run_id=options.run_id)
            if lead.lead_id in seen:
                continue
            seen.add(lead.lead_id)
            cases.append(gather(con, lead, keep_raw=options.reveal))
    ident = None
    if options.reveal and raw_workspace:
        # the workspace itself holds the real values: nothing to re-read, still logged
        from ringfinder.export.identities import Identities

        ident = Identities(source="workspace (loaded without pseudonymisation)")
    elif options.reveal:
        from ringfinder.export.identities import (
            apply_identities,
            check_against_workspace,
            read_identities,
        )

        assert options.source is not None
        ident = read_identities(
            options.source,
            persons={p["person_id"] for c in cases for p in c.persons},
            doctors={d["doctor_id"] for c in cases for d in c.doctors},
            reimbursements={r["reimbursement_id"] for c in cases for r in c.reimbursements},
            mapping=options.mapping,
            encoding=options.encoding,
            loader=options.loader,
        )
        if ws_fingerprint is not None and ws_fingerprint != ident.key_fingerprint:
            raise ConfigError(
                f"the key (fingerprint {ident.key_fingerprint}) is not the one this workspace "
                f"was loaded with ({ws_fingerprint})"
            )
        for case in cases:
            ident.checked += check_against_workspace(case, ident)
            apply_identities(case, ident)
    generated = datetime.now().replace(microsecond=0)
    out.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Packet]] = []
    try:
        for case in cases:
            tmp = Path(tempfile.mkdtemp(prefix=f".{case.lead.lead_id}.partial-", dir=out))
            staged.append((tmp, Packet(case.lead.lead_id, out / case.lead.lead_id)))
            render_packet(case, tmp, options, generated)
            packet = staged[-1][1]
            packet.files = write_manifest(
                tmp,
                {
                    "packet": "ringfinder case packet",
                    "ringfinder": __version__,
                    "lead_id": case.lead.lead_id,
                    "run_id": case.lead.run_id,
                    "generated": generated.isoformat(),
                    "lang": options.lang,
                    "identities_revealed": options.reveal,
                    "amount_total": f"{case.lead.amount_total:.2f}",
                    "fund_amount": f"{case.lead.fund_amount:.2f}",
                },
            )
            packet.amount_total = f"{case.lead.amount_total:.2f}"
            packet.fund_amount = f"{case.lead.fund_amount:.2f}"
            packet.above_threshold = case.above_threshold
        if options.reveal and ident is not None:
            from ringfinder.export.manifest import MANIFEST, SUMS, sha256_file

            audit.append_entry(
                workspace,
                {
                    "event": "export_reveal_identities",
                    "leads": [p.lead_id for _, p in staged],
                    "out": str(out.resolve()),
                    "source": ident.source,
                    "key_fingerprint": ident.key_fingerprint,
                    "values_checked": ident.checked,
                    "files": [
                        {"path": f"{p.lead_id}/{f['path']}", "sha256": f["sha256"]}
                        for tmp, p in staged
                        for f in [
                            *p.files,
                            {"path": MANIFEST, "sha256": sha256_file(tmp / MANIFEST)},
                            {"path": SUMS, "sha256": sha256_file(tmp / SUMS)},
                        ]
                    ],
                },
            )
        for tmp, packet in staged:
            _swap_in(tmp, packet.folder)
    except BaseException:
        for tmp, _ in staged:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [p for _, p in staged]
