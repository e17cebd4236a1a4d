"""Window reimbursements (手工/零星报销) with their invoices, honest or forged alike."""

from __future__ import annotations

import numpy as np

from ringfinder.synth.frames import Activity, Frame
from ringfinder.synth.market import Market


def window_activity(
    rng: np.random.Generator,
    m: Market,
    year: int,
    *,
    person: np.ndarray,
    submit_day: np.ndarray,
    handler: np.ndarray,
    phone: np.ndarray,
    account: np.ndarray,
    paid_share: np.ndarray,
    inv_reimb: np.ndarray,
    inv_issuer: np.ndarray,
    inv_day: np.ndarray,
    inv_amount: np.ndarray,
    inv_visit: np.ndarray,
    inv_diag: np.ndarray,
    scheme: int = -1,
    serial: np.ndarray | None = None,
) -> Activity:
    """Reimbursements (one per ``person`` row) and invoices (rows pointing at them)."""
    n = person.size
    claimed = np.bincount(inv_reimb, weights=inv_amount, minlength=n).round().astype(np.int64)
    paid = np.floor(claimed * paid_share).astype(np.int64)
    numbers = m.invoice_numbers(rng, inv_issuer, inv_day, inv_visit == 2, year, serial=serial)
    return Activity(
        reimbursements=Frame(
            "reimbursements",
            person=person,
            day=submit_day,
            claimed=claimed,
            paid=paid,
            handler=handler,
            phone=phone,
            account=account,
            scheme=scheme,
        ),
        invoices=Frame(
            "invoices",
            reimb=inv_reimb,
            issuer=inv_issuer,
            number=numbers,
            day=inv_day,
            amount=inv_amount,
            visit=inv_visit,
            diag=inv_diag,
        ),
    )


def split_amounts(
    rng: np.random.Generator, total: np.ndarray, parts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Split each total (cents) into ``parts`` positive pieces: (row of each piece, amounts)."""
    row = np.repeat(np.arange(total.size), parts)
    w = rng.uniform(0.4, 1.0, row.size)
    share = w / np.bincount(row, weights=w, minlength=total.size)[row]
    amount = np.floor(total[row] * share).astype(np.int64)
    # put the rounding remainder on the first piece of each row
    first = np.cumsum(parts) - parts
    amount[first] += total - np.bincount(row, weights=amount, minlength=total.size).astype(np.int64)
    return row, amount
