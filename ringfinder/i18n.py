"""Messages that investigators and the police read, in Chinese and English.

Detectors register their reason templates next to their logic (``MESSAGES`` in the
detector module); this module renders them. Chinese is the default for zh locales.
"""

from __future__ import annotations

import locale
import os
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ringfinder.findings import Reason

LANGS = ("zh", "en")
_TEMPLATES: dict[str, dict[str, str]] = {}


def register(messages: Mapping[str, Mapping[str, str]]) -> None:
    """Add reason templates: ``{code: {"zh": "...{n}...", "en": "...{n}..."}}``."""
    for code, texts in messages.items():
        missing = [lang for lang in LANGS if lang not in texts]
        if missing:
            raise ValueError(f"message {code!r} lacks {missing}")
        _TEMPLATES[code] = dict(texts)


def default_lang() -> str:
    """``zh`` when the user's locale is Chinese, else ``en`` (RINGFINDER_LANG overrides)."""
    forced = os.environ.get("RINGFINDER_LANG")
    if forced in LANGS:
        return forced
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var)
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    loc = locale.getlocale()[0] or ""
    return "zh" if loc.lower().startswith("zh") else "en"


def _fmt(value: Any, lang: str) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, (list, tuple)):
        sep = "、" if lang == "zh" else ", "
        return sep.join(_fmt(v, lang) for v in value)
    return str(value)


def render(reason: Reason, lang: str | None = None) -> str:
    """One reason as text in ``lang`` (default from the locale)."""
    lang = lang or default_lang()
    try:
        template = _TEMPLATES[reason.code][lang]
    except KeyError:
        return f"{reason.code}: " + ", ".join(f"{k}={v}" for k, v in reason.figures.items())
    return template.format(**{k: _fmt(v, lang) for k, v in reason.figures.items()})


def text(code: str, lang: str | None = None, **figures: Any) -> str:
    """Render a registered message directly (for summaries and reports)."""
    return render(Reason(code, figures), lang)
