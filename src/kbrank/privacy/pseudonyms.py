"""Keyed pseudonyms for customer ids: HMAC-SHA256 with a key the deployer provides.

The same raw id and key always give the same pseudonym, so the store can be keyed by it and the caller
can present the raw id; without the key the pseudonym cannot be reversed or recomputed from a guessed id
(unlike a plain hash of ``cust-0001``). The key never appears in a repr, an error or a pickle.

Reference: H. Krawczyk, M. Bellare, R. Canetti, "HMAC: Keyed-Hashing for Message Authentication",
RFC 2104 (1997); the ENISA report "Pseudonymisation techniques and best practices" (2019), section 5.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import NoReturn

from ..errors import ParameterError

__all__ = ["Pseudonymizer", "MIN_KEY_BYTES", "new_tombstone", "is_pseudonym"]

#: The shortest key accepted (128 bits); 32 random bytes (``secrets.token_hex(32)``) are recommended.
MIN_KEY_BYTES = 16
_CUSTOMER_DOMAIN = b"kbrank/customer/v1\x00"
_CHECK_DOMAIN = b"kbrank/key-check/v1\x00"
_TOMBSTONE_PREFIX = "erased-"


def _key_bytes(key: object) -> bytes:
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not isinstance(key, (bytes, bytearray)):
        raise ParameterError("key", "bytes or a str (the deployer's secret)", f"<{type(key).__name__}>")
    if len(key) < MIN_KEY_BYTES:
        raise ParameterError("key", f"at least {MIN_KEY_BYTES} bytes long", f"<secret of {len(key)} bytes>",
                             hint="Generate one with: python -c 'import secrets; print(secrets.token_hex(32))'")
    return bytes(key)


class Pseudonymizer:
    """Turns raw customer ids into pseudonyms: ``HMAC-SHA256(key, domain || id)`` as 64 hex characters.

    >>> p = Pseudonymizer(key="a deployer secret of 32 bytes...")
    >>> pseudonym = p("cust-0001")
    >>> len(pseudonym), pseudonym == p("cust-0001"), pseudonym == p("cust-0002")
    (64, True, False)

    Ids are used exactly as given (``"CUST-0001"`` is another customer). ``fingerprint`` identifies the key
    (an HMAC of a fixed label) so that a store can refuse a different key without ever holding this one.
    """

    __slots__ = ("_key",)

    def __init__(self, key: bytes | str) -> None:
        self._key = _key_bytes(key)

    def __call__(self, customer_id: str) -> str:
        if not isinstance(customer_id, str) or not customer_id:
            shown = f"<{type(customer_id).__name__}>" if not isinstance(customer_id, str) else "''"
            raise ParameterError("customer_id", "a non-empty string", shown)
        try:
            data = customer_id.encode("utf-8")
        except UnicodeEncodeError:
            raise ParameterError("customer_id", "text that UTF-8 can hold (no lone surrogates)",
                                 "<unencodable str>") from None
        return hmac.new(self._key, _CUSTOMER_DOMAIN + data, hashlib.sha256).hexdigest()

    @property
    def fingerprint(self) -> str:
        """A non-secret identifier of the key (16 hex characters)."""
        return hmac.new(self._key, _CHECK_DOMAIN, hashlib.sha256).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"Pseudonymizer(key=<secret {self.fingerprint}>)"

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Pseudonymizer holds a secret key and cannot be pickled; pass the key to each process")


def new_tombstone() -> str:
    """A fresh random identifier that replaces an erased customer's pseudonym in the audit trail.

    It is random, not derived from the pseudonym, so nothing links it back to the customer.
    """
    return _TOMBSTONE_PREFIX + secrets.token_hex(16)


def is_pseudonym(text: object) -> bool:
    """Whether ``text`` looks like a pseudonym (64 lowercase hex characters)."""
    return (isinstance(text, str) and len(text) == 64
            and all(c in "0123456789abcdef" for c in text))
