"""Generate a Neo4j Bloom perspective for the ringfinder graph.

The shape follows Bloom 2.x exports (``version``, ``categories`` with captions,
``labels``, ``relationshipTypes``, ``palette``, ``templates`` = search phrases,
``metadata``). Search phrases are the ``cypher/bloom/*.cypher`` files: each starts
with ``// phrase:``, ``// description:``, ``// param: $name type [Label prop]`` and
``// sample:`` header lines (the sample query gives a parameter value for tests).

Rule-based styling (colour and size by ``risk_score``, colour by ``community_id``)
is written in the documented modes (range / unique value); Bloom's exact JSON keys
for style rules are not published, so these rules are best effort and may need a
one-time touch in the perspective editor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import duckdb

from ringfinder.engine.embedded import create_schema
from ringfinder.neo4j.model import KEYS, NODES, RELS
from ringfinder.resources import resource_dir

BLOOM_VERSION = "2.21.0"
PALETTE = [
    "#FFE081",
    "#C990C0",
    "#F79767",
    "#57C7E3",
    "#F16667",
    "#D9C8AE",
    "#8DCC93",
    "#ECB5C9",
    "#4C8EDA",
    "#FFC454",
    "#DA7194",
    "#569480",
    "#959AA1",
    "#D9D9D9",
]
#: label -> (colour, caption property, Material icon name)
STYLE = {
    "Person": ("#4C8EDA", "person_id", "person"),
    "Card": ("#FFC454", "card_id", "credit_card"),
    "Institution": ("#F16667", "name", "local_hospital"),
    "Pharmacy": ("#8DCC93", "name", "local_pharmacy"),
    "Doctor": ("#57C7E3", "doctor_id", "medical_services"),
    "Claim": ("#D9C8AE", "visit_type", "receipt"),
    "Reimbursement": ("#F79767", "reimbursement_id", "request_quote"),
    "Invoice": ("#ECB5C9", "invoice_id", "description"),
    "Item": ("#D9D9D9", "item_name", "medication"),
    "Phone": ("#C990C0", "key", "phone"),
    "Account": ("#C990C0", "key", "account_balance"),
    "Address": ("#C990C0", "key", "home"),
    "Terminal": ("#959AA1", "key", "point_of_sale"),
    "Region": ("#569480", "region_code", "map"),
    "Handler": ("#959AA1", "key", "badge"),
    "Lead": ("#DA7194", "lead_id", "report"),
    "Community": ("#FFE081", "community_id", "groups"),
}
EXTRA_PROPS = {
    "Lead": {
        "lead_id": "string",
        "pattern": "string",
        "score": "number",
        "amount_total": "number",
        "fund_amount": "number",
        "first_seen": "string",
        "last_seen": "string",
        "evidence": "bigint",
    },
    "Community": {"community_id": "string", "size": "bigint"},
}
RISK_LABELS = ("Person", "Card", "Doctor", "Institution", "Pharmacy")
_DUCK_TO_BLOOM = {
    "VARCHAR": "string",
    "DATE": "Date",
    "TIMESTAMP": "LocalDateTime",
    "DOUBLE": "number",
    "BIGINT": "bigint",
    "INTEGER": "bigint",
    "BOOLEAN": "boolean",
}


@dataclass(frozen=True)
class Phrase:
    """One search phrase (a Bloom template) read from ``cypher/bloom``."""

    name: str
    text: str
    description: str
    cypher: str
    params: list[dict[str, Any]] = field(default_factory=list)
    sample: str = ""


def read_phrases() -> list[Phrase]:
    """Every search phrase shipped in ``cypher/bloom/*.cypher``, sorted by file name."""
    phrases = []
    for path in sorted(resource_dir("cypher").joinpath("bloom").glob("*.cypher")):
        header: dict[str, list[str]] = {}
        body = []
        for line in path.read_text(encoding="utf-8").splitlines():
            m = re.match(r"//\s*(phrase|description|param|sample):\s*(.*)$", line)
            if m:
                header.setdefault(m.group(1), []).append(m.group(2).strip())
            elif line.strip():
                body.append(line)
        params = []
        for spec in header.get("param", []):
            parts = spec.split()
            params.append(
                {
                    "name": parts[0],
                    "dataType": {"integer": "Integer", "string": "String"}.get(parts[1], parts[1]),
                    "suggestionLabel": parts[2] if len(parts) > 2 else None,
                    "suggestionProp": parts[3] if len(parts) > 3 else None,
                }
            )
        phrases.append(
            Phrase(
                name=path.stem,
                text=header["phrase"][0],
                description=header.get("description", [""])[0],
                cypher="\n".join(body),
                params=params,
                sample=header.get("sample", [""])[0],
            )
        )
    return phrases


def label_properties() -> dict[str, dict[str, str]]:
    """Property names and Bloom data types per label, from the graph model's queries."""
    con = duckdb.connect(":memory:")
    create_schema(con)
    props: dict[str, dict[str, str]] = {}
    for spec in NODES:
        desc = con.execute(f"DESCRIBE SELECT * FROM ({spec.sql})").fetchall()
        mine = props.setdefault(spec.label, {})
        for name, dtype, *_ in desc:
            key = KEYS[spec.label] if name == "key" else name
            mine[key] = _DUCK_TO_BLOOM.get(str(dtype).split("(")[0], "string")
    for label, extra in EXTRA_PROPS.items():
        props.setdefault(label, {}).update(extra)
    for label in RISK_LABELS:
        props[label]["risk_score"] = "number"
    props["Person"]["community_id"] = "string"
    con.close()
    return props


def _risk_rules(ts: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"rule:{ts}:risk",
            "type": "range",
            "basedOn": "risk_score",
            "dataType": "number",
            "minValue": 0,
            "maxValue": 100,
            "applyColor": True,
            "colors": ["#FFF3B0", "#F16667"],
            "applySize": True,
            "sizes": [1, 3],
            "applyCaption": False,
        }
    ]


def _category(i: int, label: str, props: dict[str, str], ts: int) -> dict[str, Any]:
    color, caption, icon = STYLE[label]
    rules = _risk_rules(ts) if label in RISK_LABELS else []
    if label == "Person":
        rules.append(
            {
                "id": f"rule:{ts}:community",
                "type": "unique",
                "basedOn": "community_id",
                "dataType": "string",
                "applyColor": True,
                "applySize": False,
                "applyCaption": False,
            }
        )
    return {
        "id": i,
        "name": label,
        "labels": [label],
        "properties": [{"name": k, "exclude": False, "dataType": v} for k, v in props.items()],
        "createdAt": ts,
        "lastEditedAt": ts,
        "color": color,
        "size": 1,
        "icon": icon,
        "captionKeys": [],
        "captions": [
            {"inTooltip": False, "styles": [], "isCaption": False, "key": label, "type": "label"}
        ]
        + [
            {
                "inTooltip": k in (caption, "risk_score", "score", "community_id"),
                "styles": [],
                "isCaption": k == caption,
                "key": k,
                "type": "property",
                "isGdsData": False,
            }
            for k in props
        ],
        "textSize": 1,
        "textAlign": "top",
        "styleRules": rules,
    }


def build_perspective(
    name: str = "ringfinder 医保欺诈团伙", *, timestamp: int = 0
) -> dict[str, Any]:
    """The perspective as a dict (deterministic for a given ``timestamp``)."""
    ts = timestamp
    props = label_properties()
    labels = sorted(props, key=list(STYLE).index)
    rel_types = sorted({r.type for r in RELS} | {"INVOLVES", "MEMBER_OF"})
    segments = sorted(
        {(r.a_label or "Institution", r.type, r.b_label or "Institution") for r in RELS}
        | {("Lead", "INVOLVES", m) for m in RISK_LABELS}
        | {("Person", "MEMBER_OF", "Community")}
    )
    templates = []
    for i, ph in enumerate(read_phrases()):
        templates.append(
            {
                "name": ph.description or ph.text,
                "id": f"tmpl:{ts + i}",
                "createdAt": ts + i,
                "text": ph.text,
                "cypher": ph.cypher,
                "isUpdateQuery": None,
                "isWriteTransactionChecked": None,
                "params": [
                    {
                        "name": p["name"],
                        "dataType": p["dataType"],
                        "collapsed": False,
                        "suggestionLabel": p["suggestionLabel"],
                        "suggestionProp": p["suggestionProp"],
                        "suggestionBoolean": False,
                        "cypher": None,
                    }
                    for p in ph.params
                ],
                "hasCypherErrors": False,
            }
        )
    return {
        "name": name,
        "id": "ringfinder-perspective-v1",
        "categories": [_category(i + 1, lb, props[lb], ts) for i, lb in enumerate(labels)],
        "labels": {
            lb: [{"propertyKey": k, "type": lb, "dataType": v} for k, v in props[lb].items()]
            for lb in labels
        },
        "relationshipTypes": [
            {
                "properties": [],
                "name": t,
                "id": t,
                "color": "#959AA1",
                "size": 1,
                "captionKeys": [],
                "captions": [
                    {
                        "inTooltip": True,
                        "isCaption": True,
                        "styles": [],
                        "key": t,
                        "type": "relationship",
                    }
                ],
                "textSize": 1,
                "textAlign": "top",
                "styleRules": [],
            }
            for t in rel_types
        ],
        "palette": {"colors": PALETTE, "currentIndex": 0},
        "createdAt": ts,
        "lastEditedAt": ts,
        "templates": templates,
        "sceneActions": [],
        "hiddenRelationshipTypes": [],
        "hideUncategorisedData": False,
        "type": "STANDARD_PERSPECTIVE",
        "maxLimitToastMsgEnabled": False,
        "parentPerspectiveId": None,
        "metadata": {
            "pathSegments": [
                {"source": a, "relationshipType": t, "target": b} for a, t, b in segments
            ],
            "indexes": [
                {
                    "label": lb,
                    "type": "native",
                    "propertyKeys": [{"key": KEYS[lb], "metadataProp": False}],
                }
                for lb in labels
            ],
        },
        "version": BLOOM_VERSION,
    }
