"""Profile stores: the `ProfileStore` interface, the SQLite store (the default) and the in-memory one.

This package is private to `kbrank.privacy`: the rest of kbrank reads profiles only through
`kbrank.privacy.ProfileGateway` (a test walks every import to enforce it). Deployers and tests may build
a store here and hand it to ``ProfileGateway(store=..., audit=..., key=...)``.
"""

from .base import DELETION_KINDS, ProfileStore
from .memory import InMemoryProfileStore
from .sqlite import SQLiteProfileStore
from .sqlite_audit import SQLiteAuditLog

__all__ = ["DELETION_KINDS", "ProfileStore", "InMemoryProfileStore", "SQLiteProfileStore", "SQLiteAuditLog"]
