"""Dates from loose input (ISO strings, datetimes, pandas Timestamps), shared by every loader."""

from __future__ import annotations

import datetime as dt
from typing import Any

__all__ = ["parse_date"]


def parse_date(value: Any) -> dt.date | None:
    """A `datetime.date` from an ISO string, date, datetime or pandas Timestamp; None for None or "".

    Raises `ValueError` for anything else, so that each loader can say where the bad value was.
    """
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if hasattr(value, "to_pydatetime"):  # a pandas Timestamp, without importing pandas
        moment: dt.datetime = value.to_pydatetime()
        return moment.date()
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    raise ValueError(f"not a date: {value!r}")
