"""The calendar of one year: which days and which times of day people visit providers."""

from __future__ import annotations

import datetime as dt

import numpy as np

#: 正月初一 (first day of the lunar new year); the quietest week for ordinary care.
SPRING_FESTIVAL = {
    2020: "2020-01-25", 2021: "2021-02-12", 2022: "2022-02-01", 2023: "2023-01-22",
    2024: "2024-02-10", 2025: "2025-01-29", 2026: "2026-02-17", 2027: "2027-02-06",
    2028: "2028-01-26", 2029: "2029-02-13", 2030: "2030-02-03",
}  # fmt: skip

DAY = 86_400
HOUR = 3_600
MINUTE = 60

#: Relative visits per weekday (Monday first) by kind of visit.
_WEEKDAY = {
    "outpatient": (1.15, 1.05, 1.0, 1.0, 1.0, 0.6, 0.5),
    "pharmacy": (1.0, 1.0, 1.0, 1.0, 1.05, 0.95, 0.9),
    "inpatient": (1.1, 1.05, 1.0, 1.0, 0.95, 0.75, 0.7),
    "chronic": (1.1, 1.0, 1.0, 1.0, 1.0, 0.45, 0.25),
}
#: Winter peak of each kind (amplitude of a yearly cosine peaking mid-January).
_SEASON = {"outpatient": 0.2, "pharmacy": 0.1, "inpatient": 0.15, "chronic": 0.0}


def _mixture(parts: list[tuple[float, float, float, str]]) -> np.ndarray:
    """Cumulative distribution over the 1440 minutes of a day from (weight, a, b, shape) parts.

    shape "n": normal with mean a hours and sd b hours; "u": uniform from a to b hours.
    """
    minutes = np.arange(1440) / 60.0 + 1 / 120
    w = np.zeros(1440)
    for weight, a, b, shape in parts:
        if shape == "n":
            dens = np.exp(-0.5 * ((minutes - a) / b) ** 2)
        else:
            dens = ((minutes >= a) & (minutes < b)).astype(float)
        w += weight * dens / dens.sum()
    cdf = np.cumsum(w)
    return cdf / cdf[-1]


_TIME_OF_DAY = {
    "outpatient": _mixture(
        [(0.55, 9.6, 1.1, "n"), (0.33, 15.2, 1.2, "n"), (0.08, 17.5, 21.5, "u"), (0.04, 0, 24, "u")]
    ),
    "pharmacy": _mixture(
        [
            (0.34, 10.0, 1.5, "n"),
            (0.3, 15.5, 1.8, "n"),
            (0.32, 19.3, 1.2, "n"),
            (0.04, 7.5, 22.5, "u"),
        ]
    ),
    "chronic": _mixture([(0.75, 9.3, 1.0, "n"), (0.25, 15.0, 1.0, "n")]),
    "admit": _mixture([(0.65, 10.5, 2.0, "n"), (0.35, 0, 24, "u")]),
    "discharge": _mixture([(1.0, 10.0, 1.2, "n")]),
    "evening": _mixture([(1.0, 18.5, 22.5, "u")]),
}


class Calendar:
    """Day weights and time-of-day sampling for one calendar year."""

    def __init__(self, year: int) -> None:
        self.year = year
        start = dt.date(year, 1, 1)
        self.epoch_day = (start - dt.date(1970, 1, 1)).days
        self.n_days = (dt.date(year + 1, 1, 1) - start).days
        self.weekday = (np.arange(self.n_days) + start.weekday()) % 7
        fest = SPRING_FESTIVAL.get(year, f"{year}-02-01")
        self.festival = (dt.date.fromisoformat(fest) - start).days
        self.national_day = (dt.date(year, 10, 1) - start).days
        self._cdf = {kind: self._day_cdf(kind) for kind in _WEEKDAY}

    def _day_cdf(self, kind: str) -> np.ndarray:
        d = np.arange(self.n_days)
        w = np.array(_WEEKDAY[kind])[self.weekday]
        w = w * (1 + _SEASON[kind] * np.cos(2 * np.pi * (d - 15) / self.n_days))
        off = d - self.festival
        w[(off >= -3) & (off <= 6)] *= 0.35 if kind != "pharmacy" else 0.6
        w[(off >= -12) & (off < -3)] *= 1.1
        w[(d >= self.national_day) & (d < self.national_day + 7)] *= 0.55
        cdf = np.cumsum(w)
        return cdf / cdf[-1]

    def days(self, rng: np.random.Generator, n: int, kind: str) -> np.ndarray:
        """Random days of the year (0-based) weighted for ``kind`` of visit."""
        return np.searchsorted(self._cdf[kind], rng.random(n), side="right").astype(np.int64)

    def seconds(self, rng: np.random.Generator, n: int, kind: str) -> np.ndarray:
        """Random second of the day for ``kind`` (outpatient, pharmacy, chronic, admit, ...)."""
        minute = np.searchsorted(_TIME_OF_DAY[kind], rng.random(n), side="right")
        return np.minimum(minute, 1439).astype(np.int64) * MINUTE + rng.integers(0, 60, n)

    def workday(self, day: np.ndarray) -> np.ndarray:
        """Move Sundays to the following Monday (within the year)."""
        day = np.asarray(day, dtype=np.int64)
        sunday = self.weekday[np.clip(day, 0, self.n_days - 1)] == 6
        return np.where(sunday & (day + 1 < self.n_days), day + 1, day)

    def is_weekend(self, day: np.ndarray) -> np.ndarray:
        return self.weekday[np.clip(day, 0, self.n_days - 1)] >= 5
