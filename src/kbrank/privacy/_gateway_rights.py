"""`ProfileGateway`'s data-subject rights and housekeeping: access reports, erasure and the hooks and caches
it reaches, retention purges and compaction."""

from __future__ import annotations

import weakref
from typing import Callable

from ..errors import ParameterError
from ._gateway_base import GatewayBase, log
from ._requests import access_report, erase_customer
from .reports import AccessReport, ErasureHook, ErasureReport

__all__ = ["GatewayRights"]


class GatewayRights(GatewayBase):
    """`access_report`, erasure (`erase` and its hooks), `purge_expired` and `compact` (see `ProfileGateway`)."""

    def access_report(self, customer_id: str, *, requester: str | None = None) -> AccessReport:
        """Everything held about the customer, what each purpose may use, and every audited use of it."""
        pseudonym = self._pseudonymize(customer_id)
        return access_report(self._store, self._audit, pseudonym, purposes=self._purposes, who=self._who(requester),
                             at=self.now(), retention=self.retention, usage_since=self.usage_since())

    def register_erasure_hook(self, name: str, hook: ErasureHook) -> None:
        """Have ``erase`` call ``hook(pseudonym) -> items removed`` (for the outbox, chat logs, ...)."""
        if not isinstance(name, str) or not name:
            raise ParameterError("name", "a non-empty string", name)
        if not callable(hook):
            raise ParameterError("hook", "a callable taking a pseudonym and returning a count", hook)
        if name in self._hooks:
            raise ParameterError("name", "a name not registered yet", name,
                                 hint="Unregister the old hook first with unregister_erasure_hook().")
        self._hooks[name] = hook

    def unregister_erasure_hook(self, name: str) -> None:
        """Stop calling the hook registered as ``name``."""
        if self._hooks.pop(name, None) is None:
            raise ParameterError("name", f"a registered hook ({', '.join(self._hooks) or 'none registered'})", name)

    def register_cache(self, name: str, clear: Callable[[], int]) -> bool:
        """Have `erase` empty an in-process cache (``clear()`` returns the entries dropped); idempotent per
        ``name``. The gateway holds ``clear`` weakly when it is a bound method, so a cache that is gone stops
        being called. Components call this through `kbrank.privacy.register_cache`, with a view."""
        if name in self._hooks:
            return True
        target = weakref.WeakMethod(clear) if hasattr(clear, "__self__") else (lambda: clear)

        def hook(_pseudonym: str) -> int:
            method = target()
            return 0 if method is None else int(method())

        self._hooks[name] = hook
        if hasattr(clear, "__self__"):
            weakref.finalize(clear.__self__, self._hooks.pop, name, None)
        return True

    @property
    def erasure_hooks(self) -> tuple[str, ...]:
        """The names of the registered erasure hooks."""
        return tuple(self._hooks)

    def erase(self, customer_id: str, *, requester: str | None = None) -> ErasureReport:
        """Forget the customer everywhere: the store, the cache, every registered hook, the version memos of
        `kbrank.applicability`, and their pseudonym in the audit trail (replaced by a random tombstone). Then the storage is compacted so that no deleted
        bytes remain. Idempotent. Raises `ErasureError` (carrying the report) if a hook failed."""
        from ..applicability import clear_version_caches

        pseudonym = self._pseudonymize(customer_id)
        report = erase_customer(self._store, self._audit, self._cache, self._hooks, pseudonym,
                                who=self._who(requester), at=self.now())
        clear_version_caches()  # memos of the version strings profiles carried
        return report

    def purge_expired(self) -> int:
        """Delete usage events older than the retention horizon from the store; returns how many."""
        since = self.usage_since()
        if since is None:
            return 0
        removed = self._store.purge_events_before(since)
        if removed:
            self._store.compact()
        log.debug("purged %d usage events older than %s", removed, since.isoformat())
        return removed

    def compact(self) -> bool:
        """Rewrite storage so that deleted data is unrecoverable; ``False`` if another reader blocked it."""
        return bool(self._store.compact() and self._audit.compact())
