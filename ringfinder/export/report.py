"""The offline HTML report: one self-contained file listing the leads of a run, with an
interactive network view of each (click a lead: its network, money and reasons).

No network, no server, no library fetched at run time: the script and styles are
inline, the layout is computed here with igraph (the same as the case packets'
pictures), and the page's Content-Security-Policy allows only its own inline script
(by hash) and nothing to be fetched. Lead data is embedded as JSON and put into the
page with ``textContent`` only, so names in the data can never become markup.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime
from html import escape
from typing import Any

import duckdb

from ringfinder import __version__
from ringfinder.export.case import gather
from ringfinder.export.labels import t
from ringfinder.export.pictures import COLOURS, EDGE_COLOURS, case_layout
from ringfinder.export.tables import fmt_money
from ringfinder.triage import TRANSFER_THRESHOLD, StoredLead, latest_run, list_leads

_KIND_ROLE = {
    "person": "claimant",
    "card": "card",
    "doctor": "doctor",
    "institution": "institution",
    "pharmacy": "pharmacy",
    "issuer": "external",
    "agent_phone": "agent_phone",
    "agent_account": "agent_account",
}

CSS = """
*{box-sizing:border-box}
body{margin:0;font-family:"Noto Sans CJK SC","WenQuanYi Zen Hei","Microsoft YaHei",
"PingFang SC",sans-serif;color:#222;font-size:14px;display:flex;height:100vh}
#side{width:380px;border-right:1px solid #ccc;display:flex;flex-direction:column}
#side h1{font-size:17px;margin:12px}
#filter{margin:0 12px 8px;padding:5px;font-size:13px}
#leads{list-style:none;margin:0;padding:0;overflow:auto;flex:1}
.lead{display:block;width:100%;text-align:left;border:0;border-bottom:1px solid #eee;
background:#fff;padding:7px 12px;cursor:pointer;font:inherit}
.lead:hover{background:#f3f7fb}.lead.sel{background:#dde6f0}
.lead .id{font-family:monospace;font-weight:bold}.lead .meta{color:#555;font-size:12px}
.badge{display:inline-block;padding:0 5px;border-radius:3px;font-size:11px;margin-left:4px}
.b-transfer{background:#b00000;color:#fff}.b-status{background:#eee;color:#333}
#main{flex:1;display:flex;flex-direction:column;overflow:auto;padding:12px 18px}
#detail h2{font-size:19px;margin:4px 0}#facts{color:#333;margin:4px 0 8px}
#reasons{margin:4px 0 8px 18px;padding:0}
#net{border:1px solid #ccc;background:#fcfcfc;width:100%;height:560px;cursor:grab}
#legend span{display:inline-block;margin-right:12px;font-size:12px}
#legend i{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
#nodeinfo{min-height:1.5em;font-size:13px;color:#333;margin:6px 0}
.foot{color:#777;font-size:12px;margin-top:8px}
.dim{opacity:.12}
"""

JS = r"""
(function(){
"use strict";
var DATA = JSON.parse(document.getElementById("rf-data").textContent);
var L = DATA.labels, SVGNS = "http://www.w3.org/2000/svg";
var byId = {}; DATA.leads.forEach(function(l){ byId[l.id] = l; });
var svg = document.getElementById("net"), view = {x:0, y:0, k:1}, current = null;
function el(tag, attrs, text){
  var e = document.createElementNS(SVGNS, tag);
  for (var k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined){ var tt = document.createElementNS(SVGNS, "title");
    tt.textContent = text; e.appendChild(tt); }
  return e;
}
function setText(id, text){ document.getElementById(id).textContent = text; }
function applyView(){
  var s = 1000 / view.k;
  svg.setAttribute("viewBox", view.x + " " + view.y + " " + s + " " + (s * 0.56));
}
function draw(lead){
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  var g = el("g", {id: "net-g"}), pos = {}, W = 1000, H = 560, top = 1;
  lead.edges.forEach(function(e){ top = Math.max(top, e.n); });
  lead.nodes.forEach(function(n){ pos[n.id] = [40 + n.x * (W - 80), 20 + (1 - n.y) * (H - 40)]; });
  lead.edges.forEach(function(e, i){
    var a = pos[e.s], b = pos[e.t];
    var line = el("line", {x1:a[0], y1:a[1], x2:b[0], y2:b[1], "class":"edge",
      stroke: DATA.edgeColours[e.k] || "#999", "stroke-opacity": 0.55,
      "stroke-width": (0.6 + 2.4 * e.n / top).toFixed(2), "data-s": e.s, "data-t": e.t},
      e.k + " · " + e.n + " · " + e.a);
    if (e.k === "referral" || e.k === "works_at") line.setAttribute("stroke-dasharray", "5 4");
    g.appendChild(line);
  });
  lead.nodes.forEach(function(n){
    var p = pos[n.id], r = 5 + 9 * Math.sqrt(Math.min(n.r, 100) / 100);
    var grp = el("g", {"class": "node", "data-id": n.id, tabindex: 0},
      L.kinds[n.kind] + " " + n.label + " · " + n.r + " · " + n.a);
    var shape;
    if (n.kind === "institution" || n.kind === "pharmacy" || n.kind === "issuer")
      shape = el("rect", {x: p[0] - r, y: p[1] - r, width: 2 * r, height: 2 * r});
    else shape = el("circle", {cx: p[0], cy: p[1], r: r});
    shape.setAttribute("fill", DATA.colours[n.kind] || "#777");
    shape.setAttribute("stroke", n.f ? "#c00000" : "#fff");
    shape.setAttribute("stroke-width", n.f ? 2.5 : 1.2);
    grp.appendChild(shape);
    if (lead.nodes.length <= 80 || (n.kind !== "person" && n.kind !== "card")){
      var lab = el("text", {x: p[0], y: p[1] - r - 3, "font-size": 11, "text-anchor": "middle"});
      lab.textContent = n.label.length > 16 ? n.label.slice(0, 15) + "…" : n.label;
      grp.appendChild(lab);
    }
    grp.addEventListener("click", function(ev){ ev.stopPropagation(); focusNode(lead, n); });
    g.appendChild(grp);
  });
  svg.appendChild(g);
  view = {x: 0, y: 0, k: 1}; applyView();
}
function focusNode(lead, n){
  var near = {}; near[n.id] = true; var links = 0;
  lead.edges.forEach(function(e){
    if (e.s === n.id || e.t === n.id){ near[e.s] = true; near[e.t] = true; links++; } });
  svg.querySelectorAll(".node").forEach(function(x){
    x.classList.toggle("dim", !near[x.getAttribute("data-id")]); });
  svg.querySelectorAll(".edge").forEach(function(x){
    var on = x.getAttribute("data-s") === n.id || x.getAttribute("data-t") === n.id;
    x.classList.toggle("dim", !on); });
  setText("nodeinfo", L.kinds[n.kind] + " " + n.label +
    (n.role && n.role !== L.kinds[n.kind] ? " (" + n.role + ")" : "") +
    " · " + L.records + " " + n.r + " · " + L.amount + " " + n.a + " · " + L.links + " " + links);
}
function clearFocus(){
  svg.querySelectorAll(".dim").forEach(function(x){ x.classList.remove("dim"); });
  setText("nodeinfo", "");
}
function select(id){
  var lead = byId[id]; if (!lead) return;
  current = lead;
  document.querySelectorAll(".lead").forEach(function(b){
    b.classList.toggle("sel", b.getAttribute("data-id") === id);
    b.setAttribute("aria-pressed", b.getAttribute("data-id") === id ? "true" : "false"); });
  document.getElementById("placeholder").hidden = true;
  document.getElementById("detail").hidden = false;
  setText("d-id", lead.id + " · " + lead.pattern);
  setText("facts", L.score + " " + lead.score + " · " + L.status + " " + lead.status + " · " +
    L.persons + " " + lead.persons + " · " + L.period + " " + lead.first + " — " + lead.last +
    " · " + L.amount + " " + lead.amount + " · " + L.fund + " " + lead.fund + " · " +
    lead.transferText);
  var ol = document.getElementById("reasons");
  while (ol.firstChild) ol.removeChild(ol.firstChild);
  lead.reasons.forEach(function(r){
    var li = document.createElement("li"); li.textContent = r; ol.appendChild(li); });
  draw(lead); clearFocus();
  if (location.hash !== "#" + id) history.replaceState(null, "", "#" + id);
}
document.querySelectorAll(".lead").forEach(function(b){
  b.addEventListener("click", function(){ select(b.getAttribute("data-id")); }); });
document.getElementById("filter").addEventListener("input", function(ev){
  var q = ev.target.value.trim().toLowerCase();
  document.querySelectorAll("#leads li").forEach(function(li){
    li.hidden = q !== "" && li.textContent.toLowerCase().indexOf(q) < 0; }); });
svg.addEventListener("click", clearFocus);
svg.addEventListener("wheel", function(ev){
  ev.preventDefault();
  var k = Math.min(8, Math.max(0.5, view.k * (ev.deltaY < 0 ? 1.15 : 1 / 1.15)));
  var rect = svg.getBoundingClientRect(), s0 = 1000 / view.k, s1 = 1000 / k;
  var fx = (ev.clientX - rect.left) / rect.width, fy = (ev.clientY - rect.top) / rect.height;
  view.x += (s0 - s1) * fx; view.y += (s0 - s1) * 0.56 * fy; view.k = k; applyView();
}, {passive: false});
var drag = null;
svg.addEventListener("mousedown", function(ev){ drag = [ev.clientX, ev.clientY, view.x, view.y]; });
window.addEventListener("mouseup", function(){ drag = null; });
window.addEventListener("mousemove", function(ev){
  if (!drag) return;
  var rect = svg.getBoundingClientRect(), s = 1000 / view.k;
  view.x = drag[2] - (ev.clientX - drag[0]) * s / rect.width;
  view.y = drag[3] - (ev.clientY - drag[1]) * s / rect.width; applyView(); });
var start = decodeURIComponent(location.hash.slice(1));
if (byId[start]) select(start);
document.body.setAttribute("data-ready", "1");
})();
"""


def _lead_data(case: Any, lead: StoredLead, lang: str) -> dict[str, Any]:
    pos = case_layout(case)
    transfer = t(
        "export.f.transfer_yes" if lead.above_threshold else "export.f.transfer_no",
        lang,
        amount=fmt_money(lead.amount_total),
        threshold=fmt_money(TRANSFER_THRESHOLD),
    )
    return {
        "id": lead.lead_id,
        "rank": lead.rank,
        "pattern": lead.pattern,
        "score": f"{lead.score:.1f}",
        "status": t(f"triage.status.{lead.status}", lang),
        "persons": len(lead.members.get("persons", [])),
        "amount": fmt_money(lead.amount_total),
        "fund": fmt_money(lead.fund_amount),
        "transfer": lead.above_threshold,
        "transferText": transfer,
        "first": lead.first_seen.isoformat() if lead.first_seen else "",
        "last": lead.last_seen.isoformat() if lead.last_seen else "",
        "reasons": lead.reason_text(lang),
        "nodes": [
            {
                "id": n.id,
                "kind": n.kind,
                "label": n.label,
                "role": t(f"export.role.{n.role}", lang) if n.role else "",
                "r": n.records,
                "a": fmt_money(n.amount),
                "f": n.flagged,
                "x": pos[n.id][0],
                "y": pos[n.id][1],
            }
            for n in case.nodes
        ],
        "edges": [
            {"s": e.source, "t": e.target, "k": e.kind, "n": e.records, "a": fmt_money(e.amount)}
            for e in case.edges
        ],
    }


def _embed_json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def build_report(
    con: duckdb.DuckDBPyConnection,
    *,
    lang: str = "zh",
    run_id: str | None = None,
    top: int | None = None,
    statuses: tuple[str, ...] = (),
) -> tuple[str, int]:
    """The report's HTML and the number of leads in it."""
    run = run_id or latest_run(con).run_id
    leads = list_leads(con, run_id=run, statuses_wanted=statuses)
    if top is not None:
        leads = leads[:top]
    data_leads = [_lead_data(gather(con, lead), lead, lang) for lead in leads]
    labels: dict[str, Any] = {
        "kinds": {k: t(f"export.role.{r}", lang) for k, r in _KIND_ROLE.items()},
        "score": t("export.f.score", lang),
        "status": t("export.f.status", lang),
        "persons": t("export.f.persons", lang),
        "period": t("export.f.period", lang),
        "amount": t("export.f.amount", lang),
        "fund": t("export.f.fund", lang),
        "records": t("export.c.evidence", lang),
        "links": t("export.c.links", lang),
    }
    payload = {
        "labels": labels,
        "colours": COLOURS,
        "edgeColours": EDGE_COLOURS,
        "leads": data_leads,
    }
    script_hash = base64.b64encode(hashlib.sha256(JS.encode("utf-8")).digest()).decode()
    csp = (
        f"default-src 'none'; script-src 'sha256-{script_hash}'; style-src 'unsafe-inline'; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    title = t("report.title", lang)
    items = []
    for lead in data_leads:
        badges = f'<span class="badge b-status">{escape(lead["status"])}</span>'
        if lead["transfer"]:
            badges += (
                f'<span class="badge b-transfer">{escape(t("triage.transfer.yes", lang))}</span>'
            )
        items.append(
            f'<li><button class="lead" type="button" data-id="{escape(lead["id"])}" '
            f'aria-pressed="false"><span class="id">{lead["rank"]}. {escape(lead["id"])}</span>'
            f'{badges}<br><span class="meta">{escape(lead["pattern"])} · '
            f"{escape(t('export.f.score', lang))} {escape(lead['score'])} · "
            f"{escape(t('export.f.persons', lang))} {lead['persons']} · "
            f"{escape(lead['amount'])}</span></button></li>"
        )
    legend = "".join(
        f'<span><i style="background:{c}"></i>{escape(labels["kinds"][k])}</span>'
        for k, c in COLOURS.items()
        if k != "agent_account"
    )
    generated = t(
        "report.generated",
        lang,
        when=datetime.now().strftime("%Y-%m-%d %H:%M"),
        run=run,
        n=len(data_leads),
    )
    html = f"""<!DOCTYPE html>
<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="ringfinder {__version__}">
<title>{escape(title)}</title><style>{CSS}</style></head>
<body data-ready="0">
<nav id="side"><h1>{escape(title)}</h1>
<input id="filter" type="search" placeholder="{escape(t("report.filter", lang))}">
<ul id="leads">{"".join(items)}</ul></nav>
<main id="main">
<p id="placeholder">{escape(t("report.pick", lang))}</p>
<section id="detail" hidden>
<h2 id="d-id"></h2><div id="facts"></div><ol id="reasons"></ol>
<div id="legend">{legend}</div>
<svg id="net" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1000 560" role="img"></svg>
<div id="nodeinfo"></div><div class="note">{escape(t("report.drag", lang))}</div>
</section>
<p class="foot">{escape(generated)}</p>
</main>
<script id="rf-data" type="application/json">{_embed_json(payload)}</script>
<script>{JS}</script>
</body></html>
"""
    return html, len(data_leads)
