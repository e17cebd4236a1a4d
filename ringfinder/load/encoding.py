"""Text encodings of CSV files: check or detect, and transcode GB18030/GBK to UTF-8.

DuckDB and Arrow read UTF-8 only, so a GB18030/GBK file is transcoded once, streaming,
into a temporary UTF-8 copy. Work goes piece by piece, each piece ending at a newline
byte (0x0A is never part of a multi-byte character in UTF-8, GBK or GB18030), so an
error is placed on its exact line.

- ``auto``: UTF-8 (a BOM is skipped); bytes that are not UTF-8 are read as GB18030
  with a warning; bytes that are neither give :class:`EncodingMismatch`.
- ``utf-8``: bytes that are not UTF-8 give :class:`EncodingMismatch` with the line,
  saying whether they look like GB18030.
- ``gb18030`` / ``gbk``: a file that is valid UTF-8 and has non-ASCII text is
  refused (it would load as mojibake), as are bytes the codec cannot decode.

Files that are not CSV text at all (an Excel workbook or a zip, a Parquet file named
``.csv``, UTF-16 text as Excel's "Unicode text" writes it, gzip) are recognised by
their first bytes (:func:`sniff`) and refused with a message saying what they are.

The same pass counts the quote characters and notes a lone CR line end: with an odd
number of quotes the reader looks for a quoted value that is never closed, and with
a lone CR it places rows with an exact CSV parser rather than its fast byte scan.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from ringfinder.errors import ConfigError, EncodingMismatch, InputError

ENCODINGS = ("auto", "utf-8", "gb18030", "gbk")
_ALIASES = {"utf8": "utf-8", "utf-8-sig": "utf-8", "gb2312": "gbk", "cp936": "gbk"}
UTF8_BOM = b"\xef\xbb\xbf"
GB18030_BOM = b"\x84\x31\x95\x33"
CHUNK = 1 << 24
_QUOTE = ord('"')
_NON_ASCII = re.compile(rb"[\x80-\xff]")


def normalise_encoding(name: str | None) -> str:
    """One of :data:`ENCODINGS` (ConfigError otherwise)."""
    enc = (name or "auto").strip().lower()
    enc = _ALIASES.get(enc, enc)
    if enc not in ENCODINGS:
        raise ConfigError(f"unknown encoding {name!r}: use one of {', '.join(ENCODINGS)}")
    return enc


SNIFF_BYTES = 4096
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a zip archive or an Excel workbook (.xlsx), not a CSV file"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel 97-2003 workbook (.xls), not a CSV file"),
    (b"PAR1", "a Parquet file with a .csv name: rename it to .parquet"),
    (b"\x1f\x8b", "a gzip-compressed file, not a CSV file: unpack it first"),
)


def sniff(head: bytes, display: str) -> None:
    """Refuse, from its first bytes, a file that is not CSV text in UTF-8 or GB18030."""
    for magic, what in _MAGIC:
        if head.startswith(magic):
            hint = "" if magic == b"PAR1" else "; save the sheet as CSV (UTF-8)"
            raise InputError(f"{what}{hint}", file=display)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise EncodingMismatch(
            "UTF-16 text (Excel's 'Unicode text'?), not UTF-8 or GB18030; save it as CSV (UTF-8)",
            file=display,
            line=1,
        )
    if len(head) >= 8 and any(
        half.count(0) * 4 >= len(half) * 3 for half in (head[::2], head[1::2])
    ):
        # every other byte NUL: Latin letters and digits in UTF-16 (NUL-padded values
        # of a fixed-width export are rejected row by row instead)
        raise EncodingMismatch(
            "UTF-16 text without a byte-order mark, not UTF-8 or GB18030; save it as CSV (UTF-8)",
            file=display,
            line=1,
        )


@dataclass(frozen=True)
class Prepared:
    """A CSV file ready for the UTF-8 reader."""

    path: Path  # the original file, or a transcoded UTF-8 copy in the temp folder
    encoding: str  # what the bytes were: "utf-8", "gb18030" or "gbk"
    fallback_line: int | None = None  # auto mode: first line that is not UTF-8
    odd_line: int | None = None  # UTF-8 kept, but this line looks like misread GB18030
    quotes: int = 0  # quote characters in the file
    irregular: bool = False  # a lone CR line end (the fast byte scan cannot place rows)
    nul: bool = False  # a NUL byte somewhere in the file


@dataclass
class _Shape:
    """What the reader needs to know about a file's quotes and line ends (cheap counts)."""

    quotes: int = 0
    irregular: bool = False  # a CR that does not end a CRLF
    nul: bool = False  # a NUL byte (never part of a UTF-8 or GB18030 character)

    def add(self, piece: bytes) -> None:
        if not self.nul and b"\0" in piece:  # a memchr
            self.nul = True
        # numpy compares 16 bytes at a time: 3x bytes.count on quote-dense CSV text
        self.quotes += int(np.count_nonzero(np.frombuffer(piece, dtype=np.uint8) == _QUOTE))
        # pieces end after a LF (or at the end of the file): the counts are exact; the
        # CR counts only when the piece has a CR at all (``in`` is a memchr)
        if not self.irregular and b"\r" in piece:
            if piece.count(b"\r") != piece.count(b"\r\n"):
                self.irregular = True


def _pieces(path: Path) -> Iterator[tuple[bytes, _Before]]:
    """(piece, its place): pieces end after a newline byte (or at EOF)."""
    offset = 0
    carry = b""
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(CHUNK)
            if not chunk:
                break
            # the carry (after the last newline) holds no newline: cut in the chunk only,
            # copying the chunk once at most (a whole chunk is not copied at all)
            cut = chunk.rfind(b"\n") + 1
            if cut == 0:
                carry += chunk
                continue
            piece = carry + chunk[:cut] if carry else chunk[:cut]
            carry = chunk[cut:]
            yield piece, _Before(path, offset)
            offset += len(piece)
    if carry:
        yield carry, _Before(path, offset)


@dataclass(frozen=True)
class _Before:
    """Where a piece starts; its line is counted only when asked (an error, a warning)."""

    path: Path
    offset: int  # bytes of the file before the piece

    def lines(self) -> int:
        """Newlines in the file before the piece (reads the file up to it again)."""
        n, left = 0, self.offset
        with self.path.open("rb") as fh:
            while left > 0:
                buf = fh.read(min(CHUNK, left))
                if not buf:
                    break
                n += buf.count(b"\n")
                left -= len(buf)
        return n


def _line_at(piece: bytes, before: _Before, pos: int) -> int:
    return before.lines() + piece.count(b"\n", 0, pos) + 1


@dataclass
class _Utf8Scan:
    error: tuple[int, bytes] | None = None  # (line, bytes from that line) of invalid UTF-8
    wide: bool = False  # any 3- or 4-byte sequence (CJK text in UTF-8 has them)
    odd_line: int | None = None  # first line with a 2-byte letter of an unlikely script


# UTF-8 lead bytes of U+0280..U+07FF (IPA, Greek, Cyrillic, Armenian, Hebrew, Arabic,
# ...): GB18030 Chinese bytes that happen to be valid UTF-8 decode to these
_ODD_2BYTE = re.compile(rb"[\xca-\xdf][\x80-\xbf]")
_WIDE = re.compile(rb"[\xe0-\xf4]")
_LATIN_2BYTE = re.compile(rb"[\xc2-\xc9][\x80-\xbf]")  # U+0080..U+027F: accented Latin


def _valid_utf8(piece: bytes) -> bool:
    """Whether ``piece`` is UTF-8: Arrow's SIMD check, 3x faster than decoding it."""
    offsets = pa.py_buffer(np.array([0, len(piece)], dtype=np.int64))
    text = pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(piece)])
    try:
        text.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _scan_utf8(path: Path, shape: _Shape) -> _Utf8Scan:
    """Check that ``path`` is UTF-8, noting whether its text looks like misread GB18030."""
    scan = _Utf8Scan()
    for piece, before in _pieces(path):
        shape.add(piece)
        if piece.isascii():  # valid UTF-8, nothing to decode (a fast word-wise check)
            continue
        try:
            if not _valid_utf8(piece):  # then decode, for the place of the error
                piece.decode("utf-8")
        except UnicodeDecodeError as exc:
            start = piece.rfind(b"\n", 0, exc.start) + 1
            scan.error = _line_at(piece, before, exc.start), piece[start : start + 65536]
            return scan
        if scan.wide:
            continue
        if _WIDE.search(piece):
            scan.wide = True
        elif scan.odd_line is None and (m := _ODD_2BYTE.search(piece)):
            scan.odd_line = _line_at(piece, before, m.start())
    return scan


def _decodes_as(sample: bytes, codec: str) -> bool:
    try:
        sample.decode(codec)
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the end of the sample is fine
        return exc.start >= len(sample) - 4
    return True


def prepare(path: Path, encoding: str, display: str, tmp_dir: Path) -> Prepared:
    """Check ``path`` against ``encoding``; transcode to UTF-8 when it is GB18030/GBK."""
    enc = normalise_encoding(encoding)
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    sniff(head, display)
    shape = _Shape()
    if enc in ("auto", "utf-8") and not head.startswith(GB18030_BOM):
        scan = _scan_utf8(path, shape)
        if scan.error is None:
            kept = {"quotes": shape.quotes, "irregular": shape.irregular, "nul": shape.nul}
            if scan.wide or scan.odd_line is None:
                return Prepared(path, "utf-8", **kept)
            # valid UTF-8, but only as letters of scripts a Chinese export does not use
            # (e.g. 医院 in GB18030 reads as Cyrillic/Armenian): GB18030 when it decodes
            if enc == "auto":
                try:
                    out = _transcode(path, "gb18030", display, tmp_dir, check_utf8=False)
                except EncodingMismatch:
                    return Prepared(path, "utf-8", odd_line=scan.odd_line, **kept)
                return Prepared(out, "gb18030", fallback_line=scan.odd_line, **kept)
            return Prepared(path, "utf-8", odd_line=scan.odd_line, **kept)
        line, sample = scan.error
        if enc == "utf-8":
            looks = (
                "bytes look like GB18030" if _decodes_as(sample, "gb18030") else "unknown encoding"
            )
            hint = "; try --encoding gb18030" if looks.startswith("bytes") else ""
            raise EncodingMismatch(f"not valid UTF-8 ({looks}){hint}", file=display, line=line)
        shape = _Shape()
        try:
            out = _transcode(path, "gb18030", display, tmp_dir, check_utf8=False, shape=shape)
        except EncodingMismatch:
            raise EncodingMismatch(
                "neither UTF-8 nor GB18030; convert the file to UTF-8", file=display, line=line
            ) from None
        return Prepared(
            out,
            "gb18030",
            fallback_line=line,
            quotes=shape.quotes,
            irregular=shape.irregular,
            nul=shape.nul,
        )
    if enc == "utf-8":  # a GB18030 byte-order mark
        raise EncodingMismatch(
            "not valid UTF-8 (bytes look like GB18030); try --encoding gb18030",
            file=display,
            line=1,
        )
    codec = "gb18030" if enc == "auto" else enc
    if head.startswith(UTF8_BOM):
        raise EncodingMismatch(
            f"the file starts with a UTF-8 byte-order mark, not {codec.upper()}; "
            "try --encoding utf-8",
            file=display,
            line=1,
        )
    out = _transcode(path, codec, display, tmp_dir, check_utf8=True, shape=shape)
    return Prepared(out, codec, quotes=shape.quotes, irregular=shape.irregular, nul=shape.nul)


def _transcode(
    path: Path,
    codec: str,
    display: str,
    tmp_dir: Path,
    *,
    check_utf8: bool,
    shape: _Shape | None = None,
) -> Path:
    """Decode ``path`` with ``codec`` into a UTF-8 temp file (EncodingMismatch on error).

    ``shape`` counts quotes on the source bytes: a quote (0x22), CR or LF byte is never
    part of a GBK/GB18030 multi-byte character.
    """
    tmp_dir.mkdir(parents=True, exist_ok=True)
    out = tmp_dir / f"{len(list(tmp_dir.iterdir())):04d}-{path.stem[:40]}.utf8.csv"
    utf8_ok = True  # are all bytes so far also valid UTF-8?
    plausible = False  # ... and is that UTF-8 text plausible (not only odd-script letters)?
    first_non_ascii: int | None = None
    try:
        with out.open("wb") as dst:
            first = True
            for piece, before in _pieces(path):
                if first and piece.startswith(GB18030_BOM):
                    piece = piece[len(GB18030_BOM) :]
                first = False
                if shape is not None:
                    shape.add(piece)
                try:
                    text = piece.decode(codec)
                except UnicodeDecodeError as exc:
                    line = _line_at(piece, before, exc.start)
                    sample = piece[piece.rfind(b"\n", 0, exc.start) + 1 :][:65536]
                    hint = (
                        "; try --encoding gb18030"
                        if codec == "gbk" and _decodes_as(sample, "gb18030")
                        else "; try --encoding utf-8"
                        if _decodes_as(sample, "utf-8")
                        else ""
                    )
                    raise EncodingMismatch(
                        f"not valid {codec.upper()}{hint}", file=display, line=line
                    ) from None
                if check_utf8 and first_non_ascii is None:
                    m = _NON_ASCII.search(piece)
                    if m is not None:
                        first_non_ascii = _line_at(piece, before, m.start())
                if check_utf8 and utf8_ok and first_non_ascii is not None:
                    try:
                        piece.decode("utf-8")
                    except UnicodeDecodeError:
                        utf8_ok = False
                    else:
                        plausible = plausible or bool(
                            _WIDE.search(piece) or _LATIN_2BYTE.search(piece)
                        )
                dst.write(text.encode("utf-8"))
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    if check_utf8 and utf8_ok and plausible:
        out.unlink(missing_ok=True)
        raise EncodingMismatch(
            f"bytes are valid UTF-8 with non-ASCII text, not {codec.upper()} (reading them "
            "as such would give mojibake); try --encoding utf-8",
            file=display,
            line=first_non_ascii,
        )
    return out
