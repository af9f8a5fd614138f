"""The columnar scan of the SQLite store: whole columns in three SQL statements, read in pages into arrays.

One read transaction (one snapshot) runs three statements: the customers (profile columns plus one ``EXISTS``
per consent scope asked for), their owned items (optionally only those of some products, answered from the
``owned_by_product_version`` index) and, when asked, the summed usage per customer. Rows are fetched in pages
and turned into columns with ``zip``; nothing is kept per row but the column values.
"""

from __future__ import annotations

from itertools import repeat
from typing import Any, Sequence

import numpy as np

from ..columns import StoredColumns, UsageQuery
from ._database import Database, to_micros

__all__ = ["scan_columns"]

_PAGE = 65536


def _marks(n: int) -> str:
    return ",".join("?" * n)


def _columns(cursor: Any, width: int) -> list[list[Any]]:
    out: list[list[Any]] = [[] for _ in range(width)]
    while True:
        page = cursor.fetchmany(_PAGE)
        if not page:
            return out
        for column, values in zip(out, zip(*page)):
            column.extend(values)


def scan_columns(db: Database, *, products: Sequence[str] | None, scopes: Sequence[str],
                 usage: UsageQuery | None) -> StoredColumns:
    """Customers owning any of ``products`` (everyone when ``None``), their items of those products, the
    consent answers for ``scopes`` and the usage sum for ``usage``; in pseudonym order."""
    product_args = tuple(products or ())
    owners = (f"WHERE p.pseudonym IN (SELECT pseudonym FROM owned_products WHERE product IN "
              f"({_marks(len(product_args))}))") if products is not None else ""
    exists = "".join(", EXISTS (SELECT 1 FROM consents c WHERE c.pseudonym = p.pseudonym AND c.scope = ? "
                     "AND c.granted = 1)" for _ in scopes)
    with db.read() as cur:
        cur.execute(f"SELECT p.pseudonym, p.region, p.locale, p.segment, p.preferred_channel{exists} "
                    f"FROM profiles p {owners} ORDER BY p.pseudonym", (*scopes, *product_args))
        head = _columns(cur, 5 + len(scopes))
        where = f"WHERE product IN ({_marks(len(product_args))})" if products is not None else ""
        cur.execute(f"SELECT pseudonym, position, product, NULLIF(version, ''), platform, status "  # '' = unknown
                    f"FROM owned_products {where} ORDER BY pseudonym, position", product_args)
        owned = _columns(cur, 6)
        sums: list[list[Any]] = [[], []]
        if usage is not None:
            sql = (f"SELECT pseudonym, sum(count) FROM usage_events WHERE feature IN ({_marks(len(usage.features))})")
            args: tuple[Any, ...] = usage.features
            if usage.products:
                sql += f" AND product IN ({_marks(len(usage.products))})"
                args += usage.products
            if usage.since is not None:
                sql += " AND at_us >= ?"
                args += (to_micros(usage.since),)
            cur.execute(sql + " GROUP BY pseudonym", args)
            sums = _columns(cur, 2)
    pseudonyms = head[0]
    n = len(pseudonyms)
    row_of = dict(zip(pseudonyms, range(n)))
    owner = np.fromiter(map(row_of.__getitem__, owned[0]), np.int32, count=len(owned[0]))
    totals = np.zeros(n, np.int64)
    if sums[0]:
        hits = np.fromiter(map(row_of.get, sums[0], repeat(-1)), np.int64, count=len(sums[0]))
        found = hits >= 0
        totals[hits[found]] = np.asarray(sums[1], np.int64)[found]
    return StoredColumns(
        pseudonyms=pseudonyms, regions=head[1], locales=head[2], segments=head[3], preferred=head[4],
        consents={scope: np.asarray(head[5 + i], bool) for i, scope in enumerate(scopes)},
        owner=owner, position=np.asarray(owned[1], np.int32), products=owned[2], versions=owned[3],
        platforms=owned[4], statuses=owned[5], usage=totals)
