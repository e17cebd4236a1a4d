"""The encoding scan's fast paths agree with Python's own codec and counts."""

from __future__ import annotations

import random

import pytest

from ringfinder.load.encoding import _Shape, _valid_utf8

TRICKY = [
    b"",
    b"plain ascii\n",
    "医保 诊查费\n".encode(),
    "😀 four bytes\n".encode(),
    b"\xed\xa0\x80",  # a UTF-16 surrogate (U+D800) written as UTF-8
    b"\xed\x9f\xbf",  # U+D7FF, the last code point before the surrogates
    b"\xc0\xaf",  # overlong '/'
    b"\xe0\x80\xaf",  # overlong, three bytes
    b"\xf4\x90\x80\x80",  # beyond U+10FFFF
    b"\xf4\x8f\xbf\xbf",  # U+10FFFF
    b"\xf8\x88\x80\x80\x80",  # five-byte form
    b"\xe5\x8c",  # cut in the middle of a character
    b"\x80",  # a lone continuation byte
    b"\xff\xfe",
    "医".encode("gb18030") + b"\n",  # GB18030 bytes
    b"a\x00b",  # NUL is valid UTF-8
]


def _python_says(b: bytes) -> bool:
    try:
        b.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@pytest.mark.parametrize("sample", TRICKY)
def test_arrow_utf8_check_equals_python_decoding(sample: bytes) -> None:
    assert _valid_utf8(sample) is _python_says(sample)


def test_arrow_utf8_check_equals_python_on_random_bytes() -> None:
    rng = random.Random(11)
    alphabet = list(b"\x00a\n\x80\xbf\xc2\xdf\xe0\xe5\xed\xef\xf0\xf4\xf5\xff")
    verdicts = set()
    for _ in range(5000):
        sample = bytes(rng.choice(alphabet) for _ in range(rng.randint(1, 8)))
        verdict = _python_says(sample)
        verdicts.add(verdict)
        assert _valid_utf8(sample) is verdict, sample
    assert verdicts == {True, False}  # both kinds were drawn


@pytest.mark.parametrize(
    "piece", [b'"a","b"\r\n"c"\r\n', b'a,"x\ry"\n', b"no quotes\n", b'"""\n', b"\r"]
)
def test_shape_counts_equal_bytes_count(piece: bytes) -> None:
    shape = _Shape()
    shape.add(piece)
    assert shape.quotes == piece.count(b'"')
    assert shape.irregular is (piece.count(b"\r") != piece.count(b"\r\n"))
