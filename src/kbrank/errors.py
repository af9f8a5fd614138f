"""Every error kbrank raises on purpose. Each class also inherits the matching builtin.

::

    KBRankError
    ├── InputError (ValueError)            bad user input: says where (file, line, field), what, and the fix
    │   ├── CorpusError                    articles that cannot be loaded (JSON, ids, types, empty corpus)
    │   └── VersionSpecError               a version specifier that `packaging` cannot parse
    ├── ParameterError (ValueError)        a bad constructor or method argument (names the parameter)
    ├── UnknownArticleError (KeyError)     an article id that the corpus or index does not hold
    ├── NotFittedError (RuntimeError)      an index or model used before build()/fit()
    ├── IndexFormatError (ValueError)      a saved index that is missing, truncated, tampered or of an unknown format
    └── MissingDependencyError (ImportError) an optional dependency is absent; names the extra to install

Errors carry their context as attributes (``source``, ``line``, ``field``, ``value``, ``fix``) so that
callers can react to them without parsing messages.
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
]

_UNSET: Any = object()


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
        self.path = path
        self.fix = fix
        message = f"{path}: {problem}" if path else problem
        if fix:
            message += f". Fix: {fix}"
        super().__init__(message)


class MissingDependencyError(KBRankError, ImportError):
    """An optional dependency is not installed."""

    def __init__(self, package: str, extra: str) -> None:
        self.package = package
        self.extra = extra
        super().__init__(f"{package} is required for this feature; install it with: pip install 'kbrank[{extra}]'")
