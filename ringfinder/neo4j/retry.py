"""Retry a Neo4j unit of work through outages: exponential backoff with jitter, bounded in time.

The driver's managed transactions (``session.execute_write``) already retry transient
errors, but only for ``max_transaction_retry_time`` (30 s by default), which is less than
a server needs to restart and recover its store. :func:`with_retry` wraps a whole unit of
work (open a session, run one managed transaction) and keeps retrying errors that mean
"the server is away or busy" — ``ServiceUnavailable``, ``SessionExpired``,
``TransientError`` and anything the driver marks retryable — until ``max_seconds`` have
passed (``RINGFINDER_NEO4J_RETRY_SECONDS``, default 300). The work must be idempotent
(our writers MERGE). Retries are logged at WARNING with the error's class only: no
query, no parameters, no message text that could quote data.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable
from typing import TypeVar

from ringfinder.errors import EngineError

log = logging.getLogger(__name__)

T = TypeVar("T")

RETRY_ENV = "RINGFINDER_NEO4J_RETRY_SECONDS"
DEFAULT_MAX_SECONDS = 300.0
FIRST_DELAY = 0.5
MAX_DELAY = 10.0


def max_retry_seconds() -> float:
    """The retry budget from ``RINGFINDER_NEO4J_RETRY_SECONDS`` (default 300 s)."""
    raw = os.environ.get(RETRY_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_SECONDS
    try:
        value = float(raw)
    except ValueError:
        raise EngineError(f"{RETRY_ENV} must be a number of seconds, not {raw!r}") from None
    return max(0.0, value)


def is_retryable(exc: BaseException) -> bool:
    """True for errors that mean the server is away or busy (worth another try)."""
    from neo4j.exceptions import (
        DriverError,
        Neo4jError,
        ServiceUnavailable,
        SessionExpired,
        TransientError,
    )

    if isinstance(exc, ServiceUnavailable | SessionExpired | TransientError):
        return True
    if isinstance(exc, DriverError | Neo4jError):
        return bool(exc.is_retryable())
    return isinstance(exc, ConnectionError)


def backoff_delays(
    first: float = FIRST_DELAY, cap: float = MAX_DELAY, rng: random.Random | None = None
) -> Callable[[int], float]:
    """Delay before attempt ``n`` (1-based): ``first * 2**(n-1)``, capped, ±25 % jitter."""
    rng = rng or random.Random()

    def delay(attempt: int) -> float:
        base = min(cap, first * 2 ** max(0, attempt - 1))
        return base * rng.uniform(0.75, 1.25)

    return delay


def with_retry(
    work: Callable[[], T],
    *,
    what: str,
    max_seconds: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``work()``, retried on retryable Neo4j errors until ``max_seconds`` have passed.

    ``what`` names the unit of work in the log (e.g. ``"Claim batch"``; never data).
    When the budget is spent the last error is raised as an :class:`EngineError`.
    """
    budget = max_retry_seconds() if max_seconds is None else max_seconds
    delay = backoff_delays()
    started = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        try:
            return work()
        except Exception as exc:
            if not is_retryable(exc):
                raise
            waited = time.monotonic() - started
            pause = delay(attempt)
            if waited + pause > budget:
                raise EngineError(
                    f"Neo4j did not answer for {waited:.0f} s ({type(exc).__name__}) while "
                    f"writing {what}; gave up after {attempt} attempts "
                    f"(raise {RETRY_ENV} to wait longer, then rerun: the load resumes)"
                ) from None
            log.warning(
                "Neo4j %s during %s; retry %d in %.1f s (%.0f of %.0f s spent)",
                type(exc).__name__,
                what,
                attempt,
                pause,
                waited,
                budget,
            )
            sleep(pause)
