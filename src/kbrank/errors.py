"""Every error kbrank raises on purpose. Each class also inherits the matching builtin.

::

    KBRankError
    ├── InputError (ValueError)            bad user input: says where (file, line, field), what, and the fix
    │   ├── CorpusError                    articles that cannot be loaded (JSON, ids, types, empty corpus)
    │   ├── VersionSpecError               a version specifier that `packaging` cannot parse
    │   ├── ProfileError                   customer profiles that cannot be loaded (personal values masked)
    │   ├── KnownIssueError                known issues that cannot be loaded, or a status change not allowed
    │   └── TemplateError                  a message template with a syntax error or a missing variable
    ├── ParameterError (ValueError)        a bad constructor or method argument (names the parameter)
    │   └── AudienceGuardError             a plan above the audience limit, enqueued without confirmation
    ├── UnknownArticleError (KeyError)     an article id that the corpus or index does not hold
    ├── UnknownCustomerError (KeyError)    a customer the profile store does not hold (named by pseudonym)
    ├── ConsentError (PermissionError)     a profile read for a purpose (or channel) the customer did not consent to
    ├── FieldNotAllowedError (AttributeError) a ProfileView field that the read's purpose does not hand out
    ├── ErasureError (RuntimeError)        an erasure that could not remove everything (carries the report)
    ├── NotFittedError (RuntimeError)      an index or model used before build()/fit()
    ├── IndexFormatError (ValueError)      a saved index that is missing, truncated, tampered or of an unknown format
    ├── ProfileStoreError (OSError)        a profile store that cannot be opened or trusted (schema, key, corrupt file)
    ├── OutboxError (OSError)              a proactive outbox that cannot be opened or trusted, or a stale plan
    ├── DeliveryError (ConnectionError)    a sender that could not deliver a message (``retryable`` or not)
    ├── OutputError (OSError)              a place kbrank cannot or must not write (a file, a foreign directory, full disk)
    └── MissingDependencyError (ImportError) an optional dependency is absent; names the extra to install

Errors carry their context as attributes (``source``, ``line``, ``field``, ``value``, ``fix``) so that
callers can react to them without parsing messages. Errors about customers carry the customer's
pseudonym (``customer``), never the raw id, so that they can be logged safely.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "KBRankError",
    "InputError",
    "CorpusError",
    "VersionSpecError",
    "ParameterError",
    "UnknownArticleError",
    "NotFittedError",
    "IndexFormatError",
    "MissingDependencyError",
    "ProfileError",
    "UnknownCustomerError",
    "ConsentError",
    "FieldNotAllowedError",
    "ErasureError",
    "ProfileStoreError",
    "KnownIssueError",
    "OutboxError",
    "TemplateError",
    "AudienceGuardError",
    "DeliveryError",
    "OutputError",
]

_UNSET: Any = object()


def did_you_mean(value: Any, choices: Any, *, cutoff: float = 0.6) -> str | None:
    """The closest of ``choices`` to ``value`` (for a "did you mean" hint), or ``None``."""
    import difflib

    close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1, cutoff=cutoff)
    return close[0] if close else None


def suggestion(value: Any, choices: Any, *, cutoff: float = 0.6) -> str | None:
    """``"Did you mean 'x'?"`` for the closest choice, or ``None`` (a ready `ParameterError` hint)."""
    close = did_you_mean(value, choices, cutoff=cutoff)
    return None if close is None else f"Did you mean {close!r}?"


def _path_message(problem: str, path: str | None, fix: str | None) -> str:
    message = f"{path}: {problem}" if path else problem
    return message + (f". Fix: {fix}" if fix else "")


def _shorten(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class KBRankError(Exception):
    """The root of kbrank's exceptions."""


class InputError(KBRankError, ValueError):
    """User input that kbrank cannot accept.

    The message reads ``<source>, line <n>, field '<field>': <problem> (got <value>). Fix: <fix>``; each part
    is present when known.
    """

    def __init__(
        self,
        problem: str,
        *,
        source: str | None = None,
        line: int | None = None,
        field: str | None = None,
        value: Any = _UNSET,
        fix: str | None = None,
    ) -> None:
        self.problem = problem
        self.source = source
        self.line = line
        self.field = field
        self.value = None if value is _UNSET else value
        self.fix = fix
        where = []
        if source is not None:
            where.append(str(source))
        if line is not None:
            where.append(f"line {line}")
        if field is not None:
            where.append(f"field {field!r}")
        message = problem
        if value is not _UNSET:
            message += f" (got {_shorten(value)})"
        if where:
            message = ", ".join(where) + ": " + message
        if fix:
            message += f". Fix: {fix}"
        super().__init__(message)


class CorpusError(InputError):
    """Articles that cannot be loaded. Nothing is half-loaded: the corpus is either whole or not built."""


class VersionSpecError(InputError):
    """A version specifier (PEP 440, for example ``>=2.0,<2.4``) that cannot be parsed."""


class ParameterError(KBRankError, ValueError):
    """A bad argument: names the parameter, the constraint and the value received."""

    def __init__(self, parameter: str, constraint: str, value: Any, *, hint: str | None = None) -> None:
        self.parameter = parameter
        self.constraint = constraint
        self.value = value
        message = f"{parameter} must be {constraint}; got {_shorten(value)}"
        if hint:
            message += f". {hint}"
        super().__init__(message)


class UnknownArticleError(KBRankError, KeyError):
    """An article id that is not in the corpus or index."""

    def __init__(self, article_id: str, *, suggestion: str | None = None) -> None:
        self.article_id = article_id
        message = f"no article with id {article_id!r}"
        if suggestion is not None:
            message += f"; did you mean {suggestion!r}?"
        super().__init__(message)

    def __str__(self) -> str:  # KeyError would otherwise quote the whole message
        return str(self.args[0])


class NotFittedError(KBRankError, RuntimeError):
    """An object used before it was built or fitted."""


class IndexFormatError(KBRankError, ValueError):
    """A saved index that cannot be trusted: missing or changed files, an unknown format version."""

    def __init__(self, problem: str, *, path: str | None = None, fix: str | None = None) -> None:
        self.problem, self.path, self.fix = problem, path, fix
        super().__init__(_path_message(problem, path, fix))


class MissingDependencyError(KBRankError, ImportError):
    """An optional dependency is not installed."""

    def __init__(self, package: str, extra: str) -> None:
        self.package = package
        self.extra = extra
        super().__init__(f"{package} is required for this feature; install it with: pip install 'kbrank[{extra}]'")


def short_pseudonym(pseudonym: str) -> str:
    """The first 12 characters of a pseudonym: enough to tell customers apart in a message or a log line."""
    return pseudonym[:12] + "…" if len(pseudonym) > 13 else pseudonym


class ProfileError(InputError):
    """Customer profile records that cannot be loaded. Personal values (ids, addresses) are masked in the
    message: it names the field and the problem, and shows only the kind and length of the value."""


class KnownIssueError(InputError):
    """A known issue that cannot be loaded (file, line, field, value and fix, as for articles), or a status
    change that its lifecycle does not allow."""


class UnknownCustomerError(KBRankError, KeyError):
    """A customer the profile store does not hold. ``customer`` is the pseudonym, never the raw id."""

    def __init__(self, customer: str, *, fix: str | None = None) -> None:
        self.customer = customer
        self.fix = fix
        message = f"no profile for customer {short_pseudonym(customer)} (pseudonym)"
        if fix:
            message += f". Fix: {fix}"
        super().__init__(message)

    def __str__(self) -> str:  # KeyError would otherwise quote the whole message
        return str(self.args[0])


class ConsentError(KBRankError, PermissionError):
    """A profile read for a purpose the customer has not consented to.

    ``customer`` is the pseudonym (never the raw id), ``purpose`` the purpose asked for, ``channel`` the contact
    channel when the refusal is about one, and ``scope`` the consent that is missing (``"chat"``,
    ``"channel:sms"``, ...).
    """

    def __init__(self, customer: str, purpose: str, *, scope: str, channel: str | None = None) -> None:
        self.customer = customer
        self.purpose = purpose
        self.scope = scope
        self.channel = channel
        what = f"channel {channel!r} for {purpose!r}" if channel else f"{purpose!r}"
        if scope.startswith("channel:") and channel is None:
            what = f"any contact channel for {purpose!r}"
        super().__init__(
            f"customer {short_pseudonym(customer)} has not consented to {what} (missing consent {scope!r}). Fix: record "
            f"the customer's consent with ProfileGateway.set_consent(), or read with degrade=True to get the "
            f"non-personalized view"
        )


class FieldNotAllowedError(KBRankError, AttributeError):
    """A `ProfileView` field that the purpose of the read does not hand out (minimization)."""

    def __init__(self, field: str, purpose: str, allowed: tuple[str, ...]) -> None:
        self.field = field
        self.purpose = purpose
        self.allowed = allowed
        shown = ", ".join(allowed) if allowed else "no profile fields"
        super().__init__(
            f"a view read for {purpose!r} does not hold {field!r} (it holds {shown}). Fix: read the profile for "
            f"a purpose that needs {field!r}, and only with the customer's consent for it"
        )


class ErasureError(KBRankError, RuntimeError):
    """An erasure that could not remove the customer everywhere; ``report`` says what was and was not done.

    Erasure is idempotent: fix the failing hook and call ``erase`` again.
    """

    def __init__(self, problem: str, *, report: Any) -> None:
        self.report = report
        super().__init__(f"{problem}. Fix: repair the failing erasure hooks and call erase() again (it is idempotent)")


class ProfileStoreError(KBRankError, OSError):
    """A profile store that cannot be opened or trusted: missing, corrupt, an unknown schema version, or one
    written with a different pseudonymization key."""

    def __init__(self, problem: str, *, path: str | None = None, fix: str | None = None) -> None:
        self.problem, self.path, self.fix = problem, path, fix
        super().__init__(_path_message(problem, path, fix))

    def __str__(self) -> str:  # OSError's own formatting would drop nothing, but keep it explicit
        return str(self.args[0])


class OutboxError(KBRankError, OSError):
    """A proactive-service outbox that cannot be opened or trusted (not an outbox, an unknown schema version,
    closed), or a plan that no longer fits the outbox (planned against an older state of the issue's thread)."""

    def __init__(self, problem: str, *, path: str | None = None, fix: str | None = None) -> None:
        self.path = path
        self.fix = fix
        message = f"{path}: {problem}" if path else problem
        if fix:
            message += f". Fix: {fix}"
        super().__init__(message)

    def __str__(self) -> str:
        return str(self.args[0])


class TemplateError(InputError):
    """A message template that cannot be loaded or rendered: a syntax error, or a variable it uses that the
    plan does not provide (templates never render a missing variable as an empty string)."""


class AudienceGuardError(ParameterError):
    """A plan that reaches more customers than the configured limit, enqueued without confirmation."""


class DeliveryError(KBRankError, ConnectionError):
    """A sender could not deliver a message. ``retryable`` says whether trying again later may succeed (a
    timeout, a 5xx answer) or not (a 4xx answer, a malformed address); the dispatcher retries the former
    with backoff and dead-letters the latter."""

    def __init__(self, problem: str, *, retryable: bool = True) -> None:
        self.retryable = retryable
        super().__init__(problem)


class OutputError(KBRankError, OSError):
    """A path kbrank cannot or must not write: an existing file where a directory belongs, a directory that
    kbrank did not write (it never deletes or overwrites files it did not write), a read-only or full disk,
    or a directory another process holds locked. Whatever was there before is left as it was.

    ``path`` is the path, ``problem`` what is wrong and ``fix`` what to do; ``errno`` is the operating
    system's error number when one caused it.
    """

    def __init__(self, problem: str, *, path: str | None = None, fix: str | None = None,
                 errno: int | None = None) -> None:
        self.problem, self.path, self.fix = problem, path, fix
        super().__init__(_path_message(problem, path, fix))
        self.errno = errno

    def __str__(self) -> str:  # OSError would format (errno, strerror) otherwise
        return str(self.args[0])
