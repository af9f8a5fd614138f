"""`InMemoryProfileStore`: the `ProfileStore` for tests and notebooks, in a Python dict.

It behaves exactly like the SQLite store (the same contract suite runs against both); it just forgets
everything when the process ends.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import replace
from typing import Iterable, Iterator, Mapping, Sequence

import numpy as np

from ...errors import ParameterError, ProfileStoreError, UnknownCustomerError
from ..columns import StoredColumns, UsageQuery
from ..profiles import ConsentRecord, CustomerProfile, UsageEvent, to_utc
from ..where import Where
from .base import DELETION_KINDS

__all__ = ["InMemoryProfileStore"]


def _checked(profile: object) -> CustomerProfile:
    if not isinstance(profile, CustomerProfile):
        raise ParameterError("profiles", "CustomerProfile objects", type(profile).__name__)
    return profile


class InMemoryProfileStore:
    """Profiles in memory, keyed by pseudonym; thread-safe; every write all-or-nothing."""

    def __init__(self) -> None:
        self._profiles: dict[str, CustomerProfile] = {}
        self._meta: dict[str, str] = {}
        self._lock = threading.RLock()
        self._generation = 0
        self._closed = False

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._profiles)} profiles"
        return f"InMemoryProfileStore({state})"

    def __enter__(self) -> "InMemoryProfileStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _changed(self) -> None:
        self._generation += 1

    def _open(self) -> dict[str, CustomerProfile]:
        if self._closed:
            raise ProfileStoreError("the profile store is closed", path=":memory:", fix="open a new one")
        return self._profiles

    def get(self, pseudonym: str, *, with_addresses: bool = True) -> CustomerProfile | None:
        with self._lock:
            profile = self._open().get(pseudonym)
        if profile is not None and not with_addresses and profile.addresses:
            profile = replace(profile, addresses={})
        return profile

    def upsert(self, profile: CustomerProfile) -> None:
        self.upsert_many([profile])

    def upsert_many(self, profiles: Iterable[CustomerProfile]) -> int:
        staged = {}
        for profile in profiles:  # validate everything before touching the store
            staged[_checked(profile).id] = profile
        with self._lock:
            self._open().update(staged)
            self._changed()
        return len(staged)

    def scan(self, where: Where | None = None, *, with_addresses: bool = True) -> Iterator[CustomerProfile]:
        with self._lock:
            keys = sorted(self._open())
        for key in keys:
            profile = self.get(key, with_addresses=with_addresses)
            if profile is not None and (where is None or where.matches(profile)):
                yield profile

    def scan_columns(self, *, products: Sequence[str] | None = None, scopes: Sequence[str] = (),
                     usage: UsageQuery | None = None) -> StoredColumns:
        """The columns of the customers owning any of ``products`` (everyone when ``None``). This store holds
        Python objects, so it walks them once; the SQLite store answers the same call in SQL."""
        with self._lock:
            profiles = [self._open()[key] for key in sorted(self._open())]
        wanted = None if products is None else frozenset(products)
        if wanted is not None:
            profiles = [p for p in profiles if any(item.product in wanted for item in p.owned)]
        items = [(row, n, item) for row, p in enumerate(profiles) for n, item in enumerate(p.owned)
                 if wanted is None or item.product in wanted]
        totals = np.zeros(len(profiles), np.int64)
        if usage is not None:
            for row, p in enumerate(profiles):
                totals[row] = sum(e.count for e in p.usage if e.feature in usage.features
                                  and (not usage.products or e.product in usage.products)
                                  and (usage.since is None or e.timestamp >= usage.since))
        return StoredColumns(
            pseudonyms=[p.id for p in profiles], regions=[p.region for p in profiles],
            locales=[p.locale for p in profiles], segments=[p.segment for p in profiles],
            preferred=[p.preferred_channel for p in profiles],
            consents={scope: np.fromiter((p.consented(scope) for p in profiles), bool, count=len(profiles))
                      for scope in scopes},
            owner=np.fromiter((row for row, _, _ in items), np.int32, count=len(items)),
            position=np.fromiter((n for _, n, _ in items), np.int32, count=len(items)),
            products=[i.product for _, _, i in items], versions=[i.version for _, _, i in items],
            platforms=[i.platform for _, _, i in items], statuses=[i.status for _, _, i in items], usage=totals)

    def delete(self, pseudonym: str) -> Mapping[str, int]:
        with self._lock:
            profile = self._open().pop(pseudonym, None)
            if profile is None:
                return dict.fromkeys(DELETION_KINDS, 0)
            self._changed()
        return {"profiles": 1, "owned_products": len(profile.owned), "usage_events": len(profile.usage),
                "addresses": len(profile.addresses), "consents": len(profile.consents)}

    def _require(self, pseudonym: str) -> CustomerProfile:
        profile = self._open().get(pseudonym)
        if profile is None:
            raise UnknownCustomerError(pseudonym, fix="add the customer's profile first")
        return profile

    def append_events(self, pseudonym: str, events: Sequence[UsageEvent]) -> int:
        batch = list(events)
        for event in batch:
            if not isinstance(event, UsageEvent):
                raise ParameterError("events", "UsageEvent objects", type(event).__name__)
        with self._lock:
            self._profiles[pseudonym] = self._require(pseudonym).with_usage(batch)
            self._changed()
        return len(batch)

    def set_consent(self, pseudonym: str, record: ConsentRecord) -> None:
        if not isinstance(record, ConsentRecord):
            raise ParameterError("record", "a ConsentRecord", type(record).__name__)
        with self._lock:
            self._profiles[pseudonym] = self._require(pseudonym).with_consent(record)
            self._changed()

    def purge_events_before(self, cutoff: dt.datetime) -> int:
        cutoff = to_utc(cutoff, name="cutoff")
        removed = 0
        with self._lock:
            for key, profile in list(self._open().items()):
                kept = tuple(e for e in profile.usage if e.timestamp >= cutoff)
                if len(kept) != len(profile.usage):
                    removed += len(profile.usage) - len(kept)
                    self._profiles[key] = replace(profile, usage=kept)
            if removed:
                self._changed()
        return removed

    def __len__(self) -> int:
        with self._lock:
            return len(self._open())

    def generation(self) -> int:
        with self._lock:
            return self._generation

    def get_meta(self, name: str) -> str | None:
        with self._lock:
            self._open()
            return self._meta.get(name)

    def set_meta(self, name: str, value: str) -> None:
        with self._lock:
            self._open()
            self._meta[name] = value

    def compact(self) -> bool:
        self._open()
        return True

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._profiles.clear()
            self._meta.clear()
