"""`clone`: a new, unfitted object with the same constructor parameters (scikit-learn's habit); `built_state`:
the snapshot a built object keeps in ``state_``; `check_int`: the check of an integer parameter.

kbrank's constructors store each parameter unchanged under its own name, so a template can be cloned by
reading its parameters back. `Searcher.build` clones the indexes and personalizer it is given, so a template
passed in is never fitted or changed.
"""

from __future__ import annotations

import inspect
from typing import Any, TypeVar

from .errors import NotFittedError, ParameterError

__all__ = ["built_state", "check_int", "clone", "get_params"]

T = TypeVar("T")
S = TypeVar("S")


def get_params(obj: Any) -> dict[str, Any]:
    """The constructor parameters of ``obj``, read from the attributes of the same names."""
    signature = inspect.signature(type(obj).__init__)
    names = [p.name for p in signature.parameters.values()
             if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    return {name: getattr(obj, name) for name in names}


def clone(obj: T) -> T:
    """A new object of the same class built with the same parameters (fitted state is not copied)."""
    signature = inspect.signature(type(obj).__init__)
    params = get_params(obj)
    positional = [params.pop(p.name) for p in signature.parameters.values()
                  if p.name != "self" and p.kind == p.POSITIONAL_OR_KEYWORD and p.default is p.empty]
    return type(obj)(*positional, **params)


def built_state(owner: object, kind: type[S]) -> S:
    """``owner.state_``, the ``kind`` snapshot that ``build`` (or ``load``) installs, or `NotFittedError` saying
    how to build it. Read it once per operation: an edit swaps in a new one."""
    state = owner.__dict__.get("state_")
    if not isinstance(state, kind):
        name = type(owner).__name__
        raise NotFittedError(f"this {name} is not built yet; call build(corpus) or {name}.load(path)")
    return state


def check_int(name: str, value: object, minimum: int, maximum: int | None = None) -> int:
    """``value`` if it is an integer (not a bool) in ``[minimum, maximum]``, else `ParameterError` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum or (
            maximum is not None and value > maximum):
        expected = f"an integer >= {minimum}" if maximum is None else f"an integer from {minimum} to {maximum}"
        raise ParameterError(name, expected, value)
    return value
