"""Pictures of a lead: its network (igraph layout, drawn with matplotlib) and a timeline.

Layouts are deterministic (a fixed start and a fixed number of iterations), so the same
lead gives the same picture and the same coordinates in the offline HTML report.
Chinese labels use the embedded CJK font (:mod:`ringfinder.export.fonts`).
"""

from __future__ import annotations

import io
import math
import random
from collections import defaultdict
from collections.abc import Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import igraph as ig
import numpy as np

from ringfinder.export.fonts import find_cjk_font
from ringfinder.export.labels import t

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ringfinder.export.case import CaseData, Edge, Node

#: Node colours by kind (colour-blind-safe Okabe-Ito palette), shared with the HTML.
COLOURS = {
    "person": "#0072B2",
    "card": "#56B4E9",
    "doctor": "#009E73",
    "institution": "#E69F00",
    "pharmacy": "#F0E442",
    "issuer": "#CC79A7",
    "agent_phone": "#D55E00",
    "agent_account": "#D55E00",
}
EDGE_COLOURS = {
    "referral": "#CC79A7",
    "used": "#D55E00",
    "submitted": "#D55E00",
    "paid_to": "#D55E00",
    "owns": "#D55E00",
}
VISIT_COLOURS = {
    "inpatient": "#0072B2",
    "outpatient": "#009E73",
    "chronic_outpatient": "#56B4E9",
    "pharmacy": "#F0E442",
    "reimbursement": "#D55E00",
}
#: Persons drawn as lanes in the timeline; more are summarised in a note.
MAX_LANES = 40
#: Above this many nodes, person and card labels are left out of the network picture.
MAX_LABELLED = 60


def _force(nodes: Sequence[Node], edges: Sequence[Edge]) -> list[tuple[float, float]]:
    """Fruchterman-Reingold from a fixed start, scaled into the unit square."""
    n = len(nodes)
    if n == 1:
        return [(0.5, 0.5)]
    index = {node.id: i for i, node in enumerate(nodes)}
    g = ig.Graph(n=n, edges=[(index[e.source], index[e.target]) for e in edges], directed=False)
    weights = [1.0 + math.log1p(e.records) for e in edges]
    start = [
        [math.cos(2 * math.pi * i / n) * (1 + i % 3), math.sin(2 * math.pi * i / n) * (1 + i % 3)]
        for i in range(n)
    ]
    # igraph's layout draws random numbers from its generator (Python's ``random`` by
    # default): a private one with a fixed seed makes the picture, and the packet's
    # hashes, the same on every export
    ig.set_random_number_generator(random.Random(20251123))
    try:
        coords = g.layout_fruchterman_reingold(
            weights=weights or None, niter=500, seed=start, grid=False
        ).coords
    finally:
        ig.set_random_number_generator(random)
    xs, ys = [c[0] for c in coords], [c[1] for c in coords]
    # fill the square, stretching the short side at most 2.5 times
    wx, wy = (max(xs) - min(xs)) or 1.0, (max(ys) - min(ys)) or 1.0
    sx = max(wx, max(wx, wy) / 2.5)
    sy = max(wy, max(wx, wy) / 2.5)
    cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    scaled = [(0.5 + (x - cx) / sx * 0.9, 0.5 + (y - cy) / sy * 0.9) for x, y in coords]
    return _spread(scaled, min_dist=min(0.08, 0.9 / math.sqrt(n)))


def _spread(
    coords: Sequence[tuple[float, float]], *, min_dist: float, rounds: int = 50
) -> list[tuple[float, float]]:
    """Push apart nodes closer than ``min_dist`` (a star's hubs all land at its centre).

    Each round moves both nodes of every too-close pair half the shortfall apart, along
    the line between them (or a fixed direction per pair when they coincide), and keeps
    them inside the unit square. Deterministic.
    """
    xy = np.array(coords, dtype=float)
    n = len(xy)
    if n < 2:
        return [tuple(p) for p in xy]  # type: ignore[misc]
    i_idx, j_idx = np.triu_indices(n, k=1)
    angle = (i_idx * 7 + j_idx * 13) % 360 * math.pi / 180  # fixed per pair
    for _ in range(rounds):
        d = xy[j_idx] - xy[i_idx]
        dist = np.hypot(d[:, 0], d[:, 1])
        close = dist < min_dist
        if not close.any():
            break
        unit = np.where(
            (dist > 1e-9)[:, None],
            d / np.maximum(dist, 1e-9)[:, None],
            np.column_stack([np.cos(angle), np.sin(angle)]),
        )
        push = (np.where(close, min_dist - dist, 0.0) / 2)[:, None] * unit
        move = np.zeros_like(xy)
        np.add.at(move, i_idx, -push)
        np.add.at(move, j_idx, push)
        xy = np.clip(xy + move, 0.02, 0.98)
    return [(float(x), float(y)) for x, y in xy]


def layout(nodes: Sequence[Node], edges: Sequence[Edge]) -> dict[str, tuple[float, float]]:
    """Deterministic 2-D positions in [0, 1] for the lead's network.

    Members without any link (e.g. community members with no evidence record) sit in
    rows along the bottom, so the linked part gets the room.
    """
    if not nodes:
        return {}
    linked = {e.source for e in edges} | {e.target for e in edges}
    core = [n for n in nodes if n.id in linked]
    loose = [n for n in nodes if n.id not in linked]
    pos: dict[str, tuple[float, float]] = {}
    if not core or not loose:
        for node, (x, y) in zip(nodes, _force(nodes, edges), strict=True):
            pos[node.id] = (round(x, 4), round(y, 4))
        return pos
    per_row = max(6, math.ceil(math.sqrt(len(loose) * 3)))
    rows = math.ceil(len(loose) / per_row)
    band = min(0.3, 0.06 * rows + 0.02)  # bottom share of the square for loose nodes
    for node, (x, y) in zip(core, _force(core, edges), strict=True):
        pos[node.id] = (round(x, 4), round(band + y * (1 - band), 4))
    for i, node in enumerate(loose):
        row, col = divmod(i, per_row)
        in_row = min(per_row, len(loose) - row * per_row)
        x = 0.05 + 0.9 * (col + 0.5) / in_row
        y = band - (row + 0.5) * band / rows
        pos[node.id] = (round(x, 4), round(y, 4))
    return pos


def case_layout(case: CaseData) -> dict[str, tuple[float, float]]:
    """The lead's layout, computed once per case (pictures, HTML and JSON share it)."""
    cached = getattr(case, "_layout", None)
    if cached is None:
        cached = layout(case.nodes, case.edges)
        case._layout = cached  # type: ignore[attr-defined]
    return cached


@contextmanager
def _cjk_rc() -> Iterator[Any]:
    import matplotlib
    from matplotlib import font_manager

    font = find_cjk_font()
    font_manager.fontManager.addfont(str(font.path))
    name = font_manager.FontProperties(fname=str(font.path)).get_name()
    weights = [f.weight for f in font_manager.fontManager.ttflist if f.name == name]
    with matplotlib.rc_context(
        {
            "font.family": "sans-serif",
            "font.weight": weights[0] if weights else "normal",
            "axes.titleweight": weights[0] if weights else "normal",
            "axes.labelweight": weights[0] if weights else "normal",
            "figure.titleweight": weights[0] if weights else "normal",
            "font.sans-serif": [name, "DejaVu Sans"],
            "axes.unicode_minus": False,
            "svg.hashsalt": "ringfinder",
        }
    ):
        yield name


def _png(fig: Any) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150, metadata={"Software": None})
    return buf.getvalue()


def network_png(case: CaseData, lang: str) -> bytes:
    """The lead's network as a PNG: members and aggregated evidence links."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    pos = case_layout(case)
    with _cjk_rc():
        fig = Figure(figsize=(9, 7.5), layout="constrained")
        ax = fig.add_subplot(1, 1, 1)
        ax.set_axis_off()
        ax.set_xlim(-0.05, 1.05)
        ax.set_ylim(-0.05, 1.05)
        ax.set_aspect("equal")
        top = max((e.records for e in case.edges), default=1) or 1
        for e in case.edges:
            (x1, y1), (x2, y2) = pos[e.source], pos[e.target]
            ax.plot(
                [x1, x2],
                [y1, y2],
                color=EDGE_COLOURS.get(e.kind, "#999999"),
                linewidth=0.6 + 2.4 * e.records / top,
                alpha=0.55,
                zorder=1,
                linestyle="--" if e.kind in ("referral", "works_at") else "-",
            )
        label_all = len(case.nodes) <= MAX_LABELLED
        for node in case.nodes:
            x, y = pos[node.id]
            size = 40 + 160 * math.sqrt(min(node.records, 100) / 100)
            ax.scatter(
                [x],
                [y],
                s=size,
                c=COLOURS.get(node.kind, "#777777"),
                edgecolors="#C00000" if node.flagged else "white",
                linewidths=2.0 if node.flagged else 0.8,
                zorder=3,
                marker="s" if node.kind in ("institution", "pharmacy", "issuer") else "o",
            )
            if label_all or node.kind not in ("person", "card"):
                ax.annotate(
                    node.label[:14],
                    (x, y),
                    xytext=(0, 7),
                    textcoords="offset points",
                    ha="center",
                    fontsize=6.5,
                    zorder=4,
                )
        kinds = [k for k in COLOURS if any(n.kind == k for n in case.nodes)]
        handles = [
            Line2D(
                [],
                [],
                marker="s" if k in ("institution", "pharmacy", "issuer") else "o",
                linestyle="",
                color=COLOURS[k],
                label=t(f"export.role.{_ROLE_OF_KIND[k]}", lang),
            )
            for k in kinds
        ]
        if handles:
            ax.legend(handles=handles, loc="lower left", fontsize=7, frameon=False, ncol=4)
        ax.set_title(f"{t('export.pic.network', lang)} · {case.lead.lead_id}", fontsize=11)
        return _png(fig)


_ROLE_OF_KIND = {
    "person": "claimant",
    "card": "card",
    "doctor": "doctor",
    "institution": "institution",
    "pharmacy": "pharmacy",
    "issuer": "external",
    "agent_phone": "agent_phone",
    "agent_account": "agent_account",
}


def _monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


def evidence_events(case: CaseData) -> list[tuple[date, str, str, Decimal]]:
    """(date, person, kind, amount) of every evidence record, by date."""
    events = []
    for c in case.claims:
        d = c["start_time"].date() if isinstance(c["start_time"], datetime) else c["start_time"]
        events.append((d, c["person_id"], c["visit_type"], c["total_amount"] or Decimal(0)))
    for r in case.reimbursements:
        events.append(
            (
                r["submitted_date"],
                r["person_id"],
                "reimbursement",
                r["amount_claimed"] or Decimal(0),
            )
        )
    events.sort(key=lambda e: (e[0], e[1]))
    return events


def timeline_png(case: CaseData, lang: str) -> bytes:
    """Money per week (stacked by kind) above one lane per person with each record."""
    from matplotlib import dates as mdates
    from matplotlib.figure import Figure

    events = evidence_events(case)
    with _cjk_rc():
        persons = []
        for _, p, _, _ in events:
            if p not in persons:
                persons.append(p)
        lanes = persons[:MAX_LANES]
        height = 3.0 + 0.16 * max(len(lanes), 5)
        fig = Figure(figsize=(9, height), layout="constrained")
        gs = fig.add_gridspec(2, 1, height_ratios=[2.2, max(len(lanes), 5) * 0.16 + 0.6])
        ax1 = fig.add_subplot(gs[0])
        ax2 = fig.add_subplot(gs[1], sharex=ax1)
        kinds = [k for k in VISIT_COLOURS if any(e[2] == k for e in events)]
        weekly: dict[str, dict[date, float]] = {k: defaultdict(float) for k in kinds}
        for d, _, kind, amount in events:
            weekly.setdefault(kind, defaultdict(float))[_monday(d)] += float(amount)
        weeks = sorted({w for k in weekly.values() for w in k})
        bottom = [0.0] * len(weeks)
        for kind in kinds:
            vals = [weekly[kind].get(w, 0.0) for w in weeks]
            ax1.bar(
                mdates.date2num(weeks),
                vals,
                width=6,
                bottom=bottom,
                color=VISIT_COLOURS[kind],
                label=t(f"export.vt.{kind}", lang),
                align="edge",
            )
            bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
        ax1.set_ylabel(t("export.pic.weekly", lang), fontsize=8)
        ax1.tick_params(labelsize=7)
        if kinds:
            ax1.legend(fontsize=7, framealpha=0.9, ncol=len(kinds), loc="best")
        ax1.set_title(f"{t('export.pic.timeline', lang)} · {case.lead.lead_id}", fontsize=11)
        lane_of = {p: i for i, p in enumerate(lanes)}
        for kind in kinds:
            pts = [(d, lane_of[p]) for d, p, k, _ in events if k == kind and p in lane_of]
            if pts:
                ax2.scatter(
                    mdates.date2num([p[0] for p in pts]),
                    [p[1] for p in pts],
                    s=14,
                    color=VISIT_COLOURS[kind],
                    marker="|" if kind != "inpatient" else "s",
                )
        deaths = {p["person_id"]: p.get("death_date") for p in case.persons if p.get("death_date")}
        dx = [(deaths[p], lane_of[p]) for p in lanes if p in deaths]
        if dx:
            ax2.scatter(
                mdates.date2num([d for d, _ in dx]),
                [y for _, y in dx],
                marker="x",
                color="#C00000",
                s=30,
                label=t("export.pic.death", lang),
            )
            ax2.legend(fontsize=7, framealpha=0.9, loc="best")
        ax2.set_yticks(range(len(lanes)))
        ax2.set_yticklabels(lanes, fontsize=5.5 if len(lanes) > 20 else 7)
        ax2.set_ylim(-0.8, max(len(lanes), 1) - 0.2)
        ax2.invert_yaxis()
        ax2.set_ylabel(t("export.pic.lanes", lang), fontsize=8)
        ax2.xaxis_date()
        ax2.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
        ax2.tick_params(axis="x", labelsize=7, rotation=30)
        if len(persons) > len(lanes):
            ax2.set_xlabel(
                t("export.pic.more_persons", lang, n=len(persons) - len(lanes)), fontsize=7
            )
        return _png(fig)
