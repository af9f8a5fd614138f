"""DataFrame rows as plain records: the one missing-value rule every DataFrame loader uses."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["frame_records", "is_missing", "require_pandas"]


def require_pandas() -> Any:
    """The pandas module, or `MissingDependencyError` naming the extra that installs it."""
    try:
        import pandas
    except ImportError:  # pragma: no cover - pandas ships with the eval and dev extras
        from .errors import MissingDependencyError

        raise MissingDependencyError("pandas", "eval") from None
    return pandas


def is_missing(value: Any) -> bool:
    """``None``, a float NaN, pandas ``NA`` or ``NaT``: a cell that holds no value (the field is absent)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    return type(value).__name__ in {"NAType", "NaTType"}


def _plain(value: Any) -> Any:
    """numpy arrays and scalars in object columns become lists and Python scalars."""
    if hasattr(value, "tolist") and not isinstance(value, str):
        return value.tolist()
    if hasattr(value, "item") and type(value).__module__ == "numpy":
        return value.item()
    return value


def frame_records(frame: Any) -> list[dict[str, Any]]:
    """One dict per row with plain Python values; missing cells (see `is_missing`) are left out."""
    records = []
    for row in frame.to_dict(orient="records"):
        record = {}
        for key, value in row.items():
            value = _plain(value)
            if not isinstance(value, (list, dict)) and is_missing(value):
                continue
            record[str(key)] = value
        records.append(record)
    return records
