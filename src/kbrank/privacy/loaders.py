"""Load customer profiles from JSONL files, lists of dicts and pandas DataFrames.

Loading is all or nothing: the first bad record raises a `ProfileError` naming the file, line (or row),
field, value and fix, and no profile is returned. Two records for the same customer are refused too. The
raw ``customer_id`` of each record is pseudonymized by the ``pseudonymize`` callable (normally a
`Pseudonymizer`, or a `ProfileGateway` loads for you with `ProfileGateway.load_jsonl` and friends).
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, Callable, Iterable, Iterator

from ..errors import ProfileError
from .profiles import CustomerProfile
from .records import profile_from_record

__all__ = ["read_profiles_jsonl", "profiles_from_records", "profiles_from_dataframe"]

Pseudonymize = Callable[[str], str]


def _iter_jsonl(path: str | os.PathLike[str]) -> Iterator[tuple[int, Any]]:
    source = str(path)
    try:
        handle = open(path, encoding="utf-8")
    except FileNotFoundError:
        raise ProfileError("file not found", source=source, fix="check the path") from None
    except IsADirectoryError:
        raise ProfileError("expected a JSONL file, found a directory", source=source,
                           fix="point at the customers.jsonl file inside it") from None
    with handle:
        number = 0
        while True:
            try:
                line = handle.readline()
            except UnicodeDecodeError as exc:
                raise ProfileError(f"not valid UTF-8 ({exc.reason})", source=source, line=number + 1,
                                   fix="re-save the file as UTF-8") from None
            if not line:
                return
            number += 1
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as exc:
                raise ProfileError(f"malformed JSON ({exc.msg} at column {exc.colno})", source=source, line=number,
                                   fix="write one complete JSON object per line") from None


def _collect(numbered: Iterable[tuple[int, Any]], *, pseudonymize: Pseudonymize,
             source: str) -> list[CustomerProfile]:
    profiles: list[CustomerProfile] = []
    first_line: dict[str, int] = {}
    for number, record in numbered:
        profile = profile_from_record(record, pseudonymize=pseudonymize, source=source, line=number)
        if profile.id in first_line:
            raise ProfileError(f"the same customer is already on line {first_line[profile.id]}", source=source,
                               line=number, field="customer_id", fix="merge the two records into one")
        first_line[profile.id] = number
        profiles.append(profile)
    return profiles


def read_profiles_jsonl(path: str | os.PathLike[str], *, pseudonymize: Pseudonymize) -> list[CustomerProfile]:
    """Read one customer record per line (schema: `kbrank.privacy.records`)."""
    return _collect(_iter_jsonl(path), pseudonymize=pseudonymize, source=str(path))


def profiles_from_records(records: Iterable[Any], *, pseudonymize: Pseudonymize,
                          source: str = "records") -> list[CustomerProfile]:
    """Read a list (or any iterable) of dicts; "line" in errors is the 1-based position."""
    return _collect(enumerate(records, start=1), pseudonymize=pseudonymize, source=source)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or type(value).__name__ in {
        "NAType", "NaTType"}


def _plain(value: Any) -> Any:
    """numpy arrays and scalars in object columns become lists and Python scalars."""
    if hasattr(value, "tolist") and not isinstance(value, str):
        return value.tolist()
    if hasattr(value, "item") and type(value).__module__ == "numpy":
        return value.item()
    return value


def profiles_from_dataframe(frame: Any, *, pseudonymize: Pseudonymize,
                            source: str = "DataFrame") -> list[CustomerProfile]:
    """Read a pandas DataFrame with one customer per row and the record fields as columns (``owned``,
    ``usage``, ``addresses`` and ``consents`` hold lists and dicts, as ``pandas.DataFrame(hc.customers)``
    gives). Missing values (NaN, None, NA) are treated as absent. "line" in errors is the 1-based row."""
    if not hasattr(frame, "to_dict") or not hasattr(frame, "columns"):
        raise ProfileError("expected a pandas DataFrame", source=source, value=type(frame).__name__,
                           fix="pass pandas.DataFrame(records), or use profiles_from_records")
    rows = []
    for row in frame.to_dict(orient="records"):
        record = {}
        for key, value in row.items():
            value = _plain(value)
            if not isinstance(value, (list, dict)) and _is_missing(value):
                continue
            record[str(key)] = value
        rows.append(record)
    return profiles_from_records(rows, pseudonymize=pseudonymize, source=source)
