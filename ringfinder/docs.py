"""Reference documents generated from the code, so they cannot drift from it."""

from __future__ import annotations

from ringfinder.schema import LOAD_ORDER, TABLES


def input_tables_markdown() -> str:
    """docs/input-tables.md: the canonical tables as ringfinder.schema defines them."""
    lines = [
        "# Canonical input tables",
        "",
        "Generated from `ringfinder/schema.py` by `python -m ringfinder.docs`; a test keeps it",
        "in sync. The binding contract is `shared/spec/input-tables.md`; this is its code form.",
        "",
    ]
    for name in LOAD_ORDER:
        t = TABLES[name]
        req = "required" if t.required else "optional"
        lines += [f"## {name} ({req})", "", t.doc, "", f"Key: `{', '.join(t.key)}`", ""]
        lines += [
            "| column | type | required | PII | refers to | values |",
            "|---|---|---|---|---|---|",
        ]
        for c in t.columns:
            ref = ""
            if c.ref:
                ref = " or ".join(c.ref.tables) + (" (external ok)" if c.ref.external_ok else "")
            lines.append(
                f"| {c.name} | {c.type.value} | {'yes' if c.required else ''} | "
                f"{'yes' if c.pii else ''} | {ref} | {' / '.join(c.enum or ())} |"
            )
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys
    from pathlib import Path

    Path(sys.argv[1] if len(sys.argv) > 1 else "docs/input-tables.md").write_text(
        input_tables_markdown(), encoding="utf-8"
    )
