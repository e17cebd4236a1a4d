"""Vectorised builders for fixed-width identifiers, and pools of unique random numbers.

Identifiers are built as ASCII byte matrices (one row per value) and handed to Arrow
without a Python string per row; this is what keeps writing 30 M claims fast.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa

from ringfinder.synth import lexicon

#: ISO 7064 MOD 11-2 weights of the 17 leading digits of a 居民身份证号.
ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
ID_CHECK = np.frombuffer(b"10X98765432", dtype=np.uint8)


def digits(values: np.ndarray, width: int) -> np.ndarray:
    """ASCII digits of non-negative integers, zero-padded: an (n, width) uint8 matrix."""
    v = np.asarray(values, dtype=np.int64).copy()
    out = np.empty((v.size, width), dtype=np.uint8)
    for k in range(width - 1, -1, -1):
        v, r = np.divmod(v, 10)
        out[:, k] = r + 48
    return out


def literal(text: str, n: int) -> np.ndarray:
    """The same ASCII text on n rows: an (n, len) uint8 matrix (a broadcast view)."""
    b = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    return np.broadcast_to(b, (n, b.size))


def ascii_column(parts: list[np.ndarray], valid: np.ndarray | None = None) -> pa.Array:
    """Join (n, w_i) ASCII matrices side by side into an Arrow string array."""
    mat = np.ascontiguousarray(np.hstack(parts), dtype=np.uint8)
    n, w = mat.shape
    offsets = np.arange(0, (n + 1) * w, w, dtype=np.int32)
    bitmap = None
    if valid is not None and not valid.all():
        bitmap = pa.py_buffer(np.packbits(valid.astype(np.uint8), bitorder="little"))
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(mat.tobytes()), bitmap
    )


def id_check_digits(body: np.ndarray) -> np.ndarray:
    """Check characters (ASCII codes) for (n, 17) ASCII-digit bodies of ID numbers."""
    total = (body.astype(np.int64) - 48) @ ID_WEIGHTS
    return ID_CHECK[total % 11]


def id_number_valid(text: str) -> bool:
    """True when ``text`` is an 18-character ID number with a correct check character."""
    if len(text) != 18 or not text[:17].isdigit():
        return False
    body = np.frombuffer(text[:17].encode("ascii"), dtype=np.uint8)[None, :]
    return chr(id_check_digits(body)[0]) == text[17]


class UniquePool:
    """Hands out random integers, never the same one twice (across all draws)."""

    def __init__(self) -> None:
        self._used = np.empty(0, dtype=np.int64)

    def draw(
        self,
        rng: np.random.Generator,
        n: int,
        sampler: Callable[[np.random.Generator, int], np.ndarray],
    ) -> np.ndarray:
        """n new values from ``sampler(rng, k)``, redrawing any repeat."""
        return self.draw_at(rng, n, lambda g, idx: sampler(g, idx.size))

    def draw_at(
        self,
        rng: np.random.Generator,
        n: int,
        sampler: Callable[[np.random.Generator, np.ndarray], np.ndarray],
    ) -> np.ndarray:
        """Like :meth:`draw`, but ``sampler(rng, positions)`` knows which rows it draws for."""
        out = np.asarray(sampler(rng, np.arange(n)), dtype=np.int64).copy()
        used = self._used
        while n:
            order = np.argsort(out, kind="stable")
            ranked = out[order]
            dup = np.zeros(n, dtype=bool)
            dup[order[1:]] = ranked[1:] == ranked[:-1]
            pos = np.minimum(np.searchsorted(used, out), max(used.size - 1, 0))
            taken = used[pos] == out if used.size else np.zeros(n, dtype=bool)
            bad = np.flatnonzero(dup | taken)
            if not bad.size:
                break
            out[bad] = sampler(rng, bad)
        # (np.unique / union1d are hash-based and slow on wide integers: sort instead)
        self._used = np.sort(np.concatenate([used, out]))
        return out


def phone_sampler(rng: np.random.Generator, n: int) -> np.ndarray:
    """11-digit mainland mobile numbers."""
    prefixes = np.array(lexicon.PHONE_PREFIXES, dtype=np.int64)
    return prefixes[rng.integers(0, prefixes.size, n)] * 10**8 + rng.integers(0, 10**8, n)


def account_sampler(rng: np.random.Generator, n: int) -> np.ndarray:
    """19-digit debit-card account numbers (a bank BIN and 13 digits)."""
    bins = np.array(lexicon.BANK_BINS, dtype=np.int64)
    return bins[rng.integers(0, bins.size, n)] * 10**13 + rng.integers(0, 10**13, n)


def uniform_sampler(low: int, high: int) -> Callable[[np.random.Generator, int], np.ndarray]:
    def sample(rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.integers(low, high, n, dtype=np.int64)

    return sample


def number_column(values: np.ndarray, width: int, valid: np.ndarray | None = None) -> pa.Array:
    """Zero-padded decimal strings of integers (phones, accounts) with nulls where not valid."""
    return ascii_column([digits(values, width)], valid)
