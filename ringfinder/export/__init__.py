"""Case packets for the review panel and the police, and the offline HTML report.

::

    packets = export_leads(workspace, ["L3F2A9C0D1E7"], Path("packets"), ExportOptions())
    verify_packet(packets[0].folder).ok
    html, n = build_report(con, lang="zh")
"""

from __future__ import annotations

from ringfinder.export.manifest import VerifyResult, packet_folders, verify_packet
from ringfinder.export.packet import DEFAULT_FORMATS, FORMATS, ExportOptions, Packet, export_leads

__all__ = [
    "DEFAULT_FORMATS",
    "FORMATS",
    "ExportOptions",
    "Packet",
    "VerifyResult",
    "export_leads",
    "packet_folders",
    "verify_packet",
]
