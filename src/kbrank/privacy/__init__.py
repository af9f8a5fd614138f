"""Customer profiles behind a privacy gate: purpose, consent, minimization, pseudonymization, audit, erasure.

`ProfileGateway` is the only route to profile data for the rest of kbrank::

    gateway = ProfileGateway.open("profiles.db", key=os.environ["KBRANK_KEY"])   # SQLite (default)
    gateway.load_jsonl("customers.jsonl")                  # validated, pseudonymized, all or nothing
    view = gateway.read("cust-0001", "personalization")   # ConsentError without consent
    view.owned, view.region                                # only the fields the purpose allows
    for view in gateway.scan("proactive-contact", Where(product="router-x200", version="<2.4")):
        ...                                                # consenting owners, with their consented channels
    gateway.scan_columns("proactive-contact", products=["router-x200"])   # the same, as numpy arrays of codes
    gateway.access_report("cust-0001")                     # what is held, what it is used for, who read it
    gateway.erase("cust-0001")                             # gone from the store, caches, hooks and audit ids

Each read is audited (who, purpose, fields, when; never values). Raw ids are never stored or logged: the
store is keyed by an HMAC-SHA256 pseudonym computed with the deployer's key. Usage events older than the
retention horizon are dropped at read and purged by `ProfileGateway.purge_expired`. `redact` cleans query
text before it is logged.

The stores themselves (`kbrank.privacy.store`) are private to this package; tests check that no other kbrank
module imports them.
"""

from ..errors import (
    ConsentError,
    ErasureError,
    FieldNotAllowedError,
    ProfileError,
    ProfileStoreError,
    UnknownCustomerError,
)
from .audit import AuditRecord
from .columns import CustomerColumns, UsageQuery
from .gateway import DEFAULT_RETENTION, ProfileGateway
from .loaders import profiles_from_dataframe, profiles_from_records, read_profiles_jsonl
from .profiles import CHANNELS, STATUSES, ConsentRecord, CustomerProfile, OwnedProduct, UsageEvent
from .pseudonyms import Pseudonymizer
from .purposes import DATA_FIELDS, PURPOSES, Purpose
from .records import profile_from_record, profile_to_record
from .redact import RedactingFilter, luhn_valid, redact
from .reports import AccessReport, ErasureHook, ErasureReport, PurposeUse
from .view import ProfileView, register_cache
from .where import Where

__all__ = [
    "register_cache",
    "AccessReport",
    "AuditRecord",
    "CHANNELS",
    "ConsentError",
    "ConsentRecord",
    "CustomerColumns",
    "CustomerProfile",
    "DATA_FIELDS",
    "DEFAULT_RETENTION",
    "ErasureError",
    "ErasureHook",
    "ErasureReport",
    "FieldNotAllowedError",
    "OwnedProduct",
    "PURPOSES",
    "ProfileError",
    "ProfileGateway",
    "ProfileStoreError",
    "ProfileView",
    "Pseudonymizer",
    "Purpose",
    "PurposeUse",
    "RedactingFilter",
    "STATUSES",
    "UnknownCustomerError",
    "UsageEvent",
    "UsageQuery",
    "Where",
    "luhn_valid",
    "profile_from_record",
    "profile_to_record",
    "profiles_from_dataframe",
    "profiles_from_records",
    "read_profiles_jsonl",
    "redact",
]
