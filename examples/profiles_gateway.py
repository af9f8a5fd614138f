"""Read customer profiles through the privacy gate (purpose and consent), then export and erase a customer.

Run: python examples/profiles_gateway.py  (a SQLite store in a temporary folder)
"""

import json
import tempfile
from pathlib import Path

from kbrank import ConsentError, FieldNotAllowedError, ProfileGateway, UnknownCustomerError

CUSTOMERS = Path(__file__).parent / "data" / "customers.jsonl"
KEY = "example key: in production, a secret of 32 bytes or more from your vault"

with tempfile.TemporaryDirectory() as tmp, ProfileGateway.open(Path(tmp) / "profiles.db", key=KEY) as gateway:
    print(f"loaded {gateway.load_jsonl(CUSTOMERS)} profiles (validated; ids stored only as HMAC pseudonyms)")

    for purpose in ("personalization", "chat", "proactive-contact"):  # each purpose gets its own fields
        view = gateway.read("cust-a", purpose, requester="examples")
        print(f"cust-a for {purpose}: fields {', '.join(view.fields)}")
    view = gateway.read("cust-a", "personalization", requester="examples")
    try:
        print(view.addresses)  # not part of the personalization purpose
    except FieldNotAllowedError as error:
        print(f"refused field: {type(error).__name__}")

    try:  # cust-b gave no consent to personalization: an error, or with degrade=True an empty view
        gateway.read("cust-b", "personalization", requester="examples")
    except ConsentError as error:
        print(f"refused read: {type(error).__name__}")
    degraded = gateway.read("cust-b", "personalization", requester="examples", degrade=True)
    print(f"cust-b degraded: personalized={degraded.personalized}, fields={list(degraded.fields)}")

    export = gateway.access_report("cust-a", requester="examples").to_dict()  # GDPR art. 15 and 20
    print("export keys: " + ", ".join(sorted(export)))
    print(f"export history: {len(export['history'])} audited accesses, e.g. {json.dumps(export['history'][-1])}")

    report = gateway.erase("cust-a", requester="examples")  # store, caches, hooks and audit identifiers
    print(f"erased: complete={report.complete}, profiles removed={report.store.get('profiles', 0)}, "
          f"audit records re-keyed={report.audit_records}")
    try:
        gateway.read("cust-a", "personalization", requester="examples")
    except UnknownCustomerError as error:
        print(f"after erasure: {type(error).__name__}")
