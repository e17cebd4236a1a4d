"""Chinese personal and place names, drawn in bulk."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ringfinder.synth import lexicon

SURNAMES = tuple(lexicon.SURNAMES)
_SURNAME_P = 1.0 / (np.arange(len(SURNAMES)) + 6.0)
_SURNAME_P /= _SURNAME_P.sum()

GIVEN_CHARS = tuple(dict.fromkeys("".join(lexicon.GIVEN.values())))
_CHAR = {c: i for i, c in enumerate(GIVEN_CHARS)}
_POOLS = {
    key: np.array([_CHAR[c] for c in dict.fromkeys(chars)], dtype=np.int16)
    for key, chars in lexicon.GIVEN.items()
}
_SURNAME_ARR = pa.array(SURNAMES)
_GIVEN_ARR = pa.array(GIVEN_CHARS)


def surnames(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.choice(len(SURNAMES), size=n, p=_SURNAME_P).astype(np.int16)


def given_names(
    rng: np.random.Generator, male: np.ndarray, birth_year: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One or two given-name characters by gender and era; the second is -1 when absent."""
    n = male.size
    era = np.where(birth_year < 1970, 0, np.where(birth_year < 1995, 1, 2))
    g1 = np.empty(n, dtype=np.int16)
    g2 = np.empty(n, dtype=np.int16)
    for (gender, e), pool in _POOLS.items():
        sel = np.flatnonzero((male == (gender == "M")) & (era == e))
        g1[sel] = pool[rng.integers(0, pool.size, sel.size)]
        g2[sel] = pool[rng.integers(0, pool.size, sel.size)]
    double = rng.random(n) < np.where(era == 2, 0.85, 0.65)
    g2[~double] = -1
    return g1, g2


def name_column(surname: np.ndarray, g1: np.ndarray, g2: np.ndarray) -> pa.Array:
    second = pa.array(np.where(g2 < 0, 0, g2), mask=g2 < 0)
    return pc.binary_join_element_wise(
        _SURNAME_ARR.take(surname),
        _GIVEN_ARR.take(g1),
        _GIVEN_ARR.take(second),
        "",
        null_handling="skip",
    )


def name_strings(surname: np.ndarray, g1: np.ndarray, g2: np.ndarray) -> list[str]:
    return name_column(surname, g1, g2).to_pylist()


def place_names(rng: np.random.Generator, n: int, *, villages: bool = False) -> list[str]:
    """n distinct two-character place names (more when the combinations run out)."""
    combos = [h + t for h in lexicon.PLACE_HEAD for t in lexicon.PLACE_TAIL]
    if villages:
        combos += [s + "家" for s in SURNAMES[:60]] + [
            s + "家" + t for s in SURNAMES[:40] for t in "湾冲坪桥"
        ]
    combos = list(dict.fromkeys(combos))
    order = rng.permutation(len(combos))
    names = [combos[i] for i in order[:n]]
    k = 2
    while len(names) < n:  # very large cities: 石桥二, 石桥三 ...
        names += [combos[i] + "一二三四五六七八九"[k - 1] for i in order[: n - len(names)]]
        k += 1
    return names
