"""`ProfileStore`: the one interface to stored profiles. Only `kbrank.privacy` may use it.

Profiles are keyed by pseudonym. Implementations must behave identically (the contract suite in
``tests/privacy`` runs against each): every write is atomic (all of it or none of it), scans yield
profiles in pseudonym order, and ``delete`` reports what it removed per kind of row.
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable, Iterator, Mapping, Protocol, Sequence, runtime_checkable

from ..columns import StoredColumns, UsageQuery
from ..profiles import ConsentRecord, CustomerProfile, UsageEvent
from ..where import Where

__all__ = ["ProfileStore", "DELETION_KINDS"]

#: The keys of `ProfileStore.delete`'s report, one per kind of stored row.
DELETION_KINDS = ("profiles", "owned_products", "usage_events", "addresses", "consents")


@runtime_checkable
class ProfileStore(Protocol):
    """Stored profiles, keyed by pseudonym. Implementations must be safe to share between threads."""

    def get(self, pseudonym: str, *, with_addresses: bool = True) -> CustomerProfile | None:
        """The profile, or ``None``. ``with_addresses=False`` leaves addresses unread (an empty mapping)."""
        ...

    def upsert(self, profile: CustomerProfile) -> None:
        """Insert or replace one profile (all of it) atomically."""
        ...

    def upsert_many(self, profiles: Iterable[CustomerProfile]) -> int:
        """Insert or replace many profiles in one transaction: all or none. Returns how many."""
        ...

    def scan(self, where: Where | None = None, *, with_addresses: bool = True) -> Iterator[CustomerProfile]:
        """Profiles satisfying ``where`` (all without it), in pseudonym order."""
        ...

    def scan_columns(self, *, products: Sequence[str] | None = None, scopes: Sequence[str] = (),
                     usage: UsageQuery | None = None) -> StoredColumns:
        """The columnar scan: the customers owning any of ``products`` (everyone when ``None``) in pseudonym
        order, their items of those products (in profile order), each customer's answer for every consent
        scope in ``scopes`` and their summed usage for ``usage`` (zeros without it). Unmasked: the gateway
        applies consent before anything leaves the privacy package."""
        ...

    def delete(self, pseudonym: str) -> Mapping[str, int]:
        """Remove the profile and everything attached to it; the rows removed per kind (all zeros if absent)."""
        ...

    def append_events(self, pseudonym: str, events: Sequence[UsageEvent]) -> int:
        """Append usage events to a stored profile (`UnknownCustomerError` if absent); returns how many."""
        ...

    def set_consent(self, pseudonym: str, record: ConsentRecord) -> None:
        """Record a consent answer, replacing the previous one for its scope (`UnknownCustomerError` if absent)."""
        ...

    def purge_events_before(self, cutoff: dt.datetime) -> int:
        """Delete every usage event older than ``cutoff``; returns how many."""
        ...

    def __len__(self) -> int:
        """How many profiles are stored."""
        ...

    def generation(self) -> int:
        """A number that changes whenever stored data changes (from this object or another process)."""
        ...

    def get_meta(self, name: str) -> str | None:
        """A store-level setting (such as the pseudonymization key's fingerprint)."""
        ...

    def set_meta(self, name: str, value: str) -> None:
        ...

    def compact(self) -> bool:
        """Make deleted data unrecoverable from storage; ``False`` if that could not fully happen now."""
        ...

    def close(self) -> None:
        """Release resources (idempotent)."""
        ...
