"""Finding a CJK font to embed in PDFs and draw pictures with.

The PDF library embeds TrueType outlines only (a subset of the glyphs used), so the
font must be a ``.ttf``/``.ttc`` with TrueType outlines: WenQuanYi Zen Hei
(Debian ``fonts-wqy-zenhei``, installed by ``scripts/setup-system``), Droid Sans
Fallback, AR PL UMing, or any such font named by ``RINGFINDER_CJK_FONT``
(``/path/font.ttc`` or ``/path/font.ttc#1`` for another face of a collection).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ringfinder.errors import ConfigError

#: Known fonts with TrueType outlines and the CJK Unified Ideographs, best first.
KNOWN = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/usr/share/fonts/truetype/arphic/ukai.ttc",
    "/usr/share/fonts/wenquanyi/wqy-zenhei/wqy-zenhei.ttc",  # Fedora
    "/System/Library/Fonts/STHeiti Medium.ttc",  # macOS
    "C:/Windows/Fonts/simhei.ttf",
    "C:/Windows/Fonts/simsun.ttc",
)
#: Characters the font must have (a sample of what case packets print).
PROBE = "线索概要涉案金额移送公安参保人医师机构"


@dataclass(frozen=True)
class CjkFont:
    path: Path
    index: int = 0  # face in a .ttc collection

    @property
    def name(self) -> str:
        return f"{self.path.name}#{self.index}"


def _has_glyphs(path: Path, index: int) -> bool:
    try:
        from fontTools.ttLib import TTFont  # comes with matplotlib

        with TTFont(str(path), fontNumber=index, lazy=True) as font:
            if "glyf" not in font:  # CFF outlines cannot be embedded by the PDF library
                return False
            cmap = font.getBestCmap() or {}
            return all(ord(ch) in cmap for ch in PROBE)
    except Exception:  # noqa: BLE001 - any unreadable font is simply not a candidate
        return False


def _from_env() -> CjkFont | None:
    value = os.environ.get("RINGFINDER_CJK_FONT")
    if not value:
        return None
    path, _, idx = value.partition("#")
    font = CjkFont(Path(path), int(idx or 0))
    if not font.path.is_file() or not _has_glyphs(font.path, font.index):
        raise ConfigError(
            f"RINGFINDER_CJK_FONT={value}: not a TrueType-outline font with Chinese glyphs"
        )
    return font


def _fontconfig() -> list[CjkFont]:
    if not shutil.which("fc-list"):
        return []
    try:
        res = subprocess.run(
            ["fc-list", ":lang=zh", "file", "index", "fontformat"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    found = []
    for line in sorted(res.stdout.splitlines()):
        path, _, rest = line.partition(":")
        if "TrueType" not in rest:
            continue
        index = 0
        for part in rest.split(":"):
            if part.strip().startswith("index="):
                index = int(part.strip()[6:] or 0)
        found.append(CjkFont(Path(path.strip()), index))
    found.sort(key=lambda f: (f.index, str(f.path)))
    return found


@lru_cache(maxsize=1)
def find_cjk_font() -> CjkFont:
    """The CJK font to use, or a ConfigError saying how to get one."""
    forced = _from_env()
    if forced:
        return forced
    for candidate in [CjkFont(Path(p)) for p in KNOWN] + _fontconfig():
        if candidate.path.is_file() and _has_glyphs(candidate.path, candidate.index):
            return candidate
    raise ConfigError(
        "no Chinese (CJK) TrueType font found for PDFs and pictures: run scripts/setup-system "
        "(installs fonts-wqy-zenhei) or set RINGFINDER_CJK_FONT=/path/to/font.ttf"
    )
