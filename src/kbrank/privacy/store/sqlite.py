"""`SQLiteProfileStore`: the default `ProfileStore`, in one SQLite file (stdlib ``sqlite3``).

The schema (see `kbrank.privacy.store._database.SCHEMA`) has one table per kind of row, keyed by
pseudonym: ``profiles``, ``owned_products`` (indexed by product, version, status for proactive scans),
``usage_events`` (indexed by customer and by time, for retention purges), ``addresses`` (read only for contact
purposes) and ``consents``; plus ``audit`` and ``meta``. The raw customer id is never stored.

Scans by product or version read the ``owned_by_product_version`` index: the distinct versions of the
products asked for are matched against the PEP 440 range in Python, then only the owners of matching
versions are loaded. Profiles are loaded in pages, each in one read transaction.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any, Iterable, Iterator, Mapping, Sequence

from ...errors import ParameterError, UnknownCustomerError
from ..columns import StoredColumns, UsageQuery
from ..profiles import ConsentRecord, CustomerProfile, OwnedProduct, UsageEvent, to_utc
from ..where import Where
from ._database import Database, from_micros, to_micros
from .base import DELETION_KINDS
from .sqlite_audit import SQLiteAuditLog
from .sqlite_columns import scan_columns

__all__ = ["SQLiteProfileStore"]

_PAGE = 256

#: How an unknown owned version is stored (the column is NOT NULL since schema 1): the empty string.
_UNKNOWN_VERSION = ""


def _placeholders(n: int) -> str:
    return ",".join("?" * n)


def _checked(profile: object) -> CustomerProfile:
    if not isinstance(profile, CustomerProfile):
        raise ParameterError("profiles", "CustomerProfile objects", type(profile).__name__)
    return profile


class SQLiteProfileStore:
    """Profiles in a SQLite file (WAL mode). Several stores (threads, processes) may open the same file:
    readers see consistent snapshots while a writer writes, and a failed write changes nothing.

    ``path=":memory:"`` gives a private in-memory database (no WAL). Use as a context manager, or call
    `close`.
    """

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True, timeout: float = 10.0) -> None:
        self.path = str(path)
        self._db = Database(path, create=create, timeout=timeout)

    def __repr__(self) -> str:
        return f"SQLiteProfileStore({self.path!r}{', closed' if self._db.closed else ''})"

    def __enter__(self) -> "SQLiteProfileStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def audit_log(self) -> SQLiteAuditLog:
        """The audit trail kept in the same database file (closed with this store)."""
        return SQLiteAuditLog(self._db)

    # -- reads ---------------------------------------------------------------------------------------------
    def get(self, pseudonym: str, *, with_addresses: bool = True) -> CustomerProfile | None:
        found = self._fetch([pseudonym], with_addresses=with_addresses)
        return found[0] if found else None

    def _fetch(self, pseudonyms: Sequence[str], *, with_addresses: bool) -> list[CustomerProfile]:
        """Load whole profiles, in the order given (absent ones skipped), from one consistent snapshot."""
        if not pseudonyms:
            return []
        marks = _placeholders(len(pseudonyms))
        keys = tuple(pseudonyms)
        owned: dict[str, list[OwnedProduct]] = {}
        usage: dict[str, list[UsageEvent]] = {}
        addresses: dict[str, dict[str, str]] = {}
        consents: dict[str, list[ConsentRecord]] = {}
        with self._db.read() as cur:
            heads = {row[0]: row[1:] for row in cur.execute(
                f"SELECT pseudonym, region, locale, segment, preferred_channel FROM profiles "
                f"WHERE pseudonym IN ({marks})", keys)}
            for key, product, version, status, line, platform, registered in cur.execute(
                    f"SELECT pseudonym, product, version, status, line, platform, registered_at FROM owned_products "
                    f"WHERE pseudonym IN ({marks}) ORDER BY pseudonym, position", keys):
                owned.setdefault(key, []).append(OwnedProduct(
                    product=product, version=version or None, status=status, line=line, platform=platform,
                    registered_at=dt.date.fromisoformat(registered) if registered else None))
            for key, product, feature, at, region, count in cur.execute(
                    f"SELECT pseudonym, product, feature, at_us, region, count FROM usage_events "
                    f"WHERE pseudonym IN ({marks}) ORDER BY pseudonym, id", keys):
                usage.setdefault(key, []).append(UsageEvent(product, feature, from_micros(at), region, count))
            if with_addresses:
                for key, channel, address in cur.execute(
                        f"SELECT pseudonym, channel, address FROM addresses WHERE pseudonym IN ({marks})", keys):
                    addresses.setdefault(key, {})[channel] = address
            for key, scope, granted, recorded in cur.execute(
                    f"SELECT pseudonym, scope, granted, recorded_at_us FROM consents WHERE pseudonym IN ({marks})",
                    keys):
                consents.setdefault(key, []).append(ConsentRecord(
                    scope, bool(granted), None if recorded is None else from_micros(recorded)))
        profiles = []
        for key in pseudonyms:
            if key not in heads:
                continue
            region, locale, segment, preferred = heads[key]
            profiles.append(CustomerProfile(
                id=key, region=region, locale=locale, segment=segment, owned=tuple(owned.get(key, ())),
                usage=tuple(usage.get(key, ())), preferred_channel=preferred, addresses=addresses.get(key, {}),
                consents=tuple(consents.get(key, ()))))
        return profiles

    def scan(self, where: Where | None = None, *, with_addresses: bool = True) -> Iterator[CustomerProfile]:
        candidates = self._candidates(where)
        if candidates is None:
            yield from self._scan_all(where, with_addresses=with_addresses)
            return
        for start in range(0, len(candidates), _PAGE):
            for profile in self._fetch(candidates[start:start + _PAGE], with_addresses=with_addresses):
                if where is None or where.matches(profile):
                    yield profile

    def _scan_all(self, where: Where | None, *, with_addresses: bool) -> Iterator[CustomerProfile]:
        """Every profile, page by page (keyset pagination, so no read transaction stays open between pages)."""
        last = ""
        while True:
            with self._db.read() as cur:
                page = [row[0] for row in cur.execute(
                    "SELECT pseudonym FROM profiles WHERE pseudonym > ? ORDER BY pseudonym LIMIT ?", (last, _PAGE))]
            if not page:
                return
            for profile in self._fetch(page, with_addresses=with_addresses):
                if where is None or where.matches(profile):
                    yield profile
            last = page[-1]

    def scan_columns(self, *, products: Sequence[str] | None = None, scopes: Sequence[str] = (),
                     usage: UsageQuery | None = None) -> StoredColumns:
        return scan_columns(self._db, products=products, scopes=scopes, usage=usage)

    def _candidates(self, where: Where | None) -> list[str] | None:
        """Pseudonyms that may match, read from an index, sorted; ``None`` when no index helps."""
        if where is None:
            return None
        with self._db.read() as cur:
            if where.product is not None:
                products = tuple(where.product)
                pairs = cur.execute(f"SELECT DISTINCT product, version FROM owned_products "
                                    f"WHERE product IN ({_placeholders(len(products))})", products).fetchall()
                versions = tuple(sorted({v for _, v in pairs if where.version_matches(v)}))
                if not versions:
                    return []
                sql = (f"SELECT DISTINCT pseudonym FROM owned_products WHERE product IN "
                       f"({_placeholders(len(products))}) AND version IN ({_placeholders(len(versions))})")
                args: tuple[Any, ...] = products + versions
                if where.status is not None:
                    statuses = tuple(where.status)
                    sql += f" AND status IN ({_placeholders(len(statuses))})"
                    args += statuses
                return sorted(row[0] for row in cur.execute(sql, args))
            if where.region is not None:
                regions = tuple(where.region)
                return sorted(row[0] for row in cur.execute(
                    f"SELECT pseudonym FROM profiles WHERE region IN ({_placeholders(len(regions))})", regions))
        return None

    def __len__(self) -> int:
        with self._db.read() as cur:
            return int(cur.execute("SELECT count(*) FROM profiles").fetchone()[0])

    def generation(self) -> int:
        return self._db.generation()

    def get_meta(self, name: str) -> str | None:
        with self._db.read() as cur:
            row = cur.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else row[0]

    # -- writes --------------------------------------------------------------------------------------------
    def set_meta(self, name: str, value: str) -> None:
        with self._db.write() as cur:
            cur.execute("INSERT INTO meta (name, value) VALUES (?, ?) "
                        "ON CONFLICT (name) DO UPDATE SET value = excluded.value", (name, value))

    def upsert(self, profile: CustomerProfile) -> None:
        self.upsert_many([profile])

    def upsert_many(self, profiles: Iterable[CustomerProfile]) -> int:
        written: set[str] = set()
        with self._db.write() as cur:
            for profile in profiles:  # checked one by one inside the transaction: a bad one rolls back all
                self._write(cur, _checked(profile))
                written.add(profile.id)
        return len(written)

    @staticmethod
    def _write(cur: Any, p: CustomerProfile) -> None:
        cur.execute(
            "INSERT INTO profiles (pseudonym, region, locale, segment, preferred_channel) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (pseudonym) DO UPDATE SET region = excluded.region, locale = excluded.locale, "
            "segment = excluded.segment, preferred_channel = excluded.preferred_channel",
            (p.id, p.region, p.locale, p.segment, p.preferred_channel))
        for table in ("owned_products", "usage_events", "addresses", "consents"):
            cur.execute(f"DELETE FROM {table} WHERE pseudonym = ?", (p.id,))
        cur.executemany(
            "INSERT INTO owned_products (pseudonym, position, product, version, status, line, platform, "
            "registered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(p.id, n, o.product, o.version or _UNKNOWN_VERSION, o.status, o.line, o.platform,
              o.registered_at.isoformat() if o.registered_at else None) for n, o in enumerate(p.owned)])
        SQLiteProfileStore._insert_events(cur, p.id, p.usage)
        cur.executemany("INSERT INTO addresses (pseudonym, channel, address) VALUES (?, ?, ?)",
                        [(p.id, channel, address) for channel, address in p.addresses.items()])
        cur.executemany(
            "INSERT INTO consents (pseudonym, scope, granted, recorded_at_us) VALUES (?, ?, ?, ?)",
            [(p.id, c.scope, int(c.granted), None if c.recorded_at is None else to_micros(c.recorded_at))
             for c in p.consents])

    @staticmethod
    def _insert_events(cur: Any, pseudonym: str, events: Iterable[UsageEvent]) -> None:
        cur.executemany(
            "INSERT INTO usage_events (pseudonym, product, feature, at_us, region, count) VALUES (?, ?, ?, ?, ?, ?)",
            [(pseudonym, e.product, e.feature, to_micros(e.timestamp), e.region, e.count) for e in events])

    @staticmethod
    def _require(cur: Any, pseudonym: str) -> None:
        if cur.execute("SELECT 1 FROM profiles WHERE pseudonym = ?", (pseudonym,)).fetchone() is None:
            raise UnknownCustomerError(pseudonym, fix="add the customer's profile first")

    def delete(self, pseudonym: str) -> Mapping[str, int]:
        counts = dict.fromkeys(DELETION_KINDS, 0)
        with self._db.write() as cur:
            for kind in DELETION_KINDS[1:]:  # children first, so that each count is exact
                counts[kind] = cur.execute(f"DELETE FROM {kind} WHERE pseudonym = ?", (pseudonym,)).rowcount
            counts["profiles"] = cur.execute("DELETE FROM profiles WHERE pseudonym = ?", (pseudonym,)).rowcount
        return counts

    def append_events(self, pseudonym: str, events: Sequence[UsageEvent]) -> int:
        batch = list(events)
        for event in batch:
            if not isinstance(event, UsageEvent):
                raise ParameterError("events", "UsageEvent objects", type(event).__name__)
        with self._db.write() as cur:
            self._require(cur, pseudonym)
            self._insert_events(cur, pseudonym, batch)
        return len(batch)

    def set_consent(self, pseudonym: str, record: ConsentRecord) -> None:
        if not isinstance(record, ConsentRecord):
            raise ParameterError("record", "a ConsentRecord", type(record).__name__)
        recorded = None if record.recorded_at is None else to_micros(record.recorded_at)
        with self._db.write() as cur:
            self._require(cur, pseudonym)
            cur.execute(
                "INSERT INTO consents (pseudonym, scope, granted, recorded_at_us) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (pseudonym, scope) DO UPDATE SET granted = excluded.granted, "
                "recorded_at_us = excluded.recorded_at_us", (pseudonym, record.scope, int(record.granted), recorded))

    def purge_events_before(self, cutoff: dt.datetime) -> int:
        micros = to_micros(to_utc(cutoff, name="cutoff"))
        with self._db.write() as cur:
            return cur.execute("DELETE FROM usage_events WHERE at_us < ?", (micros,)).rowcount

    def compact(self) -> bool:
        return self._db.compact()

    def close(self) -> None:
        self._db.close()
