"""Load customer profiles from JSONL files, lists of dicts and pandas DataFrames.

Loading is all or nothing: the first bad record raises a `ProfileError` naming the file, line (or row),
field, value and fix, and no profile is returned. Two records for the same customer are refused too. The
raw ``customer_id`` of each record is pseudonymized by the ``pseudonymize`` callable (normally a
`Pseudonymizer`, or a `ProfileGateway` loads for you with `ProfileGateway.load_jsonl` and friends).
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterable

from .._frames import frame_records
from .._io import iter_jsonl
from ..errors import ProfileError
from .profiles import CustomerProfile
from .records import profile_from_record

__all__ = ["read_profiles_jsonl", "profiles_from_records", "profiles_from_dataframe"]

Pseudonymize = Callable[[str], str]


def _collect(numbered: Iterable[tuple[int, Any]], *, pseudonymize: Pseudonymize, source: str,
             strict_versions: bool) -> list[CustomerProfile]:
    profiles: list[CustomerProfile] = []
    first_line: dict[str, int] = {}
    for number, record in numbered:
        profile = profile_from_record(record, pseudonymize=pseudonymize, source=source, line=number,
                                      strict_versions=strict_versions)
        if profile.id in first_line:
            raise ProfileError(f"the same customer is already on line {first_line[profile.id]}", source=source,
                               line=number, field="customer_id", fix="merge the two records into one")
        first_line[profile.id] = number
        profiles.append(profile)
    return profiles


def read_profiles_jsonl(path: str | os.PathLike[str], *, pseudonymize: Pseudonymize,
                        strict_versions: bool = False) -> list[CustomerProfile]:
    """Read one customer record per line (schema: `kbrank.privacy.records`)."""
    return _collect(iter_jsonl(path, error=ProfileError), pseudonymize=pseudonymize, source=str(path),
                    strict_versions=strict_versions)


def profiles_from_records(records: Iterable[Any], *, pseudonymize: Pseudonymize, source: str = "records",
                          strict_versions: bool = False) -> list[CustomerProfile]:
    """Read a list (or any iterable) of dicts; "line" in errors is the 1-based position."""
    return _collect(enumerate(records, start=1), pseudonymize=pseudonymize, source=source,
                    strict_versions=strict_versions)


def profiles_from_dataframe(frame: Any, *, pseudonymize: Pseudonymize, source: str = "DataFrame",
                            strict_versions: bool = False) -> list[CustomerProfile]:
    """Read a pandas DataFrame with one customer per row and the record fields as columns (``owned``,
    ``usage``, ``addresses`` and ``consents`` hold lists and dicts, as ``pandas.DataFrame(hc.customers)``
    gives). Missing values (NaN, None, NA) are treated as absent. "line" in errors is the 1-based row."""
    if not hasattr(frame, "to_dict") or not hasattr(frame, "columns"):
        raise ProfileError("expected a pandas DataFrame", source=source, value=type(frame).__name__,
                           fix="pass pandas.DataFrame(records), or use profiles_from_records")
    return profiles_from_records(frame_records(frame), pseudonymize=pseudonymize, source=source,
                                 strict_versions=strict_versions)
