"""Columnar containers for generated activity: numeric columns only, strings come at write time.

Every generator (honest behaviour, each scheme, each look-alike) returns an
:class:`Activity`; they are concatenated, ordered and given ids in one place, so planted
rows take their ids from the same sequences as honest rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

#: Column dtypes of each kind of frame. Times are seconds from 1 January of the year,
#: days are day-of-year (0-based); -1 marks a missing reference or value.
SCHEMAS: dict[str, dict[str, type]] = {
    "claims": {
        "person": np.int32,
        "card": np.int32,
        "org": np.int32,
        "doctor": np.int32,
        "visit": np.int8,
        "start": np.int64,
        "end": np.int64,
        "diag": np.int16,
        "total": np.int64,  # cents
        "fund": np.int64,  # cents
        "terminal": np.int8,  # 1-based terminal number of the provider, 0 = none
        "scheme": np.int16,  # internal: -1 honest, else index of the planted scheme
    },
    "items": {
        "claim": np.int64,  # index into the claims of the same Activity
        "item": np.int16,
        "qty": np.float64,
        "amount": np.int64,
    },
    "referrals": {
        "person": np.int32,
        "src": np.int32,
        "dst": np.int32,
        "day": np.int32,
        "doctor": np.int32,
        "diag": np.int16,
        "scheme": np.int16,
    },
    "reimbursements": {
        "person": np.int32,
        "day": np.int32,
        "claimed": np.int64,
        "paid": np.int64,
        "handler": np.int16,
        "phone": np.int64,  # 0 = none
        "account": np.int64,  # 0 = none
        "scheme": np.int16,
    },
    "invoices": {
        "reimb": np.int64,  # index into the reimbursements of the same Activity
        "issuer": np.int32,
        "number": np.int64,  # 票据代码 (8 digits) * 10**10 + 票据号码 (10 digits)
        "day": np.int32,
        "amount": np.int64,
        "visit": np.int8,
        "diag": np.int16,
    },
}


class Frame:
    """Equal-length numpy columns of one of the :data:`SCHEMAS`."""

    def __init__(self, kind: str, **cols: np.ndarray | int | float) -> None:
        schema = SCHEMAS[kind]
        if set(cols) - set(schema):
            raise KeyError(f"unknown {kind} columns: {sorted(set(cols) - set(schema))}")
        arrays = {k: np.asarray(v) for k, v in cols.items()}
        sized = [a.size for a in arrays.values() if a.ndim]
        n = max(sized) if sized else 0
        defaults = {"scheme": -1, "doctor": -1, "card": -1, "diag": -1, "end": -1}
        self.kind = kind
        self.cols: dict[str, np.ndarray] = {}
        for name, dtype in schema.items():
            value = arrays.get(name, np.asarray(defaults.get(name, 0)))
            if value.shape == (n,) and value.dtype == dtype and value.flags.writeable:
                self.cols[name] = value  # no copy: the frame owns arrays handed to it
            else:
                self.cols[name] = np.broadcast_to(value, (n,)).astype(dtype, copy=True)

    def __len__(self) -> int:
        return next(iter(self.cols.values())).size

    def __getitem__(self, name: str) -> np.ndarray:
        return self.cols[name]

    def take(self, idx: np.ndarray) -> Frame:
        return Frame(self.kind, **{k: v[idx] for k, v in self.cols.items()})

    @staticmethod
    def empty(kind: str) -> Frame:
        return Frame(kind, **{k: np.empty(0, dtype=t) for k, t in SCHEMAS[kind].items()})

    @staticmethod
    def concat(kind: str, frames: Sequence[Frame]) -> Frame:
        if not frames:
            return Frame.empty(kind)
        return Frame(
            kind, **{k: np.concatenate([f.cols[k] for f in frames]) for k in SCHEMAS[kind]}
        )


@dataclass
class Activity:
    """Claims with their items, referrals, and reimbursements with their invoices."""

    claims: Frame = field(default_factory=lambda: Frame.empty("claims"))
    items: Frame = field(default_factory=lambda: Frame.empty("items"))
    referrals: Frame = field(default_factory=lambda: Frame.empty("referrals"))
    reimbursements: Frame = field(default_factory=lambda: Frame.empty("reimbursements"))
    invoices: Frame = field(default_factory=lambda: Frame.empty("invoices"))

    @staticmethod
    def concat(parts: Sequence[Activity]) -> Activity:
        """One Activity; item and invoice references are shifted to the joined rows."""
        claim_offsets = np.cumsum([0] + [len(p.claims) for p in parts])
        reimb_offsets = np.cumsum([0] + [len(p.reimbursements) for p in parts])

        def joined(kind: str, attr: str, ref: str | None, offsets: np.ndarray) -> Frame:
            frames = [getattr(p, attr) for p in parts]
            if not frames:
                return Frame.empty(kind)
            cols = {}
            for k in SCHEMAS[kind]:
                if k == ref:
                    cols[k] = np.concatenate(
                        [f[k] + off for f, off in zip(frames, offsets, strict=False)]
                    )
                else:
                    cols[k] = np.concatenate([f[k] for f in frames])
            return Frame(kind, **cols)

        return Activity(
            claims=joined("claims", "claims", None, claim_offsets),
            items=joined("items", "items", "claim", claim_offsets),
            referrals=joined("referrals", "referrals", None, claim_offsets),
            reimbursements=joined("reimbursements", "reimbursements", None, reimb_offsets),
            invoices=joined("invoices", "invoices", "reimb", reimb_offsets),
        )


def keep_claims(act: Activity, keep: np.ndarray) -> Activity:
    """Drop the claims where ``keep`` is false, with their items."""
    new_index = np.cumsum(keep) - 1
    items_keep = keep[act.items["claim"]]
    items = act.items.take(np.flatnonzero(items_keep))
    items.cols["claim"] = new_index[items["claim"]]
    return Activity(
        claims=act.claims.take(np.flatnonzero(keep)),
        items=items,
        referrals=act.referrals,
        reimbursements=act.reimbursements,
        invoices=act.invoices,
    )
